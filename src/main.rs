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
#[group(required = true, multiple = false)]
struct DumpWhat {
    /// The IR with predecessors, loop headers and the type of every value.
    #[arg(long)]
    ir: bool,
    /// Live-in/live-out sets and the drop plan: where each Box is released.
    #[arg(long)]
    liveness: bool,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(message.as_bytes());
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// Runs a command; `Err` holds what to print on stderr before exiting 2.
fn run(command: Command) -> Result<(), String> {
    match command {
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
            let (_, program) = mir13::load(&name, &bytes).map_err(|d| d.to_string())?;
            let kind = if args.what.ir { mir::DumpKind::Ir } else { mir::DumpKind::Liveness };
            print_stdout(&mir::dump(&program, kind))
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
