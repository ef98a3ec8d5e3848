//! The verifier: every check of §5.1, reporting all errors it finds.
//!
//! It accepts any [`Module`], including one with unresolved references or
//! duplicate names (the text lowering produces those rather than failing),
//! and it never panics. Types of values are inferred on the way; the facts
//! it computes are kept by [`crate::Program`] when verification succeeds.

use crate::cfg::{BlockOrder, Cfg, DomTree};
use crate::diag::{Error, ErrorKind, RetTypeName, SourceFile, Span};
use crate::entity::EntityVec;
use crate::ir::{
    Block, BoxId, BuiltinClass, Callee, ClassRef, FuncId, Function, Inst, InstData, Module, Receiver, Sym, Type,
    TypeOpKind, Value, ValueDef,
};
use crate::printer::is_inline_const;
use crate::source_map::{FuncSpans, SourceMap};
use std::collections::HashMap;

/// The signature of a host function, as the verifier sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternSig {
    pub params: Vec<Type>,
    /// `None` is void (the call yields `null`).
    pub ret: Option<Type>,
}

/// Where the verifier finds host-function signatures.
pub trait ExternSigs {
    /// The signature of the host function `name` (dotted, e.g. `env.console.log`).
    fn signature(&self, name: &str) -> Option<&ExternSig>;
}

/// No host functions at all.
pub struct NoExterns;

impl ExternSigs for NoExterns {
    fn signature(&self, _: &str) -> Option<&ExternSig> {
        None
    }
}

impl ExternSigs for HashMap<String, ExternSig> {
    fn signature(&self, name: &str) -> Option<&ExternSig> {
        self.get(name)
    }
}

/// The text a module was parsed from, for error positions and names.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    pub file: &'a SourceFile,
    pub map: &'a SourceMap,
}

/// The module's functions and boxes by name (the first definition wins).
#[derive(Clone, Debug, Default)]
pub struct Names {
    funcs: HashMap<Sym, FuncId>,
    boxes: HashMap<Sym, BoxId>,
    builtins: HashMap<Sym, BuiltinClass>,
}

impl Names {
    /// Indexes the names of `module`.
    pub fn new(module: &Module) -> Names {
        let mut names = Names::default();
        for (id, f) in module.funcs.iter() {
            names.funcs.entry(f.name).or_insert(id);
        }
        for (id, b) in module.boxes.iter() {
            names.boxes.entry(b.name).or_insert(id);
        }
        for &class in BuiltinClass::ALL {
            if let Some(sym) = module.symbols.lookup(class.name()) {
                names.builtins.insert(sym, class);
            }
        }
        names
    }

    /// The function named `sym`.
    pub fn func(&self, sym: Sym) -> Option<FuncId> {
        self.funcs.get(&sym).copied()
    }

    /// The class named `sym`: a built-in or a user box.
    pub fn class(&self, sym: Sym) -> Option<ClassRef> {
        if let Some(&b) = self.builtins.get(&sym) {
            return Some(ClassRef::Builtin(b));
        }
        self.boxes.get(&sym).map(|&b| ClassRef::User(b))
    }
}

/// What verification learned about one function.
pub(crate) struct FuncFacts {
    pub cfg: Cfg,
    pub order: BlockOrder,
    pub domtree: DomTree,
    pub types: EntityVec<Value, Option<Type>>,
}

/// Verifies `module`; returns every error found (empty when it is valid).
pub fn verify(module: &Module, source: Option<Source<'_>>, externs: &dyn ExternSigs) -> Vec<Error> {
    verify_with_facts(module, source, externs).2
}

pub(crate) fn verify_with_facts(
    module: &Module,
    source: Option<Source<'_>>,
    externs: &dyn ExternSigs,
) -> (Names, Vec<FuncFacts>, Vec<Error>) {
    let names = Names::new(module);
    let mut v = Verifier { module, source, externs, names, errors: Vec::new() };
    v.check_module_names();
    v.check_boxes();
    let mut facts = Vec::with_capacity(module.funcs.len());
    for (id, func) in module.funcs.iter() {
        let spans = source.and_then(|s| s.map.funcs.get(id));
        facts.push(FunctionVerifier::run(&mut v, func, spans));
    }
    (v.names, facts, v.errors)
}

struct Verifier<'a> {
    module: &'a Module,
    source: Option<Source<'a>>,
    externs: &'a dyn ExternSigs,
    names: Names,
    errors: Vec<Error>,
}

impl Verifier<'_> {
    fn error(&mut self, kind: ErrorKind, span: Option<Span>) {
        self.errors.push(Error::new(kind, span));
    }

    fn sym(&self, sym: Sym) -> String {
        self.module.sym(sym).to_string()
    }

    /// The source text under `span`, or `fallback` without source.
    fn text_at(&self, span: Option<Span>, fallback: impl FnOnce() -> String) -> String {
        match (self.source, span) {
            (Some(src), Some(span)) if !src.file.slice(span).is_empty() => src.file.slice(span).to_string(),
            _ => fallback(),
        }
    }

    fn check_module_names(&mut self) {
        let spans = self.source.map(|s| s.map);
        let mut seen = HashMap::new();
        for (id, f) in self.module.funcs.iter() {
            if seen.insert(f.name, id).is_some() {
                let span = spans.and_then(|m| m.funcs.get(id)).map(|s| s.name);
                self.error(ErrorKind::DuplicateFunction(self.sym(f.name)), span);
            }
        }
        let mut seen = HashMap::new();
        for (id, b) in self.module.boxes.iter() {
            let span = spans.and_then(|m| m.boxes.get(id)).map(|s| s.name);
            if seen.insert(b.name, id).is_some() {
                self.error(ErrorKind::DuplicateBox(self.sym(b.name)), span);
            }
            if BuiltinClass::from_name(self.module.sym(b.name)).is_some() {
                self.error(ErrorKind::BoxShadowsBuiltin(self.sym(b.name)), span);
            }
        }
        if let Some(main) = self.names.func_by_text(self.module, "main") {
            let f = &self.module.funcs[main];
            if !f.params.is_empty() || !matches!(f.ret, None | Some(Type::I64)) {
                let span = spans.and_then(|m| m.funcs.get(main)).map(|s| s.name);
                self.error(ErrorKind::MainSignature, span);
            }
        }
    }

    fn check_boxes(&mut self) {
        for (id, decl) in self.module.boxes.iter() {
            let spans = self.source.and_then(|s| s.map.boxes.get(id));
            let owner = self.sym(decl.name);
            let mut fields = HashMap::new();
            for (i, field) in decl.fields.iter().enumerate() {
                if fields.insert(field.name, ()).is_some() {
                    let span = spans.and_then(|s| s.fields.get(i)).copied();
                    self.error(ErrorKind::DuplicateMember { owner: owner.clone(), name: self.sym(field.name) }, span);
                }
            }
            let mut methods = HashMap::new();
            for (i, method) in decl.methods.iter().enumerate() {
                let (name_span, func_span) = spans.and_then(|s| s.methods.get(i)).copied().unzip();
                if methods.insert(method.name, ()).is_some() {
                    let kind = ErrorKind::DuplicateMember { owner: owner.clone(), name: self.sym(method.name) };
                    self.error(kind, name_span);
                }
                match self.names.func(method.func) {
                    None => self.error(ErrorKind::UnknownFunction(self.sym(method.func)), func_span),
                    Some(f) => {
                        let func = &self.module.funcs[f];
                        if func.params.first().is_none_or(|p| p.ty != Type::Box) {
                            let kind = ErrorKind::MethodSelf {
                                owner: owner.clone(),
                                method: self.sym(method.name),
                                func: self.sym(method.func),
                            };
                            self.error(kind, func_span);
                        } else if self.sym(method.name) == "fini" && (func.params.len() != 1 || func.ret.is_some()) {
                            let kind = ErrorKind::FiniSignature { owner: owner.clone(), func: self.sym(method.func) };
                            self.error(kind, func_span);
                        }
                    }
                }
            }
        }
    }
}

impl Names {
    fn func_by_text(&self, module: &Module, name: &str) -> Option<FuncId> {
        self.func(module.symbols.lookup(name)?)
    }
}

/// Checks one function.
struct FunctionVerifier<'a, 'v> {
    v: &'v mut Verifier<'a>,
    func: &'a Function,
    spans: Option<&'a FuncSpans>,
    /// Block and position of every placed instruction.
    inst_pos: EntityVec<Inst, (Block, u32)>,
    errors_before: usize,
}

impl<'a, 'v> FunctionVerifier<'a, 'v> {
    fn run(v: &'v mut Verifier<'a>, func: &'a Function, spans: Option<&'a FuncSpans>) -> FuncFacts {
        let errors_before = v.errors.len();
        let mut inst_pos = EntityVec::filled(func.insts.len(), (Block::INVALID, 0));
        for (block, data) in func.blocks.iter() {
            for (i, &inst) in data.insts.iter().enumerate() {
                if func.insts.contains(inst) {
                    inst_pos[inst] = (block, i as u32);
                }
            }
        }
        let mut this = FunctionVerifier { v, func, spans, inst_pos, errors_before };
        let cfg = Cfg::new(func);
        let order = BlockOrder::new(func, &cfg);
        let domtree = DomTree::new(func, &cfg, &order);
        if func.blocks.is_empty() {
            let span = spans.map(|s| s.name);
            this.v.error(ErrorKind::EmptyFunction(this.v.sym(func.name)), span);
        }
        this.check_names();
        this.check_structure();
        let refs_ok = this.check_references();
        this.check_entry(&cfg);
        this.check_phis(&cfg);
        let types = this.infer_types(&order);
        this.check_types(&types);
        if refs_ok {
            this.check_dominance(&order, &domtree);
        }
        this.check_inferred(&types);
        FuncFacts { cfg, order, domtree, types }
    }

    fn error(&mut self, kind: ErrorKind, span: Option<Span>) {
        self.v.error(kind, span);
    }

    fn line(&self, inst: Inst) -> Option<Span> {
        self.spans.and_then(|s| s.insts.get(inst)).map(|s| s.line)
    }

    fn name_span(&self, inst: Inst) -> Option<Span> {
        self.spans.and_then(|s| s.insts.get(inst)).map(|s| s.name)
    }

    fn operand_span(&self, inst: Inst, i: usize) -> Option<Span> {
        self.spans.filter(|s| s.insts.contains(inst)).map(|s| s.operand(inst, i))
    }

    fn label_span(&self, inst: Inst, i: usize) -> Option<Span> {
        let n_operands = self.func.operands(inst).count();
        self.spans.filter(|s| s.insts.contains(inst)).map(|s| s.label(inst, n_operands, i))
    }

    fn block_span(&self, block: Block) -> Option<Span> {
        self.spans.and_then(|s| s.blocks.get(block)).copied()
    }

    fn value_span(&self, value: Value) -> Option<Span> {
        self.spans.and_then(|s| s.values.get(value)).copied()
    }

    /// How a value is named in messages: `%x`, or the literal it came from.
    fn value_name(&self, v: Value, span: Option<Span>) -> String {
        if let Some(name) = self.func.values.get(v).and_then(|d| d.name) {
            return format!("%{}", self.v.module.sym(name));
        }
        self.v.text_at(span.or(self.value_span(v)), || format!("{v:?}"))
    }

    fn label_name(&self, block: Block) -> String {
        match self.func.blocks.get(block) {
            Some(b) => self.v.sym(b.name),
            None => format!("{block:?}"),
        }
    }

    /// Whether `v` names a value defined by a parameter or placed instruction.
    fn is_defined(&self, v: Value) -> bool {
        match self.func.values.get(v).map(|d| d.def) {
            Some(ValueDef::Param(i)) => (i as usize) < self.func.params.len(),
            Some(ValueDef::Result(inst)) => {
                self.func.insts.contains(inst)
                    && self.inst_pos[inst].0 != Block::INVALID
                    && self.func.results[inst] == Some(v)
            }
            None => false,
        }
    }

    fn check_names(&mut self) {
        let mut values = HashMap::new();
        for (v, data) in self.func.values.iter() {
            if let Some(name) = data.name
                && values.insert(name, v).is_some()
            {
                let span = self.value_span(v);
                self.error(ErrorKind::DuplicateValue(self.v.sym(name)), span);
            }
        }
        let mut labels = HashMap::new();
        for (b, data) in self.func.blocks.iter() {
            if labels.insert(data.name, b).is_some() {
                let span = self.block_span(b);
                self.error(ErrorKind::DuplicateLabel(self.v.sym(data.name)), span);
            }
        }
    }

    /// Terminators end blocks and only end them; phis come first. Errors
    /// point at instructions the text shows, not at the constants lowering
    /// placed for immediate operands.
    fn check_structure(&mut self) {
        let func = self.func;
        let written = |i: Inst| func.insts.contains(i) && !is_inline_const(func, i);
        for (block, data) in func.blocks.iter() {
            let mut seen_non_phi = false;
            for &inst in &data.insts {
                match func.insts.get(inst) {
                    Some(InstData::Phi { .. }) if seen_non_phi => self.error(ErrorKind::PhiNotAtStart, self.line(inst)),
                    Some(InstData::Phi { .. }) | None => {}
                    Some(_) => seen_non_phi = true,
                }
            }
            let is_terminator = |i: Inst| func.insts.get(i).is_some_and(InstData::is_terminator);
            if let Some(t) = data.insts.iter().position(|&i| is_terminator(i))
                && t + 1 < data.insts.len()
            {
                let after = &data.insts[t + 1..];
                let at = after.iter().copied().find(|&i| written(i)).unwrap_or(after[0]);
                self.error(ErrorKind::InstAfterTerminator, self.line(at));
            } else if data.insts.last().is_none_or(|&i| !is_terminator(i)) {
                let span = match data.insts.iter().rev().copied().find(|&i| written(i)) {
                    Some(last) => self.line(last),
                    None => self.block_span(block),
                };
                self.error(ErrorKind::MissingTerminator(self.label_name(block)), span);
            }
        }
    }

    /// Every value, label, function, class and host function named exists.
    /// Returns whether all value and label references resolved.
    fn check_references(&mut self) -> bool {
        let mut ok = true;
        for data in self.func.blocks.values() {
            for &inst in &data.insts {
                if !self.func.insts.contains(inst) {
                    continue;
                }
                let operands: Vec<Value> = self.func.operands(inst).collect();
                for (i, &v) in operands.iter().enumerate() {
                    if !self.is_defined(v) {
                        ok = false;
                        let span = self.operand_span(inst, i);
                        let name = self.value_name(v, span);
                        self.error(ErrorKind::UnknownValue(name), span);
                    }
                }
                let labels: Vec<Block> = match self.func.insts[inst] {
                    InstData::Phi { entries, .. } => self.func.phi_list(entries).iter().map(|e| e.block).collect(),
                    _ => self.func.targets(inst).as_slice().to_vec(),
                };
                for (i, &b) in labels.iter().enumerate() {
                    if !self.func.blocks.contains(b) {
                        ok = false;
                        let span = self.label_span(inst, i);
                        let name = self.v.text_at(span, || format!("{b:?}"));
                        self.error(ErrorKind::UnknownLabel(name), span);
                    }
                }
                self.check_item_references(inst);
            }
        }
        ok
    }

    fn check_item_references(&mut self, inst: Inst) {
        let span = self.name_span(inst);
        match self.func.insts[inst] {
            InstData::Const { lit: crate::ir::Literal::Func(f) } | InstData::Call { callee: Callee::Direct(f), .. }
                if self.v.names.func(f).is_none() =>
            {
                self.error(ErrorKind::UnknownFunction(self.v.sym(f)), span);
            }
            InstData::BoxCall { recv: Receiver::Class(c), .. } | InstData::TypeOp { op: TypeOpKind::Is(c), .. }
                if self.v.names.class(c).is_none() =>
            {
                self.error(ErrorKind::UnknownClass(self.v.sym(c)), span);
            }
            InstData::ExternCall { name, .. } if self.v.externs.signature(self.v.module.sym(name)).is_none() => {
                self.error(ErrorKind::UnknownExtern(self.v.sym(name)), span);
            }
            _ => {}
        }
    }

    /// The entry block has no predecessors.
    fn check_entry(&mut self, cfg: &Cfg) {
        let Some(entry) = self.func.entry() else { return };
        if cfg.preds(entry).is_empty() {
            return;
        }
        for block in self.func.blocks.keys() {
            let Some(term) = self.func.terminator(block) else { continue };
            if self.func.targets(term).as_slice().contains(&entry) {
                self.error(ErrorKind::EntryHasPredecessor(self.label_name(entry)), self.line(term));
            }
        }
    }

    /// Each phi has exactly one entry per predecessor, and no other entries.
    fn check_phis(&mut self, cfg: &Cfg) {
        for block in self.func.blocks.keys() {
            let phis: Vec<Inst> = self.func.blocks[block]
                .insts
                .iter()
                .copied()
                .filter(|&i| matches!(self.func.insts.get(i), Some(InstData::Phi { .. })))
                .collect();
            for inst in phis {
                let InstData::Phi { entries, .. } = self.func.insts[inst] else { unreachable!() };
                let entries = self.func.phi_list(entries);
                let preds: std::collections::HashSet<Block> = cfg.preds(block).iter().copied().collect();
                let mut seen = HashMap::new();
                for (i, e) in entries.iter().enumerate() {
                    if !self.func.blocks.contains(e.block) {
                        continue;
                    }
                    if seen.insert(e.block, ()).is_some() {
                        let span = self.label_span(inst, i);
                        self.error(ErrorKind::PhiDuplicateEntry(self.label_name(e.block)), span);
                    } else if !preds.contains(&e.block) {
                        let span = self.label_span(inst, i);
                        self.error(ErrorKind::PhiNotPredecessor(self.label_name(e.block)), span);
                    }
                }
                for &pred in cfg.preds(block) {
                    if !seen.contains_key(&pred) {
                        let span = self.line(inst);
                        self.error(ErrorKind::PhiMissingEntry(self.label_name(pred)), span);
                    }
                }
            }
        }
    }

    /// The type of every value. A binop has its operands' type: reachable
    /// binops are typed in reverse postorder, where their operands come
    /// first, and a binop whose operands disagree stays untyped (its error is
    /// reported once, and its users are not blamed). Binops only unreachable
    /// code uses are typed by propagation from either operand.
    fn infer_types(&mut self, order: &BlockOrder) -> EntityVec<Value, Option<Type>> {
        let func = self.func;
        let mut types: EntityVec<Value, Option<Type>> = EntityVec::filled(func.values.len(), None);
        for p in &func.params {
            if func.values.contains(p.value) {
                types[p.value] = Some(p.ty);
            }
        }
        let mut binops = Vec::new();
        for (inst, data) in func.insts.iter() {
            let Some(result) = func.results[inst].filter(|&r| func.values.contains(r)) else { continue };
            types[result] = match *data {
                InstData::Const { lit } => Some(lit.ty()),
                InstData::BinOp { args, .. } => {
                    binops.extend(args.into_iter().filter(|&a| func.values.contains(a)).map(|a| (a, result)));
                    None
                }
                InstData::Compare { .. } | InstData::TypeOp { op: TypeOpKind::Is(_), .. } => Some(Type::Bool),
                InstData::TypeOp { op: TypeOpKind::Cast(ty), .. } => Some(ty),
                InstData::Phi { ty, .. } => Some(ty),
                InstData::Call { callee: Callee::Direct(f), .. } => {
                    self.v.names.func(f).and_then(|f| self.v.module.funcs[f].ret)
                }
                InstData::Call { callee: Callee::Indirect(_, ty), .. } => Some(ty),
                InstData::BoxCall { ret, .. } | InstData::ExternCall { ret, .. } => Some(ret),
                InstData::Jump { .. }
                | InstData::Branch { .. }
                | InstData::Return { .. }
                | InstData::Safepoint
                | InstData::Barrier { .. } => None,
            };
        }
        let ty = |types: &EntityVec<Value, Option<Type>>, v: Value| types.get(v).copied().flatten();
        let mut settled = EntityVec::filled(func.values.len(), false);
        for &block in order.rpo() {
            for &inst in &func.blocks[block].insts {
                if let Some(&InstData::BinOp { args: [a, b], .. }) = func.insts.get(inst)
                    && let Some(r) = func.results[inst].filter(|&r| func.values.contains(r))
                {
                    types[r] = match (ty(&types, a), ty(&types, b)) {
                        (Some(ta), Some(tb)) if ta != tb => None,
                        (ta, tb) => ta.or(tb),
                    };
                    settled[r] = true;
                }
            }
        }
        // Propagation for the rest, in CSR form: binop users of each value.
        let mut counts = vec![0u32; func.values.len() + 1];
        for &(a, _) in &binops {
            counts[a.as_u32() as usize + 1] += 1;
        }
        for i in 0..func.values.len() {
            counts[i + 1] += counts[i];
        }
        let mut users = vec![Value::INVALID; binops.len()];
        let mut fill = counts.clone();
        for &(a, r) in &binops {
            let slot = &mut fill[a.as_u32() as usize];
            users[*slot as usize] = r;
            *slot += 1;
        }
        let mut work: Vec<Value> = types.iter().filter(|(_, t)| t.is_some()).map(|(v, _)| v).collect();
        while let Some(v) = work.pop() {
            let i = v.as_u32() as usize;
            for &user in &users[counts[i] as usize..counts[i + 1] as usize] {
                if !settled[user] && types[user].is_none() {
                    types[user] = types[v];
                    work.push(user);
                }
            }
        }
        types
    }

    /// Types of every instruction's operands and result (§2, §3, §4).
    fn check_types(&mut self, types: &EntityVec<Value, Option<Type>>) {
        let func = self.func;
        let ty = |v: Value| types.get(v).copied().flatten();
        for data in func.blocks.values() {
            for &inst in &data.insts {
                let Some(&inst_data) = func.insts.get(inst) else { continue };
                match inst_data {
                    InstData::BinOp { op, args: [a, b] } => {
                        if let (Some(ta), Some(tb)) = (ty(a), ty(b)) {
                            if ta != tb {
                                let kind = ErrorKind::OperandTypes { op: op.name(), left: ta, right: tb };
                                self.error(kind, self.line(inst));
                            } else if !op.accepts(ta) {
                                self.error(ErrorKind::OpNotOnType { op: op.name(), ty: ta }, self.line(inst));
                            }
                        }
                    }
                    InstData::Compare { op, args: [a, b] } => {
                        if let (Some(ta), Some(tb)) = (ty(a), ty(b)) {
                            if ta != tb {
                                let kind = ErrorKind::OperandTypes { op: op.name(), left: ta, right: tb };
                                self.error(kind, self.line(inst));
                            } else if !op.accepts(ta) {
                                self.error(ErrorKind::OpNotOnType { op: op.name(), ty: ta }, self.line(inst));
                            }
                        }
                    }
                    InstData::Branch { cond, .. } => {
                        self.expect_type(inst, 0, ty(cond), Type::Bool, || "branch condition".into())
                    }
                    InstData::Return { value } => match (value, func.ret) {
                        (None, Some(ret)) => self.error(ErrorKind::ReturnMissingValue(ret), self.line(inst)),
                        (Some(_), None) => self.error(ErrorKind::ReturnValueInVoid, self.line(inst)),
                        (Some(v), Some(ret)) => self.expect_type(inst, 0, ty(v), ret, || "returned value".into()),
                        (None, None) => {}
                    },
                    InstData::Phi { ty: phi_ty, entries } => {
                        for (i, e) in func.phi_list(entries).iter().enumerate() {
                            let label = self.label_name(e.block);
                            self.expect_type(inst, i, ty(e.value), phi_ty, || format!("phi entry for `{label}`"));
                        }
                    }
                    InstData::Call { callee: Callee::Direct(f), args } => self.check_direct_call(inst, f, args, types),
                    InstData::Call { callee: Callee::Indirect(f, _), .. } => {
                        self.expect_type(inst, 0, ty(f), Type::Box, || "indirect callee".into())
                    }
                    InstData::ExternCall { name, args, ret } => self.check_extern_call(inst, name, args, ret, types),
                    InstData::TypeOp { op: TypeOpKind::Cast(to), arg } => {
                        if let Some(from) = ty(arg)
                            && matches!((from, to), (Type::F64, Type::Bool) | (Type::Bool, Type::F64))
                        {
                            self.error(ErrorKind::InvalidCast { from, to }, self.line(inst));
                        }
                    }
                    InstData::Const { .. }
                    | InstData::Jump { .. }
                    | InstData::BoxCall { .. }
                    | InstData::TypeOp { .. }
                    | InstData::Safepoint
                    | InstData::Barrier { .. } => {}
                }
            }
        }
    }

    /// Reports operand `i` of `inst` if its type is known and not `expected`.
    fn expect_type(
        &mut self,
        inst: Inst,
        i: usize,
        found: Option<Type>,
        expected: Type,
        what: impl FnOnce() -> String,
    ) {
        if let Some(found) = found
            && found != expected
        {
            let span = self.operand_span(inst, i);
            self.error(ErrorKind::TypeMismatch { what: what(), expected, found }, span);
        }
    }

    /// A direct call passes exactly the callee's parameter types.
    fn check_direct_call(
        &mut self,
        inst: Inst,
        f: Sym,
        args: crate::ir::ValueList,
        types: &EntityVec<Value, Option<Type>>,
    ) {
        let Some(callee) = self.v.names.func(f) else { return };
        let callee = &self.v.module.funcs[callee];
        let args = self.func.value_list(args);
        let name = self.v.sym(f);
        if args.len() != callee.params.len() {
            let kind = ErrorKind::Arity { callee: name, expected: callee.params.len(), found: args.len() };
            self.error(kind, self.line(inst));
            return;
        }
        for (i, (&arg, param)) in args.iter().zip(&callee.params).enumerate() {
            let found = types.get(arg).copied().flatten();
            self.expect_type(inst, i, found, param.ty, || format!("argument {} of `@{name}`", i + 1));
        }
        if self.func.results[inst].is_some() && callee.ret.is_none() {
            self.error(ErrorKind::VoidResult(name), self.line(inst));
        }
    }

    /// A host call's arguments and result must be convertible: equal types,
    /// or a `box` on either side (boxed, or unboxed with a check at run time).
    fn check_extern_call(
        &mut self,
        inst: Inst,
        name: Sym,
        args: crate::ir::ValueList,
        ret: Type,
        types: &EntityVec<Value, Option<Type>>,
    ) {
        let Some(sig) = self.v.externs.signature(self.v.module.sym(name)) else { return };
        let sig = sig.clone();
        let args = self.func.value_list(args);
        let name = self.v.sym(name);
        if args.len() != sig.params.len() {
            let kind = ErrorKind::ExternArity { name, expected: sig.params.len(), found: args.len() };
            self.error(kind, self.line(inst));
            return;
        }
        for (i, (&arg, &param)) in args.iter().zip(&sig.params).enumerate() {
            if let Some(found) = types.get(arg).copied().flatten()
                && !converts(found, param)
            {
                let kind = ErrorKind::ExternArg { name: name.clone(), index: i + 1, expected: param, found };
                self.error(kind, self.operand_span(inst, i));
            }
        }
        if self.func.results[inst].is_some() {
            let ok = match sig.ret {
                None => ret == Type::Box,
                Some(host) => converts(host, ret),
            };
            if !ok {
                self.error(ErrorKind::ExternResult { name, host: RetTypeName(sig.ret), wanted: ret }, self.line(inst));
            }
        }
    }

    /// Every use in reachable code is dominated by its definition; a phi's
    /// entry value dominates the end of its predecessor.
    fn check_dominance(&mut self, order: &BlockOrder, domtree: &DomTree) {
        let func = self.func;
        for &block in order.rpo() {
            for (pos, &inst) in func.blocks[block].insts.iter().enumerate() {
                if !func.insts.contains(inst) {
                    continue;
                }
                if let InstData::Phi { entries, .. } = func.insts[inst] {
                    for (i, e) in func.phi_list(entries).iter().enumerate() {
                        if !order.is_reachable(e.block) {
                            continue;
                        }
                        if let Some((def_block, _)) = self.def_site(e.value)
                            && !domtree.dominates(def_block, e.block)
                        {
                            let span = self.operand_span(inst, i);
                            self.error(ErrorKind::NotDominated(self.value_name(e.value, span)), span);
                        }
                    }
                    continue;
                }
                for (i, v) in func.operands(inst).enumerate() {
                    let Some((def_block, def_pos)) = self.def_site(v) else { continue };
                    let dominated =
                        if def_block == block { (def_pos as usize) < pos } else { domtree.dominates(def_block, block) };
                    if !dominated {
                        let span = self.operand_span(inst, i);
                        self.error(ErrorKind::NotDominated(self.value_name(v, span)), span);
                    }
                }
            }
        }
    }

    /// Block and position of `v`'s defining instruction; `None` for a
    /// parameter (which dominates everything).
    fn def_site(&self, v: Value) -> Option<(Block, u32)> {
        match self.func.values[v].def {
            ValueDef::Param(_) => None,
            ValueDef::Result(inst) => Some(self.inst_pos[inst]),
        }
    }

    /// A function without other errors has a type for every value it
    /// defines; only code no path reaches can leave one open.
    fn check_inferred(&mut self, types: &EntityVec<Value, Option<Type>>) {
        if self.v.errors.len() > self.errors_before {
            return;
        }
        for (v, ty) in types.iter() {
            if ty.is_none() && self.is_defined(v) {
                let span = self.value_span(v);
                self.error(ErrorKind::CannotInferType(self.value_name(v, span)), span);
            }
        }
    }
}

/// Whether a value of type `from` can be passed where `to` is expected at a
/// host or Box boundary.
pub fn converts(from: Type, to: Type) -> bool {
    from == to || from == Type::Box || to == Type::Box
}
