//! The heap: refcounted objects, their release, weak references, and the
//! accounting behind `--stats` and `--max-memory`.
//!
//! Every object is one allocation: a [`Header`] (strong count, weak count,
//! kind, flags) followed by a kind-specific body. An [`ObjRef`] points at the
//! header. Counts are plain integers: the runtime is single-threaded, and the
//! JIT adjusts them inline.
//!
//! Releasing never recurses. A dying object's references go onto an explicit
//! release stack, so a million-element linked list is freed in a loop, and
//! when a user box with `fini` dies, [`Heap::drive`] stops and hands a
//! [`FiniRequest`] to the backend, which runs the MIR function and resumes.
//! Objects are destroyed depth-first in the order of §6: an object's `fini`
//! first, then its contents in order.
//!
//! All `unsafe` code of the runtime's object model lives in this module.

use crate::map::OrderedMap;
use crate::matrix::MatrixBody;
use crate::tensor::TensorBody;
use crate::trap::Trap;
use crate::value::Value;
use mir::{BoxId, FuncId};
use std::cell::{Cell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

/// The kind of a heap object; stored in its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Str,
    Array,
    Map,
    User,
    Matrix,
    Tensor,
}

/// The first field of every object.
#[repr(C)]
pub struct Header {
    /// Strong references. 0 once the object died.
    pub(crate) rc: Cell<u32>,
    /// Weak references; the allocation outlives the body while any remain.
    weak: Cell<u32>,
    pub(crate) kind: Kind,
    flags: Cell<u8>,
}

/// `fini` has run (it never runs twice, even if the object is resurrected).
const FINALIZED: u8 = 1;
/// The body was destroyed; only weak references keep the header.
const DEAD: u8 = 2;

#[repr(C)]
pub(crate) struct ObjBox<T> {
    header: Header,
    pub(crate) body: UnsafeCell<ManuallyDrop<T>>,
}

/// A reference to a heap object (not counted by itself; see [`Value`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjRef(NonNull<Header>);

impl std::fmt::Debug for ObjRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}@{:p}", self.kind(), self.0)
    }
}

/// A StringBox: immutable UTF-8 text (mutated only when unique, §6).
pub struct StrBody {
    text: String,
    /// Unicode scalar values in `text` ([`UNCOUNTED`] until first asked),
    /// so that `length()` and, on ASCII text (as many chars as bytes),
    /// `charAt` and `substring` cost O(1) instead of a scan per call.
    /// Counted lazily: most strings are never indexed.
    chars: Cell<usize>,
}

/// [`StrBody::chars`] before the first count.
const UNCOUNTED: usize = usize::MAX;

impl StrBody {
    /// The body of a StringBox holding `text`.
    pub fn new(text: String) -> StrBody {
        StrBody { text, chars: Cell::new(UNCOUNTED) }
    }

    /// Appends `tail`, which the caller has reserved room for.
    pub fn push_str(&mut self, tail: &str) {
        let chars = self.chars.get();
        if chars != UNCOUNTED {
            self.chars.set(chars + tail.chars().count());
        }
        self.text.push_str(tail);
    }

    /// The text's length in Unicode scalar values.
    pub fn chars(&self) -> usize {
        let mut chars = self.chars.get();
        if chars == UNCOUNTED {
            chars = self.text.chars().count();
            self.chars.set(chars);
        }
        chars
    }

    /// Reserves room for `extra` more bytes.
    pub fn try_reserve(&mut self, extra: usize) -> Result<(), std::collections::TryReserveError> {
        self.text.try_reserve(extra)
    }

    /// Bytes allocated for the text.
    pub fn capacity(&self) -> usize {
        self.text.capacity()
    }
}

/// An ArrayBox: a growable sequence of values it holds strong references to.
#[repr(C)]
pub struct ArrayBody {
    pub items: ValueVec,
    /// Set only while every element is an f64, so that compiled code may
    /// read one without checking its tag (see [`crate::layout::ARRAY_FLOATS`]).
    /// Every store of anything else clears it, through [`ArrayBody::note`];
    /// only a new or emptied array sets it again, so it may be clear while
    /// every element is an f64.
    pub floats: bool,
}

impl ArrayBody {
    /// An array of `items`.
    pub fn new(items: ValueVec) -> ArrayBody {
        let floats = items.iter().all(|v| matches!(v, Value::F64(_)));
        ArrayBody { items, floats }
    }

    /// Notes that `v` is being stored in the array: call it at every store.
    #[inline]
    pub fn note(&mut self, v: Value) {
        // A branch, not a store on every call: most arrays are one or the other.
        if self.floats && !matches!(v, Value::F64(_)) {
            self.floats = false;
        }
    }
}

/// A vector of values with a fixed layout (pointer, length, capacity), so
/// compiled code can index it inline (see [`crate::layout`]). It reads as
/// a slice; growth goes through [`ValueVec::with_vec`].
#[repr(C)]
pub struct ValueVec {
    pub(crate) ptr: NonNull<Value>,
    pub(crate) len: usize,
    pub(crate) cap: usize,
}

impl ValueVec {
    /// Takes over a vector's buffer.
    pub fn from_vec(items: Vec<Value>) -> ValueVec {
        let mut items = ManuallyDrop::new(items);
        let ptr = NonNull::new(items.as_mut_ptr()).expect("a vector's pointer is never null");
        ValueVec { ptr, len: items.len(), cap: items.capacity() }
    }

    /// Runs `f` on the elements as a `Vec` (to grow or shrink them).
    pub fn with_vec<R>(&mut self, f: impl FnOnce(&mut Vec<Value>) -> R) -> R {
        /// Puts the vector's parts back even if `f` unwinds.
        struct WriteBack<'a> {
            vec: ManuallyDrop<Vec<Value>>,
            target: &'a mut ValueVec,
        }
        impl Drop for WriteBack<'_> {
            fn drop(&mut self) {
                // Field by field: assigning a whole `ValueVec` would drop the
                // old one, whose buffer the `Vec` now owns.
                self.target.ptr = NonNull::new(self.vec.as_mut_ptr()).expect("a vector's pointer is never null");
                self.target.len = self.vec.len();
                self.target.cap = self.vec.capacity();
            }
        }
        // SAFETY: the parts came from a `Vec<Value>` and are only changed by
        // `WriteBack`, from a `Vec<Value>`; `ManuallyDrop` keeps one owner.
        let vec = unsafe { Vec::from_raw_parts(self.ptr.as_ptr(), self.len, self.cap) };
        let mut guard = WriteBack { vec: ManuallyDrop::new(vec), target: self };
        f(&mut guard.vec)
    }

    /// The buffer's capacity in elements.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Removes the last element.
    pub fn pop(&mut self) -> Option<Value> {
        self.with_vec(Vec::pop)
    }

    /// Removes the element at `i` (in bounds).
    pub fn remove(&mut self, i: usize) -> Value {
        self.with_vec(|v| v.remove(i))
    }
}

impl Default for ValueVec {
    fn default() -> Self {
        ValueVec::from_vec(Vec::new())
    }
}

impl std::ops::Deref for ValueVec {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        // SAFETY: `ptr` and `len` describe the initialised part of a buffer
        // this vector owns.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for ValueVec {
    fn deref_mut(&mut self) -> &mut [Value] {
        // SAFETY: as for `deref`, and `&mut self` is unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for ValueVec {
    fn drop(&mut self) {
        // SAFETY: the parts came from a `Vec<Value>` this vector owns.
        drop(unsafe { Vec::from_raw_parts(self.ptr.as_ptr(), self.len, self.cap) });
    }
}

/// A MapBox key: only these kinds may be keys (§7).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MapKey {
    Int(i64),
    Bool(bool),
    Str(Box<str>),
}

/// A MapBox: insertion-ordered, holding strong references to its values.
pub struct MapBody {
    pub entries: OrderedMap,
}

/// An instance of a user box: its class and one slot per field, laid out
/// so compiled code can read a field inline (see [`crate::layout`]).
#[repr(C)]
pub struct UserBody {
    pub class: BoxId,
    /// Field values in declaration order. A weak field's object is counted
    /// in its target's weak count, not its strong count.
    pub fields: ValueVec,
}

/// A body type stored in the heap.
pub trait Body: Sized {
    /// The kind recorded in the header.
    const KIND: Kind;
    /// Bytes this body owns outside the object (buffers), for accounting.
    fn heap_bytes(&self) -> usize;
}

impl Body for StrBody {
    const KIND: Kind = Kind::Str;
    fn heap_bytes(&self) -> usize {
        self.text.capacity()
    }
}

impl Body for ArrayBody {
    const KIND: Kind = Kind::Array;
    fn heap_bytes(&self) -> usize {
        self.items.capacity() * size_of::<Value>()
    }
}

impl Body for MapBody {
    const KIND: Kind = Kind::Map;
    fn heap_bytes(&self) -> usize {
        self.entries.heap_bytes()
    }
}

impl Body for UserBody {
    const KIND: Kind = Kind::User;
    fn heap_bytes(&self) -> usize {
        self.fields.len() * size_of::<Value>()
    }
}

impl ObjRef {
    fn header(&self) -> &Header {
        // SAFETY: an ObjRef is only made from a live allocation, and headers
        // are freed only when both counts are zero, after which no ObjRef to
        // it is reachable by the program.
        unsafe { self.0.as_ref() }
    }

    /// The object's kind.
    #[inline]
    pub fn kind(self) -> Kind {
        self.header().kind
    }

    /// The number of strong references.
    #[inline]
    pub fn rc(self) -> u32 {
        self.header().rc.get()
    }

    /// Adds a strong reference.
    #[inline]
    pub fn retain(self) {
        let h = self.header();
        h.rc.set(h.rc.get() + 1);
    }

    /// Whether the body is alive (false once released, even if weak
    /// references keep the header).
    pub fn is_alive(self) -> bool {
        self.header().flags.get() & DEAD == 0
    }

    /// Address of the header, for identity and hashing.
    pub fn addr(self) -> usize {
        self.0.as_ptr() as usize
    }

    /// The object at `addr`.
    ///
    /// # Safety
    /// `addr` must be [`ObjRef::addr`] of a live object.
    pub unsafe fn from_addr(addr: usize) -> ObjRef {
        // SAFETY: the caller passes a live object's (non-null) address.
        ObjRef(unsafe { NonNull::new_unchecked(addr as *mut Header) })
    }

    fn body_ptr<T: Body>(self) -> *mut T {
        debug_assert_eq!(self.kind(), T::KIND);
        let obj = self.0.cast::<ObjBox<T>>().as_ptr();
        // SAFETY: the kind says the allocation is an ObjBox<T>.
        unsafe { (*obj).body.get().cast::<T>() }
    }

    /// The body of an object of kind `T::KIND`.
    ///
    /// The reference must not be held across anything that may release
    /// this object, nor overlap a [`ObjRef::body_mut`] of the same object.
    #[inline]
    pub fn body<'a, T: Body>(self) -> &'a T {
        // SAFETY: see the contract above; the runtime keeps these borrows
        // local to one operation.
        unsafe { &*self.body_ptr::<T>() }
    }

    /// The body of an object of kind `T::KIND`, mutably. Same contract as
    /// [`ObjRef::body`], and no other borrow of this body may be live.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub fn body_mut<'a, T: Body>(self) -> &'a mut T {
        // SAFETY: see the contract above.
        unsafe { &mut *self.body_ptr::<T>() }
    }

    /// The string body (kind must be `Str`).
    pub fn string<'a>(self) -> &'a String {
        &self.body::<StrBody>().text
    }

    /// A StringBox's length: its count of Unicode scalar values (kind must
    /// be `Str`).
    pub fn string_chars(self) -> usize {
        self.body::<StrBody>().chars()
    }

    /// The user-box body (kind must be `User`).
    pub fn user<'a>(self) -> &'a UserBody {
        self.body::<UserBody>()
    }
}

/// What `--stats` reports, in boxes (heap objects).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub allocated: u64,
    pub released: u64,
    /// In-place updates of a unique receiver instead of a new allocation.
    pub reused: u64,
    pub peak_live: u64,
}

impl Stats {
    /// Objects allocated and not yet released.
    pub fn live(&self) -> u64 {
        self.allocated - self.released
    }
}

/// A user box whose last reference died and whose `fini` must now run:
/// the backend calls `func(obj)` (borrowing `obj`), then hands `obj` back
/// with [`Heap::push_release`] and calls [`Heap::drive`] again.
#[derive(Clone, Copy, Debug)]
pub struct FiniRequest {
    pub func: FuncId,
    pub obj: ObjRef,
}

/// What the heap needs to know about a user box class.
#[derive(Clone, Debug, Default)]
pub struct ClassLayout {
    pub fini: Option<FuncId>,
    /// One flag per field, in declaration order.
    pub weak: Vec<bool>,
}

/// The object heap of one run.
pub struct Heap {
    stats: Stats,
    live_bytes: usize,
    limit: Option<usize>,
    release_stack: Vec<Value>,
    classes: Vec<ClassLayout>,
}

impl Heap {
    /// An empty heap; `limit` caps the bytes objects may hold.
    pub fn new(limit: Option<usize>) -> Heap {
        Heap { stats: Stats::default(), live_bytes: 0, limit, release_stack: Vec::new(), classes: Vec::new() }
    }

    /// Declares the user box classes, indexed by `BoxId`.
    pub fn set_classes(&mut self, classes: Vec<ClassLayout>) {
        self.classes = classes;
    }

    /// The layout of a user box class.
    pub fn class(&self, id: BoxId) -> &ClassLayout {
        &self.classes[id.as_u32() as usize]
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Records an in-place update (for `--stats`).
    pub fn count_reuse(&mut self) {
        self.stats.reused += 1;
    }

    /// Bytes currently held by objects.
    pub fn live_bytes(&self) -> usize {
        self.live_bytes
    }

    /// The `--max-memory` limit, if any.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// Fails with `out of memory` if `bytes` more would exceed the limit.
    pub fn check(&self, bytes: usize) -> Result<(), Trap> {
        match self.limit {
            Some(limit) if self.live_bytes.saturating_add(bytes) > limit => Err(Trap::OutOfMemory),
            _ => Ok(()),
        }
    }

    /// Accounts for `bytes` more held by objects.
    pub fn charge(&mut self, bytes: usize) -> Result<(), Trap> {
        self.check(bytes)?;
        self.live_bytes += bytes;
        Ok(())
    }

    /// Accounts for a body's buffers changing from `before` to `after` bytes.
    pub fn adjust(&mut self, before: usize, after: usize) -> Result<(), Trap> {
        if after >= before {
            self.charge(after - before)
        } else {
            self.live_bytes -= before - after;
            Ok(())
        }
    }

    /// Allocates an object holding `body`, which takes over any references
    /// it contains (on `out of memory` the run ends, so they need no release).
    pub fn alloc<T: Body>(&mut self, body: T) -> Result<ObjRef, Trap> {
        let bytes = size_of::<ObjBox<T>>() + body.heap_bytes();
        self.charge(bytes)?;
        let boxed = Box::new(ObjBox {
            header: Header { rc: Cell::new(1), weak: Cell::new(0), kind: T::KIND, flags: Cell::new(0) },
            body: UnsafeCell::new(ManuallyDrop::new(body)),
        });
        self.stats.allocated += 1;
        self.stats.peak_live = self.stats.peak_live.max(self.stats.live());
        Ok(ObjRef(NonNull::from(Box::leak(boxed)).cast()))
    }

    /// Adds a weak reference to `v`'s object, if it is one.
    pub fn retain_weak(&self, v: Value) {
        if let Value::Obj(o) = v {
            let h = o.header();
            h.weak.set(h.weak.get() + 1);
        }
    }

    /// Drops a weak reference; frees the header if it was the last trace.
    pub fn release_weak(&mut self, v: Value) {
        if let Value::Obj(o) = v {
            let h = o.header();
            h.weak.set(h.weak.get() - 1);
            if h.weak.get() == 0 && h.rc.get() == 0 {
                self.free_header(o);
            }
        }
    }

    /// The height of the release stack: the `base` for [`Heap::drive`].
    pub fn release_base(&self) -> usize {
        self.release_stack.len()
    }

    /// Queues one reference to drop (call [`Heap::drive`] to drop it).
    pub fn push_release(&mut self, v: Value) {
        if let Value::Obj(_) = v {
            self.release_stack.push(v);
        }
    }

    /// Moves the references queued above `base` into `out`, bottom first.
    pub fn take_above(&mut self, base: usize, out: &mut Vec<Value>) {
        out.extend(self.release_stack.drain(base..));
    }

    /// Queues references to drop so they go in the order given.
    pub fn push_releases(&mut self, values: impl DoubleEndedIterator<Item = Value>) {
        for v in values.rev() {
            self.push_release(v);
        }
    }

    /// Drops queued references above `base`, destroying objects whose last
    /// reference goes. Stops early when a `fini` must run.
    pub fn drive(&mut self, base: usize) -> Option<FiniRequest> {
        while self.release_stack.len() > base {
            let Some(Value::Obj(obj)) = self.release_stack.pop() else { continue };
            let h = obj.header();
            let rc = h.rc.get();
            debug_assert!(rc > 0, "release of a dead object");
            if rc > 1 {
                h.rc.set(rc - 1);
                continue;
            }
            if obj.kind() == Kind::User && h.flags.get() & FINALIZED == 0 {
                h.flags.set(h.flags.get() | FINALIZED);
                if let Some(func) = self.class(obj.user().class).fini {
                    // The reference being dropped now belongs to the fini call.
                    return Some(FiniRequest { func, obj });
                }
            }
            h.rc.set(0);
            self.destroy(obj);
        }
        None
    }

    /// Destroys a body whose strong count reached zero: queues its
    /// contents so they are released in order, drops it, and frees the
    /// header unless weak references remain.
    fn destroy(&mut self, obj: ObjRef) {
        self.stats.released += 1;
        let mut weak_targets = Vec::new();
        let bytes = match obj.kind() {
            Kind::Str => self.drop_body::<StrBody>(obj),
            Kind::Matrix => self.drop_body::<MatrixBody>(obj),
            Kind::Tensor => self.drop_body::<TensorBody>(obj),
            Kind::Array => {
                let items = &obj.body::<ArrayBody>().items;
                self.release_stack.extend(items.iter().rev().copied().filter(|v| v.as_obj().is_some()));
                self.drop_body::<ArrayBody>(obj)
            }
            Kind::Map => {
                let entries = &obj.body::<MapBody>().entries;
                self.release_stack.extend(entries.iter().rev().map(|(_, &v)| v).filter(|v| v.as_obj().is_some()));
                self.drop_body::<MapBody>(obj)
            }
            Kind::User => {
                let body = obj.body::<UserBody>();
                let weak = &self.classes[body.class.as_u32() as usize].weak;
                for (i, &v) in body.fields.iter().enumerate().rev() {
                    if weak.get(i).copied().unwrap_or(false) {
                        weak_targets.push(v);
                    } else if v.as_obj().is_some() {
                        self.release_stack.push(v);
                    }
                }
                self.drop_body::<UserBody>(obj)
            }
        };
        self.live_bytes = self.live_bytes.saturating_sub(bytes);
        for target in weak_targets {
            self.release_weak(target);
        }
        let h = obj.header();
        h.flags.set(h.flags.get() | DEAD);
        if h.weak.get() == 0 {
            self.free_header(obj);
        }
    }

    /// Drops a body in place (the references it held were already queued,
    /// and dropping a `Value` releases nothing); returns the bytes it was
    /// accounted for.
    fn drop_body<T: Body>(&mut self, obj: ObjRef) -> usize {
        let obj_ptr = obj.0.cast::<ObjBox<T>>().as_ptr();
        // SAFETY: the strong count is zero, so nothing else reads the body;
        // it is dropped exactly once (DEAD is set right after).
        unsafe {
            let body = &mut *(*obj_ptr).body.get();
            let bytes = size_of::<ObjBox<T>>() + body.heap_bytes();
            ManuallyDrop::drop(body);
            bytes
        }
    }

    fn free_header(&mut self, obj: ObjRef) {
        // SAFETY: both counts are zero and the body was dropped, so this is
        // the last trace of the allocation; it was made by `alloc` as an
        // ObjBox of the type its kind names.
        unsafe {
            match obj.kind() {
                Kind::Str => drop(Box::from_raw(obj.0.cast::<ObjBox<StrBody>>().as_ptr())),
                Kind::Array => drop(Box::from_raw(obj.0.cast::<ObjBox<ArrayBody>>().as_ptr())),
                Kind::Map => drop(Box::from_raw(obj.0.cast::<ObjBox<MapBody>>().as_ptr())),
                Kind::User => drop(Box::from_raw(obj.0.cast::<ObjBox<UserBody>>().as_ptr())),
                Kind::Matrix => drop(Box::from_raw(obj.0.cast::<ObjBox<MatrixBody>>().as_ptr())),
                Kind::Tensor => drop(Box::from_raw(obj.0.cast::<ObjBox<TensorBody>>().as_ptr())),
            }
        }
    }
}
