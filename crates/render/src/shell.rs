//! Shell quoting for the few manifest strings that reach a shell script (seed table names and
//! SQL). Everything else reaches scripts through environment variables.

/// `text` as one single-quoted POSIX shell word.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_survive_the_shell() {
        for text in ["plain", "it's", "$(rm -rf /)", "`x`", "a b\nc", "\\"] {
            let output = std::process::Command::new("sh")
                .args(["-c", &format!("printf %s {}", quote(text))])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(output.stdout).unwrap(), text);
        }
    }
}
