//! What the runtime knows about the program it serves: function signatures
//! (for dynamic calls through FunctionBoxes) and user box classes (fields,
//! methods, `birth`, `fini`).

use crate::heap::ClassLayout;
use indexmap::IndexSet;
use mir::{BoxId, FuncId, Program, Sym, Type};
use std::collections::HashMap;

/// A MIR function as the runtime sees it.
#[derive(Clone, Debug)]
pub struct FuncMeta {
    /// Name without `@`.
    pub name: String,
    pub params: Vec<Type>,
    pub ret: Option<Type>,
}

/// A user box class.
#[derive(Clone, Debug)]
pub struct UserClass {
    pub name: String,
    /// Field names in declaration order, found by name in O(1) (a `getField`
    /// with a computed name searched a list: 9 s for 64,000 lookups in a
    /// class of 64,000 fields).
    pub fields: IndexSet<String>,
    pub weak: Vec<bool>,
    /// Methods by the module symbol of their name.
    pub methods: HashMap<Sym, FuncId>,
    pub birth: Option<FuncId>,
    pub fini: Option<FuncId>,
}

impl UserClass {
    /// The slot of field `name`.
    pub fn field(&self, name: &str) -> Option<usize> {
        self.fields.get_index_of(name)
    }
}

/// Functions and classes of a verified program.
#[derive(Clone, Debug)]
pub struct ProgramInfo {
    pub funcs: Vec<FuncMeta>,
    pub classes: Vec<UserClass>,
}

impl ProgramInfo {
    /// Collects what the runtime needs from `program`.
    pub fn new(program: &Program) -> ProgramInfo {
        let module = program.module();
        let funcs = module
            .funcs
            .values()
            .map(|f| FuncMeta {
                name: module.sym(f.name).to_string(),
                params: f.params.iter().map(|p| p.ty).collect(),
                ret: f.ret,
            })
            .collect();
        let classes = module
            .boxes
            .values()
            .map(|decl| {
                let method = |name: &str| {
                    decl.methods.iter().find(|m| module.sym(m.name) == name).and_then(|m| program.func_id(m.func))
                };
                UserClass {
                    name: module.sym(decl.name).to_string(),
                    fields: decl.fields.iter().map(|f| module.sym(f.name).to_string()).collect(),
                    weak: decl.fields.iter().map(|f| f.weak).collect(),
                    methods: decl.methods.iter().filter_map(|m| Some((m.name, program.func_id(m.func)?))).collect(),
                    birth: method("birth"),
                    fini: method("fini"),
                }
            })
            .collect();
        ProgramInfo { funcs, classes }
    }

    /// A function's metadata.
    pub fn func(&self, id: FuncId) -> &FuncMeta {
        &self.funcs[id.as_u32() as usize]
    }

    /// A user class.
    pub fn class(&self, id: BoxId) -> &UserClass {
        &self.classes[id.as_u32() as usize]
    }

    /// The heap's view of the classes: `fini` and weak fields.
    pub fn layouts(&self) -> Vec<ClassLayout> {
        self.classes.iter().map(|c| ClassLayout { fini: c.fini, weak: c.weak.clone() }).collect()
    }
}
