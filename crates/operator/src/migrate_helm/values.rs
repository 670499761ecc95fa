//! A Helm values tree that remembers which keys were read, so that every key the migration
//! did not use is reported rather than silently dropped.

use std::collections::BTreeSet;

use serde_json::Value;

/// A values key as its path of map keys, shown joined with dots (`supersetNode.resources`).
pub type KeyPath = Vec<String>;

/// Joins a key path for display.
pub fn display(path: &[String]) -> String {
    path.join(".")
}

fn split(path: &str) -> KeyPath {
    path.split('.').map(str::to_owned).collect()
}

/// The parsed values file plus the set of keys read so far.
pub struct Values {
    root: Value,
    read: BTreeSet<KeyPath>,
}

impl Values {
    /// Parses a values file. An empty file is an empty tree.
    pub fn parse(yaml: &str) -> Result<Self, serde_yaml::Error> {
        let root: Option<Value> = serde_yaml::from_str(yaml)?;
        Ok(Self {
            root: root.unwrap_or(Value::Object(Default::default())),
            read: BTreeSet::new(),
        })
    }

    /// The value at `path` (dot-separated), marking it and everything under it as read.
    /// Nulls and empty maps or lists count as absent, as they do in the chart's templates.
    pub fn take(&mut self, path: &str) -> Option<Value> {
        let key = split(path);
        let found = lookup(&self.root, &key).filter(|v| !is_empty(v)).cloned();
        self.read.insert(key);
        found
    }

    /// Like [`Values::take`] for a string; numbers and booleans are given as text.
    pub fn string(&mut self, path: &str) -> Option<String> {
        self.take(path).and_then(|v| match v {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    }

    /// Like [`Values::take`] for a boolean; the strings `"true"` and `"false"` count too.
    pub fn flag(&mut self, path: &str) -> Option<bool> {
        self.take(path).and_then(|v| match v {
            Value::Bool(b) => Some(b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        })
    }

    /// Like [`Values::take`] for an integer, which the chart often quotes (`"5432"`).
    pub fn integer(&mut self, path: &str) -> Option<i64> {
        self.take(path).and_then(|v| match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// Whether `path` holds a non-empty value, without marking it read.
    pub fn has(&self, path: &str) -> bool {
        lookup(&self.root, &split(path)).is_some_and(|v| !is_empty(v))
    }

    /// Every non-empty key that was never read: leaves (scalars and lists) whose path has no
    /// read prefix.
    pub fn unread(&self) -> Vec<KeyPath> {
        let mut out = Vec::new();
        collect_leaves(&self.root, &mut Vec::new(), &mut out);
        out.retain(|leaf| !self.read.iter().any(|read| leaf.starts_with(read)));
        out
    }
}

fn lookup<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(root, |v, key| v.as_object()?.get(key))
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn collect_leaves(value: &Value, path: &mut KeyPath, out: &mut Vec<KeyPath>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(key.clone());
                collect_leaves(child, path, out);
                path.pop();
            }
        }
        v if is_empty(v) => {}
        _ => out.push(path.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_a_map_covers_everything_under_it() {
        let mut values =
            Values::parse("a:\n  b: 1\n  c: {d: x}\ne: [1]\nf: ~\ng: {}\nh: ''\n").unwrap();
        assert_eq!(values.take("a.c"), Some(serde_json::json!({"d": "x"})));
        assert_eq!(
            values.unread(),
            vec![split("a.b"), split("e")],
            "empty and null values are not worth reporting"
        );
    }

    #[test]
    fn quoted_numbers_and_booleans_are_read_as_the_chart_reads_them() {
        let mut values = Values::parse("port: \"5432\"\non: \"true\"\n").unwrap();
        assert_eq!(values.integer("port"), Some(5432));
        assert_eq!(values.flag("on"), Some(true));
        assert!(values.unread().is_empty());
    }

    #[test]
    fn an_empty_file_is_an_empty_tree() {
        let values = Values::parse("").unwrap();
        assert!(values.unread().is_empty());
    }
}
