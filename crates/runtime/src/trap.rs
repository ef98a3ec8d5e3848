//! Traps: run-time faults of a MIR program (§5.2).
//!
//! Every backend reports the same [`Trap`] for the same fault, so the first
//! line of a failed run, `error: trap: MESSAGE`, is identical on all three.
//! The message texts are the contract; each variant renders one.

use std::fmt;

/// A run-time fault. `Display` is the message after `error: trap: `.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Trap {
    #[error("division by zero")]
    DivisionByZero,
    #[error("integer overflow")]
    IntegerOverflow,
    #[error("index {index} out of bounds for length {len}")]
    IndexOutOfBounds { index: i64, len: usize },
    /// A checked unboxing or argument conversion failed.
    #[error("type error: expected {expected}, got {got}")]
    Expected { expected: &'static str, got: String },
    /// A built-in method got an argument of the wrong kind.
    #[error("type error: {method} argument {index}: expected {expected}, got {got}")]
    BadArgument { method: String, index: usize, expected: &'static str, got: String },
    /// An element of an array argument (data, shape, index) has the wrong kind.
    #[error("type error: {method} element {index}: expected {expected}, got {got}")]
    BadElement { method: String, index: usize, expected: &'static str, got: String },
    #[error("type error: cannot order {0} and {1}")]
    CannotOrder(String, String),
    #[error("null receiver: cannot call {0}() on null")]
    NullReceiver(String),
    #[error("unknown method: {class} has no method '{method}'")]
    UnknownMethod { class: String, method: String },
    #[error("unknown field: {class} has no field '{field}'")]
    UnknownField { class: String, field: String },
    /// The key's display form, quoted if it is a string.
    #[error("key not found: {0}")]
    KeyNotFound(String),
    #[error("arity mismatch: {callee} takes {expected} argument{s}, got {got}", s = plural(*.expected))]
    Arity { callee: String, expected: usize, got: usize },
    #[error("pop from empty ArrayBox")]
    PopEmpty,
    #[error("shape mismatch: {op} of {left} and {right}")]
    ShapeMismatch { op: &'static str, left: String, right: String },
    /// An argument outside a method's domain (negative count, bad code point...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("stack overflow")]
    StackOverflow,
    #[error("out of fuel")]
    OutOfFuel,
    #[error("timeout")]
    Timeout,
    #[error("out of memory")]
    OutOfMemory,
    #[error("interrupted")]
    Interrupted,
    #[error("permission denied: {0} needs --allow-fs")]
    PermissionDenied(String),
    /// A host function failed.
    #[error("{function}: {message}")]
    Host { function: String, message: String },
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A trap with the MIR call stack at the point it happened.
#[derive(Clone, Debug, PartialEq)]
pub struct TrapReport {
    pub trap: Trap,
    /// Function names (without `@`), innermost first.
    pub backtrace: Vec<String>,
}

impl fmt::Display for TrapReport {
    /// `error: trap: MESSAGE` then one `  at @f` line per frame.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: trap: {}", self.trap)?;
        for name in &self.backtrace {
            writeln!(f, "  at @{name}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TrapReport {}
