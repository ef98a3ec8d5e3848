//! mir13: a 13-instruction typed SSA IR with a Box runtime and three
//! interchangeable backends.
//!
//! This crate is the embedding facade and the `mir13` command line. It ties
//! the IR (`mir`), the runtime (`runtime`) and the backends together; it
//! holds no IR or execution logic of its own.
//!
//! ```
//! let mut engine = mir13::Engine::new();
//! engine.register("env.math.square", |x: i64| x * x);
//! let src = b"func @main() -> i64 {\nentry:\n  %r = externcall env.math.square(7) -> i64\n  return %r\n}\n";
//! let program = engine.load("square.mir", src).unwrap();
//! let outcome = program.run(&mir13::RunOptions::default(), mir13::Io::std()).unwrap();
//! assert_eq!(outcome.result, Some(49));
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};

pub use jit::CodeCache;
pub use mir;
pub use runtime;
pub use runtime::{HostRegistry, InterruptHandle, Io, RunConfig, Stats, Trap, TrapReport};

use mir::{Error, ErrorKind, Parsed, Program, Source, SourceFile};

/// A source text that failed to load, with every error found in it.
/// `Display` renders them rustc-style with positions and carets.
#[derive(Debug)]
pub struct Diagnostics {
    pub file: SourceFile,
    pub errors: Vec<Error>,
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mir::render(&self.file, &self.errors))
    }
}

impl std::error::Error for Diagnostics {}

/// Decodes and parses source bytes named `name` (for diagnostics).
pub fn parse_source(name: &str, bytes: &[u8]) -> Result<(SourceFile, Parsed), Diagnostics> {
    let (text, utf8_error) = mir::decode(bytes);
    let file = SourceFile::new(name, text);
    if let Some(error) = utf8_error {
        return Err(Diagnostics { file, errors: vec![error] });
    }
    match mir::parse(file.text()) {
        Ok(parsed) => Ok((file, parsed)),
        Err(errors) => Err(Diagnostics { file, errors }),
    }
}

/// Decodes, parses and verifies source bytes against the standard host
/// functions, giving a program ready to run.
pub fn load(name: &str, bytes: &[u8]) -> Result<(SourceFile, Program), Diagnostics> {
    load_with(name, bytes, &HostRegistry::standard())
}

fn load_with(name: &str, bytes: &[u8], host: &HostRegistry) -> Result<(SourceFile, Program), Diagnostics> {
    let (file, parsed) = parse_source(name, bytes)?;
    let source = Source { file: &file, map: &parsed.spans };
    match Program::new(parsed.module, Some(source), host) {
        Ok(program) => Ok((file, program)),
        Err(errors) => Err(Diagnostics { file, errors }),
    }
}

/// Which backend executes a program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// The reference interpreter.
    Interp,
    /// The bytecode VM.
    Vm,
    /// The Cranelift JIT (the VM runs instead where Cranelift cannot
    /// target the machine).
    #[default]
    Jit,
}

impl Backend {
    /// Every backend this build has.
    pub const ALL: &'static [Backend] = &[Backend::Interp, Backend::Vm, Backend::Jit];

    /// The backend's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Interp => "interp",
            Backend::Vm => "vm",
            Backend::Jit => "jit",
        }
    }
}

/// Loads programs against a set of host functions.
pub struct Engine {
    host: HostRegistry,
    cache: Option<Arc<CodeCache>>,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// An engine with the standard host functions of §9.
    pub fn new() -> Engine {
        Engine { host: HostRegistry::standard(), cache: None }
    }

    /// Keeps the JIT's machine code in the directory `dir` (created when
    /// first written), and takes a function's code from there whenever it
    /// was compiled before: a program runs again without compiling. See
    /// [`CodeCache`]; engines have none unless given one.
    pub fn code_cache(&mut self, dir: impl Into<std::path::PathBuf>) -> &mut Self {
        self.cache = Some(Arc::new(CodeCache::new(dir)));
        self
    }

    /// Registers a host function; see [`HostRegistry::register`].
    pub fn register<Args, R>(&mut self, name: &str, f: impl runtime::IntoHostFn<Args, R>) -> &mut Self {
        self.host.register(name, f);
        self
    }

    /// The host functions, for raw registration.
    pub fn host_mut(&mut self) -> &mut HostRegistry {
        &mut self.host
    }

    /// Parses and verifies a program; every `externcall` is checked against
    /// the host functions registered so far. The engine's host functions
    /// are captured: later registrations do not affect this program.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Loaded, Diagnostics> {
        let (_, program) = load_with(name, bytes, &self.host)?;
        Ok(Loaded {
            program: Arc::new(program),
            host: Arc::new(self.host.clone()),
            cache: self.cache.clone(),
            bytecode: OnceLock::new(),
            native: [OnceLock::new(), OnceLock::new()],
        })
    }
}

/// How to run a program.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub backend: Backend,
    pub config: RunConfig,
}

/// A finished run.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// `@main`'s result; `None` when it returns void.
    pub result: Option<i64>,
    pub stats: Stats,
}

impl Outcome {
    /// The process exit status: `@main`'s result modulo 256 (§5).
    pub fn exit_code(&self) -> u8 {
        self.result.map_or(0, |r| (r & 0xFF) as u8)
    }
}

/// A run that did not finish.
#[derive(Clone, Debug)]
pub enum Failure {
    /// The program trapped.
    Trap { report: TrapReport, stats: Stats },
    /// The backend cannot run this program (it says why).
    Backend(String),
}

impl Failure {
    /// The trap, if the program trapped.
    pub fn trap(&self) -> Option<&TrapReport> {
        match self {
            Failure::Trap { report, .. } => Some(report),
            Failure::Backend(_) => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Trap { report, .. } => report.fmt(f),
            Failure::Backend(message) => writeln!(f, "error: {message}"),
        }
    }
}

impl std::error::Error for Failure {}

/// A verified program, ready to run any number of times.
pub struct Loaded {
    program: Arc<Program>,
    host: Arc<HostRegistry>,
    cache: Option<Arc<CodeCache>>,
    /// The VM's code, compiled on first use.
    bytecode: OnceLock<Result<vm::Compiled, vm::CompileError>>,
    /// The JIT's code, compiled on first use: unmetered, and metered for
    /// runs with a fuel limit.
    native: [OnceLock<Result<jit::JitCode, jit::JitError>>; 2],
}

impl Loaded {
    /// The verified program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Whether the program has a `@main` to run.
    pub fn has_main(&self) -> bool {
        self.program.main().is_some()
    }

    /// Runs `@main` with `options`, reading and writing through `io`.
    ///
    /// # Panics
    /// If the program has no `@main` (see [`Loaded::has_main`]).
    pub fn run(&self, options: &RunOptions, io: Io) -> Result<Outcome, Box<Failure>> {
        let failed = |e: String| Box::new(Failure::Backend(e));
        if options.config.max_depth > runtime::MAX_DEPTH {
            let depth = options.config.max_depth;
            return Err(failed(format!("max_depth {depth} is over the limit of {}", runtime::MAX_DEPTH)));
        }
        let (backend, _) = self.backend_for(options);
        let (result, stats) = match backend {
            Backend::Jit => {
                let metered = options.config.fuel.is_some();
                let code = self.native_code(metered).map_err(|e| failed(e.to_string()))?;
                let stack = jit::stack_size(code, options.config.max_depth).expect("backend_for checked");
                let (program, host, config) =
                    (Arc::clone(&self.program), Arc::clone(&self.host), options.config.clone());
                jit::on_jit_thread(stack, move || {
                    let mut rt = runtime::Runtime::new(Arc::clone(&program), host, config, io);
                    let result = jit::run(code, &program, &mut rt);
                    rt.flush();
                    (result, rt.stats())
                })
                .map_err(failed)?
            }
            Backend::Vm | Backend::Interp => {
                let bytecode = match backend {
                    Backend::Vm => Some(self.bytecode().map_err(|e| failed(e.to_string()))?),
                    _ => None,
                };
                let mut rt = runtime::Runtime::new(
                    Arc::clone(&self.program),
                    Arc::clone(&self.host),
                    options.config.clone(),
                    io,
                );
                let result = match bytecode {
                    Some(code) => vm::run(code, &self.program, &mut rt),
                    None => interp::run(&self.program, &mut rt),
                };
                rt.flush();
                (result, rt.stats())
            }
        };
        match result {
            Ok(result) => Ok(Outcome { result, stats }),
            Err(report) => Err(Box::new(Failure::Trap { report, stats })),
        }
    }

    /// The backend that runs `options`, and why when it is not the one asked
    /// for. The VM stands in for the JIT where Cranelift cannot target the
    /// machine, where a function would take too long to compile (see
    /// [`jit::ALLOCATION_BUDGET`]), and where a thread whose stack holds
    /// `max_depth` calls of the program's frames (see [`jit::stack_size`])
    /// would be too large (the JIT would otherwise trap `stack overflow`
    /// before the depth limit); the
    /// interpreter stands in for a VM that cannot run the program (a
    /// function needing more than 65,535 registers). Asking about the JIT
    /// compiles the program, once.
    pub fn backend_for(&self, options: &RunOptions) -> (Backend, Option<String>) {
        if options.backend != Backend::Jit {
            return (options.backend, None);
        }
        let why = match self.jit_unsupported() {
            Some(why) => why,
            None => {
                let max_depth = options.config.max_depth;
                match self.native_code(options.config.fuel.is_some()) {
                    Ok(code) if jit::stack_size(code, max_depth).is_none() => {
                        format!("the JIT's stack cannot hold {max_depth} calls of this program's frames")
                    }
                    Err(e @ jit::JitError::TooLarge(_)) => e.to_string(),
                    _ => return (Backend::Jit, None),
                }
            }
        };
        match self.bytecode() {
            Ok(_) => (Backend::Vm, Some(why)),
            Err(e) => (Backend::Interp, Some(format!("{why}, and {e}"))),
        }
    }

    /// Why the JIT cannot run on this machine, if it cannot.
    pub fn jit_unsupported(&self) -> Option<String> {
        jit::host_supported().err().map(|e| e.to_string())
    }

    /// The program compiled by the JIT, metered or not (see
    /// [`jit::compile`]); each is compiled once, on first use.
    pub fn native_code(&self, metered: bool) -> Result<&jit::JitCode, jit::JitError> {
        self.native[metered as usize]
            .get_or_init(|| jit::compile(&self.program, metered, self.cache.as_deref()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The program compiled for the VM (compiled once, on first use).
    pub fn bytecode(&self) -> Result<&vm::Compiled, vm::CompileError> {
        self.bytecode.get_or_init(|| vm::compile(&self.program)).as_ref().map_err(Clone::clone)
    }
}

/// The canonical text of a module. Formatting needs the text to parse and
/// every `%value` and label to resolve (otherwise printing would lose them);
/// type errors and unknown functions do not stop it.
pub fn format_source(name: &str, bytes: &[u8]) -> Result<String, Diagnostics> {
    let (file, parsed) = parse_source(name, bytes)?;
    let source = Source { file: &file, map: &parsed.spans };
    let unresolved: Vec<Error> = mir::verify(&parsed.module, Some(source), &mir::NoExterns)
        .into_iter()
        .filter(|e| matches!(e.kind, ErrorKind::UnknownValue(_) | ErrorKind::UnknownLabel(_)))
        .collect();
    if !unresolved.is_empty() {
        return Err(Diagnostics { file, errors: unresolved });
    }
    Ok(mir::print_module(&parsed.module))
}
