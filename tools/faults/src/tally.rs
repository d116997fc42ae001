//! Named counters shared by the load, the walkers and the schedule, with one sample message
//! per kind of error so the summary says what went wrong, not only how often.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Tally {
    counts: Mutex<BTreeMap<String, u64>>,
    samples: Mutex<BTreeMap<String, String>>,
}

impl Tally {
    pub fn add(&self, key: &str) {
        self.add_n(key, 1);
    }

    pub fn add_n(&self, key: &str, n: u64) {
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default() += n;
    }

    /// Counts `key` and keeps the first `message` seen for it.
    pub fn add_with(&self, key: &str, message: &str) {
        self.add(key);
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_insert_with(|| message.chars().take(200).collect());
    }

    pub fn get(&self, key: &str) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// Every counter whose key starts with `prefix`, with its sample, sorted by key.
    pub fn lines(&self, prefix: &str) -> Vec<String> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, n)| match samples.get(k) {
                Some(s) => format!("{k}: {n} (e.g. {s})"),
                None => format!("{k}: {n}"),
            })
            .collect()
    }
}
