//! Each target on generated inputs, a bounded number per `cargo test` (raise them with
//! `BOLERO_RANDOM_ITERATIONS`, or bound them by time with `BOLERO_RANDOM_TEST_TIME_MS`).
//!
//! Two kinds per target:
//!
//! - `bytes::<target>`: raw bytes. Under `cargo test` these are random and mostly rejected
//!   early; under `make fuzz` (`cargo bolero`, libFuzzer) they are the coverage-guided targets,
//!   seeded from `corpus/<target>/`.
//! - `structured::<target>`: documents of the target's corpus with a few random edits (a field
//!   removed, replaced by another value or by another part of the document, a key added, a
//!   list item doubled), written as JSON or YAML and passed to the same function, so that
//!   nearly every input gets past the parser. On a failure bolero shrinks the edits and prints
//!   the document; saved into `corpus/<target>/`, it becomes a regression test.

use std::fmt;

use bolero::{TypeGenerator, check};
use serde_json::{Map, Number, Value};
use superset_operator_fuzz::{corpus, run};

mod bytes {
    use super::*;

    /// Random bytes through `target`: `iterations` of them under `cargo test`.
    fn bytes(target: &'static str, iterations: usize) {
        check!()
            .with_iterations(iterations)
            .with_max_len(4096)
            .for_each(|data: &[u8]| run(target, data));
    }

    #[test]
    fn render() {
        bytes("render", 200);
    }

    #[test]
    fn merge() {
        bytes("merge", 200);
    }

    #[test]
    fn redact() {
        bytes("redact", 500);
    }

    #[test]
    fn python_str() {
        bytes("python_str", 500);
    }

    #[test]
    fn preview() {
        bytes("preview", 200);
    }

    #[test]
    fn migrate_helm() {
        bytes("migrate_helm", 200);
    }
}

mod structured {
    use super::*;

    #[test]
    fn render() {
        edited("render", 100);
    }

    #[test]
    fn merge() {
        edited("merge", 600);
    }

    // A Superset that reaches the API server's rules costs seconds in a debug build (see
    // `front_door::preview`), so these two see few inputs here; `make fuzz` runs them longer.
    #[test]
    fn preview() {
        edited("preview", 2);
    }

    #[test]
    fn migrate_helm() {
        edited("migrate_helm", 2);
    }

    #[test]
    fn python_str() {
        check!()
            .with_iterations(2000)
            .with_type::<String>()
            .for_each(|text: &String| superset_operator_fuzz::python::check(text));
    }

    /// Credentials written the ways `redact` documents, among other text: none of them, nor
    /// its first half, may be shown, whole or truncated.
    #[test]
    fn redact() {
        check!()
            .with_iterations(1500)
            .with_type::<Vec<Fragment>>()
            .for_each(|fragments: &Vec<Fragment>| {
                let (text, secrets) = assemble(fragments);
                superset_operator_fuzz::redact::check(&text);
                let shown = [
                    superset_operator_render::redact::redact(&text),
                    superset_operator_render::redact::redact_and_truncate(&text),
                ];
                for secret in &secrets {
                    let half = &secret[..secret.len() / 2];
                    for part in [secret.as_str(), half] {
                        // Only a part that the text holds nowhere else is a leak.
                        if text.matches(part).count() != 1 {
                            continue;
                        }
                        for shown in &shown {
                            assert!(
                                !shown.contains(part),
                                "{part:?} of {text:?} is shown: {shown:?}"
                            );
                        }
                    }
                }
            });
    }
}

// ---- documents of a corpus, edited ----

/// One generated input: which seed document, which edits, which syntax.
#[derive(Debug, TypeGenerator)]
struct Mutation {
    seed: u8,
    #[generator(Vec::produce().with().len(1usize..6))]
    edits: Vec<Edit>,
    json: bool,
}

/// Nodes are numbered in document order (`at % count`); keys and words come from the
/// vocabulary of the corpus.
#[derive(Debug, TypeGenerator)]
enum Edit {
    Remove { at: u16 },
    Replace { at: u16, with: Leaf },
    Insert { at: u16, key: u16, with: Leaf },
    Graft { at: u16, from: u16 },
    Duplicate { at: u16 },
}

#[derive(Debug, TypeGenerator)]
enum Leaf {
    Null,
    Bool(bool),
    Small(i8),
    Int(i64),
    Float(f64),
    Word(u16),
    Text(String),
    Object,
    Array,
}

/// The document an input turned into: its failure report shows the text, ready to be saved
/// into the corpus.
struct Document(String);

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n-----\n{}\n-----", self.0)
    }
}

/// Seeds of `target` (the first document of each corpus file) and their vocabulary.
struct Seeds {
    documents: Vec<Value>,
    words: Vec<String>,
}

impl Seeds {
    fn of(target: &str) -> Seeds {
        let documents: Vec<Value> = corpus::files(target)
            .into_iter()
            .filter_map(|file| {
                let text = std::fs::read_to_string(file).ok()?;
                serde_yaml::from_str::<Value>(&text).ok()
            })
            .filter(Value::is_object)
            .collect();
        assert!(!documents.is_empty(), "no document in corpus/{target}/");
        let mut words: Vec<String> = [
            "",
            " ",
            "-",
            "0",
            "-1",
            "65536",
            "yes",
            "no",
            "null",
            "~",
            "{{ .Release.Name }}",
            "{{ template \"superset.fullname\" . }}",
            "a\nb",
            "'\"\\",
            "${HOME}",
            "é✓🦀",
            "superset.apache.org/component",
            "app.kubernetes.io/name",
            "fuzzcred-generated-secret",
            "password=hunter2",
            "postgresql://u:p@db/superset",
        ]
        .map(String::from)
        .to_vec();
        words.push("x".repeat(300));
        for document in &documents {
            collect_words(document, &mut words);
        }
        words.sort();
        words.dedup();
        Seeds { documents, words }
    }

    fn word(&self, index: u16) -> String {
        self.words[usize::from(index) % self.words.len()].clone()
    }

    fn leaf(&self, leaf: &Leaf) -> Value {
        match leaf {
            Leaf::Null => Value::Null,
            Leaf::Bool(b) => Value::Bool(*b),
            Leaf::Small(n) => Value::from(*n),
            Leaf::Int(n) => Value::from(*n),
            Leaf::Float(x) => Number::from_f64(*x).map_or(Value::Null, Value::Number),
            Leaf::Word(w) => Value::String(self.word(*w)),
            Leaf::Text(text) => Value::String(text.clone()),
            Leaf::Object => Value::Object(Map::new()),
            Leaf::Array => Value::Array(Vec::new()),
        }
    }

    fn document(&self, mutation: &Mutation) -> Document {
        let mut document =
            self.documents[usize::from(mutation.seed) % self.documents.len()].clone();
        for edit in &mutation.edits {
            self.apply(&mut document, edit);
        }
        let text = if mutation.json {
            serde_json::to_string_pretty(&document).expect("JSON")
        } else {
            serde_yaml::to_string(&document).expect("YAML")
        };
        Document(text)
    }

    fn apply(&self, document: &mut Value, edit: &Edit) {
        let paths = paths(document);
        let path = |at: u16| paths[usize::from(at) % paths.len()].clone();
        match edit {
            Edit::Remove { at } => {
                let path = path(*at);
                if let Some((last, parent)) = path.split_last() {
                    match node(document, parent) {
                        Value::Object(map) => {
                            if let Step::Key(key) = last {
                                map.remove(key);
                            }
                        }
                        Value::Array(items) => {
                            if let Step::Index(index) = last {
                                items.remove(*index);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Edit::Replace { at, with } => *node(document, &path(*at)) = self.leaf(with),
            Edit::Insert { at, key, with } => {
                let value = self.leaf(with);
                match node(document, &path(*at)) {
                    Value::Object(map) => {
                        map.insert(self.word(*key), value);
                    }
                    Value::Array(items) => items.push(value),
                    other => *other = value,
                }
            }
            Edit::Graft { at, from } => {
                let graft = node(document, &path(*from)).clone();
                *node(document, &path(*at)) = graft;
            }
            Edit::Duplicate { at } => {
                let path = path(*at);
                if let Some((Step::Index(index), parent)) = path.split_last()
                    && let Value::Array(items) = node(document, parent)
                {
                    let copy = items[*index].clone();
                    items.insert(*index, copy);
                }
            }
        }
    }
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node's path, in document order, the root first.
fn paths(document: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(path.clone());
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(Step::Key(key.clone()));
                    walk(child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    path.push(Step::Index(index));
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(document, &mut Vec::new(), &mut out);
    out
}

fn node<'a>(document: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(document, |value, step| match step {
        Step::Key(key) => &mut value[key.as_str()],
        Step::Index(index) => &mut value[*index],
    })
}

fn collect_words(value: &Value, words: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                words.push(key.clone());
                collect_words(child, words);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_words(item, words)),
        Value::String(s) => words.push(s.clone()),
        _ => {}
    }
}

/// `iterations` edited documents of `target`'s corpus through `target`.
fn edited(target: &'static str, iterations: usize) {
    let seeds = Seeds::of(target);
    check!()
        .with_iterations(iterations)
        .with_type::<Mutation>()
        .map(move |mutation| seeds.document(&mutation))
        .for_each(|document: &Document| run(target, document.0.as_bytes()));
}

// ---- text with credentials, for `redact` ----

#[derive(Debug, TypeGenerator)]
enum Fragment {
    /// Text of no particular shape.
    Text(String),
    /// A word of ordinary log output.
    Word(u8),
    /// A credential, in one of the forms `redact` documents.
    Credential {
        form: u8,
        #[generator(Vec::produce().with().len(6usize..24))]
        value: Vec<u8>,
    },
}

const LOG_WORDS: [&str; 12] = [
    "ERROR:",
    "could not connect to",
    "FATAL",
    "user=superset",
    "host=db",
    "Traceback (most recent call last):",
    "{",
    "}",
    "\"user\": \"superset\",",
    "exit code 1",
    "password",
    "=",
];

/// The text and the credentials in it.
fn assemble(fragments: &[Fragment]) -> (String, Vec<String>) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut text = String::new();
    let mut secrets = Vec::new();
    for (index, fragment) in fragments.iter().enumerate() {
        if index > 0 {
            text.push(if index % 3 == 0 { '\n' } else { ' ' });
        }
        match fragment {
            Fragment::Text(t) => text.push_str(t),
            Fragment::Word(w) => text.push_str(LOG_WORDS[usize::from(*w) % LOG_WORDS.len()]),
            Fragment::Credential { form, value } => {
                let secret: String = std::iter::once('Q')
                    .chain(
                        value
                            .iter()
                            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])),
                    )
                    .collect();
                let written = match form % 8 {
                    0 => format!("password={secret}"),
                    1 => format!("password: {secret}"),
                    2 => format!("{{\"db_password\": \"{secret}\"}}"),
                    3 => format!("postgresql://superset:{secret}@db:5432/superset"),
                    4 => format!("Authorization: Bearer {secret}"),
                    5 => format!("SECRET_KEY = '{secret}'"),
                    6 => format!("api_key={secret}"),
                    _ => format!("token: {secret}"),
                };
                text.push_str(&written);
                secrets.push(secret);
            }
        }
    }
    (text, secrets)
}
