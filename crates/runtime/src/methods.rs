//! Built-in methods (§7) and method dispatch.
//!
//! A `boxcall` site resolves its method name once to a [`MethodRef`]. At run
//! time [`Runtime::dispatch`] picks what the receiver's class does with it:
//! a built-in method (run by [`Runtime::call_builtin`]), a user method (a MIR
//! function the backend calls), or `FunctionBox.call`. Built-ins take
//! borrowed arguments and return an owned result; a receiver handed over
//! (`owned`) may be updated in place when unique (§6).

use crate::display;
use crate::heap::{ArrayBody, Body, Kind, MapBody, MapKey, ObjRef, StrBody, UserBody, ValueVec};
use crate::map::OrderedMap;
use crate::runtime::{Runtime, boxes_equal};
use crate::trap::Trap;
use crate::value::{Class, Value};
use mir::{BuiltinClass, ClassRef, FuncId, Sym};
use std::cmp::Ordering;

macro_rules! methods {
    ($($variant:ident = $text:literal),* $(,)?) => {
        /// Every built-in method name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Method { $($variant),* }

        impl Method {
            /// The method's name as programs write it.
            pub fn name(self) -> &'static str {
                match self { $(Method::$variant => $text),* }
            }

            /// The built-in method called `name`, if any.
            pub fn from_name(name: &str) -> Option<Method> {
                match name { $($text => Some(Method::$variant),)* _ => None }
            }
        }
    };
}

methods! {
    ToString = "toString", Abs = "abs", Min = "min", Max = "max", Pow = "pow", ToFloat = "toFloat",
    ToFixed = "toFixed", Sqrt = "sqrt", Floor = "floor", Ceil = "ceil", Round = "round",
    Sin = "sin", Cos = "cos", Tan = "tan", Atan2 = "atan2", Exp = "exp", Ln = "ln", ToInteger = "toInteger",
    Length = "length", Concat = "concat", Substring = "substring", IndexOf = "indexOf",
    Contains = "contains", StartsWith = "startsWith", EndsWith = "endsWith", CharAt = "charAt",
    CharCodeAt = "charCodeAt", Split = "split", Replace = "replace", Trim = "trim",
    ToUpper = "toUpper", ToLower = "toLower", Repeat = "repeat", FromCharCode = "fromCharCode",
    New = "new", Filled = "filled", Push = "push", Pop = "pop", Get = "get", Set = "set",
    Insert = "insert", Remove = "remove", Slice = "slice", Join = "join", Sort = "sort",
    Reverse = "reverse", Clear = "clear", Size = "size", Has = "has", Delete = "delete",
    Keys = "keys", Values = "values", Call = "call", Name = "name",
    GetField = "getField", SetField = "setField",
    // MatrixBox and TensorBox.
    Identity = "identity", FromArray = "fromArray", Random = "random", Zeros = "zeros", Rows = "rows",
    Cols = "cols", Matmul = "matmul", Add = "add", Sub = "sub", Mul = "mul", Div = "div", Scale = "scale",
    Transpose = "transpose", Sum = "sum", Norm = "norm", ToArray = "toArray", Shape = "shape", Rank = "rank",
    Reshape = "reshape", Relu = "relu", Sigmoid = "sigmoid", Tanh = "tanh", Softmax = "softmax",
    SumAxis = "sumAxis", Mean = "mean", Argmax = "argmax",
}

/// A `boxcall` site's method: its name, and the built-in it names if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodRef {
    pub sym: Sym,
    pub builtin: Option<Method>,
}

impl MethodRef {
    /// The method named `sym` in `program`.
    pub fn resolve(program: &mir::Program, sym: Sym) -> MethodRef {
        MethodRef { sym, builtin: Method::from_name(program.module().sym(sym)) }
    }
}

/// What a receiver does with a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// Run [`Runtime::call_builtin`].
    Builtin(Method),
    /// Call this MIR function with the receiver (borrowed) and the arguments.
    User(FuncId),
    /// `FunctionBox.call`: call this MIR function with the arguments.
    Invoke(FuncId),
}

/// The result of a built-in call.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinResult {
    /// The result, owned by the caller.
    pub value: Value,
    /// Whether the method took the handed-over receiver's reference (it
    /// reused the receiver in place); if not, the caller releases it.
    pub took_receiver: bool,
}

/// What a static call `CLASS.method(...)` produced.
#[derive(Clone, Copy, Debug)]
pub enum StaticResult {
    Value(Value),
    /// A new user box whose `birth` the backend must call with
    /// `(obj, args...)`; the call's result is `obj`.
    Birth {
        obj: Value,
        func: FuncId,
    },
}

/// Class and method of a call, for messages.
#[derive(Clone, Copy)]
pub(crate) struct Site {
    pub(crate) class: Class,
    pub(crate) method: Method,
}

pub(crate) fn done(value: Value) -> Result<BuiltinResult, Trap> {
    Ok(BuiltinResult { value, took_receiver: false })
}

impl Runtime {
    /// Resolves a method name (a module symbol) for a call site.
    pub fn method_ref(&self, sym: Sym) -> MethodRef {
        MethodRef::resolve(self.program(), sym)
    }

    /// What `recv.method(...)` runs.
    pub fn dispatch(&self, recv: Value, method: MethodRef) -> Result<Dispatch, Trap> {
        let name = || self.program().module().sym(method.sym).to_string();
        match recv {
            Value::Null => Err(Trap::NullReceiver(name())),
            Value::Obj(o) if o.kind() == Kind::User => {
                let class = self.info.class(o.user().class);
                if let Some(&f) = class.methods.get(&method.sym) {
                    return Ok(Dispatch::User(f));
                }
                match method.builtin {
                    Some(m @ (Method::GetField | Method::SetField)) => Ok(Dispatch::Builtin(m)),
                    _ => Err(Trap::UnknownMethod { class: class.name.clone(), method: name() }),
                }
            }
            Value::Func(f) if method.builtin == Some(Method::Call) => Ok(Dispatch::Invoke(f)),
            _ => match method.builtin {
                Some(m) => Ok(Dispatch::Builtin(m)),
                None => Err(Trap::UnknownMethod { class: self.class_name(recv), method: name() }),
            },
        }
    }

    /// Runs a built-in method. `args` are borrowed; `owned` says the caller
    /// hands over the receiver's reference (its last use).
    pub fn call_builtin(
        &mut self,
        recv: Value,
        owned: bool,
        method: Method,
        args: &[Value],
    ) -> Result<BuiltinResult, Trap> {
        let site = Site { class: recv.class(), method };
        match recv {
            Value::I64(n) => done(self.integer_method(site, n, args)?),
            Value::F64(x) => done(self.float_method(site, x, args)?),
            Value::Bool(b) => match method {
                Method::ToString => {
                    self.arity(site, args, 0)?;
                    done(self.new_string(b.to_string())?)
                }
                _ => Err(self.unknown(site)),
            },
            Value::Func(f) => match method {
                Method::Name => {
                    self.arity(site, args, 0)?;
                    let name = self.info.func(f).name.clone();
                    done(self.new_string(name)?)
                }
                Method::ToString => {
                    self.arity(site, args, 0)?;
                    done(self.new_string(self.display(recv)?)?)
                }
                _ => Err(self.unknown(site)),
            },
            Value::Null => Err(Trap::NullReceiver(method.name().into())),
            Value::Obj(o) => match o.kind() {
                Kind::Str => self.string_method(site, o, owned, args),
                Kind::Array => done(self.array_method(site, o, args)?),
                Kind::Map => done(self.map_method(site, o, args)?),
                Kind::User => done(self.user_method(site, o, args)?),
                Kind::Matrix => self.matrix_method(site, o, owned, args),
                Kind::Tensor => self.tensor_method(site, o, owned, args),
            },
        }
    }

    /// Runs `CLASS.method(args)`: a constructor or static method.
    pub fn call_static(&mut self, class: ClassRef, method: MethodRef, args: &[Value]) -> Result<StaticResult, Trap> {
        let name = self.program().module().sym(method.sym).to_string();
        let value = match class {
            ClassRef::User(id) => {
                if name != "new" {
                    let class = self.info.class(id).name.clone();
                    return Err(Trap::UnknownMethod { class, method: name });
                }
                let class = self.info.class(id);
                let fields = ValueVec::from_vec(vec![Value::Null; class.fields.len()]);
                if let Some(func) = class.birth {
                    let obj = self.heap.alloc(UserBody { class: id, fields })?;
                    return Ok(StaticResult::Birth { obj: Value::Obj(obj), func });
                }
                if args.len() != class.fields.len() {
                    let callee = format!("{}.new", class.name);
                    return Err(Trap::Arity { callee, expected: class.fields.len(), got: args.len() });
                }
                let weak = class.weak.clone();
                for (&arg, &is_weak) in args.iter().zip(&weak) {
                    if is_weak {
                        self.heap.retain_weak(arg);
                    } else {
                        arg.retain();
                    }
                }
                let obj = self.heap.alloc(UserBody { class: id, fields: ValueVec::from_vec(args.to_vec()) })?;
                Value::Obj(obj)
            }
            ClassRef::Builtin(class) => {
                let Some(m) = method.builtin else {
                    return Err(Trap::UnknownMethod { class: class.name().into(), method: name });
                };
                let site = Site { class: Class::Builtin(class), method: m };
                match (class, m) {
                    (BuiltinClass::Array, Method::New) => {
                        self.arity(site, args, 0)?;
                        self.new_array(Vec::new())?
                    }
                    (BuiltinClass::Array, Method::Filled) => {
                        self.arity(site, args, 2)?;
                        let n = self.count_arg(site, args, 0)?;
                        self.heap.check(n.saturating_mul(size_of::<Value>()))?;
                        let mut items = Vec::new();
                        items.try_reserve_exact(n).map_err(|_| Trap::OutOfMemory)?;
                        for _ in 0..n {
                            items.push(args[1].retain());
                        }
                        self.new_array(items)?
                    }
                    (BuiltinClass::Map, Method::New) => {
                        self.arity(site, args, 0)?;
                        Value::Obj(self.heap.alloc(MapBody { entries: OrderedMap::default() })?)
                    }
                    (BuiltinClass::String, Method::FromCharCode) => {
                        self.arity(site, args, 1)?;
                        let code = self.int_arg(site, args, 0)?;
                        let c = u32::try_from(code).ok().and_then(char::from_u32).ok_or_else(|| {
                            Trap::InvalidArgument(format!(
                                "StringBox.fromCharCode: {code} is not a Unicode scalar value"
                            ))
                        })?;
                        self.new_string(c.to_string())?
                    }
                    (BuiltinClass::Matrix, _) => self.matrix_static(site, args)?,
                    (BuiltinClass::Tensor, _) => self.tensor_static(site, args)?,
                    _ => return Err(Trap::UnknownMethod { class: class.name().into(), method: name }),
                }
            }
        };
        Ok(StaticResult::Value(value))
    }

    // ---- argument checking ----

    pub(crate) fn site_name(&self, site: Site) -> String {
        let class = match site.class {
            Class::Builtin(b) => b.name().to_string(),
            Class::User(id) => self.info.class(id).name.clone(),
        };
        format!("{class}.{}", site.method.name())
    }

    pub(crate) fn unknown(&self, site: Site) -> Trap {
        let class = match site.class {
            Class::Builtin(b) => b.name().to_string(),
            Class::User(id) => self.info.class(id).name.clone(),
        };
        Trap::UnknownMethod { class, method: site.method.name().into() }
    }

    pub(crate) fn arity(&self, site: Site, args: &[Value], n: usize) -> Result<(), Trap> {
        if args.len() == n {
            Ok(())
        } else {
            Err(Trap::Arity { callee: self.site_name(site), expected: n, got: args.len() })
        }
    }

    pub(crate) fn bad_arg(&self, site: Site, args: &[Value], i: usize, expected: &'static str) -> Trap {
        Trap::BadArgument { method: self.site_name(site), index: i + 1, expected, got: self.class_name(args[i]) }
    }

    pub(crate) fn int_arg(&self, site: Site, args: &[Value], i: usize) -> Result<i64, Trap> {
        match args[i] {
            Value::I64(n) => Ok(n),
            _ => Err(self.bad_arg(site, args, i, "IntegerBox")),
        }
    }

    pub(crate) fn float_arg(&self, site: Site, args: &[Value], i: usize) -> Result<f64, Trap> {
        match args[i] {
            Value::F64(x) => Ok(x),
            _ => Err(self.bad_arg(site, args, i, "FloatBox")),
        }
    }

    fn str_arg<'a>(&self, site: Site, args: &'a [Value], i: usize) -> Result<&'a str, Trap> {
        args[i].as_str().ok_or_else(|| self.bad_arg(site, args, i, "StringBox"))
    }

    /// A non-negative count argument.
    pub(crate) fn count_arg(&self, site: Site, args: &[Value], i: usize) -> Result<usize, Trap> {
        let n = self.int_arg(site, args, i)?;
        usize::try_from(n)
            .map_err(|_| Trap::InvalidArgument(format!("{} count must not be negative, got {n}", self.site_name(site))))
    }

    // ---- IntegerBox, FloatBox ----

    fn integer_method(&mut self, site: Site, n: i64, args: &[Value]) -> Result<Value, Trap> {
        let arity = match site.method {
            Method::Min | Method::Max | Method::Pow => 1,
            _ => 0,
        };
        if matches!(
            site.method,
            Method::ToString | Method::Abs | Method::Min | Method::Max | Method::Pow | Method::ToFloat
        ) {
            self.arity(site, args, arity)?;
        }
        Ok(match site.method {
            Method::ToString => return self.new_string(n.to_string()),
            Method::Abs => Value::I64(n.wrapping_abs()),
            Method::Min => Value::I64(n.min(self.int_arg(site, args, 0)?)),
            Method::Max => Value::I64(n.max(self.int_arg(site, args, 0)?)),
            Method::Pow => {
                let e = self.int_arg(site, args, 0)?;
                if e < 0 {
                    return Err(Trap::InvalidArgument(format!(
                        "IntegerBox.pow exponent must not be negative, got {e}"
                    )));
                }
                Value::I64(wrapping_pow(n, e as u64))
            }
            Method::ToFloat => Value::F64(n as f64),
            _ => return Err(self.unknown(site)),
        })
    }

    fn float_method(&mut self, site: Site, x: f64, args: &[Value]) -> Result<Value, Trap> {
        let unary = |f: fn(f64) -> f64| Some(f);
        let op: Option<fn(f64) -> f64> = match site.method {
            Method::Sqrt => unary(f64::sqrt),
            Method::Abs => unary(f64::abs),
            Method::Floor => unary(f64::floor),
            Method::Ceil => unary(f64::ceil),
            Method::Round => unary(f64::round),
            Method::Sin => unary(f64::sin),
            Method::Cos => unary(f64::cos),
            Method::Tan => unary(f64::tan),
            Method::Exp => unary(f64::exp),
            Method::Ln => unary(f64::ln),
            _ => None,
        };
        if let Some(f) = op {
            self.arity(site, args, 0)?;
            return Ok(Value::F64(f(x)));
        }
        match site.method {
            Method::ToString => {
                self.arity(site, args, 0)?;
                self.new_string(mir::display_f64(x))
            }
            Method::ToInteger => {
                self.arity(site, args, 0)?;
                Ok(Value::I64(crate::ops::f64_to_i64(x)))
            }
            Method::Atan2 => {
                self.arity(site, args, 1)?;
                Ok(Value::F64(x.atan2(self.float_arg(site, args, 0)?)))
            }
            Method::Pow => {
                self.arity(site, args, 1)?;
                Ok(Value::F64(x.powf(self.float_arg(site, args, 0)?)))
            }
            Method::ToFixed => {
                self.arity(site, args, 1)?;
                let digits = self.count_arg(site, args, 0)?;
                self.new_string(to_fixed(x, digits)?)
            }
            _ => Err(self.unknown(site)),
        }
    }

    // ---- StringBox ----

    fn string_method(&mut self, site: Site, o: ObjRef, owned: bool, args: &[Value]) -> Result<BuiltinResult, Trap> {
        let s = o.string().as_str();
        let chars = o.string_chars();
        let value = match site.method {
            Method::Length => {
                self.arity(site, args, 0)?;
                Value::I64(chars as i64)
            }
            Method::ToString => {
                self.arity(site, args, 0)?;
                if owned {
                    return Ok(BuiltinResult { value: Value::Obj(o), took_receiver: true });
                }
                Value::Obj(o).retain()
            }
            Method::Concat => {
                self.arity(site, args, 1)?;
                let tail = self.str_arg(site, args, 0)?;
                return self.concat(o, owned, tail);
            }
            Method::Substring => {
                self.arity(site, args, 2)?;
                let (i, j) = (self.int_arg(site, args, 0)?, self.int_arg(site, args, 1)?);
                let (start, end) = char_range(s, chars, i, j)?;
                self.new_string(s[start..end].to_string())?
            }
            Method::IndexOf => {
                self.arity(site, args, 1)?;
                let needle = self.str_arg(site, args, 0)?;
                Value::I64(s.find(needle).map_or(-1, |at| char_offset(s, chars, at) as i64))
            }
            Method::Contains | Method::StartsWith | Method::EndsWith => {
                self.arity(site, args, 1)?;
                let t = self.str_arg(site, args, 0)?;
                Value::Bool(match site.method {
                    Method::Contains => s.contains(t),
                    Method::StartsWith => s.starts_with(t),
                    _ => s.ends_with(t),
                })
            }
            Method::CharAt | Method::CharCodeAt => {
                self.arity(site, args, 1)?;
                let i = self.int_arg(site, args, 0)?;
                let c = char_at(s, chars, i)?;
                match site.method {
                    Method::CharAt => self.new_string(c.to_string())?,
                    _ => Value::I64(c as i64),
                }
            }
            Method::Split => {
                self.arity(site, args, 1)?;
                let sep = self.str_arg(site, args, 0)?;
                let pieces: Box<dyn Iterator<Item = &str>> = if sep.is_empty() {
                    Box::new(s.char_indices().map(|(at, c)| &s[at..at + c.len_utf8()]))
                } else {
                    Box::new(s.split(sep))
                };
                // Each piece is charged as it is made: collecting them first
                // took 1.7 GB for a 30 MB string under a 40 MB limit.
                let mut items = Vec::new();
                for piece in pieces {
                    self.heap.check((items.len() + 1) * size_of::<Value>())?;
                    items.try_reserve(1).map_err(|_| Trap::OutOfMemory)?;
                    items.push(self.new_string(piece.to_string())?);
                }
                self.new_array(items)?
            }
            Method::Replace => {
                self.arity(site, args, 2)?;
                let (from, to) = (self.str_arg(site, args, 0)?, self.str_arg(site, args, 1)?);
                let count = if from.is_empty() { chars + 1 } else { s.matches(from).count() };
                let size = count.checked_mul(to.len()).and_then(|n| n.checked_add(s.len())).ok_or(Trap::OutOfMemory)?;
                self.heap.check(size)?;
                self.new_string(replaced(s, from, to, size)?)?
            }
            Method::Trim => {
                self.arity(site, args, 0)?;
                self.new_string(s.trim().to_string())?
            }
            Method::ToUpper => {
                self.arity(site, args, 0)?;
                self.new_string(s.to_uppercase())?
            }
            Method::ToLower => {
                self.arity(site, args, 0)?;
                self.new_string(s.to_lowercase())?
            }
            Method::Repeat => {
                self.arity(site, args, 1)?;
                let n = self.count_arg(site, args, 0)?;
                let bytes = s.len().checked_mul(n).ok_or(Trap::OutOfMemory)?;
                self.heap.check(bytes)?;
                let mut text = String::new();
                text.try_reserve_exact(bytes).map_err(|_| Trap::OutOfMemory)?;
                for _ in 0..n {
                    text.push_str(s);
                }
                self.new_string(text)?
            }
            Method::ToInteger => {
                self.arity(site, args, 0)?;
                parse_integer(s).map_or(Value::Null, Value::I64)
            }
            Method::ToFloat => {
                self.arity(site, args, 0)?;
                parse_float(s).map_or(Value::Null, Value::F64)
            }
            _ => return Err(self.unknown(site)),
        };
        done(value)
    }

    /// `concat`: appends to a handed-over unique receiver in place (§6),
    /// else makes a new string.
    fn concat(&mut self, o: ObjRef, owned: bool, tail: &str) -> Result<BuiltinResult, Trap> {
        if owned && o.rc() == 1 {
            let body = o.body_mut::<StrBody>();
            let before = body.capacity();
            body.try_reserve(tail.len()).map_err(|_| Trap::OutOfMemory)?;
            body.push_str(tail);
            let after = body.capacity();
            self.heap.adjust(before, after)?;
            self.heap.count_reuse();
            return Ok(BuiltinResult { value: Value::Obj(o), took_receiver: true });
        }
        let s = o.string();
        self.heap.check(s.len() + tail.len())?;
        let mut text = String::new();
        text.try_reserve_exact(s.len() + tail.len()).map_err(|_| Trap::OutOfMemory)?;
        text.push_str(s);
        text.push_str(tail);
        done(self.new_string(text)?)
    }

    // ---- ArrayBox ----

    fn array_method(&mut self, site: Site, o: ObjRef, args: &[Value]) -> Result<Value, Trap> {
        let len = o.body::<ArrayBody>().items.len();
        Ok(match site.method {
            Method::Length => {
                self.arity(site, args, 0)?;
                Value::I64(len as i64)
            }
            Method::Push => {
                self.arity(site, args, 1)?;
                self.grow_array(o, args[0], |items, v| items.push(v))?;
                Value::Null
            }
            Method::Pop => {
                self.arity(site, args, 0)?;
                o.body_mut::<ArrayBody>().items.pop().ok_or(Trap::PopEmpty)?
            }
            Method::Get => {
                self.arity(site, args, 1)?;
                let i = index(self.int_arg(site, args, 0)?, len)?;
                o.body::<ArrayBody>().items[i].retain()
            }
            Method::Set => {
                self.arity(site, args, 2)?;
                let i = index(self.int_arg(site, args, 0)?, len)?;
                let body = o.body_mut::<ArrayBody>();
                body.note(args[1]);
                let old = std::mem::replace(&mut body.items[i], args[1].retain());
                self.heap.push_release(old);
                Value::Null
            }
            Method::Insert => {
                self.arity(site, args, 2)?;
                let i = self.int_arg(site, args, 0)?;
                // Inserting at the end is allowed: 0 <= i <= len.
                let at =
                    usize::try_from(i).ok().filter(|&at| at <= len).ok_or(Trap::IndexOutOfBounds { index: i, len })?;
                self.grow_array(o, args[1], |items, v| items.insert(at, v))?;
                Value::Null
            }
            Method::Remove => {
                self.arity(site, args, 1)?;
                let i = index(self.int_arg(site, args, 0)?, len)?;
                o.body_mut::<ArrayBody>().items.remove(i)
            }
            Method::Slice => {
                self.arity(site, args, 2)?;
                let (i, j) = (self.int_arg(site, args, 0)?, self.int_arg(site, args, 1)?);
                let (start, end) = range(i, j, len)?;
                let items: Vec<Value> = o.body::<ArrayBody>().items[start..end].iter().map(|v| v.retain()).collect();
                self.new_array(items)?
            }
            Method::Join => {
                self.arity(site, args, 1)?;
                let sep = self.str_arg(site, args, 0)?;
                let mut text = String::new();
                for (k, &item) in o.body::<ArrayBody>().items.iter().enumerate() {
                    if k > 0 {
                        text.push_str(sep);
                    }
                    self.display_into(item, &mut text)?;
                }
                self.new_string(text)?
            }
            Method::Sort => {
                self.arity(site, args, 0)?;
                self.sort_array(o)?;
                Value::Null
            }
            Method::Reverse => {
                self.arity(site, args, 0)?;
                o.body_mut::<ArrayBody>().items.reverse();
                Value::Null
            }
            Method::Contains | Method::IndexOf => {
                self.arity(site, args, 1)?;
                let found = o.body::<ArrayBody>().items.iter().position(|&v| boxes_equal(v, args[0]));
                match site.method {
                    Method::Contains => Value::Bool(found.is_some()),
                    _ => Value::I64(found.map_or(-1, |i| i as i64)),
                }
            }
            Method::Clear => {
                self.arity(site, args, 0)?;
                let body = o.body_mut::<ArrayBody>();
                let items = std::mem::take(&mut body.items);
                body.floats = true;
                self.heap.adjust(items.capacity() * size_of::<Value>(), 0)?;
                self.heap.push_releases(items.iter().copied());
                Value::Null
            }
            Method::ToString => {
                self.arity(site, args, 0)?;
                self.new_string(self.display(Value::Obj(o))?)?
            }
            _ => return Err(self.unknown(site)),
        })
    }

    /// Stores `value` (borrowed) in array `o` by `update`, which grows the
    /// items by one, accounting for the buffer.
    fn grow_array(&mut self, o: ObjRef, value: Value, update: impl FnOnce(&mut Vec<Value>, Value)) -> Result<(), Trap> {
        let body = o.body_mut::<ArrayBody>();
        body.note(value);
        let items = &mut body.items;
        let before = items.capacity();
        items.with_vec(|v| v.try_reserve(1).map(|()| update(v, value.retain()))).map_err(|_| Trap::OutOfMemory)?;
        let after = items.capacity();
        self.heap.adjust(before * size_of::<Value>(), after * size_of::<Value>())
    }

    /// `sort`: numbers of one kind (NaN last) or strings (by bytes); a trap
    /// for anything else. Stable.
    fn sort_array(&mut self, o: ObjRef) -> Result<(), Trap> {
        let items = &o.body::<ArrayBody>().items;
        let Some(&first) = items.first() else { return Ok(()) };
        let same_kind = |a: Value, b: Value| {
            std::mem::discriminant(&a) == std::mem::discriminant(&b) && (a.as_str().is_some() == b.as_str().is_some())
        };
        if let Some(&other) = items.iter().find(|&&v| !same_kind(v, first)) {
            return Err(Trap::CannotOrder(self.class_name(first), self.class_name(other)));
        }
        let items = &mut o.body_mut::<ArrayBody>().items;
        match first {
            Value::I64(_) => items.sort_by_key(|v| if let Value::I64(n) = v { *n } else { 0 }),
            Value::F64(_) => items.sort_by(|a, b| {
                let (Value::F64(x), Value::F64(y)) = (a, b) else { return Ordering::Equal };
                match (x.is_nan(), y.is_nan()) {
                    (false, false) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
                    (x_nan, y_nan) => x_nan.cmp(&y_nan),
                }
            }),
            _ if first.as_str().is_some() => items.sort_by(|a, b| {
                a.as_str().unwrap_or_default().as_bytes().cmp(b.as_str().unwrap_or_default().as_bytes())
            }),
            _ if items.len() > 1 => {
                return Err(Trap::CannotOrder(self.class_name(first), self.class_name(items[1])));
            }
            _ => {}
        }
        Ok(())
    }

    // ---- MapBox ----

    fn map_key(&self, site: Site, args: &[Value], i: usize) -> Result<MapKey, Trap> {
        map_key_of(args[i]).ok_or_else(|| self.bad_arg(site, args, i, "IntegerBox, BoolBox or StringBox"))
    }

    /// Stores `value` (borrowed) under `key` in map `o`; a replaced value is
    /// queued for release.
    fn map_store(&mut self, o: ObjRef, key: MapKey, value: Value) -> Result<(), Trap> {
        let entries = &mut o.body_mut::<MapBody>().entries;
        let before = entries.heap_bytes();
        match entries.insert(key, value.retain()) {
            // Replacing a value leaves the map's buffers as they were.
            Some(old) => {
                self.heap.push_release(old);
                Ok(())
            }
            None => self.heap.adjust(before, entries.heap_bytes()),
        }
    }

    /// Removes `key` from map `o`, queueing its value for release; whether
    /// it was there.
    fn map_remove(&mut self, o: ObjRef, key: &MapKey) -> bool {
        let removed = o.body_mut::<MapBody>().entries.remove(key);
        let found = removed.is_some();
        if let Some(old) = removed {
            self.heap.push_release(old);
        }
        found
    }

    fn map_method(&mut self, site: Site, o: ObjRef, args: &[Value]) -> Result<Value, Trap> {
        Ok(match site.method {
            Method::Size => {
                self.arity(site, args, 0)?;
                Value::I64(o.body::<MapBody>().entries.len() as i64)
            }
            Method::Set => {
                self.arity(site, args, 2)?;
                let key = self.map_key(site, args, 0)?;
                self.map_store(o, key, args[1])?;
                Value::Null
            }
            Method::Get => {
                self.arity(site, args, 1)?;
                let key = self.map_key(site, args, 0)?;
                match o.body::<MapBody>().entries.get(&key) {
                    Some(v) => v.retain(),
                    None => {
                        let mut shown = String::new();
                        display::write_key(&key, &mut shown);
                        return Err(Trap::KeyNotFound(shown));
                    }
                }
            }
            Method::Has => {
                self.arity(site, args, 1)?;
                let key = self.map_key(site, args, 0)?;
                Value::Bool(o.body::<MapBody>().entries.contains_key(&key))
            }
            Method::Delete => {
                self.arity(site, args, 1)?;
                let key = self.map_key(site, args, 0)?;
                Value::Bool(self.map_remove(o, &key))
            }
            Method::Keys => {
                self.arity(site, args, 0)?;
                let keys: Vec<MapKey> = o.body::<MapBody>().entries.iter().map(|(k, _)| k.clone()).collect();
                let mut items = Vec::with_capacity(keys.len());
                for key in keys {
                    items.push(match key {
                        MapKey::Int(n) => Value::I64(n),
                        MapKey::Bool(b) => Value::Bool(b),
                        MapKey::Str(s) => self.new_string(s.into())?,
                    });
                }
                self.new_array(items)?
            }
            Method::Values => {
                self.arity(site, args, 0)?;
                let items = o.body::<MapBody>().entries.iter().map(|(_, v)| v.retain()).collect();
                self.new_array(items)?
            }
            Method::Clear => {
                self.arity(site, args, 0)?;
                let body = o.body_mut::<MapBody>();
                let before = body.heap_bytes();
                let values: Vec<Value> = body.entries.take_values().collect();
                self.heap.adjust(before, 0)?;
                self.heap.push_releases(values.into_iter());
                Value::Null
            }
            Method::ToString => {
                self.arity(site, args, 0)?;
                self.new_string(self.display(Value::Obj(o))?)?
            }
            _ => return Err(self.unknown(site)),
        })
    }

    // ---- user boxes ----

    fn field_slot(&self, site: Site, o: ObjRef, args: &[Value]) -> Result<(usize, bool), Trap> {
        let name = self.str_arg(site, args, 0)?;
        let class = self.info.class(o.user().class);
        match class.field(name) {
            Some(slot) => Ok((slot, class.weak[slot])),
            None => Err(Trap::UnknownField { class: class.name.clone(), field: name.into() }),
        }
    }

    fn user_method(&mut self, site: Site, o: ObjRef, args: &[Value]) -> Result<Value, Trap> {
        match site.method {
            Method::GetField => {
                self.arity(site, args, 1)?;
                let (slot, _) = self.field_slot(site, o, args)?;
                Ok(self.get_field(o, slot))
            }
            Method::SetField => {
                self.arity(site, args, 2)?;
                let (slot, _) = self.field_slot(site, o, args)?;
                self.set_field(o, slot, args[1]);
                Ok(Value::Null)
            }
            _ => Err(self.unknown(site)),
        }
    }

    /// The slot of field `name` in user box `obj`'s class, for a cache.
    pub fn field_of(&self, obj: ObjRef, name: &str) -> Option<usize> {
        self.info.class(obj.user().class).field(name)
    }

    /// Field `slot` of user box `obj`, with a reference added; a weak field
    /// whose target died reads as `null`.
    pub fn get_field(&self, obj: ObjRef, slot: usize) -> Value {
        let value = obj.user().fields[slot];
        let weak = self.info.class(obj.user().class).weak[slot];
        if weak && value.as_obj().is_some_and(|t| !t.is_alive()) { Value::Null } else { value.retain() }
    }

    /// Stores `value` (borrowed) in field `slot` of user box `obj`; the old
    /// value is queued for release (drive the heap after).
    pub fn set_field(&mut self, obj: ObjRef, slot: usize, value: Value) {
        let weak = self.info.class(obj.user().class).weak[slot];
        let old = std::mem::replace(&mut obj.body_mut::<UserBody>().fields[slot], value);
        if weak {
            self.heap.retain_weak(value);
            self.heap.release_weak(old);
        } else {
            value.retain();
            self.heap.push_release(old);
        }
    }

    /// ArrayBox fast path for `get(i)`: `None` if `array` is not an
    /// ArrayBox (then take the general path).
    #[inline]
    pub fn array_get(array: Value, i: i64) -> Option<Result<Value, Trap>> {
        let o = array.as_obj().filter(|o| o.kind() == Kind::Array)?;
        let items = &o.body::<ArrayBody>().items;
        Some(index(i, items.len()).map(|i| items[i].retain()))
    }

    /// ArrayBox element `i`, without adding a reference: `None` if `array`
    /// is not an ArrayBox or `i` is out of bounds.
    #[inline]
    pub fn array_peek(array: Value, i: i64) -> Option<Value> {
        let o = array.as_obj().filter(|o| o.kind() == Kind::Array)?;
        let items = &o.body::<ArrayBody>().items;
        usize::try_from(i).ok().and_then(|i| items.get(i)).copied()
    }

    /// ArrayBox fast path for `length()`.
    #[inline]
    pub fn array_len(array: Value) -> Option<i64> {
        let o = array.as_obj().filter(|o| o.kind() == Kind::Array)?;
        Some(o.body::<ArrayBody>().items.len() as i64)
    }

    /// ArrayBox fast path for `set(i, v)`; the old element is queued for
    /// release (drive the heap after).
    #[inline]
    pub fn array_set(&mut self, array: Value, i: i64, value: Value) -> Option<Result<(), Trap>> {
        let o = array.as_obj().filter(|o| o.kind() == Kind::Array)?;
        let body = o.body_mut::<ArrayBody>();
        Some(index(i, body.items.len()).map(|i| {
            body.note(value);
            let old = std::mem::replace(&mut body.items[i], value.retain());
            self.heap.push_release(old);
        }))
    }

    /// ArrayBox fast path for `set(i, v)` of a scalar `v` over an element
    /// that holds no object (nothing to release): whether it stored.
    #[inline]
    pub fn array_set_scalar(array: Value, i: i64, v: Value) -> bool {
        debug_assert!(v.as_obj().is_none());
        let Some(o) = array.as_obj().filter(|o| o.kind() == Kind::Array) else { return false };
        let body = o.body_mut::<ArrayBody>();
        match usize::try_from(i).ok().and_then(|i| body.items.get_mut(i)) {
            Some(slot) if slot.as_obj().is_none() => {
                *slot = v;
                body.note(v);
                true
            }
            _ => false,
        }
    }

    /// ArrayBox fast path for `push(v)`.
    #[inline]
    pub fn array_push(&mut self, array: Value, value: Value) -> Option<Result<(), Trap>> {
        let o = array.as_obj().filter(|o| o.kind() == Kind::Array)?;
        Some(self.grow_array(o, value, |items, v| items.push(v)))
    }

    /// MapBox value under `key`, without adding a reference: `None` if `map`
    /// is not a MapBox, `key` cannot be a key, or it is absent.
    // Always inlined, as `map_has`: the call costs as much as a dense lookup.
    #[inline(always)]
    pub fn map_peek(map: Value, key: Value) -> Option<Value> {
        let o = map.as_obj().filter(|o| o.kind() == Kind::Map)?;
        o.body::<MapBody>().entries.get(&map_key_of(key)?).copied()
    }

    /// MapBox fast path for `has(k)`: `None` if `map` is not a MapBox or
    /// `key` cannot be a key.
    #[inline(always)]
    pub fn map_has(map: Value, key: Value) -> Option<bool> {
        let o = map.as_obj().filter(|o| o.kind() == Kind::Map)?;
        Some(o.body::<MapBody>().entries.contains_key(&map_key_of(key)?))
    }

    /// MapBox fast path for `set(k, v)`: `None` if `map` is not a MapBox or
    /// `key` cannot be a key. A replaced value is queued for release (drive
    /// the heap after).
    #[inline]
    pub fn map_set(&mut self, map: Value, key: Value, value: Value) -> Option<Result<(), Trap>> {
        let o = map.as_obj().filter(|o| o.kind() == Kind::Map)?;
        Some(self.map_store(o, map_key_of(key)?, value))
    }

    /// MapBox fast path for `delete(k)`: `None` if `map` is not a MapBox or
    /// `key` cannot be a key. The removed value is queued for release.
    #[inline]
    pub fn map_delete(&mut self, map: Value, key: Value) -> Option<bool> {
        let o = map.as_obj().filter(|o| o.kind() == Kind::Map)?;
        Some(self.map_remove(o, &map_key_of(key)?))
    }

    /// MapBox fast path for `size()`.
    #[inline]
    pub fn map_size(map: Value) -> Option<i64> {
        let o = map.as_obj().filter(|o| o.kind() == Kind::Map)?;
        Some(o.body::<MapBody>().entries.len() as i64)
    }

    /// StringBox fast path for `concat(s)`: `None` unless `string` and `tail`
    /// are StringBoxes. A handed-over (`owned`) unique receiver is appended
    /// to in place.
    #[inline]
    pub fn string_concat(&mut self, string: Value, owned: bool, tail: Value) -> Option<Result<BuiltinResult, Trap>> {
        let o = string.as_obj().filter(|o| o.kind() == Kind::Str)?;
        Some(self.concat(o, owned, tail.as_str()?))
    }

    /// StringBox fast path for `length()`.
    #[inline]
    pub fn string_len(string: Value) -> Option<i64> {
        let o = string.as_obj().filter(|o| o.kind() == Kind::Str)?;
        Some(o.string_chars() as i64)
    }
}

/// The MapBox key `v` stands for, if it can be one (§7).
#[inline]
fn map_key_of(v: Value) -> Option<MapKey> {
    match v {
        Value::I64(n) => Some(MapKey::Int(n)),
        Value::Bool(b) => Some(MapKey::Bool(b)),
        v => string_key(v),
    }
}

/// The MapBox key of a StringBox (a copy of its text).
fn string_key(v: Value) -> Option<MapKey> {
    v.as_str().map(|s| MapKey::Str(s.into()))
}

/// `s` with every `from` replaced by `to` (an empty `from` matches around
/// every char, as `str::replace`), in a buffer of `size` bytes (at least the result) reserved
/// fallibly: `out of memory` rather than an abort.
fn replaced(s: &str, from: &str, to: &str, size: usize) -> Result<String, Trap> {
    let mut out = String::new();
    out.try_reserve_exact(size).map_err(|_| Trap::OutOfMemory)?;
    if from.is_empty() {
        out.push_str(to);
        for c in s.chars() {
            out.push(c);
            out.push_str(to);
        }
    } else {
        let mut last = 0;
        for (at, found) in s.match_indices(from) {
            out.push_str(&s[last..at]);
            out.push_str(to);
            last = at + found.len();
        }
        out.push_str(&s[last..]);
    }
    Ok(out)
}

/// The char index of byte offset `at` (a char boundary) in `s`, which
/// holds `chars` chars.
fn char_offset(s: &str, chars: usize, at: usize) -> usize {
    if chars == s.len() { at } else { s[..at].chars().count() }
}

/// Checks `i` against a length: `0 <= i < len`.
pub(crate) fn index(i: i64, len: usize) -> Result<usize, Trap> {
    usize::try_from(i).ok().filter(|&i| i < len).ok_or(Trap::IndexOutOfBounds { index: i, len })
}

/// Checks a `[i, j)` range: `0 <= i <= j <= len`; the first offending
/// bound is reported.
fn range(i: i64, j: i64, len: usize) -> Result<(usize, usize), Trap> {
    let end = usize::try_from(j).ok().filter(|&j| j <= len).ok_or(Trap::IndexOutOfBounds { index: j, len })?;
    let start = usize::try_from(i).ok().filter(|&i| i <= end).ok_or(Trap::IndexOutOfBounds { index: i, len })?;
    Ok((start, end))
}

/// Byte range of the chars `[i, j)` of `s`, which holds `chars` chars.
fn char_range(s: &str, chars: usize, i: i64, j: i64) -> Result<(usize, usize), Trap> {
    let (start, end) = range(i, j, chars)?;
    if chars == s.len() {
        return Ok((start, end));
    }
    let byte = |n: usize| s.char_indices().nth(n).map_or(s.len(), |(b, _)| b);
    Ok((byte(start), byte(end)))
}

/// The `i`-th char of `s`, which holds `chars` chars.
fn char_at(s: &str, chars: usize, i: i64) -> Result<char, Trap> {
    let i = index(i, chars)?;
    Ok(if chars == s.len() { s.as_bytes()[i] as char } else { s.chars().nth(i).unwrap_or_default() })
}

/// Wrapping integer power by squaring.
fn wrapping_pow(mut base: i64, mut exp: u64) -> i64 {
    let mut acc: i64 = 1;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = acc.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        exp >>= 1;
    }
    acc
}

/// Most digits `toFixed` produces; past it the argument is refused.
const MAX_FIXED_DIGITS: usize = 1000;

/// `toFixed(n)`: correctly rounded, like C's `%.nf`; `NaN`, `inf`, `-inf`
/// for non-finite values.
fn to_fixed(x: f64, digits: usize) -> Result<String, Trap> {
    if digits > MAX_FIXED_DIGITS {
        return Err(Trap::InvalidArgument(format!(
            "FloatBox.toFixed: at most {MAX_FIXED_DIGITS} digits, got {digits}"
        )));
    }
    if !x.is_finite() {
        return Ok(mir::display_f64(x));
    }
    Ok(format!("{x:.digits$}"))
}

/// `toInteger` of a string: `[+-]?[0-9]+` within i64, else `None`.
fn parse_integer(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `toFloat` of a string: decimal or scientific notation, `inf`, `NaN`.
fn parse_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let special = matches!(body, "inf" | "NaN");
    let numeric = !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && body.bytes().any(|b| b.is_ascii_digit());
    if special || numeric { s.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaced_matches_str_replace() {
        for s in ["", "abc", "aaa", "héllo wörld", "a,b,,c,"] {
            for from in ["", "a", "aa", ",", "ö", "zz"] {
                for to in ["", "-", "xyz", "é"] {
                    // As `replace` reserves: the matches removed are not subtracted.
                    let count = if from.is_empty() { s.chars().count() + 1 } else { s.matches(from).count() };
                    let size = s.len() + count * to.len();
                    let got = super::replaced(s, from, to, size).expect("small strings fit");
                    assert_eq!(got, s.replace(from, to), "{s:?}.replace({from:?}, {to:?})");
                    assert!(got.len() <= size, "{s:?}.replace({from:?}, {to:?})");
                }
            }
        }
    }
}
