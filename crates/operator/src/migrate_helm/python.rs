//! Literal credentials in the Python of `configOverrides`. The snippet is read as Python
//! tokens, so that a credential is found in any string form (quotes of either kind, triple
//! quotes, `r`/`b`/`f` prefixes, implicit concatenation, values in parentheses over several
//! lines) and whatever it is given to: a name (`NAME = ...`, `NAME: str = ...`, `NAME=` as a
//! keyword argument), a dictionary key, a subscript (`os.environ["NAME"] = ...`), or the
//! default of an environment lookup (`os.environ.setdefault("NAME", ...)`).

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::credentials::{
    self, CredentialEnv, Finding, PLACEHOLDER, is_credential_name, line_of, unique_env_name,
};

/// A snippet with its credentials taken out.
pub struct Cleaned {
    /// The Python, now free of literal credentials.
    pub text: String,
    /// What was changed, one entry per credential.
    pub findings: Vec<Finding>,
    /// Whether a literal `SECRET_KEY` assignment was removed.
    pub secret_key: bool,
}

/// Takes the literal credentials out of `text`: a statement setting `SECRET_KEY` to a literal
/// is removed (the operator sets the key), other credentials become `os.environ["NAME"]`
/// backed by a key of `secret`, passwords inside URIs become `REDACTED`, and so does a
/// credential in a comment. `used` keeps variable names unique across snippets.
pub fn remove_credentials(text: &str, secret: &str, used: &mut BTreeSet<String>) -> Cleaned {
    let code = Code::scan(text);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut findings = Vec::new();
    let mut secret_key = false;
    let mut t = 0;
    while t < code.tokens.len() {
        let Tok::Literal(_) = code.tokens[t].kind else {
            t += 1;
            continue;
        };
        // A run of literals is one string (`"a" "b"`).
        let first = t;
        while matches!(
            code.tokens.get(t + 1).map(|k| k.kind),
            Some(Tok::Literal(_))
        ) {
            t += 1;
        }
        let last = t;
        t += 1;
        let run = code.tokens[first].range.start..code.tokens[last].range.end;
        let literals: Vec<&Literal> = (first..=last).map(|i| code.literal(i)).collect();
        let role = if code.punct_at(last + 1, b':') {
            // A dictionary key names the value after it.
            Role::Reference
        } else {
            code.role(first, 0)
        };
        let Role::Value { names, target } = role else {
            continue;
        };
        let content = literals
            .iter()
            .any(|l| has_literal_content(text, l, run.end));
        let named = names.iter().any(|n| is_credential_name(n));
        let mut credential = named && content;
        if !credential {
            let mut in_uri = false;
            for literal in &literals {
                for password in uri_passwords(text, literal, run.end) {
                    in_uri = true;
                    findings.push(Finding {
                        reason: format!("line {} had a password inside a URI: replaced by {PLACEHOLDER}; build the URI from os.environ and a Secret", line_of(text, password.start)),
                        env: None,
                    });
                    edits.push((password, PLACEHOLDER.to_owned()));
                }
            }
            credential = !in_uri
                && literals
                    .iter()
                    .any(|l| credentials::looks_secret(&literal_text(text, l, run.end), false));
        }
        if !credential {
            continue;
        }
        let line = line_of(text, run.start);
        let name = names
            .iter()
            .find(|n| is_credential_name(n))
            .or(names.first())
            .cloned();
        if name.as_deref() == Some("SECRET_KEY")
            && let Some(target) = target
            && let Some(statement) = code.whole_statement(target, first, last)
        {
            secret_key = true;
            let indent = &text[statement.start..code.tokens[target.first].range.start];
            edits.push((
                statement,
                format!("{indent}pass  # SECRET_KEY comes from spec.secretKeyFrom"),
            ));
            findings.push(Finding {
                reason: format!("line {line} set SECRET_KEY to a literal: removed, the operator sets it from spec.secretKeyFrom"),
                env: None,
            });
            continue;
        }
        let env = unique_env_name(name.as_deref().unwrap_or("CREDENTIAL"), used);
        edits.push((run, format!("os.environ[\"{env}\"]")));
        findings.push(Finding {
            reason: format!(
                "line {line} held a literal {}: now read from the environment variable {env}",
                name.as_deref().unwrap_or("credential")
            ),
            env: Some(CredentialEnv {
                name: env,
                secret: secret.to_owned(),
            }),
        });
    }
    for comment in &code.comments {
        if let Some(cleaned) = credentials::clean_text(&text[comment.clone()]) {
            findings.push(Finding {
                reason: format!(
                    "line {} had a credential in a comment: replaced by {PLACEHOLDER}",
                    line_of(text, comment.start)
                ),
                env: None,
            });
            edits.push((comment.clone(), cleaned));
        }
    }
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (range, replacement) in edits {
        // A removed statement already covers what lies inside it.
        if range.start < done {
            continue;
        }
        out.push_str(&text[done..range.start]);
        out.push_str(&replacement);
        done = range.end;
    }
    out.push_str(&text[done..]);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    Cleaned {
        text: out,
        findings,
        secret_key,
    }
}

/// A string literal: `prefix? quote body quote`.
struct Literal {
    /// The body, between the quotes.
    body: Range<usize>,
    /// Whether it is an f-string.
    f: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Literal(usize),
    Name,
    Punct(u8),
    /// `=`, `:=` or `+=`.
    Assign,
    Other,
}

struct Token {
    kind: Tok,
    range: Range<usize>,
}

struct Code<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    literals: Vec<Literal>,
    comments: Vec<Range<usize>>,
}

/// What a value is given to.
enum Role {
    /// Assigned, passed or stored under `names` (the nearest first), by a statement whose
    /// target is `target` when it is one.
    Value {
        names: Vec<String>,
        target: Option<Target>,
    },
    /// Not a value but a name: a subscript, a dictionary key, a variable to look up.
    Reference,
}

#[derive(Clone, Copy)]
struct Target {
    /// The first token of the assignment's target.
    first: usize,
    /// The `=`.
    assign: usize,
}

const NOTHING: Role = Role::Value {
    names: Vec::new(),
    target: None,
};

impl<'a> Code<'a> {
    fn scan(text: &'a str) -> Self {
        let b = text.as_bytes();
        let mut code = Code {
            text,
            tokens: Vec::new(),
            literals: Vec::new(),
            comments: Vec::new(),
        };
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let next = b.get(i + 1).copied();
            let (kind, len) = match c {
                b'#' => {
                    let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
                    code.comments.push(i..end);
                    i = end;
                    continue;
                }
                b'"' | b'\'' => {
                    let mut start = i;
                    let mut f = false;
                    if let Some(prefix) = code.tokens.last()
                        && prefix.kind == Tok::Name
                        && prefix.range.end == i
                    {
                        let p = text[prefix.range.clone()].to_ascii_lowercase();
                        if ["r", "u", "b", "f", "br", "rb", "fr", "rf"].contains(&p.as_str()) {
                            start = prefix.range.start;
                            f = p.contains('f');
                            code.tokens.pop();
                        }
                    }
                    let triple = b[i..].starts_with(&[c, c, c]);
                    let body_start = i + if triple { 3 } else { 1 };
                    let (body_end, end) = string_end(b, body_start, c, triple);
                    code.literals.push(Literal {
                        body: body_start..body_end,
                        f,
                    });
                    code.tokens.push(Token {
                        kind: Tok::Literal(code.literals.len() - 1),
                        range: start..end,
                    });
                    i = end;
                    continue;
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    let len = b[i..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                        .count();
                    (Tok::Name, len)
                }
                c if c.is_ascii_digit() => {
                    let len = b[i..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'.')
                        .count();
                    (Tok::Other, len)
                }
                b'=' if next == Some(b'=') => (Tok::Other, 2),
                b'=' => (Tok::Assign, 1),
                b':' | b'+' if next == Some(b'=') => (Tok::Assign, 2),
                b'!' | b'<' | b'>' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^' | b'@'
                    if next == Some(b'=') || (c == b'-' && next == Some(b'>')) =>
                {
                    (Tok::Other, 2)
                }
                b'(' | b')' | b'[' | b']' | b'{' | b'}' | b',' | b'.' | b':' | b'+' | b'%' => {
                    (Tok::Punct(c), 1)
                }
                c if c.is_ascii_whitespace() || c == b'\\' => {
                    i += 1;
                    continue;
                }
                c if c.is_ascii() => (Tok::Other, 1),
                _ => {
                    let len = text[i..].chars().next().map_or(1, char::len_utf8);
                    (Tok::Other, len)
                }
            };
            code.tokens.push(Token {
                kind,
                range: i..i + len,
            });
            i += len;
        }
        code
    }

    fn literal(&self, token: usize) -> &Literal {
        match self.tokens[token].kind {
            Tok::Literal(l) => &self.literals[l],
            _ => unreachable!("a literal token"),
        }
    }

    fn punct_at(&self, token: usize, c: u8) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|t| t.kind == Tok::Punct(c))
    }

    fn token_text(&self, token: usize) -> &'a str {
        &self.text[self.tokens[token].range.clone()]
    }

    /// Whether token `at` ends an expression that can be called or subscripted.
    fn ends_operand(&self, at: usize) -> bool {
        matches!(
            self.tokens[at].kind,
            Tok::Name | Tok::Punct(b')') | Tok::Punct(b']') | Tok::Literal(_)
        )
    }

    /// The first token of the dotted name (`os.environ.get`) ending at `at`.
    fn chain_start(&self, mut at: usize) -> usize {
        while at >= 2 && self.punct_at(at - 1, b'.') && self.tokens[at - 2].kind == Tok::Name {
            at -= 2;
        }
        at
    }

    /// The bracket that opens the group token `at` is inside, if any.
    fn opener(&self, at: usize) -> Option<usize> {
        let mut depth = 0usize;
        for i in (0..at).rev() {
            match self.tokens[i].kind {
                Tok::Punct(b')' | b']' | b'}') => depth += 1,
                Tok::Punct(b'(' | b'[' | b'{') if depth == 0 => return Some(i),
                Tok::Punct(b'(' | b'[' | b'{') => depth -= 1,
                _ => {}
            }
        }
        None
    }

    /// The bracket that matches the closing one at `close`: the opener of what lies before it.
    fn matching_open(&self, close: usize) -> Option<usize> {
        self.opener(close)
    }

    /// The commas between `open` and `at` outside nested brackets: the argument's position.
    fn position(&self, open: usize, at: usize) -> usize {
        let mut depth = 0usize;
        let mut commas = 0;
        for token in &self.tokens[open + 1..at] {
            match token.kind {
                Tok::Punct(b'(' | b'[' | b'{') => depth += 1,
                Tok::Punct(b')' | b']' | b'}') => depth = depth.saturating_sub(1),
                Tok::Punct(b',') if depth == 0 => commas += 1,
                _ => {}
            }
        }
        commas
    }

    /// What the value whose first token is `start` is given to.
    fn role(&self, start: usize, depth: u8) -> Role {
        let mut k = start;
        loop {
            let Some(prev) = k.checked_sub(1) else {
                return NOTHING;
            };
            match self.tokens[prev].kind {
                // Concatenation: `"a" "b"`, `prefix + "b"`.
                Tok::Literal(_) => k = prev,
                Tok::Punct(b'+') if prev >= 1 && self.ends_operand(prev - 1) => {
                    let operand = prev - 1;
                    k = match self.tokens[operand].kind {
                        Tok::Name => self.chain_start(operand),
                        Tok::Punct(b')' | b']') => match self.matching_open(operand) {
                            Some(open) => open,
                            None => return NOTHING,
                        },
                        _ => operand,
                    };
                }
                Tok::Punct(b'(') if prev >= 1 && self.ends_operand(prev - 1) => {
                    return self.call_role(prev, 0, depth);
                }
                Tok::Punct(b'[') if prev >= 1 && self.ends_operand(prev - 1) => {
                    return Role::Reference;
                }
                // A group, or an element of a list, tuple or set: named as the whole.
                Tok::Punct(b'(' | b'[' | b'{') => k = prev,
                Tok::Punct(b',') => {
                    let Some(open) = self.opener(prev) else {
                        return NOTHING;
                    };
                    if self.punct_at(open, b'(') && open >= 1 && self.ends_operand(open - 1) {
                        return self.call_role(open, self.position(open, k), depth);
                    }
                    if self.punct_at(open, b'{') {
                        // Past a comma inside braces is a dictionary's key or a set's element.
                        return NOTHING;
                    }
                    k = open;
                }
                // A dictionary's value, named by its key.
                Tok::Punct(b':') => {
                    return match prev.checked_sub(1).map(|key| self.tokens[key].kind) {
                        Some(Tok::Literal(l)) => Role::Value {
                            names: vec![self.text[self.literals[l].body.clone()].to_owned()],
                            target: None,
                        },
                        _ => NOTHING,
                    };
                }
                Tok::Assign => return self.assignment_role(prev),
                _ => return NOTHING,
            }
        }
    }

    /// The value of the assignment or keyword argument whose `=` is token `assign`.
    fn assignment_role(&self, assign: usize) -> Role {
        let Some(mut j) = assign.checked_sub(1) else {
            return NOTHING;
        };
        if self.punct_at(j, b']') {
            let Some(open) = self.matching_open(j) else {
                return NOTHING;
            };
            if j == open + 2
                && let Tok::Literal(l) = self.tokens[open + 1].kind
                && open >= 1
                && self.ends_operand(open - 1)
            {
                // `os.environ["NAME"] = ...`, `app.config["SECRET_KEY"] = ...`
                let first = self.chain_start(open - 1);
                return Role::Value {
                    names: vec![self.text[self.literals[l].body.clone()].to_owned()],
                    target: Some(Target { first, assign }),
                };
            }
            // A subscripted annotation (`Optional[str]`).
            let Some(before) = open.checked_sub(1) else {
                return NOTHING;
            };
            j = before;
        }
        if self.tokens[j].kind != Tok::Name {
            return NOTHING;
        }
        let mut first = self.chain_start(j);
        let mut name = self.token_text(j);
        // `NAME: type = ...`, on one line (not `if x:` above an assignment).
        if first >= 2
            && self.punct_at(first - 1, b':')
            && self.tokens[first - 2].kind == Tok::Name
            && !self.text[self.tokens[first - 2].range.end..self.tokens[assign].range.start]
                .contains('\n')
        {
            name = self.token_text(first - 2);
            first = self.chain_start(first - 2);
        }
        let keyword =
            first >= 1 && (self.punct_at(first - 1, b'(') || self.punct_at(first - 1, b','));
        Role::Value {
            names: vec![name.to_owned()],
            target: (!keyword).then_some(Target { first, assign }),
        }
    }

    /// An argument at `position` of the call whose `(` is token `open`.
    fn call_role(&self, open: usize, position: usize, depth: u8) -> Role {
        let callee = (self.tokens[open - 1].kind == Tok::Name).then(|| self.token_text(open - 1));
        let lookup = callee.is_some_and(|c| {
            let c = c.to_ascii_lowercase();
            c.contains("get") || c.contains("env") || c == "setdefault" || c == "pop"
        });
        if lookup && position == 0 {
            // The name looked up, not a value.
            return Role::Reference;
        }
        let mut names = Vec::new();
        if lookup
            && let Some(Tok::Literal(l)) = self.tokens.get(open + 1).map(|t| t.kind)
            && self.punct_at(open + 2, b',')
        {
            // The default of `getenv("NAME", ...)` is a value of NAME.
            names.push(self.text[self.literals[l].body.clone()].to_owned());
        }
        if depth < 4 && callee.is_some() {
            // `SECRET_KEY = decode("...")`: what the call's result is given to.
            if let Role::Value { names: outer, .. } =
                self.role(self.chain_start(open - 1), depth + 1)
            {
                names.extend(outer);
            }
        }
        Role::Value {
            names,
            target: None,
        }
    }

    /// The lines of the statement `target = <literals first..=last>`, when that is all the
    /// statement is (parentheses and a comment aside).
    fn whole_statement(&self, target: Target, first: usize, last: usize) -> Option<Range<usize>> {
        let between = &self.tokens[target.assign + 1..first];
        if !between.iter().all(|t| t.kind == Tok::Punct(b'(')) {
            return None;
        }
        let mut end = last;
        for _ in 0..between.len() {
            end += 1;
            if !self.punct_at(end, b')') {
                return None;
            }
        }
        let text = self.text;
        let start = self.tokens[target.first].range.start;
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        if !text[line_start..start].trim().is_empty() {
            return None;
        }
        let after = self.tokens[end].range.end;
        let line_end = text[after..].find('\n').map_or(text.len(), |i| after + i);
        let rest_of_line_is_code = self
            .tokens
            .get(end + 1)
            .is_some_and(|t| t.range.start < line_end);
        (!rest_of_line_is_code).then_some(line_start..line_end)
    }
}

/// The end of a string's body and of the string, from `from` just after its opening quotes.
/// An unclosed single-quoted string ends at the end of its line.
fn string_end(b: &[u8], from: usize, quote: u8, triple: bool) -> (usize, usize) {
    let mut i = from;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if triple {
            if b[i..].starts_with(&[quote, quote, quote]) {
                return (i, i + 3);
            }
        } else if b[i] == quote {
            return (i, i + 1);
        } else if b[i] == b'\n' {
            return (i, i);
        }
        i += 1;
    }
    (b.len(), b.len())
}

static FORMAT_FIELD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{[^{}]*\}").expect("a valid pattern"));
static PERCENT_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"%(?:\([^)]*\))?[#0\- +]*\d*(?:\.\d+)?[sdifrxXeEgGcoa%]").expect("a valid pattern")
});
static SCHEME_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:bearer|basic|token)\s+").expect("a valid pattern"));
static URI_USER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b[a-z][a-z0-9+.\-]*://[^:/\s]*:").expect("a valid pattern"));
static INNER_LITERAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""([^"]*)"|'([^']*)'"#).expect("a valid pattern"));

/// The literal text of `range` inside a literal: what is left once the placeholders it is a
/// template for are taken out (f-string fields, `str.format` and `%` fields when the literal
/// is used so, `$NAME`).
fn template_text(text: &str, literal: &Literal, range: Range<usize>, run_end: usize) -> String {
    let mut out = text[range].to_owned();
    if literal.f {
        out = without_f_fields(&out);
    }
    let after = text[run_end..].trim_start();
    if after.starts_with(".format(") {
        out = FORMAT_FIELD.replace_all(&out, "").into_owned();
    }
    if after.starts_with('%') {
        out = PERCENT_FIELD.replace_all(&out, "").into_owned();
    }
    credentials::without_placeholders(&out)
}

fn literal_text(text: &str, literal: &Literal, run_end: usize) -> String {
    template_text(text, literal, literal.body.clone(), run_end)
}

/// Whether a literal holds text of its own, beyond placeholders and the scheme of an
/// `Authorization` value (`f"Bearer {token}"` holds none).
fn has_literal_content(text: &str, literal: &Literal, run_end: usize) -> bool {
    let own = literal_text(text, literal, run_end);
    SCHEME_WORD
        .replace_all(&own, "")
        .chars()
        .any(|c| !c.is_whitespace() && !":@/".contains(c))
}

/// An f-string's text without its replacement fields; a field that holds a literal other
/// than a variable's name (`{"x"}`) is kept, as that literal is part of the value.
fn without_f_fields(body: &str) -> String {
    let mut out = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                chars.next();
                out.push('{');
            }
            '{' => {
                let mut depth = 1;
                let mut end = body.len();
                for (j, c) in chars.by_ref() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = j;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let field = &body[(i + 1).min(end)..end];
                let only_names = INNER_LITERAL.captures_iter(field).all(|c| {
                    let inner = c.get(1).or(c.get(2)).map_or("", |m| m.as_str());
                    inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
                if !only_names {
                    out.push_str(field);
                }
            }
            '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                chars.next();
                out.push('}');
            }
            c => out.push(c),
        }
    }
    out
}

/// The passwords of the URIs in a literal that are text of their own (not placeholders):
/// each from the `:` after the user to the last `@` of its line.
fn uri_passwords(text: &str, literal: &Literal, run_end: usize) -> Vec<Range<usize>> {
    let body = &text[literal.body.clone()];
    let mut out: Vec<Range<usize>> = Vec::new();
    for head in URI_USER.find_iter(body) {
        let from = head.end();
        if out
            .last()
            .is_some_and(|last| from < last.end - literal.body.start)
        {
            continue;
        }
        let end = body[from..].find('\n').map_or(body.len(), |i| from + i);
        let Some(at) = body[from..end].rfind('@').map(|at| from + at) else {
            continue;
        };
        let password = literal.body.start + from..literal.body.start + at;
        let own = template_text(text, literal, password.clone(), run_end);
        if own.chars().any(|c| !c.is_whitespace()) {
            out.push(password);
        }
    }
    out
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
    fn a_secret_key_in_any_statement_form_is_removed() {
        for text in [
            "SECRET_KEY = \"\"\"abc123\"\"\"\n",
            "SECRET_KEY: str = 'abc123'  # keep it safe\n",
            "SECRET_KEY = (\n    'abc'\n    '123'\n)\n",
            "app.config[\"SECRET_KEY\"] = r'abc123'\n",
        ] {
            let cleaned = clean(text);
            assert!(cleaned.secret_key, "{text}");
            assert_eq!(
                cleaned.text, "pass  # SECRET_KEY comes from spec.secretKeyFrom\n",
                "{text}"
            );
        }
        let indented = clean("if True:\n    SECRET_KEY = f'abc123'\n");
        assert_eq!(
            indented.text,
            "if True:\n    pass  # SECRET_KEY comes from spec.secretKeyFrom\n"
        );
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
    fn every_python_string_form_is_caught() {
        for (text, expected) in [
            (
                "SMTP_PASSWORD = '''pw'''\n",
                "SMTP_PASSWORD = os.environ[\"SMTP_PASSWORD\"]\n",
            ),
            (
                "SMTP_PASSWORD = f\"pw\"\n",
                "SMTP_PASSWORD = os.environ[\"SMTP_PASSWORD\"]\n",
            ),
            ("API_KEY = rb'pw'\n", "API_KEY = os.environ[\"API_KEY\"]\n"),
            (
                "SMTP_PASSWORD: Optional[str] = 'pw'\n",
                "SMTP_PASSWORD: Optional[str] = os.environ[\"SMTP_PASSWORD\"]\n",
            ),
            (
                "SMTP_PASSWORD = \"p\" \"w\"\n",
                "SMTP_PASSWORD = os.environ[\"SMTP_PASSWORD\"]\n",
            ),
            (
                "os.environ.setdefault(\"SUPERSET_SECRET_KEY\", \"pw\")\n",
                "os.environ.setdefault(\"SUPERSET_SECRET_KEY\", os.environ[\"SUPERSET_SECRET_KEY\"])\n",
            ),
            (
                "SMTP_PASSWORD = os.getenv(\"X\", \"pw\")\n",
                "SMTP_PASSWORD = os.getenv(\"X\", os.environ[\"SMTP_PASSWORD\"])\n",
            ),
            (
                "os.environ[\"API_TOKEN\"] = \"pw\"\n",
                "os.environ[\"API_TOKEN\"] = os.environ[\"API_TOKEN\"]\n",
            ),
            (
                "HEADERS = {\"Authorization\": \"Bearer pw\"}\n",
                "HEADERS = {\"Authorization\": os.environ[\"AUTHORIZATION\"]}\n",
            ),
            (
                "SLACK = \"xoxb-0123456789-abcdefghij\"\n",
                "SLACK = os.environ[\"SLACK\"]\n",
            ),
        ] {
            assert_eq!(clean(text).text, expected, "{text}");
        }
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
    fn uri_passwords_of_any_shape_are_redacted() {
        for (text, expected) in [
            (
                "A = 'postgresql://u:p%40ss@db/x'\n",
                "A = 'postgresql://u:REDACTED@db/x'\n",
            ),
            (
                "A = \"mysql://u:p@ss w/rd@db/x\"\n",
                "A = \"mysql://u:REDACTED@db/x\"\n",
            ),
            (
                "A = f\"redis://:pw@{host}:6379/0\"\n",
                "A = f\"redis://:REDACTED@{host}:6379/0\"\n",
            ),
            (
                "A = 'postgresql://%(user)s:%(pw)s@db/x' % settings\n",
                "A = 'postgresql://%(user)s:%(pw)s@db/x' % settings\n",
            ),
            (
                "A = 'postgresql://{}:{}@db/x'.format(u, p)\n",
                "A = 'postgresql://{}:{}@db/x'.format(u, p)\n",
            ),
        ] {
            assert_eq!(clean(text).text, expected, "{text}");
        }
    }

    #[test]
    fn credentials_in_comments_are_redacted() {
        let cleaned = clean("# was: SMTP_PASSWORD = 'pw'\nROW_LIMIT = 1  # password=pw\n");
        assert!(
            !cleaned.text.contains("pw'") && !cleaned.text.contains("=pw"),
            "{}",
            cleaned.text
        );
        assert!(cleaned.text.contains("ROW_LIMIT = 1"));
        assert_eq!(cleaned.findings.len(), 2);
    }

    /// Whether `python3` parses `code`.
    fn parses(code: &str) -> bool {
        use std::io::Write;
        let mut child = std::process::Command::new("python3")
            .args(["-c", "import ast, sys; ast.parse(sys.stdin.read())"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(code.as_bytes())
            .unwrap();
        child.wait().unwrap().success()
    }

    #[test]
    fn what_is_left_is_still_python() {
        for text in [
            "SECRET_KEY = \"\"\"pw\"\"\"\nROW_LIMIT = 1\n",
            "SECRET_KEY: str = 'pw'  # keep it safe\n",
            "SECRET_KEY = (\n    'p'\n    'w'\n)\n",
            "app.config[\"SECRET_KEY\"] = r'pw'\n",
            "if True:\n    SECRET_KEY = f'pw'\n",
            "SMTP_PASSWORD = '''pw'''\n",
            "SMTP_PASSWORD = f\"pw\"\n",
            "API_KEY = rb'pw'\n",
            "SMTP_PASSWORD: Optional[str] = 'pw'\n",
            "SMTP_PASSWORD = \"p\" \"w\"\n",
            "SMTP_PASSWORD = \"p\" + suffix\n",
            "os.environ.setdefault(\"SUPERSET_SECRET_KEY\", \"pw\")\n",
            "SMTP_PASSWORD = os.getenv(\"SMTP_PASSWORD\", \"pw\")\n",
            "os.environ[\"API_TOKEN\"] = \"pw\"\n",
            "HEADERS = {\"Authorization\": \"Bearer pw\"}\n",
            "OAUTH = [{\"remote_app\": {\"client_secret\": f'pw', \"client_id\": \"x\"}}]\n",
            "RESULTS = RedisCache(\n    host=\"valkey\",\n    password=\"\"\"pw\"\"\",\n)\n",
            "A = f\"redis://:pw@{host}:6379/0\"\nB = 'postgresql://u:p%40ss@db/x'\n",
            "# was: SMTP_PASSWORD = 'pw'\nROW_LIMIT = 1  # password=pw\n",
        ] {
            assert!(parses(text), "the test's own Python: {text}");
            let cleaned = clean(text);
            assert!(!cleaned.findings.is_empty(), "{text}");
            assert!(parses(&cleaned.text), "{text}became\n{}", cleaned.text);
        }
    }

    #[test]
    fn environment_lookups_and_ordinary_settings_are_untouched() {
        let text = "SECRET_KEY = os.environ['SUPERSET_SECRET_KEY']\nFEATURE_FLAGS = {\"ALERT_REPORTS\": True}\nAUTH_TYPE = 'oauth'\nSMTP_PASSWORD = os.environ.get(\"SMTP_PASSWORD\")\nDB = get_env_variable(\"DATABASE_PASSWORD\")\nHEADERS = {\"Authorization\": f\"Bearer {token}\"}\nLOG_FORMAT = \"%(asctime)s:%(levelname)s:%(name)s:%(message)s\"\nif x == 'password':\n    pass\n";
        let cleaned = clean(text);
        assert_eq!(cleaned.text, text);
        assert!(cleaned.findings.is_empty());
    }
}
