//! Runtime helpers compiled code calls: the slow paths.
//!
//! Every helper is `extern "C"`, takes the run's [`Ctx`] first, and returns
//! a status: [`OK`], or [`TRAPPED`] once a trap is recorded in the context.
//! No panic crosses the boundary: each body runs under `catch_unwind`, and
//! a panic becomes a trap. Helpers call compiled code back (user methods,
//! `fini`, `birth`, function values) through the functions' trampolines;
//! they keep only raw pointers across such calls, and take fresh references
//! to the runtime after them.

use crate::ctx::{CacheTarget, Ctx, FastOp, Site, SiteKind};
use mir::{CompareOp, FuncId};
use runtime::{Backtrace, Dispatch, Method, ObjRef, Runtime, StaticResult, Trap, Value};
use smallvec::SmallVec;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Status: carry on.
pub const OK: u32 = 0;
/// Status: a trap was recorded; return at once.
pub const TRAPPED: u32 = 1;

/// Why a helper stops.
enum Stop {
    /// A fault to record.
    Trap(Trap),
    /// Compiled code called from here already recorded one.
    Trapped,
}

impl From<Trap> for Stop {
    fn from(trap: Trap) -> Stop {
        Stop::Trap(trap)
    }
}

/// Trap codes compiled code passes to [`mir13_trap`].
pub const TRAP_DIVISION_BY_ZERO: u32 = 0;
pub const TRAP_INTEGER_OVERFLOW: u32 = 1;
pub const TRAP_STACK_OVERFLOW: u32 = 2;

/// The runtime of the run.
///
/// # Safety
/// `ctx` is the live context of the current run; the reference is used
/// only until the next call into compiled code.
unsafe fn rt<'a>(ctx: *mut Ctx) -> &'a mut Runtime {
    // SAFETY: see above.
    unsafe { &mut *(*ctx).rt }
}

/// Records `trap`, unless a trap is recorded. Its backtrace fills in as
/// the frames return (see [`mir13_unwind`]).
///
/// # Safety
/// `ctx` is the live context of the current run.
unsafe fn record(ctx: *mut Ctx, trap: Trap) {
    // SAFETY: the context is live and no other reference to it is in use.
    let ctx = unsafe { &mut *ctx };
    if ctx.trap.is_none() {
        ctx.trap = Some((trap, Backtrace::default()));
    }
    ctx.trapped = 1;
}

/// Adds function `func` to the backtrace of the recorded trap: a frame
/// leaving because of a trap calls this on its way out, innermost first.
///
/// # Safety
/// Called by compiled code with the live context.
pub unsafe extern "C" fn mir13_unwind(ctx: *mut Ctx, func: u32) {
    // SAFETY: the context is live; `names` has an entry per function id.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
        let ctx = &mut *ctx;
        if let Some((_, backtrace)) = ctx.trap.as_mut() {
            backtrace.push(&*ctx.names.add(func as usize));
        }
    }));
}

/// Runs a helper body; a trap or a panic is recorded and reported.
fn guard(ctx: *mut Ctx, body: impl FnOnce() -> Result<(), Stop>) -> u32 {
    let outcome = catch_unwind(AssertUnwindSafe(body));
    let trap = match outcome {
        Ok(Ok(())) => return OK,
        Ok(Err(Stop::Trapped)) => return TRAPPED,
        Ok(Err(Stop::Trap(trap))) => trap,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Trap::Host { function: "internal error".into(), message }
        }
    };
    // SAFETY: helpers are only called with the run's live context.
    unsafe { record(ctx, trap) };
    TRAPPED
}

/// Calls compiled function `func` with `args` (borrowed); its result.
///
/// # Safety
/// `ctx` is the live context; `args` fit `func`'s parameters (checked by
/// the caller).
unsafe fn call_function(ctx: *mut Ctx, func: FuncId, args: &[Value]) -> Result<Value, Stop> {
    // SAFETY: `trampolines` has an entry per function, each a compiled
    // `extern "C" fn(*mut Ctx, *const Value, *mut Value)`.
    let entry: extern "C" fn(*mut Ctx, *const Value, *mut Value) =
        unsafe { std::mem::transmute(*(*ctx).trampolines.add(func.as_u32() as usize)) };
    let mut out = Value::Null;
    entry(ctx, args.as_ptr(), &mut out);
    // SAFETY: the context is live.
    if unsafe { (*ctx).trapped } != 0 { Err(Stop::Trapped) } else { Ok(out) }
}

/// The trampoline of a function the runtime was not expected to call (see
/// `entered_from_runtime`): a trap, not a jump to nowhere.
///
/// # Safety
/// `ctx` is the live context.
pub unsafe extern "C" fn mir13_not_entered(ctx: *mut Ctx, _args: *const Value, _out: *mut Value) {
    guard(ctx, || {
        Err(Stop::Trap(Trap::Host {
            function: "internal error".into(),
            message: "the JIT compiled no entry for a function the runtime called".into(),
        }))
    });
}

/// Checks a dynamic call's arguments against `func`, then makes it.
///
/// # Safety
/// `ctx` is the live context.
unsafe fn call_checked(ctx: *mut Ctx, func: FuncId, args: &[Value]) -> Result<Value, Stop> {
    {
        // SAFETY: used before the call below.
        let rt = unsafe { rt(ctx) };
        let meta = rt.info.func(func);
        if args.len() != meta.params.len() {
            let callee = format!("@{}", meta.name);
            return Err(Trap::Arity { callee, expected: meta.params.len(), got: args.len() }.into());
        }
        for (&arg, &ty) in args.iter().zip(&meta.params) {
            rt.unbox(arg, ty)?;
        }
    }
    // SAFETY: the arguments fit.
    unsafe { call_function(ctx, func, args) }
}

/// Releases what is queued above `base`, running `fini`s as they come.
///
/// # Safety
/// `ctx` is the live context.
unsafe fn drive(ctx: *mut Ctx, base: usize) -> Result<(), Stop> {
    loop {
        // SAFETY: used before the call below.
        let Some(request) = (unsafe { rt(ctx) }).heap.drive(base) else { return Ok(()) };
        let obj = Value::Obj(request.obj);
        // SAFETY: `fini` takes the object.
        unsafe { call_function(ctx, request.func, &[obj])? };
        // SAFETY: after the call.
        unsafe { rt(ctx) }.heap.push_release(obj);
    }
}

/// Records a trap raised by compiled code (`TRAP_*`).
///
/// # Safety
/// Called by compiled code with the live context.
pub unsafe extern "C" fn mir13_trap(ctx: *mut Ctx, code: u32) {
    let trap = match code {
        TRAP_DIVISION_BY_ZERO => Trap::DivisionByZero,
        TRAP_INTEGER_OVERFLOW => Trap::IntegerOverflow,
        _ => Trap::StackOverflow,
    };
    guard(ctx, || Err(trap.into()));
}

/// Records a failed unboxing: `(tag, payload)` is not a `want` (0 i64,
/// 1 f64, 2 bool).
///
/// # Safety
/// Called by compiled code with the live context and a valid value.
pub unsafe extern "C" fn mir13_unbox_failed(ctx: *mut Ctx, want: u32, tag: u64, payload: u64) {
    guard(ctx, || {
        // SAFETY: compiled code passes a live value.
        let v = unsafe { Value::from_raw(tag as u8, payload) };
        let expected = ["IntegerBox", "FloatBox", "BoolBox"][(want as usize).min(2)];
        // SAFETY: no call into compiled code follows.
        Err(Trap::Expected { expected, got: unsafe { rt(ctx) }.class_name(v) }.into())
    });
}

/// A safepoint's slow path: out of fuel, or the interrupt flag is raised.
///
/// # Safety
/// Called by compiled code with the live context.
pub unsafe extern "C" fn mir13_safepoint(ctx: *mut Ctx) -> u32 {
    // SAFETY: no call into compiled code follows.
    guard(ctx, || Ok(unsafe { rt(ctx) }.safepoint()?))
}

/// Drops the last strong reference to the object at `addr`.
///
/// # Safety
/// Called by compiled code with the live context and a live object.
pub unsafe extern "C" fn mir13_release(ctx: *mut Ctx, addr: u64) -> u32 {
    guard(ctx, || {
        // SAFETY: compiled code passes a live object it holds a reference to.
        let obj = unsafe { ObjRef::from_addr(addr as usize) };
        // SAFETY: used before `drive`.
        let heap = &mut unsafe { rt(ctx) }.heap;
        let base = heap.release_base();
        heap.push_release(Value::Obj(obj));
        // SAFETY: the live context.
        unsafe { drive(ctx, base) }
    })
}

/// `length()` of the StringBox at `addr`; it cannot fail.
///
/// # Safety
/// Called by compiled code with a live StringBox.
pub unsafe extern "C" fn mir13_string_length(addr: u64) -> i64 {
    // SAFETY: compiled code checked the kind and holds a reference.
    let obj = unsafe { ObjRef::from_addr(addr as usize) };
    obj.string_chars() as i64
}

/// A box comparison (§3): returns 0 or 1, or 2 after a trap.
///
/// # Safety
/// Called by compiled code with the live context and valid values.
pub unsafe extern "C" fn mir13_compare(ctx: *mut Ctx, op: u32, a_tag: u64, a: u64, b_tag: u64, b: u64) -> u32 {
    let mut result = 0;
    let status = guard(ctx, || {
        // SAFETY: compiled code passes live values.
        let (x, y) = unsafe { (Value::from_raw(a_tag as u8, a), Value::from_raw(b_tag as u8, b)) };
        let op = CompareOp::ALL[op as usize];
        // SAFETY: no call into compiled code follows.
        result = unsafe { rt(ctx) }.compare_boxes(op, x, y)? as u32;
        Ok(())
    });
    if status == OK { result } else { 2 }
}

/// f64 operations without a native instruction: 0 `rem`, 1 `round`
/// (half away from zero), 2 `sin`, 3 `cos`, 4 `tan`, 5 `exp`, 6 `ln`.
pub extern "C" fn mir13_math(op: u32, x: f64, y: f64) -> f64 {
    match op {
        0 => x % y,
        1 => x.round(),
        2 => x.sin(),
        3 => x.cos(),
        4 => x.tan(),
        5 => x.exp(),
        _ => x.ln(),
    }
}

/// A call through the runtime: `site` says which (a boxcall, an externcall,
/// a function value, a `typeop is`). `args` are the arguments (the receiver
/// or callee first), borrowed; the result is written to `out`, checked
/// against the site's result type; an unbound result is released.
///
/// # Safety
/// Called by compiled code with the live context, `nargs` valid values at
/// `args`, and a writable `out`.
pub unsafe extern "C" fn mir13_call(ctx: *mut Ctx, site: u32, args: *const Value, nargs: u32, out: *mut Value) -> u32 {
    guard(ctx, || {
        // SAFETY: the arguments are `nargs` values written by compiled code;
        // the site table lives as long as the compiled code.
        let (site_index, args, site) = unsafe {
            (site as usize, std::slice::from_raw_parts(args, nargs as usize), &*(*ctx).sites.add(site as usize))
        };
        // SAFETY: before any call into compiled code.
        let base = unsafe { rt(ctx) }.heap.release_base();
        // SAFETY: the live context.
        let done = match site.fast {
            Some(op) => unsafe { fast(ctx, op, site, args)? },
            None => None,
        };
        let (value, receiver) = match done {
            Some(done) => done,
            // SAFETY: the live context.
            None => unsafe { dynamic(ctx, site_index, site, args)? },
        };
        // SAFETY: the live context; `out` is writable.
        unsafe { finish(ctx, site, base, value, receiver, out) }
    })
}

/// Runs `op`, the runtime's fast path for a MapBox (or, for `concat`,
/// StringBox) method, as the VM does: its result and the handed-over
/// receiver it did not take. `None` if the receiver or the arguments do
/// not fit: nothing has happened then, and the caller makes the general
/// call. Compiled code asks for `set`, `delete` and `concat` only when
/// their result fits the site's type.
///
/// # Safety
/// The live context; `args` hold the receiver and the method's arguments.
unsafe fn fast(ctx: *mut Ctx, op: FastOp, site: &Site, args: &[Value]) -> Result<Option<(Value, Option<Value>)>, Stop> {
    let SiteKind::Method { owned, .. } = site.kind else { return Ok(None) };
    let recv = args[0];
    // SAFETY: no call into compiled code here.
    let rt = unsafe { rt(ctx) };
    let done = match op {
        FastOp::MapGet => Runtime::map_peek(recv, args[1]).map(|v| Ok(v.retain())),
        FastOp::MapSet => rt.map_set(recv, args[1], args[2]).map(|done| done.map(|()| Value::Null)),
        FastOp::MapHas => Runtime::map_has(recv, args[1]).map(|has| Ok(Value::Bool(has))),
        FastOp::MapDelete => rt.map_delete(recv, args[1]).map(|found| Ok(Value::Bool(found))),
        FastOp::MapSize => Runtime::map_size(recv).map(|n| Ok(Value::I64(n))),
        FastOp::Concat => {
            return Ok(rt.string_concat(recv, owned, args[1]).transpose()?.map(|call| {
                let left = (owned && !call.took_receiver).then_some(recv);
                (call.value, left)
            }));
        }
    };
    let left = owned.then_some(recv);
    Ok(done.transpose()?.map(|value| (value, left)))
}

/// Completes a call through the runtime as the other backends do (§6):
/// checks the result against the site's type, stores it in `out` or, if
/// unbound, releases it first, then what the call queued since `base`,
/// then the handed-over `receiver` it did not take.
///
/// # Safety
/// The live context; a writable `out`.
unsafe fn finish(
    ctx: *mut Ctx,
    site: &Site,
    base: usize,
    value: Value,
    receiver: Option<Value>,
    out: *mut Value,
) -> Result<(), Stop> {
    // SAFETY: no call into compiled code until `drive`.
    let rt = unsafe { rt(ctx) };
    let value = checked(rt, site, value)?;
    match site.ret {
        // SAFETY: `out` is writable.
        Some(_) => unsafe { out.write(value) },
        None => rt.heap.push_release(value),
    }
    rt.queue_after(base, receiver, &[]);
    if rt.heap.release_base() != base {
        // SAFETY: the live context.
        unsafe { drive(ctx, base)? };
    }
    Ok(())
}

/// Runs a dynamic site: its owned result, and the handed-over receiver it
/// did not take. Releases the call queued stay queued (see [`finish`]).
///
/// # Safety
/// The live context.
unsafe fn dynamic(ctx: *mut Ctx, index: usize, site: &Site, args: &[Value]) -> Result<(Value, Option<Value>), Stop> {
    type Args = SmallVec<[Value; 8]>;
    let value = match &site.kind {
        SiteKind::Indirect => match args[0] {
            // SAFETY: the live context.
            Value::Func(f) => unsafe { call_checked(ctx, f, &args[1..])? },
            other => {
                // SAFETY: no call follows.
                let got = unsafe { rt(ctx) }.class_name(other);
                return Err(Trap::Expected { expected: "FunctionBox", got }.into());
            }
        },
        SiteKind::Is { class } => Value::Bool(unsafe { rt(ctx) }.is_instance(args[0], *class)),
        SiteKind::Extern { host } => {
            // SAFETY: `call_host` runs no MIR.
            let rt = unsafe { rt(ctx) };
            // SAFETY: the live context.
            let id = unsafe { (&(*ctx).hosts)[*host as usize] };
            let params = rt.host().sig(id).params.clone();
            let mut converted = Args::new();
            for (&a, &ty) in args.iter().zip(&params) {
                converted.push(rt.unbox(a, ty)?);
            }
            rt.call_host(id, &converted)?
        }
        SiteKind::Static { class, method } => {
            // SAFETY: before any call into compiled code.
            match unsafe { rt(ctx) }.call_static(*class, *method, args)? {
                StaticResult::Value(v) => v,
                StaticResult::Birth { obj, func } => {
                    let full: Args = std::iter::once(obj).chain(args.iter().copied()).collect();
                    // SAFETY: the live context.
                    let returned = unsafe { call_checked(ctx, func, &full)? };
                    // SAFETY: after the call.
                    unsafe { rt(ctx) }.heap.push_release(returned);
                    obj
                }
            }
        }
        SiteKind::Method { method, owned } => {
            let (recv, rest) = (args[0], &args[1..]);
            let owned = *owned;
            // SAFETY: the live context.
            return match unsafe { dispatch(ctx, index, site, recv, *method)? } {
                Target::Builtin(m) => {
                    // SAFETY: builtins run no MIR.
                    let call = unsafe { rt(ctx) }.call_builtin(recv, owned, m, rest)?;
                    Ok((call.value, (owned && !call.took_receiver).then_some(recv)))
                }
                Target::Field { obj, slot, set } => {
                    // SAFETY: field access runs no MIR.
                    let rt = unsafe { rt(ctx) };
                    let value = if set {
                        rt.set_field(obj, slot, rest[1]);
                        Value::Null
                    } else {
                        rt.get_field(obj, slot)
                    };
                    Ok((value, owned.then_some(recv)))
                }
                Target::Mir { func, with_receiver } => {
                    let full: Args = if with_receiver {
                        std::iter::once(recv).chain(rest.iter().copied()).collect()
                    } else {
                        rest.iter().copied().collect()
                    };
                    // SAFETY: the live context.
                    let value = unsafe { call_checked(ctx, func, &full)? };
                    Ok((value, owned.then_some(recv)))
                }
            };
        }
    };
    Ok((value, None))
}

/// `value`, checked against the site's result type (it stays owned).
fn checked(rt: &Runtime, site: &Site, value: Value) -> Result<Value, Trap> {
    match site.ret {
        Some(ty) if !value.fits(ty) => rt.unbox(value, ty),
        _ => Ok(value),
    }
}

/// What a boxcall runs.
enum Target {
    Builtin(Method),
    /// `getField`/`setField` on a user box, with the field's slot.
    Field {
        obj: ObjRef,
        slot: usize,
        set: bool,
    },
    /// A MIR function: a user method (with the receiver) or `FunctionBox.call`.
    Mir {
        func: FuncId,
        with_receiver: bool,
    },
}

/// Dispatches a boxcall, through the site's inline cache for user boxes.
///
/// # Safety
/// The live context.
unsafe fn dispatch(
    ctx: *mut Ctx,
    index: usize,
    site: &Site,
    recv: Value,
    method: runtime::MethodRef,
) -> Result<Target, Stop> {
    // SAFETY: the live context; no call into compiled code here.
    let (rt, caches) = unsafe { (rt(ctx), &mut (*ctx).caches) };
    let user = recv.as_obj().filter(|o| o.kind() == runtime::Kind::User);
    let class = user.map(|o| o.user().class);
    if let (Some(obj), Some(class), Some((cached, target))) = (user, class, caches[index])
        && class == cached
    {
        return Ok(match target {
            CacheTarget::Method(func) => Target::Mir { func, with_receiver: true },
            CacheTarget::Field(slot) => Target::Field { obj, slot, set: method.builtin == Some(Method::SetField) },
        });
    }
    // A built-in method on a built-in receiver (what `Runtime::dispatch`
    // would answer) without the call, whose large result goes through memory.
    if let (None, false, Some(m)) = (user, matches!(recv, Value::Null | Value::Func(_)), method.builtin) {
        return Ok(Target::Builtin(m));
    }
    let dispatch = rt.dispatch(recv, method)?;
    Ok(match (dispatch, user, class) {
        (Dispatch::User(func), _, Some(class)) => {
            caches[index] = Some((class, CacheTarget::Method(func)));
            Target::Mir { func, with_receiver: true }
        }
        (Dispatch::User(func), _, None) => Target::Mir { func, with_receiver: true },
        (Dispatch::Invoke(func), _, _) => Target::Mir { func, with_receiver: false },
        (Dispatch::Builtin(m @ (Method::GetField | Method::SetField)), Some(obj), Some(class)) => {
            match site.const_name.as_deref().and_then(|name| rt.field_of(obj, name)) {
                Some(slot) => {
                    caches[index] = Some((class, CacheTarget::Field(slot)));
                    Target::Field { obj, slot, set: m == Method::SetField }
                }
                None => Target::Builtin(m),
            }
        }
        (Dispatch::Builtin(m), _, _) => Target::Builtin(m),
    })
}
