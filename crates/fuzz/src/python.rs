//! Target `python_str`: `py_str` (`superset_operator_render::python`), which writes every
//! string from the manifest into `superset_config.py`.
//!
//! Asserted: the literal is one line of printable ASCII between double quotes, and reading it
//! back with Python's escape rules (implemented in [`decode`]) gives the input exactly.
//! `tests/python_eval.rs` has CPython itself read a batch of them.

use superset_operator_render::python::py_str;

/// The target: the bytes as text, invalid UTF-8 replaced.
pub fn target(data: &[u8]) {
    check(&String::from_utf8_lossy(data));
}

/// Checks the literal of `text`.
pub fn check(text: &str) {
    let literal = py_str(text);
    assert!(
        literal.bytes().all(|b| (b' '..=b'~').contains(&b)),
        "the literal is not printable ASCII on one line: {literal:?}"
    );
    match decode(&literal) {
        Ok(value) => assert_eq!(value, text, "the literal {literal} reads back differently"),
        Err(error) => panic!("the literal {literal} is not a Python string: {error}"),
    }
}

/// The value of a double-quoted Python 3 string literal (no prefix), by the language's rules
/// for escape sequences; an error for anything that is not exactly one such literal.
pub fn decode(literal: &str) -> Result<String, String> {
    let body = literal
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .ok_or("not between double quotes")?;
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Err("an unescaped quote ends the literal early".into()),
            '\n' | '\r' => return Err("a line break inside a one-line literal".into()),
            '\\' => {
                let escape = chars
                    .next()
                    .ok_or("a backslash escapes the closing quote")?;
                match escape {
                    '\n' => {}
                    '\\' | '\'' | '"' => out.push(escape),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\x0b'),
                    '0'..='7' => {
                        let mut value = escape.to_digit(8).expect("an octal digit");
                        for _ in 0..2 {
                            match chars.peek().and_then(|d| d.to_digit(8)) {
                                Some(digit) => {
                                    value = value * 8 + digit;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        out.push(char::from_u32(value).expect("at most 0o777"));
                    }
                    'x' | 'u' | 'U' => {
                        let digits = match escape {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..digits).filter_map(|_| chars.next()).collect();
                        if hex.len() != digits || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                            return Err(format!("truncated \\{escape} escape"));
                        }
                        let value = u32::from_str_radix(&hex, 16).expect("hex digits");
                        out.push(
                            char::from_u32(value)
                                .ok_or(format!("\\{escape}{hex} is not a character"))?,
                        );
                    }
                    'N' => return Err("\\N{...} escapes are not expected".into()),
                    // Python keeps an unknown escape as written (and warns).
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}
