//! Scalar semantics of §3 and §4: arithmetic, comparison and casts.
//!
//! These functions define the behaviour every backend must reproduce; the
//! interpreter calls them, and the VM and JIT are tested against them.

use crate::trap::Trap;
use crate::value::Value;
use mir::{BinaryOp, CompareOp, Type};

/// `binop` on i64: wrapping arithmetic, shifts modulo 64, traps on `/` or
/// `%` by zero and on `MIN / -1` (`MIN % -1` is 0).
#[inline]
pub fn binop_i64(op: BinaryOp, a: i64, b: i64) -> Result<i64, Trap> {
    use BinaryOp::*;
    Ok(match op {
        Add => a.wrapping_add(b),
        Sub => a.wrapping_sub(b),
        Mul => a.wrapping_mul(b),
        Div => {
            if b == 0 {
                return Err(Trap::DivisionByZero);
            }
            if a == i64::MIN && b == -1 {
                return Err(Trap::IntegerOverflow);
            }
            a / b
        }
        Rem => {
            if b == 0 {
                return Err(Trap::DivisionByZero);
            }
            a.wrapping_rem(b)
        }
        And => a & b,
        Or => a | b,
        Xor => a ^ b,
        Shl => a.wrapping_shl(b as u32),
        Shr => a.wrapping_shr(b as u32),
        Ushr => ((a as u64).wrapping_shr(b as u32)) as i64,
    })
}

/// `binop` on f64 (IEEE-754; never traps). The verifier admits only the
/// arithmetic operators here.
#[inline]
pub fn binop_f64(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Rem => a % b,
        _ => unreachable!("verifier rejects `{op}` on f64"),
    }
}

/// `binop` on bool (`and`, `or`, `xor`).
#[inline]
pub fn binop_bool(op: BinaryOp, a: bool, b: bool) -> bool {
    match op {
        BinaryOp::And => a & b,
        BinaryOp::Or => a | b,
        BinaryOp::Xor => a ^ b,
        _ => unreachable!("verifier rejects `{op}` on bool"),
    }
}

/// `compare` on values of one ordered scalar type.
#[inline]
pub fn compare<T: PartialOrd>(op: CompareOp, a: T, b: T) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
    }
}

/// `typeop cast` between scalar types and to `box` (§4). `box` to a scalar
/// is a checked unboxing; see [`crate::Runtime::unbox`].
pub fn cast_scalar(v: Value, to: Type) -> Value {
    match (v, to) {
        (_, Type::Box) => v,
        (Value::I64(n), Type::F64) => Value::F64(n as f64),
        (Value::I64(n), Type::Bool) => Value::Bool(n != 0),
        (Value::F64(x), Type::I64) => Value::I64(f64_to_i64(x)),
        (Value::Bool(b), Type::I64) => Value::I64(b as i64),
        (v, _) => v,
    }
}

/// f64 to i64: truncates toward zero, saturates, NaN is 0 (§4).
#[inline]
pub fn f64_to_i64(x: f64) -> i64 {
    x as i64
}
