//! A readable listing of compiled bytecode, for `mir13 dump --bytecode`.

use crate::compile::Compiled;
use crate::op::{DynKind, File, Op, Slot};
use runtime::MethodRef;
use std::fmt::Write;

fn slot(s: Slot) -> String {
    match s.file {
        File::S => format!("s{}", s.reg),
        File::B => format!("b{}", s.reg),
    }
}

/// A boxcall's method: a built-in's name, else the symbol (a user method).
fn method_name(method: MethodRef) -> String {
    method.builtin.map_or_else(|| format!("{:?}", method.sym), |m| m.name().to_string())
}

/// The variant name of an op (`BrLtIK`).
fn op_name(op: &Op) -> String {
    let debug = format!("{op:?}");
    debug.split([' ', '{']).next().unwrap_or_default().to_string()
}

/// Every function's code, one op per line with its position, and the
/// tables the ops refer to.
pub fn listing(compiled: &Compiled) -> String {
    let mut out = String::new();
    for f in &compiled.funcs {
        let params: Vec<String> = f.params.iter().map(|&p| slot(p)).collect();
        let _ =
            writeln!(out, "@{}({})  frame: {} scalar, {} box registers", f.name, params.join(", "), f.s_size, f.b_size);
        for (pc, op) in f.code.iter().enumerate() {
            let _ = write!(out, "  {pc:4}  ");
            let _ = match *op {
                Op::LoadK { d, k } => write!(out, "LoadK      s{d}, {:#x}", f.consts[k as usize]),
                Op::LoadStr { d, k } => write!(out, "LoadStr    b{d}, {:?}", compiled.strings[k as usize]),
                Op::LoadBox { d, k } => write!(out, "LoadBox    b{d}, {:?}", f.boxes[k as usize]),
                Op::Mov { d, a } => write!(out, "Mov        s{d}, s{a}"),
                Op::MovB { d, a } => write!(out, "MovB       b{d}, b{a}"),
                Op::CopyB { d, a } => write!(out, "CopyB      b{d}, b{a}"),
                Op::AddI { d, a, b } => write!(out, "AddI       s{d}, s{a}, s{b}"),
                Op::SubI { d, a, b } => write!(out, "SubI       s{d}, s{a}, s{b}"),
                Op::MulI { d, a, b } => write!(out, "MulI       s{d}, s{a}, s{b}"),
                Op::BinI { op, d, a, b } => write!(out, "{:<10} s{d}, s{a}, s{b}", format!("{op}.i")),
                Op::BinF { op, d, a, b } => write!(out, "{:<10} s{d}, s{a}, s{b}", format!("{op}.f")),
                Op::AddIK { d, a, imm } => write!(out, "AddIK      s{d}, s{a}, {imm}"),
                Op::MulIK { d, a, imm } => write!(out, "MulIK      s{d}, s{a}, {imm}"),
                Op::DivIK { d, a, imm } => write!(out, "DivIK      s{d}, s{a}, {imm}"),
                Op::RemIK { d, a, imm } => write!(out, "RemIK      s{d}, s{a}, {imm}"),
                Op::GetS { ty, d, a, i, site } => write!(out, "GetS       s{d}:{ty} = b{a}.get(s{i}) or site {site}"),
                Op::SetS { ty, a, i, v, site } => write!(out, "SetS       b{a}.set(s{i}, s{v}:{ty}) or site {site}"),
                Op::HasS { d, a, k, site } => write!(out, "HasS       s{d}:bool = b{a}.has(s{k}) or site {site}"),
                Op::CmpI { op, d, a, b } => write!(out, "{:<10} s{d}, s{a}, s{b}", format!("{op}.i")),
                Op::CmpIK { op, d, a, imm } => write!(out, "{:<10} s{d}, s{a}, {imm}", format!("{op}.ik")),
                Op::CmpF { op, d, a, b } => write!(out, "{:<10} s{d}, s{a}, s{b}", format!("{op}.f")),
                Op::CmpB { op, d, a, b } => write!(out, "{:<10} s{d}, b{a}, b{b}", format!("{op}.b")),
                Op::BrLtI { a, b, t } | Op::BrLeI { a, b, t } | Op::BrEqI { a, b, t } | Op::BrNeI { a, b, t } => {
                    write!(out, "{:<10} s{a}, s{b} -> {t}", op_name(op))
                }
                Op::BrLtIK { a, imm, t }
                | Op::BrLeIK { a, imm, t }
                | Op::BrGtIK { a, imm, t }
                | Op::BrGeIK { a, imm, t }
                | Op::BrEqIK { a, imm, t }
                | Op::BrNeIK { a, imm, t } => write!(out, "{:<10} s{a}, {imm} -> {t}", op_name(op)),
                Op::BrF { op, a, b, t } => write!(out, "{:<10} s{a}, s{b} -> {t}", format!("br{op}.f")),
                Op::BrTrue { c, t } => write!(out, "BrTrue     s{c} -> {t}"),
                Op::Jmp { t } => write!(out, "Jmp        -> {t}"),
                Op::Loop { t } => write!(out, "Loop       -> {t}"),
                Op::IncLoop { a, imm, t } => write!(out, "IncLoop    s{a} += {imm} -> {t}"),
                Op::Conv { kind, d, a } => write!(out, "{:<10} s{d}, s{a}", format!("{kind:?}")),
                Op::Box { ty, d, a } => write!(out, "Box.{ty:<6} b{d}, s{a}"),
                Op::Unbox { ty, d, a } => write!(out, "Unbox.{ty:<4} s{d}, b{a}"),
                Op::Is { d, a, class } => write!(out, "Is         s{d}, b{a}, {:?}", compiled.classes[class as usize]),
                Op::Call { site } => {
                    let c = &f.calls[site as usize];
                    let args: Vec<String> = c.args.iter().map(|&a| slot(a)).collect();
                    let ret = c.ret.map_or(String::new(), |r| format!("{} = ", slot(r)));
                    write!(
                        out,
                        "Call       {ret}@{}({})",
                        compiled.funcs[c.callee.as_u32() as usize].name,
                        args.join(", ")
                    )
                }
                Op::Dyn { site }
                | Op::Get { site }
                | Op::Set { site }
                | Op::Length { site }
                | Op::Push { site }
                | Op::Has { site }
                | Op::Delete { site }
                | Op::Size { site }
                | Op::Concat { site } => {
                    let d = &f.dyns[site as usize];
                    let args: Vec<String> = d.args.iter().map(|&(a, _)| slot(a)).collect();
                    let ret = d.ret.map_or(String::new(), |(r, ty)| format!("{}:{ty} = ", slot(r)));
                    let name = op_name(op);
                    let target = match d.kind {
                        DynKind::Indirect { callee } => format!("b{callee}"),
                        DynKind::Method { recv, method, owned, .. } => {
                            format!("{}{}.{}", slot(recv), if owned { "(moved)" } else { "" }, method_name(method))
                        }
                        DynKind::Static { class, method } => format!("{class:?}.{}", method_name(method)),
                        DynKind::Extern { host } => compiled.hosts[host as usize].clone(),
                    };
                    write!(out, "{name:<10} {ret}{target}({})", args.join(", "))
                }
                Op::MathF { op, d, a } => write!(out, "{:<10} s{d}, s{a}", format!("{op:?}")),
                Op::RetS { a } => write!(out, "RetS       s{a}"),
                Op::RetB { a, retain } => write!(out, "RetB       b{a}{}", if retain { " (copy)" } else { "" }),
                Op::RetVoid => write!(out, "RetVoid"),
                Op::Release { a } => write!(out, "Release    b{a}"),
                Op::ReleaseN { list } => {
                    let regs: Vec<String> = f.lists[list as usize].iter().map(|r| format!("b{r}")).collect();
                    write!(out, "ReleaseN   {}", regs.join(", "))
                }
                Op::Safepoint => write!(out, "Safepoint"),
                Op::Fence => write!(out, "Fence"),
            };
            out.push('\n');
        }
        out.push('\n');
    }
    out
}
