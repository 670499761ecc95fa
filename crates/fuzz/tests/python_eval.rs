//! CPython itself as the oracle of the `python_str` target, in one `python3` run per test:
//!
//! - every literal `py_str` writes for the corpus and for generated strings evaluates, under
//!   `ast.literal_eval`, to exactly the string it was written for;
//! - the `superset_config.py` of a Superset whose string fields, one at a time, hold text
//!   written to break out of a literal still compiles, and the code it would inject appears
//!   nowhere in it as code.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use bolero::check;
use serde_json::Value;
use superset_operator_fuzz::corpus;
use superset_operator_render::python::py_str;

/// Runs `program` with `input` on its standard input and returns what it printed.
fn python(program: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (the render tests need it too)");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .expect("python3 reads its input");
    let output = child.wait_with_output().expect("python3 finishes");
    assert!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

const LITERAL_EVAL: &str = r#"
import ast, json, sys
cases = json.load(sys.stdin)
wrong = []
for index, (literal, expected) in enumerate(cases):
    try:
        value = ast.literal_eval(literal)
    except Exception as error:
        wrong.append([index, "error: %r" % (error,)])
        continue
    if value != expected:
        wrong.append([index, "read back as %r" % (value,)])
print(json.dumps(wrong))
"#;

#[test]
fn literals_read_back_in_python() {
    let mut texts: Vec<String> = corpus::files("python_str")
        .iter()
        .map(|file| String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned())
        .collect();
    let generated = Mutex::new(Vec::new());
    check!()
        .with_iterations(1500)
        .with_type::<String>()
        .for_each(|text: &String| generated.lock().unwrap().push(text.clone()));
    texts.extend(generated.into_inner().unwrap());
    texts.extend((0..0x80u8).map(|b| char::from(b).to_string()));
    texts.push(char::MAX.to_string());
    let cases: Vec<(String, &String)> = texts.iter().map(|t| (py_str(t), t)).collect();
    let wrong: Vec<(usize, String)> = serde_json::from_str(&python(
        LITERAL_EVAL,
        &serde_json::to_string(&cases).unwrap(),
    ))
    .unwrap();
    let described: Vec<String> = wrong
        .iter()
        .map(|(index, what)| format!("{:?} as {}: {what}", texts[*index], cases[*index].0))
        .collect();
    assert!(described.is_empty(), "{}", described.join("\n"));
}

/// Code that, were it to leave its literal, would define `FUZZ_BREAKOUT`.
const HOSTILE: &str =
    "x\"); FUZZ_BREAKOUT = 1 #\n''' \"\"\" \\\"; FUZZ_BREAKOUT = 2 # {x} \u{2028} \u{1F980}";

const COMPILE: &str = r#"
import ast, json, sys
wrong = []
for index, source in enumerate(json.load(sys.stdin)):
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        wrong.append([index, "does not compile: %s" % (error,)])
        continue
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "FUZZ_BREAKOUT":
            wrong.append([index, "runs injected code at line %d" % node.lineno])
            break
print(json.dumps(wrong))
"#;

/// Every string leaf's path in `value`.
fn string_paths(value: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(key.clone());
                string_paths(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                path.push(index.to_string());
                string_paths(child, path, out);
                path.pop();
            }
        }
        Value::String(_) => out.push(path.clone()),
        _ => {}
    }
}

fn at<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match v {
        Value::Array(items) => &mut items[step.parse::<usize>().unwrap()],
        other => &mut other[step.as_str()],
    })
}

#[test]
fn hostile_strings_stay_inside_superset_config_py() {
    let mut configs = Vec::new();
    let mut mutated = 0;
    let known: Vec<_> = corpus::known_failures()
        .into_iter()
        .map(|k| k.file)
        .collect();
    for file in corpus::files("render") {
        if known.contains(&file) {
            continue;
        }
        let Ok(mut seed) = serde_yaml::from_str::<Value>(&std::fs::read_to_string(&file).unwrap())
        else {
            continue;
        };
        // The user's own Python is appended as written, by design: leave it out.
        if let Some(spec) = seed.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("config");
            for (name, section) in spec.iter_mut() {
                // The websocket server's `config` is its JSON file, not Python.
                if name == "websocketServer" {
                    continue;
                }
                if let Some(section) = section.as_object_mut() {
                    section.remove("config");
                }
            }
        }
        let mut paths = Vec::new();
        string_paths(&seed, &mut Vec::new(), &mut paths);
        for path in paths {
            if path.first().map(String::as_str) != Some("spec") {
                continue;
            }
            let mut document = seed.clone();
            *at(&mut document, &path) = Value::String(HOSTILE.into());
            let Ok(superset) = serde_json::from_value::<superset_operator_api::Superset>(document)
            else {
                continue;
            };
            let Some(resolved) = superset_operator_render::resolve(&superset).ok() else {
                continue;
            };
            mutated += 1;
            let maps = resolved
                .components
                .iter()
                .filter_map(|c| c.config_map.as_ref())
                .chain(resolved.tasks.iter().filter_map(|t| t.config_map.as_ref()));
            for map in maps {
                if let Some(source) = map.data.as_ref().and_then(|d| d.get("superset_config.py")) {
                    configs.push((path.join("."), source.clone()));
                }
            }
        }
    }
    assert!(
        mutated >= 50,
        "only {mutated} Supersets took the hostile text"
    );
    assert!(
        configs
            .iter()
            .filter(|(_, source)| source.contains(&py_str(HOSTILE)))
            .count()
            >= 5,
        "the hostile text reached too few superset_config.py files to test anything"
    );
    configs.sort();
    configs.dedup();
    let sources: Vec<&String> = configs.iter().map(|(_, source)| source).collect();
    let wrong: Vec<(usize, String)> =
        serde_json::from_str(&python(COMPILE, &serde_json::to_string(&sources).unwrap())).unwrap();
    let described: Vec<String> = wrong
        .iter()
        .map(|(index, what)| format!("hostile text in {}: {what}", configs[*index].0))
        .collect();
    assert!(described.is_empty(), "{}", described.join("\n"));
}
