//! Personal data kept out of what leaves a service: text that may carry a phone number is
//! masked before it goes into an event, a log line or a timeline.

/// Masks every run of 7 or more digits (a phone number, wherever it slipped in) as
/// `138****5678`, so the timeline never keeps a full number. UUIDs (ticket, worker and event
/// ids) are kept whole: their last group is often all digits.
pub fn mask_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(len) = uuid_at(&chars, i) {
            out.extend(&chars[i..i + len]);
            i += len;
        } else if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let run = &chars[start..i];
            if run.len() >= 7 {
                out.extend(&run[..3]);
                out.push_str("****");
                out.extend(&run[run.len() - 4..]);
            } else {
                out.extend(run);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The length of the UUID (8-4-4-4-12 hex digits) starting at `i`, if one does and it stands
/// alone (not inside a longer word).
fn uuid_at(chars: &[char], i: usize) -> Option<usize> {
    const LEN: usize = 36;
    let word = |c: &char| c.is_ascii_alphanumeric();
    if i + LEN > chars.len()
        || (i > 0 && word(&chars[i - 1]))
        || chars.get(i + LEN).is_some_and(word)
    {
        return None;
    }
    let ok = chars[i..i + LEN].iter().enumerate().all(|(k, c)| match k {
        8 | 13 | 18 | 23 => *c == '-',
        _ => c.is_ascii_hexdigit(),
    });
    ok.then_some(LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked_and_short_numbers_kept() {
        assert_eq!(mask_digits("call 13812345678 now"), "call 138****5678 now");
        assert_eq!(mask_digits("第3次"), "第3次");
        assert_eq!(mask_digits("057188001234"), "057****1234");
        // An id whose last group is all digits stays whole; a phone next to it does not.
        let id = "01a1fe65-9cf4-74e2-83f1-814953813630";
        assert_eq!(mask_digits(id), id);
        assert_eq!(
            mask_digits(&format!("worker {id} called 13812345678")),
            format!("worker {id} called 138****5678")
        );
    }
}
