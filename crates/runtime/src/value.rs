//! The dynamic value: what a MIR `box` holds, and what every register of
//! the interpreter and the VM holds.
//!
//! A [`Value`] is 16 bytes and `Copy`. Scalars (`i64`, `f64`, `bool`),
//! `null` and function references live in the value itself, so boxing a
//! scalar never allocates. Heap objects are reached through [`ObjRef`] and
//! are reference counted *explicitly*: copying a `Value` does not touch the
//! count; [`Value::retain`] adds a reference and [`crate::Runtime::release`]
//! drops one. Backends do both where the drop plan says.

use crate::heap::{Kind, ObjRef};
use mir::{BuiltinClass, FuncId, Type};

/// A dynamic value (the contents of a MIR `box`).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, u8)]
pub enum Value {
    #[default]
    Null = 0,
    I64(i64) = 1,
    F64(f64) = 2,
    Bool(bool) = 3,
    /// A FunctionBox: a reference to a MIR function (no allocation).
    Func(FuncId) = 4,
    /// A heap object: string, array, map, user box, matrix or tensor.
    Obj(ObjRef) = 5,
}

/// The class of a value, for `typeop is`, dispatch and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    Builtin(BuiltinClass),
    User(mir::BoxId),
}

impl Value {
    /// Adds a reference if this is a heap object; returns the value.
    #[inline]
    pub fn retain(self) -> Value {
        if let Value::Obj(obj) = self {
            obj.retain();
        }
        self
    }

    /// The object, if this is one.
    #[inline]
    pub fn as_obj(self) -> Option<ObjRef> {
        match self {
            Value::Obj(o) => Some(o),
            _ => None,
        }
    }

    /// The class of this value.
    pub fn class(self) -> Class {
        Class::Builtin(match self {
            Value::Null => BuiltinClass::Null,
            Value::I64(_) => BuiltinClass::Integer,
            Value::F64(_) => BuiltinClass::Float,
            Value::Bool(_) => BuiltinClass::Bool,
            Value::Func(_) => BuiltinClass::Function,
            Value::Obj(o) => match o.kind() {
                Kind::Str => BuiltinClass::String,
                Kind::Array => BuiltinClass::Array,
                Kind::Map => BuiltinClass::Map,
                Kind::Matrix => BuiltinClass::Matrix,
                Kind::Tensor => BuiltinClass::Tensor,
                Kind::User => return Class::User(o.user().class),
            },
        })
    }

    /// The value as compiled code holds it: its tag (see [`crate::layout`])
    /// and its payload word (a bool is 0 or 1, an object its address).
    pub fn to_raw(self) -> (u8, u64) {
        match self {
            Value::Null => (crate::layout::TAG_NULL, 0),
            Value::I64(n) => (crate::layout::TAG_I64, n as u64),
            Value::F64(x) => (crate::layout::TAG_F64, x.to_bits()),
            Value::Bool(b) => (crate::layout::TAG_BOOL, b as u64),
            Value::Func(f) => (crate::layout::TAG_FUNC, f.as_u32() as u64),
            Value::Obj(o) => (crate::layout::TAG_OBJ, o.addr() as u64),
        }
    }

    /// The value compiled code holds as `(tag, payload)`. Only the low byte
    /// of a bool's payload counts.
    ///
    /// # Safety
    /// The pair must come from [`Value::to_raw`] (or a value's memory) of a
    /// value that is still valid: an object's address must be live.
    pub unsafe fn from_raw(tag: u8, payload: u64) -> Value {
        use crate::layout::*;
        match tag {
            TAG_I64 => Value::I64(payload as i64),
            TAG_F64 => Value::F64(f64::from_bits(payload)),
            TAG_BOOL => Value::Bool(payload as u8 != 0),
            TAG_FUNC => Value::Func(<FuncId as mir::EntityRef>::new(payload as u32 as usize)),
            // SAFETY: the caller passes the address of a live object.
            TAG_OBJ => Value::Obj(unsafe { ObjRef::from_addr(payload as usize) }),
            _ => Value::Null,
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string text, if this is a StringBox.
    pub fn as_str(&self) -> Option<&str> {
        self.as_obj().filter(|o| o.kind() == Kind::Str).map(|o| o.string().as_str())
    }

    /// Whether a value of this kind can be passed where MIR type `ty` is
    /// expected without a conversion (a `box` accepts anything).
    pub fn fits(self, ty: Type) -> bool {
        match ty {
            Type::I64 => matches!(self, Value::I64(_)),
            Type::F64 => matches!(self, Value::F64(_)),
            Type::Bool => matches!(self, Value::Bool(_)),
            Type::Box => true,
        }
    }
}
