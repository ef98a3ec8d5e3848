//! Host functions callable with `externcall` (§9).
//!
//! A [`HostRegistry`] maps dotted names to functions with signatures. The
//! verifier checks every `externcall` against the signatures before the
//! program runs. Embedders register ordinary Rust closures; the conversions
//! between MIR values and Rust types come from the closure's signature:
//!
//! ```
//! let mut host = runtime::HostRegistry::standard();
//! host.register("env.math.hypot", |x: f64, y: f64| x.hypot(y));
//! host.register("env.text.shout", |s: String| s.to_uppercase());
//! ```
//!
//! Parameters may be `i64`, `f64`, `bool`, `String` (a StringBox) or
//! [`Value`]; results any of those, `()`, `Option<T>` (`None` is `null`) or
//! `Result<T, E>` (`Err` traps with `E`'s message).

use crate::runtime::Runtime;
use crate::trap::Trap;
use crate::value::Value;
use indexmap::IndexMap;
use mir::{ExternSig, ExternSigs, Type};
use std::fmt::Display;
use std::io::{BufRead, Write};
use std::sync::Arc;

/// A host function body: borrowed arguments (already checked against the
/// signature) in, an owned result out.
pub type HostCallback = dyn Fn(&mut Runtime, &[Value]) -> Result<Value, Trap> + Send + Sync;

/// The index of a host function in its registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostId(u32);

#[derive(Clone)]
struct HostFn {
    sig: ExternSig,
    body: Arc<HostCallback>,
}

/// Host functions by name.
#[derive(Clone, Default)]
pub struct HostRegistry {
    fns: IndexMap<String, HostFn>,
}

impl HostRegistry {
    /// A registry with no functions.
    pub fn empty() -> HostRegistry {
        HostRegistry::default()
    }

    /// A registry with the standard functions of §9.
    pub fn standard() -> HostRegistry {
        let mut host = HostRegistry::empty();
        host.register_raw("env.console.log", &[Type::Box], None, |rt, args| {
            let text = rt.display(args[0])?;
            write_out(rt, &text, true)
        });
        host.register_raw("env.console.print", &[Type::Box], None, |rt, args| {
            let text = rt.display(args[0])?;
            write_out(rt, &text, false)
        });
        host.register_raw("env.console.error", &[Type::Box], None, |rt, args| {
            let text = rt.display(args[0])? + "\n";
            rt.write_stderr(&text);
            Ok(Value::Null)
        });
        host.register_raw("env.io.readLine", &[], Some(Type::Box), |rt, _| {
            rt.flush();
            let (left, poll) = (rt.memory_left(), rt.interrupt_poll());
            let Some(line) = read_bounded("env.io.readLine", &mut *rt.io.stdin, true, left, &poll)? else {
                return Ok(Value::Null);
            };
            let trimmed = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
            let text = trimmed.map(String::from).unwrap_or(line);
            rt.new_string(text)
        });
        host.register_raw("env.time.nowNanos", &[], Some(Type::I64), |rt, _| {
            Ok(Value::I64(rt.started.elapsed().as_nanos().min(i64::MAX as u128) as i64))
        });
        host.register_raw("env.process.args", &[], Some(Type::Box), |rt, _| {
            let args = rt.args.clone();
            let mut items = Vec::with_capacity(args.len());
            for arg in args {
                items.push(rt.new_string(arg)?);
            }
            rt.new_array(items)
        });
        host.register_raw("env.fs.readFile", &[Type::Box], Some(Type::Box), |rt, args| {
            let path = fs_path(rt, "env.fs.readFile", args[0])?;
            let file = std::fs::File::open(&path).map_err(|e| host_error("env.fs.readFile", e))?;
            let (left, poll) = (rt.memory_left(), rt.interrupt_poll());
            let mut reader = std::io::BufReader::new(file);
            let text = read_bounded("env.fs.readFile", &mut reader, false, left, &poll)?.unwrap_or_default();
            rt.new_string(text)
        });
        host.register_raw("env.fs.writeFile", &[Type::Box, Type::Box], None, |rt, args| {
            let path = fs_path(rt, "env.fs.writeFile", args[0])?;
            let text = rt.display(args[1])?;
            std::fs::write(&path, text).map_err(|e| host_error("env.fs.writeFile", e))?;
            Ok(Value::Null)
        });
        host.register_raw("env.runtime.checkpoint", &[], None, |rt, _| {
            rt.safepoint()?;
            Ok(Value::Null)
        });
        host
    }

    /// Registers a Rust function or closure under `name`; its signature
    /// and conversions come from its parameter and result types. A later
    /// registration of the same name replaces the earlier one.
    pub fn register<Args, R>(&mut self, name: &str, f: impl IntoHostFn<Args, R>) -> &mut Self {
        let (sig, body) = f.into_host_fn(name);
        self.fns.insert(name.to_string(), HostFn { sig, body });
        self
    }

    /// Registers a function working directly on runtime values, with an
    /// explicit signature. It gets the run's [`Runtime`] (output, heap).
    pub fn register_raw(
        &mut self,
        name: &str,
        params: &[Type],
        ret: Option<Type>,
        body: impl Fn(&mut Runtime, &[Value]) -> Result<Value, Trap> + Send + Sync + 'static,
    ) -> &mut Self {
        let sig = ExternSig { params: params.to_vec(), ret };
        self.fns.insert(name.to_string(), HostFn { sig, body: Arc::new(body) });
        self
    }

    /// The id of the function called `name`.
    pub fn id(&self, name: &str) -> Option<HostId> {
        self.fns.get_index_of(name).map(|i| HostId(i as u32))
    }

    /// The signature of a function.
    pub fn sig(&self, id: HostId) -> &ExternSig {
        &self.fns[id.0 as usize].sig
    }

    /// Names of all registered functions, in registration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fns.keys().map(String::as_str)
    }

    /// Calls function `id`.
    pub(crate) fn call(&self, id: HostId, rt: &mut Runtime, args: &[Value]) -> Result<Value, Trap> {
        let body = Arc::clone(&self.fns[id.0 as usize].body);
        body(rt, args)
    }
}

impl ExternSigs for HostRegistry {
    fn signature(&self, name: &str) -> Option<&ExternSig> {
        self.fns.get(name).map(|f| &f.sig)
    }
}

fn write_out(rt: &mut Runtime, text: &str, newline: bool) -> Result<Value, Trap> {
    let out = &mut rt.io.stdout;
    let result = out.write_all(text.as_bytes()).and_then(|()| if newline { out.write_all(b"\n") } else { Ok(()) });
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(host_error("env.console.log", e)),
        _ => Ok(Value::Null),
    }
}

/// Reads `reader` to the end, or with `line` through the next `\n`; `None`
/// at the end of input. The bytes count against the `left` bytes that
/// `--max-memory` allows as they arrive, the buffer grows fallibly, and
/// every chunk polls for an interrupt or a timeout, so an endless input
/// (`/dev/zero`) traps instead of filling the machine.
fn read_bounded(
    function: &str,
    reader: &mut dyn BufRead,
    line: bool,
    left: usize,
    poll: &dyn Fn() -> Result<(), Trap>,
) -> Result<Option<String>, Trap> {
    let mut bytes = Vec::new();
    let mut ended = false;
    while !ended {
        let chunk = reader.fill_buf().map_err(|e| host_error(function, e))?;
        if chunk.is_empty() {
            if bytes.is_empty() && line {
                return Ok(None);
            }
            break;
        }
        let take = match chunk.iter().position(|&b| b == b'\n') {
            Some(at) if line => {
                ended = true;
                at + 1
            }
            _ => chunk.len(),
        };
        if bytes.len() + take > left {
            return Err(Trap::OutOfMemory);
        }
        bytes.try_reserve(take).map_err(|_| Trap::OutOfMemory)?;
        bytes.extend_from_slice(&chunk[..take]);
        reader.consume(take);
        poll()?;
    }
    String::from_utf8(bytes).map(Some).map_err(|_| host_error(function, "stream did not contain valid UTF-8"))
}

fn host_error(function: &str, e: impl Display) -> Trap {
    Trap::Host { function: function.into(), message: e.to_string() }
}

/// The path argument of an `env.fs` function, if the capability is granted.
fn fs_path(rt: &Runtime, function: &str, v: Value) -> Result<String, Trap> {
    if !rt.allow_fs {
        return Err(Trap::PermissionDenied(function.into()));
    }
    v.as_str().map(String::from).ok_or_else(|| Trap::Expected { expected: "StringBox", got: rt.class_name(v) })
}

/// A Rust type a host function can take as a parameter.
pub trait HostArg: Sized {
    /// The MIR type of the parameter.
    const TYPE: Type;
    /// Converts a checked argument.
    fn from_value(rt: &Runtime, v: Value) -> Result<Self, Trap>;
}

/// A Rust type a host function can return.
pub trait HostRet {
    /// The MIR result type (`None` for void).
    const TYPE: Option<Type>;
    /// Converts the result to an owned value.
    fn into_value(self, rt: &mut Runtime) -> Result<Value, Trap>;
}

impl HostArg for i64 {
    const TYPE: Type = Type::I64;
    fn from_value(rt: &Runtime, v: Value) -> Result<Self, Trap> {
        match rt.unbox(v, Type::I64)? {
            Value::I64(n) => Ok(n),
            _ => unreachable!("unbox checked the kind"),
        }
    }
}

impl HostArg for f64 {
    const TYPE: Type = Type::F64;
    fn from_value(rt: &Runtime, v: Value) -> Result<Self, Trap> {
        match rt.unbox(v, Type::F64)? {
            Value::F64(x) => Ok(x),
            _ => unreachable!("unbox checked the kind"),
        }
    }
}

impl HostArg for bool {
    const TYPE: Type = Type::Bool;
    fn from_value(rt: &Runtime, v: Value) -> Result<Self, Trap> {
        match rt.unbox(v, Type::Bool)? {
            Value::Bool(b) => Ok(b),
            _ => unreachable!("unbox checked the kind"),
        }
    }
}

impl HostArg for String {
    const TYPE: Type = Type::Box;
    fn from_value(rt: &Runtime, v: Value) -> Result<Self, Trap> {
        v.as_str().map(String::from).ok_or_else(|| Trap::Expected { expected: "StringBox", got: rt.class_name(v) })
    }
}

/// A borrowed value: valid for the call; to keep it, `retain` it.
impl HostArg for Value {
    const TYPE: Type = Type::Box;
    fn from_value(_: &Runtime, v: Value) -> Result<Self, Trap> {
        Ok(v)
    }
}

impl HostRet for () {
    const TYPE: Option<Type> = None;
    fn into_value(self, _: &mut Runtime) -> Result<Value, Trap> {
        Ok(Value::Null)
    }
}

impl HostRet for i64 {
    const TYPE: Option<Type> = Some(Type::I64);
    fn into_value(self, _: &mut Runtime) -> Result<Value, Trap> {
        Ok(Value::I64(self))
    }
}

impl HostRet for f64 {
    const TYPE: Option<Type> = Some(Type::F64);
    fn into_value(self, _: &mut Runtime) -> Result<Value, Trap> {
        Ok(Value::F64(self))
    }
}

impl HostRet for bool {
    const TYPE: Option<Type> = Some(Type::Bool);
    fn into_value(self, _: &mut Runtime) -> Result<Value, Trap> {
        Ok(Value::Bool(self))
    }
}

impl HostRet for String {
    const TYPE: Option<Type> = Some(Type::Box);
    fn into_value(self, rt: &mut Runtime) -> Result<Value, Trap> {
        rt.new_string(self)
    }
}

/// An owned value (it must carry its own reference).
impl HostRet for Value {
    const TYPE: Option<Type> = Some(Type::Box);
    fn into_value(self, _: &mut Runtime) -> Result<Value, Trap> {
        Ok(self)
    }
}

impl<T: HostRet> HostRet for Option<T> {
    const TYPE: Option<Type> = Some(Type::Box);
    fn into_value(self, rt: &mut Runtime) -> Result<Value, Trap> {
        self.map_or(Ok(Value::Null), |v| v.into_value(rt))
    }
}

impl<T: HostRet, E: Display> HostRet for Result<T, E> {
    const TYPE: Option<Type> = T::TYPE;
    fn into_value(self, rt: &mut Runtime) -> Result<Value, Trap> {
        match self {
            Ok(v) => v.into_value(rt),
            Err(e) => Err(Trap::Host { function: String::new(), message: e.to_string() }),
        }
    }
}

/// A Rust function usable as a host function; implemented for closures of
/// up to six [`HostArg`] parameters returning a [`HostRet`].
pub trait IntoHostFn<Args, R> {
    /// The signature and the body.
    fn into_host_fn(self, name: &str) -> (ExternSig, Arc<HostCallback>);
}

macro_rules! impl_into_host_fn {
    ($($arg:ident),*) => {
        impl<F, R, $($arg),*> IntoHostFn<($($arg,)*), R> for F
        where
            F: Fn($($arg),*) -> R + Send + Sync + 'static,
            R: HostRet,
            $($arg: HostArg,)*
        {
            #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments)]
            fn into_host_fn(self, name: &str) -> (ExternSig, Arc<HostCallback>) {
                let sig = ExternSig { params: vec![$($arg::TYPE),*], ret: R::TYPE };
                let name = name.to_string();
                let body = move |rt: &mut Runtime, args: &[Value]| -> Result<Value, Trap> {
                    let mut i = 0;
                    $(let $arg = $arg::from_value(rt, args[i])?; i += 1;)*
                    self($($arg),*).into_value(rt).map_err(|trap| match trap {
                        Trap::Host { function, message } if function.is_empty() => {
                            Trap::Host { function: name.clone(), message }
                        }
                        other => other,
                    })
                };
                (sig, Arc::new(body))
            }
        }
    };
}

impl_into_host_fn!();
impl_into_host_fn!(A1);
impl_into_host_fn!(A1, A2);
impl_into_host_fn!(A1, A2, A3);
impl_into_host_fn!(A1, A2, A3, A4);
impl_into_host_fn!(A1, A2, A3, A4, A5);
impl_into_host_fn!(A1, A2, A3, A4, A5, A6);
