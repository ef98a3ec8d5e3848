//! Traps: run-time faults of a MIR program (§5.2).
//!
//! Every backend reports the same [`Trap`] for the same fault, so the first
//! line of a failed run, `error: trap: MESSAGE`, is identical on all three.
//! The message texts are the contract; each variant renders one.

use std::collections::VecDeque;
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

/// A backtrace lists at most this many of a deep stack's innermost frames
/// and as many of its outermost, as Lua's tracebacks do: a stack overflow
/// at the default depth takes some forty lines, not 100,000.
pub const BACKTRACE_ENDS: usize = 20;

/// A trap with the MIR call stack at the point it happened.
#[derive(Clone, Debug, PartialEq)]
pub struct TrapReport {
    pub trap: Trap,
    /// Function names (without `@`), innermost first: every frame, or the
    /// [`BACKTRACE_ENDS`] innermost then as many outermost ones.
    pub backtrace: Vec<String>,
    /// How many frames between those two ends `backtrace` leaves out.
    pub omitted: usize,
}

impl TrapReport {
    /// A report of `trap` raised with no MIR frame active.
    pub fn bare(trap: Trap) -> TrapReport {
        TrapReport { trap, backtrace: Vec::new(), omitted: 0 }
    }

    /// A report of `trap` raised with the stack `frames` (function names,
    /// innermost first).
    pub fn new<'a>(trap: Trap, frames: impl IntoIterator<Item = &'a str>) -> TrapReport {
        let mut backtrace = Backtrace::default();
        frames.into_iter().for_each(|name| backtrace.push(name));
        backtrace.report(trap)
    }
}

impl fmt::Display for TrapReport {
    /// `error: trap: MESSAGE` then one `  at @f` line per frame listed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: trap: {}", self.trap)?;
        let (inner, outer) = self.backtrace.split_at(self.backtrace.len().min(BACKTRACE_ENDS));
        for name in inner {
            writeln!(f, "  at @{name}")?;
        }
        if self.omitted > 0 {
            writeln!(f, "  ... {} more frame{}", self.omitted, plural(self.omitted))?;
        }
        for name in outer {
            writeln!(f, "  at @{name}")?;
        }
        Ok(())
    }
}

/// A backtrace collected frame by frame, innermost first, in bounded
/// memory: whatever the depth, it keeps only the ends a report lists.
#[derive(Clone, Debug, Default)]
pub struct Backtrace {
    inner: Vec<String>,
    /// The outermost frames so far, innermost first.
    outer: VecDeque<String>,
    omitted: usize,
}

impl Backtrace {
    /// Adds the frame of function `name`, the next one out.
    pub fn push(&mut self, name: &str) {
        if self.inner.len() < BACKTRACE_ENDS {
            self.inner.push(name.to_owned());
        } else if self.outer.len() < BACKTRACE_ENDS {
            self.outer.push_back(name.to_owned());
        } else {
            // The frame leaving the window lends its buffer to the new one.
            let mut text = self.outer.pop_front().expect("a full window");
            text.clear();
            text.push_str(name);
            self.outer.push_back(text);
            self.omitted += 1;
        }
    }

    /// The report of `trap` with this backtrace.
    pub fn report(self, trap: Trap) -> TrapReport {
        let mut backtrace = self.inner;
        backtrace.extend(self.outer);
        TrapReport { trap, backtrace, omitted: self.omitted }
    }
}

impl std::error::Error for TrapReport {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shallow_backtrace_lists_every_frame() {
        let report = TrapReport::new(Trap::StackOverflow, ["f", "g", "main"]);
        assert_eq!(report.backtrace, ["f", "g", "main"]);
        assert_eq!(report.omitted, 0);
        assert_eq!(report.to_string(), "error: trap: stack overflow\n  at @f\n  at @g\n  at @main\n");
    }

    #[test]
    fn a_deep_backtrace_lists_its_ends() {
        let names: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
        let report = TrapReport::new(Trap::StackOverflow, names.iter().map(String::as_str));
        let ends = BACKTRACE_ENDS;
        assert_eq!(report.omitted, 1000 - 2 * ends);
        assert_eq!(report.backtrace[..ends], names[..ends]);
        assert_eq!(report.backtrace[ends..], names[1000 - ends..]);
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 2 * ends + 1);
        assert_eq!(lines[ends], "  at @f19");
        assert_eq!(lines[ends + 1], format!("  ... {} more frames", 1000 - 2 * ends));
        assert_eq!(lines[ends + 2], "  at @f980");
        assert_eq!(lines.last(), Some(&"  at @f999"));
    }

    #[test]
    fn one_frame_past_the_ends_is_one_more_frame() {
        let names: Vec<String> = (0..=2 * BACKTRACE_ENDS).map(|i| format!("f{i}")).collect();
        let report = TrapReport::new(Trap::StackOverflow, names.iter().map(String::as_str));
        assert_eq!(report.omitted, 1);
        assert!(report.to_string().contains("  ... 1 more frame\n"));
    }
}
