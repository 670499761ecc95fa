//! Task failure output reaches status, events and logs, which many more people can read than
//! the Secrets a task uses. Credentials are masked before anything is shortened, so a cut can
//! never leave half a password behind the mask.

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a credential.
pub const MASK: &str = "***";

/// Longest message kept, before the ellipsis.
pub const MAX_MESSAGE_CHARS: usize = 256;

static URI_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)([a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^@\s]+@").expect("valid pattern")
});

static BEARER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(bearer|basic)(\s+)\S+").expect("valid pattern"));

static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b([a-z0-9_\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|credentials?)[a-z0-9_\-]*["']?\s*[:=]\s*)("[^"]*"|'[^']*'|\S+)"#,
    )
    .expect("valid pattern")
});

/// `text` with URI passwords, bearer and basic credentials, and `password=`-style values
/// masked.
pub fn redact(text: &str) -> String {
    let text = URI_PASSWORD.replace_all(text, format!("${{1}}{MASK}@"));
    let text = BEARER.replace_all(&text, format!("${{1}}${{2}}{MASK}"));
    ASSIGNMENT
        .replace_all(&text, format!("${{1}}{MASK}"))
        .into_owned()
}

/// `text` redacted, then cut to [`MAX_MESSAGE_CHARS`] characters with `...` when longer.
pub fn redact_and_truncate(text: &str) -> String {
    let redacted = redact(text.trim());
    if redacted.chars().count() <= MAX_MESSAGE_CHARS {
        return redacted;
    }
    let cut: String = redacted.chars().take(MAX_MESSAGE_CHARS).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_passwords_are_masked() {
        assert_eq!(
            redact("could not connect to postgresql://superset:s3cr3t@db:5432/superset"),
            "could not connect to postgresql://superset:***@db:5432/superset"
        );
        assert_eq!(
            redact("redis://:hunter2@valkey:6379/0 refused"),
            "redis://:***@valkey:6379/0 refused"
        );
    }

    #[test]
    fn bearer_tokens_are_masked() {
        assert_eq!(
            redact("Authorization: Bearer eyJhbGciOi.abc.def failed"),
            "Authorization: Bearer *** failed"
        );
    }

    #[test]
    fn assignments_are_masked() {
        assert_eq!(
            redact("FATAL password=abc123 user=superset"),
            "FATAL password=*** user=superset"
        );
        assert_eq!(
            redact(r#"{"db_password": "p@ss word", "api_key":'k'}"#),
            r#"{"db_password": ***, "api_key":***}"#
        );
        assert_eq!(redact("SECRET_KEY = xyz"), "SECRET_KEY = ***");
        assert_eq!(redact("PGPASSWORD=x psql"), "PGPASSWORD=*** psql");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let text = "Exit code 1: Error: relation \"ab_user\" does not exist";
        assert_eq!(redact(text), text);
    }

    #[test]
    fn masking_happens_before_truncation() {
        let padding = "x".repeat(MAX_MESSAGE_CHARS - 12);
        let text = format!("{padding} password=abcdefghijklmnopqrstuvwxyz");
        let message = redact_and_truncate(&text);
        assert!(!message.contains("abcdef"), "{message}");
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 3);
    }

    #[test]
    fn long_messages_end_with_an_ellipsis() {
        let message = redact_and_truncate(&"é".repeat(400));
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 3);
        assert!(message.ends_with("..."));
    }
}
