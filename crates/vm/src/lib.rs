//! The bytecode VM: compiles a verified `mir::Program` to compact
//! register-based bytecode and runs it in one dispatch loop.
//!
//! It shares the runtime, the drop plan, the traps and the limits with the
//! other backends, and knows nothing about them.
