//! Literal credentials in the shell of `bootstrapScript`: a credential assigned to a variable
//! (`export DB_PASS=...`, `PGPASSWORD='...' psql`) is read from a Secret through the
//! environment instead; any other (a password in a package index URL, `mysql -p...`, an
//! `Authorization` header, a token in place of a URL's user, a `.netrc` password) becomes
//! `REDACTED`, for the user to pass in the same way.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::credentials::{self, CredentialEnv, Finding, PLACEHOLDER, is_credential_name, line_of};

/// A script with its credentials taken out.
pub struct Cleaned {
    /// The script, now free of literal credentials.
    pub text: String,
    /// What was changed.
    pub findings: Vec<Finding>,
}

/// `NAME=`, alone or after `export`, `local`, `readonly`, `declare`.
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?m)(?:^|[\s;&|(`])(?:(?:export|local|readonly|declare|typeset)(?:[ \t]+-[A-Za-z]+)*[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)=",
    )
    .expect("a valid pattern")
});

/// `password VALUE` of a `.netrc` line (`machine HOST login USER password VALUE`).
static NETRC_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\bpassword[ \t]+(?P<value>[^\s'"]+)"#).expect("a valid pattern")
});

/// Takes the literal credentials out of `script`. `allocate` gives the environment variable
/// (and key of Secret `secret`) that holds a credential named `name` with value `value`.
pub fn remove_credentials(
    script: &str,
    secret: &str,
    allocate: &mut dyn FnMut(&str, &str) -> String,
) -> Cleaned {
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut findings = Vec::new();
    // Assignments already made references, hidden from the other checks.
    let mut handled: Vec<Range<usize>> = Vec::new();
    let mut done = 0;
    for caps in ASSIGNMENT.captures_iter(script) {
        let name = caps.name("name").expect("the pattern names the variable");
        if name.start() < done {
            continue;
        }
        let value_start = caps.get(0).expect("a match").end();
        let value_end = shell_word_end(script, value_start);
        let value = &script[value_start..value_end];
        let unquoted: String = value.chars().filter(|c| !"'\"\\".contains(*c)).collect();
        // Empty, or computed (`$X`, `$(...)`, `` `...` ``): not a literal.
        if unquoted.is_empty() || unquoted.starts_with(['$', '`']) {
            continue;
        }
        if !is_credential_name(name.as_str()) && !credentials::looks_secret(&unquoted, true) {
            continue;
        }
        let key = allocate(name.as_str(), &unquoted);
        edits.push((value_start..value_end, format!("\"${{{key}}}\"")));
        handled.push(name.start()..value_end);
        findings.push(Finding {
            reason: format!(
                "line {} assigned a literal to {}: now \"${{{key}}}\", the environment variable {key} read from Secret {secret}",
                line_of(script, name.start()),
                name.as_str()
            ),
            env: Some(CredentialEnv {
                name: key,
                secret: secret.to_owned(),
            }),
        });
        done = value_end;
    }
    let mut hidden = script.as_bytes().to_vec();
    for range in &handled {
        for byte in &mut hidden[range.clone()] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    }
    let hidden = String::from_utf8(hidden).expect("whole characters were blanked");
    let mut others = credentials::credential_spans(&hidden);
    for line in hidden.split_inclusive('\n').scan(0, |start, line| {
        let range = *start..*start + line.len();
        *start += line.len();
        Some(range)
    }) {
        let text = &hidden[line.clone()];
        let lower = text.to_ascii_lowercase();
        if lower.contains("machine") || lower.contains("login") {
            others.extend(
                NETRC_PASSWORD
                    .captures_iter(text)
                    .filter_map(|c| c.name("value"))
                    .filter(|v| !credentials::only_placeholders(v.as_str()))
                    .map(|v| line.start + v.start()..line.start + v.end()),
            );
        }
    }
    credentials::merge(&mut others);
    for span in others {
        if hidden[span.clone()].trim().is_empty() {
            continue;
        }
        findings.push(Finding {
            reason: format!(
                "line {} had a credential (in a URI, an option, a header or a file it writes): replaced by {PLACEHOLDER}; pass it in an environment variable read from a Secret",
                line_of(script, span.start)
            ),
            env: None,
        });
        edits.push((span, PLACEHOLDER.to_owned()));
    }
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(script.len());
    let mut last = 0;
    for (range, replacement) in edits {
        if range.start < last {
            continue;
        }
        out.push_str(&script[last..range.start]);
        out.push_str(&replacement);
        last = range.end;
    }
    out.push_str(&script[last..]);
    Cleaned {
        text: out,
        findings,
    }
}

/// The end of the shell word that starts at `at`: quotes (which may span lines) and
/// backslashes honoured, ended by a blank or an operator outside quotes.
fn shell_word_end(text: &str, at: usize) -> usize {
    let mut quote: Option<char> = None;
    let mut chars = text[at..].char_indices();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c.is_whitespace() || ";&|()<>".contains(c) => return at + i,
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '\\' => {
                chars.next();
            }
            None => {}
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(script: &str) -> Cleaned {
        let mut allocate = |name: &str, _: &str| name.to_owned();
        remove_credentials(script, "bi-credentials", &mut allocate)
    }

    #[test]
    fn assignments_read_the_credential_from_the_environment() {
        let cleaned = clean(
            "export DB_PASS=pw\nPGPASSWORD='p w' psql -h db -c 'select 1'\nexport DB_HOST=db\nTOKEN=\"$(cat /run/token)\"\n",
        );
        assert_eq!(
            cleaned.text,
            "export DB_PASS=\"${DB_PASS}\"\nPGPASSWORD=\"${PGPASSWORD}\" psql -h db -c 'select 1'\nexport DB_HOST=db\nTOKEN=\"$(cat /run/token)\"\n"
        );
        let envs: Vec<_> = cleaned
            .findings
            .iter()
            .filter_map(|f| f.env.as_ref().map(|e| e.name.as_str()))
            .collect();
        assert_eq!(envs, ["DB_PASS", "PGPASSWORD"]);
    }

    #[test]
    fn other_credentials_are_redacted_and_the_command_kept() {
        for (script, expected) in [
            (
                "pip install --index-url https://__token__:pw@pypi.example.com/simple acme\n",
                "pip install --index-url https://__token__:REDACTED@pypi.example.com/simple acme\n",
            ),
            (
                "pip install --extra-index-url https://tok3n@pypi.example.com/simple acme\n",
                "pip install --extra-index-url https://REDACTED@pypi.example.com/simple acme\n",
            ),
            (
                "curl -H \"Authorization: Bearer tok\" https://hooks.example.com\n",
                "curl -H \"Authorization: Bearer REDACTED\" https://hooks.example.com\n",
            ),
            (
                "mysql -usuperset -ppw -h db superset\n",
                "mysql -usuperset -pREDACTED -h db superset\n",
            ),
            (
                "echo 'machine pypi.example.com login u password pw' > ~/.netrc\n",
                "echo 'machine pypi.example.com login u password REDACTED' > ~/.netrc\n",
            ),
        ] {
            assert_eq!(clean(script).text, expected, "{script}");
        }
    }

    #[test]
    fn references_are_kept() {
        let script = "pip install --index-url \"https://__token__:${PIP_TOKEN}@pypi.example.com/simple\" acme\nmysql -p\"$DB_PASS\" superset\ngit clone git@github.com:org/repo.git\n";
        let cleaned = clean(script);
        assert_eq!(cleaned.text, script);
        assert!(cleaned.findings.is_empty());
    }
}
