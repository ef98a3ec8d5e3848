//! The Cranelift JIT: compiles each function of a verified `mir::Program` to
//! native code, with inline fast paths for the hottest Box operations.
//!
//! It shares the runtime, the drop plan, the traps and the limits with the
//! other backends, and knows nothing about them.
