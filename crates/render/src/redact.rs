//! Task failure output reaches status, events and logs, which many more people can read than
//! the Secrets a task uses. Credentials are masked before anything is shortened, so a cut can
//! never leave half a password behind the mask.
//!
//! Each kind of credential is looked for in the original text, and everything found is masked
//! at once, so one form written inside another cannot hide it:
//!
//! - the password of a URI, `scheme://user:password@host`: from the `:` after the user to the
//!   last `@` of the line, so that the password may hold spaces, `:`, `/` and `@`;
//! - the value of a name that says it holds a credential (`password`, `passwd`, `*_PASS`,
//!   `*_PWD`, `secret`, `token`, `api_key`, `credentials`, `auth`, `Authorization`, `Cookie`,
//!   the operator's own `SUPERSET_OPERATOR__*` variables among them), written `name=value`,
//!   `name: value`, `"name": "value"` or `name: type = value`. The value runs to the end of
//!   its line, quoted or not (a password may hold the quote that seems to close it), a
//!   triple-quoted string or YAML block scalar to its end, a query parameter to the next `&`.
//!   Names of references (`secretKeyFrom`, `passwordFile`, `tokenUrl`, ...) are not
//!   credentials;
//! - command lines: `--password value`, `--password=value`, mysql's `-pvalue`, redis-cli's
//!   `-a value`, curl's `-u user:value`, one shell word each (quotes honoured);
//! - `Bearer` and `Basic` credentials, and an `Authorization` header's value after its scheme;
//! - private keys in PEM armour, and tokens whose shape gives them away (GitHub, GitLab,
//!   Slack, JSON web tokens).
//!
//! A line without any of these is returned as it was.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// What replaces a credential.
pub const MASK: &str = "***";

/// Longest message kept, before the ellipsis.
pub const MAX_MESSAGE_CHARS: usize = 256;

fn pattern(text: &str) -> Regex {
    Regex::new(text).expect("valid pattern")
}

/// Whether any of the detectors below can apply: most messages have none of these words.
static MAY_HOLD_CREDENTIALS: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?i)pass|pwd|secret|token|credential|key|auth|cookie|bearer|basic|://|-----BEGIN|mysql|mariadb|-cli|curl|sshpass|gh[pousr]_|github_pat_|glpat-|xox[abprs]-|eyJ",
    )
});

/// `scheme://user:`, where a password may follow.
static URI_USER: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"(?i)\b[a-z][a-z0-9+.\-]*://[^:/\s]*:"));

/// A name that may say it holds a credential (checked by [`is_credential_name`]).
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?i)[a-z0-9_.\-]*(?:pass|pwd|secret|token|credential|api[_.\-]?key|access[_.\-]?key|private[_.\-]?key|authorization|cookie|auth)[a-z0-9_.\-]*",
    )
});

static SCHEME: LazyLock<Regex> = LazyLock::new(|| pattern(r"(?i)\b(?:bearer|basic)[ \t]+"));

static PEM: LazyLock<Regex> = LazyLock::new(|| pattern(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"));

/// Tokens recognisable by their shape alone.
static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_\-]{20,}|xox[abprs]-[A-Za-z0-9\-]{10,}|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)",
    )
});

/// Short options that take a credential in the commands named by [`COMMAND`].
static SHORT_OPTION: LazyLock<Regex> =
    LazyLock::new(|| pattern(r#"(?:^|[\s'"])(-p|-a|-u|--user)"#));

static COMMAND: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"\b(?:(?P<mysql>mysql|mariadb|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlsh|mariadb-dump|mariadb-admin)|(?P<redis>redis-cli|valkey-cli|keydb-cli)|(?P<curl>curl)|(?P<sshpass>sshpass))\b",
    )
});

/// `text` with every credential masked (see the module's documentation for what counts).
pub fn redact(text: &str) -> String {
    redact_with(text, MASK)
}

/// Like [`redact`], with `mask` in place of each credential.
pub fn redact_with(text: &str, mask: &str) -> String {
    let spans = credential_spans(text);
    if spans.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for span in spans {
        out.push_str(&text[last..span.start]);
        out.push_str(mask);
        last = span.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Whether `text` holds anything [`redact`] would mask.
pub fn contains_credential(text: &str) -> bool {
    !credential_spans(text).is_empty()
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

/// The byte ranges of `text` that hold credentials, sorted and merged: what [`redact`]
/// masks.
pub fn credential_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = each_credential(text);
    spans.retain(|s| s.start < s.end);
    spans.sort_by_key(|s| s.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// Each credential found in `text`, as found (in no order, some overlapping): for callers
/// that judge each one themselves, such as keeping `${NAME}` placeholders in a script.
pub fn each_credential(text: &str) -> Vec<Range<usize>> {
    if !MAY_HOLD_CREDENTIALS.is_match(text) {
        return Vec::new();
    }
    let mut spans = Vec::new();
    let lines = Lines::new(text);
    uri_passwords(text, &lines, &mut spans);
    named_values(text, &lines, &mut spans);
    schemes(text, &mut spans);
    short_options(text, &lines, &mut spans);
    for m in PEM.find_iter(text) {
        let end = text[m.end()..]
            .find("-----END ")
            .map_or(text.len(), |at| m.end() + at);
        spans.push(m.end()..end);
    }
    spans.extend(TOKEN.find_iter(text).map(|m| m.range()));
    spans
}

fn uri_passwords(text: &str, lines: &Lines, spans: &mut Vec<Range<usize>>) {
    // The last `@` of the line being searched, found once per line.
    let mut line: Option<(usize, Option<usize>)> = None;
    for m in URI_USER.find_iter(text) {
        let from = m.end();
        let (end, last_at) = match line {
            Some((end, last_at)) if from <= end => (end, last_at),
            _ => {
                let end = lines.end(from);
                let last_at = text[from..end].rfind('@').map(|at| from + at);
                line = Some((end, last_at));
                (end, last_at)
            }
        };
        debug_assert!(from <= end);
        if let Some(at) = last_at.filter(|at| *at > from) {
            spans.push(from..at);
        }
    }
}

fn named_values(text: &str, lines: &Lines, spans: &mut Vec<Range<usize>>) {
    for m in NAME.find_iter(text) {
        let name = m.as_str();
        if !is_credential_name(name) {
            continue;
        }
        let head = &text[..m.start()];
        // The user of a URI (`https://__token__:...@`): its password is the URI's.
        if head.ends_with("://") {
            continue;
        }
        // MySQL's "(using password: YES)" says whether one was sent.
        if head.len() >= 6
            && head.is_char_boundary(head.len() - 6)
            && head[head.len() - 6..].eq_ignore_ascii_case("using ")
        {
            continue;
        }
        let before = head.chars().next_back();
        let quote_before = before.filter(|c| matches!(c, '"' | '\''));
        if name.starts_with('-') {
            option_value(text, lines, m.end(), quote_before, spans);
            continue;
        }
        let mut at = m.end();
        if let Some(q) = quote_before
            && text[at..].starts_with(q)
        {
            at += 1;
        }
        at = skip_blanks(text, at);
        let Some(separator) = text[at..].chars().next().filter(|c| matches!(c, '=' | ':')) else {
            continue;
        };
        at += 1;
        if separator == ':' && text[at..].starts_with("//") {
            continue;
        }
        // `:=`, `==`, `=>`.
        if text[at..].starts_with(['=', '>']) {
            at += 1;
        }
        at = skip_blanks(text, at);
        let end_of_line = lines.end(at);
        if at >= end_of_line {
            continue;
        }
        let end = if separator == '=' && matches!(before, Some('?' | '&' | ';')) {
            // A query parameter, percent-encoded.
            text[at..]
                .find(|c: char| c.is_whitespace() || "&#\"'<>".contains(c))
                .map_or(text.len(), |len| at + len)
        } else {
            value_end(text, lines, at, end_of_line, lines.indent(m.start()))
        };
        let mut start = at;
        if is_authorization(name) && !text[at..].starts_with(['"', '\'']) {
            // `Authorization: Token x`: the scheme is not the secret.
            let scheme = text[at..end]
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .unwrap_or(0);
            let after = skip_blanks(text, at + scheme);
            if scheme > 0 && after > at + scheme && after < end {
                start = after;
            }
        }
        spans.push(start..end);
    }
}

/// `--password value` or `--password=value`: one shell word.
fn option_value(
    text: &str,
    lines: &Lines,
    mut at: usize,
    quote_before: Option<char>,
    spans: &mut Vec<Range<usize>>,
) {
    if text[at..].starts_with('=') {
        let start = at + 1;
        spans.push(start..shell_word_end(text, start, quote_before));
        return;
    }
    if let Some(q) = quote_before
        && text[at..].starts_with(q)
    {
        at += 1;
    }
    let start = skip_blanks(text, at);
    if start > at && start < lines.end(start) {
        spans.push(start..shell_word_end(text, start, None));
    }
}

fn schemes(text: &str, spans: &mut Vec<Range<usize>>) {
    for m in SCHEME.find_iter(text) {
        let end = text[m.end()..]
            .find(char::is_whitespace)
            .map_or(text.len(), |len| m.end() + len);
        spans.push(m.end()..end);
    }
}

/// Where each kind of command is first named on a line: mysql, redis-cli, curl, sshpass.
type Commands = [usize; 4];

fn commands_of_line(line: &str, offset: usize) -> Commands {
    let mut first = [usize::MAX; 4];
    for command in COMMAND.captures_iter(line) {
        for (i, group) in ["mysql", "redis", "curl", "sshpass"]
            .into_iter()
            .enumerate()
        {
            if let Some(m) = command.name(group) {
                first[i] = first[i].min(offset + m.start());
            }
        }
    }
    first
}

fn short_options(text: &str, lines: &Lines, spans: &mut Vec<Range<usize>>) {
    if !COMMAND.is_match(text) {
        return;
    }
    // The commands of the line being searched, found once per line.
    let mut line: Option<(usize, Commands)> = None;
    for caps in SHORT_OPTION.captures_iter(text) {
        let option = caps.get(1).expect("the option is captured");
        let start_of_line = lines.start(option.start());
        let commands = match line {
            Some((start, commands)) if start == start_of_line => commands,
            _ => {
                let end = lines.end(start_of_line);
                let commands = commands_of_line(&text[start_of_line..end], start_of_line);
                line = Some((start_of_line, commands));
                commands
            }
        };
        let named = |i: usize| commands[i] < option.start();
        let (mysql, redis, curl, sshpass) = (named(0), named(1), named(2), named(3));
        let quote_before = text[..option.start()]
            .chars()
            .next_back()
            .filter(|c| matches!(c, '"' | '\''));
        let after = option.end();
        // Inside a quoted word (`'-pa b'`, as `set -x` writes it) the rest of the word is
        // the value, blanks and all.
        let glued = text[after..]
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() || quote_before.is_some_and(|q| c != q));
        let separate = skip_blanks(text, after);
        let separate = (separate > after && separate < lines.end(separate)).then_some(separate);
        let start = match option.as_str() {
            "-p" if glued && (mysql || sshpass) => Some(after),
            "-p" if sshpass => separate,
            "-a" if redis => separate,
            "-u" | "--user" if curl => {
                if text[after..].starts_with('=') {
                    Some(after + 1)
                } else if glued {
                    Some(after)
                } else {
                    separate
                }
            }
            _ => None,
        };
        let Some(start) = start else { continue };
        let quote = if start == after { quote_before } else { None };
        let end = shell_word_end(text, start, quote);
        if option.as_str().ends_with('u') || option.as_str() == "--user" {
            // `user:password`: the user stays.
            if let Some(colon) = text[start..end].find(':') {
                spans.push(start + colon + 1..end);
            }
        } else {
            spans.push(start..end);
        }
    }
}

/// Whether a name says that its value is a credential: `password`, `DB_PASS`,
/// `SUPERSET_OPERATOR__SECRET_KEY`, `x-api-key`, `client_secret`, `Authorization`; not names of
/// references to one (`secretKeyFrom`, `passwordFile`, `secretName`, `token_url`).
fn is_credential_name(name: &str) -> bool {
    let last = name
        .trim_start_matches('-')
        .rsplit('.')
        .next()
        .unwrap_or_default();
    let compact: String = last
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    const REFERENCES: [&str; 40] = [
        "from",
        "ref",
        "refs",
        "file",
        "files",
        "path",
        "name",
        "names",
        "dir",
        "length",
        "len",
        "policy",
        "type",
        "id",
        "ids",
        "url",
        "uri",
        "count",
        "enabled",
        "required",
        "prefix",
        "suffix",
        "field",
        "algorithm",
        "algo",
        "method",
        "format",
        "ttl",
        "timeout",
        "expiry",
        "expires",
        "expiration",
        "lifetime",
        "version",
        "mode",
        "size",
        "limit",
        "source",
        "hint",
        "tokenkey",
    ];
    const NOT_A_PASS: [&str; 6] = [
        "bypass",
        "compass",
        "surpass",
        "overpass",
        "underpass",
        "trespass",
    ];
    const MARKERS: [&str; 11] = [
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "credential",
        "apikey",
        "accesskey",
        "privatekey",
        "authorization",
        "cookie",
    ];
    if compact.is_empty() || REFERENCES.iter().any(|r| compact.ends_with(r)) {
        return false;
    }
    MARKERS.iter().any(|m| compact.contains(m))
        || (compact.ends_with("pass") && !NOT_A_PASS.iter().any(|w| compact.ends_with(w)))
        // `PWD` and `OLDPWD` are the shell's working directories.
        || (compact.ends_with("pwd") && compact != "pwd" && compact != "oldpwd")
        || (compact.ends_with("auth") && !compact.ends_with("oauth"))
}

fn is_authorization(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with("authorization")
}

/// Where a value that starts at `at` ends: a triple-quoted string at its closing quotes, a YAML
/// block scalar after its indented lines, anything else at the end of its line. Even a quoted
/// value runs to the end of the line: a credential may hold the quote that seems to close it.
fn value_end(text: &str, lines: &Lines, at: usize, end_of_line: usize, indent: usize) -> usize {
    let rest = &text[at..];
    if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
        // Never before the end of the line: YAML's `''` can look like Python's `'''`.
        return triple_quoted_end(text, at).max(end_of_line);
    }
    let value = text[at..end_of_line].trim_end();
    let block = value.starts_with(['|', '>'])
        && value[1..]
            .chars()
            .all(|c| matches!(c, '+' | '-' | '1'..='9'));
    if block {
        return block_end(text, lines, end_of_line, indent);
    }
    text[..end_of_line]
        .strip_suffix('\r')
        .map_or(end_of_line, str::len)
}

fn triple_quoted_end(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let delimiter = &bytes[at..at + 3];
    let mut i = at + 3;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i..].starts_with(delimiter) {
            return i + 3;
        } else {
            i += 1;
        }
    }
    text.len()
}

/// The end of a YAML block scalar's lines: those after `end_of_line` that are blank or
/// indented deeper than its key.
fn block_end(text: &str, lines: &Lines, end_of_line: usize, indent: usize) -> usize {
    let mut end = end_of_line;
    let mut at = end_of_line;
    while at < text.len() {
        let start = at + 1;
        let next_end = lines.end(start);
        let line = &text[start..next_end];
        if line.trim().is_empty() {
            at = next_end;
            continue;
        }
        if line.len() - line.trim_start_matches([' ', '\t']).len() <= indent {
            break;
        }
        end = next_end;
        at = next_end;
    }
    end
}

/// The end of the shell word starting at `at` (inside `quote` when it opened before `at`):
/// quotes and backslashes are honoured, and no word runs past the end of its line.
fn shell_word_end(text: &str, at: usize, mut quote: Option<char>) -> usize {
    let mut chars = text[at..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\n' {
            return at + i;
        }
        match quote {
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c.is_whitespace() => return at + i,
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '\\' => {
                chars.next();
            }
            None => {}
        }
    }
    text.len()
}

fn skip_blanks(text: &str, at: usize) -> usize {
    at + text[at..].len() - text[at..].trim_start_matches([' ', '\t']).len()
}

/// Where the lines of a text start and end, found once so that no detector searches a long
/// line again for each candidate on it.
struct Lines<'a> {
    text: &'a str,
    breaks: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let breaks = text
            .bytes()
            .enumerate()
            .filter_map(|(i, b)| (b == b'\n').then_some(i))
            .collect();
        Self { text, breaks }
    }

    /// The end of the line `at` is on (its `\n`, or the end of the text).
    fn end(&self, at: usize) -> usize {
        let i = self.breaks.partition_point(|&b| b < at);
        self.breaks.get(i).copied().unwrap_or(self.text.len())
    }

    fn start(&self, at: usize) -> usize {
        match self.breaks.partition_point(|&b| b < at) {
            0 => 0,
            i => self.breaks[i - 1] + 1,
        }
    }

    fn indent(&self, at: usize) -> usize {
        let line = &self.text[self.start(at)..self.end(at)];
        line.len() - line.trim_start_matches([' ', '\t']).len()
    }
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
            "Authorization: Bearer ***"
        );
        assert_eq!(
            redact("upstream refused Bearer eyJhbGciOi.abc.def with 401"),
            "upstream refused Bearer *** with 401"
        );
    }

    #[test]
    fn a_uri_password_runs_to_the_last_at_sign_of_its_line() {
        // The password may hold `@` and spaces, so an address later on the line is masked
        // with it: more is hidden, never less.
        assert_eq!(
            redact("redis://valkey:6379/0 for admin@example.com"),
            "redis://valkey:***@example.com"
        );
    }

    #[test]
    fn assignments_are_masked() {
        assert_eq!(
            redact("FATAL password=abc123 user=superset"),
            "FATAL password=***"
        );
        assert_eq!(
            redact(r#"{"db_password": "p@ss word", "api_key":'k'}"#),
            r#"{"db_password": ***"#
        );
        assert_eq!(redact("SECRET_KEY = xyz"), "SECRET_KEY = ***");
        assert_eq!(redact("PGPASSWORD=x psql"), "PGPASSWORD=***");
    }

    /// A credential as distinctive as the issue's.
    const SECRET: &str = "s3cr3t-VALUE-9f";

    fn assert_masked(text: &str) {
        let shown = redact(text);
        assert!(!shown.contains(SECRET), "{text:?} became {shown:?}");
        let shown = redact_and_truncate(text);
        assert!(!shown.contains(SECRET), "{text:?} became {shown:?}");
    }

    #[test]
    fn the_operators_own_variables_are_masked() {
        for name in [
            crate::env::vars::SECRET_KEY,
            crate::env::vars::PREVIOUS_SECRET_KEY,
            crate::env::vars::DB_PASS,
            crate::env::vars::VALKEY_PASS,
            crate::env::vars::ADMIN_PASSWORD,
            crate::env::vars::SEED_SRC_PASS,
        ] {
            assert_masked(&format!("{name}={SECRET}"));
            assert_masked(&format!("+ export {name}='{SECRET}'"));
        }
        assert_eq!(
            redact("SUPERSET_OPERATOR__DB_PASS=hunter2"),
            "SUPERSET_OPERATOR__DB_PASS=***"
        );
    }

    #[test]
    fn command_line_passwords_are_masked() {
        assert_eq!(
            redact("mysql -usuperset -phunter2 -h db superset"),
            "mysql -usuperset -p*** -h db superset"
        );
        assert_eq!(
            redact("psql --password hunter2 -h db"),
            "psql --password *** -h db"
        );
        assert_eq!(
            redact("psql --password=hunter2 -h db"),
            "psql --password=*** -h db"
        );
        assert_masked(&format!("+ mysql -uroot '-p{SECRET} x' db"));
        assert_masked(&format!("redis-cli -h valkey -a {SECRET} ping"));
        assert_masked(&format!("curl -u admin:{SECRET} http://superset:8088/api"));
    }

    #[test]
    fn every_authorization_scheme_is_masked() {
        assert_eq!(
            redact("Authorization: Token hunter2"),
            "Authorization: Token ***"
        );
        assert_eq!(
            redact("Authorization: Basic dXNlcjpodW50ZXIy"),
            "Authorization: Basic ***"
        );
        assert_masked(&format!("Authorization: Token {SECRET} and more"));
        assert_masked(&format!("headers={{'Authorization': 'Token {SECRET}'}}"));
        assert_masked(&format!("Cookie: session={SECRET}"));
    }

    #[test]
    fn uri_passwords_with_spaces_and_at_signs_are_masked() {
        assert_eq!(
            redact("could not connect to postgresql://u:p@ss w@host/db now"),
            "could not connect to postgresql://u:***@host/db now"
        );
        assert_masked(&format!(
            "redis://default:{SECRET} @x:y/z@valkey:6379/0 refused"
        ));
        assert_masked(&format!("postgresql://user@server:{SECRET}@host/db"));
        assert_eq!(
            redact("pip install -i https://__token__:pw@pypi.example.com/simple acme"),
            "pip install -i https://__token__:***@pypi.example.com/simple acme"
        );
        assert_masked(&format!(
            "GET https://cb.example.com/x?code=1&token={SECRET}&x=1"
        ));
    }

    #[test]
    fn structured_assignments_are_masked() {
        for text in [
            format!("PGPASSWORD={SECRET} psql -h db"),
            format!("REDIS_PASSWORD={SECRET}"),
            format!("client_secret={SECRET}"),
            format!("api_key: {SECRET}"),
            format!(r#"{{"password": "{SECRET}", "user": "superset"}}"#),
            format!("password: {SECRET}"),
            format!("SECRET_KEY = '{SECRET}'"),
            format!("SECRET_KEY: str = \"{SECRET}\""),
            format!("SECRET_KEY = '''{SECRET}'''"),
            format!("password: |\n  {SECRET}\nuser: superset"),
            format!("-----BEGIN RSA PRIVATE KEY-----\n{SECRET}\n-----END RSA PRIVATE KEY-----"),
        ] {
            assert_masked(&text);
        }
    }

    #[test]
    fn tokens_known_by_their_shape_are_masked() {
        let token = "ghp_0123456789abcdefABCDEF0123456789abcd";
        let shown = redact(&format!(
            "fatal: could not read from https://{token}@github.com/x/y"
        ));
        assert!(!shown.contains(token), "{shown}");
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl";
        assert_eq!(
            redact(&format!("guest token {jwt} expired")),
            "guest token *** expired"
        );
    }

    #[test]
    fn ordinary_lines_are_untouched() {
        for text in [
            "Exit code 1: Error: relation \"ab_user\" does not exist",
            "psycopg2.OperationalError: connection to server at \"db\" (10.0.0.5), port 5432 failed: FATAL:  password authentication failed for user \"superset\"",
            "(MySQLdb.OperationalError) (1045, \"Access denied for user 'superset'@'10.0.0.7' (using password: YES)\")",
            "Error: couldn't find key SUPERSET_OPERATOR__DB_PASS in Secret analytics/bi-env",
            "Error: secret \"bi-credentials\" not found",
            "Superset.superset.apache.org \"bi\" is invalid: spec.secretKeyFrom.name: Required value",
            "spec.metastore.passwordFrom: Invalid value: \"object\": key is required",
            "Liveness probe failed: Get \"http://10.0.0.1:8088/health\": dial tcp 10.0.0.1:8088: connect: connection refused",
            "connecting to redis://valkey:6379/0",
            "sent to admin@example.com from http://superset:8088/login",
            "KeyError: 'SUPERSET_OPERATOR__SECRET_KEY'",
            "A Default SECRET_KEY was detected, please use superset_config.py to override it.",
            "[SQL: SELECT ab_user.password AS ab_user_password FROM ab_user]",
            "mkdir -p /app/superset_home && pip install psycopg2-binary",
            "redis.exceptions.AuthenticationError: invalid username-password pair or user is disabled.",
            "Traceback (most recent call last):\n  File \"/app/superset/cli/main.py\", line 12, in <module>",
        ] {
            assert_eq!(redact(text), text);
        }
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

    mod property {
        use proptest::prelude::*;

        use super::super::{redact, redact_and_truncate};
        use crate::env::vars;

        /// Any printable text: mostly ASCII (spaces, quotes, `@`, `:`, `/`, backslashes),
        /// with the delimiters the forms use made likely, and any other non-control character.
        fn secret() -> impl Strategy<Value = String> {
            let delimiters = vec![
                '@', ':', '/', '"', '\'', ' ', '\\', '#', '=', '&', '%', '{', '}', ';', '|',
            ];
            proptest::collection::vec(
                prop_oneof![
                    6 => proptest::char::range(' ', '~'),
                    2 => proptest::sample::select(delimiters),
                    2 => any::<char>().prop_filter("printable", |c| !c.is_control()),
                ],
                6..40,
            )
            .prop_map(|chars| chars.into_iter().collect::<String>())
            .prop_filter("more than blanks", |s| {
                s.chars().filter(|c| !c.is_whitespace()).count() >= 4
            })
        }

        fn json(s: &str) -> String {
            let quoted = serde_json::to_string(s).unwrap();
            quoted[1..quoted.len() - 1].to_owned()
        }

        /// The body of a Python literal in `quote`.
        fn python(s: &str, quote: char) -> String {
            s.replace('\\', "\\\\")
                .replace(quote, &format!("\\{quote}"))
        }

        /// The body of a shell (or bash `set -x`) single-quoted word.
        fn shell(s: &str) -> String {
            s.replace('\'', "'\\''")
        }

        fn percent(s: &str) -> String {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        }

        /// Each supported form with `s` in it, and the text of `s` as it is written there.
        fn forms(s: &str) -> Vec<(String, String)> {
            let raw = |text: String| (text, s.to_owned());
            let mut forms = vec![
                raw(format!(
                    "could not connect to postgresql://superset:{s}@db:5432/superset"
                )),
                raw(format!("redis://:{s}@valkey:6379/0 refused")),
                raw(format!("FATAL password={s} user=superset")),
                raw(format!("api_key: {s}\nuser: superset")),
                raw(format!("\npassword: |\n  {s}\nuser: superset")),
                raw(format!(
                    "-----BEGIN RSA PRIVATE KEY-----\n{s}\n-----END RSA PRIVATE KEY-----\nok"
                )),
            ];
            for name in [
                vars::SECRET_KEY,
                vars::PREVIOUS_SECRET_KEY,
                vars::DB_PASS,
                vars::VALKEY_PASS,
                vars::ADMIN_PASSWORD,
                vars::SEED_SRC_PASS,
                "PGPASSWORD",
                "REDIS_PASSWORD",
                "client_secret",
                "MYSQL_PWD",
            ] {
                forms.push(raw(format!("{name}={s}")));
            }
            for scheme in ["Bearer", "Basic", "Token"] {
                forms.push(raw(format!("Authorization: {scheme} {s}")));
            }
            // A token of these schemes has no blanks.
            let token: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            for scheme in ["Bearer", "basic"] {
                forms.push((format!("sent {scheme} {token} upstream"), token.clone()));
            }
            let j = json(s);
            forms.push((
                format!(r#"{{"password": "{j}", "user": "superset"}}"#),
                j.clone(),
            ));
            forms.push((format!("password: \"{j}\"\nuser: x"), j));
            forms.push((
                format!("password: '{}'\nuser: x", s.replace('\'', "''")),
                s.replace('\'', "''"),
            ));
            for quote in ['\'', '"'] {
                let p = python(s, quote);
                forms.push((format!("SECRET_KEY = {quote}{p}{quote}"), p.clone()));
                forms.push((format!("SECRET_KEY: str = {quote}{p}{quote}"), p.clone()));
                forms.push((
                    format!("SECRET_KEY = {quote}{quote}{quote}{p}{quote}{quote}{quote}"),
                    p,
                ));
            }
            let sh = shell(s);
            for text in [
                format!("+ mysql -uroot -p'{sh}' superset"),
                format!("+ mysql -uroot '-p{sh}' superset"),
                format!("psql --password '{sh}' -h db"),
                format!("+ psql '--password={sh}' -h db"),
                format!("redis-cli -h valkey -a '{sh}' ping"),
                format!("curl -u 'admin:{sh}' http://superset:8088/api/v1"),
            ] {
                forms.push((text, sh.clone()));
            }
            let pct = percent(s);
            forms.push((
                format!("GET https://sso.example.com/cb?code=1&token={pct}&state=2"),
                pct,
            ));
            forms
        }

        /// Whether some run of `len` characters of `written` shows in `shown` though the
        /// text around the credential does not have it.
        fn leaked(shown: &str, text: &str, written: &str, len: usize) -> Option<String> {
            let around = text.replacen(written, "\u{0}", 1);
            let chars: Vec<char> = written.chars().collect();
            let len = len.min(chars.len());
            chars
                .windows(len)
                .map(|w| w.iter().collect::<String>())
                .find(|w| shown.contains(w.as_str()) && !around.contains(w.as_str()))
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 256,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            /// Whatever a credential looks like, no part of it shows, in any supported form.
            #[test]
            fn no_credential_shows_in_any_form(
                secret in secret(),
                filler in "[a-z ]{0,300}",
            ) {
                for (form, written) in forms(&secret) {
                    let text = format!("{filler} {form}");
                    for shown in [redact(&text), redact_and_truncate(&text)] {
                        prop_assert!(
                            leaked(&shown, &text, &written, 6).is_none(),
                            "{:?} leaked from {text:?} as {shown:?}",
                            leaked(&shown, &text, &written, 6)
                        );
                    }
                }
            }
        }
    }
}
