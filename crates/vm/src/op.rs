//! The instruction set: one table of opcodes with their operand layout.
//!
//! A frame has two register files: `s` registers hold i64, f64 (as bits)
//! and bool (0/1) as raw 64-bit words; `b` registers hold boxes (runtime
//! [`runtime::Value`]s). An op names registers by `u16` index in its frame's
//! window of the file its type says, so typed arithmetic never checks a tag.
//! Jump targets are positions in the function's code. Operands that do not
//! fit (argument lists, constants) are indexes into the function's tables.
//!
//! ```text
//! op          operands                 effect
//! ----------  -----------------------  ------------------------------------------
//! LoadK       d:s k                    s[d] = consts[k] (a 64-bit word)
//! LoadStr     d:b k                    b[d] = strings[k] (adds a reference)
//! LoadBox     d:b k                    b[d] = boxes[k] (null, a function; no count)
//! Mov         d:s a:s                  s[d] = s[a]
//! MovB        d:b a:b                  b[d] = b[a] (takes over the reference)
//! CopyB       d:b a:b                  b[d] = b[a] (adds a reference)
//! {Add,Sub,Mul}I d:s a:s b:s           s[d] = a op b on i64, wrapping
//! Bin{I,F}    op d:s a:s b:s           s[d] = a op b (i64: traps on /0 and MIN/-1)
//! AddIK       d:s a:s imm              s[d] = a + imm (wrapping)
//! MulIK       d:s a:s imm              s[d] = a * imm (wrapping)
//! {Div,Rem}IK d:s a:s imm              s[d] = a op imm (imm not 0 or -1: never traps)
//! Cmp{I,F}    op d:s a:s b:s           s[d] = a op b as 0/1
//! CmpIK       op d:s a:s imm           s[d] = a op imm as 0/1
//! CmpB        op d:s a:b b:b           s[d] = box compare (may trap)
//! Br{Lt,Le,Eq,Ne}I a:s b:s t          if a op b goto t (i64; gt/ge swap operands)
//! Br{Lt,Le,Gt,Ge,Eq,Ne}IK a:s imm t    if a op imm goto t (i64)
//! BrF         op a:s b:s t             if a op b goto t (f64)
//! BrTrue      c:s t                    if c != 0 goto t
//! Jmp         t                        goto t
//! Loop        t                        safepoint, then goto t (a back edge into a
//!                                      loop header, past the header's own Safepoint)
//! IncLoop     a:s imm t                s[a] += imm, then Loop (a counted loop's step)
//! Conv        kind d:s a:s             i64<->f64, i64->bool (§4)
//! Box         ty d:b a:s               b[d] = a boxed as ty
//! Unbox       ty d:s a:b               s[d] = a unboxed to ty (checked)
//! Is          d:s a:b class            s[d] = a is an instance of class
//! Call        site                     direct MIR call (see CallSite)
//! Dyn         site                     indirect call, boxcall, externcall (see DynSite)
//! GetS        ty d:s a:b i:s site      s[d] = a.get(i) (i an i64) when a is an ArrayBox
//!                                      (i in bounds) or a MapBox (key i present) and
//!                                      the element is a ty; else the call at site
//! SetS        ty a:b i:s v:s site      a.set(i, v boxed as ty) (i an i64) when a is an
//!                                      ArrayBox (i in bounds, the old element holds no
//!                                      object) or a MapBox; else the call at site
//! HasS        d:s a:b k:s site         s[d] = a.has(k) (k an i64, d a bool) when a is a
//!                                      MapBox; else the call at site
//! Get         site                     boxcall %a.get(k), fast path for an ArrayBox or
//!                                      a MapBox
//! Set         site                     boxcall %a.set(k, v), fast path for an ArrayBox
//!                                      or a MapBox
//! Length      site                     boxcall %a.length(), fast path for an ArrayBox
//!                                      or a StringBox
//! Push        site                     boxcall %a.push(v), fast path for an ArrayBox
//! Has         site                     boxcall %a.has(k), fast path for a MapBox
//! Delete      site                     boxcall %a.delete(k), fast path for a MapBox
//! Size        site                     boxcall %a.size(), fast path for a MapBox
//! Concat      site                     boxcall %s.concat(t), fast path for a StringBox
//!                                      (in place if s is handed over and unique)
//! MathF       op d:s a:s               FloatBox math on an f64 receiver (sqrt, abs, ...)
//! RetS        a:s                      return a scalar
//! RetB        a:b retain               return a box (adding a reference unless moved)
//! RetVoid                              return nothing
//! Release     a:b                      drop one reference (may run fini)
//! ReleaseN    list                     drop the references of a list, in order
//! Safepoint                            fuel, timeout, interrupt (§10); loop headers
//!                                      (function entries check on frame push)
//! Fence                                memory fence (`barrier`)
//! ```
//!
//! The boxcall ops `GetS` to `Concat` name a method, not a class: the
//! receiver's class is known only at run time. Each runs the method without
//! dispatch for the classes listed, when the arguments are of the kinds it
//! takes, and otherwise (another class, a wrong argument, a missing key, an
//! index out of bounds) makes the site's general call, which reports any
//! trap. All but `Concat` are used only where the receiver is not handed
//! over.

use mir::{BinaryOp, CompareOp, Type};

/// A register index in a frame's window.
pub type Reg = u16;

/// One instruction. Kept small: large operand lists live in side tables.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    LoadK { d: Reg, k: u32 },
    LoadStr { d: Reg, k: u32 },
    LoadBox { d: Reg, k: u32 },
    Mov { d: Reg, a: Reg },
    MovB { d: Reg, a: Reg },
    CopyB { d: Reg, a: Reg },
    AddI { d: Reg, a: Reg, b: Reg },
    SubI { d: Reg, a: Reg, b: Reg },
    MulI { d: Reg, a: Reg, b: Reg },
    BinI { op: BinaryOp, d: Reg, a: Reg, b: Reg },
    BinF { op: BinaryOp, d: Reg, a: Reg, b: Reg },
    AddIK { d: Reg, a: Reg, imm: i32 },
    MulIK { d: Reg, a: Reg, imm: i32 },
    DivIK { d: Reg, a: Reg, imm: i32 },
    RemIK { d: Reg, a: Reg, imm: i32 },
    CmpI { op: CompareOp, d: Reg, a: Reg, b: Reg },
    CmpIK { op: CompareOp, d: Reg, a: Reg, imm: i32 },
    CmpF { op: CompareOp, d: Reg, a: Reg, b: Reg },
    CmpB { op: CompareOp, d: Reg, a: Reg, b: Reg },
    BrLtI { a: Reg, b: Reg, t: u32 },
    BrLeI { a: Reg, b: Reg, t: u32 },
    BrEqI { a: Reg, b: Reg, t: u32 },
    BrNeI { a: Reg, b: Reg, t: u32 },
    BrLtIK { a: Reg, imm: i32, t: u32 },
    BrLeIK { a: Reg, imm: i32, t: u32 },
    BrGtIK { a: Reg, imm: i32, t: u32 },
    BrGeIK { a: Reg, imm: i32, t: u32 },
    BrEqIK { a: Reg, imm: i32, t: u32 },
    BrNeIK { a: Reg, imm: i32, t: u32 },
    BrF { op: CompareOp, a: Reg, b: Reg, t: u32 },
    BrTrue { c: Reg, t: u32 },
    Jmp { t: u32 },
    Loop { t: u32 },
    IncLoop { a: Reg, imm: i32, t: u32 },
    Conv { kind: Conv, d: Reg, a: Reg },
    Box { ty: Type, d: Reg, a: Reg },
    Unbox { ty: Type, d: Reg, a: Reg },
    Is { d: Reg, a: Reg, class: u32 },
    Call { site: u32 },
    Dyn { site: u32 },
    GetS { ty: Type, d: Reg, a: Reg, i: Reg, site: u32 },
    SetS { ty: Type, a: Reg, i: Reg, v: Reg, site: u32 },
    HasS { d: Reg, a: Reg, k: Reg, site: u32 },
    Get { site: u32 },
    Set { site: u32 },
    Length { site: u32 },
    Push { site: u32 },
    Has { site: u32 },
    Delete { site: u32 },
    Size { site: u32 },
    Concat { site: u32 },
    MathF { op: MathOp, d: Reg, a: Reg },
    RetS { a: Reg },
    RetB { a: Reg, retain: bool },
    RetVoid,
    Release { a: Reg },
    ReleaseN { list: u32 },
    Safepoint,
    Fence,
}

impl Op {
    /// The jump target of a jump or branch.
    pub fn target_mut(&mut self) -> Option<&mut u32> {
        match self {
            Op::Jmp { t }
            | Op::Loop { t }
            | Op::IncLoop { t, .. }
            | Op::BrTrue { t, .. }
            | Op::BrF { t, .. }
            | Op::BrLtI { t, .. }
            | Op::BrLeI { t, .. }
            | Op::BrEqI { t, .. }
            | Op::BrNeI { t, .. }
            | Op::BrLtIK { t, .. }
            | Op::BrLeIK { t, .. }
            | Op::BrGtIK { t, .. }
            | Op::BrGeIK { t, .. }
            | Op::BrEqIK { t, .. }
            | Op::BrNeIK { t, .. } => Some(t),
            _ => None,
        }
    }

    /// `if a op b goto t` on i64 registers.
    pub fn branch_i(op: CompareOp, a: Reg, b: Reg, t: u32) -> Op {
        match op {
            CompareOp::Lt => Op::BrLtI { a, b, t },
            CompareOp::Le => Op::BrLeI { a, b, t },
            CompareOp::Gt => Op::BrLtI { a: b, b: a, t },
            CompareOp::Ge => Op::BrLeI { a: b, b: a, t },
            CompareOp::Eq => Op::BrEqI { a, b, t },
            CompareOp::Ne => Op::BrNeI { a, b, t },
        }
    }

    /// `if a op imm goto t` on an i64 register.
    pub fn branch_ik(op: CompareOp, a: Reg, imm: i32, t: u32) -> Op {
        match op {
            CompareOp::Lt => Op::BrLtIK { a, imm, t },
            CompareOp::Le => Op::BrLeIK { a, imm, t },
            CompareOp::Gt => Op::BrGtIK { a, imm, t },
            CompareOp::Ge => Op::BrGeIK { a, imm, t },
            CompareOp::Eq => Op::BrEqIK { a, imm, t },
            CompareOp::Ne => Op::BrNeIK { a, imm, t },
        }
    }

    /// `d = a op b` on i64 registers (traps on `/0` and `MIN / -1`).
    pub fn binary_i(op: BinaryOp, d: Reg, a: Reg, b: Reg) -> Op {
        match op {
            BinaryOp::Add => Op::AddI { d, a, b },
            BinaryOp::Sub => Op::SubI { d, a, b },
            BinaryOp::Mul => Op::MulI { d, a, b },
            op => Op::BinI { op, d, a, b },
        }
    }
}

/// Conversions between scalar types (§4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conv {
    I64ToF64,
    F64ToI64,
    I64ToBool,
}

/// FloatBox methods on an `f64` receiver, run without dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathOp {
    Sqrt,
    Abs,
    Floor,
    Ceil,
    Round,
    Sin,
    Cos,
    Tan,
    Exp,
    Ln,
}

impl MathOp {
    /// Applies the operation.
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            MathOp::Sqrt => x.sqrt(),
            MathOp::Abs => x.abs(),
            MathOp::Floor => x.floor(),
            MathOp::Ceil => x.ceil(),
            MathOp::Round => x.round(),
            MathOp::Sin => x.sin(),
            MathOp::Cos => x.cos(),
            MathOp::Tan => x.tan(),
            MathOp::Exp => x.exp(),
            MathOp::Ln => x.ln(),
        }
    }

    /// The operation a FloatBox method name runs, if it is one of these.
    pub fn from_method(method: runtime::Method) -> Option<MathOp> {
        use runtime::Method as M;
        Some(match method {
            M::Sqrt => MathOp::Sqrt,
            M::Abs => MathOp::Abs,
            M::Floor => MathOp::Floor,
            M::Ceil => MathOp::Ceil,
            M::Round => MathOp::Round,
            M::Sin => MathOp::Sin,
            M::Cos => MathOp::Cos,
            M::Tan => MathOp::Tan,
            M::Exp => MathOp::Exp,
            M::Ln => MathOp::Ln,
            _ => return None,
        })
    }
}

/// Which register file a MIR value lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum File {
    /// i64, f64, bool: a raw word.
    S,
    /// box: a runtime value.
    B,
}

impl File {
    /// The file a value of MIR type `ty` lives in.
    pub fn of(ty: Type) -> File {
        if ty == Type::Box { File::B } else { File::S }
    }
}

/// A register in one of the two files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    pub file: File,
    pub reg: Reg,
}

/// A direct MIR call: arguments copied (borrowed) into the callee's
/// parameter registers, the result written to `ret`.
#[derive(Clone, Debug)]
pub struct CallSite {
    pub callee: mir::FuncId,
    /// The caller's registers holding the arguments, in parameter order.
    pub args: Vec<Slot>,
    pub ret: Option<Slot>,
    /// The argument copies as (caller register, callee register) pairs, by
    /// file: filled in once every callee's parameter registers are known.
    pub s_moves: Vec<(Reg, Reg)>,
    pub b_moves: Vec<(Reg, Reg)>,
    /// The callee's frame sizes, filled in with the moves.
    pub s_size: u32,
    pub b_size: u32,
}

/// How a dynamic call finds its target.
#[derive(Clone, Copy, Debug)]
pub enum DynKind {
    /// `call %f(...) -> T`.
    Indirect { callee: Reg },
    /// `boxcall %recv.m(...)`; `owned` if the receiver is handed over;
    /// `field` indexes `Compiled::fields` for `getField`/`setField` of a
    /// constant name.
    Method { recv: Slot, recv_ty: Type, method: runtime::MethodRef, owned: bool, cache: u32, field: Option<u32> },
    /// `boxcall CLASS.m(...)`.
    Static { class: mir::ClassRef, method: runtime::MethodRef },
    /// `externcall NAME(...)`: index of the host function in the run's table.
    Extern { host: u32 },
}

/// A call whose target or argument kinds are known only at run time:
/// arguments and result are converted between registers and values.
#[derive(Clone, Debug)]
pub struct DynSite {
    pub kind: DynKind,
    /// Argument registers with their MIR types.
    pub args: Vec<(Slot, Type)>,
    /// Result register and the type it must have (checked).
    pub ret: Option<(Slot, Type)>,
}
