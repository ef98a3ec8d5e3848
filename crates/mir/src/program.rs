//! [`Program`]: a verified module with the analyses every backend shares.
//!
//! A `Program` can only be made by verifying a module, so a backend that
//! takes one may rely on every invariant of §5.1: references resolve, types
//! check, uses are dominated, phis match predecessors.

use crate::cfg::{BlockOrder, Cfg, DomTree};
use crate::diag::{Error, ErrorKind};
use crate::entity::EntityVec;
use crate::ir::{ClassRef, FuncId, Function, Module, Sym, Type, Value};
use crate::liveness::{DropPlan, Liveness};
use crate::verify::{ExternSigs, Names, Source, verify_with_facts};

/// Analyses of one verified function.
#[derive(Clone, Debug)]
pub struct FuncInfo {
    pub cfg: Cfg,
    pub order: BlockOrder,
    pub domtree: DomTree,
    /// The type of every value.
    pub types: EntityVec<Value, Type>,
    pub liveness: Liveness,
    pub drops: DropPlan,
}

impl FuncInfo {
    /// Whether the CFG is reducible: every loop is entered only through its
    /// header, i.e. the target of each retreating edge (one going backward
    /// in reverse postorder) dominates its source.
    pub fn is_reducible(&self) -> bool {
        self.order.rpo().iter().all(|&block| {
            let at = self.order.rpo_index(block);
            self.cfg
                .succs(block)
                .iter()
                .all(|&succ| self.order.rpo_index(succ) > at || self.domtree.dominates(succ, block))
        })
    }
}

/// A verified module and its analyses.
#[derive(Clone, Debug)]
pub struct Program {
    module: Module,
    names: Names,
    funcs: EntityVec<FuncId, FuncInfo>,
}

impl Program {
    /// Verifies `module` against the host functions in `externs` and, if it
    /// is valid, computes liveness and the drop plan of every function.
    pub fn new(module: Module, source: Option<Source<'_>>, externs: &dyn ExternSigs) -> Result<Program, Vec<Error>> {
        let (names, facts, errors) = verify_with_facts(&module, source, externs);
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut funcs = EntityVec::with_capacity(facts.len());
        for (f, (id, func)) in facts.into_iter().zip(module.funcs.iter()) {
            // Verification leaves no defined value untyped; values that are
            // never defined are never used either.
            let types = f.types.values().map(|t| t.unwrap_or(Type::Box)).collect();
            let Ok(liveness) = Liveness::new(func, &f.cfg, &f.order) else {
                let name = module.sym(func.name).to_string();
                let span = source.map(|s| s.map.funcs[id].name);
                return Err(vec![Error::new(ErrorKind::TooManyLiveValues(name), span)]);
            };
            let drops = DropPlan::new(func, &f.cfg, &f.order, &types, &liveness);
            funcs.push(FuncInfo { cfg: f.cfg, order: f.order, domtree: f.domtree, types, liveness, drops });
        }
        Ok(Program { module, names, funcs })
    }

    /// The module.
    #[inline]
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// A function of the module.
    #[inline]
    pub fn func(&self, id: FuncId) -> &Function {
        &self.module.funcs[id]
    }

    /// The analyses of a function.
    #[inline]
    pub fn info(&self, id: FuncId) -> &FuncInfo {
        &self.funcs[id]
    }

    /// The function named by `sym` (resolved for every verified reference).
    pub fn func_id(&self, sym: Sym) -> Option<FuncId> {
        self.names.func(sym)
    }

    /// The class named by `sym`.
    pub fn class(&self, sym: Sym) -> Option<ClassRef> {
        self.names.class(sym)
    }

    /// `@main`, if the module has one.
    pub fn main(&self) -> Option<FuncId> {
        self.names.func(self.module.symbols.lookup("main")?)
    }
}
