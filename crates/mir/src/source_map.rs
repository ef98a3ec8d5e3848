//! Source positions of a parsed module, kept beside the IR.
//!
//! The IR itself holds no spans, so two modules compare equal whatever text
//! they came from (`parse(print(m)) == m`). Diagnostics look positions up here.

use crate::diag::Span;
use crate::entity::EntityVec;
use crate::ir::{Block, BoxId, FuncId, Inst, Value};

/// Spans of every item of a module.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    pub funcs: EntityVec<FuncId, FuncSpans>,
    pub boxes: EntityVec<BoxId, BoxSpans>,
}

/// Spans of a function.
#[derive(Clone, Debug, Default)]
pub struct FuncSpans {
    /// The `@name` in the header.
    pub name: Span,
    /// Each block's label.
    pub blocks: EntityVec<Block, Span>,
    /// Where each value is defined: a parameter, a result name, or the
    /// literal an immediate constant came from.
    pub values: EntityVec<Value, Span>,
    /// Each instruction's spans.
    pub insts: EntityVec<Inst, InstSpans>,
    refs: Vec<Span>,
}

/// Spans of one instruction.
#[derive(Clone, Copy, Debug, Default)]
pub struct InstSpans {
    /// The whole line, result included.
    pub line: Span,
    /// The name the instruction is about: the callee, class, host function
    /// or method; otherwise the mnemonic.
    pub name: Span,
    refs_start: u32,
    refs_len: u32,
}

impl FuncSpans {
    /// Spans of a function whose `@name` is at `name`.
    pub fn new(name: Span) -> FuncSpans {
        FuncSpans { name, ..FuncSpans::default() }
    }

    /// Records an instruction's spans. `refs` lists the spans of its value
    /// operands in [`crate::Function::operands`] order, then of its labels
    /// (branch targets, or phi entry labels) in text order.
    pub fn push_inst(&mut self, line: Span, name: Span, refs: &[Span]) -> Inst {
        let refs_start = self.refs.len() as u32;
        self.refs.extend_from_slice(refs);
        self.insts.push(InstSpans { line, name, refs_start, refs_len: refs.len() as u32 })
    }

    fn refs(&self, inst: Inst) -> &[Span] {
        let s = &self.insts[inst];
        &self.refs[s.refs_start as usize..(s.refs_start + s.refs_len) as usize]
    }

    /// The span of the `i`-th value operand of `inst`, or the line.
    pub fn operand(&self, inst: Inst, i: usize) -> Span {
        self.refs(inst).get(i).copied().unwrap_or(self.insts[inst].line)
    }

    /// The span of the `i`-th label of `inst` (after its `n_operands` value
    /// operands), or the line.
    pub fn label(&self, inst: Inst, n_operands: usize, i: usize) -> Span {
        self.refs(inst).get(n_operands + i).copied().unwrap_or(self.insts[inst].line)
    }
}

/// Spans of a box declaration.
#[derive(Clone, Debug, Default)]
pub struct BoxSpans {
    pub name: Span,
    pub fields: Vec<Span>,
    /// For each method: its name and its `@function`.
    pub methods: Vec<(Span, Span)>,
}
