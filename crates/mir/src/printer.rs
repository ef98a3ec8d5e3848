//! The printer: a module to its canonical text.
//!
//! Canonical form: items in their original order separated by a blank line,
//! labels at column 0, instructions indented by two spaces, no comments, and
//! immediate constants written back inline at their use. Parsing the output
//! gives back an equal module, and printing is a fixed point.

use crate::ir::{
    BoxDecl, Callee, Function, InstData, Item, Literal, Module, Receiver, Type, TypeOpKind, Value, ValueDef,
};
use std::fmt::{self, Write};

/// The display form of an f64 (§8): shortest round-trip decimal, always with
/// a `.` or an exponent; `NaN`, `inf`, `-inf`.
pub fn display_f64(x: f64) -> String {
    format!("{x:?}")
}

/// Writes `text` as a string literal, with `"`, `\` and control characters
/// escaped (the escapes §2 accepts, `\u{..}` for the other controls).
pub fn write_escaped(out: &mut impl Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\t' => out.write_str("\\t")?,
            '\r' => out.write_str("\\r")?,
            '\0' => out.write_str("\\0")?,
            c if c.is_control() => write!(out, "\\u{{{:x}}}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

/// The canonical text of `module`.
pub fn print_module(module: &Module) -> String {
    let mut out = String::new();
    for (i, item) in module.items.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let result = match *item {
            Item::Func(f) => write_function(&mut out, module, &module.funcs[f]),
            Item::Box(b) => write_box(&mut out, module, &module.boxes[b]),
        };
        result.expect("writing to a String cannot fail");
    }
    out
}

/// Writes a box declaration.
pub fn write_box(out: &mut impl Write, module: &Module, decl: &BoxDecl) -> fmt::Result {
    writeln!(out, "box {} {{", module.sym(decl.name))?;
    for field in &decl.fields {
        let weak = if field.weak { "weak " } else { "" };
        writeln!(out, "  field {weak}{}", module.sym(field.name))?;
    }
    for method in &decl.methods {
        writeln!(out, "  method {} @{}", module.sym(method.name), module.sym(method.func))?;
    }
    writeln!(out, "}}")
}

/// Writes a function's first line: `func @name(%p: T, ...) -> T {`.
pub fn write_signature(out: &mut impl Write, module: &Module, func: &Function) -> fmt::Result {
    let p = FunctionPrinter { module, func };
    write!(out, "func @{}(", module.sym(func.name))?;
    for (i, param) in func.params.iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        write!(out, "{}: {}", p.value(param.value), param.ty)?;
    }
    out.write_char(')')?;
    if let Some(ret) = func.ret {
        write!(out, " -> {ret}")?;
    }
    out.write_str(" {")
}

/// Whether `inst` is an immediate operand's constant, which the text writes
/// inline at its use rather than on a line of its own.
pub fn is_inline_const(func: &Function, inst: crate::ir::Inst) -> bool {
    matches!(func.insts[inst], InstData::Const { .. })
        && func.results[inst].is_some_and(|v| func.values[v].name.is_none())
}

/// Writes a function.
pub fn write_function(out: &mut impl Write, module: &Module, func: &Function) -> fmt::Result {
    write_signature(out, module, func)?;
    out.write_char('\n')?;
    for block in func.blocks.values() {
        writeln!(out, "{}:", module.sym(block.name))?;
        for &inst in &block.insts {
            if is_inline_const(func, inst) {
                continue;
            }
            out.write_str("  ")?;
            write_inst(out, module, func, inst)?;
            out.write_char('\n')?;
        }
    }
    out.write_str("}\n")
}

/// Writes one instruction of `func` (no indentation, no newline).
pub fn write_inst(out: &mut impl Write, module: &Module, func: &Function, inst: crate::ir::Inst) -> fmt::Result {
    FunctionPrinter { module, func }.write_inst(out, inst)
}

struct FunctionPrinter<'a> {
    module: &'a Module,
    func: &'a Function,
}

impl FunctionPrinter<'_> {
    /// How a value operand is written: `%name`, or its literal if it is an
    /// anonymous constant.
    fn value(&self, v: Value) -> String {
        let Some(data) = self.func.values.get(v) else {
            return "%<undefined>".into();
        };
        if let Some(name) = data.name {
            return format!("%{}", self.module.sym(name));
        }
        match data.def {
            ValueDef::Result(inst) => match self.func.insts.get(inst) {
                Some(InstData::Const { lit }) => self.literal(*lit),
                _ => format!("%_{}", v.as_u32()),
            },
            ValueDef::Param(i) => format!("%_{i}"),
        }
    }

    fn literal(&self, lit: Literal) -> String {
        match lit {
            Literal::I64(n) => n.to_string(),
            Literal::F64(x) if x.value().is_nan() => "nan".into(),
            Literal::F64(x) => display_f64(x.value()),
            Literal::Bool(b) => b.to_string(),
            Literal::Null => "null".into(),
            Literal::Str(s) => {
                let mut out = String::new();
                write_escaped(&mut out, self.module.sym(s)).expect("writing to a String cannot fail");
                out
            }
            Literal::Func(f) => format!("@{}", self.module.sym(f)),
        }
    }

    fn label(&self, block: crate::ir::Block) -> &str {
        self.func.blocks.get(block).map_or("<undefined>", |b| self.module.sym(b.name))
    }

    fn args(&self, args: crate::ir::ValueList) -> String {
        let parts: Vec<String> = self.func.value_list(args).iter().map(|&v| self.value(v)).collect();
        parts.join(", ")
    }

    /// ` -> TYPE` when the instruction has a result of a type other than box.
    fn ret(&self, inst: crate::ir::Inst, ret: Type) -> String {
        if ret == Type::Box || self.func.results[inst].is_none() { String::new() } else { format!(" -> {ret}") }
    }

    fn write_inst(&self, out: &mut impl Write, inst: crate::ir::Inst) -> fmt::Result {
        let sym = |s| self.module.sym(s);
        if let Some(result) = self.func.results[inst] {
            write!(out, "{} = ", self.value_name(result))?;
        }
        match self.func.insts[inst] {
            InstData::Const { lit } => write!(out, "const {}", self.literal(lit)),
            InstData::BinOp { op, args: [a, b] } => write!(out, "binop {op} {}, {}", self.value(a), self.value(b)),
            InstData::Compare { op, args: [a, b] } => {
                write!(out, "compare {op} {}, {}", self.value(a), self.value(b))
            }
            InstData::Jump { dest } => write!(out, "jump {}", self.label(dest)),
            InstData::Branch { cond, then_dest, else_dest } => {
                write!(out, "branch {}, {}, {}", self.value(cond), self.label(then_dest), self.label(else_dest))
            }
            InstData::Return { value: None } => out.write_str("return"),
            InstData::Return { value: Some(v) } => write!(out, "return {}", self.value(v)),
            InstData::Phi { ty, entries } => {
                write!(out, "phi {ty} ")?;
                for (i, e) in self.func.phi_list(entries).iter().enumerate() {
                    if i > 0 {
                        out.write_str(", ")?;
                    }
                    write!(out, "[{}, {}]", self.value(e.value), self.label(e.block))?;
                }
                Ok(())
            }
            InstData::Call { callee: Callee::Direct(f), args } => write!(out, "call @{}({})", sym(f), self.args(args)),
            InstData::Call { callee: Callee::Indirect(f, ret), args } => {
                write!(out, "call {}({}){}", self.value(f), self.args(args), self.ret(inst, ret))
            }
            InstData::BoxCall { recv, method, args, ret } => {
                let recv = match recv {
                    Receiver::Value(v) => self.value(v),
                    Receiver::Class(c) => sym(c).to_string(),
                };
                write!(out, "boxcall {recv}.{}({}){}", sym(method), self.args(args), self.ret(inst, ret))
            }
            InstData::ExternCall { name, args, ret } => {
                write!(out, "externcall {}({}){}", sym(name), self.args(args), self.ret(inst, ret))
            }
            InstData::TypeOp { op: TypeOpKind::Is(class), arg } => {
                write!(out, "typeop is {}, {}", self.value(arg), sym(class))
            }
            InstData::TypeOp { op: TypeOpKind::Cast(ty), arg } => {
                write!(out, "typeop cast {} to {ty}", self.value(arg))
            }
            InstData::Safepoint => out.write_str("safepoint"),
            InstData::Barrier { kind } => write!(out, "barrier {kind}"),
        }
    }

    /// A result is always written as a name, even an anonymous one.
    fn value_name(&self, v: Value) -> String {
        match self.func.values.get(v).and_then(|d| d.name) {
            Some(name) => format!("%{}", self.module.sym(name)),
            None => format!("%_{}", v.as_u32()),
        }
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print_module(self))
    }
}
