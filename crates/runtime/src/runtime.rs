//! [`Runtime`]: the state of one run, shared by whichever backend executes
//! it: the heap, the program's classes, host functions, I/O and limits.
//!
//! # The release protocol
//!
//! Backends release references where the drop plan says, and run `fini`
//! when the heap asks. For an instruction:
//!
//! 1. `let base = rt.heap.release_base()` before executing it;
//! 2. execute it (a built-in may queue references it replaced);
//! 3. [`Runtime::queue_after`]`(base, ...)` the receiver if it was handed
//!    over and not reused, then the plan's releases;
//! 4. `rt.heap.drive(base)`, and for each [`crate::FiniRequest`] call the
//!    `fini` function with the object, push the object back
//!    ([`crate::Heap::push_release`]) and drive again.
//!
//! This keeps the order of §6 on every backend: what a built-in replaced,
//! then the receiver, then the other values dying there, in definition order.

use crate::display;
use crate::heap::{ArrayBody, Heap, Kind, Stats, StrBody, ValueVec};
use crate::host::{HostId, HostRegistry};
use crate::meta::ProgramInfo;
use crate::trap::Trap;
use crate::value::{Class, Value};
use mir::{BuiltinClass, ClassRef, CompareOp, Program, Type};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default `--max-depth` (§10).
pub const DEFAULT_MAX_DEPTH: u32 = 100_000;

/// The deepest `max_depth` a run accepts: every backend holds that many
/// frames (the JIT's thread gets 2 KiB of stack a call, up to 1 GiB), so a
/// runaway recursion ends at the depth limit, the same on all of them,
/// rather than when memory runs out.
pub const MAX_DEPTH: u32 = 500_000;

/// Limits and capabilities of a run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Safepoint passes allowed before `out of fuel`.
    pub fuel: Option<u64>,
    /// Wall time allowed before `timeout`.
    pub timeout: Option<Duration>,
    /// Calls deeper than this trap `stack overflow` (`@main` is depth 1);
    /// at most [`MAX_DEPTH`].
    pub max_depth: u32,
    /// Bytes objects may hold before `out of memory`.
    pub max_memory: Option<usize>,
    /// Whether `env.fs.*` may touch the file system.
    pub allow_fs: bool,
    /// What `env.process.args` returns.
    pub args: Vec<String>,
    /// Lets another thread stop the run with `interrupted`.
    pub interrupt: InterruptHandle,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            fuel: None,
            timeout: None,
            max_depth: DEFAULT_MAX_DEPTH,
            max_memory: None,
            allow_fs: false,
            args: Vec::new(),
            interrupt: InterruptHandle::new(),
        }
    }
}

/// Why a safepoint stops the run; 0 means "go on".
const RUNNING: u8 = 0;
const TIMED_OUT: u8 = 1;
const INTERRUPTED: u8 = 2;

/// Stops a run from another thread: the next safepoint traps `interrupted`.
#[derive(Clone, Debug, Default)]
pub struct InterruptHandle(Arc<AtomicU8>);

impl InterruptHandle {
    /// A handle not yet raised.
    pub fn new() -> InterruptHandle {
        InterruptHandle(Arc::new(AtomicU8::new(RUNNING)))
    }

    /// Asks the run to stop at its next safepoint.
    pub fn interrupt(&self) {
        let _ = self.0.compare_exchange(RUNNING, INTERRUPTED, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The flag a safepoint polls (for backends that poll it directly).
    pub fn flag(&self) -> &AtomicU8 {
        &self.0
    }
}

/// Raises the timeout flag at the deadline; dropping it cancels the timer.
struct Watchdog {
    cancel: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(timeout: Duration, flag: Arc<AtomicU8>) -> Watchdog {
        if timeout.is_zero() {
            // Already past: the first safepoint traps, on every run (a timer
            // thread would race the run's first safepoints).
            let _ = flag.compare_exchange(RUNNING, TIMED_OUT, Ordering::Relaxed, Ordering::Relaxed);
            return Watchdog { cancel: None, thread: None };
        }
        let (cancel, cancelled) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(timeout) {
                let _ = flag.compare_exchange(RUNNING, TIMED_OUT, Ordering::Relaxed, Ordering::Relaxed);
            }
        });
        Watchdog { cancel: Some(cancel), thread: Some(thread) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.cancel.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Where a run reads and writes. `Send`, so a run can happen on a thread
/// of its own (the JIT's, with a large stack).
pub struct Io {
    pub stdout: Box<dyn Write + Send>,
    pub stderr: Box<dyn Write + Send>,
    pub stdin: Box<dyn BufRead + Send>,
}

impl Io {
    /// The process's standard streams (stdout buffered).
    pub fn std() -> Io {
        Io {
            stdout: Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout())),
            stderr: Box::new(std::io::stderr()),
            stdin: Box::new(std::io::BufReader::new(std::io::stdin())),
        }
    }

    /// In-memory streams: `stdin` is read from; output goes to the shared
    /// buffers, for embedding and tests.
    pub fn capture(stdin: &[u8], stdout: Arc<Mutex<Vec<u8>>>, stderr: Arc<Mutex<Vec<u8>>>) -> Io {
        Io {
            stdout: Box::new(SharedBuffer(stdout)),
            stderr: Box::new(SharedBuffer(stderr)),
            stdin: Box::new(std::io::Cursor::new(stdin.to_vec())),
        }
    }
}

/// A `Write` into a shared byte buffer.
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned buffer"))?.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The state of one run.
pub struct Runtime {
    pub heap: Heap,
    pub info: ProgramInfo,
    program: Arc<Program>,
    host: Arc<HostRegistry>,
    pub(crate) io: Io,
    pub(crate) args: Vec<String>,
    pub(crate) allow_fs: bool,
    /// Safepoint passes left (`u64::MAX` without a limit).
    fuel: u64,
    interrupt: InterruptHandle,
    /// Calls deeper than this trap `stack overflow`.
    pub max_depth: u32,
    pub(crate) started: Instant,
    _watchdog: Option<Watchdog>,
}

impl Runtime {
    /// A runtime for `program`, with host functions from `host`.
    pub fn new(program: Arc<Program>, host: Arc<HostRegistry>, config: RunConfig, io: Io) -> Runtime {
        let info = ProgramInfo::new(&program);
        let mut heap = Heap::new(config.max_memory);
        heap.set_classes(info.layouts());
        let watchdog = config.timeout.map(|t| Watchdog::start(t, config.interrupt.0.clone()));
        Runtime {
            heap,
            info,
            program,
            host,
            io,
            args: config.args,
            allow_fs: config.allow_fs,
            fuel: config.fuel.unwrap_or(u64::MAX),
            interrupt: config.interrupt,
            max_depth: config.max_depth,
            started: Instant::now(),
            _watchdog: watchdog,
        }
    }

    /// The program being run.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// The host functions.
    pub fn host(&self) -> &Arc<HostRegistry> {
        &self.host
    }

    /// A safepoint pass (§10): charges fuel and polls the interrupt flag.
    #[inline]
    pub fn safepoint(&mut self) -> Result<(), Trap> {
        if self.fuel == 0 {
            return Err(Trap::OutOfFuel);
        }
        if self.fuel != u64::MAX {
            self.fuel -= 1;
        }
        self.poll_interrupt()
    }

    /// The interrupt flag's trap, if it is raised (a timeout or the host).
    #[inline]
    pub fn poll_interrupt(&self) -> Result<(), Trap> {
        interrupt_trap(self.interrupt.flag().load(Ordering::Relaxed))
    }

    /// [`Runtime::poll_interrupt`] as a function that does not borrow the
    /// runtime, for work that holds a part of it (reading its input).
    pub fn interrupt_poll(&self) -> impl Fn() -> Result<(), Trap> + use<> {
        let handle = self.interrupt.clone();
        move || interrupt_trap(handle.flag().load(Ordering::Relaxed))
    }

    /// Bytes `--max-memory` still allows (all of them without a limit).
    pub fn memory_left(&self) -> usize {
        self.heap.limit().map_or(usize::MAX, |limit| limit.saturating_sub(self.heap.live_bytes()))
    }

    /// For long kernels: whether the run may go on (no interrupt raised).
    pub fn not_interrupted(&self) -> impl Fn() -> bool + use<> {
        let poll = self.interrupt_poll();
        move || poll().is_ok()
    }

    /// Where compiled code finds the fuel counter and the interrupt flag, to
    /// take a safepoint's fast path inline: while the fuel is not 0 and the
    /// flag is 0, a pass only decrements the fuel (unless it is `u64::MAX`,
    /// unlimited); otherwise it must call [`Runtime::safepoint`].
    pub fn safepoint_cells(&mut self) -> (*mut u64, *const AtomicU8) {
        (&mut self.fuel, self.interrupt.flag())
    }

    /// Whether the run has a fuel limit.
    pub fn has_fuel_limit(&self) -> bool {
        self.fuel != u64::MAX
    }

    /// Heap counters for `--stats`.
    pub fn stats(&self) -> Stats {
        self.heap.stats()
    }

    /// A new StringBox.
    pub fn new_string(&mut self, text: String) -> Result<Value, Trap> {
        Ok(Value::Obj(self.heap.alloc(StrBody::new(text))?))
    }

    /// A new ArrayBox taking over the references in `items`.
    pub fn new_array(&mut self, items: Vec<Value>) -> Result<Value, Trap> {
        Ok(Value::Obj(self.heap.alloc(ArrayBody::new(ValueVec::from_vec(items)))?))
    }

    /// Queues, under anything a built-in queued since `base`, the receiver
    /// (if given) and then `values`, so [`Heap::drive`] releases them in the
    /// order of §6.
    pub fn queue_after(&mut self, base: usize, receiver: Option<Value>, values: &[Value]) {
        let receiver = receiver.filter(|v| v.as_obj().is_some());
        if receiver.is_none() && values.is_empty() {
            return;
        }
        if self.heap.release_base() == base {
            self.heap.push_releases(receiver.into_iter().chain(values.iter().copied()));
            return;
        }
        let mut queued: Vec<Value> = Vec::new();
        self.heap.take_above(base, &mut queued);
        self.heap.push_releases(receiver.into_iter().chain(values.iter().copied()));
        for v in queued {
            self.heap.push_release(v);
        }
    }

    /// The class name of a value, as messages show it.
    pub fn class_name(&self, v: Value) -> String {
        match v.class() {
            Class::Builtin(b) => b.name().to_string(),
            Class::User(id) => self.info.class(id).name.clone(),
        }
    }

    /// The display form of a value (§8). The text counts against
    /// `--max-memory` while it is written, and a long one polls for an
    /// interrupt or a timeout (see [`display::Budget`]).
    pub fn display(&self, v: Value) -> Result<String, Trap> {
        let mut out = String::new();
        self.display_into(v, &mut out)?;
        Ok(out)
    }

    /// Appends the display form of `v` to `out`, as [`Runtime::display`].
    pub fn display_into(&self, v: Value, out: &mut String) -> Result<(), Trap> {
        let poll = || self.poll_interrupt();
        display::display(&self.info, v, out, &display::Budget { max_bytes: self.memory_left(), poll: &poll })
    }

    /// Checks that `v` can stand where MIR type `ty` is expected: a checked
    /// unboxing for scalars (§4); anything fits a `box`.
    pub fn unbox(&self, v: Value, ty: Type) -> Result<Value, Trap> {
        if v.fits(ty) {
            return Ok(v);
        }
        let expected = match ty {
            Type::I64 => "IntegerBox",
            Type::F64 => "FloatBox",
            Type::Bool => "BoolBox",
            Type::Box => unreachable!("every value fits a box"),
        };
        Err(Trap::Expected { expected, got: self.class_name(v) })
    }

    /// `typeop is`: whether `v` is an instance of `class`.
    pub fn is_instance(&self, v: Value, class: ClassRef) -> bool {
        match (v.class(), class) {
            (Class::Builtin(a), ClassRef::Builtin(b)) => a == b,
            (Class::User(a), ClassRef::User(b)) => a == b,
            _ => false,
        }
    }

    /// `compare` on two boxes (§3): equality by value for scalars, strings
    /// and functions, by identity otherwise; ordering of strings and of
    /// numbers of one kind, a trap for anything else.
    pub fn compare_boxes(&self, op: CompareOp, a: Value, b: Value) -> Result<bool, Trap> {
        match op {
            CompareOp::Eq => return Ok(boxes_equal(a, b)),
            CompareOp::Ne => return Ok(!boxes_equal(a, b)),
            _ => {}
        }
        match (a, b) {
            (Value::I64(x), Value::I64(y)) => Ok(crate::ops::compare(op, x, y)),
            (Value::F64(x), Value::F64(y)) => Ok(crate::ops::compare(op, x, y)),
            _ => match (a.as_str(), b.as_str()) {
                (Some(x), Some(y)) => Ok(crate::ops::compare(op, x.as_bytes(), y.as_bytes())),
                _ => Err(Trap::CannotOrder(self.class_name(a), self.class_name(b))),
            },
        }
    }

    /// Looks up a host function by name.
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        self.host.id(name)
    }

    /// Calls a host function with arguments already converted to its
    /// parameter types; returns an owned result.
    pub fn call_host(&mut self, id: HostId, args: &[Value]) -> Result<Value, Trap> {
        let host = Arc::clone(&self.host);
        host.call(id, self, args)
    }

    /// Flushes standard output (before a trap report, and at exit).
    pub fn flush(&mut self) {
        let _ = self.io.stdout.flush();
    }

    /// Writes to the run's standard error (flushing stdout first, so the
    /// two interleave as the program wrote them).
    pub fn write_stderr(&mut self, text: &str) {
        let _ = self.io.stdout.flush();
        let _ = self.io.stderr.write_all(text.as_bytes());
        let _ = self.io.stderr.flush();
    }

    /// Whether `v` is an object of `kind`.
    pub fn is_kind(v: Value, kind: Kind) -> bool {
        v.as_obj().is_some_and(|o| o.kind() == kind)
    }

    /// The built-in class of `v`, if it is not a user box.
    pub fn builtin_class(v: Value) -> Option<BuiltinClass> {
        match v.class() {
            Class::Builtin(b) => Some(b),
            Class::User(_) => None,
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Box equality of §3: scalars of one kind, strings and functions by value,
/// `null` equals `null`, everything else by identity.
pub fn boxes_equal(a: Value, b: Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::I64(x), Value::I64(y)) => x == y,
        (Value::F64(x), Value::F64(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Func(x), Value::Func(y)) => x == y,
        (Value::Obj(x), Value::Obj(y)) => x == y || matches!((a.as_str(), b.as_str()), (Some(s), Some(t)) if s == t),
        _ => false,
    }
}

/// The trap an interrupt flag's state calls for, if any.
#[inline]
fn interrupt_trap(flag: u8) -> Result<(), Trap> {
    match flag {
        RUNNING => Ok(()),
        TIMED_OUT => Err(Trap::Timeout),
        _ => Err(Trap::Interrupted),
    }
}
