//! The reference interpreter: executes a verified [`mir::Program`] directly,
//! instruction by instruction, on the shared Box runtime.
//!
//! It is the semantic baseline the VM and the JIT are tested against, so it
//! favours obviousness over speed: every register holds a runtime [`Value`],
//! and every release follows the shared drop plan. It keeps its own frame
//! stack: MIR calls, user methods, `birth`, `FunctionBox.call` and `fini`
//! all push frames, so no MIR program can overflow the native stack. It
//! knows nothing about the other backends.

use mir::{
    Block, Callee, ClassRef, CompareOp, EntityVec, FuncId, Inst, InstData, Literal, Program, Receiver, Type,
    TypeOpKind, Value as V,
};
use runtime::{Dispatch, HostId, MethodRef, ObjRef, Runtime, StaticResult, Trap, TrapReport, Value, ops};
use smallvec::SmallVec;
use std::sync::Arc;

/// Values of one instruction's operands; calls rarely have more than eight.
type Args = SmallVec<[Value; 8]>;

/// Runs `@main` of `program` to completion on `rt`. Returns `@main`'s result
/// (`None` for a void `@main`), or the trap that ended the run.
///
/// # Panics
/// If `program` has no `@main`; callers check first.
pub fn run(program: &Arc<Program>, rt: &mut Runtime) -> Result<Option<i64>, TrapReport> {
    let main = program.main().expect("the caller checked that @main exists");
    let mut interp = Interp::new(program, rt).map_err(|trap| TrapReport { trap, backtrace: Vec::new() })?;
    let result = interp.run(main);
    interp.release_constants();
    result
}

/// What an instruction needs beyond its `InstData`, resolved before the run.
#[derive(Clone, Copy)]
enum Resolved {
    None,
    /// A constant's value (a string is owned by the constant table).
    Const(Value),
    Call(FuncId),
    Method(MethodRef),
    Static(ClassRef, MethodRef),
    Extern(HostId),
    Is(ClassRef),
    /// A cast, with its operand's type.
    Cast(Type),
}

/// A function prepared for interpretation.
struct FuncPlan {
    resolved: EntityVec<Inst, Resolved>,
    /// Register of each parameter.
    params: Vec<usize>,
    /// Phis at the start of each block (skipped when entering it).
    phis: EntityVec<Block, u32>,
    frame_size: usize,
}

/// How a frame's caller completes the instruction that made the call.
#[derive(Clone, Copy)]
enum Completion {
    /// Store the result of a direct call, typed by the verifier.
    Direct,
    /// Store the result, checked against this type (a dynamic call).
    Result(Type),
    /// `birth` returned; the instruction's result is this new object.
    Birth(Value),
}

/// An instruction waiting for a callee to return.
#[derive(Clone, Copy)]
struct Waiting {
    inst: Inst,
    /// Release-stack height when the instruction started.
    release_base: usize,
    completion: Completion,
    /// A handed-over receiver the instruction still has to release.
    receiver: Option<Value>,
}

/// An activation.
struct Frame {
    func: FuncId,
    /// Index of the frame's first register.
    base: usize,
    block: Block,
    /// Position of the next instruction in `block`.
    ip: usize,
    /// A safepoint is due before the next instruction (function entry,
    /// loop header).
    safepoint_due: bool,
    waiting: Option<Waiting>,
    /// For a `fini` call: the object to hand back to the heap on return,
    /// and the release-stack base to resume.
    fini: Option<(ObjRef, usize)>,
}

struct Interp<'a> {
    program: &'a Program,
    rt: &'a mut Runtime,
    plans: Vec<FuncPlan>,
    frames: Vec<Frame>,
    regs: Vec<Value>,
    /// String constants, owned for the whole run.
    constants: Vec<Value>,
    /// `@main`'s result once it returned.
    finished: Option<Option<Value>>,
}

impl<'a> Interp<'a> {
    fn new(program: &'a Program, rt: &'a mut Runtime) -> Result<Interp<'a>, Trap> {
        let mut constants = Vec::new();
        let mut plans = Vec::with_capacity(program.module().funcs.len());
        for (id, func) in program.module().funcs.iter() {
            let info = program.info(id);
            let mut resolved = EntityVec::filled(func.insts.len(), Resolved::None);
            for (inst, data) in func.insts.iter() {
                resolved[inst] = match *data {
                    InstData::Const { lit } => Resolved::Const(match lit {
                        Literal::I64(n) => Value::I64(n),
                        Literal::F64(x) => Value::F64(x.value()),
                        Literal::Bool(b) => Value::Bool(b),
                        Literal::Null => Value::Null,
                        Literal::Func(f) => Value::Func(program.func_id(f).expect("verified callee")),
                        Literal::Str(s) => {
                            let v = rt.new_string(program.module().sym(s).to_string())?;
                            constants.push(v);
                            v
                        }
                    }),
                    InstData::Call { callee: Callee::Direct(f), .. } => {
                        Resolved::Call(program.func_id(f).expect("verified callee"))
                    }
                    InstData::BoxCall { recv: Receiver::Value(_), method, .. } => {
                        Resolved::Method(rt.method_ref(method))
                    }
                    InstData::BoxCall { recv: Receiver::Class(c), method, .. } => {
                        Resolved::Static(program.class(c).expect("verified class"), rt.method_ref(method))
                    }
                    InstData::ExternCall { name, .. } => {
                        Resolved::Extern(rt.host_id(program.module().sym(name)).expect("verified host function"))
                    }
                    InstData::TypeOp { op: TypeOpKind::Is(c), .. } => {
                        Resolved::Is(program.class(c).expect("verified class"))
                    }
                    InstData::TypeOp { op: TypeOpKind::Cast(_), arg } => Resolved::Cast(info.types[arg]),
                    _ => Resolved::None,
                };
            }
            let phis = func.blocks.keys().map(|b| func.phis(b).count() as u32).collect();
            let params = func.params.iter().map(|p| p.value.as_u32() as usize).collect();
            plans.push(FuncPlan { resolved, params, phis, frame_size: func.values.len() });
        }
        Ok(Interp { program, rt, plans, frames: Vec::new(), regs: Vec::new(), constants, finished: None })
    }

    fn release_constants(&mut self) {
        let base = self.rt.heap.release_base();
        self.rt.heap.push_releases(std::mem::take(&mut self.constants).into_iter());
        let _ = self.rt.heap.drive(base);
    }

    fn run(&mut self, main: FuncId) -> Result<Option<i64>, TrapReport> {
        match self.run_main(main) {
            Ok(result) => Ok(result),
            Err(trap) => {
                let backtrace = self.frames.iter().rev().map(|f| self.rt.info.func(f.func).name.clone()).collect();
                Err(TrapReport { trap, backtrace })
            }
        }
    }

    /// The main loop. The top frame's position lives in locals while its
    /// instructions run; anything that may change frames (an edge, a call,
    /// a return, a release that runs `fini`) saves it and reloads.
    fn run_main(&mut self, main: FuncId) -> Result<Option<i64>, Trap> {
        let program = self.program;
        self.push_frame(main, &[], None)?;
        while self.finished.is_none() {
            let top = self.frames.len() - 1;
            if self.frames[top].safepoint_due {
                self.frames[top].safepoint_due = false;
                self.rt.safepoint()?;
            }
            let Frame { func: fid, base, block, ip: start, .. } = self.frames[top];
            let func = program.func(fid);
            let drops = &program.info(fid).drops;
            let insts = &func.blocks[block].insts;
            let mut ip = start;
            loop {
                let inst = insts[ip];
                ip += 1;
                let data = &func.insts[inst];
                let resolved = self.plans[fid.as_u32() as usize].resolved[inst];
                if drops.releases_after(inst).is_empty()
                    && eval_scalar(data, resolved, &mut self.regs[base..], func.results[inst])?
                {
                    continue;
                }
                self.frames[top].ip = ip;
                match *data {
                    InstData::Jump { dest } => self.take_edge(top, dest)?,
                    InstData::Branch { cond, then_dest, else_dest } => {
                        let taken = matches!(self.reg(base, cond), Value::Bool(true));
                        self.take_edge(top, if taken { then_dest } else { else_dest })?
                    }
                    InstData::Return { value } => {
                        let value = value.map(|v| {
                            let val = self.reg(base, v);
                            if drops.consumed(inst) == Some(v) { val } else { val.retain() }
                        });
                        self.return_from(value)?
                    }
                    _ => self.exec(top, inst)?,
                }
                break;
            }
        }
        Ok(match self.finished.take().flatten() {
            Some(Value::I64(n)) => Some(n),
            _ => None,
        })
    }

    /// Pushes a frame for `func` with borrowed `args`.
    fn push_frame(&mut self, func: FuncId, args: &[Value], fini: Option<(ObjRef, usize)>) -> Result<(), Trap> {
        self.push_frame_with(func, fini, |regs, callee, params| {
            for (&p, &arg) in params.iter().zip(args) {
                regs[callee + p] = arg;
            }
        })
    }

    /// Pushes a frame for `func`; `fill(regs, base, params)` writes the
    /// arguments: `regs[base + params[i]]` is the i-th parameter's register.
    fn push_frame_with(
        &mut self,
        func: FuncId,
        fini: Option<(ObjRef, usize)>,
        fill: impl FnOnce(&mut [Value], usize, &[usize]),
    ) -> Result<(), Trap> {
        if self.frames.len() >= self.rt.max_depth as usize {
            return Err(Trap::StackOverflow);
        }
        let plan = &self.plans[func.as_u32() as usize];
        // Registers above the caller's are reused without clearing: verified
        // SSA writes every register before reading it.
        let base = self.frames.last().map_or(0, |f| f.base + self.plans[f.func.as_u32() as usize].frame_size);
        if self.regs.len() < base + plan.frame_size {
            self.regs.resize(base + plan.frame_size, Value::Null);
        }
        fill(&mut self.regs, base, &plan.params);
        let entry = self.program.func(func).entry().expect("verified functions have blocks");
        self.frames.push(Frame { func, base, block: entry, ip: 0, safepoint_due: true, waiting: None, fini });
        Ok(())
    }

    #[inline]
    fn reg(&self, base: usize, v: V) -> Value {
        self.regs[base + v.as_u32() as usize]
    }

    #[inline]
    fn set_reg(&mut self, base: usize, v: V, value: Value) {
        self.regs[base + v.as_u32() as usize] = value;
    }

    /// Executes one instruction other than a terminator (the main loop
    /// runs those) and completes it, unless it called a function, in which
    /// case the callee's return completes it.
    fn exec(&mut self, top: usize, inst: Inst) -> Result<(), Trap> {
        let program = self.program;
        let Frame { func: fid, base, .. } = self.frames[top];
        let func = program.func(fid);
        let resolved = self.plans[fid.as_u32() as usize].resolved[inst];
        let drops = &program.info(fid).drops;
        let result = func.results[inst];
        let release_base = self.rt.heap.release_base();
        let mut receiver_left = None;
        let data = func.insts[inst];
        let value: Option<Value> = match data {
            InstData::Const { .. } | InstData::BinOp { .. } | InstData::Compare { .. } => {
                if eval_scalar(&data, resolved, &mut self.regs[base..], result)? {
                    None
                } else {
                    Some(match (data, resolved) {
                        (InstData::Const { .. }, Resolved::Const(v)) => v.retain(),
                        (InstData::Compare { op, args: [a, b] }, _) => {
                            Value::Bool(self.rt.compare_boxes(op, self.reg(base, a), self.reg(base, b))?)
                        }
                        _ => unreachable!("only string constants and box compares are not scalar"),
                    })
                }
            }
            InstData::Jump { .. } | InstData::Branch { .. } | InstData::Return { .. } | InstData::Phi { .. } => {
                unreachable!("the main loop runs terminators; phis run on edges")
            }
            InstData::Call { callee, args } => {
                let args = func.value_list(args);
                match callee {
                    Callee::Direct(_) => {
                        let Resolved::Call(target) = resolved else { unreachable!() };
                        let waiting = Waiting { inst, release_base, completion: Completion::Direct, receiver: None };
                        self.frames[top].waiting = Some(waiting);
                        return self.push_frame_with(target, None, |regs, callee, params| {
                            for (&p, &a) in params.iter().zip(args) {
                                regs[callee + p] = regs[base + a.as_u32() as usize];
                            }
                        });
                    }
                    Callee::Indirect(f, ret) => {
                        let args: Args = args.iter().map(|&a| self.reg(base, a)).collect();
                        let target = match self.reg(base, f) {
                            Value::Func(target) => target,
                            other => {
                                return Err(Trap::Expected { expected: "FunctionBox", got: self.rt.class_name(other) });
                            }
                        };
                        return self.call_dynamic(top, inst, release_base, target, &args, ret, None);
                    }
                }
            }
            InstData::BoxCall { recv, args, ret, .. } => {
                let args: Args = func.value_list(args).iter().map(|&a| self.reg(base, a)).collect();
                match (recv, resolved) {
                    (Receiver::Value(r), Resolved::Method(method)) => {
                        let recv = self.reg(base, r);
                        let owned = drops.consumed(inst) == Some(r);
                        match self.rt.dispatch(recv, method)? {
                            Dispatch::Builtin(m) => {
                                let call = self.rt.call_builtin(recv, owned, m, &args)?;
                                if owned && !call.took_receiver {
                                    receiver_left = Some(recv);
                                }
                                Some(self.rt.unbox(call.value, ret)?)
                            }
                            Dispatch::User(f) => {
                                let full: Args = std::iter::once(recv).chain(args.iter().copied()).collect();
                                return self.call_dynamic(
                                    top,
                                    inst,
                                    release_base,
                                    f,
                                    &full,
                                    ret,
                                    owned.then_some(recv),
                                );
                            }
                            Dispatch::Invoke(f) => {
                                return self.call_dynamic(
                                    top,
                                    inst,
                                    release_base,
                                    f,
                                    &args,
                                    ret,
                                    owned.then_some(recv),
                                );
                            }
                        }
                    }
                    (Receiver::Class(_), Resolved::Static(class, method)) => {
                        match self.rt.call_static(class, method, &args)? {
                            StaticResult::Value(v) => Some(self.rt.unbox(v, ret)?),
                            StaticResult::Birth { obj, func: birth } => {
                                let full: Args = std::iter::once(obj).chain(args.iter().copied()).collect();
                                self.check_dynamic_args(birth, &full)?;
                                let waiting =
                                    Waiting { inst, release_base, completion: Completion::Birth(obj), receiver: None };
                                self.frames[top].waiting = Some(waiting);
                                return self.push_frame(birth, &full, None);
                            }
                        }
                    }
                    _ => unreachable!("boxcalls are resolved"),
                }
            }
            InstData::ExternCall { args, ret, .. } => {
                let Resolved::Extern(id) = resolved else { unreachable!() };
                let sig = self.rt.host().sig(id).clone();
                let mut converted = Args::new();
                for (&a, &ty) in func.value_list(args).iter().zip(&sig.params) {
                    converted.push(self.rt.unbox(self.reg(base, a), ty)?);
                }
                let value = self.rt.call_host(id, &converted)?;
                Some(self.rt.unbox(value, ret)?)
            }
            InstData::TypeOp { op: TypeOpKind::Is(_), arg } => {
                let Resolved::Is(class) = resolved else { unreachable!() };
                Some(Value::Bool(self.rt.is_instance(self.reg(base, arg), class)))
            }
            InstData::TypeOp { op: TypeOpKind::Cast(to), arg } => {
                let Resolved::Cast(from) = resolved else { unreachable!() };
                let v = self.reg(base, arg);
                Some(match (from, to) {
                    (Type::Box, Type::Box) if drops.consumed(inst) == Some(arg) => v,
                    (Type::Box, Type::Box) => v.retain(),
                    (Type::Box, _) => self.rt.unbox(v, to)?,
                    _ => ops::cast_scalar(v, to),
                })
            }
            InstData::Safepoint => {
                self.rt.safepoint()?;
                None
            }
            InstData::Barrier { .. } => {
                std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
                None
            }
        };
        self.finish(top, inst, release_base, value, result, receiver_left)
    }

    /// Stores an instruction's result (or releases it if unbound), then
    /// releases what dies there.
    fn finish(
        &mut self,
        frame: usize,
        inst: Inst,
        release_base: usize,
        value: Option<Value>,
        result: Option<V>,
        receiver: Option<Value>,
    ) -> Result<(), Trap> {
        let Frame { func, base, .. } = self.frames[frame];
        match (result, value) {
            (Some(r), Some(v)) => self.set_reg(base, r, v),
            (None, Some(v)) => self.rt.heap.push_release(v),
            _ => {}
        }
        let dying = self.program.info(func).drops.releases_after(inst);
        if receiver.is_none() && dying.is_empty() && self.rt.heap.release_base() == release_base {
            return Ok(());
        }
        let releases: Args = dying.iter().map(|&v| self.reg(base, v)).collect();
        self.rt.queue_after(release_base, receiver, &releases);
        self.drive(release_base)
    }

    /// Runs queued releases above `base`; a `fini` to run becomes a frame.
    fn drive(&mut self, base: usize) -> Result<(), Trap> {
        if let Some(request) = self.rt.heap.drive(base) {
            self.push_frame(request.func, &[Value::Obj(request.obj)], Some((request.obj, base)))?;
        }
        Ok(())
    }

    /// Calls a MIR function from a `boxcall` (user method, FunctionBox.call):
    /// arguments are checked against its signature at run time.
    #[allow(clippy::too_many_arguments)]
    fn call_dynamic(
        &mut self,
        frame: usize,
        inst: Inst,
        release_base: usize,
        func: FuncId,
        args: &[Value],
        ret: Type,
        receiver: Option<Value>,
    ) -> Result<(), Trap> {
        self.check_dynamic_args(func, args)?;
        self.frames[frame].waiting =
            Some(Waiting { inst, release_base, completion: Completion::Result(ret), receiver });
        self.push_frame(func, args, None)
    }

    /// Arity and argument kinds of a call the verifier could not check.
    fn check_dynamic_args(&self, func: FuncId, args: &[Value]) -> Result<(), Trap> {
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
        Ok(())
    }

    /// Returns from the top frame with an owned result.
    fn return_from(&mut self, value: Option<Value>) -> Result<(), Trap> {
        let frame = self.frames.pop().expect("a frame is running");
        if let Some((obj, base)) = frame.fini {
            self.rt.heap.push_release(Value::Obj(obj));
            return self.drive(base);
        }
        let Some(caller) = self.frames.last_mut() else {
            self.finished = Some(value);
            return Ok(());
        };
        let waiting = caller.waiting.take().expect("the caller waits for this call");
        let caller_index = self.frames.len() - 1;
        let caller_func = self.program.func(self.frames[caller_index].func);
        let value = match waiting.completion {
            Completion::Direct => value.unwrap_or(Value::Null),
            Completion::Result(ty) => self.rt.unbox(value.unwrap_or(Value::Null), ty)?,
            Completion::Birth(obj) => {
                if let Some(v) = value {
                    self.rt.heap.push_release(v);
                }
                obj
            }
        };
        let result = caller_func.results[waiting.inst];
        self.finish(caller_index, waiting.inst, waiting.release_base, Some(value), result, waiting.receiver)
    }

    /// Moves along the edge from the top frame's block to `dest`: phis take
    /// their entries, the edge's releases run, and a loop header schedules
    /// its safepoint.
    fn take_edge(&mut self, top: usize, dest: Block) -> Result<(), Trap> {
        let program = self.program;
        let Frame { func: fid, base, block, .. } = self.frames[top];
        let func = program.func(fid);
        let info = program.info(fid);
        let succ_index = info.cfg.succs(block).iter().position(|&s| s == dest).expect("edge exists");
        let plan = info.drops.edge(block, succ_index);
        // Values dying on the edge are read before the phis overwrite any
        // register (one may be an old value of a phi); unused phi results after.
        let mut releases: Args =
            plan.releases.iter().map(|r| if r.new_phi { Value::Null } else { self.reg(base, r.value) }).collect();
        if !plan.moves.is_empty() {
            // Phis read all their entries before any is written.
            let incoming: SmallVec<[(V, Value); 8]> = func
                .phis(dest)
                .map(|phi| {
                    let InstData::Phi { entries, .. } = func.insts[phi] else { unreachable!() };
                    let entry = func.phi_list(entries).iter().find(|e| e.block == block).expect("verified phi");
                    (func.results[phi].expect("phis have results"), self.reg(base, entry.value))
                })
                .collect();
            for ((result, value), &moves) in incoming.into_iter().zip(plan.moves) {
                self.set_reg(base, result, if moves { value } else { value.retain() });
            }
        }
        let frame = &mut self.frames[top];
        frame.block = dest;
        frame.ip = self.plans[fid.as_u32() as usize].phis[dest] as usize;
        frame.safepoint_due |= info.order.is_loop_header(dest);
        if !releases.is_empty() {
            for (slot, r) in releases.iter_mut().zip(plan.releases) {
                if r.new_phi {
                    *slot = self.reg(base, r.value);
                }
            }
            let release_base = self.rt.heap.release_base();
            self.rt.heap.push_releases(releases.into_iter());
            self.drive(release_base)?;
        }
        Ok(())
    }
}

/// Evaluates a scalar constant, binop or compare of scalars into its
/// result register; `Ok(false)` (nothing written) for anything else: a
/// string constant, a compare of boxes, other instructions. Writing in
/// place keeps a 16-byte value out of an intermediate `Result`.
#[inline(always)]
fn eval_scalar(data: &InstData, resolved: Resolved, regs: &mut [Value], result: Option<V>) -> Result<bool, Trap> {
    let reg = |regs: &[Value], v: V| regs[v.as_u32() as usize];
    let value = match *data {
        InstData::Const { .. } => match resolved {
            Resolved::Const(v @ (Value::I64(_) | Value::F64(_) | Value::Bool(_) | Value::Null | Value::Func(_))) => v,
            _ => return Ok(false),
        },
        InstData::BinOp { op, args: [a, b] } => match (reg(regs, a), reg(regs, b)) {
            (Value::I64(x), Value::I64(y)) => Value::I64(ops::binop_i64(op, x, y)?),
            (Value::F64(x), Value::F64(y)) => Value::F64(ops::binop_f64(op, x, y)),
            (Value::Bool(x), Value::Bool(y)) => Value::Bool(ops::binop_bool(op, x, y)),
            _ => unreachable!("verified binop operands"),
        },
        InstData::Compare { op, args: [a, b] } => Value::Bool(match (reg(regs, a), reg(regs, b)) {
            (Value::I64(x), Value::I64(y)) => ops::compare(op, x, y),
            (Value::F64(x), Value::F64(y)) => ops::compare(op, x, y),
            // Only boxed bools can be ordered, and that traps: leave it to the box compare.
            (Value::Bool(x), Value::Bool(y)) if matches!(op, CompareOp::Eq | CompareOp::Ne) => ops::compare(op, x, y),
            _ => return Ok(false),
        }),
        _ => return Ok(false),
    };
    let r = result.expect("scalar instructions have results");
    regs[r.as_u32() as usize] = value;
    Ok(true)
}
