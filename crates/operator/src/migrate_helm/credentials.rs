//! Credentials written inline in `configOverrides` snippets (and environment variables), found
//! and taken out before the Python reaches the manifest.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

/// Whether a variable or key name suggests it holds a credential.
pub fn is_credential_name(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    const MARKERS: [&str; 8] = [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "CREDENTIAL",
        "PRIVATE_KEY",
        "API_KEY",
        "APIKEY",
        "ACCESS_KEY",
    ];
    MARKERS.iter().any(|m| name.contains(m))
        || ["TOKEN", "PASS"].iter().any(|t| name == *t || name.ends_with(&format!("_{t}")))
        // `token_key` in OAuth settings names a response field, not a key.
        || (name.ends_with("_KEY") && !name.ends_with("TOKEN_KEY"))
}

/// A snippet with its credentials taken out.
pub struct Cleaned {
    /// The Python, now free of literal credentials.
    pub text: String,
    /// What was changed, one entry per credential.
    pub findings: Vec<Finding>,
    /// Whether a literal `SECRET_KEY` assignment was removed.
    pub secret_key: bool,
}

/// One credential taken out of a snippet.
pub struct Finding {
    /// What was done and what the user must do.
    pub reason: String,
    /// The environment variable the Python now reads, backed by a Secret key to create.
    pub env: Option<CredentialEnv>,
}

/// An environment variable, read from a Secret key of the same name.
pub struct CredentialEnv {
    /// Variable and key name.
    pub name: String,
    /// The Secret to create.
    pub secret: String,
}

/// `NAME = "literal"` or `NAME="literal"` (also keyword arguments).
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?P<name>\b[A-Za-z_][A-Za-z0-9_]*)(?P<eq>\s*=\s*)[rRbBuU]?(?P<lit>"[^"]*"|'[^']*')"#,
    )
    .expect("a valid pattern")
});
/// `"key": "literal"` in a dictionary.
static DICT_ENTRY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?P<key>["'](?P<name>[A-Za-z_][A-Za-z0-9_]*)["']\s*:\s*)[rRbBuU]?(?P<lit>"[^"]*"|'[^']*')"#)
        .expect("a valid pattern")
});
/// `scheme://user:password@host` with a literal password (not a placeholder).
static URI_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@'"]*:)(?P<password>[^@\s'"/{}%]+)@"#)
        .expect("a valid pattern")
});
static SECRET_KEY_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(?P<indent>\s*)SECRET_KEY\s*=\s*[rRbBuU]?("[^"]*"|'[^']*')\s*(#.*)?$"#)
        .expect("a valid pattern")
});

/// Takes the literal credentials out of `text`: a `SECRET_KEY` assignment is removed (the
/// operator sets the key), other credentials become `os.environ["NAME"]` backed by a key of
/// `secret`, and URI passwords are replaced by `REDACTED`. `used` keeps variable names unique
/// across snippets.
pub fn remove_credentials(text: &str, secret: &str, used: &mut BTreeSet<String>) -> Cleaned {
    let mut findings = Vec::new();
    let mut secret_key = false;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if let Some(caps) = SECRET_KEY_LINE.captures(line) {
            secret_key = true;
            findings.push(Finding {
                reason: format!("line {number} set SECRET_KEY to a literal: removed, the operator sets it from spec.secretKeyFrom"),
                env: None,
            });
            lines.push(format!(
                "{}pass  # SECRET_KEY comes from spec.secretKeyFrom",
                &caps["indent"]
            ));
            continue;
        }
        let mut line = line.to_owned();
        for pattern in [&*ASSIGNMENT, &*DICT_ENTRY] {
            line = replace_literals(&line, pattern, number, secret, used, &mut findings);
        }
        if URI_PASSWORD.is_match(&line) {
            line = URI_PASSWORD
                .replace_all(&line, "${head}REDACTED@")
                .into_owned();
            findings.push(Finding {
                reason: format!("line {number} had a password inside a URI: replaced by REDACTED; build the URI from os.environ and a Secret"),
                env: None,
            });
        }
        lines.push(line);
    }
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    Cleaned {
        text,
        findings,
        secret_key,
    }
}

fn replace_literals(
    line: &str,
    pattern: &Regex,
    number: usize,
    secret: &str,
    used: &mut BTreeSet<String>,
    findings: &mut Vec<Finding>,
) -> String {
    let mut out = String::new();
    let mut last = 0;
    for caps in pattern.captures_iter(line) {
        let name = &caps["name"];
        let literal = caps.name("lit").expect("the pattern has a literal");
        if !is_credential_name(name) || literal.as_str().len() <= 2 {
            continue;
        }
        let whole = caps.get(0).expect("a match");
        let env = unique_env_name(name, used);
        out.push_str(&line[last..whole.start()]);
        out.push_str(
            line[whole.start()..literal.start()].trim_end_matches(['r', 'R', 'b', 'B', 'u', 'U']),
        );
        out.push_str(&format!("os.environ[\"{env}\"]"));
        last = literal.end();
        findings.push(Finding {
            reason: format!(
                "line {number} held a literal {name}: now read from the environment variable {env}"
            ),
            env: Some(CredentialEnv {
                name: env,
                secret: secret.to_owned(),
            }),
        });
    }
    out.push_str(&line[last..]);
    out
}

fn unique_env_name(name: &str, used: &mut BTreeSet<String>) -> String {
    let base = name.to_ascii_uppercase();
    let mut candidate = base.clone();
    let mut n = 2;
    while used.contains(&candidate) {
        candidate = format!("{base}_{n}");
        n += 1;
    }
    used.insert(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(text: &str) -> Cleaned {
        remove_credentials(text, "s-credentials", &mut BTreeSet::new())
    }

    #[test]
    fn a_literal_secret_key_is_removed() {
        let cleaned = clean("SECRET_KEY = 'abc123'\nROW_LIMIT = 5000\n");
        assert!(cleaned.secret_key);
        assert!(!cleaned.text.contains("abc123"));
        assert!(cleaned.text.contains("ROW_LIMIT = 5000"));
    }

    #[test]
    fn dictionary_credentials_become_environment_lookups() {
        let cleaned = clean(
            "OAUTH = [{\n  \"token_key\": \"access_token\",\n  \"client_secret\": \"s3cr3t\",\n}]\n",
        );
        assert!(!cleaned.text.contains("s3cr3t"), "{}", cleaned.text);
        assert!(
            cleaned
                .text
                .contains(r#""client_secret": os.environ["CLIENT_SECRET"],"#)
        );
        assert!(
            cleaned.text.contains(r#""token_key": "access_token""#),
            "a response field name is not a credential"
        );
        assert_eq!(cleaned.findings.len(), 1);
        assert_eq!(
            cleaned.findings[0].env.as_ref().unwrap().name,
            "CLIENT_SECRET"
        );
    }

    #[test]
    fn assignments_and_keyword_arguments_are_caught_and_names_stay_unique() {
        let mut used = BTreeSet::new();
        let a = remove_credentials("SMTP_PASSWORD = \"pw1\"\n", "x", &mut used);
        let b = remove_credentials("connect(password='pw2')\n", "x", &mut used);
        let c = remove_credentials("SMTP_PASSWORD = \"pw3\"\n", "x", &mut used);
        assert_eq!(a.text, "SMTP_PASSWORD = os.environ[\"SMTP_PASSWORD\"]\n");
        assert_eq!(b.text, "connect(password=os.environ[\"PASSWORD\"])\n");
        assert_eq!(c.text, "SMTP_PASSWORD = os.environ[\"SMTP_PASSWORD_2\"]\n");
    }

    #[test]
    fn uri_passwords_are_redacted_but_placeholders_kept() {
        let cleaned = clean(
            "A = 'postgresql://u:hunter2@db/x'\nB = f\"redis://:{env('REDIS_PASSWORD')}@r:6379/0\"\n",
        );
        assert!(!cleaned.text.contains("hunter2"));
        assert!(cleaned.text.contains("postgresql://u:REDACTED@db/x"));
        assert!(cleaned.text.contains("{env('REDIS_PASSWORD')}"));
        assert_eq!(cleaned.findings.len(), 1);
    }

    #[test]
    fn environment_lookups_and_ordinary_settings_are_untouched() {
        let text = "SECRET_KEY = os.environ['SUPERSET_SECRET_KEY']\nFEATURE_FLAGS = {\"ALERT_REPORTS\": True}\nAUTH_TYPE = 'oauth'\n";
        let cleaned = clean(text);
        assert_eq!(cleaned.text, text);
        assert!(cleaned.findings.is_empty());
    }

    #[test]
    fn credential_names() {
        for name in [
            "DB_PASS",
            "db_password",
            "MAPBOX_API_KEY",
            "GOOGLE_KEY",
            "SLACK_API_TOKEN",
            "client_secret",
        ] {
            assert!(is_credential_name(name), "{name}");
        }
        for name in ["ROW_LIMIT", "token_key", "CACHE_KEY_PREFIX", "AUTH_TYPE"] {
            assert!(!is_credential_name(name), "{name}");
        }
    }
}
