//! YAML that `kubectl` reads back as it was written.
//!
//! The YAML writer follows YAML 1.2, where `no`, `yes`, `on` and `off` are plain strings, and
//! leaves them unquoted; `kubectl` parses YAML 1.1, where they are booleans, so an environment
//! variable `value: no` would be rejected. Those words are quoted here, outside block scalars.

/// The plain scalars that YAML 1.1 reads as booleans.
const YAML_1_1_BOOLEANS: [&str; 16] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

/// Quotes the YAML 1.1 boolean words where they stand as plain scalar values.
pub fn quote_yaml_1_1_words(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len());
    // Indentation of the key that opened a block scalar (`|`), while inside one.
    let mut block_parent: Option<usize> = None;
    for line in yaml.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(parent) = block_parent {
            if line.trim().is_empty() || indent > parent {
                out.push_str(line);
                out.push('\n');
                continue;
            }
            block_parent = None;
        }
        let trimmed = line.trim_end();
        if trimmed.ends_with('|') || trimmed.ends_with("|-") || trimmed.ends_with("|+") {
            block_parent = Some(indent);
        }
        out.push_str(&quote_value(line));
        out.push('\n');
    }
    out
}

fn quote_value(line: &str) -> String {
    for separator in [": ", "- "] {
        if let Some(at) = line.rfind(separator) {
            let value = &line[at + separator.len()..];
            if YAML_1_1_BOOLEANS.contains(&value) {
                return format!("{}'{value}'", &line[..at + separator.len()]);
            }
        }
    }
    line.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_words_are_quoted_outside_block_scalars() {
        let yaml = "env:\n- name: A\n  value: no\n- on\nconfig: |\n  x: no\n  - yes\nafter: off\nkeep: nothing\n";
        assert_eq!(
            quote_yaml_1_1_words(yaml),
            "env:\n- name: A\n  value: 'no'\n- 'on'\nconfig: |\n  x: no\n  - yes\nafter: 'off'\nkeep: nothing\n"
        );
    }

    #[test]
    fn the_result_reads_back_as_strings() {
        let value =
            serde_json::json!({"env": [{"name": "A", "value": "no"}], "flags": ["Y", "off"]});
        let yaml = quote_yaml_1_1_words(&serde_yaml::to_string(&value).unwrap());
        let back: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, value);
        assert!(
            !yaml.contains(": no\n") && !yaml.contains("- Y\n"),
            "{yaml}"
        );
    }
}
