//! The `mir13` command line.

use clap::{Args, Parser, Subcommand};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// MIR13: a 13-instruction typed SSA IR, its Box runtime and its backends.
#[derive(Parser)]
#[command(name = "mir13", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a program's `@main`.
    ///
    /// The exit status is `@main`'s i64 result modulo 256 (0 for void), 1
    /// after a trap, 2 for invalid source or usage.
    Run(RunArgs),
    /// Parse and verify a module, reporting every error with its position.
    ///
    /// Exits 0 when the module is valid, 2 otherwise.
    Check {
        /// The .mir file, or `-` for standard input.
        file: PathBuf,
    },
    /// Print a module in canonical form (a fixed point: formatting the
    /// output again changes nothing).
    Fmt {
        /// The .mir file, or `-` for standard input.
        file: PathBuf,
        /// Rewrite the file in place instead of printing it.
        #[arg(long)]
        write: bool,
    },
    /// Print a verified module with the results of an analysis.
    Dump(DumpArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The .mir file, or `-` for standard input.
    file: PathBuf,
    /// The backend that executes the program.
    #[arg(long, value_enum, default_value_t = BackendArg::Jit)]
    backend: BackendArg,
    /// Say on stderr which backend runs (and why, if it is not the one asked for).
    #[arg(long)]
    verbose: bool,
    /// Print heap statistics on stderr after the run.
    #[arg(long)]
    stats: bool,
    /// Allow N safepoint passes (loop headers, function entries, explicit
    /// safepoints), then trap `out of fuel`.
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Trap `timeout` once N milliseconds have passed.
    #[arg(long, value_name = "N")]
    timeout_ms: Option<u64>,
    /// Trap `stack overflow` on a call deeper than N (`@main` is depth 1;
    /// at most 500000).
    #[arg(long, value_name = "N", default_value_t = runtime::DEFAULT_MAX_DEPTH,
          value_parser = clap::value_parser!(u32).range(1..=runtime::MAX_DEPTH as i64))]
    max_depth: u32,
    /// Trap `out of memory` when boxes would hold more than BYTES
    /// (suffixes K, M, G: 64M).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    max_memory: Option<usize>,
    /// Let `env.fs.readFile` and `env.fs.writeFile` use the file system.
    #[arg(long)]
    allow_fs: bool,
    /// Compile every function, without reading or writing the JIT's code
    /// cache (kept in $MIR13_CACHE_DIR, else $XDG_CACHE_HOME/mir13, else
    /// ~/.cache/mir13).
    #[arg(long)]
    no_cache: bool,
    /// Arguments for the program (`env.process.args`), after `--`.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

/// Backends on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
enum BackendArg {
    /// The reference interpreter.
    Interp,
    /// The bytecode VM.
    Vm,
    /// The Cranelift JIT (falls back to the VM where Cranelift cannot
    /// target the machine).
    Jit,
}

impl From<BackendArg> for mir13::Backend {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Interp => mir13::Backend::Interp,
            BackendArg::Vm => mir13::Backend::Vm,
            BackendArg::Jit => mir13::Backend::Jit,
        }
    }
}

/// `123`, `64K`, `64M`, `2G` (powers of 1024).
fn parse_bytes(text: &str) -> Result<usize, String> {
    let (digits, scale) = match text.char_indices().last() {
        Some((i, 'K' | 'k')) => (&text[..i], 1 << 10),
        Some((i, 'M' | 'm')) => (&text[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    let n: usize = digits.parse().map_err(|_| format!("`{text}` is not a byte count (like 1000000 or 64M)"))?;
    n.checked_mul(scale).ok_or_else(|| format!("`{text}` is too large"))
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct DumpWhat {
    /// The IR with predecessors, loop headers and the type of every value.
    #[arg(long)]
    ir: bool,
    /// Live-in/live-out sets and the drop plan: where each Box is released.
    #[arg(long)]
    liveness: bool,
    /// The VM's bytecode: registers, ops and their tables.
    #[arg(long)]
    bytecode: bool,
    /// The Cranelift IR the JIT generates for each function.
    #[arg(long)]
    clif: bool,
}

#[derive(Args)]
struct DumpArgs {
    /// The .mir file, or `-` for standard input.
    file: PathBuf,
    #[command(flatten)]
    what: DumpWhat,
}

/// Exit status for bad source or bad usage (§5).
const EXIT_INVALID: u8 = 2;

/// Exit status after a trap (§5).
const EXIT_TRAP: u8 = 1;

/// glibc gives each new thread its own malloc arena, which grows and
/// shrinks with a system call at a time (about 20,000 `mprotect`s in a run
/// of bench/programs/strings.mir). The JIT runs programs on a thread of
/// their own while the main thread waits, so one arena serves both.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_malloc_arena() {
    const M_ARENA_MAX: std::ffi::c_int = -8;
    unsafe extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    // SAFETY: glibc's `mallopt` may be called at any time; before any
    // thread starts, it only sets a limit.
    unsafe { mallopt(M_ARENA_MAX, 1) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_malloc_arena() {}

fn main() -> ExitCode {
    one_malloc_arena();
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Run(args) => run_program(args),
        command => tool(command).map(|()| 0),
    };
    match status {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(message.as_bytes());
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// `mir13 run`: returns the exit status, or a load error to print.
fn run_program(args: RunArgs) -> Result<u8, String> {
    let (name, bytes) = read_input(&args.file)?;
    let mut engine = mir13::Engine::new();
    let cache = cache_dir().filter(|_| !args.no_cache);
    if let Some(dir) = &cache {
        engine.code_cache(dir);
    }
    let loaded = engine.load(&name, &bytes).map_err(|d| d.to_string())?;
    if !loaded.has_main() {
        return Err(format!("error: `{name}` has no `@main` function to run\n"));
    }
    let options = mir13::RunOptions {
        backend: args.backend.into(),
        config: mir13::RunConfig {
            fuel: args.fuel,
            timeout: args.timeout_ms.map(std::time::Duration::from_millis),
            max_depth: args.max_depth,
            max_memory: args.max_memory,
            allow_fs: args.allow_fs,
            args: args.args,
            ..mir13::RunConfig::default()
        },
    };
    if args.verbose {
        let (used, why) = loaded.backend_for(&options);
        let mut stderr = std::io::stderr().lock();
        if let Some(why) = why {
            let _ = writeln!(stderr, "note: {why}; running on the {} instead", used.name());
        }
        let _ = writeln!(stderr, "note: backend {}", used.name());
        if let (mir13::Backend::Jit, Ok(code)) = (used, loaded.native_code(options.config.fuel.is_some())) {
            let (found, all) = code.from_cache();
            match &cache {
                Some(dir) => {
                    let dir = dir.display();
                    let _ = writeln!(stderr, "note: code cache {dir}: {found} of {all} functions found there");
                }
                None => {
                    let _ = writeln!(stderr, "note: no code cache: {all} functions compiled");
                }
            }
        }
    }
    let outcome = loaded.run(&options, mir13::Io::std());
    let mut stderr = std::io::stderr().lock();
    let (code, stats) = match &outcome {
        Ok(done) => (done.exit_code(), done.stats),
        Err(failure) => {
            let _ = write!(stderr, "{failure}");
            match **failure {
                mir13::Failure::Trap { stats, .. } => (EXIT_TRAP, stats),
                mir13::Failure::Backend(_) => return Ok(EXIT_INVALID),
            }
        }
    };
    if args.stats {
        let _ = write!(
            stderr,
            "boxes allocated:  {}\nboxes released:   {}\nreused in place:  {}\npeak live:        {}\nlive at exit:     {}\n",
            stats.allocated,
            stats.released,
            stats.reused,
            stats.peak_live,
            stats.live()
        );
    }
    Ok(code)
}

/// Where `mir13 run` keeps the JIT's code cache: `$MIR13_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/mir13`, else `~/.cache/mir13` (the XDG default, as
/// wasmtime's); none without an absolute home.
fn cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let absolute = |name: &str| var(name).filter(|p| p.is_absolute());
    var("MIR13_CACHE_DIR")
        .or_else(|| absolute("XDG_CACHE_HOME").map(|p| p.join("mir13")))
        .or_else(|| absolute("HOME").map(|home| home.join(".cache").join("mir13")))
}

/// The other commands; `Err` holds what to print on stderr before exiting 2.
fn tool(command: Command) -> Result<(), String> {
    match command {
        Command::Run(_) => unreachable!("handled by run_program"),
        Command::Check { file } => {
            let (name, bytes) = read_input(&file)?;
            mir13::load(&name, &bytes).map_err(|d| d.to_string())?;
            Ok(())
        }
        Command::Fmt { file, write } => {
            if write && is_stdin(&file) {
                return Err("error: `--write` needs a file, not standard input\n".into());
            }
            let (name, bytes) = read_input(&file)?;
            let text = mir13::format_source(&name, &bytes).map_err(|d| d.to_string())?;
            if write {
                if text.as_bytes() != bytes.as_slice() {
                    std::fs::write(&file, text).map_err(|e| format!("error: cannot write `{name}`: {e}\n"))?;
                }
                Ok(())
            } else {
                print_stdout(&text)
            }
        }
        Command::Dump(args) => {
            let (name, bytes) = read_input(&args.file)?;
            let loaded = mir13::Engine::new().load(&name, &bytes).map_err(|d| d.to_string())?;
            let text = if args.what.bytecode {
                vm::listing(loaded.bytecode().map_err(|e| format!("error: {e}\n"))?)
            } else if args.what.clif {
                jit::clif(loaded.program()).map_err(|e| format!("error: {e}\n"))?
            } else {
                let kind = if args.what.ir { mir::DumpKind::Ir } else { mir::DumpKind::Liveness };
                mir::dump(loaded.program(), kind)
            };
            print_stdout(&text)
        }
    }
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads a file (or stdin for `-`); returns its display name and bytes.
fn read_input(path: &Path) -> Result<(String, Vec<u8>), String> {
    if is_stdin(path) {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(|e| format!("error: cannot read standard input: {e}\n"))?;
        return Ok(("<stdin>".into(), bytes));
    }
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => Ok((name, bytes)),
        Err(e) => Err(format!("error: cannot read `{name}`: {e}\n")),
    }
}

/// Prints to stdout; a closed pipe (`mir13 fmt x | head`) is not an error.
fn print_stdout(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("error: cannot write output: {e}\n")),
        _ => Ok(()),
    }
}
