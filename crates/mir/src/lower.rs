//! Lowering: the syntax tree to IR, plus a [`SourceMap`].
//!
//! Lowering never fails. A name that does not resolve becomes an `INVALID`
//! id (values, labels) or stays a symbol nobody defines (functions, classes,
//! externs); duplicates stay duplicates. The verifier reports all of them,
//! so a module built in memory gets the same checks as one read from text.
//!
//! Immediate operands become anonymous `const` instructions in canonical
//! places: right before the instruction using them, or, for a phi entry, at
//! the end of the predecessor block just before its terminator. The printer
//! writes them back inline, which is what makes `fmt` a fixed point.

use crate::diag::Span;
use crate::ir::Block;
use crate::ir::{
    BoxDecl, Callee, FieldDecl, Function, Inst, InstData, Item, Literal, MethodDecl, Module, PhiEntry, Receiver,
    TypeOpKind, Value,
};
use crate::parser::{BlockAst, CalleeAst, FuncAst, InstAst, ItemAst, LitAst, MemberAst, Operand, ReceiverAst};
use crate::source_map::{BoxSpans, FuncSpans, SourceMap};
use std::collections::HashMap;

/// Lowers parsed items to a module and its source map.
pub fn lower(items: &[ItemAst<'_>]) -> (Module, SourceMap) {
    let mut module = Module::new();
    let mut spans = SourceMap::default();
    for item in items {
        match item {
            ItemAst::Func(ast) => {
                let (func, func_spans) = FunctionLowering::run(&mut module, ast);
                let id = module.funcs.push(func);
                spans.funcs.push(func_spans);
                module.items.push(Item::Func(id));
            }
            ItemAst::Box(ast) => {
                let mut decl = BoxDecl { name: module.symbols.intern(ast.name.text), fields: vec![], methods: vec![] };
                let mut box_spans = BoxSpans { name: ast.name.span, ..BoxSpans::default() };
                // Fields first, then methods, whatever the text's order: that is
                // the printed order, and symbols are interned in printed order.
                for member in &ast.members {
                    if let MemberAst::Field { name, weak } = member {
                        decl.fields.push(FieldDecl { name: module.symbols.intern(name.text), weak: *weak });
                        box_spans.fields.push(name.span);
                    }
                }
                for member in &ast.members {
                    if let MemberAst::Method { name, func } = member {
                        let name_sym = module.symbols.intern(name.text);
                        let func_sym = module.symbols.intern(func.text);
                        decl.methods.push(MethodDecl { name: name_sym, func: func_sym });
                        box_spans.methods.push((name.span, func.span));
                    }
                }
                let id = module.boxes.push(decl);
                spans.boxes.push(box_spans);
                module.items.push(Item::Box(id));
            }
        }
    }
    (module, spans)
}

/// State while lowering one function.
struct FunctionLowering<'a, 's> {
    module: &'a mut Module,
    func: Function,
    spans: FuncSpans,
    values: HashMap<&'s str, Value>,
    labels: HashMap<&'s str, Block>,
    /// Phi-entry constants waiting for their predecessor block to be complete.
    pending: Vec<(Block, Inst)>,
}

impl<'a, 's> FunctionLowering<'a, 's> {
    fn run(module: &'a mut Module, ast: &FuncAst<'s>) -> (Function, FuncSpans) {
        let name = module.symbols.intern(ast.name.text);
        let mut this = FunctionLowering {
            func: Function::new(name, ast.ret),
            spans: FuncSpans::new(ast.name.span),
            module,
            values: HashMap::new(),
            labels: HashMap::new(),
            pending: Vec::new(),
        };
        // Values are numbered in definition order: parameters, then results
        // in text order. The first definition of a name wins its uses.
        for (param, ty) in &ast.params {
            let sym = this.module.symbols.intern(param.text);
            let v = this.func.add_param(Some(sym), *ty);
            this.spans.values.push(param.span);
            this.values.entry(param.text).or_insert(v);
        }
        for block in &ast.blocks {
            let b = this.func.add_block(this.module.symbols.intern(block.label.text));
            this.spans.blocks.push(block.label.span);
            this.labels.entry(block.label.text).or_insert(b);
        }
        let mut results = Vec::new();
        for line in ast.blocks.iter().flat_map(|b| &b.insts) {
            results.push(line.result.map(|r| {
                let v = this.func.create_value(Some(this.module.symbols.intern(r.text)));
                this.spans.values.push(r.span);
                this.values.entry(r.text).or_insert(v);
                v
            }));
        }
        let mut results = results.into_iter();
        for (block, block_ast) in this.func.blocks.keys().zip(&ast.blocks) {
            this.lower_block(block, block_ast, &mut results);
        }
        for (pred, inst) in std::mem::take(&mut this.pending) {
            let insts = &mut this.func.blocks[pred].insts;
            let at = match insts.last() {
                Some(&last) if this.func.insts[last].is_terminator() => insts.len() - 1,
                _ => insts.len(),
            };
            insts.insert(at, inst);
        }
        (this.func, this.spans)
    }

    fn lower_block(&mut self, block: Block, ast: &BlockAst<'s>, results: &mut impl Iterator<Item = Option<Value>>) {
        for line in &ast.insts {
            let result = results.next().flatten();
            let mut refs = Vec::new();
            let mut name_span = line.name_span;
            let data = match &line.inst {
                InstAst::Const(Operand::Lit(lit, span)) => {
                    name_span = *span;
                    InstData::Const { lit: self.literal(lit) }
                }
                InstAst::Const(Operand::Value(_)) => unreachable!("the parser rejects `const %v`"),
                InstAst::BinOp(op, [a, b]) => InstData::BinOp {
                    op: *op,
                    args: [self.operand(block, a, &mut refs), self.operand(block, b, &mut refs)],
                },
                InstAst::Compare(op, [a, b]) => InstData::Compare {
                    op: *op,
                    args: [self.operand(block, a, &mut refs), self.operand(block, b, &mut refs)],
                },
                InstAst::Jump(dest) => {
                    refs.push(dest.span);
                    InstData::Jump { dest: self.label(dest.text) }
                }
                InstAst::Branch(cond, then_dest, else_dest) => {
                    let cond = self.operand(block, cond, &mut refs);
                    refs.extend([then_dest.span, else_dest.span]);
                    InstData::Branch {
                        cond,
                        then_dest: self.label(then_dest.text),
                        else_dest: self.label(else_dest.text),
                    }
                }
                InstAst::Return(value) => {
                    InstData::Return { value: value.as_ref().map(|v| self.operand(block, v, &mut refs)) }
                }
                InstAst::Phi(ty, entries) => {
                    let mut lowered = Vec::with_capacity(entries.len());
                    for (value, label) in entries {
                        let pred = self.label(label.text);
                        let value = match value {
                            Operand::Value(name) => self.value(name.text),
                            Operand::Lit(lit, span) => {
                                let (v, inst) = self.constant(lit, *span);
                                // An unknown label leaves the constant in the phi's own
                                // block; the verifier reports the label.
                                self.pending.push((if pred == Block::INVALID { block } else { pred }, inst));
                                v
                            }
                        };
                        lowered.push(PhiEntry { value, block: pred });
                    }
                    refs.extend(entries.iter().map(|(value, _)| value.span()));
                    refs.extend(entries.iter().map(|(_, label)| label.span));
                    InstData::Phi { ty: *ty, entries: self.func.make_phi_list(&lowered) }
                }
                InstAst::Call { callee, args } => {
                    let callee = match callee {
                        CalleeAst::Direct(name) => {
                            name_span = name.span;
                            Callee::Direct(self.module.symbols.intern(name.text))
                        }
                        CalleeAst::Indirect(name, ty) => {
                            refs.push(name.span);
                            Callee::Indirect(self.value(name.text), *ty)
                        }
                    };
                    let args = self.operand_list(block, args, &mut refs);
                    InstData::Call { callee, args }
                }
                InstAst::BoxCall { recv, method, args, ret } => {
                    let recv = match recv {
                        ReceiverAst::Value(name) => {
                            refs.push(name.span);
                            name_span = method.span;
                            Receiver::Value(self.value(name.text))
                        }
                        ReceiverAst::Class(class) => {
                            name_span = class.span;
                            Receiver::Class(self.module.symbols.intern(class.text))
                        }
                    };
                    let method = self.module.symbols.intern(method.text);
                    let args = self.operand_list(block, args, &mut refs);
                    InstData::BoxCall { recv, method, args, ret: *ret }
                }
                InstAst::ExternCall { name, args, ret } => {
                    name_span = name.span;
                    let name = self.module.symbols.intern(name.text);
                    let args = self.operand_list(block, args, &mut refs);
                    InstData::ExternCall { name, args, ret: *ret }
                }
                InstAst::Is(value, class) => {
                    name_span = class.span;
                    let arg = self.operand(block, value, &mut refs);
                    InstData::TypeOp { op: TypeOpKind::Is(self.module.symbols.intern(class.text)), arg }
                }
                InstAst::Cast(value, ty) => {
                    InstData::TypeOp { op: TypeOpKind::Cast(*ty), arg: self.operand(block, value, &mut refs) }
                }
                InstAst::Safepoint => InstData::Safepoint,
                InstAst::Barrier(kind) => InstData::Barrier { kind: *kind },
            };
            let inst = self.func.create_inst_defining(data, result);
            self.spans.push_inst(line.span, name_span, &refs);
            self.func.append_inst(block, inst);
        }
    }

    fn value(&self, name: &str) -> Value {
        self.values.get(name).copied().unwrap_or(Value::INVALID)
    }

    fn label(&self, name: &str) -> Block {
        self.labels.get(name).copied().unwrap_or(Block::INVALID)
    }

    fn literal(&mut self, lit: &LitAst<'_>) -> Literal {
        match lit {
            LitAst::I64(n) => Literal::I64(*n),
            LitAst::F64(x) => Literal::F64((*x).into()),
            LitAst::Bool(b) => Literal::Bool(*b),
            LitAst::Null => Literal::Null,
            LitAst::Str(s) => Literal::Str(self.module.symbols.intern(s)),
            LitAst::Func(name) => Literal::Func(self.module.symbols.intern(name)),
        }
    }

    /// An anonymous constant for an immediate operand, not yet placed.
    fn constant(&mut self, lit: &LitAst<'_>, span: Span) -> (Value, Inst) {
        let lit = self.literal(lit);
        let value = self.func.create_value(None);
        self.spans.values.push(span);
        let inst = self.func.create_inst_defining(InstData::Const { lit }, Some(value));
        self.spans.push_inst(span, span, &[]);
        (value, inst)
    }

    /// Lowers an operand used by an instruction of `block`; an immediate
    /// becomes a constant placed right before that instruction.
    fn operand(&mut self, block: Block, op: &Operand<'s>, refs: &mut Vec<Span>) -> Value {
        refs.push(op.span());
        match op {
            Operand::Value(name) => self.value(name.text),
            Operand::Lit(lit, span) => {
                let (v, inst) = self.constant(lit, *span);
                self.func.append_inst(block, inst);
                v
            }
        }
    }

    fn operand_list(&mut self, block: Block, ops: &[Operand<'s>], refs: &mut Vec<Span>) -> crate::ir::ValueList {
        let values: Vec<Value> = ops.iter().map(|op| self.operand(block, op, refs)).collect();
        self.func.make_value_list(&values)
    }
}
