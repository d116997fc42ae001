//! What a handler has already written and need not write again (a grid's name, a category's),
//! kept across batches only once the transaction that wrote it committed.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// The value last written for each key: known stored, or written by the transaction under
/// way. A handler asks [`Remembered::is_new`] before writing, calls [`Remembered::wrote`]
/// after, and passes its [`crate::inbox::Handler::settled`] on to [`Remembered::settled`].
/// A key whose value changes is written again, so the stored value is always the last one
/// the stream gave.
pub struct Remembered<K, V> {
    inner: Mutex<Maps<K, V>>,
}

struct Maps<K, V> {
    stored: HashMap<K, V>,
    staged: Vec<(K, V)>,
}

impl<K: Eq + Hash, V: PartialEq> Default for Remembered<K, V> {
    fn default() -> Self {
        Remembered {
            inner: Mutex::new(Maps {
                stored: HashMap::new(),
                staged: Vec::new(),
            }),
        }
    }
}

impl<K: Eq + Hash, V: PartialEq> Remembered<K, V> {
    fn maps(&self) -> std::sync::MutexGuard<'_, Maps<K, V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `value` is not what was last written for `key`.
    pub fn is_new(&self, key: &K, value: &V) -> bool {
        let m = self.maps();
        let last = m
            .staged
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .or_else(|| m.stored.get(key));
        last != Some(value)
    }

    /// Written by the transaction under way.
    pub fn wrote(&self, key: K, value: V) {
        self.maps().staged.push((key, value));
    }

    /// That transaction committed (what it wrote is stored) or did not (it is forgotten).
    pub fn settled(&self, committed: bool) {
        let mut m = self.maps();
        let staged = std::mem::take(&mut m.staged);
        if committed {
            m.stored.extend(staged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_committed_is_remembered() {
        let r = Remembered::default();
        assert!(r.is_new(&"g", &"幸福村"));
        r.wrote("g", "幸福村");
        assert!(
            !r.is_new(&"g", &"幸福村"),
            "written in the transaction under way"
        );
        r.settled(false);
        assert!(r.is_new(&"g", &"幸福村"), "rolled back: written again");
        r.wrote("g", "幸福村");
        r.settled(true);
        assert!(!r.is_new(&"g", &"幸福村"));
        r.settled(false);
        assert!(
            !r.is_new(&"g", &"幸福村"),
            "a later rollback forgets nothing committed"
        );
    }

    #[test]
    fn a_value_that_changes_back_is_written_again() {
        let r = Remembered::default();
        r.wrote("g", "old");
        r.settled(true);
        r.wrote("g", "new");
        r.settled(true);
        assert!(
            r.is_new(&"g", &"old"),
            "the stored value is the last one written"
        );
        assert!(!r.is_new(&"g", &"new"));
    }
}
