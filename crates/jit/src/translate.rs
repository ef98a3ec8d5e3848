//! MIR to Cranelift IR, one function at a time.
//!
//! Every compiled function takes the run's [`crate::ctx::Ctx`] first, then
//! its MIR parameters: `i64` as I64, `f64` as F64, `bool` as I8 (0 or 1),
//! and a `box` as two I64 words, its tag and its payload (see
//! `runtime::layout`). It returns its result the same way. Phis are block
//! parameters; the drop plan becomes inline reference counting whose slow
//! path (a count reaching zero) calls the runtime. A trap records itself in
//! the context and every frame returns at once through its `trap_exit`
//! block; callers check `Ctx::trapped` after each call.

mod array;
mod user;

use crate::ctx::{self, FastOp, Site, SiteKind};
use crate::helpers::{TRAP_DIVISION_BY_ZERO, TRAP_INTEGER_OVERFLOW, TRAP_STACK_OVERFLOW};
use array::{ArrayOp, ArrayView, Needs, Position};
use cranelift_codegen::ir::{
    self, AbiParam, BlockArg, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind, condcodes::FloatCC,
    condcodes::IntCC, types,
};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId as ClifFunc, Module};
use mir::{
    BinaryOp, Block, BuiltinClass, Callee, ClassRef, CompareOp, EntityVec, FuncId, FuncInfo, Function, Inst, InstData,
    Literal, Program, Receiver, Type, TypeOpKind, Value,
};
use runtime::{Method, MethodRef, layout};
use std::collections::{HashMap, HashSet};
pub(crate) use user::UserClasses;

/// The runtime helpers, as declared in the module.
pub(crate) struct Helpers {
    pub trap: ClifFunc,
    pub unwind: ClifFunc,
    pub unbox_failed: ClifFunc,
    pub safepoint: ClifFunc,
    pub release: ClifFunc,
    pub compare: ClifFunc,
    pub math: ClifFunc,
    pub call: ClifFunc,
    pub string_length: ClifFunc,
    /// `safepoint` and `call` behind shims that keep every register.
    pub safepoint_saving: ClifFunc,
    pub call_saving: ClifFunc,
}

/// What translating a function gives besides its Cranelift IR.
pub(crate) struct Translated {
    /// The Cranelift blocks each MIR instruction made (see `blocks_made`).
    pub blocks_made: EntityVec<Inst, u32>,
    /// Every function it calls natively, MIR functions and helpers alike
    /// (a callee inlined at every call site is not among them).
    pub callees: Vec<ClifFunc>,
}

/// Tables every function adds to; they live as long as the code.
#[derive(Default)]
pub(crate) struct Tables {
    pub sites: Vec<Site>,
    /// String constants: one StringBox per `const "..."` instruction.
    pub strings: Vec<String>,
    /// Where each `const "..."` instruction's string is in `strings` (an
    /// inlined body emits the instruction again, with the same box).
    string_index: HashMap<(FuncId, Inst), i32>,
    /// Host function names, by the index `SiteKind::Extern` holds.
    pub hosts: Vec<String>,
    host_index: HashMap<String, u32>,
}

impl Tables {
    /// The tables of `program`, with a StringBox for every `const "..."` in
    /// reachable code, compiled or not: every backend makes one per such
    /// instruction, whether it runs or not, and `--stats` counts them.
    pub fn new(program: &Program) -> Tables {
        let mut tables = Tables::default();
        for (id, func) in program.module().funcs.iter() {
            for &block in program.info(id).order.rpo() {
                for &inst in &func.blocks[block].insts {
                    if let InstData::Const { lit: Literal::Str(s) } = func.insts[inst] {
                        tables.string_index.insert((id, inst), tables.strings.len() as i32);
                        tables.strings.push(program.module().sym(s).to_string());
                    }
                }
            }
        }
        tables
    }

    fn host(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.host_index.get(name) {
            return i;
        }
        let i = self.hosts.len() as u32;
        self.hosts.push(name.to_string());
        self.host_index.insert(name.to_string(), i);
        i
    }
}

/// The Cranelift type of a scalar.
pub(crate) fn scalar_type(ty: Type) -> ir::Type {
    match ty {
        Type::I64 | Type::Box => types::I64,
        Type::F64 => types::F64,
        Type::Bool => types::I8,
    }
}

/// Appends the Cranelift parameters or results a MIR value of `ty` takes.
pub(crate) fn push_abi(list: &mut Vec<AbiParam>, ty: Type) {
    list.push(AbiParam::new(scalar_type(ty)));
    if ty == Type::Box {
        list.push(AbiParam::new(types::I64));
    }
}

/// The signature of a compiled MIR function: the context, the calls that may
/// still start (see [`FnTranslator::prologue`]), then the MIR parameters.
pub(crate) fn signature(module: &JITModule, func: &Function) -> Signature {
    let mut sig = module.make_signature();
    sig.params.extend([AbiParam::new(types::I64), AbiParam::new(types::I32)]);
    for p in &func.params {
        push_abi(&mut sig.params, p.ty);
    }
    if let Some(ty) = func.ret {
        push_abi(&mut sig.returns, ty);
    }
    sig
}

/// A MIR value as Cranelift values.
#[derive(Clone, Copy)]
enum Repr {
    Unset,
    Scalar(ir::Value),
    /// Tag and payload.
    Box(ir::Value, ir::Value),
}

impl Repr {
    /// A value passed as `values` (none, one scalar, or tag and payload).
    fn from_values(values: &[ir::Value]) -> Repr {
        match values {
            [] => Repr::Unset,
            [v] => Repr::Scalar(*v),
            [t, p] => Repr::Box(*t, *p),
            _ => unreachable!("one value"),
        }
    }

    fn push_to(self, out: &mut Vec<ir::Value>) {
        match self {
            Repr::Unset => unreachable!("values are defined before use (SSA dominance)"),
            Repr::Scalar(v) => out.push(v),
            Repr::Box(t, p) => out.extend([t, p]),
        }
    }
}

const FLAGS: MemFlagsData = MemFlagsData::trusted();
/// For memory no store changes while compiled code runs.
const CONSTANT: MemFlagsData = FLAGS.with_readonly().with_can_move();

/// Translates one MIR function into the builder's function.
pub(crate) struct FnTranslator<'a, 'b> {
    program: &'a Program,
    /// The MIR function whose body is being emitted.
    frame: Frame<'a>,
    b: FunctionBuilder<'b>,
    module: &'a mut JITModule,
    helpers: &'a Helpers,
    /// Compiled MIR functions, by id.
    funcs: &'a [ClifFunc],
    classes: &'a UserClasses,
    tables: &'a mut Tables,
    /// Whether safepoints charge fuel (only runs with a fuel limit need it).
    metered: bool,
    /// Whether the function runs a few times at most (see `runs_once` in
    /// the crate root): it inlines nothing.
    runs_once: bool,
    imported: HashMap<ClifFunc, ir::FuncRef>,
    ctx: ir::Value,
    /// In a function with a loop and boxcalls, a copy of the context that
    /// cold code reads (see [`Self::ctx`]).
    ctx_slot: Option<ir::StackSlot>,
    /// How many cold paths enclose the code being emitted.
    cold: u32,
    /// With `ctx_slot`, a copy of each box parameter, as a `Value`, that
    /// cold code reads in the same way.
    param_slots: HashMap<Value, ir::StackSlot>,
    /// With `ctx_slot`, the function's own depth after its entry, for cold
    /// code to publish (an inlined body's is that minus its inline depth).
    depth_slot: Option<ir::StackSlot>,
    /// `Ctx::fuel` (metered code only) and `Ctx::interrupt`, loaded once on entry.
    fuel_at: ir::Value,
    flag_at: ir::Value,
    /// Returns zeros; for traps before the frame counts as entered.
    trap_return: ir::Block,
    args_slot: Option<ir::StackSlot>,
    out_slot: Option<ir::StackSlot>,
    /// How many inlined bodies enclose the code being emitted.
    inline_depth: u32,
    /// MIR instructions inlined into the function so far.
    inlined: usize,
    /// The views of the bodies the current one is inlined into, of values
    /// live across the inlined call.
    outer_views: Vec<ArrayView>,
    /// The block that reports each trap code and leaves for each exit: one
    /// serves every check of the function that raises it.
    trap_blocks: HashMap<(u32, ir::Block), ir::Block>,
    /// The exit of each inlined callee toward each enclosing exit: sibling
    /// calls of one callee (`fib`'s two) leave through the same block.
    exit_blocks: HashMap<(FuncId, ir::Block), ir::Block>,
    /// The variables of the views read for one site (see `view`).
    scratch_view: Option<(Variable, Variable, Variable)>,
    /// The Cranelift blocks each instruction of the function made (an
    /// inlined call's include its body's; a block's first instruction also
    /// counts the block): what the register allocators pay for.
    blocks_made: EntityVec<Inst, u32>,
}

/// The state of one MIR function's body while it is emitted: the function
/// being compiled, or a callee inlined into it.
struct Frame<'a> {
    func: &'a Function,
    info: &'a FuncInfo,
    id: FuncId,
    vals: EntityVec<Value, Repr>,
    blocks: EntityVec<Block, ir::Block>,
    /// Calls that may still start from this frame: passed to direct callees,
    /// and stored in `Ctx::calls_left` before helpers that may run compiled code.
    calls_left: ir::Value,
    /// Where the frame leaves after a trap: it adds itself to the backtrace.
    trap_exit: ir::Block,
    /// The MIR block being translated, and where in it.
    current: Block,
    position: Position,
    /// Where, in the current block, each planned receiver is last used.
    last_use: HashMap<Value, usize>,
    /// The receivers that get array views, and their views once defined.
    view_plan: HashMap<Value, Needs>,
    views: HashMap<Value, ArrayView>,
    /// The bases of element indices that get an offset (`array::plan`),
    /// and their offsets once defined.
    base_plan: HashSet<Value>,
    offsets: HashMap<Value, ir::Value>,
    /// For an inlined body: where its returns jump.
    inline_return: Option<ir::Block>,
    /// String constants every use of which borrows (see `borrowed_strings`).
    borrowed: HashSet<Value>,
    /// For a method inlined behind a class check: the receiver's class.
    self_class: Option<mir::BoxId>,
    /// The array element known to hold a scalar (see `array::KnownElement`).
    known: array::KnownElement,
}

impl<'a> Frame<'a> {
    /// The state for emitting `id`'s body, before its values and blocks exist.
    fn new(program: &'a Program, id: FuncId, calls_left: ir::Value, trap_exit: ir::Block) -> Self {
        let func = program.func(id);
        let (view_plan, base_plan) = array::plan(program, func, program.info(id));
        Frame {
            func,
            info: program.info(id),
            id,
            vals: EntityVec::filled(func.values.len(), Repr::Unset),
            blocks: EntityVec::filled(func.blocks.len(), ir::Block::from_u32(0)),
            calls_left,
            trap_exit,
            current: Block::INVALID,
            position: Position::Leaving,
            last_use: HashMap::new(),
            view_plan,
            views: HashMap::new(),
            base_plan,
            offsets: HashMap::new(),
            inline_return: None,
            borrowed: borrowed_strings(func, program.info(id)),
            self_class: None,
            known: None,
        }
    }
}

/// Whether a loop header dominates `block` (so it may run more than once,
/// or after a loop).
pub(crate) fn under_loop(info: &FuncInfo, block: Block) -> bool {
    let mut at = Some(block);
    while let Some(b) = at {
        if info.order.is_loop_header(b) {
            return true;
        }
        at = info.domtree.idom(b).filter(|&d| d != b);
    }
    false
}

/// Callees at most this many instructions long, without loops, are inlined,
/// up to this many levels deep (a recursive `fib` unrolls itself three
/// times), while the function has inlined at most `INLINE_BUDGET`
/// instructions in all (which bounds its growth, and its compile time).
const INLINE_MAX_INSTS: usize = 24;
const INLINE_MAX_DEPTH: u32 = 3;
const INLINE_BUDGET: usize = 1000;

impl<'a, 'b> FnTranslator<'a, 'b> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        program: &'a Program,
        id: FuncId,
        mut b: FunctionBuilder<'b>,
        module: &'a mut JITModule,
        helpers: &'a Helpers,
        funcs: &'a [ClifFunc],
        classes: &'a UserClasses,
        tables: &'a mut Tables,
        metered: bool,
        runs_once: bool,
    ) -> Self {
        let trap_exit = b.create_block();
        let trap_return = b.create_block();
        FnTranslator {
            program,
            frame: Frame::new(program, id, ir::Value::from_u32(0), trap_exit),
            b,
            module,
            helpers,
            funcs,
            classes,
            tables,
            metered,
            runs_once,
            imported: HashMap::new(),
            ctx: ir::Value::from_u32(0),
            ctx_slot: None,
            cold: 0,
            param_slots: HashMap::new(),
            depth_slot: None,
            fuel_at: ir::Value::from_u32(0),
            flag_at: ir::Value::from_u32(0),
            trap_return,
            args_slot: None,
            out_slot: None,
            inline_depth: 0,
            inlined: 0,
            outer_views: Vec::new(),
            trap_blocks: HashMap::new(),
            exit_blocks: HashMap::new(),
            scratch_view: None,
            blocks_made: EntityVec::filled(program.func(id).insts.len(), 0),
        }
    }

    /// Translates the function and finalizes the builder.
    pub fn translate(mut self) -> Translated {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        self.ctx = params[0];
        let (func, info) = (self.frame.func, self.frame.info);
        let boxcalls = func.insts.iter().any(|(_, data)| matches!(data, InstData::BoxCall { .. }));
        if boxcalls && info.order.has_loop() {
            let slot = self.b.create_sized_stack_slot(ir::StackSlotData::new(ir::StackSlotKind::ExplicitSlot, 8, 3));
            self.b.ins().stack_store(types::I64, self.ctx, slot, 0);
            self.ctx_slot = Some(slot);
        }
        self.frame.calls_left = params[1];
        let mut at = 2;
        for p in &self.frame.func.params {
            self.frame.vals[p.value] = match p.ty {
                Type::Box => {
                    at += 2;
                    Repr::Box(params[at - 2], params[at - 1])
                }
                _ => {
                    at += 1;
                    Repr::Scalar(params[at - 1])
                }
            };
            if let (Some(_), Type::Box) = (self.ctx_slot, p.ty) {
                let slot = self.stack_slot(layout::VALUE_SIZE as u32);
                let tag = self.b.ins().ireduce(types::I8, params[at - 2]);
                self.b.ins().stack_store(types::I64, tag, slot, layout::VALUE_TAG as i32);
                self.b.ins().stack_store(types::I64, params[at - 1], slot, layout::VALUE_PAYLOAD as i32);
                self.param_slots.insert(p.value, slot);
            }
        }
        self.create_blocks();
        self.prologue();
        self.define_param_views();
        self.body();
        // Only cold code follows.
        self.cold += 1;
        self.b.switch_to_block(self.frame.trap_exit);
        self.b.set_cold_block(self.frame.trap_exit);
        let id = self.b.ins().iconst(types::I32, self.frame.id.as_u32() as i64);
        let ctx = self.ctx();
        self.call(self.helpers.unwind, &[ctx, id]);
        self.b.ins().jump(self.trap_return, &[]);
        self.b.switch_to_block(self.trap_return);
        self.b.set_cold_block(self.trap_return);
        let zeros: Vec<ir::Value> = match self.frame.func.ret {
            None => Vec::new(),
            Some(Type::F64) => vec![self.b.ins().f64const(0.0)],
            Some(Type::Bool) => vec![self.b.ins().iconst(types::I8, 0)],
            Some(Type::I64) => vec![self.b.ins().iconst(types::I64, 0)],
            Some(Type::Box) => vec![self.b.ins().iconst(types::I64, 0); 2],
        };
        self.b.ins().return_(&zeros);
        self.b.seal_all_blocks();
        self.b.finalize(self.module.target_config());
        Translated { blocks_made: self.blocks_made, callees: self.imported.into_keys().collect() }
    }

    /// A Cranelift block per MIR block, with the phis as block parameters.
    fn create_blocks(&mut self) {
        for &block in self.frame.info.order.rpo() {
            let cb = self.b.create_block();
            self.frame.blocks[block] = cb;
            for phi in self.frame.func.phis(block) {
                let InstData::Phi { ty, .. } = self.frame.func.insts[phi] else { unreachable!() };
                let r = self.frame.func.results[phi].expect("phis have results");
                let v = self.b.append_block_param(cb, scalar_type(ty));
                self.frame.vals[r] = if ty == Type::Box {
                    Repr::Box(v, self.b.append_block_param(cb, types::I64))
                } else {
                    Repr::Scalar(v)
                };
            }
        }
    }

    /// Jumps to the first block, then emits every block in reverse postorder.
    fn body(&mut self) {
        let rpo = self.frame.info.order.rpo();
        self.b.ins().jump(self.frame.blocks[rpo[0]], &[]);
        for &block in rpo {
            self.b.switch_to_block(self.frame.blocks[block]);
            if block != rpo[0] && self.frame.info.order.is_loop_header(block) {
                self.safepoint();
            }
            self.block(block);
        }
    }

    /// Whether a direct call to `callee` is emitted inline: small loop-free
    /// callees, up to `INLINE_MAX_DEPTH` levels; in `@main`, which runs
    /// once, only calls that may repeat (under a loop header), since
    /// inlining costs compile time.
    fn inlines(&self, callee: FuncId) -> bool {
        let main_once = Some(self.frame.id) == self.program.main() && !under_loop(self.frame.info, self.frame.current);
        let runs_once = self.inline_depth == 0 && (self.runs_once || main_once);
        let info = self.program.info(callee);
        let size = inline_size(self.program.func(callee), info);
        !runs_once
            && self.inline_depth < INLINE_MAX_DEPTH
            && !info.order.has_loop()
            && size <= INLINE_MAX_INSTS
            && self.inlined + size <= INLINE_BUDGET
    }

    /// A call to `callee` with `args` (of its parameters' types, borrowed):
    /// inline or native. Returns its result. A method called on a receiver
    /// of known class passes it as `self_class`.
    fn direct_call(&mut self, callee: FuncId, args: &[Repr], self_class: Option<mir::BoxId>) -> Option<Repr> {
        if self.inlines(callee) {
            return self.inline_call(callee, args, self_class);
        }
        let mut values = vec![self.ctx, self.frame.calls_left];
        for a in args {
            a.push_to(&mut values);
        }
        let call = self.call(self.funcs[callee.as_u32() as usize], &values);
        let results = self.b.inst_results(call).to_vec();
        self.check_trapped();
        self.clobbered();
        match self.program.func(callee).ret {
            Some(Type::Box) => Some(Repr::Box(results[0], results[1])),
            Some(_) => Some(Repr::Scalar(results[0])),
            None => None,
        }
    }

    /// Emits a direct call's callee in place. Everything a call does is kept:
    /// the depth check, the entry safepoint, the callee in the backtrace of a
    /// trap inside it; only the native call goes. Arguments are borrowed, as
    /// in a call. Returns the callee's result.
    fn inline_call(&mut self, callee: FuncId, args: &[Repr], self_class: Option<mir::BoxId>) -> Option<Repr> {
        let too_deep = self.b.ins().icmp_imm_s(IntCC::Equal, self.frame.calls_left, 0);
        self.trap_if(too_deep, TRAP_STACK_OVERFLOW, self.frame.trap_exit);
        let func = self.program.func(callee);
        let done = self.result_block(func.ret);
        let known_exit = self.exit_blocks.get(&(callee, self.frame.trap_exit)).copied();
        let exit = known_exit.unwrap_or_else(|| self.b.create_block());
        let calls_left = self.b.ins().iadd_imm_s(self.frame.calls_left, -1);
        let callee_frame =
            Frame { inline_return: Some(done), self_class, ..Frame::new(self.program, callee, calls_left, exit) };
        let outer = self.outer_views.len();
        let live = self.live_views();
        self.outer_views.extend(live);
        let caller = self.swap_frame(callee_frame);
        self.inline_depth += 1;
        self.inlined += inline_size(func, self.program.info(callee));
        for (p, &a) in func.params.iter().zip(args) {
            self.frame.vals[p.value] = a;
        }
        self.create_blocks();
        // The entry safepoint counts fuel; unmetered, it only polls for an
        // interrupt, which the caller's next safepoint sees soon enough (the
        // body has no loop).
        if self.metered {
            self.safepoint();
        }
        self.define_param_views();
        self.body();
        self.swap_frame(caller);
        // The body may have stored anything anywhere.
        self.frame.known = None;
        self.inline_depth -= 1;
        self.outer_views.truncate(outer);
        if known_exit.is_none() {
            self.exit_blocks.insert((callee, self.frame.trap_exit), exit);
            let first = self.enter_cold(exit);
            let id = self.b.ins().iconst(types::I32, callee.as_u32() as i64);
            let ctx = self.ctx();
            self.call(self.helpers.unwind, &[ctx, id]);
            self.cold_since(first);
            self.b.ins().jump(self.frame.trap_exit, &[]);
        }
        self.b.switch_to_block(done);
        match Repr::from_values(self.b.block_params(done)) {
            Repr::Unset => None,
            repr => Some(repr),
        }
    }

    /// A block whose parameters take a result of type `ret`, if any.
    fn result_block(&mut self, ret: Option<Type>) -> ir::Block {
        let block = self.b.create_block();
        let mut types = Vec::new();
        if let Some(ty) = ret {
            push_abi_types(&mut types, ty);
        }
        for t in types {
            self.b.append_block_param(block, t);
        }
        block
    }

    /// Emits a fast path's `slow` block: the runtime call at `site`, then a
    /// jump to `done` with its result. Continues at `done`; returns the result.
    fn slow_path(&mut self, (slow, done): (ir::Block, ir::Block), site: Site, all: &[Value]) -> Repr {
        let first = self.enter_cold(slow);
        let bound = site.ret.is_some();
        let repr = self.dynamic(site, all, true);
        self.cold_since(first);
        let mut values = Vec::new();
        if bound {
            repr.push_to(&mut values);
        }
        let args: Vec<BlockArg> = values.into_iter().map(BlockArg::Value).collect();
        self.b.ins().jump(done, &args);
        self.b.switch_to_block(done);
        Repr::from_values(self.b.block_params(done))
    }

    /// Starts emitting the cold `block`; returns what [`Self::cold_since`]
    /// takes at the end of the path.
    fn enter_cold(&mut self, block: ir::Block) -> usize {
        self.b.switch_to_block(block);
        self.b.set_cold_block(block);
        self.cold += 1;
        self.b.func.dfg.num_blocks()
    }

    /// Marks cold the blocks created since `first`: the rest of a path that
    /// only a cold block reaches, so the hot code around it stays contiguous.
    fn cold_since(&mut self, first: usize) {
        for k in first..self.b.func.dfg.num_blocks() {
            self.b.set_cold_block(ir::Block::from_u32(k as u32));
        }
        self.cold -= 1;
    }

    /// The context. Cold code in a function with a loop and boxcalls (whose
    /// slow paths call helpers) reads it, the box parameters it passes to
    /// helpers and the depth it publishes from the stack: then the register
    /// allocator need not keep them in registers across hot loops that use
    /// them only in their slow paths (it stored and reloaded the context on
    /// every iteration of spectralnorm's). Other loops keep them in
    /// registers: `loop.mir`, with only a safepoint's slow path, got two
    /// more moves per iteration from the different allocation, and ran 20%
    /// slower.
    fn ctx(&mut self) -> ir::Value {
        self.cold_copy(self.ctx_slot, types::I64, 0).unwrap_or(self.ctx)
    }

    /// In cold code, the `ty` at `offset` in `slot`, a copy written on
    /// entry (see [`Self::ctx`]); `None` in hot code or without a copy.
    fn cold_copy(&mut self, slot: Option<ir::StackSlot>, ty: ir::Type, offset: i32) -> Option<ir::Value> {
        let slot = slot.filter(|_| self.cold > 0)?;
        Some(self.b.ins().stack_load(types::I64, ty, slot, offset))
    }

    /// Makes `frame` the function being emitted; returns the one it replaces.
    fn swap_frame(&mut self, frame: Frame<'a>) -> Frame<'a> {
        std::mem::replace(&mut self.frame, frame)
    }

    /// Depth and native-stack checks (a frame that fails them was never
    /// entered: it is not in the backtrace), then the entry safepoint.
    ///
    /// The depth travels in a register: each frame receives the number of
    /// calls that may still start, traps at 0 and passes one less on. Helpers
    /// that may run compiled code find it in `Ctx::calls_left`, which is
    /// written just before them, so a return restores nothing.
    fn prologue(&mut self) {
        let too_deep = self.b.ins().icmp_imm_s(IntCC::Equal, self.frame.calls_left, 0);
        self.trap_if(too_deep, TRAP_STACK_OVERFLOW, self.trap_return);
        let sp = self.b.ins().get_stack_pointer(types::I64);
        let limit = self.b.ins().load(types::I64, FLAGS, self.ctx, ctx::STACK_LIMIT);
        let no_stack = self.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
        self.trap_if(no_stack, TRAP_STACK_OVERFLOW, self.trap_return);
        self.frame.calls_left = self.b.ins().iadd_imm_s(self.frame.calls_left, -1);
        if self.ctx_slot.is_some() {
            let slot = self.stack_slot(4);
            self.b.ins().stack_store(types::I64, self.frame.calls_left, slot, 0);
            self.depth_slot = Some(slot);
        }
        if self.metered {
            self.fuel_at = self.b.ins().load(types::I64, FLAGS, self.ctx, ctx::FUEL);
        }
        self.flag_at = self.b.ins().load(types::I64, FLAGS, self.ctx, ctx::INTERRUPT);
        self.safepoint();
    }

    fn import(&mut self, id: ClifFunc) -> ir::FuncRef {
        if let Some(&r) = self.imported.get(&id) {
            return r;
        }
        let r = self.module.declare_func_in_func(id, self.b.func);
        self.imported.insert(id, r);
        r
    }

    fn call(&mut self, id: ClifFunc, args: &[ir::Value]) -> ir::Inst {
        let r = self.import(id);
        self.b.ins().call(r, args)
    }

    /// Calls a helper that returns a status; nonzero leaves through `trap_exit`.
    fn call_checked(&mut self, id: ClifFunc, args: &[ir::Value]) {
        let call = self.call(id, args);
        let status = self.b.inst_results(call)[0];
        self.leave_if(status);
    }

    /// Leaves through `trap_exit` when `cond` is nonzero.
    fn leave_if(&mut self, cond: ir::Value) {
        let cont = self.b.create_block();
        self.b.ins().brif(cond, self.frame.trap_exit, &[], cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// Records trap `code` and leaves through `exit` when `cond` holds.
    fn trap_if(&mut self, cond: ir::Value, code: u32, exit: ir::Block) {
        let known = self.trap_blocks.get(&(code, exit)).copied();
        let trap = known.unwrap_or_else(|| self.b.create_block());
        let cont = self.b.create_block();
        self.b.ins().brif(cond, trap, &[], cont, &[]);
        if known.is_none() {
            self.trap_blocks.insert((code, exit), trap);
            let first = self.enter_cold(trap);
            let code = self.b.ins().iconst(types::I32, code as i64);
            let ctx = self.ctx();
            self.call(self.helpers.trap, &[ctx, code]);
            self.cold_since(first);
            self.b.ins().jump(exit, &[]);
        }
        self.b.switch_to_block(cont);
    }

    /// Stores the frame's depth where trampolines read it, before a helper
    /// that may run compiled code (a method, a function value, a `fini`).
    fn publish_depth(&mut self) {
        let ctx = self.ctx();
        let depth = match self.cold_copy(self.depth_slot, types::I32, 0) {
            Some(own) => self.b.ins().iadd_imm_s(own, -(self.inline_depth as i64)),
            None => self.frame.calls_left,
        };
        self.b.ins().store(FLAGS, depth, ctx, ctx::CALLS_LEFT);
    }

    /// Leaves if a call into compiled code recorded a trap.
    fn check_trapped(&mut self) {
        let ctx = self.ctx();
        let trapped = self.b.ins().load(types::I8, FLAGS, ctx, ctx::TRAPPED);
        self.leave_if(trapped);
    }

    /// A safepoint: the interrupt flag (and the fuel, when metered) checked
    /// inline; the runtime does the rest.
    fn safepoint(&mut self) {
        let flag = self.b.ins().load(types::I8, FLAGS, self.flag_at, 0);
        let slow = self.b.create_block();
        let cont = self.b.create_block();
        if self.metered {
            let fuel = self.b.ins().load(types::I64, FLAGS, self.fuel_at, 0);
            let empty = self.b.ins().icmp_imm_s(IntCC::Equal, fuel, 0);
            let raised = self.b.ins().icmp_imm_s(IntCC::NotEqual, flag, 0);
            let slow_needed = self.b.ins().bor(empty, raised);
            let fast = self.b.create_block();
            self.b.ins().brif(slow_needed, slow, &[], fast, &[]);
            self.b.switch_to_block(fast);
            let left = self.b.ins().iadd_imm_s(fuel, -1);
            self.b.ins().store(FLAGS, left, self.fuel_at, 0);
            self.b.ins().jump(cont, &[]);
        } else {
            self.b.ins().brif(flag, slow, &[], cont, &[]);
        }
        let first = self.enter_cold(slow);
        let ctx = self.ctx();
        self.call(self.helpers.safepoint_saving, &[ctx]);
        self.check_trapped();
        self.cold_since(first);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
    }

    fn repr(&self, v: Value) -> Repr {
        self.frame.vals[v]
    }

    fn scalar(&self, v: Value) -> ir::Value {
        match self.frame.vals[v] {
            Repr::Scalar(x) => x,
            _ => unreachable!("verified: a scalar operand"),
        }
    }

    fn ty(&self, v: Value) -> Type {
        self.frame.info.types[v]
    }

    /// Adds a reference when `(tag, payload)` is an object.
    fn retain(&mut self, tag: ir::Value, payload: ir::Value) {
        let is_obj = self.b.ins().icmp_imm_s(IntCC::Equal, tag, layout::TAG_OBJ as i64);
        let inc = self.b.create_block();
        let cont = self.b.create_block();
        self.b.ins().brif(is_obj, inc, &[], cont, &[]);
        self.b.switch_to_block(inc);
        let rc = self.b.ins().load(types::I32, FLAGS, payload, layout::OBJ_RC as i32);
        let rc = self.b.ins().iadd_imm_s(rc, 1);
        self.b.ins().store(FLAGS, rc, payload, layout::OBJ_RC as i32);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// Drops a reference when `(tag, payload)` is an object; the last one
    /// goes to the runtime (which may run a `fini`).
    fn release(&mut self, tag: ir::Value, payload: ir::Value) {
        let is_obj = self.b.ins().icmp_imm_s(IntCC::Equal, tag, layout::TAG_OBJ as i64);
        let obj = self.b.create_block();
        let dec = self.b.create_block();
        let last = self.b.create_block();
        let cont = self.b.create_block();
        self.b.ins().brif(is_obj, obj, &[], cont, &[]);
        self.b.switch_to_block(obj);
        let rc = self.b.ins().load(types::I32, FLAGS, payload, layout::OBJ_RC as i32);
        let is_last = self.b.ins().icmp_imm_s(IntCC::Equal, rc, 1);
        self.b.ins().brif(is_last, last, &[], dec, &[]);
        self.b.switch_to_block(dec);
        let rc = self.b.ins().iadd_imm_s(rc, -1);
        self.b.ins().store(FLAGS, rc, payload, layout::OBJ_RC as i32);
        self.b.ins().jump(cont, &[]);
        let first = self.enter_cold(last);
        self.publish_depth();
        let ctx = self.ctx();
        self.call_checked(self.helpers.release, &[ctx, payload]);
        self.clobbered();
        self.cold_since(first);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
    }

    fn release_value(&mut self, v: Value) {
        if self.frame.borrowed.contains(&v) {
            return;
        }
        if let Repr::Box(t, p) = self.repr(v) {
            self.release(t, p);
        }
    }

    fn block(&mut self, block: Block) {
        let func = self.frame.func;
        self.frame.current = block;
        self.frame.known = None;
        self.frame.last_use = array::last_uses(func, block, &self.frame.view_plan);
        for (k, &inst) in func.blocks[block].insts.iter().enumerate() {
            self.frame.position = Position::At(k);
            let blocks_before = self.b.func.dfg.num_blocks();
            match func.insts[inst] {
                InstData::Phi { .. } => {
                    if let Some(r) = func.results[inst] {
                        self.define_view(r);
                        self.define_offset(r);
                    }
                }
                InstData::Jump { dest } => self.edge_code(block, dest),
                InstData::Branch { cond, then_dest, else_dest } => self.branch(block, cond, then_dest, else_dest),
                InstData::Return { value } => self.ret(inst, value),
                _ => {
                    self.inst(inst);
                    if let Some(r) = func.results[inst] {
                        self.define_view(r);
                        self.define_offset(r);
                    }
                    for &v in self.frame.info.drops.releases_after(inst) {
                        self.release_value(v);
                    }
                }
            }
            if self.inline_depth == 0 {
                let made = self.b.func.dfg.num_blocks() - blocks_before + usize::from(k == 0);
                self.blocks_made[inst] = u32::try_from(made).unwrap_or(u32::MAX);
            }
        }
    }

    /// Starts the views of the parameters that are array receivers.
    fn define_param_views(&mut self) {
        for p in &self.frame.func.params {
            self.define_view(p.value);
            self.define_offset(p.value);
        }
    }

    fn succ_index(&self, block: Block, dest: Block) -> usize {
        self.frame.info.cfg.succs(block).iter().position(|&s| s == dest).expect("an edge of the CFG")
    }

    /// The entry values of `dest`'s phis on the edge from `block`, with
    /// whether each hands its reference over.
    fn phi_entries(&self, block: Block, dest: Block) -> Vec<(Value, bool)> {
        let plan = self.frame.info.drops.edge(block, self.succ_index(block, dest));
        plan.inputs.iter().copied().zip(plan.moves.iter().copied()).collect()
    }

    fn edge_args(&self, entries: &[(Value, bool)]) -> Vec<BlockArg> {
        let mut values = Vec::new();
        for &(v, _) in entries {
            self.repr(v).push_to(&mut values);
        }
        values.into_iter().map(BlockArg::Value).collect()
    }

    /// Whether the edge only passes values (nothing to retain or release).
    fn edge_is_plain(&self, block: Block, dest: Block) -> bool {
        let plan = self.frame.info.drops.edge(block, self.succ_index(block, dest));
        plan.releases.is_empty()
            && self.phi_entries(block, dest).iter().all(|&(v, moved)| moved || self.ty(v) != Type::Box)
    }

    /// Emits an edge's work at the current position, then jumps: phi
    /// entries take their references (a copy adds one), then the plan's
    /// releases happen in order.
    fn edge_code(&mut self, block: Block, dest: Block) {
        self.frame.position = Position::Edge(dest);
        let entries = self.phi_entries(block, dest);
        for &(v, moved) in &entries {
            if let (Repr::Box(t, p), false) = (self.repr(v), moved) {
                self.retain(t, p);
            }
        }
        let plan = self.frame.info.drops.edge(block, self.succ_index(block, dest));
        for r in plan.releases {
            let value = if r.new_phi {
                // The unused phi's new value is its entry on this edge.
                let at = self.frame.func.phis(dest).position(|phi| self.frame.func.results[phi] == Some(r.value));
                entries[at.expect("a phi of the successor")].0
            } else {
                r.value
            };
            self.release_value(value);
        }
        let args = self.edge_args(&entries);
        self.b.ins().jump(self.frame.blocks[dest], &args);
    }

    fn branch(&mut self, block: Block, cond: Value, then_dest: Block, else_dest: Block) {
        if then_dest == else_dest {
            return self.edge_code(block, then_dest);
        }
        let c = self.scalar(cond);
        let mut targets = Vec::new();
        let mut pending = Vec::new();
        for dest in [then_dest, else_dest] {
            if self.edge_is_plain(block, dest) {
                let args = self.edge_args(&self.phi_entries(block, dest));
                targets.push((self.frame.blocks[dest], args));
            } else {
                let edge = self.b.create_block();
                pending.push((edge, dest));
                targets.push((edge, Vec::new()));
            }
        }
        self.b.ins().brif(c, targets[0].0, &targets[0].1, targets[1].0, &targets[1].1);
        for (edge, dest) in pending {
            self.b.switch_to_block(edge);
            self.edge_code(block, dest);
        }
    }

    fn ret(&mut self, inst: Inst, value: Option<Value>) {
        self.frame.position = Position::Leaving;
        for &v in self.frame.info.drops.releases_after(inst) {
            self.release_value(v);
        }
        let mut out = Vec::new();
        if let Some(v) = value {
            let repr = self.repr(v);
            if let (Repr::Box(t, p), true) = (repr, self.frame.info.drops.consumed(inst) != Some(v)) {
                self.retain(t, p);
            }
            repr.push_to(&mut out);
        }
        match self.frame.inline_return {
            Some(done) => {
                let args: Vec<BlockArg> = out.into_iter().map(BlockArg::Value).collect();
                self.b.ins().jump(done, &args);
            }
            None => {
                self.b.ins().return_(&out);
            }
        }
    }

    /// Computes `x` here, where MIR defines it. Cranelift's egraph would
    /// otherwise compute it at each of its uses that do not dominate one
    /// another: nbody's `%mag`, used by six inline `set` fast paths, cost
    /// six square roots and divisions. An instruction with two results is
    /// never pure, so it stays here and takes `x` with it; nothing uses its
    /// results, so it emits no code. Integer results in general are not
    /// anchored: recomputing an add beats keeping it in a register (loop
    /// ran 13% slower with every integer result anchored).
    ///
    /// A float goes through a bitcast that states its (native) byte order,
    /// so that it differs from the one that boxes `x` for a slow path: that
    /// one is computed in the slow path, this one nowhere.
    fn anchor(&mut self, x: ir::Value) {
        let bits = match self.b.func.dfg.value_type(x) {
            types::F64 => {
                let flags = MemFlagsData::new().with_endianness(ir::Endianness::Little);
                self.b.ins().bitcast(types::I64, flags, x)
            }
            _ => x,
        };
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().uadd_overflow(bits, zero);
    }

    fn set(&mut self, inst: Inst, repr: Repr) {
        if let Some(r) = self.frame.func.results[inst] {
            self.frame.vals[r] = repr;
        }
    }

    fn boxed(&mut self, tag: u8, payload: i64) -> Repr {
        let t = self.b.ins().iconst(types::I64, tag as i64);
        let p = self.b.ins().iconst(types::I64, payload);
        Repr::Box(t, p)
    }

    /// A scalar as a box: its tag and payload word.
    fn box_scalar(&mut self, x: ir::Value, ty: Type) -> (ir::Value, ir::Value) {
        let (tag, payload) = match ty {
            Type::I64 => (layout::TAG_I64, x),
            Type::F64 => (layout::TAG_F64, self.b.ins().bitcast(types::I64, MemFlagsData::new(), x)),
            Type::Bool => (layout::TAG_BOOL, self.b.ins().uextend(types::I64, x)),
            Type::Box => unreachable!("not a scalar"),
        };
        (self.b.ins().iconst(types::I64, tag as i64), payload)
    }

    /// Any value as a box (tag, payload).
    fn as_box(&mut self, v: Value) -> (ir::Value, ir::Value) {
        match self.repr(v) {
            Repr::Box(t, p) => (t, p),
            Repr::Scalar(x) => self.box_scalar(x, self.ty(v)),
            Repr::Unset => unreachable!("defined before use"),
        }
    }

    fn inst(&mut self, inst: Inst) {
        let func = self.frame.func;
        let result = func.results[inst];
        match func.insts[inst] {
            InstData::Const { lit } => {
                let repr = match lit {
                    Literal::I64(n) => Repr::Scalar(self.b.ins().iconst(types::I64, n)),
                    Literal::F64(x) => Repr::Scalar(self.b.ins().f64const(x.value())),
                    Literal::Bool(b) => Repr::Scalar(self.b.ins().iconst(types::I8, b as i64)),
                    Literal::Null => self.boxed(layout::TAG_NULL, 0),
                    Literal::Func(f) => {
                        let id = self.program.func_id(f).expect("verified function");
                        self.boxed(layout::TAG_FUNC, id.as_u32() as i64)
                    }
                    Literal::Str(_) => {
                        let k = self.tables.string_index[&(self.frame.id, inst)];
                        // The table never changes during a run: these loads may move
                        // to where the value is used, or go if it is not.
                        let base = self.b.ins().load(types::I64, CONSTANT, self.ctx, ctx::STRINGS);
                        let at = k * layout::VALUE_SIZE as i32;
                        let t = self.b.ins().load(types::I8, CONSTANT, base, at + layout::VALUE_TAG as i32);
                        let t = self.b.ins().uextend(types::I64, t);
                        let p = self.b.ins().load(types::I64, CONSTANT, base, at + layout::VALUE_PAYLOAD as i32);
                        if !result.is_some_and(|r| self.frame.borrowed.contains(&r)) {
                            self.retain(t, p);
                        }
                        Repr::Box(t, p)
                    }
                };
                self.set(inst, repr);
            }
            InstData::BinOp { op, args: [a, b] } => {
                let (x, y) = (self.scalar(a), self.scalar(b));
                let v = match (self.ty(a), op, self.const_i64(b)) {
                    (Type::F64, ..) => {
                        let v = self.binop_f64(op, x, y);
                        self.anchor(v);
                        v
                    }
                    // A constant divisor other than 0 and -1 cannot trap.
                    (_, BinaryOp::Div, Some(k)) if k != 0 && k != -1 => self.b.ins().sdiv(x, y),
                    (_, BinaryOp::Rem, Some(k)) if k != 0 && k != -1 => self.b.ins().srem(x, y),
                    _ => self.binop_int(op, x, y),
                };
                self.set(inst, Repr::Scalar(v));
            }
            InstData::Compare { op, args: [a, b] } => {
                let v = match self.ty(a) {
                    Type::I64 => {
                        let (x, y) = (self.scalar(a), self.scalar(b));
                        self.b.ins().icmp(int_cc(op, true), x, y)
                    }
                    Type::Bool => {
                        let (x, y) = (self.scalar(a), self.scalar(b));
                        self.b.ins().icmp(int_cc(op, false), x, y)
                    }
                    Type::F64 => {
                        let (x, y) = (self.scalar(a), self.scalar(b));
                        self.b.ins().fcmp(float_cc(op), x, y)
                    }
                    Type::Box => {
                        let ((at, ap), (bt, bp)) = (self.as_box(a), self.as_box(b));
                        let code = CompareOp::ALL.iter().position(|&o| o == op).expect("an operator") as i64;
                        let code = self.b.ins().iconst(types::I32, code);
                        let ctx = self.ctx();
                        let call = self.call(self.helpers.compare, &[ctx, code, at, ap, bt, bp]);
                        let r = self.b.inst_results(call)[0];
                        let failed = self.b.ins().icmp_imm_s(IntCC::Equal, r, 2);
                        self.leave_if(failed);
                        self.b.ins().ireduce(types::I8, r)
                    }
                };
                self.set(inst, Repr::Scalar(v));
            }
            InstData::Call { callee: Callee::Direct(f), args } => {
                let callee = self.program.func_id(f).expect("verified callee");
                let args: Vec<Repr> = func.value_list(args).iter().map(|&a| self.repr(a)).collect();
                let returned = self.direct_call(callee, &args, None);
                match (result, returned) {
                    (Some(r), Some(repr)) => self.frame.vals[r] = repr,
                    (None, Some(Repr::Box(t, p))) => self.release(t, p),
                    _ => {}
                }
            }
            InstData::Call { callee: Callee::Indirect(f, ret), args } => {
                let all: Vec<Value> = std::iter::once(f).chain(func.value_list(args).iter().copied()).collect();
                let repr = self.dynamic(Site::new(SiteKind::Indirect, result.map(|_| ret)), &all, false);
                self.set(inst, repr);
            }
            InstData::BoxCall { recv: Receiver::Class(c), method, args, ret } => {
                let class = self.program.class(c).expect("verified class");
                let kind = SiteKind::Static { class, method: MethodRef::resolve(self.program, method) };
                let repr = self.dynamic(Site::new(kind, result.map(|_| ret)), func.value_list(args), false);
                self.set(inst, repr);
            }
            InstData::BoxCall { recv: Receiver::Value(r), method, args, ret } => {
                let repr = self.boxcall(inst, r, MethodRef::resolve(self.program, method), func.value_list(args), ret);
                self.set(inst, repr);
            }
            InstData::ExternCall { name, args, ret } => {
                let host = self.tables.host(self.program.module().sym(name));
                let repr = self.dynamic(
                    Site::new(SiteKind::Extern { host }, result.map(|_| ret)),
                    func.value_list(args),
                    false,
                );
                self.set(inst, repr);
            }
            InstData::TypeOp { op: TypeOpKind::Is(c), arg } => {
                let class = self.program.class(c).expect("verified class");
                let repr = self.is(arg, class, result);
                self.set(inst, repr);
            }
            InstData::TypeOp { op: TypeOpKind::Cast(to), arg } => {
                let repr = self.cast(inst, arg, to);
                self.set(inst, repr);
            }
            InstData::Safepoint => self.safepoint(),
            InstData::Barrier { .. } => {
                self.b.ins().fence();
            }
            InstData::Jump { .. } | InstData::Branch { .. } | InstData::Return { .. } | InstData::Phi { .. } => {
                unreachable!("terminators and phis are emitted with their block")
            }
        }
    }

    /// i64 (and bool) arithmetic with the traps of §3.
    fn binop_int(&mut self, op: BinaryOp, x: ir::Value, y: ir::Value) -> ir::Value {
        match op {
            BinaryOp::Add => self.b.ins().iadd(x, y),
            BinaryOp::Sub => self.b.ins().isub(x, y),
            BinaryOp::Mul => self.b.ins().imul(x, y),
            BinaryOp::And => self.b.ins().band(x, y),
            BinaryOp::Or => self.b.ins().bor(x, y),
            BinaryOp::Xor => self.b.ins().bxor(x, y),
            // Cranelift takes shift amounts modulo the width, as §3 does.
            BinaryOp::Shl => self.b.ins().ishl(x, y),
            BinaryOp::Shr => self.b.ins().sshr(x, y),
            BinaryOp::Ushr => self.b.ins().ushr(x, y),
            BinaryOp::Div | BinaryOp::Rem => {
                let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
                self.trap_if(zero, TRAP_DIVISION_BY_ZERO, self.frame.trap_exit);
                let minus_one = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                if op == BinaryOp::Div {
                    let min = self.b.ins().icmp_imm_s(IntCC::Equal, x, i64::MIN);
                    let overflow = self.b.ins().band(min, minus_one);
                    self.trap_if(overflow, TRAP_INTEGER_OVERFLOW, self.frame.trap_exit);
                    self.b.ins().sdiv(x, y)
                } else {
                    // `MIN % -1` is 0; any `x % -1` is, so divide by 1 instead.
                    let one = self.b.ins().iconst(types::I64, 1);
                    let divisor = self.b.ins().select(minus_one, one, y);
                    self.b.ins().srem(x, divisor)
                }
            }
        }
    }

    fn binop_f64(&mut self, op: BinaryOp, x: ir::Value, y: ir::Value) -> ir::Value {
        match op {
            BinaryOp::Add => self.b.ins().fadd(x, y),
            BinaryOp::Sub => self.b.ins().fsub(x, y),
            BinaryOp::Mul => self.b.ins().fmul(x, y),
            BinaryOp::Div => self.b.ins().fdiv(x, y),
            _ => self.math_call(0, x, y),
        }
    }

    /// `mir13_math(op, x, y)`.
    fn math_call(&mut self, op: i64, x: ir::Value, y: ir::Value) -> ir::Value {
        let op = self.b.ins().iconst(types::I32, op);
        let call = self.call(self.helpers.math, &[op, x, y]);
        self.b.inst_results(call)[0]
    }

    fn is(&mut self, arg: Value, class: ClassRef, result: Option<Value>) -> Repr {
        let ty = self.ty(arg);
        let tag = match class {
            ClassRef::Builtin(BuiltinClass::Integer) => Some(layout::TAG_I64),
            ClassRef::Builtin(BuiltinClass::Float) => Some(layout::TAG_F64),
            ClassRef::Builtin(BuiltinClass::Bool) => Some(layout::TAG_BOOL),
            ClassRef::Builtin(BuiltinClass::Null) => Some(layout::TAG_NULL),
            ClassRef::Builtin(BuiltinClass::Function) => Some(layout::TAG_FUNC),
            _ => None,
        };
        if ty != Type::Box {
            // A scalar's class is known here.
            let is = matches!(
                (ty, tag),
                (Type::I64, Some(layout::TAG_I64))
                    | (Type::F64, Some(layout::TAG_F64))
                    | (Type::Bool, Some(layout::TAG_BOOL))
            );
            return Repr::Scalar(self.b.ins().iconst(types::I8, is as i64));
        }
        match tag {
            Some(tag) => {
                let (t, _) = self.as_box(arg);
                Repr::Scalar(self.b.ins().icmp_imm_s(IntCC::Equal, t, tag as i64))
            }
            None => self.dynamic(Site::new(SiteKind::Is { class }, result.map(|_| Type::Bool)), &[arg], false),
        }
    }

    fn cast(&mut self, inst: Inst, arg: Value, to: Type) -> Repr {
        let from = self.ty(arg);
        let x = match self.repr(arg) {
            Repr::Scalar(x) => Some(x),
            _ => None,
        };
        let x = || x.expect("verified: a scalar operand");
        match (from, to) {
            (Type::Box, Type::Box) => {
                let (t, p) = self.as_box(arg);
                if self.frame.info.drops.consumed(inst) != Some(arg) {
                    self.retain(t, p);
                }
                Repr::Box(t, p)
            }
            (Type::Box, ty) => {
                let (t, p) = self.as_box(arg);
                Repr::Scalar(self.unbox(t, p, ty))
            }
            (from, Type::Box) => {
                let (t, p) = self.box_scalar(x(), from);
                Repr::Box(t, p)
            }
            (Type::I64, Type::F64) => Repr::Scalar(self.b.ins().fcvt_from_sint(types::F64, x())),
            // Truncates toward zero, saturates, NaN is 0 (§4).
            (Type::F64, Type::I64) => Repr::Scalar(self.b.ins().fcvt_to_sint_sat(types::I64, x())),
            (Type::I64, Type::Bool) => Repr::Scalar(self.b.ins().icmp_imm_s(IntCC::NotEqual, x(), 0)),
            (Type::Bool, Type::I64) => Repr::Scalar(self.b.ins().uextend(types::I64, x())),
            _ => self.repr(arg),
        }
    }

    /// A checked unboxing to scalar type `ty` (§4).
    fn unbox(&mut self, tag: ir::Value, payload: ir::Value, ty: Type) -> ir::Value {
        let (want, code) = match ty {
            Type::I64 => (layout::TAG_I64, 0),
            Type::F64 => (layout::TAG_F64, 1),
            _ => (layout::TAG_BOOL, 2),
        };
        let ok = self.b.ins().icmp_imm_s(IntCC::Equal, tag, want as i64);
        let bad = self.b.create_block();
        let cont = self.b.create_block();
        self.b.ins().brif(ok, cont, &[], bad, &[]);
        let first = self.enter_cold(bad);
        let code = self.b.ins().iconst(types::I32, code);
        let ctx = self.ctx();
        self.call(self.helpers.unbox_failed, &[ctx, code, tag, payload]);
        self.cold_since(first);
        self.b.ins().jump(self.frame.trap_exit, &[]);
        self.b.switch_to_block(cont);
        self.payload_as(payload, ty)
    }

    /// A payload word read as a scalar of type `ty`.
    fn payload_as(&mut self, payload: ir::Value, ty: Type) -> ir::Value {
        match ty {
            Type::I64 => payload,
            Type::F64 => self.b.ins().bitcast(types::F64, MemFlagsData::new(), payload),
            // Only a bool's low byte is defined.
            _ => self.b.ins().ireduce(types::I8, payload),
        }
    }

    fn stack_slot(&mut self, bytes: u32) -> ir::StackSlot {
        self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, bytes, 4))
    }

    /// A call through `mir13_call`; the result as `ret` when bound. A `slow`
    /// path's call keeps every register (see `saving_shim`).
    fn dynamic(&mut self, site: Site, args: &[Value], slow: bool) -> Repr {
        let ret = site.ret;
        let site = self.site(site);
        let (args_at, out_at) = self.write_args(args);
        let n = self.b.ins().iconst(types::I32, args.len() as i64);
        self.publish_depth();
        if slow {
            let ctx = self.ctx();
            self.call(self.helpers.call_saving, &[ctx, site, args_at, n, out_at]);
            self.check_trapped();
        } else {
            let ctx = self.ctx();
            self.call_checked(self.helpers.call, &[ctx, site, args_at, n, out_at]);
        }
        self.clobbered();
        match ret {
            Some(ty) => self.read_out(ty),
            None => Repr::Unset,
        }
    }

    /// A MapBox or StringBox method: the runtime call, which runs `op`
    /// without dispatch when the receiver allows.
    fn runtime_fast(&mut self, op: FastOp, kind: SiteKind, all: &[Value], result: Option<Value>, ret: Type) -> Repr {
        self.dynamic(Site { fast: Some(op), ..Site::new(kind, result.map(|_| ret)) }, all, false)
    }

    /// Adds a site to the table; its index.
    fn site(&mut self, site: Site) -> ir::Value {
        let index = self.tables.sites.len() as i64;
        self.tables.sites.push(site);
        self.b.ins().iconst(types::I32, index)
    }

    /// Writes `args` as values to the frame's argument area; its address
    /// and that of the result.
    fn write_args(&mut self, args: &[Value]) -> (ir::Value, ir::Value) {
        let size = (args.len().max(1) * layout::VALUE_SIZE) as u32;
        let args_slot = match self.args_slot {
            Some(s) if self.b.func.sized_stack_slots[s].size >= size => s,
            _ => {
                let s = self.stack_slot(size.max(8 * layout::VALUE_SIZE as u32));
                self.args_slot = Some(s);
                s
            }
        };
        let out_slot = match self.out_slot {
            Some(s) => s,
            None => {
                let s = self.stack_slot(layout::VALUE_SIZE as u32);
                self.out_slot = Some(s);
                s
            }
        };
        for (i, &a) in args.iter().enumerate() {
            // Parameters are this function's own, not an inlined body's.
            let copy = self.param_slots.get(&a).copied().filter(|_| self.inline_depth == 0);
            let tag = self.cold_copy(copy, types::I8, layout::VALUE_TAG as i32);
            let payload = self.cold_copy(copy, types::I64, layout::VALUE_PAYLOAD as i32);
            let (tag, p) = match (tag, payload) {
                (Some(tag), Some(payload)) => (tag, payload),
                _ => {
                    let (t, p) = self.as_box(a);
                    (self.b.ins().ireduce(types::I8, t), p)
                }
            };
            let at = (i * layout::VALUE_SIZE) as i32;
            self.b.ins().stack_store(types::I64, tag, args_slot, at + layout::VALUE_TAG as i32);
            self.b.ins().stack_store(types::I64, p, args_slot, at + layout::VALUE_PAYLOAD as i32);
        }
        let args_at = self.b.ins().stack_addr(types::I64, args_slot, 0);
        let out_at = self.b.ins().stack_addr(types::I64, out_slot, 0);
        (args_at, out_at)
    }

    /// The result a helper wrote, as `ret`.
    fn read_out(&mut self, ret: Type) -> Repr {
        let out_slot = self.out_slot.expect("written by `write_args`");
        let payload = self.b.ins().stack_load(types::I64, types::I64, out_slot, layout::VALUE_PAYLOAD as i32);
        match ret {
            Type::Box => {
                let tag = self.b.ins().stack_load(types::I64, types::I8, out_slot, layout::VALUE_TAG as i32);
                Repr::Box(self.b.ins().uextend(types::I64, tag), payload)
            }
            ty => Repr::Scalar(self.payload_as(payload, ty)),
        }
    }

    /// A boxcall on a value: native math for FloatBox, inline ArrayBox
    /// paths (which fall back on the runtime), the runtime's own fast paths
    /// for MapBox and StringBox methods, else the general call.
    fn boxcall(&mut self, inst: Inst, recv: Value, method: MethodRef, args: &[Value], ret: Type) -> Repr {
        let result = self.frame.func.results[inst];
        let recv_ty = self.ty(recv);
        let owned = self.frame.info.drops.consumed(inst) == Some(recv);
        if let (Type::F64, true, Type::F64, Some(_), Some(m)) = (recv_ty, args.is_empty(), ret, result, method.builtin)
            && let Some(v) = self.float_math(m, self.scalar(recv))
        {
            self.anchor(v);
            return Repr::Scalar(v);
        }
        let all: Vec<Value> = std::iter::once(recv).chain(args.iter().copied()).collect();
        // Only `getField(NAME)` and `setField(NAME, v)` may become slot
        // accesses: another arity reaches the runtime, which traps.
        let const_name = match (method.builtin, args) {
            (Some(Method::GetField), &[name]) | (Some(Method::SetField), &[name, _]) => {
                self.const_sym(name).map(|s| self.program.module().sym(s).to_string())
            }
            _ => None,
        };
        let kind = SiteKind::Method { method, owned };
        let fast = recv_ty == Type::Box && !owned;
        // `set` and `push` return null: inline only when that needs no check.
        let null_ok = result.is_none() || ret == Type::Box;
        match (fast, method.builtin, args) {
            (true, Some(Method::Get), &[i]) if self.ty(i) == Type::I64 && result.is_some() => {
                self.array_fast(kind, &all, result, ret, ArrayOp::Get)
            }
            (true, Some(Method::Set), &[i, _]) if self.ty(i) == Type::I64 && null_ok => {
                self.array_fast(kind, &all, result, ret, ArrayOp::Set)
            }
            (true, Some(Method::Length), []) if result.is_some() && matches!(ret, Type::I64 | Type::Box) => {
                self.length_fast(kind, &all, result, ret)
            }
            (true, Some(Method::Push), &[_]) if null_ok => self.array_fast(kind, &all, result, ret, ArrayOp::Push),
            (true, Some(Method::Get), &[_]) if result.is_some() => {
                self.runtime_fast(FastOp::MapGet, kind, &all, result, ret)
            }
            (true, Some(Method::Set), &[_, _]) if null_ok => self.runtime_fast(FastOp::MapSet, kind, &all, result, ret),
            (true, Some(Method::Has), &[_]) if result.is_some() => {
                self.runtime_fast(FastOp::MapHas, kind, &all, result, ret)
            }
            (true, Some(Method::Size), []) if result.is_some() => {
                self.runtime_fast(FastOp::MapSize, kind, &all, result, ret)
            }
            (true, Some(Method::Delete), &[_]) if result.is_none() || matches!(ret, Type::Bool | Type::Box) => {
                self.runtime_fast(FastOp::MapDelete, kind, &all, result, ret)
            }
            // A handed-over receiver too: a unique string grows in place.
            (_, Some(Method::Concat), &[_]) if recv_ty == Type::Box && (result.is_none() || ret == Type::Box) => {
                self.runtime_fast(FastOp::Concat, kind, &all, result, ret)
            }
            (true, ..) if let Some(repr) = self.user_fast(kind, &all, (result, ret), method, const_name.clone()) => {
                repr
            }
            _ => self.dynamic(Site { const_name, ..Site::new(kind, result.map(|_| ret)) }, &all, false),
        }
    }

    /// The value of `v` if it is an integer constant.
    fn const_i64(&self, v: Value) -> Option<i64> {
        let mir::ValueDef::Result(def) = self.frame.func.values[v].def else { return None };
        match self.frame.func.insts[def] {
            InstData::Const { lit: Literal::I64(n) } => Some(n),
            _ => None,
        }
    }

    /// The symbol of `v` if it is a string constant (a field name).
    fn const_sym(&self, v: Value) -> Option<mir::Sym> {
        let mir::ValueDef::Result(def) = self.frame.func.values[v].def else { return None };
        match self.frame.func.insts[def] {
            InstData::Const { lit: Literal::Str(s) } => Some(s),
            _ => None,
        }
    }

    fn float_math(&mut self, m: Method, x: ir::Value) -> Option<ir::Value> {
        let zero = |t: &mut Self| t.b.ins().f64const(0.0);
        Some(match m {
            Method::Sqrt => self.b.ins().sqrt(x),
            Method::Abs => self.b.ins().fabs(x),
            Method::Floor => self.b.ins().floor(x),
            Method::Ceil => self.b.ins().ceil(x),
            Method::Round => {
                let y = zero(self);
                self.math_call(1, x, y)
            }
            Method::Sin | Method::Cos | Method::Tan | Method::Exp | Method::Ln => {
                let op = match m {
                    Method::Sin => 2,
                    Method::Cos => 3,
                    Method::Tan => 4,
                    Method::Exp => 5,
                    _ => 6,
                };
                let y = zero(self);
                self.math_call(op, x, y)
            }
            _ => return None,
        })
    }

    /// `length()` inline for an ArrayBox, through a leaf helper for a
    /// StringBox (it counts characters), else through the runtime.
    fn length_fast(&mut self, kind: SiteKind, all: &[Value], result: Option<Value>, ret: Type) -> Repr {
        let done = self.result_block(Some(ret));
        let jump_done = |t: &mut Self, len: ir::Value| {
            let args = match ret {
                Type::Box => {
                    let tag = t.b.ins().iconst(types::I64, layout::TAG_I64 as i64);
                    vec![BlockArg::Value(tag), BlockArg::Value(len)]
                }
                _ => vec![BlockArg::Value(len)],
            };
            t.b.ins().jump(done, &args);
        };
        let (check_kind, array, not_array, string, slow) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        let (tag, obj) = self.as_box(all[0]);
        let is_obj = self.b.ins().icmp_imm_s(IntCC::Equal, tag, layout::TAG_OBJ as i64);
        self.b.ins().brif(is_obj, check_kind, &[], slow, &[]);
        self.b.switch_to_block(check_kind);
        let kind_byte = self.b.ins().uload8(types::I32, FLAGS, obj, layout::OBJ_KIND as i32);
        let is_array = self.b.ins().icmp_imm_s(IntCC::Equal, kind_byte, layout::KIND_ARRAY as i64);
        self.b.ins().brif(is_array, array, &[], not_array, &[]);
        self.b.switch_to_block(array);
        let len = self.b.ins().load(types::I64, FLAGS, obj, layout::ARRAY_LEN as i32);
        jump_done(self, len);
        self.b.switch_to_block(not_array);
        let is_string = self.b.ins().icmp_imm_s(IntCC::Equal, kind_byte, layout::KIND_STRING as i64);
        self.b.ins().brif(is_string, string, &[], slow, &[]);
        self.b.switch_to_block(string);
        let call = self.call(self.helpers.string_length, &[obj]);
        let len = self.b.inst_results(call)[0];
        jump_done(self, len);
        self.slow_path((slow, done), Site::new(kind, result.map(|_| ret)), all)
    }
}

/// The string constants of `func` that no instruction takes over: no phi
/// receives them, no use consumes them, so every use borrows. Such a value
/// borrows the run's own reference (the string table keeps each constant
/// alive until the run ends) instead of adding one and dropping it, which
/// makes a constant field name free.
fn borrowed_strings(func: &Function, info: &FuncInfo) -> HashSet<Value> {
    let insts = || info.order.rpo().iter().flat_map(|&b| func.blocks[b].insts.iter().copied());
    let mut borrowed: HashSet<Value> = insts()
        .filter(|&inst| matches!(func.insts[inst], InstData::Const { lit: Literal::Str(_) }))
        .filter_map(|inst| func.results[inst])
        .collect();
    for inst in insts() {
        if let InstData::Phi { entries, .. } = func.insts[inst] {
            for e in func.phi_list(entries) {
                borrowed.remove(&e.value);
            }
        }
        if let Some(v) = info.drops.consumed(inst) {
            borrowed.remove(&v);
        }
    }
    borrowed
}

/// The size of `func`'s body, for inlining: its reachable instructions.
fn inline_size(func: &Function, info: &FuncInfo) -> usize {
    info.order.rpo().iter().map(|&b| func.blocks[b].insts.len()).sum()
}

fn push_abi_types(out: &mut Vec<ir::Type>, ty: Type) {
    out.push(scalar_type(ty));
    if ty == Type::Box {
        out.push(types::I64);
    }
}

fn int_cc(op: CompareOp, signed: bool) -> IntCC {
    match (op, signed) {
        (CompareOp::Eq, _) => IntCC::Equal,
        (CompareOp::Ne, _) => IntCC::NotEqual,
        (CompareOp::Lt, true) => IntCC::SignedLessThan,
        (CompareOp::Le, true) => IntCC::SignedLessThanOrEqual,
        (CompareOp::Gt, true) => IntCC::SignedGreaterThan,
        (CompareOp::Ge, true) => IntCC::SignedGreaterThanOrEqual,
        (CompareOp::Lt, false) => IntCC::UnsignedLessThan,
        (CompareOp::Le, false) => IntCC::UnsignedLessThanOrEqual,
        (CompareOp::Gt, false) => IntCC::UnsignedGreaterThan,
        (CompareOp::Ge, false) => IntCC::UnsignedGreaterThanOrEqual,
    }
}

/// IEEE comparisons: `ne` holds for NaN, the ordering ones do not.
fn float_cc(op: CompareOp) -> FloatCC {
    match op {
        CompareOp::Eq => FloatCC::Equal,
        CompareOp::Ne => FloatCC::NotEqual,
        CompareOp::Lt => FloatCC::LessThan,
        CompareOp::Le => FloatCC::LessThanOrEqual,
        CompareOp::Gt => FloatCC::GreaterThan,
        CompareOp::Ge => FloatCC::GreaterThanOrEqual,
    }
}
