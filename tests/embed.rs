//! Embedding mir13 as a library: typed host functions, load-time checks of
//! `externcall`s against their signatures, traps as values, limits and
//! interruption from another thread.

use mir13::{Backend, Engine, Failure, Io, RunConfig, RunOptions, Trap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs `@main` of `src` with `engine`; returns the outcome and stdout.
fn run_with(engine: &Engine, src: &str, config: RunConfig) -> (Result<mir13::Outcome, Box<mir13::Failure>>, String) {
    let loaded = engine.load("test.mir", src.as_bytes()).unwrap_or_else(|d| panic!("{d}"));
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let io = Io::capture(b"", Arc::clone(&stdout), Arc::new(Mutex::new(Vec::new())));
    let outcome = loaded.run(&RunOptions { backend: Backend::Interp, config }, io);
    let text = String::from_utf8(stdout.lock().unwrap().clone()).unwrap();
    (outcome, text)
}

fn main_calling(body: &str) -> String {
    format!("func @main() -> i64 {{\nentry:\n{body}\n  return 0\n}}\n")
}

#[test]
fn typed_host_functions_convert_from_their_signatures() {
    let mut engine = Engine::new();
    engine
        .register("env.math.hypot", |x: f64, y: f64| x.hypot(y))
        .register("env.text.shout", |s: String| s.to_uppercase() + "!")
        .register("env.math.half", |n: i64| if n % 2 == 0 { Some(n / 2) } else { None })
        .register("env.logic.not", |b: bool| !b);
    let src = main_calling(
        "  %h = externcall env.math.hypot(3.0, 4.0) -> f64
  externcall env.console.log(%h)
  %s = externcall env.text.shout(\"hey\")
  externcall env.console.log(%s)
  %a = externcall env.math.half(10)
  externcall env.console.log(%a)
  %b = externcall env.math.half(7)
  externcall env.console.log(%b)
  %n = externcall env.logic.not(false) -> bool
  externcall env.console.log(%n)",
    );
    let (outcome, stdout) = run_with(&engine, &src, RunConfig::default());
    let outcome = outcome.unwrap();
    assert_eq!(stdout, "5.0\nHEY!\n5\nnull\ntrue\n");
    assert_eq!(outcome.stats.live(), 0);
}

#[test]
fn externcalls_are_checked_against_signatures_before_running() {
    let mut engine = Engine::new();
    engine.register("env.math.twice", |n: i64| n * 2);
    for (body, message) in [
        ("  externcall env.math.thrice(1)", "unknown host function `env.math.thrice`"),
        ("  externcall env.math.twice(1, 2)", "`env.math.twice` takes 1 argument, got 2"),
        (
            "  externcall env.math.twice(1.5)",
            "argument 1 of `env.math.twice` has type f64, which never converts to i64",
        ),
        ("  %x = externcall env.math.twice(1) -> f64", "`env.math.twice` returns i64, which never converts to f64"),
    ] {
        let error = engine.load("t.mir", main_calling(body).as_bytes()).err().expect("load fails");
        assert!(error.to_string().contains(message), "{message:?} not in:\n{error}");
        assert!(error.to_string().contains("t.mir:3:"), "positions point at the call:\n{error}");
    }
}

#[test]
fn a_box_argument_is_unboxed_with_a_check_at_run_time() {
    let mut engine = Engine::new();
    engine.register("env.math.twice", |n: i64| n * 2);
    let src = main_calling("  %s = const \"nope\"\n  externcall env.math.twice(%s)");
    let (outcome, _) = run_with(&engine, &src, RunConfig::default());
    let failure = outcome.unwrap_err();
    assert_eq!(failure.trap().unwrap().trap, Trap::Expected { expected: "IntegerBox", got: "StringBox".into() });
    assert_eq!(failure.trap().unwrap().backtrace, ["main"]);
}

#[test]
fn a_host_error_is_a_trap_naming_the_function() {
    let mut engine = Engine::new();
    engine.register("env.check.positive", |n: i64| if n > 0 { Ok(n) } else { Err(format!("{n} is not positive")) });
    let (outcome, _) = run_with(&engine, &main_calling("  externcall env.check.positive(-3)"), RunConfig::default());
    let failure = outcome.unwrap_err();
    assert_eq!(failure.to_string().lines().next(), Some("error: trap: env.check.positive: -3 is not positive"));
}

#[test]
fn another_thread_can_interrupt_a_run() {
    let src = "func @main() -> i64 {\nentry:\n  jump spin\nspin:\n  jump spin\n}\n";
    let config = RunConfig::default();
    let handle = config.interrupt.clone();
    let interrupter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        handle.interrupt();
    });
    let (outcome, _) = run_with(&Engine::new(), src, config);
    interrupter.join().unwrap();
    assert_eq!(outcome.unwrap_err().trap().unwrap().trap, Trap::Interrupted);
}

#[test]
fn limits_hold_through_the_library() {
    let recurse = "func @down(%n: i64) -> i64 {\nentry:\n  %m = binop add %n, 1\n  %r = call @down(%m)\n  return %r\n}\n\
                   func @main() -> i64 {\nentry:\n  %r = call @down(0)\n  return %r\n}\n";
    let config = RunConfig { max_depth: 1000, ..RunConfig::default() };
    let failure = run_with(&Engine::new(), recurse, config).0.unwrap_err();
    assert_eq!(failure.trap().unwrap().trap, Trap::StackOverflow);
    let report = failure.trap().unwrap();
    assert_eq!(report.backtrace.len() + report.omitted, 1000, "one frame per call up to the limit");
    assert_eq!(report.backtrace.len(), 2 * mir13::runtime::BACKTRACE_ENDS, "only the two ends listed");
    assert_eq!(report.backtrace.last().map(String::as_str), Some("main"));

    let spin = "func @main() -> i64 {\nentry:\n  jump spin\nspin:\n  jump spin\n}\n";
    let config = RunConfig { fuel: Some(10_000), ..RunConfig::default() };
    assert_eq!(run_with(&Engine::new(), spin, config).0.unwrap_err().trap().unwrap().trap, Trap::OutOfFuel);
    let config = RunConfig { timeout: Some(Duration::from_millis(30)), ..RunConfig::default() };
    assert_eq!(run_with(&Engine::new(), spin, config).0.unwrap_err().trap().unwrap().trap, Trap::Timeout);

    // Deeper than any backend's stack holds: refused before the run.
    let config = RunConfig { max_depth: mir13::runtime::MAX_DEPTH + 1, ..RunConfig::default() };
    match *run_with(&Engine::new(), recurse, config).0.unwrap_err() {
        Failure::Backend(why) => assert!(why.contains("over the limit of 500000"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_loaded_program_runs_again_and_again() {
    let engine = Engine::new();
    let loaded = engine.load("t.mir", b"func @main() -> i64 {\nentry:\n  return 7\n}\n").unwrap();
    for _ in 0..3 {
        let outcome = loaded.run(&RunOptions::default(), Io::capture(b"", Default::default(), Default::default()));
        assert_eq!(outcome.unwrap().exit_code(), 7);
    }
}

#[test]
fn an_engine_with_a_code_cache_runs_a_program_again_without_compiling() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("embed-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut engine = Engine::new();
    engine.register("env.math.twice", |n: i64| n * 2).code_cache(&dir);
    let src = "func @f(%n: i64) -> i64 {\nentry:\n  %small = compare lt %n, 2\n  branch %small, done, more\n\
               more:\n  %a = binop sub %n, 1\n  %r = call @f(%a)\n  %t = externcall env.math.twice(%r) -> i64\n  return %t\n\
               done:\n  return %n\n}\nfunc @main() -> i64 {\nentry:\n  %r = call @f(10)\n  externcall env.console.log(%r)\n  return 0\n}\n";
    let run = || {
        let loaded = engine.load("cached.mir", src.as_bytes()).unwrap_or_else(|d| panic!("{d}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let io = Io::capture(b"", Arc::clone(&stdout), Arc::new(Mutex::new(Vec::new())));
        let options = RunOptions { backend: Backend::Jit, config: RunConfig::default() };
        loaded.run(&options, io).expect("runs");
        let text = String::from_utf8(stdout.lock().unwrap().clone()).unwrap();
        (text, loaded.native_code(false).expect("compiled").from_cache())
    };
    let (first, (found, compiled)) = run();
    assert_eq!((first.as_str(), found), ("512\n", 0));
    assert_eq!(run(), (first, (compiled, compiled)), "the second load compiles nothing");
    let _ = std::fs::remove_dir_all(&dir);
}
