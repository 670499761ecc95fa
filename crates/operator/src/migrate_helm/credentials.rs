//! What a credential looks like in a values file: by the name it is given and by its own
//! shape. The Python of `configOverrides` ([`super::python`]), the shell of `bootstrapScript`
//! ([`super::shell`]) and every value copied as it was ([`super::sweep`]) are cleaned with
//! these rules before anything is printed.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use superset_operator_render::redact;

/// What replaces a credential that cannot become a reference to a Secret.
pub const PLACEHOLDER: &str = "REDACTED";

/// Whether a variable, key or header name suggests it holds a credential. Separators (`-`,
/// `.`, `/`) count as `_`, so `x-api-key` and `example.com/api-token` are caught.
pub fn is_credential_name(name: &str) -> bool {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    const MARKERS: [&str; 9] = [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "CREDENTIAL",
        "PRIVATE_KEY",
        "API_KEY",
        "APIKEY",
        "ACCESS_KEY",
        "AUTHORIZATION",
    ];
    let is_or_ends_with = |word: &str| name == word || name.ends_with(&format!("_{word}"));
    MARKERS.iter().any(|m| name.contains(m))
        || is_or_ends_with("TOKEN")
        || is_or_ends_with("PASS")
        // `PWD` alone is the shell's working directory.
        || name.ends_with("_PWD")
        // `token_key` in OAuth settings names a response field, not a key.
        || (name.ends_with("_KEY") && !name.ends_with("TOKEN_KEY"))
}

/// Whether a name that mentions a credential names a reference to one instead
/// (`--secret-name`, `password-file`, `example.com/secret-path`), whose value is no secret.
pub fn is_reference_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["name", "file", "path", "ref", "dir", "id", "url"]
        .iter()
        .any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with(['-', '_', '.', '/']))
        })
}

/// Whether an HTTP header carries a credential.
pub fn is_credential_header(name: &str) -> bool {
    is_credential_name(name) || name.to_ascii_lowercase().contains("cookie")
}

/// Whether a value reads as a credential whatever it is named: a URI with a password, a
/// `password=` assignment, an `Authorization` value, a private key, a token of a known shape,
/// a token in place of a URL's user, or (when `random` is set) a long random-looking string.
/// Placeholders (`$(NAME)`, `${NAME}`, `{{ ... }}`) are not credentials.
pub fn looks_secret(value: &str, random: bool) -> bool {
    let value = without_placeholders(value);
    redact::contains_credential(&value)
        || !url_user_tokens(&value).is_empty()
        || (random && looks_random(&value))
}

/// `text` with every credential in it replaced by [`PLACEHOLDER`], placeholders kept; `None`
/// when it holds none.
pub fn clean_text(text: &str) -> Option<String> {
    let spans = credential_spans(text);
    (!spans.is_empty()).then(|| replace_spans(text, &spans, PLACEHOLDER))
}

/// Where `text` holds credentials: what redaction masks, less what is only placeholders, and
/// tokens in place of a URL's user.
pub fn credential_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans: Vec<Range<usize>> = redact::each_credential(text)
        .into_iter()
        .map(|s| within_its_quotes(text, s))
        .filter(|s| !only_placeholders(&text[s.clone()]))
        .chain(url_user_tokens(text))
        .collect();
    merge(&mut spans);
    spans
}

/// `text` with each of `spans` (sorted, apart) replaced by `with`.
pub fn replace_spans(text: &str, spans: &[Range<usize>], with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for span in spans {
        out.push_str(&text[last..span.start]);
        out.push_str(with);
        last = span.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Sorts `spans` and merges those that overlap.
pub fn merge(spans: &mut Vec<Range<usize>>) {
    spans.retain(|s| s.start < s.end);
    spans.sort_by_key(|s| s.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans.drain(..) {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    *spans = merged;
}

/// A credential inside a quoted string (`"Authorization: Bearer x" https://...`) ends at
/// the quote that closes the string: in shell, JSON and Python a quote inside one is escaped.
fn within_its_quotes(text: &str, span: Range<usize>) -> Range<usize> {
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let mut open = None;
    let mut chars = text[line_start..span.start].chars();
    while let Some(c) = chars.next() {
        match open {
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => open = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => open = Some(c),
            None if c == '\\' => {
                chars.next();
            }
            None => {}
        }
    }
    let Some(quote) = open else { return span };
    let mut chars = text[span.clone()].char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' && quote == '"' {
            chars.next();
        } else if c == quote {
            return span.start..span.start + i;
        }
    }
    span
}

static PLACEHOLDERS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\([^)\n]*\)|`[^`\n]*`|\$\{[^}\n]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*?\}\}")
        .expect("a valid pattern")
});

/// `text` without the placeholders of Kubernetes (`$(NAME)`), shells (`$NAME`, `${NAME}`,
/// `$(command)`, `` `command` ``) and Helm (`{{ ... }}`).
pub fn without_placeholders(text: &str) -> String {
    PLACEHOLDERS.replace_all(text, "").into_owned()
}

/// Whether `text` is nothing but placeholders, quotes, blanks and the punctuation between them.
pub fn only_placeholders(text: &str) -> bool {
    without_placeholders(text)
        .chars()
        .all(|c| c.is_whitespace() || "\"':@/".contains(c))
}

/// `https://TOKEN@host`: a package index or repository URL whose user is a token (the user
/// `git` of SSH remotes is not).
static URL_USER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:git\+)?https?://(?P<user>[^:/@\s'"]+)@"#).expect("a valid pattern")
});

fn url_user_tokens(text: &str) -> Vec<Range<usize>> {
    URL_USER
        .captures_iter(text)
        .filter_map(|c| c.name("user"))
        .filter(|user| user.as_str() != "git" && !only_placeholders(user.as_str()))
        .map(|user| user.range())
        .collect()
}

/// A single word of 24 or more characters mixing upper case, lower case and digits in the
/// alphabet of base64 (as keys from `openssl rand -base64` are), or 32 or more hexadecimal
/// digits.
fn looks_random(value: &str) -> bool {
    let value = value.trim();
    let base64 = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=_-".contains(c));
    let hex = value.len() >= 32 && value.chars().all(|c| c.is_ascii_hexdigit());
    let mixed = value.chars().any(|c| c.is_ascii_uppercase())
        && value.chars().any(|c| c.is_ascii_lowercase())
        && value.chars().any(|c| c.is_ascii_digit());
    hex || (value.len() >= 24 && base64 && mixed)
}

/// A credential taken out of a snippet or script.
pub struct Finding {
    /// What was done and what the user must do, naming no value.
    pub reason: String,
    /// The environment variable the text now reads, backed by a Secret key.
    pub env: Option<CredentialEnv>,
}

/// An environment variable, read from a Secret key of the same name.
pub struct CredentialEnv {
    /// Variable and key name.
    pub name: String,
    /// The Secret to create.
    pub secret: String,
}

/// A name for a new environment variable and Secret key, unique among `used`.
pub fn unique_env_name(name: &str, used: &mut BTreeSet<String>) -> String {
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let base = if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
        format!("CREDENTIAL_{base}")
    } else {
        base
    };
    let mut candidate = base.clone();
    let mut n = 2;
    while used.contains(&candidate) {
        candidate = format!("{base}_{n}");
        n += 1;
    }
    used.insert(candidate.clone());
    candidate
}

/// The 1-based line of byte `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names() {
        for name in [
            "DB_PASS",
            "db_password",
            "MAPBOX_API_KEY",
            "GOOGLE_KEY",
            "SLACK_API_TOKEN",
            "client_secret",
            "x-api-key",
            "X-Auth-Token",
            "Authorization",
            "example.com/api-token",
            "MYSQL_PWD",
        ] {
            assert!(is_credential_name(name), "{name}");
        }
        for name in ["--secret-name", "password_file", "example.com/secret-path"] {
            assert!(
                is_credential_name(name) && is_reference_name(name),
                "{name}"
            );
        }
        assert!(!is_reference_name("x-api-key") && !is_reference_name("DB_PASS"));
        for name in [
            "ROW_LIMIT",
            "token_key",
            "CACHE_KEY_PREFIX",
            "AUTH_TYPE",
            "PWD",
            "topologyKey",
            "prometheus.io/scrape",
        ] {
            assert!(!is_credential_name(name), "{name}");
        }
    }

    #[test]
    fn values_that_read_as_credentials() {
        for value in [
            "postgresql://superset:pw@db/superset",
            "redis://:p@ss w@valkey:6379/0",
            "Bearer abc.def",
            "https://__token__@pypi.example.com/simple",
            "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
        ] {
            assert!(looks_secret(value, false), "{value}");
        }
        assert!(looks_secret("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA", true));
        assert!(looks_secret("0123456789abcdef0123456789abcdef", true));
        for value in [
            "postgresql://superset@db/superset",
            "postgresql://superset:$(DB_PASS)@db/superset",
            "redis://:${REDIS_PASSWORD}@valkey:6379/0",
            "git@github.com:org/repo.git",
            "/app/pythonpath:/app/configs",
            "superset-worker-7d9f8c6b5-x2x4z",
            "no",
        ] {
            assert!(!looks_secret(value, true), "{value}");
        }
    }

    #[test]
    fn cleaning_keeps_placeholders_and_the_text_around() {
        assert_eq!(
            clean_text("pip install -i https://u:pw@pypi.example.com/simple x").as_deref(),
            Some("pip install -i https://u:REDACTED@pypi.example.com/simple x")
        );
        assert_eq!(
            clean_text("curl -H \"Authorization: Bearer tok\" https://x").as_deref(),
            Some("curl -H \"Authorization: Bearer REDACTED\" https://x")
        );
        assert_eq!(clean_text("curl -H \"Authorization: Bearer $TOKEN\""), None);
        assert_eq!(clean_text("plain words"), None);
    }

    #[test]
    fn env_names_are_unique_and_valid() {
        let mut used = BTreeSet::new();
        assert_eq!(unique_env_name("db_pass", &mut used), "DB_PASS");
        assert_eq!(unique_env_name("DB_PASS", &mut used), "DB_PASS_2");
        assert_eq!(unique_env_name("x-api-key", &mut used), "X_API_KEY");
        assert_eq!(unique_env_name("1x", &mut used), "CREDENTIAL_1X");
    }
}
