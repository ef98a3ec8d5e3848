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
    let mut constants = Vec::new();
    let plans = prepare(program, rt, &mut constants).map_err(TrapReport::bare)?;
    let mut interp = Interp {
        program,
        rt,
        plans: &plans,
        frames: Vec::new(),
        regs: Vec::new(),
        scratch: Vec::new(),
        finished: None,
    };
    let result = interp.run(main);
    let base = rt.heap.release_base();
    rt.heap.push_releases(constants.into_iter());
    let _ = rt.heap.drive(base);
    result
}

/// What an instruction needs beyond its `InstData`, resolved before the run.
#[derive(Clone, Copy)]
enum Resolved {
    None,
    /// A string constant's value (owned by the run's constant table;
    /// scalar constants are set on frame entry instead).
    Const(Value),
    Call(FuncId),
    Method(MethodRef),
    Static(ClassRef, MethodRef),
    Extern(HostId),
    Is(ClassRef),
    /// A cast, with its operand's type.
    Cast(Type),
    /// A jump's or branch's edges: indexes into the plan's `edges`,
    /// `[then, else]` (a jump's twice).
    Edges([u32; 2]),
}

/// A CFG edge, resolved.
#[derive(Clone, Copy)]
struct Edge {
    dest: Block,
    /// Index of the edge among the block's distinct successors.
    succ: u8,
    /// Position of `dest`'s first instruction after its phis.
    pc: u32,
    /// The phi assignments of this edge: a range of the plan's `copies`.
    copies: (u32, u32),
    /// Something is released on this edge.
    releases: bool,
    /// `dest` is a loop header (a safepoint on entry).
    header: bool,
}

/// One phi assignment on an edge: register `dst` gets `src`, taking over
/// its reference when `moves`, else adding one.
#[derive(Clone, Copy)]
struct PhiCopy {
    dst: u32,
    src: u32,
    moves: bool,
}

/// An instruction as its completion needs it: where its result goes and
/// whether anything dies after it.
#[derive(Clone, Copy)]
struct Site {
    inst: Inst,
    /// The result value, if any.
    result: Option<V>,
    /// Nothing is released after it.
    quiet: bool,
}

/// One instruction, decoded with everything the main loop needs.
#[derive(Clone, Copy)]
struct Step {
    site: Site,
    data: InstData,
    resolved: Resolved,
}

/// A function prepared for interpretation: its instructions (phis left
/// out; they run on edges) in block order.
struct FuncPlan {
    code: Vec<Step>,
    /// Registers of scalar constants and their values, set on frame entry.
    consts: Vec<(u32, Value)>,
    edges: Vec<Edge>,
    copies: Vec<PhiCopy>,
    /// Register of each parameter.
    params: Vec<usize>,
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
    Birth(ObjRef),
}

/// An instruction waiting for a callee to return.
#[derive(Clone, Copy)]
struct Waiting {
    site: Site,
    /// Release-stack height when the instruction started.
    release_base: usize,
    completion: Completion,
    /// A handed-over receiver the instruction still has to release.
    receiver: Option<ObjRef>,
}

/// An activation.
struct Frame {
    func: FuncId,
    /// Index of the frame's first register.
    base: usize,
    block: Block,
    /// Position of the next instruction in the function's `code`.
    pc: usize,
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
    plans: &'a [FuncPlan],
    frames: Vec<Frame>,
    regs: Vec<Value>,
    /// Phi sources read before the phis are written.
    scratch: Vec<Value>,
    /// `@main`'s result once it returned.
    finished: Option<Option<Value>>,
}

/// Decodes every function of `program`. String constants are allocated
/// once, into `constants`, which owns them for the run.
fn prepare(program: &Program, rt: &mut Runtime, constants: &mut Vec<Value>) -> Result<Vec<FuncPlan>, Trap> {
    let mut plans = Vec::with_capacity(program.module().funcs.len());
    for (id, func) in program.module().funcs.iter() {
        let info = program.info(id);
        // Position in `code` of each block's first instruction after its phis.
        let mut block_start = EntityVec::filled(func.blocks.len(), 0u32);
        let mut pc = 0;
        // Scalar constants hold no reference and never change: they are
        // written into a frame's registers when it is pushed, and take no step.
        let scalar_const = |inst: Inst| match func.insts[inst] {
            InstData::Const { lit } => match lit {
                Literal::I64(n) => Some(Value::I64(n)),
                Literal::F64(x) => Some(Value::F64(x.value())),
                Literal::Bool(b) => Some(Value::Bool(b)),
                Literal::Null => Some(Value::Null),
                Literal::Func(f) => Some(Value::Func(program.func_id(f).expect("verified callee"))),
                Literal::Str(_) => None,
            },
            _ => None,
        };
        let mut consts = Vec::new();
        // Unreachable blocks never run (§2): they get no code.
        let reachable = || func.blocks.iter().filter(|&(b, _)| info.order.is_reachable(b));
        for (block, data) in reachable() {
            block_start[block] = pc;
            for &inst in &data.insts[func.phis(block).count()..] {
                match scalar_const(inst) {
                    Some(v) => consts.push((func.results[inst].expect("constants have results").as_u32(), v)),
                    None => pc += 1,
                }
            }
        }
        let mut copies = Vec::new();
        let mut edges = Vec::new();
        let mut edge = |from: Block, dest: Block| {
            let succ = info.cfg.succs(from).iter().position(|&s| s == dest).expect("edge exists");
            let plan = info.drops.edge(from, succ);
            let start = copies.len() as u32;
            for ((phi, &src), &moves) in func.phis(dest).zip(plan.inputs).zip(plan.moves) {
                let dst = func.results[phi].expect("phis have results").as_u32();
                copies.push(PhiCopy { dst, src: src.as_u32(), moves });
            }
            edges.push(Edge {
                dest,
                succ: succ as u8,
                pc: block_start[dest],
                copies: (start, copies.len() as u32 - start),
                releases: !plan.releases.is_empty(),
                header: info.order.is_loop_header(dest),
            });
            edges.len() as u32 - 1
        };
        let mut code = Vec::with_capacity(pc as usize);
        for (block, data) in reachable() {
            for &inst in data.insts[func.phis(block).count()..].iter().filter(|&&i| scalar_const(i).is_none()) {
                let resolved = match func.insts[inst] {
                    InstData::Const { lit: Literal::Str(s) } => {
                        let v = rt.new_string(program.module().sym(s).to_string())?;
                        constants.push(v);
                        Resolved::Const(v)
                    }
                    InstData::Jump { dest } => {
                        let e = edge(block, dest);
                        Resolved::Edges([e, e])
                    }
                    InstData::Branch { then_dest, else_dest, .. } => {
                        Resolved::Edges([edge(block, then_dest), edge(block, else_dest)])
                    }
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
                let site = Site { inst, result: func.results[inst], quiet: info.drops.releases_after(inst).is_empty() };
                code.push(Step { site, data: func.insts[inst], resolved });
            }
        }
        let params = func.params.iter().map(|p| p.value.as_u32() as usize).collect();
        plans.push(FuncPlan { code, edges, copies, consts, params, frame_size: func.values.len() });
    }
    Ok(plans)
}

impl<'a> Interp<'a> {
    fn run(&mut self, main: FuncId) -> Result<Option<i64>, TrapReport> {
        match self.run_main(main) {
            Ok(result) => Ok(result),
            Err(trap) => {
                let frames = self.frames.iter().rev().map(|f| self.rt.info.func(f.func).name.as_str());
                Err(TrapReport::new(trap, frames))
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
            let Frame { func: fid, base, block: start_block, pc: start, .. } = self.frames[top];
            let plans = self.plans;
            let code = &plans[fid.as_u32() as usize].code;
            let mut block = start_block;
            let mut pc = start;
            loop {
                let step = &code[pc];
                pc += 1;
                if step.site.quiet && eval_scalar(step, &mut self.regs[base..])? {
                    continue;
                }
                let plan = &plans[fid.as_u32() as usize];
                let edge = match (&step.data, &step.resolved) {
                    (InstData::Jump { .. }, Resolved::Edges([edge, _])) => Some(plan.edges[*edge as usize]),
                    (InstData::Branch { cond, .. }, Resolved::Edges([then_edge, else_edge])) => {
                        let taken = matches!(self.reg(base, *cond), Value::Bool(true));
                        Some(plan.edges[if taken { *then_edge } else { *else_edge } as usize])
                    }
                    _ => None,
                };
                // An edge that releases nothing just assigns its phis and moves on.
                if let Some(edge) = edge
                    && !edge.releases
                {
                    if edge.copies.1 > 0 {
                        assign_phis(&plan.copies, edge, &mut self.regs[base..], &mut self.scratch);
                    }
                    block = edge.dest;
                    pc = edge.pc as usize;
                    if edge.header {
                        self.rt.safepoint()?;
                    }
                    continue;
                }
                let frame = &mut self.frames[top];
                frame.block = block;
                frame.pc = pc;
                match step.data {
                    InstData::Jump { .. } | InstData::Branch { .. } => {
                        self.take_edge(top, edge.expect("a jump or branch has an edge"))?
                    }
                    InstData::Return { value } => {
                        let drops = &program.info(fid).drops;
                        let value = value.map(|v| {
                            let val = self.reg(base, v);
                            if drops.consumed(step.site.inst) == Some(v) { val } else { val.retain() }
                        });
                        self.return_from(value)?
                    }
                    InstData::Call { callee: Callee::Direct(_), args } => {
                        let Resolved::Call(target) = step.resolved else { unreachable!() };
                        self.call_direct(top, step, target, program.func(fid).value_list(args))?
                    }
                    _ => self.exec(top, *step)?,
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
    #[inline(always)]
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
            // Deep recursion of large frames: `out of memory`, not an abort.
            self.regs.try_reserve(base + plan.frame_size - self.regs.len()).map_err(|_| Trap::OutOfMemory)?;
            self.regs.resize(base + plan.frame_size, Value::Null);
        }
        for &(r, v) in &plan.consts {
            self.regs[base + r as usize] = v;
        }
        fill(&mut self.regs, base, &plan.params);
        // The entry block comes first in `code` and has no phis.
        let entry = self.program.func(func).entry().expect("verified functions have blocks");
        self.frames.push(Frame { func, base, block: entry, pc: 0, safepoint_due: true, waiting: None, fini });
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
    fn exec(&mut self, top: usize, step: Step) -> Result<(), Trap> {
        let program = self.program;
        let Frame { func: fid, base, .. } = self.frames[top];
        let func = program.func(fid);
        let Step { site: Site { inst, .. }, data, resolved } = step;
        let drops = &program.info(fid).drops;
        let release_base = self.rt.heap.release_base();
        let mut receiver_left = None;
        let value: Option<Value> = match data {
            InstData::Const { .. } => {
                let Resolved::Const(v) = resolved else { unreachable!("string constants are resolved") };
                Some(v.retain())
            }
            InstData::BinOp { .. } | InstData::Compare { .. } => {
                if eval_scalar(&step, &mut self.regs[base..])? {
                    None
                } else {
                    let InstData::Compare { op, args: [a, b] } = data else { unreachable!("binops are scalar") };
                    Some(Value::Bool(self.rt.compare_boxes(op, self.reg(base, a), self.reg(base, b))?))
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
                        return self.call_direct(top, &step, target, args);
                    }
                    Callee::Indirect(f, ret) => {
                        let args: Args = args.iter().map(|&a| self.reg(base, a)).collect();
                        let target = match self.reg(base, f) {
                            Value::Func(target) => target,
                            other => {
                                return Err(Trap::Expected { expected: "FunctionBox", got: self.rt.class_name(other) });
                            }
                        };
                        return self.call_dynamic(top, &step, release_base, target, &args, ret, None);
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
                                    receiver_left = recv.as_obj();
                                }
                                Some(self.rt.unbox(call.value, ret)?)
                            }
                            Dispatch::User(f) => {
                                let full: Args = std::iter::once(recv).chain(args.iter().copied()).collect();
                                return self.call_dynamic(
                                    top,
                                    &step,
                                    release_base,
                                    f,
                                    &full,
                                    ret,
                                    owned.then(|| recv.as_obj()).flatten(),
                                );
                            }
                            Dispatch::Invoke(f) => {
                                return self.call_dynamic(
                                    top,
                                    &step,
                                    release_base,
                                    f,
                                    &args,
                                    ret,
                                    owned.then(|| recv.as_obj()).flatten(),
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
                                let waiting = Waiting {
                                    site: step.site,
                                    release_base,
                                    completion: Completion::Birth(obj.as_obj().expect("`new` makes an object")),
                                    receiver: None,
                                };
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
        self.finish(top, step.site, release_base, value, receiver_left)
    }

    /// Stores an instruction's result (or releases it if unbound), then
    /// releases what dies there.
    #[inline(always)]
    fn finish(
        &mut self,
        frame: usize,
        site: Site,
        release_base: usize,
        value: Option<Value>,
        receiver: Option<ObjRef>,
    ) -> Result<(), Trap> {
        let base = self.frames[frame].base;
        match (site.result, value) {
            (Some(r), Some(v)) => self.set_reg(base, r, v),
            (None, Some(v)) => self.rt.heap.push_release(v),
            _ => {}
        }
        if receiver.is_none() && site.quiet && self.rt.heap.release_base() == release_base {
            return Ok(());
        }
        self.release_after(frame, site, release_base, receiver)
    }

    /// The releases of a completed instruction (see the runtime's release
    /// protocol): what a built-in queued, the handed-over receiver, then
    /// the values the drop plan releases there.
    fn release_after(
        &mut self,
        frame: usize,
        site: Site,
        release_base: usize,
        receiver: Option<ObjRef>,
    ) -> Result<(), Trap> {
        let Frame { func, base, .. } = self.frames[frame];
        let dying = self.program.info(func).drops.releases_after(site.inst);
        let releases: Args = dying.iter().map(|&v| self.reg(base, v)).collect();
        self.rt.queue_after(release_base, receiver.map(Value::Obj), &releases);
        self.drive(release_base)
    }

    /// Runs queued releases above `base`; a `fini` to run becomes a frame.
    fn drive(&mut self, base: usize) -> Result<(), Trap> {
        if let Some(request) = self.rt.heap.drive(base) {
            self.push_frame(request.func, &[Value::Obj(request.obj)], Some((request.obj, base)))?;
        }
        Ok(())
    }

    /// A direct call: the callee's parameter registers get the caller's
    /// argument registers (borrowed, no reference added).
    #[inline(always)]
    fn call_direct(&mut self, top: usize, step: &Step, target: FuncId, args: &[V]) -> Result<(), Trap> {
        let release_base = self.rt.heap.release_base();
        let waiting = Waiting { site: step.site, release_base, completion: Completion::Direct, receiver: None };
        self.frames[top].waiting = Some(waiting);
        let caller = self.frames[top].base;
        self.push_frame_with(target, None, |regs, callee, params| {
            for (&p, &a) in params.iter().zip(args) {
                regs[callee + p] = regs[caller + a.as_u32() as usize];
            }
        })
    }

    /// Calls a MIR function from a `boxcall` (user method, FunctionBox.call):
    /// arguments are checked against its signature at run time.
    #[allow(clippy::too_many_arguments)]
    fn call_dynamic(
        &mut self,
        frame: usize,
        step: &Step,
        release_base: usize,
        func: FuncId,
        args: &[Value],
        ret: Type,
        receiver: Option<ObjRef>,
    ) -> Result<(), Trap> {
        self.check_dynamic_args(func, args)?;
        self.frames[frame].waiting =
            Some(Waiting { site: step.site, release_base, completion: Completion::Result(ret), receiver });
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
        let value = match waiting.completion {
            Completion::Direct => value.unwrap_or(Value::Null),
            Completion::Result(ty) => self.rt.unbox(value.unwrap_or(Value::Null), ty)?,
            Completion::Birth(obj) => {
                if let Some(v) = value {
                    self.rt.heap.push_release(v);
                }
                Value::Obj(obj)
            }
        };
        self.finish(caller_index, waiting.site, waiting.release_base, Some(value), waiting.receiver)
    }

    /// Moves along the edge from the top frame's block to `dest`: phis take
    /// their entries, the edge's releases run, and a loop header schedules
    /// its safepoint.
    fn take_edge(&mut self, top: usize, edge: Edge) -> Result<(), Trap> {
        let program = self.program;
        let Frame { func: fid, base, block, .. } = self.frames[top];
        let info = program.info(fid);
        let dest = edge.dest;
        let plan = info.drops.edge(block, edge.succ as usize);
        // Values dying on the edge are read before the phis overwrite any
        // register (one may be an old value of a phi); unused phi results after.
        let mut releases: Args =
            plan.releases.iter().map(|r| if r.new_phi { Value::Null } else { self.reg(base, r.value) }).collect();
        let copies = &self.plans[fid.as_u32() as usize].copies;
        assign_phis(copies, edge, &mut self.regs[base..], &mut self.scratch);
        let frame = &mut self.frames[top];
        frame.block = dest;
        frame.pc = edge.pc as usize;
        frame.safepoint_due |= edge.header;
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

/// Assigns an edge's phis: all sources are read before any register is
/// written (phis are parallel); a copy that does not move adds a reference.
#[inline]
fn assign_phis(copies: &[PhiCopy], edge: Edge, regs: &mut [Value], scratch: &mut Vec<Value>) {
    let copies = &copies[edge.copies.0 as usize..(edge.copies.0 + edge.copies.1) as usize];
    if copies.is_empty() {
        return;
    }
    if let [c] = copies {
        let v = regs[c.src as usize];
        regs[c.dst as usize] = if c.moves { v } else { v.retain() };
        return;
    }
    scratch.clear();
    scratch.extend(copies.iter().map(|c| regs[c.src as usize]));
    for (c, &v) in copies.iter().zip(scratch.iter()) {
        regs[c.dst as usize] = if c.moves { v } else { v.retain() };
    }
}

/// Evaluates a binop or a compare of scalars into its result register;
/// `Ok(false)` (nothing written) for anything else: a compare of boxes,
/// other instructions. Writing in place keeps a 16-byte value out of an
/// intermediate `Result`.
#[inline(always)]
fn eval_scalar(step: &Step, regs: &mut [Value]) -> Result<bool, Trap> {
    let reg = |regs: &[Value], v: V| regs[v.as_u32() as usize];
    let Some(r) = step.site.result else { return Ok(false) };
    let r = r.as_u32() as usize;
    let data = &step.data;
    // Each arm writes its register directly: building the value first and
    // copying it costs a store-forwarding stall on this hot path.
    match *data {
        InstData::BinOp { op, args: [a, b] } => match (reg(regs, a), reg(regs, b)) {
            (Value::I64(x), Value::I64(y)) => regs[r] = Value::I64(ops::binop_i64(op, x, y)?),
            (Value::F64(x), Value::F64(y)) => regs[r] = Value::F64(ops::binop_f64(op, x, y)),
            (Value::Bool(x), Value::Bool(y)) => regs[r] = Value::Bool(ops::binop_bool(op, x, y)),
            _ => unreachable!("verified binop operands"),
        },
        InstData::Compare { op, args: [a, b] } => match (reg(regs, a), reg(regs, b)) {
            (Value::I64(x), Value::I64(y)) => regs[r] = Value::Bool(ops::compare(op, x, y)),
            (Value::F64(x), Value::F64(y)) => regs[r] = Value::Bool(ops::compare(op, x, y)),
            // Only boxed bools can be ordered, and that traps: leave it to the box compare.
            (Value::Bool(x), Value::Bool(y)) if matches!(op, CompareOp::Eq | CompareOp::Ne) => {
                regs[r] = Value::Bool(ops::compare(op, x, y))
            }
            _ => return Ok(false),
        },
        _ => return Ok(false),
    }
    Ok(true)
}
