//! ArrayBox `get`, `set` and `push` inline, and the array views they read.
//!
//! A view holds an ArrayBox receiver's length, capacity and element pointer
//! in Cranelift variables, read where the receiver is defined, so a loop
//! over an array reads them once instead of at every access. A value that
//! is not an ArrayBox reads as an empty array (length and capacity 0, from
//! `Ctx::not_an_array`): its accesses all fail the bounds check and take
//! the general path, so the class check costs nothing per access. Where the
//! parts are read from is found once per view: reading them again costs
//! two or three loads.
//!
//! Between reads a view stays exact, except that its length may lag behind
//! the array's (an inline `push` through another value of the same array),
//! which only sends an access to the general path. Whatever else can change
//! an array's length or buffer is a helper that may run code (a method, a
//! MIR call, a `fini`): after each one, [`FnTranslator::clobbered`] reads
//! again the views of every value still live, in this body and in the
//! bodies it is inlined into. A dead value's object may be gone; its view
//! is never read again.

use super::{FLAGS, FnTranslator, Repr};
use crate::ctx::{self, FastOp, Site, SiteKind};
use cranelift_codegen::ir::{self, BlockArg, InstBuilder, condcodes::IntCC, types};
use cranelift_frontend::Variable;
use mir::{Function, InstData, Program, Receiver, Type, Value, ValueDef};
use runtime::{Method, MethodRef, layout};
use std::collections::{HashMap, HashSet};

// A view reads `Ctx::not_an_array` for a value that is not an ArrayBox.
const _: () = assert!(
    layout::KIND_ARRAY != 0
        && layout::OBJ_KIND < 64
        && layout::ARRAY_LEN + 8 <= 64
        && layout::ARRAY_CAP + 8 <= 64
        && layout::ARRAY_PTR + 8 <= 64
        && layout::ARRAY_FLOATS < 64
);

/// A function keeps views for at most this many receivers; others read
/// their array where they use it. Every helper call reads again the views
/// still live, so this bounds the code after each one: with 64, a loop
/// over 1,000 arrays, each `get` followed by a MapBox `set`, took 1 s to
/// compile; with 16, 0.6 s. The benchmarks use at most 4.
const MAX_VIEWS: usize = 16;

/// Which parts of an array an inline operation reads.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Needs {
    /// `get` and `set` check the index against the length.
    len: bool,
    /// `push` checks the length (read from the array) against the capacity.
    cap: bool,
    /// Some inline access of the receiver reads or stores something other
    /// than an f64 (planning only: see [`ArrayView::floats`]).
    mixed: bool,
}

impl Needs {
    fn covers(self, other: Needs) -> bool {
        (self.len || !other.len) && (self.cap || !other.cap)
    }
}

/// An ArrayBox receiver's parts, as variables (see the module doc).
#[derive(Clone, Copy)]
pub(super) struct ArrayView {
    value: Value,
    /// The array, or `Ctx::not_an_array` for a value that is not one:
    /// where the parts are read (a value's class never changes).
    source: ir::Value,
    len: Option<Variable>,
    cap: Option<Variable>,
    items: Variable,
    /// Every inline access of the receiver reads or stores an f64, and the
    /// view's length is 0 unless every element is an f64 (the array's
    /// `floats` byte): past the bounds check, a `get` reads the element
    /// without checking its tag and a `set` stores the float over another.
    /// A mixed array sends every access to the general path.
    floats: bool,
}

/// Where the code being emitted is, for liveness: values live there keep
/// their views up to date.
#[derive(Clone, Copy)]
pub(super) enum Position {
    /// At the instruction with this index in the current block.
    At(usize),
    /// On the edge to this block.
    Edge(mir::Block),
    /// Returning: none of the body's values is used again.
    Leaving,
}

/// Views times the calls after which they are read again (see
/// [`plan`]): a generated `@main` of 24,000 boxcalls on 22 arrays
/// made 2.8 million Cranelift instructions (55 per MIR instruction) and
/// took 4.4 s to compile, nearly all of it reading views again in the
/// general paths.
const REREAD_BUDGET: usize = 20_000;

/// How a function's inline array accesses are compiled: the receivers that
/// get views, and what each reads (at most [`MAX_VIEWS`] of them, and fewer
/// where the function has so many calls, each of whose general paths reads
/// every live view again, that views times calls would pass
/// [`REREAD_BUDGET`]); and the bases that get offsets (see [`plan_bases`]).
pub(super) fn plan(
    program: &Program,
    func: &Function,
    info: &mir::FuncInfo,
) -> (HashMap<Value, Needs>, HashSet<Value>) {
    let calls = func
        .insts
        .iter()
        .filter(|(_, data)| {
            matches!(data, InstData::BoxCall { .. } | InstData::Call { .. } | InstData::ExternCall { .. })
        })
        .count();
    let max_views = MAX_VIEWS.min(REREAD_BUDGET / calls.max(1));
    let mut views: HashMap<Value, Needs> = HashMap::new();
    let mut bases: HashMap<Value, usize> = HashMap::new();
    for &block in info.order.rpo() {
        for &inst in &func.blocks[block].insts {
            let InstData::BoxCall { recv: Receiver::Value(r), method, args, .. } = func.insts[inst] else { continue };
            if info.types[r] != Type::Box {
                continue;
            }
            let args = func.value_list(args);
            let index = args.first().copied().filter(|&i| info.types[i] == Type::I64);
            let float = |v: Option<&Value>| v.is_some_and(|&v| info.types[v] == Type::F64);
            let needs = match (MethodRef::resolve(program, method).builtin, index) {
                (Some(Method::Get), Some(_)) => {
                    Needs { len: true, cap: false, mixed: !float(func.results[inst].as_ref()) }
                }
                (Some(Method::Set), Some(_)) => Needs { len: true, cap: false, mixed: !float(args.get(1)) },
                (Some(Method::Push), _) => Needs { len: false, cap: true, mixed: !float(args.first()) },
                _ => continue,
            };
            if let (true, Some(i)) = (needs.len, index) {
                *bases.entry(index_parts(func, i).0).or_default() += 1;
            }
            if views.len() < max_views || views.contains_key(&r) {
                let entry = views.entry(r).or_default();
                entry.len |= needs.len;
                entry.cap |= needs.cap;
                entry.mixed |= needs.mixed;
            }
        }
    }
    (views, plan_bases(bases))
}

/// A function gives at most this many bases an offset (see [`plan_bases`]),
/// those of the most accesses: each holds a register wherever it is live.
/// The benchmarks use at most 3.
const MAX_BASES: usize = 16;

/// Element index `i` as `(base, k)` with `i = base + k`: `k` is the small
/// constant operand of the `add` or `sub` that defines `i`, else 0.
pub(super) fn index_parts(func: &Function, i: Value) -> (Value, i64) {
    let small = |v: Value| match func.values[v].def {
        ValueDef::Result(def) => match func.insts[def] {
            InstData::Const { lit: mir::Literal::I64(k) } if k.unsigned_abs() < 1 << 20 => Some(k),
            _ => None,
        },
        ValueDef::Param(_) => None,
    };
    let ValueDef::Result(def) = func.values[i].def else { return (i, 0) };
    match func.insts[def] {
        InstData::BinOp { op: mir::BinaryOp::Add, args: [x, y] } => match (small(x), small(y)) {
            (_, Some(k)) => (x, k),
            (Some(k), _) => (y, k),
            _ => (i, 0),
        },
        InstData::BinOp { op: mir::BinaryOp::Sub, args: [x, y] } => small(y).map_or((i, 0), |k| (x, -k)),
        _ => (i, 0),
    }
}

/// The bases (see [`index_parts`]) of two or more inline `get` and `set`
/// indices, given how many each has, at most [`MAX_BASES`]. Each gets its
/// offset, `base * VALUE_SIZE`, computed once where it is defined, and the
/// elements at `base + k` are addressed as `items + offset + k *
/// VALUE_SIZE`, with the constant folded into the load or store: nbody
/// reads and writes `7 * j + k` for k in 0..7.
fn plan_bases(uses: HashMap<Value, usize>) -> HashSet<Value> {
    let mut shared: Vec<(Value, usize)> = uses.into_iter().filter(|&(_, n)| n >= 2).collect();
    shared.sort_by_key(|&(v, n)| (std::cmp::Reverse(n), v));
    shared.into_iter().take(MAX_BASES).map(|(v, _)| v).collect()
}

/// Where each planned receiver is last used in a block, by instruction index.
pub(super) fn last_uses(func: &Function, block: mir::Block, plan: &HashMap<Value, Needs>) -> HashMap<Value, usize> {
    let mut last = HashMap::new();
    for (k, &inst) in func.blocks[block].insts.iter().enumerate() {
        if matches!(func.insts[inst], InstData::Phi { .. }) {
            continue;
        }
        for v in func.operands(inst) {
            if plan.contains_key(&v) {
                last.insert(v, k);
            }
        }
    }
    last
}

/// The element the last inline `get` or `set` reached, as `(receiver,
/// index)` values, if it holds a scalar with this tag whenever the index
/// passes the receiver's bounds check.
///
/// A `get` of a scalar type that returns has seen the element's tag: its
/// fast path checks it, and its general path traps on any other type (and
/// on an index out of bounds). A `set` of a scalar over a known element has
/// nothing to release, so neither path runs code. The next `get` of that
/// type then reads the payload after the bounds check alone, and the next
/// `set` of a scalar stores without looking for an object to release (and
/// without the tag byte when it is unchanged): nbody's `v = get(i)` then
/// `set(i, v - dv)`. One element only: every other inline access, and any
/// helper that may run code (see `clobbered`), may store an object into it
/// through another value of the same array, so each replaces or forgets it;
/// so do an inlined body and the start of a block.
pub(super) type KnownElement = Option<(Value, Value, u8)>;

/// The tag of a scalar of type `ty`.
fn scalar_tag(ty: Type) -> Option<u8> {
    match ty {
        Type::I64 => Some(layout::TAG_I64),
        Type::F64 => Some(layout::TAG_F64),
        Type::Bool => Some(layout::TAG_BOOL),
        Type::Box => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ArrayOp {
    Get,
    Set,
    Push,
}

impl FnTranslator<'_, '_> {
    /// Starts the view of `v` if it is a planned receiver: where it is
    /// defined, so the reads happen once, outside the loops that use it.
    pub(super) fn define_view(&mut self, v: Value) {
        let Some(&needs) = self.frame.view_plan.get(&v) else { return };
        let mut var = |wanted: bool| wanted.then(|| self.b.declare_var(types::I64));
        let vars = (var(needs.len), var(needs.cap), self.b.declare_var(types::I64));
        let view = self.new_view(v, vars, needs.len && !needs.mixed);
        self.frame.views.insert(v, view);
    }

    /// Computes the offset of `v` if it is a planned base (see
    /// [`plan_bases`]), where `v` is defined: anchored there, or Cranelift
    /// would compute it again at each access, none of whose blocks
    /// dominates the next.
    pub(super) fn define_offset(&mut self, v: Value) {
        if self.frame.base_plan.contains(&v) {
            let x = self.scalar(v);
            let offset = self.b.ins().imul_imm_s(x, layout::VALUE_SIZE as i64);
            self.anchor(offset);
            self.frame.offsets.insert(v, offset);
        }
    }

    /// Finds where `value`'s parts are, without a branch, and reads them
    /// into `(len, cap, items)`.
    fn new_view(
        &mut self,
        value: Value,
        (len, cap, items): (Option<Variable>, Option<Variable>, Variable),
        floats: bool,
    ) -> ArrayView {
        let (tag, obj) = self.as_box(value);
        let empty = self.not_an_array();
        let is_obj = self.b.ins().icmp_imm_s(IntCC::Equal, tag, layout::TAG_OBJ as i64);
        let obj = self.b.ins().select(is_obj, obj, empty);
        let kind = self.b.ins().uload8(types::I32, FLAGS, obj, layout::OBJ_KIND as i32);
        let is_array = self.b.ins().icmp_imm_s(IntCC::Equal, kind, layout::KIND_ARRAY as i64);
        let source = self.b.ins().select(is_array, obj, empty);
        let view = ArrayView { value, source, len, cap, items, floats };
        self.read_view(&view);
        view
    }

    /// Reads the array's parts into the view's variables.
    fn read_view(&mut self, view: &ArrayView) {
        for (var, offset) in [(view.len, layout::ARRAY_LEN), (view.cap, layout::ARRAY_CAP)] {
            if let Some(var) = var {
                let mut x = self.b.ins().load(types::I64, FLAGS, view.source, offset as i32);
                if view.floats && offset == layout::ARRAY_LEN {
                    x = self.float_length(view.source, x);
                }
                self.b.def_var(var, x);
            }
        }
        let items = self.b.ins().load(types::I64, FLAGS, view.source, layout::ARRAY_PTR as i32);
        self.b.def_var(view.items, items);
    }

    /// `len` if every element of `array` is an f64, else 0.
    fn float_length(&mut self, array: ir::Value, len: ir::Value) -> ir::Value {
        let floats = self.b.ins().uload8(types::I64, FLAGS, array, layout::ARRAY_FLOATS as i32);
        self.b.ins().imul(len, floats)
    }

    /// After an inline store of something other than an f64 into `array`:
    /// clears its `floats` byte and reads again every float view still live
    /// (one may be of the same array, through another value).
    fn mixed_store(&mut self, array: ir::Value) {
        let zero = self.b.ins().iconst(types::I8, 0);
        self.b.ins().store(FLAGS, zero, array, layout::ARRAY_FLOATS as i32);
        let mut live = self.live_views();
        live.extend_from_slice(&self.outer_views);
        for view in live.iter().filter(|v| v.floats) {
            self.read_view(view);
        }
    }

    /// The address of `Ctx::not_an_array`.
    fn not_an_array(&mut self) -> ir::Value {
        self.b.ins().iadd_imm_s(self.ctx, ctx::NOT_AN_ARRAY as i64)
    }

    /// The view of receiver `v` with at least `needs`: its own, or one read
    /// here into the function's scratch variables. Those serve every site
    /// without a view of its own (only that site reads them); a site's own
    /// variables would cost Cranelift's SSA builder a map over the blocks
    /// each, quadratic memory for thousands of arrays (8,000 took 1.6 GB).
    fn view(&mut self, v: Value, needs: Needs) -> ArrayView {
        match self.frame.views.get(&v) {
            Some(view) if Needs { len: view.len.is_some(), cap: view.cap.is_some(), mixed: false }.covers(needs) => {
                *view
            }
            _ => {
                let (len, cap, items) = *self.scratch_view.get_or_insert_with(|| {
                    let mut var = || self.b.declare_var(types::I64);
                    (var(), var(), var())
                });
                self.new_view(v, (needs.len.then_some(len), needs.cap.then_some(cap), items), false)
            }
        }
    }

    /// After a helper that may have run code: reads again the views of the
    /// values still live here and in the bodies this one is inlined into.
    pub(super) fn clobbered(&mut self) {
        self.frame.known = None;
        let mut live: Vec<ArrayView> = self.live_views();
        live.extend_from_slice(&self.outer_views);
        for view in &live {
            self.read_view(view);
        }
    }

    /// The views of this body whose values are live after the current position.
    pub(super) fn live_views(&self) -> Vec<ArrayView> {
        let mut live: Vec<ArrayView> =
            self.frame.views.values().filter(|v| self.live_after(v.value)).copied().collect();
        // Emit in a fixed order, whatever the map's.
        live.sort_by_key(|v| v.value);
        live
    }

    /// Whether `v` is used after the current position (parameters are
    /// borrowed: their objects outlive the body).
    fn live_after(&self, v: Value) -> bool {
        let (func, info) = (self.frame.func, self.frame.info);
        if let ValueDef::Param(_) = func.values[v].def {
            return true;
        }
        match self.frame.position {
            Position::At(k) => {
                info.liveness.live_out(self.frame.current).binary_search(&v).is_ok()
                    || self.frame.last_use.get(&v).is_some_and(|&last| last > k)
            }
            Position::Edge(dest) => info.liveness.live_in(dest).binary_search(&v).is_ok(),
            Position::Leaving => false,
        }
    }

    /// An ArrayBox method inline when the case is simple (in bounds, no
    /// element to release, room to push); anything else, including a
    /// receiver that is not an ArrayBox, takes the runtime path, which
    /// also reports traps.
    pub(super) fn array_fast(
        &mut self,
        kind: SiteKind,
        all: &[Value],
        result: Option<Value>,
        ret: Type,
        op: ArrayOp,
    ) -> Repr {
        let done = self.result_block(result.map(|_| ret));
        let slow = self.b.create_block();
        let null = |t: &mut Self| -> Vec<BlockArg> {
            if result.is_some() {
                let z = t.b.ins().iconst(types::I64, 0);
                vec![BlockArg::Value(z), BlockArg::Value(z)]
            } else {
                Vec::new()
            }
        };
        let known = match (op, self.frame.known.take()) {
            (ArrayOp::Get | ArrayOp::Set, Some((r, i, tag))) if (r, i) == (all[0], all[1]) => Some(tag),
            _ => None,
        };
        match op {
            ArrayOp::Get | ArrayOp::Set => {
                let view = self.view(all[0], Needs { len: true, ..Needs::default() });
                // Every element of a float view's array in bounds is an f64.
                let known = if view.floats { Some(layout::TAG_F64) } else { known };
                let len = self.b.use_var(view.len.expect("a view with the length"));
                let i = self.scalar(all[1]);
                let in_bounds = self.b.ins().icmp(IntCC::UnsignedLessThan, i, len);
                let at_block = self.b.create_block();
                self.b.ins().brif(in_bounds, at_block, &[], slow, &[]);
                self.b.switch_to_block(at_block);
                let at = self.element_at_index(&view, all[1], i);
                if op == ArrayOp::Get {
                    match scalar_tag(ret) {
                        Some(tag) if known == Some(tag) => {
                            let v = self.b.ins().load(super::scalar_type(ret), FLAGS, at, layout::VALUE_PAYLOAD as i32);
                            self.b.ins().jump(done, &[BlockArg::Value(v)]);
                        }
                        _ => self.take_value(at, ret, (done, slow)),
                    }
                } else {
                    if known.is_none() {
                        // Replacing an object would release it: the runtime does that.
                        let etag = self.b.ins().load(types::I8, FLAGS, at, layout::VALUE_TAG as i32);
                        let old_obj = self.b.ins().icmp_imm_s(IntCC::Equal, etag, layout::TAG_OBJ as i64);
                        let store = self.b.create_block();
                        self.b.ins().brif(old_obj, slow, &[], store, &[]);
                        self.b.switch_to_block(store);
                    }
                    self.store_element(at, all[2], known);
                    if self.ty(all[2]) != Type::F64 {
                        self.mixed_store(view.source);
                    }
                    let args = null(self);
                    self.b.ins().jump(done, &args);
                }
            }
            ArrayOp::Push => {
                // Not an ArrayBox: length and capacity 0, no room.
                let view = self.view(all[0], Needs { cap: true, ..Needs::default() });
                let cap = self.b.use_var(view.cap.expect("a view with the capacity"));
                // The length is read from the array, not the view: a view's
                // may lag behind, and a push must not overwrite an element.
                let len = self.b.ins().load(types::I64, FLAGS, view.source, layout::ARRAY_LEN as i32);
                let room = self.b.ins().icmp(IntCC::UnsignedLessThan, len, cap);
                let store = self.b.create_block();
                self.b.ins().brif(room, store, &[], slow, &[]);
                self.b.switch_to_block(store);
                let at = self.element_at(&view, len);
                self.store_element(at, all[1], None);
                let len = self.b.ins().iadd_imm_s(len, 1);
                self.b.ins().store(FLAGS, len, view.source, layout::ARRAY_LEN as i32);
                if let Some(var) = view.len {
                    let len = if view.floats { self.float_length(view.source, len) } else { len };
                    self.b.def_var(var, len);
                }
                if self.ty(all[1]) != Type::F64 {
                    self.mixed_store(view.source);
                }
                let args = null(self);
                self.b.ins().jump(done, &args);
            }
        }
        // Past the array, `get` and `set` may be a MapBox's.
        let next = match op {
            ArrayOp::Get => Some(FastOp::MapGet),
            ArrayOp::Set => Some(FastOp::MapSet),
            ArrayOp::Push => None,
        };
        let repr = self.slow_path((slow, done), Site { fast: next, ..Site::new(kind, result.map(|_| ret)) }, all);
        // What the element holds now, if the general path cannot have run
        // code that stores into it: a `get` that returned a scalar, or a
        // `set` of a scalar that had nothing to release.
        let now = match op {
            ArrayOp::Get => scalar_tag(ret),
            ArrayOp::Set if known.is_some() => scalar_tag(self.ty(all[2])),
            _ => None,
        };
        self.frame.known = now.map(|tag| (all[0], all[1], tag));
        repr
    }

    /// The address of the element at `index` (whose value is `i`) of the
    /// viewed array: from its base's offset, if it has one.
    fn element_at_index(&mut self, view: &ArrayView, index: Value, i: ir::Value) -> ir::Value {
        let (base, k) = index_parts(self.frame.func, index);
        match self.frame.offsets.get(&base) {
            Some(&offset) => {
                let items = self.b.use_var(view.items);
                let at = self.b.ins().iadd(items, offset);
                self.b.ins().iadd_imm_s(at, k * layout::VALUE_SIZE as i64)
            }
            None => self.element_at(view, i),
        }
    }

    /// The address of element `i` of the viewed array.
    fn element_at(&mut self, view: &ArrayView, i: ir::Value) -> ir::Value {
        let items = self.b.use_var(view.items);
        let offset = self.b.ins().imul_imm_s(i, layout::VALUE_SIZE as i64);
        self.b.ins().iadd(items, offset)
    }

    /// Jumps to `done` with the value in the slot at `at` (an element or a
    /// field), as a new reference of type `ret`; to `slow` if it is not of
    /// that type (the general path then reports it). A scalar is read at its
    /// own type: a float goes straight to a float register.
    pub(super) fn take_value(&mut self, at: ir::Value, ret: Type, (done, slow): (ir::Block, ir::Block)) {
        if ret == Type::Box {
            let tag = self.b.ins().uload8(types::I64, FLAGS, at, layout::VALUE_TAG as i32);
            let payload = self.b.ins().load(types::I64, FLAGS, at, layout::VALUE_PAYLOAD as i32);
            self.retain(tag, payload);
            self.b.ins().jump(done, &[BlockArg::Value(tag), BlockArg::Value(payload)]);
            return;
        }
        let want = match ret {
            Type::I64 => layout::TAG_I64,
            Type::F64 => layout::TAG_F64,
            _ => layout::TAG_BOOL,
        };
        let tag = self.b.ins().load(types::I8, FLAGS, at, layout::VALUE_TAG as i32);
        let fits = self.b.ins().icmp_imm_s(IntCC::Equal, tag, want as i64);
        let take = self.b.create_block();
        self.b.ins().brif(fits, take, &[], slow, &[]);
        self.b.switch_to_block(take);
        // Only a bool's low byte is defined, and it comes first.
        let v = self.b.ins().load(super::scalar_type(ret), FLAGS, at, layout::VALUE_PAYLOAD as i32);
        self.b.ins().jump(done, &[BlockArg::Value(v)]);
    }

    /// Stores `v` (a new reference) into the slot at address `at`, whose tag
    /// may be `known` (see [`KnownElement`]).
    pub(super) fn store_element(&mut self, at: ir::Value, v: Value, known: Option<u8>) {
        let (t, p) = self.as_box(v);
        let stored = scalar_tag(self.ty(v));
        if stored.is_none() {
            self.retain(t, p);
        }
        if stored.is_none() || stored != known {
            let tag = self.b.ins().ireduce(types::I8, t);
            self.b.ins().store(FLAGS, tag, at, layout::VALUE_TAG as i32);
        }
        // A float is stored from its own register.
        let payload = match self.repr(v) {
            Repr::Scalar(x) if self.ty(v) == Type::F64 => x,
            _ => p,
        };
        self.b.ins().store(FLAGS, payload, at, layout::VALUE_PAYLOAD as i32);
    }
}

#[cfg(test)]
mod tests {
    /// The views `plan` gives `@main` of a program that reads element
    /// 0 of each of `arrays` arrays `rounds` times.
    fn views(arrays: usize, rounds: usize) -> usize {
        let mut src = String::from("func @main() -> i64 {\nentry:\n");
        for a in 0..arrays {
            src += &format!("  %a{a} = boxcall ArrayBox.filled(1, 0)\n");
        }
        for r in 0..rounds {
            for a in 0..arrays {
                src += &format!("  %x{r}_{a} = boxcall %a{a}.get(0) -> i64\n");
            }
        }
        src += "  return 0\n}\n";
        let parsed = mir::parse(&src).expect("the test module parses");
        let program = mir::Program::new(parsed.module, None, &mir::NoExterns).expect("the test module verifies");
        let main = program.main().expect("@main");
        super::plan(&program, program.func(main), program.info(main)).0.len()
    }

    #[test]
    fn views_give_way_where_every_call_would_read_them_all_again() {
        assert_eq!(views(4, 10), 4);
        assert_eq!(views(40, 10), super::MAX_VIEWS);
        // 20 arrays, 20 creations and 2,000 gets: the budget allows 9 views.
        assert_eq!(views(20, 100), super::REREAD_BUDGET / 2_020);
        assert_eq!(views(20, 2_000), 0);
    }
}
