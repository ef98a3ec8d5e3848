//! Bytecode validation: proves, once per compiled function, what the
//! dispatch loop then relies on without checking at run time.
//!
//! - every register an op names is below the frame size of its file, and
//!   every `LoadK` names a constant of the function;
//! - every call site copies arguments from the caller's registers into
//!   registers of the callee's frame (checked by [`validate_calls`]);
//! - every jump target is a position in the code;
//! - no op can fall off the end of the code (the last op is a jump or a
//!   return).
//!
//! A failure is a bug in the compiler, reported as an error rather than
//! run.

use crate::compile::FuncCode;
use crate::op::{Op, Reg};

/// Checks `f`; `Err` says which op breaks which rule.
pub fn validate(f: &FuncCode) -> Result<(), String> {
    let len = f.code.len();
    let s_ok = |r: Reg| (r as u32) < f.s_size;
    let b_ok = |r: Reg| (r as u32) < f.b_size;
    let t_ok = |t: u32| (t as usize) < len;
    for (pc, op) in f.code.iter().enumerate() {
        if let Some(t) = op.clone().target_mut()
            && !t_ok(*t)
        {
            return Err(format!("@{}: op {pc} ({op:?}) jumps out of the code", f.name));
        }
        let ok = match *op {
            Op::LoadK { d, k } => s_ok(d) && (k as usize) < f.consts.len(),
            Op::LoadStr { d, .. } | Op::LoadBox { d, .. } => b_ok(d),
            Op::Mov { d, a }
            | Op::Conv { d, a, .. }
            | Op::MathF { d, a, .. }
            | Op::AddIK { d, a, .. }
            | Op::MulIK { d, a, .. }
            | Op::DivIK { d, a, .. }
            | Op::RemIK { d, a, .. } => s_ok(d) && s_ok(a),
            Op::GetS { d, a, i, site, .. } => s_ok(d) && b_ok(a) && s_ok(i) && (site as usize) < f.dyns.len(),
            Op::SetS { a, i, v, site, .. } => b_ok(a) && s_ok(i) && s_ok(v) && (site as usize) < f.dyns.len(),
            Op::HasS { d, a, k, site } => s_ok(d) && b_ok(a) && s_ok(k) && (site as usize) < f.dyns.len(),
            Op::CmpIK { d, a, .. } => s_ok(d) && s_ok(a),
            Op::MovB { d, a } | Op::CopyB { d, a } => b_ok(d) && b_ok(a),
            Op::AddI { d, a, b }
            | Op::SubI { d, a, b }
            | Op::MulI { d, a, b }
            | Op::BinI { d, a, b, .. }
            | Op::BinF { d, a, b, .. }
            | Op::CmpI { d, a, b, .. }
            | Op::CmpF { d, a, b, .. } => s_ok(d) && s_ok(a) && s_ok(b),
            Op::CmpB { d, a, b, .. } => s_ok(d) && b_ok(a) && b_ok(b),
            Op::BrLtI { a, b, .. }
            | Op::BrLeI { a, b, .. }
            | Op::BrEqI { a, b, .. }
            | Op::BrNeI { a, b, .. }
            | Op::BrF { a, b, .. } => s_ok(a) && s_ok(b),
            Op::BrLtIK { a, .. }
            | Op::BrLeIK { a, .. }
            | Op::BrGtIK { a, .. }
            | Op::BrGeIK { a, .. }
            | Op::BrEqIK { a, .. }
            | Op::BrNeIK { a, .. } => s_ok(a),
            Op::BrTrue { c, .. } => s_ok(c),
            Op::Jmp { .. } | Op::Loop { .. } => true,
            Op::IncLoop { a, .. } => s_ok(a),
            Op::Box { d, a, .. } => b_ok(d) && s_ok(a),
            Op::Unbox { d, a, .. } | Op::Is { d, a, .. } => s_ok(d) && b_ok(a),
            Op::RetS { a } => s_ok(a),
            Op::RetB { a, .. } | Op::Release { a } => b_ok(a),
            Op::Call { site } => (site as usize) < f.calls.len(),
            Op::Dyn { .. }
            | Op::Get { .. }
            | Op::Set { .. }
            | Op::Length { .. }
            | Op::Push { .. }
            | Op::Has { .. }
            | Op::Delete { .. }
            | Op::Size { .. }
            | Op::Concat { .. }
            | Op::ReleaseN { .. }
            | Op::RetVoid
            | Op::Safepoint
            | Op::Fence => true,
        };
        if !ok {
            return Err(format!("@{}: op {pc} ({op:?}) names a register or target out of range", f.name));
        }
    }
    match f.code.last() {
        Some(
            Op::Jmp { .. } | Op::Loop { .. } | Op::IncLoop { .. } | Op::RetS { .. } | Op::RetB { .. } | Op::RetVoid,
        ) => Ok(()),
        other => Err(format!("@{}: the code can fall off its end after {other:?}", f.name)),
    }
}

/// Checks the argument copies of `f`'s call sites (filled in once every
/// callee is compiled).
pub fn validate_calls(f: &FuncCode) -> Result<(), String> {
    for site in &f.calls {
        let s_ok = site.s_moves.iter().all(|&(a, p)| (a as u32) < f.s_size && (p as u32) < site.s_size);
        let b_ok = site.b_moves.iter().all(|&(a, p)| (a as u32) < f.b_size && (p as u32) < site.b_size);
        if !(s_ok && b_ok) {
            return Err(format!("@{}: a call copies registers out of range", f.name));
        }
    }
    Ok(())
}
