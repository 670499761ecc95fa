//! Target `redact`: task output through `redact` and `redact_and_truncate`
//! (`superset_operator_render::redact`), which guard what reaches status, events and logs.
//!
//! Asserted: redaction only removes text and adds masks (what is left of the input keeps its
//! order; nothing but `*` is added), so the result is at most three times as long; the
//! truncated form is the redaction of the trimmed text, cut at [`MAX_MESSAGE_CHARS`]
//! characters with `...`. Not asserted: that redacting twice changes nothing, which does not
//! hold (a second pass over `"db_password": ***, "api_key": ...` masks the rest of the line).

use superset_operator_render::redact::{MAX_MESSAGE_CHARS, redact, redact_and_truncate};

/// The target: the bytes as text, invalid UTF-8 replaced (task logs are read lossily too).
pub fn target(data: &[u8]) {
    check(&String::from_utf8_lossy(data));
}

/// Checks both functions on `text`.
pub fn check(text: &str) {
    let once = redact(text);
    assert!(
        is_subsequence(&without_stars(&once), &without_stars(text)),
        "redaction added text other than masks: {once:?}"
    );
    assert!(
        once.chars().count() <= 3 * text.chars().count(),
        "redaction grew the text more than threefold: {} chars from {}",
        once.chars().count(),
        text.chars().count()
    );
    let short = redact_and_truncate(text);
    let full = redact(text.trim());
    if full.chars().count() <= MAX_MESSAGE_CHARS {
        assert_eq!(short, full, "a short message was changed by truncation");
    } else {
        let cut: String = full.chars().take(MAX_MESSAGE_CHARS).collect();
        assert_eq!(short, format!("{cut}..."), "a long message was cut wrongly");
    }
}

fn without_stars(text: &str) -> Vec<char> {
    text.chars().filter(|c| *c != '*').collect()
}

/// Whether `part` is `whole` with some characters left out.
fn is_subsequence(part: &[char], whole: &[char]) -> bool {
    let mut rest = whole.iter();
    part.iter().all(|c| rest.any(|w| w == c))
}
