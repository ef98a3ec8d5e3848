//! The dispatch loop.
//!
//! One loop runs every frame; a MIR call pushes a frame and goes on, so MIR
//! recursion never recurses in Rust. The top frame's code, constants and
//! register bases are kept in locals; anything that changes frames (calls,
//! returns, a release that runs `fini`) saves `pc` and reloads them.

use crate::compile::{Compiled, FuncCode};
use crate::op::{Conv, DynKind, DynSite, File, Op, Reg, Slot};
use mir::{BoxId, ClassRef, FuncId, Program, Type};
use runtime::{Dispatch, HostId, Method, ObjRef, Runtime, StaticResult, Trap, TrapReport, Value, ops};
use smallvec::SmallVec;
use std::cell::Cell;

/// Arguments of one call; rarely more than eight.
type Args = SmallVec<[Value; 8]>;

/// What a returning frame's result becomes.
#[derive(Clone, Copy)]
enum Ret {
    /// `@main`: the run ends.
    Main,
    /// A direct call: the word or box goes to the caller's register as is.
    Direct(Option<Slot>),
    /// A dynamic call: the result is checked against the type, a
    /// handed-over receiver is released, and `birth`'s object replaces it.
    Dyn { ret: Option<(Slot, Type)>, recv: Option<ObjRef>, birth: Option<ObjRef> },
    /// A `fini` call: give the object back to the heap and go on releasing.
    Fini { obj: ObjRef, base: usize },
}

/// How a frame returns, as the frame itself records it: small, so that a
/// call pushes little. Dynamic and `fini` returns keep their details on the
/// machine's `pending` stack, popped in step with their frames.
#[derive(Clone, Copy)]
enum RetKind {
    Main,
    Direct(Option<Slot>),
    Pending,
}

struct Frame<'a> {
    code: &'a FuncCode,
    func: u32,
    pc: u32,
    sbase: u32,
    bbase: u32,
    /// Where the next frame's registers start.
    s_top: u32,
    b_top: u32,
    ret: RetKind,
}

/// The last user-box class a method call site saw, and what it dispatched to.
#[derive(Clone, Copy, Default)]
struct Cache {
    entry: Option<(BoxId, Cached)>,
}

/// What a user-box class runs at a site.
#[derive(Clone, Copy)]
enum Cached {
    /// The class's method.
    Method(FuncId),
    /// `getField`/`setField` of the field at this slot.
    Field(usize),
}

/// What a boxcall on a value runs.
enum Target {
    Runtime(Dispatch),
    /// `getField`/`setField` of a field of this user box, at this slot.
    Field(ObjRef, usize),
}

/// Runs `@main` of a compiled program on `rt`.
pub fn run(compiled: &Compiled, program: &Program, rt: &mut Runtime) -> Result<Option<i64>, TrapReport> {
    let main = program.main().expect("the caller checked that @main exists");
    let no_trace = TrapReport::bare;
    let mut strings = Vec::with_capacity(compiled.strings.len());
    for text in &compiled.strings {
        strings.push(rt.new_string(text.clone()).map_err(no_trace)?);
    }
    let hosts = compiled.hosts.iter().map(|name| rt.host_id(name).expect("verified host function")).collect();
    let mut machine = Machine {
        compiled,
        rt,
        s: Vec::new(),
        b: Vec::new(),
        frames: Vec::new(),
        pending: Vec::new(),
        strings: &strings,
        hosts,
        caches: vec![Cell::new(Cache::default()); compiled.caches],
        result: None,
    };
    let outcome = machine.run(main);
    let base = machine.rt.heap.release_base();
    machine.rt.heap.push_releases(strings.iter().copied());
    let _ = machine.rt.heap.drive(base);
    outcome
}

struct Machine<'a> {
    compiled: &'a Compiled,
    rt: &'a mut Runtime,
    /// Scalar registers of every frame.
    s: Vec<u64>,
    /// Box registers of every frame.
    b: Vec<Value>,
    frames: Vec<Frame<'a>>,
    /// Details of the dynamic and `fini` returns of frames on the stack.
    pending: Vec<Ret>,
    strings: &'a [Value],
    hosts: Vec<HostId>,
    caches: Vec<Cell<Cache>>,
    /// `@main`'s result once it returned.
    result: Option<Option<i64>>,
}

/// A scalar word as the value it encodes.
#[inline]
fn word_value(word: u64, ty: Type) -> Value {
    match ty {
        Type::I64 => Value::I64(word as i64),
        Type::F64 => Value::F64(f64::from_bits(word)),
        Type::Bool => Value::Bool(word != 0),
        Type::Box => unreachable!("boxes live in box registers"),
    }
}

/// The word of a scalar value (its kind already checked).
#[inline]
fn value_word(v: Value) -> u64 {
    match v {
        Value::I64(n) => n as u64,
        Value::F64(x) => x.to_bits(),
        Value::Bool(b) => b as u64,
        _ => unreachable!("checked to be a scalar"),
    }
}

impl Machine<'_> {
    fn run(&mut self, main: FuncId) -> Result<Option<i64>, TrapReport> {
        let result = self.push_frame(main.as_u32(), &[], Ret::Main).and_then(|()| self.execute());
        match result {
            Ok(()) => Ok(self.result.flatten()),
            Err(trap) => {
                let frames = self.frames.iter().rev().map(|f| self.compiled.funcs[f.func as usize].name.as_str());
                Err(TrapReport::new(trap, frames))
            }
        }
    }

    /// Pushes a frame for `func` with `args` (borrowed values) in its
    /// parameter registers.
    fn push_frame(&mut self, func: u32, args: &[Value], ret: Ret) -> Result<(), Trap> {
        let (sbase, bbase) = self.next_bases()?;
        let code = &self.compiled.funcs[func as usize];
        let sizes = (code.s_size, code.b_size);
        self.grow(sbase, bbase, code)?;
        for (p, &arg) in code.params.iter().zip(args) {
            match p.file {
                File::S => self.s[sbase + p.reg as usize] = value_word(arg),
                File::B => self.b[bbase + p.reg as usize] = arg,
            }
        }
        self.enter(func, sbase, bbase, sizes, ret)
    }

    /// Pushes the frame of `func` (of the given frame sizes) at the given
    /// register bases and takes the function entry's safepoint.
    #[inline]
    fn enter(
        &mut self,
        func: u32,
        sbase: usize,
        bbase: usize,
        (s_size, b_size): (u32, u32),
        ret: Ret,
    ) -> Result<(), Trap> {
        let ret = match ret {
            Ret::Main => RetKind::Main,
            Ret::Direct(slot) => RetKind::Direct(slot),
            pending => {
                self.pending.push(pending);
                RetKind::Pending
            }
        };
        let code = &self.compiled.funcs[func as usize];
        self.frames.push(Frame {
            code,
            func,
            pc: 0,
            sbase: sbase as u32,
            bbase: bbase as u32,
            s_top: sbase as u32 + s_size,
            b_top: bbase as u32 + b_size,
            ret,
        });
        self.rt.safepoint()
    }

    /// Register bases of a new frame above the top one; checks the depth.
    #[inline]
    fn next_bases(&self) -> Result<(usize, usize), Trap> {
        if self.frames.len() >= self.rt.max_depth as usize {
            return Err(Trap::StackOverflow);
        }
        Ok(self.frames.last().map_or((0, 0), |f| (f.s_top as usize, f.b_top as usize)))
    }

    /// Makes room for a frame of `code` at the given bases.
    #[inline]
    fn grow(&mut self, sbase: usize, bbase: usize, code: &FuncCode) -> Result<(), Trap> {
        self.grow_to(sbase + code.s_size as usize, bbase + code.b_size as usize)
    }

    /// Makes the register files at least this long. Registers are reused
    /// without clearing: every register is written before it is read. A
    /// file that cannot grow (deep recursion of large frames) is `out of
    /// memory`, not an abort.
    #[inline(always)]
    fn grow_to(&mut self, s_len: usize, b_len: usize) -> Result<(), Trap> {
        if self.s.len() < s_len || self.b.len() < b_len {
            return self.grow_files(s_len, b_len);
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn grow_files(&mut self, s_len: usize, b_len: usize) -> Result<(), Trap> {
        if self.s.len() < s_len {
            self.s.try_reserve(s_len - self.s.len()).map_err(|_| Trap::OutOfMemory)?;
            self.s.resize(s_len, 0);
        }
        if self.b.len() < b_len {
            self.b.try_reserve(b_len - self.b.len()).map_err(|_| Trap::OutOfMemory)?;
            self.b.resize(b_len, Value::Null);
        }
        Ok(())
    }

    fn read(&self, slot: Slot, ty: Type, sbase: usize, bbase: usize) -> Value {
        match slot.file {
            File::S => word_value(self.s[sbase + slot.reg as usize], ty),
            File::B => self.b[bbase + slot.reg as usize],
        }
    }

    /// Stores an owned result, checked against `ty`; without a register
    /// the result is released (after the instruction).
    fn store(&mut self, ret: Option<(Slot, Type)>, v: Value, sbase: usize, bbase: usize) -> Result<(), Trap> {
        match ret {
            None => self.rt.heap.push_release(v),
            Some((slot, ty)) if v.fits(ty) => match slot.file {
                File::S => self.s[sbase + slot.reg as usize] = value_word(v),
                File::B => self.b[bbase + slot.reg as usize] = v,
            },
            // The checked unboxing fails: the trap.
            Some((_, ty)) => return self.rt.unbox(v, ty).map(drop),
        }
        Ok(())
    }

    /// Saves frame `top`'s position: before a call, or after a release
    /// pushed a `fini` frame above it.
    #[inline]
    fn save_pc(&mut self, top: usize, pc: usize) {
        self.frames[top].pc = pc as u32;
    }

    /// Releases what is queued above `base`; returns whether a `fini`
    /// frame was pushed (the caller must save its position and reload).
    fn drive(&mut self, base: usize) -> Result<bool, Trap> {
        match self.rt.heap.drive(base) {
            None => Ok(false),
            Some(request) => {
                let obj = Value::Obj(request.obj);
                self.push_frame(request.func.as_u32(), &[obj], Ret::Fini { obj: request.obj, base })?;
                Ok(true)
            }
        }
    }

    /// The main loop.
    fn execute(&mut self) -> Result<(), Trap> {
        let compiled = self.compiled;
        'frame: while self.result.is_none() {
            let top = self.frames.len() - 1;
            let Some(&Frame { code: f, pc: start, sbase, bbase, .. }) = self.frames.last() else { break };
            let (sb, bb) = (sbase as usize, bbase as usize);
            let code = f.code.as_slice();
            let mut pc = start as usize;
            // SAFETY (registers): the validator proved that every register an
            // op names is below the frame size of its file; `grow` made both
            // files at least `base + frame size` long when this frame was
            // pushed, and they only grow.
            macro_rules! s {
                ($r:expr) => {
                    *unsafe { self.s.get_unchecked_mut(sb + $r as usize) }
                };
            }
            macro_rules! b {
                ($r:expr) => {
                    *unsafe { self.b.get_unchecked_mut(bb + $r as usize) }
                };
            }
            // The frames changed (a call, a return, a `fini`): save and reload.
            macro_rules! reload {
                () => {{
                    self.save_pc(top, pc);
                    continue 'frame;
                }};
            }
            // A boxcall op's out-of-line fast path, else its general call.
            macro_rules! fast {
                ($op:expr, $d:expr) => {{
                    match self.fast_call($op, $d, sb, bb)? {
                        Fast::Done => continue,
                        Fast::Fini => reload!(),
                        Fast::General => {
                            self.save_pc(top, pc);
                            self.dynamic($d, sb, bb)?;
                            continue 'frame;
                        }
                    }
                }};
            }
            loop {
                // Checked, although the validator proved jump targets: `pc`
                // also comes back from saved frames.
                let op = &code[pc];
                pc += 1;
                match *op {
                    Op::BrLtIK { a, imm, t } => {
                        if (s!(a) as i64) < imm as i64 {
                            pc = t as usize;
                        }
                    }
                    Op::BrLeIK { a, imm, t } => {
                        if (s!(a) as i64) <= imm as i64 {
                            pc = t as usize;
                        }
                    }
                    Op::BrGtIK { a, imm, t } => {
                        if (s!(a) as i64) > imm as i64 {
                            pc = t as usize;
                        }
                    }
                    Op::BrGeIK { a, imm, t } => {
                        if (s!(a) as i64) >= imm as i64 {
                            pc = t as usize;
                        }
                    }
                    Op::BrEqIK { a, imm, t } => {
                        if (s!(a) as i64) == imm as i64 {
                            pc = t as usize;
                        }
                    }
                    Op::BrNeIK { a, imm, t } => {
                        if (s!(a) as i64) != imm as i64 {
                            pc = t as usize;
                        }
                    }
                    Op::BrLtI { a, b, t } => {
                        if (s!(a) as i64) < s!(b) as i64 {
                            pc = t as usize;
                        }
                    }
                    Op::BrLeI { a, b, t } => {
                        if (s!(a) as i64) <= s!(b) as i64 {
                            pc = t as usize;
                        }
                    }
                    Op::BrEqI { a, b, t } => {
                        if s!(a) == s!(b) {
                            pc = t as usize;
                        }
                    }
                    Op::BrNeI { a, b, t } => {
                        if s!(a) != s!(b) {
                            pc = t as usize;
                        }
                    }
                    Op::AddIK { d, a, imm } => s!(d) = (s!(a) as i64).wrapping_add(imm as i64) as u64,
                    Op::AddI { d, a, b } => s!(d) = s!(a).wrapping_add(s!(b)),
                    Op::SubI { d, a, b } => s!(d) = s!(a).wrapping_sub(s!(b)),
                    Op::MulI { d, a, b } => s!(d) = s!(a).wrapping_mul(s!(b)),
                    Op::BinI { op, d, a, b } => s!(d) = ops::binop_i64(op, s!(a) as i64, s!(b) as i64)? as u64,
                    Op::Jmp { t } => pc = t as usize,
                    Op::Loop { t } => {
                        self.rt.safepoint()?;
                        pc = t as usize;
                    }
                    Op::IncLoop { a, imm, t } => {
                        s!(a) = (s!(a) as i64).wrapping_add(imm as i64) as u64;
                        self.rt.safepoint()?;
                        pc = t as usize;
                    }
                    Op::Mov { d, a } => s!(d) = s!(a),
                    Op::MulIK { d, a, imm } => s!(d) = (s!(a) as i64).wrapping_mul(imm as i64) as u64,
                    Op::DivIK { d, a, imm } => s!(d) = ((s!(a) as i64) / imm as i64) as u64,
                    Op::RemIK { d, a, imm } => s!(d) = ((s!(a) as i64) % imm as i64) as u64,
                    Op::GetS { ty, d, a, i, site } => {
                        if let Some(v) = Runtime::array_peek(b!(a), s!(i) as i64)
                            && v.fits(ty)
                        {
                            s!(d) = value_word(v);
                            continue;
                        }
                        self.save_pc(top, pc);
                        self.get_s(&f.dyns[site as usize], ty, [d, a, i], sb, bb)?;
                        continue 'frame;
                    }
                    Op::SetS { ty, a, i, v, site } => {
                        if Runtime::array_set_scalar(b!(a), s!(i) as i64, word_value(s!(v), ty)) {
                            continue;
                        }
                        self.save_pc(top, pc);
                        self.set_s(&f.dyns[site as usize], ty, [a, i, v], sb, bb)?;
                        continue 'frame;
                    }
                    Op::HasS { d, a, k, site } => {
                        if self.map_has_s([d, a, k], sb, bb) {
                            continue;
                        }
                        self.save_pc(top, pc);
                        self.dynamic(&f.dyns[site as usize], sb, bb)?;
                        continue 'frame;
                    }
                    // SAFETY: the validator checked the constant index.
                    Op::LoadK { d, k } => s!(d) = *unsafe { f.consts.get_unchecked(k as usize) },
                    Op::BinF { op, d, a, b } => {
                        s!(d) = ops::binop_f64(op, f64::from_bits(s!(a)), f64::from_bits(s!(b))).to_bits()
                    }
                    Op::CmpI { op, d, a, b } => s!(d) = ops::compare(op, s!(a) as i64, s!(b) as i64) as u64,
                    Op::CmpIK { op, d, a, imm } => s!(d) = ops::compare(op, s!(a) as i64, imm as i64) as u64,
                    Op::CmpF { op, d, a, b } => {
                        s!(d) = ops::compare(op, f64::from_bits(s!(a)), f64::from_bits(s!(b))) as u64
                    }
                    Op::BrF { op, a, b, t } => {
                        if ops::compare(op, f64::from_bits(s!(a)), f64::from_bits(s!(b))) {
                            pc = t as usize;
                        }
                    }
                    Op::BrTrue { c, t } => {
                        if s!(c) != 0 {
                            pc = t as usize;
                        }
                    }
                    Op::MathF { op, d, a } => s!(d) = op.apply(f64::from_bits(s!(a))).to_bits(),
                    Op::Conv { kind, d, a } => {
                        s!(d) = match kind {
                            Conv::I64ToF64 => (s!(a) as i64 as f64).to_bits(),
                            Conv::F64ToI64 => ops::f64_to_i64(f64::from_bits(s!(a))) as u64,
                            Conv::I64ToBool => (s!(a) != 0) as u64,
                        }
                    }
                    Op::LoadStr { d, k } => b!(d) = self.strings[k as usize].retain(),
                    Op::LoadBox { d, k } => b!(d) = f.boxes[k as usize],
                    Op::MovB { d, a } => b!(d) = b!(a),
                    Op::CopyB { d, a } => b!(d) = b!(a).retain(),
                    Op::CmpB { op, d, a, b } => {
                        let (x, y) = (b!(a), b!(b));
                        s!(d) = self.rt.compare_boxes(op, x, y)? as u64;
                    }
                    Op::Box { ty, d, a } => b!(d) = word_value(s!(a), ty),
                    Op::Unbox { ty, d, a } => {
                        let v = self.rt.unbox(b!(a), ty)?;
                        s!(d) = value_word(v);
                    }
                    Op::Is { d, a, class } => {
                        let class: ClassRef = compiled.classes[class as usize];
                        s!(d) = self.rt.is_instance(b!(a), class) as u64;
                    }
                    Op::Safepoint => self.rt.safepoint()?,
                    Op::Fence => std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst),
                    Op::Release { a } => {
                        let v = b!(a);
                        if v.as_obj().is_some() {
                            let base = self.rt.heap.release_base();
                            self.rt.heap.push_release(v);
                            if self.drive(base)? {
                                reload!();
                            }
                        }
                    }
                    Op::ReleaseN { list } => {
                        let base = self.rt.heap.release_base();
                        let values: Args = f.lists[list as usize].iter().map(|&r| b!(r)).collect();
                        self.rt.heap.push_releases(values.into_iter());
                        if self.drive(base)? {
                            reload!();
                        }
                    }
                    Op::Call { site } => {
                        self.save_pc(top, pc);
                        self.call(f, site, sb, bb)?;
                        continue 'frame;
                    }
                    Op::RetS { a } => {
                        let word = s!(a);
                        // The common case, a scalar back to a direct caller, inline.
                        let frame = self.frames.pop().expect("a frame is running");
                        if let (RetKind::Direct(Some(slot)), Some(caller)) = (frame.ret, self.frames.last()) {
                            self.s[caller.sbase as usize + slot.reg as usize] = word;
                            continue 'frame;
                        }
                        self.frames.push(frame);
                        self.ret(top, Some(Returned::Word(word, f.ret.expect("verified return type"))))?;
                        continue 'frame;
                    }
                    Op::RetB { a, retain } => {
                        let v = if retain { b!(a).retain() } else { b!(a) };
                        self.ret(top, Some(Returned::Value(v)))?;
                        continue 'frame;
                    }
                    Op::RetVoid => {
                        self.ret(top, None)?;
                        continue 'frame;
                    }
                    // ArrayBox calls inline; other classes' fast paths out of line.
                    Op::Get { site } => {
                        let d = &f.dyns[site as usize];
                        if let (Some(recv), Some(i)) = (self.fast_receiver(d, sb, bb), self.fast_index(d, sb, bb))
                            && let Some(got) = Runtime::array_get(recv, i)
                        {
                            let base = self.rt.heap.release_base();
                            self.store(d.ret, got?, sb, bb)?;
                            if self.rt.heap.release_base() != base && self.drive(base)? {
                                reload!();
                            }
                            continue;
                        }
                        fast!(*op, d);
                    }
                    Op::Set { site } => {
                        let d = &f.dyns[site as usize];
                        if let (Some(recv), Some(i)) = (self.fast_receiver(d, sb, bb), self.fast_index(d, sb, bb)) {
                            let value = self.arg(d, 1, sb, bb);
                            let base = self.rt.heap.release_base();
                            if let Some(done) = self.rt.array_set(recv, i, value) {
                                done?;
                                if let Some((slot, ty)) = d.ret {
                                    self.store(Some((slot, ty)), Value::Null, sb, bb)?;
                                }
                                if self.drive(base)? {
                                    reload!();
                                }
                                continue;
                            }
                        }
                        fast!(*op, d);
                    }
                    Op::Length { site } => {
                        let d = &f.dyns[site as usize];
                        if let Some(recv) = self.fast_receiver(d, sb, bb)
                            && let Some(n) = Runtime::array_len(recv)
                        {
                            self.store(d.ret, Value::I64(n), sb, bb)?;
                            continue;
                        }
                        fast!(*op, d);
                    }
                    Op::Push { site } => {
                        let d = &f.dyns[site as usize];
                        if let Some(recv) = self.fast_receiver(d, sb, bb) {
                            let value = self.arg(d, 0, sb, bb);
                            if let Some(done) = self.rt.array_push(recv, value) {
                                done?;
                                if let Some((slot, ty)) = d.ret {
                                    self.store(Some((slot, ty)), Value::Null, sb, bb)?;
                                }
                                continue;
                            }
                        }
                        self.save_pc(top, pc);
                        self.dynamic(d, sb, bb)?;
                        continue 'frame;
                    }
                    Op::Has { site } | Op::Delete { site } | Op::Size { site } | Op::Concat { site } => {
                        let d = &f.dyns[site as usize];
                        fast!(*op, d);
                    }
                    Op::Dyn { site } => {
                        self.save_pc(top, pc);
                        self.dynamic(&f.dyns[site as usize], sb, bb)?;
                        continue 'frame;
                    }
                }
            }
        }
        Ok(())
    }

    /// The fast paths of the boxcall ops `Get` to `Concat` for the classes
    /// other than ArrayBox (whose are inline): runs the call as the general
    /// path would, when the receiver's class and the arguments allow. This
    /// and the other fast paths below stay out of line: inlined into the
    /// dispatch loop, they made it keep fewer of its values in registers.
    #[inline(never)]
    fn fast_call(&mut self, op: Op, d: &DynSite, sb: usize, bb: usize) -> Result<Fast, Trap> {
        let DynKind::Method { recv, recv_ty, owned, .. } = d.kind else { return Ok(Fast::General) };
        let recv = self.read(recv, recv_ty, sb, bb);
        let base = self.rt.heap.release_base();
        if let Op::Concat { .. } = op {
            let Some(call) = self.rt.string_concat(recv, owned, self.arg(d, 0, sb, bb)) else {
                return Ok(Fast::General);
            };
            let call = call?;
            self.store(d.ret, call.value, sb, bb)?;
            if owned && !call.took_receiver {
                self.rt.queue_after(base, Some(recv), &[]);
            }
            return self.finish_fast(base);
        }
        let done = match op {
            Op::Get { .. } => Runtime::map_peek(recv, self.arg(d, 0, sb, bb)).map(|v| Ok(v.retain())),
            Op::Set { .. } => {
                let (key, value) = (self.arg(d, 0, sb, bb), self.arg(d, 1, sb, bb));
                self.rt.map_set(recv, key, value).map(|done| done.map(|()| Value::Null))
            }
            Op::Length { .. } => Runtime::string_len(recv).map(|n| Ok(Value::I64(n))),
            Op::Has { .. } => Runtime::map_has(recv, self.arg(d, 0, sb, bb)).map(|has| Ok(Value::Bool(has))),
            Op::Delete { .. } => self.rt.map_delete(recv, self.arg(d, 0, sb, bb)).map(|found| Ok(Value::Bool(found))),
            Op::Size { .. } => Runtime::map_size(recv).map(|n| Ok(Value::I64(n))),
            _ => None,
        };
        let Some(value) = done else { return Ok(Fast::General) };
        self.store(d.ret, value?, sb, bb)?;
        self.finish_fast(base)
    }

    /// `GetS` past its inline ArrayBox path: a MapBox's value of type `ty`,
    /// else the general call.
    #[inline(never)]
    fn get_s(&mut self, d: &DynSite, ty: Type, [dst, a, i]: [Reg; 3], sb: usize, bb: usize) -> Result<(), Trap> {
        let (map, key) = (self.b[bb + a as usize], self.s[sb + i as usize] as i64);
        match Runtime::map_peek(map, Value::I64(key)) {
            Some(v) if v.fits(ty) => {
                self.s[sb + dst as usize] = value_word(v);
                Ok(())
            }
            _ => self.dynamic(d, sb, bb),
        }
    }

    /// `SetS` past its inline ArrayBox path: a MapBox's `set`, else the
    /// general call.
    #[inline(never)]
    fn set_s(&mut self, d: &DynSite, ty: Type, [a, i, v]: [Reg; 3], sb: usize, bb: usize) -> Result<(), Trap> {
        let (map, key) = (self.b[bb + a as usize], self.s[sb + i as usize] as i64);
        let value = word_value(self.s[sb + v as usize], ty);
        let base = self.rt.heap.release_base();
        match self.rt.map_set(map, Value::I64(key), value) {
            Some(done) => {
                done?;
                self.finish_fast(base).map(drop)
            }
            None => self.dynamic(d, sb, bb),
        }
    }

    /// `HasS` on a MapBox: whether it ran (if not, make the general call).
    #[inline(never)]
    fn map_has_s(&mut self, [dst, a, k]: [Reg; 3], sb: usize, bb: usize) -> bool {
        let (map, key) = (self.b[bb + a as usize], self.s[sb + k as usize] as i64);
        match Runtime::map_has(map, Value::I64(key)) {
            Some(has) => {
                self.s[sb + dst as usize] = has as u64;
                true
            }
            None => false,
        }
    }

    /// Releases what a fast path queued since `base` (the value a `set`
    /// replaced, a result without a register), as the general path does.
    #[inline]
    fn finish_fast(&mut self, base: usize) -> Result<Fast, Trap> {
        if self.rt.heap.release_base() != base && self.drive(base)? {
            return Ok(Fast::Fini);
        }
        Ok(Fast::Done)
    }

    /// The receiver of a fast-path boxcall.
    #[inline]
    fn fast_receiver(&self, d: &DynSite, sb: usize, bb: usize) -> Option<Value> {
        match d.kind {
            DynKind::Method { recv, recv_ty, .. } => Some(self.read(recv, recv_ty, sb, bb)),
            _ => None,
        }
    }

    /// The first argument as an integer index, if it is one.
    #[inline]
    fn fast_index(&self, d: &DynSite, sb: usize, bb: usize) -> Option<i64> {
        match self.arg(d, 0, sb, bb) {
            Value::I64(i) => Some(i),
            _ => None,
        }
    }

    /// Argument `i` of a dynamic call.
    #[inline]
    fn arg(&self, d: &DynSite, i: usize, sb: usize, bb: usize) -> Value {
        let (slot, ty) = d.args[i];
        self.read(slot, ty, sb, bb)
    }

    /// A direct call.
    #[inline(always)]
    fn call(&mut self, f: &FuncCode, site: u32, sb: usize, bb: usize) -> Result<(), Trap> {
        // SAFETY: the validator checked the site index; see `validate_calls`
        // for the registers, and `grow_to` for the files' lengths.
        let site = unsafe { f.calls.get_unchecked(site as usize) };
        let (sbase, bbase) = self.next_bases()?;
        self.grow_to(sbase + site.s_size as usize, bbase + site.b_size as usize)?;
        for &(a, p) in &site.s_moves {
            // SAFETY: `a` is below the caller's frame size, `p` below the
            // callee's, and both frames lie within the grown file.
            unsafe { *self.s.get_unchecked_mut(sbase + p as usize) = *self.s.get_unchecked(sb + a as usize) };
        }
        for &(a, p) in &site.b_moves {
            // SAFETY: as above.
            unsafe { *self.b.get_unchecked_mut(bbase + p as usize) = *self.b.get_unchecked(bb + a as usize) };
        }
        self.enter(site.callee.as_u32(), sbase, bbase, (site.s_size, site.b_size), Ret::Direct(site.ret))
    }

    /// Returns from the top frame with an owned result.
    fn ret(&mut self, top: usize, value: Option<Returned>) -> Result<(), Trap> {
        let frame = self.frames.pop().expect("a frame returns");
        debug_assert_eq!(top, self.frames.len());
        let Some(caller) = self.frames.last() else {
            self.result = Some(match value {
                Some(Returned::Word(w, Type::I64)) => Some(w as i64),
                _ => None,
            });
            return Ok(());
        };
        let (sb, bb) = (caller.sbase as usize, caller.bbase as usize);
        let ret = match frame.ret {
            RetKind::Main => Ret::Main,
            RetKind::Direct(slot) => Ret::Direct(slot),
            RetKind::Pending => self.pending.pop().expect("a pending return per pending frame"),
        };
        match ret {
            Ret::Main => unreachable!("@main has no caller"),
            Ret::Direct(slot) => match (slot, value) {
                (Some(slot), Some(Returned::Word(w, _))) => self.s[sb + slot.reg as usize] = w,
                (Some(slot), Some(Returned::Value(v))) => self.b[bb + slot.reg as usize] = v,
                (None, Some(Returned::Value(v))) => {
                    let base = self.rt.heap.release_base();
                    self.rt.heap.push_release(v);
                    self.drive(base)?;
                }
                _ => {}
            },
            Ret::Fini { obj, base } => {
                self.rt.heap.push_release(Value::Obj(obj));
                self.drive(base)?;
            }
            Ret::Dyn { ret, recv, birth } => {
                let base = self.rt.heap.release_base();
                let value = value.map_or(Value::Null, Returned::into_value);
                match birth {
                    Some(obj) => {
                        self.rt.heap.push_release(value);
                        self.store(ret, Value::Obj(obj), sb, bb)?;
                    }
                    None => self.store(ret, value, sb, bb)?,
                }
                self.rt.queue_after(base, recv.map(Value::Obj), &[]);
                self.drive(base)?;
            }
        }
        Ok(())
    }

    /// A call resolved at run time: indirect calls, boxcalls, externcalls.
    fn dynamic(&mut self, site: &DynSite, sb: usize, bb: usize) -> Result<(), Trap> {
        // Arguments in a plain array when they fit: cheaper than collecting.
        let mut small = [Value::Null; 8];
        let large: Vec<Value>;
        let args: &[Value] = if site.args.len() <= small.len() {
            for (arg, &(slot, ty)) in small.iter_mut().zip(&site.args) {
                *arg = self.read(slot, ty, sb, bb);
            }
            &small[..site.args.len()]
        } else {
            large = site.args.iter().map(|&(slot, ty)| self.read(slot, ty, sb, bb)).collect();
            &large
        };
        match site.kind {
            DynKind::Indirect { callee } => {
                let target = match self.b[bb + callee as usize] {
                    Value::Func(f) => f,
                    other => return Err(Trap::Expected { expected: "FunctionBox", got: self.rt.class_name(other) }),
                };
                self.call_mir(target, args, Ret::Dyn { ret: site.ret, recv: None, birth: None })
            }
            DynKind::Method { recv, recv_ty, method, owned, cache, field } => {
                let recv = self.read(recv, recv_ty, sb, bb);
                let target = self.dispatch(recv, method, cache, field)?;
                let recv_obj = if owned { recv.as_obj() } else { None };
                match target {
                    Target::Field(obj, slot) => {
                        let base = self.rt.heap.release_base();
                        let value = if method.builtin == Some(Method::SetField) {
                            self.rt.set_field(obj, slot, args[1]);
                            Value::Null
                        } else {
                            self.rt.get_field(obj, slot)
                        };
                        self.builtin_done(site.ret, value, recv_obj, base, sb, bb)
                    }
                    Target::Runtime(Dispatch::Builtin(m)) => {
                        let base = self.rt.heap.release_base();
                        let call = self.rt.call_builtin(recv, owned, m, args)?;
                        let left = if call.took_receiver { None } else { recv_obj };
                        self.builtin_done(site.ret, call.value, left, base, sb, bb)
                    }
                    Target::Runtime(Dispatch::User(f)) => {
                        let full: Args = std::iter::once(recv).chain(args.iter().copied()).collect();
                        self.call_mir(f, &full, Ret::Dyn { ret: site.ret, recv: recv_obj, birth: None })
                    }
                    Target::Runtime(Dispatch::Invoke(f)) => {
                        self.call_mir(f, args, Ret::Dyn { ret: site.ret, recv: recv_obj, birth: None })
                    }
                }
            }
            DynKind::Static { class, method } => match self.rt.call_static(class, method, args)? {
                StaticResult::Value(v) => self.store(site.ret, v, sb, bb),
                StaticResult::Birth { obj, func } => {
                    let full: Args = std::iter::once(obj).chain(args.iter().copied()).collect();
                    let birth = obj.as_obj();
                    self.call_mir(func, &full, Ret::Dyn { ret: site.ret, recv: None, birth })
                }
            },
            DynKind::Extern { host } => {
                let id = self.hosts[host as usize];
                let params = self.rt.host().sig(id).params.clone();
                let mut converted = Args::new();
                for (&a, &ty) in args.iter().zip(&params) {
                    converted.push(self.rt.unbox(a, ty)?);
                }
                let base = self.rt.heap.release_base();
                let value = self.rt.call_host(id, &converted)?;
                self.store(site.ret, value, sb, bb)?;
                self.drive(base).map(|_| ())
            }
        }
    }

    /// Completes a built-in call (or a field access) that returned
    /// `value`, as the runtime's other callers do: stores the result, then
    /// releases what the call queued and the handed-over receiver `left`.
    fn builtin_done(
        &mut self,
        ret: Option<(Slot, Type)>,
        value: Value,
        left: Option<ObjRef>,
        base: usize,
        sb: usize,
        bb: usize,
    ) -> Result<(), Trap> {
        self.store(ret, value, sb, bb)?;
        if let Some(left) = left {
            self.rt.queue_after(base, Some(Value::Obj(left)), &[]);
        }
        if self.rt.heap.release_base() != base {
            self.drive(base)?;
        }
        Ok(())
    }

    /// What a boxcall runs, through the site's inline cache for user boxes:
    /// a class's method, or the slot of the field a `getField`/`setField`
    /// of the constant name `field` (an index into `Compiled::fields`) reaches.
    #[inline]
    fn dispatch(
        &self,
        recv: Value,
        method: runtime::MethodRef,
        cache: u32,
        field: Option<u32>,
    ) -> Result<Target, Trap> {
        let user = recv.as_obj().filter(|o| o.kind() == runtime::Kind::User);
        let class = user.map(|o| o.user().class);
        let slot = &self.caches[cache as usize];
        if let (Some(obj), Some(class), Some((cached, target))) = (user, class, slot.get().entry)
            && class == cached
        {
            return Ok(match target {
                Cached::Method(func) => Target::Runtime(Dispatch::User(func)),
                Cached::Field(at) => Target::Field(obj, at),
            });
        }
        let dispatch = self.rt.dispatch(recv, method)?;
        let cached = match (dispatch, user, field) {
            (Dispatch::User(func), ..) => Some(Cached::Method(func)),
            (Dispatch::Builtin(Method::GetField | Method::SetField), Some(obj), Some(name)) => {
                self.rt.field_of(obj, &self.compiled.fields[name as usize]).map(Cached::Field)
            }
            _ => None,
        };
        if let (Some(class), Some(target)) = (class, cached) {
            slot.set(Cache { entry: Some((class, target)) });
        }
        Ok(match (user, cached) {
            (Some(obj), Some(Cached::Field(at))) => Target::Field(obj, at),
            _ => Target::Runtime(dispatch),
        })
    }

    /// Calls a MIR function whose arguments were not checked by the verifier.
    fn call_mir(&mut self, func: FuncId, args: &[Value], ret: Ret) -> Result<(), Trap> {
        let meta = self.rt.info.func(func);
        if args.len() != meta.params.len() {
            return Err(Trap::Arity {
                callee: format!("@{}", meta.name),
                expected: meta.params.len(),
                got: args.len(),
            });
        }
        for (&arg, &ty) in args.iter().zip(&meta.params) {
            self.rt.unbox(arg, ty)?;
        }
        self.push_frame(func.as_u32(), args, ret)
    }
}

/// A returned value: a scalar word with its type, or a box.
#[derive(Clone, Copy)]
enum Returned {
    Word(u64, Type),
    Value(Value),
}

impl Returned {
    fn into_value(self) -> Value {
        match self {
            Returned::Word(w, ty) => word_value(w, ty),
            Returned::Value(v) => v,
        }
    }
}

/// What a boxcall's fast path did.
enum Fast {
    /// Made the call.
    Done,
    /// Made the call, and a release pushed a `fini` frame: save the
    /// position and reload.
    Fini,
    /// Nothing: make the general call instead.
    General,
}
