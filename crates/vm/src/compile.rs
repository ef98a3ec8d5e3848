//! The compiler: a verified [`Program`] to bytecode.
//!
//! Per function: registers are allocated (see [`crate::regalloc`]), blocks
//! are laid out in reverse postorder, and every instruction becomes ops:
//!
//! - integer constants used only as an `add`/`sub`/`compare` operand fold
//!   into the op (`AddIK`, `CmpIK`, `BrLtIK`...); other scalar constants are
//!   loaded from the function's pool;
//! - a `compare` of scalars right before the `branch` that is its only use
//!   fuses with it (`BrLtI`, `BrLtIK`, `BrF`...);
//! - the drop plan becomes `Release` ops after each instruction, and phis
//!   become parallel moves on the edges (`MovB` for a moved reference,
//!   `CopyB` where the plan adds one);
//! - an edge with work on it (moves, releases) gets its own code: inline
//!   on the fall-through side, a trampoline after the function for a taken
//!   branch;
//! - hot boxcalls get ops with a fast path behind a class check.

use crate::op::{CallSite, Conv, DynKind, DynSite, File, MathOp, Op, Reg, Slot};
use crate::regalloc::{self, Allocation};
use mir::{
    BinaryOp, Block, Callee, ClassRef, CompareOp, EntityVec, FuncId, FuncInfo, Function, InstData, Literal, Program,
    Receiver, Type, TypeOpKind, Value,
};
use runtime::{Method, MethodRef};
use std::collections::HashMap;

/// A compiled program.
pub struct Compiled {
    pub funcs: Vec<FuncCode>,
    /// String constants, allocated once per run.
    pub strings: Vec<String>,
    /// Host functions by name, resolved once per run.
    pub hosts: Vec<String>,
    /// Classes named by `Is` ops.
    pub classes: Vec<ClassRef>,
    /// Number of inline-cache slots (user method and field lookups).
    pub caches: usize,
    /// Field names of `getField`/`setField` sites, for their caches.
    pub fields: Vec<String>,
}

/// A compiled function.
pub struct FuncCode {
    pub name: String,
    pub code: Vec<Op>,
    /// Words of `LoadK`.
    pub consts: Vec<u64>,
    /// Values of `LoadBox` (null and function references: no counts).
    pub boxes: Vec<runtime::Value>,
    pub calls: Vec<CallSite>,
    pub dyns: Vec<DynSite>,
    /// Register lists of `ReleaseN`.
    pub lists: Vec<Vec<Reg>>,
    /// Registers of the parameters, in order.
    pub params: Vec<Slot>,
    pub ret: Option<Type>,
    /// Frame sizes in each file.
    pub s_size: u32,
    pub b_size: u32,
}

/// Why a program cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("function `@{0}` needs more than 65535 registers of one kind; the VM cannot run it")]
    TooManyRegisters(String),
    /// The compiler produced code the validator rejects (a compiler bug).
    #[error("internal error: invalid bytecode: {0}")]
    Invalid(String),
}

/// Compiles every function of `program`.
pub fn compile(program: &Program) -> Result<Compiled, CompileError> {
    let mut tables = Tables::default();
    let mut funcs = Vec::with_capacity(program.module().funcs.len());
    for (id, func) in program.module().funcs.iter() {
        funcs.push(FnCompiler::compile(program, &mut tables, id, func)?);
    }
    for f in &funcs {
        crate::validate::validate(f).map_err(CompileError::Invalid)?;
    }
    // Calls copy arguments straight into the callee's parameter registers.
    let callees: Vec<(Vec<Slot>, u32, u32)> =
        funcs.iter().map(|f: &FuncCode| (f.params.clone(), f.s_size, f.b_size)).collect();
    for f in &mut funcs {
        for site in &mut f.calls {
            let (params, s_size, b_size) = &callees[site.callee.as_u32() as usize];
            (site.s_size, site.b_size) = (*s_size, *b_size);
            for (a, p) in site.args.iter().zip(params) {
                match p.file {
                    File::S => site.s_moves.push((a.reg, p.reg)),
                    File::B => site.b_moves.push((a.reg, p.reg)),
                }
            }
        }
        crate::validate::validate_calls(f).map_err(CompileError::Invalid)?;
    }
    Ok(Compiled {
        funcs,
        strings: tables.strings,
        hosts: tables.hosts.into_keys_ordered(),
        classes: tables.classes.into_keys_ordered(),
        caches: tables.caches,
        fields: tables.fields.into_keys_ordered(),
    })
}

/// Values interned into dense indexes, in first-seen order.
struct Interner<K> {
    index: HashMap<K, u32>,
    keys: Vec<K>,
}

impl<K> Default for Interner<K> {
    fn default() -> Self {
        Interner { index: HashMap::new(), keys: Vec::new() }
    }
}

impl<K: std::hash::Hash + Eq + Clone> Interner<K> {
    fn get(&mut self, key: K) -> u32 {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.keys.len() as u32;
        self.index.insert(key.clone(), i);
        self.keys.push(key);
        i
    }

    fn into_keys_ordered(self) -> Vec<K> {
        self.keys
    }
}

/// Module-wide tables the functions share.
#[derive(Default)]
struct Tables {
    /// One StringBox per `const "..."` instruction, as on every backend
    /// (equal texts are not merged, so `--stats` agrees with the interpreter).
    strings: Vec<String>,
    hosts: Interner<String>,
    classes: Interner<ClassRef>,
    caches: usize,
    fields: Interner<String>,
}

/// Where a jump goes before positions are known.
#[derive(Clone, Copy)]
enum Target {
    Block(Block),
    /// A loop header, just past its `Safepoint` (for a `Loop` op, which
    /// polls itself).
    LoopBody(Block),
    /// A trampoline: an index into `FnCompiler::trampolines`.
    Trampoline(usize),
}

/// How an operand of a foldable instruction is folded into an immediate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fold {
    None,
    /// The first operand is the constant.
    A(i32),
    /// The second operand is the constant.
    B(i32),
}

struct FnCompiler<'a> {
    program: &'a Program,
    tables: &'a mut Tables,
    func: &'a Function,
    info: &'a FuncInfo,
    alloc: Allocation,
    code: Vec<Op>,
    consts: Vec<u64>,
    boxes: Vec<runtime::Value>,
    calls: Vec<CallSite>,
    dyns: Vec<DynSite>,
    lists: Vec<Vec<Reg>>,
    /// Uses of each value that need it in a register.
    register_uses: EntityVec<Value, u32>,
    /// Uses of each value, all kinds.
    uses: EntityVec<Value, u32>,
    labels: EntityVec<Block, u32>,
    /// Ops whose target is patched once positions are known.
    fixups: Vec<(usize, Target)>,
    /// Edges (from, succ index) whose code goes after the function.
    trampolines: Vec<(Block, usize)>,
    /// Extra registers beyond the allocation, for edge temporaries.
    s_temps: u32,
    b_temps: u32,
}

impl<'a> FnCompiler<'a> {
    fn compile(
        program: &'a Program,
        tables: &'a mut Tables,
        id: FuncId,
        func: &'a Function,
    ) -> Result<FuncCode, CompileError> {
        let info = program.info(id);
        let name = program.module().sym(func.name).to_string();
        let alloc = regalloc::allocate(func, info).map_err(|_| CompileError::TooManyRegisters(name.clone()))?;
        let mut c = FnCompiler {
            program,
            tables,
            func,
            info,
            alloc,
            code: Vec::new(),
            consts: Vec::new(),
            boxes: Vec::new(),
            calls: Vec::new(),
            dyns: Vec::new(),
            lists: Vec::new(),
            register_uses: EntityVec::filled(func.values.len(), 0),
            uses: EntityVec::filled(func.values.len(), 0),
            labels: EntityVec::filled(func.blocks.len(), u32::MAX),
            fixups: Vec::new(),
            trampolines: Vec::new(),
            s_temps: 0,
            b_temps: 0,
        };
        c.count_uses();
        let rpo = info.order.rpo();
        for (i, &block) in rpo.iter().enumerate() {
            c.labels[block] = c.code.len() as u32;
            // A function entry's safepoint is taken when its frame is pushed.
            if i > 0 && info.order.is_loop_header(block) {
                c.code.push(Op::Safepoint);
            }
            c.block(block, rpo.get(i + 1).copied())?;
        }
        let mut t = 0;
        let mut trampoline_starts = Vec::new();
        while t < c.trampolines.len() {
            let (from, succ) = c.trampolines[t];
            trampoline_starts.push(c.code.len() as u32);
            let dest = c.info.cfg.succs(from)[succ];
            c.edge_code(from, succ);
            c.jump(Target::Block(dest));
            t += 1;
        }
        for &(at, target) in &c.fixups {
            let pos = match target {
                Target::Block(b) => c.labels[b],
                Target::LoopBody(b) => c.labels[b] + 1,
                Target::Trampoline(i) => trampoline_starts[i],
            };
            *c.code[at].target_mut().expect("fixups are jumps") = pos;
        }
        let params = func.params.iter().map(|p| c.alloc.slots[p.value]).collect();
        let (s_size, b_size) = (c.alloc.s_count + c.s_temps, c.alloc.b_count + c.b_temps);
        if s_size > Reg::MAX as u32 || b_size > Reg::MAX as u32 {
            return Err(CompileError::TooManyRegisters(name));
        }
        Ok(FuncCode {
            name,
            code: c.code,
            consts: c.consts,
            boxes: c.boxes,
            calls: c.calls,
            dyns: c.dyns,
            lists: c.lists,
            params,
            ret: func.ret,
            s_size,
            b_size,
        })
    }

    /// Counts uses, and the uses that need the value in a register (not
    /// folded into an immediate, not a fused compare).
    fn count_uses(&mut self) {
        let func = self.func;
        for &block in self.info.order.rpo() {
            for &inst in &func.blocks[block].insts {
                for v in func.operands(inst) {
                    self.uses[v] += 1;
                }
            }
        }
        for &block in self.info.order.rpo() {
            for &inst in &func.blocks[block].insts {
                let fold = self.fold(inst);
                for (i, v) in func.operands(inst).enumerate() {
                    let folded = matches!((fold, i), (Fold::A(_), 0) | (Fold::B(_), 1));
                    if !folded {
                        self.register_uses[v] += 1;
                    }
                }
            }
        }
    }

    fn slot(&self, v: Value) -> Slot {
        self.alloc.slots[v]
    }

    fn reg(&self, v: Value) -> Reg {
        self.alloc.slots[v].reg
    }

    fn ty(&self, v: Value) -> Type {
        self.info.types[v]
    }

    /// The value as an `i32` immediate, if it is an integer constant.
    fn imm(&self, v: Value) -> Option<i32> {
        match self.func.values[v].def {
            mir::ValueDef::Result(inst) => match self.func.insts[inst] {
                InstData::Const { lit: Literal::I64(n) } => i32::try_from(n).ok(),
                _ => None,
            },
            mir::ValueDef::Param(_) => None,
        }
    }

    /// The text of `v`, if it is a string constant.
    fn const_str(&self, v: Value) -> Option<&'a str> {
        match self.func.values[v].def {
            mir::ValueDef::Result(inst) => match self.func.insts[inst] {
                InstData::Const { lit: Literal::Str(s) } => Some(self.program.module().sym(s)),
                _ => None,
            },
            mir::ValueDef::Param(_) => None,
        }
    }

    /// Which operand of `inst` folds into an immediate.
    fn fold(&self, inst: mir::Inst) -> Fold {
        match self.func.insts[inst] {
            // Commutative: either operand may be the constant.
            InstData::BinOp { op: BinaryOp::Add | BinaryOp::Mul, args: [a, b] } if self.ty(a) == Type::I64 => {
                match (self.imm(a), self.imm(b)) {
                    (_, Some(k)) => Fold::B(k),
                    (Some(k), None) => Fold::A(k),
                    _ => Fold::None,
                }
            }
            InstData::BinOp { op: BinaryOp::Sub, args: [a, b] } if self.ty(a) == Type::I64 => match self.imm(b) {
                Some(k) if k != i32::MIN => Fold::B(k),
                _ => Fold::None,
            },
            // A constant divisor other than 0 and -1 never traps.
            InstData::BinOp { op: BinaryOp::Div | BinaryOp::Rem, args: [a, b] } if self.ty(a) == Type::I64 => {
                match self.imm(b) {
                    Some(k) if k != 0 && k != -1 => Fold::B(k),
                    _ => Fold::None,
                }
            }
            InstData::Compare { args: [a, b], .. } if self.ty(a) == Type::I64 => match (self.imm(a), self.imm(b)) {
                (_, Some(k)) => Fold::B(k),
                (Some(k), None) => Fold::A(k),
                _ => Fold::None,
            },
            _ => Fold::None,
        }
    }

    fn push_const(&mut self, word: u64) -> u32 {
        self.consts.push(word);
        self.consts.len() as u32 - 1
    }

    /// A jump; into a loop header it is a `Loop` op that takes the
    /// header's safepoint itself (one dispatch fewer per iteration), fused
    /// with an increment of the same block just before it (`IncLoop`).
    fn jump(&mut self, target: Target) {
        let op = match target {
            Target::Block(b) if self.info.order.is_loop_header(b) => {
                let at = self.code.len() as u32;
                let starts_block = self.labels.values().any(|&l| l == at);
                if let (false, Some(&Op::AddIK { d, a, imm })) = (starts_block, self.code.last())
                    && d == a
                {
                    self.code.pop();
                    self.fixups.push((self.code.len(), Target::LoopBody(b)));
                    self.code.push(Op::IncLoop { a, imm, t: u32::MAX });
                    return;
                }
                self.fixups.push((at as usize, Target::LoopBody(b)));
                Op::Loop { t: u32::MAX }
            }
            _ => {
                self.fixups.push((self.code.len(), target));
                Op::Jmp { t: u32::MAX }
            }
        };
        self.code.push(op);
    }

    /// Emits a block's code; `next` is the block laid out after it.
    fn block(&mut self, block: Block, next: Option<Block>) -> Result<(), CompileError> {
        let insts = &self.func.blocks[block].insts;
        let n = insts.len();
        for (i, &inst) in insts.iter().enumerate() {
            match self.func.insts[inst] {
                InstData::Phi { .. } => {}
                InstData::Jump { dest } => self.edge(block, dest, next),
                InstData::Branch { cond, then_dest, else_dest } => {
                    self.branch(block, inst, cond, then_dest, else_dest, next, i.checked_sub(1).map(|p| insts[p]))
                }
                InstData::Return { value } => self.ret(inst, value),
                InstData::Compare { .. } if i + 2 == n && self.fused(inst, insts[n - 1]) => {}
                _ => {
                    self.inst(inst);
                    self.releases_after(inst);
                }
            }
        }
        Ok(())
    }

    /// Whether `compare` is the condition of `term` and used nowhere else.
    fn fused(&self, compare: mir::Inst, term: mir::Inst) -> bool {
        let (InstData::Compare { args: [a, _], .. }, InstData::Branch { cond, .. }) =
            (self.func.insts[compare], self.func.insts[term])
        else {
            return false;
        };
        self.func.results[compare] == Some(cond) && self.uses[cond] == 1 && matches!(self.ty(a), Type::I64 | Type::F64)
    }

    #[allow(clippy::too_many_arguments)]
    fn branch(
        &mut self,
        block: Block,
        term: mir::Inst,
        cond: Value,
        then_dest: Block,
        else_dest: Block,
        next: Option<Block>,
        before: Option<mir::Inst>,
    ) {
        let succ_of = |c: &Self, dest: Block| c.info.cfg.succs(block).iter().position(|&s| s == dest).expect("edge");
        if then_dest == else_dest {
            // One edge whatever the condition.
            return self.edge(block, then_dest, next);
        }
        let then_target = if self.edge_is_empty(block, succ_of(self, then_dest)) {
            Target::Block(then_dest)
        } else {
            self.trampolines.push((block, succ_of(self, then_dest)));
            Target::Trampoline(self.trampolines.len() - 1)
        };
        let at = self.code.len();
        let fused = before.filter(|&c| self.fused(c, term));
        let op = match fused.map(|c| self.func.insts[c]) {
            Some(InstData::Compare { op, args: [a, b] }) if self.ty(a) == Type::I64 => {
                match self.fold(fused.expect("fused")) {
                    Fold::B(imm) => Op::branch_ik(op, self.reg(a), imm, u32::MAX),
                    Fold::A(imm) => Op::branch_ik(swap(op), self.reg(b), imm, u32::MAX),
                    Fold::None => Op::branch_i(op, self.reg(a), self.reg(b), u32::MAX),
                }
            }
            Some(InstData::Compare { op, args: [a, b] }) => Op::BrF { op, a: self.reg(a), b: self.reg(b), t: u32::MAX },
            _ => Op::BrTrue { c: self.reg(cond), t: u32::MAX },
        };
        self.code.push(op);
        self.fixups.push((at, then_target));
        self.edge(block, else_dest, next);
    }

    /// Emits the edge from `block` to `dest` inline, then a jump unless
    /// `dest` is laid out next.
    fn edge(&mut self, block: Block, dest: Block, next: Option<Block>) {
        let succ = self.info.cfg.succs(block).iter().position(|&s| s == dest).expect("edge exists");
        self.edge_code(block, succ);
        if next != Some(dest) {
            self.jump(Target::Block(dest));
        }
    }

    fn edge_is_empty(&self, block: Block, succ: usize) -> bool {
        let plan = self.info.drops.edge(block, succ);
        let dest = self.info.cfg.succs(block)[succ];
        plan.releases.is_empty() && self.func.phis(dest).next().is_none()
    }

    /// The phi moves and releases of an edge.
    fn edge_code(&mut self, block: Block, succ: usize) {
        let dest = self.info.cfg.succs(block)[succ];
        let plan = self.info.drops.edge(block, succ);
        let func = self.func;
        let mut moves: Vec<(Slot, Slot, bool)> = Vec::new();
        for ((phi, &input), &moved) in func.phis(dest).zip(plan.inputs).zip(plan.moves) {
            let dst = self.slot(func.results[phi].expect("phis have results"));
            let src = self.slot(input);
            // A scalar is copied; a box copy that does not move adds a reference.
            moves.push((dst, src, moved || dst.file == File::S));
        }
        // Old values dying here whose register a move overwrites are saved first.
        let written: Vec<Slot> = moves.iter().map(|m| m.0).collect();
        let mut releases = Vec::new();
        let mut saved = 0;
        for r in plan.releases {
            let slot = self.slot(r.value);
            if !r.new_phi && written.contains(&slot) {
                let temp = self.alloc.b_count + saved;
                saved += 1;
                self.code.push(Op::MovB { d: temp as Reg, a: slot.reg });
                releases.push(temp as Reg);
            } else {
                releases.push(slot.reg);
            }
        }
        self.b_temps = self.b_temps.max(saved);
        self.parallel_moves(moves, saved);
        self.release_list(releases);
    }

    /// Emits moves that happen at once (every source read before any
    /// destination is written), breaking cycles through a temporary.
    fn parallel_moves(&mut self, mut moves: Vec<(Slot, Slot, bool)>, box_temps_used: u32) {
        let temp = |file: File, c: &Self| match file {
            File::S => c.alloc.s_count as Reg,
            File::B => (c.alloc.b_count + box_temps_used) as Reg,
        };
        // A value moved onto its own register needs nothing, unless it is a
        // box copy, which only adds a reference.
        for &(d, s, moved) in &moves {
            if d == s && d.file == File::B && !moved {
                self.code.push(Op::CopyB { d: d.reg, a: s.reg });
            }
        }
        moves.retain(|&(d, s, _)| d != s);
        while !moves.is_empty() {
            let ready = moves.iter().position(|&(d, _, _)| !moves.iter().any(|&(_, s, _)| s == d));
            match ready {
                Some(i) => {
                    let (d, s, moved) = moves.remove(i);
                    self.code.push(move_op(d, s, moved));
                }
                None => {
                    // Every destination is still to be read: a cycle. Save
                    // the first destination's value and read it from there.
                    let (d, _, _) = moves[0];
                    let t = Slot { file: d.file, reg: temp(d.file, self) };
                    match d.file {
                        File::S => self.s_temps = self.s_temps.max(1),
                        File::B => self.b_temps = self.b_temps.max(box_temps_used + 1),
                    }
                    self.code.push(move_op(t, d, true));
                    for m in &mut moves {
                        if m.1 == d {
                            m.1 = t;
                        }
                    }
                }
            }
        }
    }

    fn release_list(&mut self, regs: Vec<Reg>) {
        match regs.as_slice() {
            [] => {}
            [a] => self.code.push(Op::Release { a: *a }),
            _ => {
                self.lists.push(regs);
                self.code.push(Op::ReleaseN { list: self.lists.len() as u32 - 1 });
            }
        }
    }

    /// The releases the drop plan puts after `inst`.
    fn releases_after(&mut self, inst: mir::Inst) {
        let regs: Vec<Reg> = self.info.drops.releases_after(inst).iter().map(|&v| self.reg(v)).collect();
        self.release_list(regs);
    }

    fn ret(&mut self, inst: mir::Inst, value: Option<Value>) {
        self.releases_after(inst);
        self.code.push(match value {
            None => Op::RetVoid,
            Some(v) if self.ty(v) == Type::Box => {
                Op::RetB { a: self.reg(v), retain: self.info.drops.consumed(inst) != Some(v) }
            }
            Some(v) => Op::RetS { a: self.reg(v) },
        });
    }

    /// Emits one non-terminator instruction.
    fn inst(&mut self, inst: mir::Inst) {
        let func = self.func;
        let result = func.results[inst];
        let d = result.map_or(0, |r| self.reg(r));
        match func.insts[inst] {
            InstData::Const { lit } => {
                let r = result.expect("constants have results");
                if self.register_uses[r] == 0 && self.uses[r] > 0 {
                    return; // folded into every use
                }
                let op = match lit {
                    Literal::I64(n) => Op::LoadK { d, k: self.push_const(n as u64) },
                    Literal::F64(x) => Op::LoadK { d, k: self.push_const(x.value().to_bits()) },
                    Literal::Bool(b) => Op::LoadK { d, k: self.push_const(b as u64) },
                    Literal::Null => self.load_box(d, runtime::Value::Null),
                    Literal::Func(f) => {
                        self.load_box(d, runtime::Value::Func(self.program.func_id(f).expect("verified")))
                    }
                    Literal::Str(s) => {
                        let k = self.tables.strings.len() as u32;
                        self.tables.strings.push(self.program.module().sym(s).to_string());
                        Op::LoadStr { d, k }
                    }
                };
                self.code.push(op);
            }
            InstData::BinOp { op, args: [a, b] } => {
                let code = match (self.ty(a), self.fold(inst)) {
                    (Type::I64, Fold::B(k)) => {
                        let a = self.reg(a);
                        match op {
                            BinaryOp::Sub => Op::AddIK { d, a, imm: -k },
                            BinaryOp::Mul => Op::MulIK { d, a, imm: k },
                            BinaryOp::Div => Op::DivIK { d, a, imm: k },
                            BinaryOp::Rem => Op::RemIK { d, a, imm: k },
                            _ => Op::AddIK { d, a, imm: k },
                        }
                    }
                    (Type::I64, Fold::A(k)) if op == BinaryOp::Mul => Op::MulIK { d, a: self.reg(b), imm: k },
                    (Type::I64, Fold::A(k)) => Op::AddIK { d, a: self.reg(b), imm: k },
                    (Type::F64, _) => Op::BinF { op, d, a: self.reg(a), b: self.reg(b) },
                    // i64, and bool (`and or xor` on 0/1 words).
                    _ => Op::binary_i(op, d, self.reg(a), self.reg(b)),
                };
                self.code.push(code);
            }
            InstData::Compare { op, args: [a, b] } => {
                let code = match (self.ty(a), self.fold(inst)) {
                    (Type::I64, Fold::B(imm)) => Op::CmpIK { op, d, a: self.reg(a), imm },
                    (Type::I64, Fold::A(imm)) => Op::CmpIK { op: swap(op), d, a: self.reg(b), imm },
                    (Type::I64 | Type::Bool, _) => Op::CmpI { op, d, a: self.reg(a), b: self.reg(b) },
                    (Type::F64, _) => Op::CmpF { op, d, a: self.reg(a), b: self.reg(b) },
                    (Type::Box, _) => Op::CmpB { op, d, a: self.reg(a), b: self.reg(b) },
                };
                self.code.push(code);
            }
            InstData::Call { callee: Callee::Direct(f), args } => {
                let callee = self.program.func_id(f).expect("verified callee");
                let args = func.value_list(args).iter().map(|&a| self.slot(a)).collect();
                let ret = result.map(|r| self.slot(r));
                self.calls.push(CallSite {
                    callee,
                    args,
                    ret,
                    s_moves: Vec::new(),
                    b_moves: Vec::new(),
                    s_size: 0,
                    b_size: 0,
                });
                self.code.push(Op::Call { site: self.calls.len() as u32 - 1 });
            }
            InstData::Call { callee: Callee::Indirect(f, ret), args } => {
                let kind = DynKind::Indirect { callee: self.reg(f) };
                self.dyn_site(kind, func.value_list(args), result, ret, Op::Dyn { site: 0 });
            }
            InstData::BoxCall { recv: Receiver::Class(c), method, args, ret } => {
                let class = self.program.class(c).expect("verified class");
                let method = MethodRef::resolve(self.program, method);
                self.dyn_site(
                    DynKind::Static { class, method },
                    func.value_list(args),
                    result,
                    ret,
                    Op::Dyn { site: 0 },
                );
            }
            InstData::BoxCall { recv: Receiver::Value(r), method, args, ret } => {
                self.boxcall(inst, r, MethodRef::resolve(self.program, method), func.value_list(args), result, ret)
            }
            InstData::ExternCall { name, args, ret } => {
                let host = self.tables.hosts.get(self.program.module().sym(name).to_string());
                self.dyn_site(DynKind::Extern { host }, func.value_list(args), result, ret, Op::Dyn { site: 0 });
            }
            InstData::TypeOp { op: TypeOpKind::Is(c), arg } => {
                let class = self.program.class(c).expect("verified class");
                let op = match self.ty(arg) {
                    Type::Box => Op::Is { d, a: self.reg(arg), class: self.tables.classes.get(class) },
                    // A scalar's class is known here.
                    ty => {
                        let is = matches!(
                            (ty, class),
                            (Type::I64, ClassRef::Builtin(mir::BuiltinClass::Integer))
                                | (Type::F64, ClassRef::Builtin(mir::BuiltinClass::Float))
                                | (Type::Bool, ClassRef::Builtin(mir::BuiltinClass::Bool))
                        );
                        Op::LoadK { d, k: self.push_const(is as u64) }
                    }
                };
                self.code.push(op);
            }
            InstData::TypeOp { op: TypeOpKind::Cast(to), arg } => {
                let a = self.reg(arg);
                let op = match (self.ty(arg), to) {
                    (Type::Box, Type::Box) if self.info.drops.consumed(inst) == Some(arg) => Op::MovB { d, a },
                    (Type::Box, Type::Box) => Op::CopyB { d, a },
                    (Type::Box, ty) => Op::Unbox { ty, d, a },
                    (from, Type::Box) => Op::Box { ty: from, d, a },
                    (Type::I64, Type::F64) => Op::Conv { kind: Conv::I64ToF64, d, a },
                    (Type::F64, Type::I64) => Op::Conv { kind: Conv::F64ToI64, d, a },
                    (Type::I64, Type::Bool) => Op::Conv { kind: Conv::I64ToBool, d, a },
                    // bool -> i64 and same-type casts: the word is already right.
                    _ => Op::Mov { d, a },
                };
                self.code.push(op);
            }
            InstData::Safepoint => self.code.push(Op::Safepoint),
            InstData::Barrier { .. } => self.code.push(Op::Fence),
            InstData::Jump { .. } | InstData::Branch { .. } | InstData::Return { .. } | InstData::Phi { .. } => {
                unreachable!("terminators and phis are emitted with their block")
            }
        }
    }

    fn load_box(&mut self, d: Reg, v: runtime::Value) -> Op {
        self.boxes.push(v);
        Op::LoadBox { d, k: self.boxes.len() as u32 - 1 }
    }

    /// A `boxcall` on a value: a fast-path op when the method allows one.
    fn boxcall(
        &mut self,
        inst: mir::Inst,
        recv: Value,
        method: runtime::MethodRef,
        args: &[Value],
        result: Option<Value>,
        ret: Type,
    ) {
        let recv_ty = self.ty(recv);
        let owned = self.info.drops.consumed(inst) == Some(recv);
        // FloatBox math on an f64 into an f64: no dispatch at all.
        if recv_ty == Type::F64
            && args.is_empty()
            && ret == Type::F64
            && let (Some(r), Some(op)) = (result, method.builtin.and_then(MathOp::from_method))
        {
            self.code.push(Op::MathF { op, d: self.reg(r), a: self.reg(recv) });
            return;
        }
        let cache = self.tables.caches as u32;
        self.tables.caches += 1;
        // `getField(NAME)` and `setField(NAME, v)` of a constant name may
        // cache the field's slot; any other arity reaches the method, which traps.
        let field = match (method.builtin, args) {
            (Some(Method::GetField), &[name]) | (Some(Method::SetField), &[name, _]) => {
                self.const_str(name).map(|text| self.tables.fields.get(text.to_string()))
            }
            _ => None,
        };
        let kind = DynKind::Method { recv: self.slot(recv), recv_ty, method, owned, cache, field };
        // get/set/has of an i64 index or key, with scalar values, straight
        // between registers. Any other index reaches the method, which
        // refuses it (an f64 or a bool is not converted).
        let int = |v: Value, c: &Self| c.ty(v) == Type::I64;
        let scalar = |v: Value, c: &Self| c.slot(v).file == File::S;
        match (recv_ty, owned, method.builtin, args, result) {
            (Type::Box, false, Some(Method::Get), &[i], Some(r)) if int(i, self) && scalar(r, self) => {
                let (a, i, d) = (self.reg(recv), self.reg(i), self.reg(r));
                let site = self.push_dyn(kind, args, result, ret);
                self.code.push(Op::GetS { ty: ret, d, a, i, site });
                return;
            }
            (Type::Box, false, Some(Method::Set), &[i, v], None) if int(i, self) && scalar(v, self) => {
                let (ty, a, i, v) = (self.ty(v), self.reg(recv), self.reg(i), self.reg(v));
                let site = self.push_dyn(kind, args, result, ret);
                self.code.push(Op::SetS { ty, a, i, v, site });
                return;
            }
            (Type::Box, false, Some(Method::Has), &[k], Some(r)) if int(k, self) && ret == Type::Bool => {
                let (a, k, d) = (self.reg(recv), self.reg(k), self.reg(r));
                let site = self.push_dyn(kind, args, result, ret);
                self.code.push(Op::HasS { d, a, k, site });
                return;
            }
            _ => {}
        }
        let fast = match (recv_ty, owned, method.builtin, args.len()) {
            (Type::Box, false, Some(Method::Get), 1) => Op::Get { site: 0 },
            (Type::Box, false, Some(Method::Set), 2) => Op::Set { site: 0 },
            (Type::Box, false, Some(Method::Length), 0) => Op::Length { site: 0 },
            (Type::Box, false, Some(Method::Push), 1) => Op::Push { site: 0 },
            (Type::Box, false, Some(Method::Has), 1) => Op::Has { site: 0 },
            (Type::Box, false, Some(Method::Delete), 1) => Op::Delete { site: 0 },
            (Type::Box, false, Some(Method::Size), 0) => Op::Size { site: 0 },
            (Type::Box, _, Some(Method::Concat), 1) => Op::Concat { site: 0 },
            _ => Op::Dyn { site: 0 },
        };
        self.dyn_site(kind, args, result, ret, fast);
    }

    /// Records a dynamic call site; its index.
    fn push_dyn(&mut self, kind: DynKind, args: &[Value], result: Option<Value>, ret: Type) -> u32 {
        let args = args.iter().map(|&a| (self.slot(a), self.ty(a))).collect();
        self.dyns.push(DynSite { kind, args, ret: result.map(|r| (self.slot(r), ret)) });
        self.dyns.len() as u32 - 1
    }

    /// Records a dynamic call site and emits `op` pointing at it.
    fn dyn_site(&mut self, kind: DynKind, args: &[Value], result: Option<Value>, ret: Type, op: Op) {
        let site = self.push_dyn(kind, args, result, ret);
        self.code.push(match op {
            Op::Dyn { .. } => Op::Dyn { site },
            Op::Get { .. } => Op::Get { site },
            Op::Set { .. } => Op::Set { site },
            Op::Length { .. } => Op::Length { site },
            Op::Push { .. } => Op::Push { site },
            Op::Has { .. } => Op::Has { site },
            Op::Delete { .. } => Op::Delete { site },
            Op::Size { .. } => Op::Size { site },
            Op::Concat { .. } => Op::Concat { site },
            other => unreachable!("not a call op: {other:?}"),
        });
    }
}

/// The comparison with its operands swapped: `a < b` is `b > a`.
fn swap(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Le => CompareOp::Ge,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Ge => CompareOp::Le,
        other => other,
    }
}

/// A register move: `MovB` takes over a reference, `CopyB` adds one.
fn move_op(d: Slot, s: Slot, moved: bool) -> Op {
    match (d.file, moved) {
        (File::S, _) => Op::Mov { d: d.reg, a: s.reg },
        (File::B, true) => Op::MovB { d: d.reg, a: s.reg },
        (File::B, false) => Op::CopyB { d: d.reg, a: s.reg },
    }
}

#[cfg(test)]
mod tests {
    /// The bytecode listing of a module.
    fn listing(src: &str) -> String {
        let parsed = mir::parse(src).expect("the test module parses");
        let program = mir::Program::new(parsed.module, None, &mir::NoExterns).expect("the test module verifies");
        crate::listing(&super::compile(&program).expect("the test module compiles"))
    }

    /// The op names of a listing, in order.
    fn ops(listing: &str) -> Vec<&str> {
        listing.lines().filter_map(|l| l.split_whitespace().nth(1).filter(|_| l.starts_with("  "))).collect()
    }

    #[test]
    fn map_and_string_calls_get_fast_path_ops() {
        let text = listing(
            "func @f(%m: box, %k: i64, %s: box) -> i64 {\nentry:\n  boxcall %m.set(%k, 1)\n  %v = boxcall %m.get(%k) -> i64\n  \
             %h = boxcall %m.has(%k) -> bool\n  %hb = boxcall %m.has(%s)\n  %d = boxcall %m.delete(%s)\n  \
             %n = boxcall %m.size() -> i64\n  %l = boxcall %s.length() -> i64\n  %t = boxcall %s.concat(%s)\n  \
             %x = boxcall %m.get(%s)\n  return %v\n}\n",
        );
        let ops = ops(&text);
        for op in ["SetS", "GetS", "HasS", "Has", "Delete", "Size", "Length", "Concat", "Get"] {
            assert!(ops.contains(&op), "{op} missing from\n{text}");
        }
    }

    #[test]
    fn only_i64_indexes_take_the_scalar_ops() {
        let text = listing(
            "func @f(%a: box, %x: f64, %b: bool) -> i64 {\nentry:\n  %v = boxcall %a.get(%x) -> i64\n  \
             boxcall %a.set(%b, 2)\n  %h = boxcall %a.has(%x) -> bool\n  return %v\n}\n",
        );
        let ops = ops(&text);
        assert!(!ops.iter().any(|op| ["GetS", "SetS", "HasS"].contains(op)), "a scalar op on a non-i64 index:\n{text}");
        assert!(ops.contains(&"Get") && ops.contains(&"Set") && ops.contains(&"Has"), "{text}");
    }

    #[test]
    fn a_handed_over_receiver_takes_the_general_path_except_for_concat() {
        let text = listing(
            "func @f(%k: i64) -> i64 {\nentry:\n  %m = boxcall MapBox.new()\n  %n = boxcall %m.size() -> i64\n  \
             %s = boxcall %k.toString()\n  %t = boxcall %s.concat(\"!\")\n  %l = boxcall %t.length() -> i64\n  \
             return %l\n}\n",
        );
        let ops = ops(&text);
        assert!(!ops.contains(&"Size") && !ops.contains(&"Length"), "{text}");
        assert!(ops.contains(&"Concat"), "{text}");
    }
}
