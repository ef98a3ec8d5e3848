//! The conformance suite: every program in `tests/conformance/` and every
//! example, run with `mir13 run` on every backend, must give the expected
//! stdout, exit status and first line of stderr, and every backend the
//! same stderr as the first (the whole backtrace of a trap).
//!
//! A program `NAME.mir` states what it expects in `;` comments at its top:
//!
//! ```text
//! ; exit: 1                                  (default 0)
//! ; stderr: error: trap: division by zero    (first line; default: no stderr)
//! ; flags: --fuel 100                        (extra `mir13 run` flags)
//! ; args: a b c                              (program arguments, after --)
//! ; backtrace: varies                        (a trap whose depth is timing's, like a timeout)
//! ```
//!
//! and its standard output, byte for byte, in `NAME.stdout` (absent means
//! none). `NAME.stdin`, if present, is its standard input. A backend joins
//! the suite by being added to [`RUNS`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Every backend this build has, by the name a failure shows. The JIT runs
/// twice with a code cache new to the test: compiling and storing every
/// function, then taking them all from the cache.
const RUNS: &[(&str, &str)] = &[("interp", "interp"), ("vm", "vm"), ("jit", "jit"), ("jit from its cache", "jit")];

/// What a program expects.
#[derive(Debug, Default)]
struct Expectation {
    exit: i32,
    stderr_first_line: Option<String>,
    flags: Vec<String>,
    args: Vec<String>,
    stdout: String,
    stdin: Vec<u8>,
    /// Whether backends may report the trap at different depths.
    backtrace_varies: bool,
}

fn expectation(program: &Path, stdout_file: &Path) -> Expectation {
    let text = std::fs::read_to_string(program).expect("readable program");
    let mut e = Expectation::default();
    for line in text.lines().take_while(|l| l.starts_with(';') || l.trim().is_empty()) {
        let Some(directive) = line.strip_prefix(';') else { continue };
        let (key, value) = directive.trim().split_once(':').unwrap_or(("", ""));
        let value = value.trim();
        match key.trim() {
            "exit" => e.exit = value.parse().expect("`; exit:` takes a number"),
            "stderr" => e.stderr_first_line = Some(value.to_string()),
            "flags" => e.flags = value.split_whitespace().map(String::from).collect(),
            "args" => e.args = value.split_whitespace().map(String::from).collect(),
            "backtrace" => e.backtrace_varies = value == "varies",
            _ => {}
        }
    }
    e.stdout = std::fs::read_to_string(stdout_file).unwrap_or_default();
    e.stdin = std::fs::read(program.with_extension("stdin")).unwrap_or_default();
    e
}

/// Runs one program on one backend: its stderr, and a description of each
/// mismatch with `e`.
fn check(program: &Path, (run, backend): (&str, &str), e: &Expectation, cache: &Path) -> (String, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mir13"))
        .env("MIR13_CACHE_DIR", cache)
        .arg("run")
        .args(["--backend", backend])
        .args(&e.flags)
        .arg(program)
        .arg("--")
        .args(&e.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mir13 starts");
    child.stdin.take().expect("stdin").write_all(&e.stdin).expect("stdin accepts input");
    let out = child.wait_with_output().expect("mir13 finishes");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems = Vec::new();
    if out.status.code() != Some(e.exit) {
        problems.push(format!("exit status {:?}, expected {}", out.status.code(), e.exit));
    }
    if stdout != e.stdout {
        problems.push(format!("stdout differs:\n--- expected\n{}--- got\n{}", e.stdout, stdout));
    }
    match &e.stderr_first_line {
        Some(first) if stderr.lines().next() != Some(first.as_str()) => {
            problems.push(format!("stderr starts {:?}, expected {first:?}", stderr.lines().next().unwrap_or("")));
        }
        None if !stderr.is_empty() => problems.push(format!("unexpected stderr: {stderr}")),
        _ => {}
    }
    let report = (!problems.is_empty()).then(|| format!("{} [{run}]: {}", program.display(), problems.join("; ")));
    (stderr.into_owned(), report)
}

/// `.mir` files of a directory with the file holding their expected stdout.
fn programs(dir: &str, stdout_extension: &str) -> Vec<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut found: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "mir"))
        .map(|p| {
            let stdout = p.with_extension(stdout_extension);
            (p, stdout)
        })
        .collect();
    found.sort();
    found
}

/// Runs every program on every backend; `name` makes the suite's code
/// cache its own.
fn run_suite(name: &str, programs: &[(PathBuf, PathBuf)]) {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-code-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let mut failures = Vec::new();
    for (program, stdout) in programs {
        let e = expectation(program, stdout);
        let mut first: Option<(&str, String)> = None;
        for &(run, backend) in RUNS {
            let (stderr, report) = check(program, (run, backend), &e, &cache);
            failures.extend(report);
            match &first {
                None => first = Some((run, stderr)),
                Some((r0, s0)) if !e.backtrace_varies && *s0 != stderr => failures.push(format!(
                    "{} [{run}]: stderr differs from {r0}'s:\n--- {r0}\n{s0}--- {run}\n{stderr}",
                    program.display()
                )),
                Some(_) => {}
            }
        }
    }
    let _ = std::fs::remove_dir_all(&cache);
    assert!(failures.is_empty(), "{} failure(s):\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn conformance_programs() {
    let programs = programs("tests/conformance", "stdout");
    assert!(programs.len() >= 60, "the suite has {} programs", programs.len());
    run_suite("conformance", &programs);
}

#[test]
fn examples() {
    run_suite("examples", &programs("examples", "expected"));
}
