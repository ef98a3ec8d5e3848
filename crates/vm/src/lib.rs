//! The bytecode VM: compiles a verified `mir::Program` to compact
//! register-based bytecode and runs it in one dispatch loop.
//!
//! [`compile`] does the work once per program: register allocation,
//! phis to parallel moves, the drop plan to `Release` ops, compare/branch
//! fusion, folded integer immediates, and fast-path ops for the hottest
//! boxcalls. [`run`] executes on the shared runtime, with the same drop
//! plan, traps and limits as the interpreter; MIR calls push frames on the
//! VM's own stack, never the native one. It knows nothing about the other
//! backends.

mod compile;
mod exec;
mod listing;
pub mod op;
mod regalloc;
mod validate;

pub use compile::{CompileError, Compiled, FuncCode, compile};
pub use listing::listing;

use mir::Program;
use runtime::{Runtime, TrapReport};

/// Runs `@main` of `compiled` (compiled from `program`) on `rt`.
///
/// # Panics
/// If `program` has no `@main`; callers check first.
pub fn run(compiled: &Compiled, program: &Program, rt: &mut Runtime) -> Result<Option<i64>, TrapReport> {
    exec::run(compiled, program, rt)
}
