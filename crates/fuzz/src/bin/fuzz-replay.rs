//! Runs one fuzz target on files, as the corpus replay does, printing how long each took:
//!
//! `cargo run -p superset-operator-fuzz --bin fuzz-replay -- <target> <file>...`
//!
//! A crash found by `make fuzz` reproduces here with its panic message and backtrace. With
//! `--minimize` first, each failing file is shrunk instead (whole lines, then single
//! characters, kept out while the target still panics with the same message) and written next
//! to it as `<file>.min`: YAML stays readable, which libFuzzer's byte-level minimiser does not
//! keep it. `--strict` tolerates no known defect (`src/known.rs`), to see one fail.

use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

fn usage() -> ! {
    eprintln!("usage: fuzz-replay [--strict] [--minimize] <target> <file>...");
    eprintln!("targets:");
    for target in superset_operator_fuzz::TARGETS {
        eprintln!("  {:<13} {}", target.name, target.about);
    }
    std::process::exit(2);
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut flag = |name: &str| {
        let found = args.iter().position(|a| a == name);
        found.map(|at| args.remove(at)).is_some()
    };
    let strict = flag("--strict");
    let minimize = flag("--minimize");
    if strict {
        superset_operator_fuzz::known::strict(|| replay(minimize, &args));
    } else {
        replay(minimize, &args);
    }
}

fn replay(minimize: bool, args: &[String]) {
    let Some((name, files)) = args.split_first() else {
        usage();
    };
    let Some(target) = superset_operator_fuzz::target(name) else {
        eprintln!("no target called {name:?}");
        usage();
    };
    for file in files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("reading {file}: {e}"));
        if minimize {
            let Some(message) = failure(target.run, &data) else {
                println!("{file}: passes, nothing to minimise");
                continue;
            };
            let smaller = shrink(target.run, data.clone(), &message);
            let out = format!("{file}.min");
            std::fs::write(&out, &smaller).unwrap_or_else(|e| panic!("writing {out}: {e}"));
            println!(
                "{file}: {} bytes -> {} bytes in {out}\n  {message}",
                data.len(),
                smaller.len()
            );
        } else {
            let start = Instant::now();
            (target.run)(&data);
            println!(
                "{file}: ok in {:.1} ms",
                start.elapsed().as_secs_f64() * 1e3
            );
        }
    }
}

/// The panic message of `run` on `data`, if it panics.
fn failure(run: fn(&[u8]), data: &[u8]) -> Option<String> {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(data)));
    panic::set_hook(hook);
    let payload = outcome.err()?;
    Some(
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Greedy: drop runs of lines, then of bytes (up to 4 KiB), halving the run length down to
/// one, as long as the first line of the panic message stays the same.
fn shrink(run: fn(&[u8]), mut data: Vec<u8>, message: &str) -> Vec<u8> {
    let still_fails = |candidate: &[u8]| failure(run, candidate).as_deref() == Some(message);
    // Lines first (keeping their newlines), then bytes, when few enough are left.
    for by_lines in [true, false] {
        if !by_lines && data.len() > 4096 {
            break;
        }
        let mut chunk = data.len().max(1);
        while chunk >= 1 {
            let units = units(&data, by_lines);
            let mut start = 0;
            let mut kept = units.clone();
            while start < kept.len() {
                let end = (start + chunk).min(kept.len());
                let candidate: Vec<u8> = kept[..start]
                    .iter()
                    .chain(&kept[end..])
                    .flat_map(|u| u.iter().copied())
                    .collect();
                if still_fails(&candidate) {
                    kept.drain(start..end);
                } else {
                    start = end;
                }
            }
            data = kept.concat();
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    data
}

fn units(data: &[u8], by_lines: bool) -> Vec<Vec<u8>> {
    if by_lines {
        data.split_inclusive(|b| *b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    } else {
        data.iter().map(|b| vec![*b]).collect()
    }
}
