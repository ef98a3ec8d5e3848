//! The `mir13` command line as a user meets it: exit statuses, diagnostics
//! with positions, and no panic on any input.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// `mir13`, with its code cache in the build's scratch directory.
fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mir13"));
    command.env("MIR13_CACHE_DIR", std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-code-cache"));
    command
}

fn mir13(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mir13 starts");
    child.stdin.take().expect("stdin").write_all(stdin).expect("stdin accepts input");
    child.wait_with_output().expect("mir13 finishes")
}

/// A scratch file unique to the calling test.
fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mir13-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("scratch file");
    path
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit status 2 with a diagnostic, and not a panic (101) or a signal.
fn assert_rejected(out: &Output) {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    assert!(stderr(out).starts_with("error"), "stderr: {}", stderr(out));
    assert!(!stderr(out).contains("panicked"));
}

const FIB: &str = "func @fib(%n: i64) -> i64 {
entry:
  %small = compare lt %n, 2
  branch %small, base, rec
base:
  return %n
rec:
  %a = binop sub %n, 1
  %fa = call @fib(%a)
  %b = binop sub %n, 2
  %fb = call @fib(%b)
  %r = binop add %fa, %fb
  return %r
}

func @main() -> i64 {
entry:
  %r = call @fib(30)
  externcall env.console.log(%r)
  return 0
}
";

#[test]
fn check_accepts_a_valid_module() {
    let path = scratch("fib.mir", FIB.as_bytes());
    let out = mir13(&["check", path.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn check_reports_every_error_with_its_position() {
    let src = "func @f(%x: i64) -> i64 {
entry:
  %y = binop add %x, 1.5
  %z = binop mul %q, 2
  jump next
next:
  %w = binop add %z, 1
}
";
    let path = scratch("three.mir", src.as_bytes());
    let out = mir13(&["check", path.to_str().unwrap()], b"");
    assert_rejected(&out);
    let err = stderr(&out);
    let file = path.display().to_string();
    for (message, position) in [
        ("error: operands of `add` have different types: i64 and f64", ":3:3"),
        ("error: unknown value `%q`", ":4:18"),
        ("error: block `next` does not end with a terminator", ":7:3"),
    ] {
        assert!(err.contains(message), "missing {message:?} in:\n{err}");
        assert!(err.contains(&format!("{file}{position}")), "missing position {position} in:\n{err}");
    }
    assert!(err.contains("^^"), "a caret marks the span:\n{err}");
    assert!(err.contains("error: 3 errors in"), "{err}");
}

#[test]
fn garbage_is_rejected_without_a_panic() {
    let mut garbage = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..20_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        garbage.push((x >> 16) as u8);
    }
    for input in [garbage.as_slice(), b"func", b"}}}}", b"func @f( {", b"\x00\x01\x02", b"box box box"] {
        let out = mir13(&["check", "-"], input);
        assert_rejected(&out);
    }
}

#[test]
fn invalid_utf8_is_reported_at_the_first_bad_byte() {
    let out = mir13(&["check", "-"], b"func @f() {\nentry:\n  return \xff\n}\n");
    assert_rejected(&out);
    let err = stderr(&out);
    assert!(err.contains("invalid UTF-8") && err.contains("<stdin>:3:10"), "{err}");
}

#[test]
fn an_empty_module_is_valid() {
    let out = mir13(&["check", "-"], b"");
    assert_eq!(out.status.code(), Some(0));
    let out = mir13(&["check", "-"], b"; only a comment\n\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(mir13(&["check", "/nonexistent/x.mir"], b"").status.code(), Some(2));
    assert!(stderr(&mir13(&["check", "/nonexistent/x.mir"], b"")).contains("cannot read"));
    assert_eq!(mir13(&["check", "--frobnicate", "-"], b"").status.code(), Some(2));
    assert_eq!(mir13(&["dump", "-"], b"").status.code(), Some(2), "dump needs --ir or --liveness");
    assert_eq!(mir13(&["fmt", "--write", "-"], b"").status.code(), Some(2));
    assert_eq!(mir13(&[], b"").status.code(), Some(2));
    let too_deep = mir13(&["run", "--max-depth", "500001", "-"], b"func @main() {\nentry:\n  return\n}\n");
    assert_eq!(too_deep.status.code(), Some(2));
    assert!(stderr(&too_deep).contains("1..=500000"), "{}", stderr(&too_deep));
}

#[test]
fn every_subcommand_has_help() {
    for args in [&["--help"][..], &["check", "--help"], &["fmt", "--help"], &["dump", "--help"]] {
        let out = mir13(args, b"");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(stdout(&out).contains("Usage"), "{args:?}");
    }
}

#[test]
fn fmt_prints_canonical_text_and_is_a_fixed_point() {
    let messy = "// header comment\nfunc   @f( %x :i64 )->i64{\nentry:   ; label comment\n      %y=binop add %x ,0x10\n  return %y ; done\n}\n";
    let first = mir13(&["fmt", "-"], messy.as_bytes());
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(stdout(&first), "func @f(%x: i64) -> i64 {\nentry:\n  %y = binop add %x, 16\n  return %y\n}\n");
    let second = mir13(&["fmt", "-"], &first.stdout);
    assert_eq!(stdout(&second), stdout(&first));
}

#[test]
fn fmt_write_rewrites_the_file() {
    let path = scratch("messy.mir", b"func @main() -> i64 {\nentry:\n      return 0\n}\n");
    let out = mir13(&["fmt", "--write", path.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "func @main() -> i64 {\nentry:\n  return 0\n}\n");
}

#[test]
fn fmt_refuses_text_it_would_change_the_meaning_of() {
    let out = mir13(&["fmt", "-"], b"func @f() -> i64 {\nentry:\n  return %nope\n}\n");
    assert_rejected(&out);
    assert!(stderr(&out).contains("unknown value `%nope`"));
}

#[test]
fn dump_annotates_types_and_drops() {
    let ir = mir13(&["dump", "-", "--ir"], FIB.as_bytes());
    assert_eq!(ir.status.code(), Some(0), "{}", stderr(&ir));
    assert!(stdout(&ir).contains("%small = compare lt %n, 2  ; bool"));
    let src = "func @main() -> i64 {\nentry:\n  %a = boxcall ArrayBox.new()\n  %n = boxcall %a.length() -> i64\n  return %n\n}\n";
    let liveness = mir13(&["dump", "--liveness", "-"], src.as_bytes());
    assert_eq!(liveness.status.code(), Some(0), "{}", stderr(&liveness));
    assert!(stdout(&liveness).contains("%n = boxcall %a.length() -> i64  ; takes %a"), "{}", stdout(&liveness));
    // The dump is itself valid MIR13 text.
    let recheck = mir13(&["check", "-"], &liveness.stdout);
    assert_eq!(recheck.status.code(), Some(0), "{}", stderr(&recheck));
}

/// A loop carrying `n` values that rotate each iteration (every phi reads
/// its neighbour's update), and after 10 iterations prints their sum.
fn rotating_phis(n: usize) -> String {
    let mut src =
        String::from("func @main() -> i64 {\nentry:\n  jump step\nstep:\n  %k = phi i64 [0, entry], [%k2, step]\n");
    for i in 0..n {
        src += &format!("  %q{i} = phi i64 [{i}, entry], [%r{}, step]\n", (i + 1) % n);
    }
    for i in 0..n {
        src += &format!("  %r{i} = binop add %q{i}, 1\n");
    }
    src += "  %k2 = binop add %k, 1\n  %more = compare lt %k2, 10\n  branch %more, step, done\ndone:\n  %s0 = binop add %r0, 0\n";
    for i in 1..n {
        src += &format!("  %s{i} = binop add %s{}, %r{i}\n", i - 1);
    }
    src += &format!("  externcall env.console.log(%s{})\n  return 0\n}}\n", n - 1);
    src
}

#[test]
fn a_loop_carrying_thousands_of_values_runs_on_every_backend() {
    // More values live at once than the JIT hands its optimizing register
    // allocator, whose time grows with their square.
    let n = 3000;
    let src = rotating_phis(n);
    // After 9 rotations %q{i} holds (i + 9) % n + 9; %r{i} adds 1.
    let want = format!("{}\n", n * (n - 1) / 2 + 10 * n);
    for backend in ["interp", "vm", "jit"] {
        let out = mir13(&["run", "--backend", backend, "-"], src.as_bytes());
        assert_eq!(out.status.code(), Some(0), "{backend}: {}", stderr(&out));
        assert_eq!(stdout(&out), want, "{backend}");
    }
}

#[test]
fn a_function_whose_live_sets_would_not_fit_is_rejected() {
    // 6,000 values live across a chain of 6,000 blocks: 72 million live-set
    // entries, past `mir::MAX_LIVE_ENTRIES`.
    let n = 6000;
    let mut src = String::from("func @main() -> i64 {\nentry:\n");
    for i in 0..n {
        src += &format!("  %v{i} = const {i}\n");
    }
    src += "  jump b0\n";
    for i in 0..n {
        src += &format!("b{i}:\n  jump b{}\n", i + 1);
    }
    src += &format!("b{n}:\n  %s0 = binop add %v0, 0\n");
    for i in 1..n {
        src += &format!("  %s{i} = binop add %s{}, %v{i}\n", i - 1);
    }
    src += &format!("  return %s{}\n}}\n", n - 1);
    let path = scratch("live_sets.mir", src.as_bytes());
    let out = mir13(&["run", path.to_str().unwrap()], b"");
    assert_rejected(&out);
    let err = stderr(&out);
    assert!(err.contains("function `@main` is too large to analyze"), "{err}");
    assert!(err.contains("live_sets.mir:1:6"), "{err}");
}

/// `@rec(d)` recurses `d` deep with `k` f64 values live across each call,
/// so every JIT frame holds them; `@main` calls `@rec(depth)`.
fn big_frames(k: usize, depth: usize) -> String {
    let mut src = String::from(
        "func @rec(%d: i64) -> f64 {\nentry:\n  %z = compare eq %d, 0\n  branch %z, base, step\nbase:\n  return 0.0\nstep:\n  %df = typeop cast %d to f64\n",
    );
    for i in 0..k {
        src += &format!("  %v{i} = binop mul %df, {i}.5\n");
    }
    src += "  %d1 = binop sub %d, 1\n  %r = call @rec(%d1)\n  %a0 = binop add %r, %v0\n";
    for i in 1..k {
        src += &format!("  %a{i} = binop add %a{}, %v{i}\n", i - 1);
    }
    src += &format!("  return %a{}\n}}\n\nfunc @main() -> i64 {{\nentry:\n", k - 1);
    src += &format!("  %r = call @rec({depth})\n  externcall env.console.log(%r)\n  return 0\n}}\n");
    src
}

#[test]
fn large_frames_reach_the_same_depth_on_every_backend() {
    // About 8 KiB of spilled values per JIT frame, where a frame used to be
    // budgeted 2 KiB: the JIT ran out of native stack long before the depth
    // limit. `@main` is depth 1, so `@rec(d)` reaches depth d + 2.
    for (depth, fits) in [(19_998, true), (19_999, false)] {
        let src = big_frames(1000, depth);
        let mut seen = Vec::new();
        for backend in ["interp", "vm", "jit"] {
            let out = mir13(&["run", "--backend", backend, "--max-depth", "20000", "-"], src.as_bytes());
            let first = stderr(&out).lines().next().unwrap_or_default().to_string();
            assert_eq!(out.status.code(), Some(if fits { 0 } else { 1 }), "{backend} at {depth}: {first}");
            if !fits {
                assert_eq!(first, "error: trap: stack overflow", "{backend} at {depth}");
            }
            seen.push(stdout(&out));
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    }
}

#[test]
fn the_vm_stands_in_when_the_jit_stack_would_be_too_large() {
    // 500,000 calls of a frame holding 3,000 spilled values: over 4 GiB.
    let src = big_frames(3000, 20);
    let out = mir13(&["run", "--verbose", "--max-depth", "500000", "-"], src.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("running on the vm instead"), "{}", stderr(&out));
    assert!(stderr(&out).contains("note: backend vm"), "{}", stderr(&out));
    let small = mir13(&["run", "--verbose", "-"], big_frames(10, 20).as_bytes());
    assert!(stderr(&small).contains("note: backend jit"), "{}", stderr(&small));
    assert_eq!(stdout(&out), stdout(&mir13(&["run", "--backend", "interp", "-"], src.as_bytes())));
}

/// `@main` makes `n` arrays, pushes to each, then sums their lengths: all
/// `n` are live through about `2 * n` boxcall sites.
fn arrays_live_across_sites(n: usize) -> String {
    let mut src = String::from("func @main() -> i64 {\nentry:\n");
    for i in 0..n {
        src += &format!("  %a{i} = boxcall ArrayBox.new()\n");
    }
    for i in 0..n {
        src += &format!("  boxcall %a{i}.push({i})\n");
    }
    src += "  %s0 = const 0\n";
    for i in 0..n {
        src += &format!("  %l{i} = boxcall %a{i}.length() -> i64\n  %s{} = binop add %s{i}, %l{i}\n", i + 1);
    }
    src += &format!("  externcall env.console.log(%s{n})\n  return 0\n}}\n");
    src
}

#[test]
fn the_vm_stands_in_when_a_function_would_take_too_long_to_compile() {
    // 4,000 arrays live through 12,000 sites took the JIT 4.3 s to compile.
    let src = arrays_live_across_sites(2000);
    let out = mir13(&["run", "--verbose", "-"], src.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "2000\n");
    assert!(stderr(&out).contains("@main would take the JIT too long to compile"), "{}", stderr(&out));
    assert!(stderr(&out).contains("note: backend vm"), "{}", stderr(&out));
    let small = mir13(&["run", "--verbose", "-"], arrays_live_across_sites(100).as_bytes());
    assert_eq!(stdout(&small), "100\n");
    assert!(stderr(&small).contains("note: backend jit"), "{}", stderr(&small));
}

#[cfg(unix)]
#[test]
fn endless_input_stops_at_the_memory_limit() {
    // `/dev/zero` is one endless line: reading it traps at --max-memory
    // instead of growing until the machine runs out.
    let read_line = "func @main() -> i64 {\nentry:\n  %l = externcall env.io.readLine()\n  return 0\n}\n";
    let program = scratch("endless_line.mir", read_line.as_bytes());
    let zero = std::fs::File::open("/dev/zero").expect("/dev/zero");
    let out = command()
        .args(["run", "--max-memory", "1M", program.to_str().unwrap()])
        .stdin(zero)
        .output()
        .expect("mir13 runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: trap: out of memory"), "{}", stderr(&out));

    let read_file = "func @main() -> i64 {\nentry:\n  %t = externcall env.fs.readFile(\"/dev/zero\")\n  return 0\n}\n";
    let out = mir13(&["run", "--allow-fs", "--max-memory", "1M", "-"], read_file.as_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: trap: out of memory"), "{}", stderr(&out));
}

/// `@main` calling `@g` of 70,000 parameters, past the VM's registers;
/// `@g` may call itself when `recursive`.
fn huge_parameter_list(recursive: bool) -> String {
    let n = 70_000;
    let params: Vec<String> = (0..n).map(|i| format!("%p{i}: i64")).collect();
    let args: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let body = match recursive {
        true => {
            let again: Vec<String> = std::iter::once("0".into()).chain((1..n).map(|i| format!("%p{i}"))).collect();
            format!(
                "  %stop = compare le %p0, 0\n  branch %stop, done, again\nagain:\n  %r = call @g({})\n  return %r\ndone:\n  return %p3\n",
                again.join(", ")
            )
        }
        false => "  return %p3\n".to_string(),
    };
    format!(
        "func @g({}) -> i64 {{\nentry:\n{body}}}\n\nfunc @main() -> i64 {{\nentry:\n  %r = call @g(1, {})\n  return %r\n}}\n",
        params.join(", "),
        args[1..].join(", ")
    )
}

#[test]
fn a_function_the_vm_refuses_runs_on_the_interpreter_when_the_jit_cannot() {
    // `@g` may recur, so 100,000 nested calls of its frame would have to fit.
    let out = mir13(&["run", "--verbose", "-"], huge_parameter_list(true).as_bytes());
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("note: backend interp"), "{}", stderr(&out));
}

#[test]
fn a_huge_frame_no_call_can_reach_twice_runs_on_the_jit() {
    // Without recursion, `@g`'s frame is on the stack once at most.
    let out = mir13(&["run", "--verbose", "-"], huge_parameter_list(false).as_bytes());
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("note: backend jit"), "{}", stderr(&out));
}

/// How many functions `mir13 run --verbose` says came from the code cache,
/// and how many it compiled.
fn from_cache(out: &Output) -> (usize, usize) {
    let line = stderr(out).lines().find(|l| l.starts_with("note: code cache")).map(str::to_string);
    let line = line.unwrap_or_else(|| panic!("no code cache note in: {}", stderr(out)));
    let counts = line.rsplit(": ").next().expect("counts after the directory");
    let words: Vec<&str> = counts.split_whitespace().collect();
    (words[0].parse().expect("a count"), words[2].parse().expect("a count"))
}

/// Flips the last byte of every file under `dir`.
fn damage_every_entry(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).expect("the cache directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            damage_every_entry(&path);
        } else {
            let mut bytes = std::fs::read(&path).expect("readable entry");
            *bytes.last_mut().expect("a non-empty entry") ^= 0x5a;
            std::fs::write(&path, bytes).expect("writable entry");
        }
    }
}

#[test]
fn a_second_run_takes_its_code_from_the_cache_and_a_damaged_entry_is_compiled_again() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let fib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fib.mir");
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mir13"))
            .env("MIR13_CACHE_DIR", &dir)
            .args(["run", "--verbose"])
            .args(extra)
            .arg(&fib)
            .output()
            .expect("mir13 runs");
        assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), "832040\n"), "{}", stderr(&out));
        out
    };
    let (found, compiled) = from_cache(&run(&[]));
    assert_eq!(found, 0, "a new cache holds nothing");
    assert!(compiled > 0);
    assert_eq!(from_cache(&run(&[])), (compiled, compiled), "everything comes from the cache");
    damage_every_entry(&dir);
    assert_eq!(from_cache(&run(&[])), (0, compiled), "no damaged entry is used");
    assert_eq!(from_cache(&run(&[])), (compiled, compiled), "damaged entries are written again");
    let off = run(&["--no-cache"]);
    assert!(stderr(&off).contains("note: no code cache"), "{}", stderr(&off));
    let _ = std::fs::remove_dir_all(&dir);
}
