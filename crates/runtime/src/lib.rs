//! The Box runtime: values, refcounted Boxes, built-in classes, kernels and
//! the host-function registry shared by every backend.
//!
//! It depends on `mir` for types and signatures only; it knows nothing of
//! how a backend executes code.

pub mod host;
