//! The Box runtime: values, refcounted Boxes, built-in classes and the
//! host-function registry shared by every backend.
//!
//! It owns *what* values and Boxes are and what their methods do; it knows
//! nothing of how a backend executes MIR. Where a built-in needs MIR code
//! run (`fini`, `birth`, user methods, `FunctionBox.call`), it tells the
//! backend what to call instead of calling it: see [`Dispatch`],
//! [`StaticResult`] and [`FiniRequest`].

mod display;
mod heap;
pub mod host;
pub mod kernels;
pub mod layout;
mod map;
mod matrix;
mod meta;
mod methods;
pub mod ops;
mod runtime;
mod tensor;
mod trap;
mod value;

pub use heap::{FiniRequest, Heap, Kind, MapKey, ObjRef, Stats};
pub use host::{HostArg, HostId, HostRegistry, HostRet, IntoHostFn};
pub use meta::{FuncMeta, ProgramInfo, UserClass};
pub use methods::{BuiltinResult, Dispatch, Method, MethodRef, StaticResult};
pub use runtime::{DEFAULT_MAX_DEPTH, InterruptHandle, Io, MAX_DEPTH, RunConfig, Runtime, boxes_equal};
pub use trap::{BACKTRACE_ENDS, Backtrace, Trap, TrapReport};
pub use value::{Class, Value};
