//! The reference interpreter: executes a verified `mir::Program` directly,
//! instruction by instruction, on the shared Box runtime.
//!
//! It is the semantic baseline the VM and the JIT are tested against, so it
//! favours obviousness over speed. It follows the shared drop plan for every
//! release, keeps its own frame stack (no Rust recursion per MIR call), and
//! knows nothing about the other backends.
