//! The context every compiled function receives as its first argument.
//!
//! Compiled code reads and writes the fields before `rt` at the offsets
//! below (safepoints, call depth, the trap flag, string constants); runtime
//! helpers use the rest. One `Ctx` lives for one run, on the run's thread.

use mir::{ClassRef, Type};
use runtime::{Backtrace, HostId, MethodRef, Runtime, Trap, Value};
use std::mem::offset_of;
use std::sync::atomic::AtomicU8;

/// The run state shared by compiled code and helpers.
#[repr(C)]
pub struct Ctx {
    /// The runtime's fuel counter (see `Runtime::safepoint_cells`).
    pub fuel: *mut u64,
    /// The runtime's interrupt flag.
    pub interrupt: *const AtomicU8,
    /// Calls that may still start before one traps `stack overflow`
    /// (`--max-depth` minus the calls in progress).
    pub calls_left: u32,
    /// Lowest native stack address compiled code may reach.
    pub stack_limit: usize,
    /// Nonzero once a trap is recorded: every caller returns at once.
    pub trapped: u8,
    /// String constants, by index (each an owned StringBox).
    pub strings: *const Value,
    /// All zeros: what an array view reads for a value that is not an
    /// ArrayBox (a kind byte that is not ArrayBox's, length and capacity 0).
    pub not_an_array: [u64; 8],
    /// The runtime, for helpers.
    pub rt: *mut Runtime,
    /// What compiled code needs to know about its call sites.
    pub sites: *const Site,
    /// Compiled entry points (`extern "C" fn(*mut Ctx, *const Value, *mut Value)`), by function.
    pub trampolines: *const usize,
    /// Host functions of the run, by the index sites use.
    pub hosts: Vec<HostId>,
    /// Inline caches, by site: the user class last seen and what it ran.
    pub caches: Vec<Option<(mir::BoxId, CacheTarget)>>,
    /// The trap that ended the run, with the frames it has left so far.
    pub trap: Option<(Trap, Backtrace)>,
    /// Function names by id, for backtraces.
    pub names: *const String,
}

/// What a site's inline cache remembers for a user class.
#[derive(Clone, Copy, Debug)]
pub enum CacheTarget {
    /// A user method.
    Method(mir::FuncId),
    /// `getField`/`setField` with this site's constant name: the slot.
    Field(usize),
}

pub const FUEL: i32 = offset_of!(Ctx, fuel) as i32;
pub const INTERRUPT: i32 = offset_of!(Ctx, interrupt) as i32;
pub const CALLS_LEFT: i32 = offset_of!(Ctx, calls_left) as i32;
pub const STACK_LIMIT: i32 = offset_of!(Ctx, stack_limit) as i32;
pub const TRAPPED: i32 = offset_of!(Ctx, trapped) as i32;
pub const STRINGS: i32 = offset_of!(Ctx, strings) as i32;
pub const NOT_AN_ARRAY: i32 = offset_of!(Ctx, not_an_array) as i32;

/// A call compiled code hands to a helper.
#[derive(Clone, Debug)]
pub struct Site {
    pub kind: SiteKind,
    /// The type the result must have; `None` when the call has no result.
    pub ret: Option<Type>,
    /// A constant string first argument (a field name), for the cache.
    pub const_name: Option<String>,
    /// A MapBox or StringBox method the runtime runs without dispatch, tried
    /// first (see `helpers::mir13_call`).
    pub fast: Option<FastOp>,
}

impl Site {
    /// A site of `kind` whose result, if bound, must have type `ret`.
    pub fn new(kind: SiteKind, ret: Option<Type>) -> Site {
        Site { kind, ret, const_name: None, fast: None }
    }
}

/// The MapBox and StringBox methods a site may run without dispatch, as
/// the VM's fast paths do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastOp {
    MapGet,
    MapSet,
    MapHas,
    MapDelete,
    MapSize,
    Concat,
}

/// How a site's target is found.
#[derive(Clone, Copy, Debug)]
pub enum SiteKind {
    /// `boxcall %recv.m(...)`: the receiver is the first argument.
    Method { method: MethodRef, owned: bool },
    /// `boxcall CLASS.m(...)`.
    Static { class: ClassRef, method: MethodRef },
    /// `externcall NAME(...)`: index into the run's hosts.
    Extern { host: u32 },
    /// `call %f(...)`: the callee is the first argument.
    Indirect,
    /// `typeop is %v, CLASS`.
    Is { class: ClassRef },
}
