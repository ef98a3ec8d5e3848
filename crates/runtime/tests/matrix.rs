//! Every MatrixBox and TensorBox method on small hand-computed cases,
//! called through the runtime's dispatch as every backend calls it: results,
//! display forms, in-place reuse and the traps of wrong shapes, indices,
//! sizes and argument kinds.

use mir::{BuiltinClass, ClassRef, Module, NoExterns, Program};
use runtime::{HostRegistry, Io, Method, RunConfig, Runtime, StaticResult, Trap, Value};
use std::sync::{Arc, Mutex};

/// A runtime for an empty program whose symbol table knows the static
/// method names (static calls resolve names through the module).
fn runtime_with(config: RunConfig) -> Runtime {
    let mut module = Module::new();
    for name in ["new", "identity", "fromArray", "random", "zeros", "nope"] {
        module.symbols.intern(name);
    }
    let program = Program::new(module, None, &NoExterns).expect("an empty module verifies");
    let sink = || Arc::new(Mutex::new(Vec::new()));
    Runtime::new(Arc::new(program), Arc::new(HostRegistry::standard()), config, Io::capture(b"", sink(), sink()))
}

fn runtime() -> Runtime {
    runtime_with(RunConfig::default())
}

fn stat(rt: &mut Runtime, class: BuiltinClass, name: &str, args: &[Value]) -> Result<Value, Trap> {
    let sym = rt.program().module().symbols.lookup(name).expect("interned name");
    let method = rt.method_ref(sym);
    match rt.call_static(ClassRef::Builtin(class), method, args)? {
        StaticResult::Value(v) => Ok(v),
        StaticResult::Birth { .. } => panic!("built-in classes have no birth"),
    }
}

fn matrix(rt: &mut Runtime, name: &str, args: &[Value]) -> Result<Value, Trap> {
    stat(rt, BuiltinClass::Matrix, name, args)
}

fn tensor(rt: &mut Runtime, name: &str, args: &[Value]) -> Result<Value, Trap> {
    stat(rt, BuiltinClass::Tensor, name, args)
}

/// `recv.name(args)` with the receiver borrowed.
fn call(rt: &mut Runtime, recv: Value, name: &str, args: &[Value]) -> Result<Value, Trap> {
    let method = Method::from_name(name).expect("a built-in method");
    Ok(rt.call_builtin(recv, false, method, args)?.value)
}

/// `recv.name(args)` with the receiver handed over (its last use).
fn call_owned(rt: &mut Runtime, recv: Value, name: &str, args: &[Value]) -> Result<Value, Trap> {
    let method = Method::from_name(name).expect("a built-in method");
    let result = rt.call_builtin(recv, true, method, args)?;
    if !result.took_receiver {
        release(rt, recv);
    }
    Ok(result.value)
}

fn release(rt: &mut Runtime, v: Value) {
    let base = rt.heap.release_base();
    rt.heap.push_release(v);
    assert!(rt.heap.drive(base).is_none());
}

fn show(rt: &mut Runtime, v: Value) -> String {
    rt.display(v).expect("a small display fits")
}

fn message(r: Result<Value, Trap>) -> String {
    r.expect_err("a trap").to_string()
}

fn ints(rt: &mut Runtime, xs: &[i64]) -> Value {
    rt.new_array(xs.iter().map(|&x| Value::I64(x)).collect()).expect("array")
}

fn floats(rt: &mut Runtime, xs: &[f64]) -> Value {
    rt.new_array(xs.iter().map(|&x| Value::F64(x)).collect()).expect("array")
}

fn mat(rt: &mut Runtime, r: i64, c: i64, xs: &[f64]) -> Value {
    let data = floats(rt, xs);
    let m = matrix(rt, "fromArray", &[Value::I64(r), Value::I64(c), data]).expect("matrix");
    release(rt, data);
    m
}

fn ten(rt: &mut Runtime, shape: &[i64], xs: &[f64]) -> Value {
    let (s, d) = (ints(rt, shape), floats(rt, xs));
    let t = tensor(rt, "fromArray", &[s, d]).expect("tensor");
    release(rt, s);
    release(rt, d);
    t
}

fn f(v: Value) -> f64 {
    match v {
        Value::F64(x) => x,
        other => panic!("expected a float, got {other:?}"),
    }
}

// ---- MatrixBox ----

#[test]
fn matrix_constructors() {
    let mut rt = runtime();
    let z = matrix(&mut rt, "new", &[Value::I64(2), Value::I64(3)]).unwrap();
    assert_eq!(show(&mut rt, z), "MatrixBox([2, 3] [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])");
    let i = matrix(&mut rt, "identity", &[Value::I64(2)]).unwrap();
    assert_eq!(show(&mut rt, i), "MatrixBox([2, 2] [[1.0, 0.0], [0.0, 1.0]])");
    let data = rt.new_array(vec![Value::I64(1), Value::F64(2.5), Value::I64(-3), Value::F64(0.1)]).unwrap();
    let m = matrix(&mut rt, "fromArray", &[Value::I64(2), Value::I64(2), data]).unwrap();
    release(&mut rt, data);
    assert_eq!(show(&mut rt, m), "MatrixBox([2, 2] [[1.0, 2.5], [-3.0, 0.1]])");
    let empty = matrix(&mut rt, "new", &[Value::I64(0), Value::I64(3)]).unwrap();
    assert_eq!(show(&mut rt, empty), "MatrixBox([0, 3] [])");
    let r = matrix(&mut rt, "random", &[Value::I64(1), Value::I64(2), Value::I64(42)]).unwrap();
    assert_eq!(show(&mut rt, r), "MatrixBox([1, 2] [[0.7415648787718233, 0.1599103928769201]])");
    let again = matrix(&mut rt, "random", &[Value::I64(1), Value::I64(2), Value::I64(42)]).unwrap();
    assert_eq!(show(&mut rt, again), show(&mut rt, r));
    // A negative seed is its two's-complement bit pattern.
    let neg = matrix(&mut rt, "random", &[Value::I64(1), Value::I64(1), Value::I64(-1)]).unwrap();
    let x = f(call(&mut rt, neg, "get", &[Value::I64(0), Value::I64(0)]).unwrap());
    let mut rng = runtime::kernels::SplitMix64::new(u64::MAX);
    assert_eq!(x, rng.next_f64());
    for v in [z, i, m, empty, r, again, neg] {
        release(&mut rt, v);
    }
    assert_eq!(rt.stats().live(), 0);
}

#[test]
fn matrix_constructor_traps() {
    let mut rt = runtime();
    let huge = matrix(&mut rt, "new", &[Value::I64(1_000_000_000), Value::I64(1_000_000_000)]);
    assert_eq!(message(huge), "out of memory");
    let overflow = matrix(&mut rt, "new", &[Value::I64(i64::MAX), Value::I64(i64::MAX)]);
    assert_eq!(message(overflow), "out of memory");
    assert_eq!(message(matrix(&mut rt, "identity", &[Value::I64(1 << 40)])), "out of memory");
    assert_eq!(
        message(matrix(&mut rt, "new", &[Value::I64(-1), Value::I64(2)])),
        "invalid argument: MatrixBox.new count must not be negative, got -1"
    );
    assert_eq!(
        message(matrix(&mut rt, "new", &[Value::F64(1.0), Value::I64(2)])),
        "type error: MatrixBox.new argument 1: expected IntegerBox, got FloatBox"
    );
    assert_eq!(
        message(matrix(&mut rt, "new", &[Value::I64(1)])),
        "arity mismatch: MatrixBox.new takes 2 arguments, got 1"
    );
    let data = floats(&mut rt, &[1.0, 2.0, 3.0]);
    assert_eq!(
        message(matrix(&mut rt, "fromArray", &[Value::I64(2), Value::I64(2), data])),
        "shape mismatch: fromArray of [2, 2] and [3]"
    );
    let s = rt.new_string("x".into()).unwrap();
    let bad = rt.new_array(vec![Value::F64(1.0), s]).unwrap();
    assert_eq!(
        message(matrix(&mut rt, "fromArray", &[Value::I64(1), Value::I64(2), bad])),
        "type error: MatrixBox.fromArray element 1: expected FloatBox or IntegerBox, got StringBox"
    );
    assert_eq!(
        message(matrix(&mut rt, "fromArray", &[Value::I64(1), Value::I64(1), Value::F64(1.0)])),
        "type error: MatrixBox.fromArray argument 3: expected ArrayBox, got FloatBox"
    );
    assert_eq!(message(matrix(&mut rt, "nope", &[])), "unknown method: MatrixBox has no method 'nope'");
    assert_eq!(message(matrix(&mut rt, "zeros", &[])), "unknown method: MatrixBox has no method 'zeros'");
}

#[test]
fn matrix_limit_is_checked_before_allocating() {
    let config = RunConfig { max_memory: Some(1 << 20), ..RunConfig::default() };
    let mut rt = runtime_with(config);
    assert_eq!(message(matrix(&mut rt, "new", &[Value::I64(1000), Value::I64(1000)])), "out of memory");
    // 720 KB fits once under 1 MiB, not twice.
    let ok = matrix(&mut rt, "new", &[Value::I64(300), Value::I64(300)]).unwrap();
    assert_eq!(message(call(&mut rt, ok, "matmul", &[ok])), "out of memory");
    assert_eq!(message(call(&mut rt, ok, "toArray", &[])), "out of memory");
}

#[test]
fn matrix_elements() {
    let mut rt = runtime();
    let m = mat(&mut rt, 2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert!(matches!(call(&mut rt, m, "rows", &[]), Ok(Value::I64(2))));
    assert!(matches!(call(&mut rt, m, "cols", &[]), Ok(Value::I64(3))));
    assert_eq!(f(call(&mut rt, m, "get", &[Value::I64(1), Value::I64(2)]).unwrap()), 6.0);
    call(&mut rt, m, "set", &[Value::I64(0), Value::I64(1), Value::F64(-7.5)]).unwrap();
    assert_eq!(f(call(&mut rt, m, "get", &[Value::I64(0), Value::I64(1)]).unwrap()), -7.5);
    assert_eq!(message(call(&mut rt, m, "get", &[Value::I64(2), Value::I64(0)])), "index 2 out of bounds for length 2");
    assert_eq!(
        message(call(&mut rt, m, "get", &[Value::I64(0), Value::I64(-1)])),
        "index -1 out of bounds for length 3"
    );
    assert_eq!(
        message(call(&mut rt, m, "set", &[Value::I64(0), Value::I64(0), Value::I64(1)])),
        "type error: MatrixBox.set argument 3: expected FloatBox, got IntegerBox"
    );
    let arr = call(&mut rt, m, "toArray", &[]).unwrap();
    assert_eq!(show(&mut rt, arr), "[1.0, -7.5, 3.0, 4.0, 5.0, 6.0]");
    let text = call(&mut rt, m, "toString", &[]).unwrap();
    assert_eq!(text.as_str(), Some("MatrixBox([2, 3] [[1.0, -7.5, 3.0], [4.0, 5.0, 6.0]])"));
    assert_eq!(message(call(&mut rt, m, "relu", &[])), "unknown method: MatrixBox has no method 'relu'");
    assert_eq!(
        message(call(&mut rt, m, "rows", &[Value::I64(1)])),
        "arity mismatch: MatrixBox.rows takes 0 arguments, got 1"
    );
}

#[test]
fn matrix_arithmetic() {
    let mut rt = runtime();
    let a = mat(&mut rt, 2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = mat(&mut rt, 3, 2, &[7.0, 8.0, 9.0, 10.0, 11.0, 12.0]);
    let p = call(&mut rt, a, "matmul", &[b]).unwrap();
    assert_eq!(show(&mut rt, p), "MatrixBox([2, 2] [[58.0, 64.0], [139.0, 154.0]])");
    assert_eq!(message(call(&mut rt, a, "matmul", &[a])), "shape mismatch: matmul of [2, 3] and [2, 3]");
    assert_eq!(
        message(call(&mut rt, a, "matmul", &[Value::I64(1)])),
        "type error: MatrixBox.matmul argument 1: expected MatrixBox, got IntegerBox"
    );
    let c = mat(&mut rt, 2, 3, &[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
    let sum = call(&mut rt, a, "add", &[c]).unwrap();
    assert_eq!(show(&mut rt, sum), "MatrixBox([2, 3] [[7.0, 7.0, 7.0], [7.0, 7.0, 7.0]])");
    let diff = call(&mut rt, a, "sub", &[c]).unwrap();
    assert_eq!(show(&mut rt, diff), "MatrixBox([2, 3] [[-5.0, -3.0, -1.0], [1.0, 3.0, 5.0]])");
    let prod = call(&mut rt, a, "mul", &[c]).unwrap();
    assert_eq!(show(&mut rt, prod), "MatrixBox([2, 3] [[6.0, 10.0, 12.0], [12.0, 10.0, 6.0]])");
    assert_eq!(message(call(&mut rt, a, "add", &[b])), "shape mismatch: add of [2, 3] and [3, 2]");
    assert_eq!(message(call(&mut rt, a, "mul", &[b])), "shape mismatch: mul of [2, 3] and [3, 2]");
    let scaled = call(&mut rt, a, "scale", &[Value::F64(0.5)]).unwrap();
    assert_eq!(show(&mut rt, scaled), "MatrixBox([2, 3] [[0.5, 1.0, 1.5], [2.0, 2.5, 3.0]])");
    let t = call(&mut rt, a, "transpose", &[]).unwrap();
    assert_eq!(show(&mut rt, t), "MatrixBox([3, 2] [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])");
    assert_eq!(f(call(&mut rt, a, "sum", &[]).unwrap()), 21.0);
    let v = mat(&mut rt, 1, 3, &[3.0, 4.0, 0.0]);
    assert_eq!(f(call(&mut rt, v, "norm", &[]).unwrap()), 5.0);
    // The receiver is unchanged by the functional updates (it was borrowed).
    assert_eq!(show(&mut rt, a), "MatrixBox([2, 3] [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])");
}

#[test]
fn matrix_updates_reuse_a_unique_dying_receiver() {
    let mut rt = runtime();
    let a = mat(&mut rt, 2, 2, &[1.0, 2.0, 3.0, 4.0]);
    let b = mat(&mut rt, 2, 2, &[1.0, 1.0, 1.0, 1.0]);
    let before = rt.stats();
    let a2 = call_owned(&mut rt, a, "add", &[b]).unwrap();
    let a3 = call_owned(&mut rt, a2, "scale", &[Value::F64(2.0)]).unwrap();
    let a4 = call_owned(&mut rt, a3, "transpose", &[]).unwrap();
    let a5 = call_owned(&mut rt, a4, "mul", &[b]).unwrap();
    let a6 = call_owned(&mut rt, a5, "sub", &[b]).unwrap();
    let after = rt.stats();
    assert_eq!(after.allocated, before.allocated, "no box allocated");
    assert_eq!(after.reused, before.reused + 5);
    assert_eq!(a6.as_obj(), a.as_obj());
    assert_eq!(show(&mut rt, a6), "MatrixBox([2, 2] [[3.0, 7.0], [5.0, 9.0]])");
    // A shared receiver is copied: the other reference sees no change.
    a6.retain();
    let copy = call_owned(&mut rt, a6, "scale", &[Value::F64(10.0)]).unwrap();
    assert_ne!(copy.as_obj(), a6.as_obj());
    assert_eq!(show(&mut rt, a6), "MatrixBox([2, 2] [[3.0, 7.0], [5.0, 9.0]])");
    assert_eq!(show(&mut rt, copy), "MatrixBox([2, 2] [[30.0, 70.0], [50.0, 90.0]])");
    // A non-square transpose cannot be done in place.
    let wide = mat(&mut rt, 1, 2, &[1.0, 2.0]);
    let tall = call_owned(&mut rt, wide, "transpose", &[]).unwrap();
    assert_eq!(show(&mut rt, tall), "MatrixBox([2, 1] [[1.0], [2.0]])");
    for v in [a6, b, copy, tall] {
        release(&mut rt, v);
    }
    assert_eq!(rt.stats().live(), 0);
}

// ---- TensorBox ----

#[test]
fn tensor_constructors() {
    let mut rt = runtime();
    let shape = ints(&mut rt, &[2, 2]);
    let z = tensor(&mut rt, "zeros", &[shape]).unwrap();
    assert_eq!(show(&mut rt, z), "TensorBox([2, 2] [[0.0, 0.0], [0.0, 0.0]])");
    let scalar_shape = ints(&mut rt, &[]);
    let s = tensor(&mut rt, "zeros", &[scalar_shape]).unwrap();
    assert_eq!(show(&mut rt, s), "TensorBox([] 0.0)");
    assert!(matches!(call(&mut rt, s, "rank", &[]), Ok(Value::I64(0))));
    let t = ten(&mut rt, &[3], &[0.1, 1.0, -2.5]);
    assert_eq!(show(&mut rt, t), "TensorBox([3] [0.1, 1.0, -2.5])");
    let two = ints(&mut rt, &[2]);
    let r = tensor(&mut rt, "random", &[two, Value::I64(42)]).unwrap();
    assert_eq!(show(&mut rt, r), "TensorBox([2] [0.74156487, 0.1599104])");
    let cube = ten(&mut rt, &[2, 1, 2], &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(show(&mut rt, cube), "TensorBox([2, 1, 2] [[[1.0, 2.0]], [[3.0, 4.0]]])");
    let dims = call(&mut rt, cube, "shape", &[]).unwrap();
    assert_eq!(show(&mut rt, dims), "[2, 1, 2]");
    assert!(matches!(call(&mut rt, cube, "rank", &[]), Ok(Value::I64(3))));
}

#[test]
fn tensor_constructor_traps() {
    let mut rt = runtime();
    let neg = ints(&mut rt, &[2, -3]);
    assert_eq!(
        message(tensor(&mut rt, "zeros", &[neg])),
        "invalid argument: TensorBox.zeros: dimension -3 must not be negative"
    );
    let deep = ints(&mut rt, &[1; 33]);
    assert_eq!(
        message(tensor(&mut rt, "zeros", &[deep])),
        "invalid argument: TensorBox.zeros: rank 33 exceeds the maximum of 32"
    );
    let huge = ints(&mut rt, &[1_000_000_000, 1_000_000_000]);
    assert_eq!(message(tensor(&mut rt, "zeros", &[huge])), "out of memory");
    let overflow = ints(&mut rt, &[i64::MAX, i64::MAX, i64::MAX]);
    assert_eq!(message(tensor(&mut rt, "random", &[overflow, Value::I64(1)])), "out of memory");
    // Empty, but its other dimensions multiply past 64 bits: index arithmetic
    // on it could overflow, so it is refused like any size too large.
    let hollow = ints(&mut rt, &[0, 1 << 40, 1 << 40]);
    assert_eq!(message(tensor(&mut rt, "zeros", &[hollow])), "out of memory");
    let (wide, tall) = (ints(&mut rt, &[1 << 40, 1, 0]), ints(&mut rt, &[1, 1 << 40, 0]));
    let (w, t) = (tensor(&mut rt, "zeros", &[wide]).unwrap(), tensor(&mut rt, "zeros", &[tall]).unwrap());
    assert_eq!(message(call(&mut rt, w, "add", &[t])), "out of memory");
    let floaty = floats(&mut rt, &[2.0]);
    assert_eq!(
        message(tensor(&mut rt, "zeros", &[floaty])),
        "type error: TensorBox.zeros element 0: expected IntegerBox, got FloatBox"
    );
    let (shape, data) = (ints(&mut rt, &[2, 2]), floats(&mut rt, &[1.0]));
    assert_eq!(message(tensor(&mut rt, "fromArray", &[shape, data])), "shape mismatch: fromArray of [2, 2] and [1]");
    assert_eq!(
        message(tensor(&mut rt, "zeros", &[Value::I64(2)])),
        "type error: TensorBox.zeros argument 1: expected ArrayBox, got IntegerBox"
    );
    assert_eq!(message(tensor(&mut rt, "identity", &[])), "unknown method: TensorBox has no method 'identity'");
}

#[test]
fn tensor_elements_and_reshape() {
    let mut rt = runtime();
    let t = ten(&mut rt, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let at = ints(&mut rt, &[1, 2]);
    assert_eq!(f(call(&mut rt, t, "get", &[at]).unwrap()), 6.0);
    let at0 = ints(&mut rt, &[0, 1]);
    call(&mut rt, t, "set", &[at0, Value::F64(0.1)]).unwrap();
    // Stored as f32, read back as the f64 of that f32.
    assert_eq!(f(call(&mut rt, t, "get", &[at0]).unwrap()), 0.1f32 as f64);
    let bad = ints(&mut rt, &[2, 0]);
    assert_eq!(message(call(&mut rt, t, "get", &[bad])), "index 2 out of bounds for length 2");
    let short = ints(&mut rt, &[1]);
    assert_eq!(
        message(call(&mut rt, t, "get", &[short])),
        "invalid argument: TensorBox.get: 1 indices for a tensor of rank 2"
    );
    let r = ints(&mut rt, &[3, -1]);
    let reshaped = call(&mut rt, t, "reshape", &[r]).unwrap();
    assert_eq!(show(&mut rt, reshaped), "TensorBox([3, 2] [[1.0, 0.1], [3.0, 4.0], [5.0, 6.0]])");
    let wrong = ints(&mut rt, &[4, 2]);
    assert_eq!(message(call(&mut rt, t, "reshape", &[wrong])), "shape mismatch: reshape of [2, 3] and [4, 2]");
    let wrong_infer = ints(&mut rt, &[4, -1]);
    assert_eq!(message(call(&mut rt, t, "reshape", &[wrong_infer])), "shape mismatch: reshape of [2, 3] and [4, -1]");
    let flat = call(&mut rt, t, "toArray", &[]).unwrap();
    assert_eq!(show(&mut rt, flat), format!("[1.0, {}, 3.0, 4.0, 5.0, 6.0]", 0.1f32 as f64));
    let text = call(&mut rt, t, "toString", &[]).unwrap();
    assert_eq!(text.as_str(), Some("TensorBox([2, 3] [[1.0, 0.1, 3.0], [4.0, 5.0, 6.0]])"));
}

#[test]
fn tensor_broadcasting() {
    let mut rt = runtime();
    let x = ten(&mut rt, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let bias = ten(&mut rt, &[3], &[10.0, 20.0, 30.0]);
    let y = call(&mut rt, x, "add", &[bias]).unwrap();
    assert_eq!(show(&mut rt, y), "TensorBox([2, 3] [[11.0, 22.0, 33.0], [14.0, 25.0, 36.0]])");
    let col = ten(&mut rt, &[2, 1], &[1.0, 2.0]);
    let row = ten(&mut rt, &[1, 3], &[1.0, 2.0, 4.0]);
    let outer = call(&mut rt, col, "div", &[row]).unwrap();
    assert_eq!(show(&mut rt, outer), "TensorBox([2, 3] [[1.0, 0.5, 0.25], [2.0, 1.0, 0.5]])");
    let d = call(&mut rt, x, "sub", &[x]).unwrap();
    assert_eq!(show(&mut rt, d), "TensorBox([2, 3] [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])");
    let m = call(&mut rt, x, "mul", &[col]).unwrap();
    assert_eq!(show(&mut rt, m), "TensorBox([2, 3] [[1.0, 2.0, 3.0], [8.0, 10.0, 12.0]])");
    let two = ten(&mut rt, &[2], &[1.0, 2.0]);
    assert_eq!(message(call(&mut rt, x, "add", &[two])), "shape mismatch: add of [2, 3] and [2]");
    assert_eq!(
        message(call(&mut rt, x, "add", &[Value::F64(1.0)])),
        "type error: TensorBox.add argument 1: expected TensorBox, got FloatBox"
    );
    // In place when the result has the receiver's shape, else a new box.
    let before = rt.stats();
    let y2 = call_owned(&mut rt, y, "add", &[bias]).unwrap();
    assert_eq!(y2.as_obj(), y.as_obj());
    assert_eq!(rt.stats().reused, before.reused + 1);
    assert_eq!(show(&mut rt, y2), "TensorBox([2, 3] [[21.0, 42.0, 63.0], [24.0, 45.0, 66.0]])");
    let grown = call_owned(&mut rt, col, "add", &[row]).unwrap();
    assert_eq!(show(&mut rt, grown), "TensorBox([2, 3] [[2.0, 3.0, 5.0], [3.0, 4.0, 6.0]])");
}

#[test]
fn tensor_matmul_two_and_three_dimensional() {
    let mut rt = runtime();
    let a = ten(&mut rt, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = ten(&mut rt, &[3, 2], &[7.0, 8.0, 9.0, 10.0, 11.0, 12.0]);
    let p = call(&mut rt, a, "matmul", &[b]).unwrap();
    assert_eq!(show(&mut rt, p), "TensorBox([2, 2] [[58.0, 64.0], [139.0, 154.0]])");
    let batch = ten(&mut rt, &[2, 2, 2], &[1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
    let rhs = ten(&mut rt, &[2, 2, 1], &[1.0, 2.0, 3.0, 4.0]);
    let bp = call(&mut rt, batch, "matmul", &[rhs]).unwrap();
    assert_eq!(show(&mut rt, bp), "TensorBox([2, 2, 1] [[[1.0], [2.0]], [[4.0], [3.0]]])");
    let mat2 = ten(&mut rt, &[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let shared = call(&mut rt, batch, "matmul", &[mat2]).unwrap();
    assert_eq!(show(&mut rt, shared), "TensorBox([2, 2, 2] [[[1.0, 2.0], [3.0, 4.0]], [[3.0, 4.0], [1.0, 2.0]]])");
    let left = call(&mut rt, mat2, "matmul", &[batch]).unwrap();
    assert_eq!(show(&mut rt, left), "TensorBox([2, 2, 2] [[[1.0, 2.0], [3.0, 4.0]], [[2.0, 1.0], [4.0, 3.0]]])");
    let one = ten(&mut rt, &[1, 2, 2], &[0.0, 1.0, 1.0, 0.0]);
    let broadcast = call(&mut rt, one, "matmul", &[rhs]).unwrap();
    assert_eq!(show(&mut rt, broadcast), "TensorBox([2, 2, 1] [[[2.0], [1.0]], [[4.0], [3.0]]])");
    assert_eq!(message(call(&mut rt, a, "matmul", &[a])), "shape mismatch: matmul of [2, 3] and [2, 3]");
    let vec3 = ten(&mut rt, &[3], &[1.0, 2.0, 3.0]);
    assert_eq!(message(call(&mut rt, vec3, "matmul", &[b])), "shape mismatch: matmul of [3] and [3, 2]");
    let three = ten(&mut rt, &[3, 2, 2], &[0.0; 12]);
    assert_eq!(message(call(&mut rt, batch, "matmul", &[three])), "shape mismatch: matmul of [2, 2, 2] and [3, 2, 2]");
}

#[test]
fn tensor_activations() {
    let mut rt = runtime();
    let x = ten(&mut rt, &[4], &[-1.0, 0.0, 0.5, 2.0]);
    let relu = call(&mut rt, x, "relu", &[]).unwrap();
    assert_eq!(show(&mut rt, relu), "TensorBox([4] [0.0, 0.0, 0.5, 2.0])");
    let sig = call(&mut rt, x, "sigmoid", &[]).unwrap();
    let want: Vec<f32> = [-1.0f32, 0.0, 0.5, 2.0].iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect();
    assert_eq!(show(&mut rt, sig), format!("TensorBox([4] [{:?}, 0.5, {:?}, {:?}])", want[0], want[2], want[3]));
    let th = call(&mut rt, x, "tanh", &[]).unwrap();
    assert_eq!(
        show(&mut rt, th),
        format!("TensorBox([4] [{:?}, 0.0, {:?}, {:?}])", (-1f32).tanh(), 0.5f32.tanh(), 2f32.tanh())
    );
    let e = call(&mut rt, x, "exp", &[]).unwrap();
    assert_eq!(
        show(&mut rt, e),
        format!("TensorBox([4] [{:?}, 1.0, {:?}, {:?}])", (-1f32).exp(), 0.5f32.exp(), 2f32.exp())
    );
    let logits = ten(&mut rt, &[2, 2], &[0.0, 0.0, 1.0, 3.0]);
    let rows = call(&mut rt, logits, "softmax", &[Value::I64(-1)]).unwrap();
    let p = 1.0 / (1.0 + 2f64.exp());
    assert_eq!(
        show(&mut rt, rows),
        format!("TensorBox([2, 2] [[0.5, 0.5], [{:?}, {:?}]])", p as f32, (1.0 - p) as f32)
    );
    let cols = call(&mut rt, logits, "softmax", &[Value::I64(0)]).unwrap();
    let (q, r) = (1.0 / (1.0 + 1f64.exp()), 1.0 / (1.0 + 3f64.exp()));
    assert_eq!(
        show(&mut rt, cols),
        format!(
            "TensorBox([2, 2] [[{:?}, {:?}], [{:?}, {:?}]])",
            q as f32,
            r as f32,
            (1.0 - q) as f32,
            (1.0 - r) as f32
        )
    );
    assert_eq!(
        message(call(&mut rt, logits, "softmax", &[Value::I64(2)])),
        "invalid argument: TensorBox.softmax: axis 2 is out of range for rank 2"
    );
    assert_eq!(
        message(call(&mut rt, logits, "softmax", &[Value::I64(-3)])),
        "invalid argument: TensorBox.softmax: axis -3 is out of range for rank 2"
    );
    // Unique and dying: in place.
    let before = rt.stats();
    let r2 = call_owned(&mut rt, relu, "exp", &[]).unwrap();
    let r3 = call_owned(&mut rt, r2, "softmax", &[Value::I64(0)]).unwrap();
    assert_eq!(r3.as_obj(), relu.as_obj());
    assert_eq!(rt.stats().reused, before.reused + 2);
    assert_eq!(rt.stats().allocated, before.allocated);
}

#[test]
fn tensor_reductions() {
    let mut rt = runtime();
    let t = ten(&mut rt, &[2, 3], &[1.0, 5.0, 3.0, 4.0, 2.0, 6.0]);
    assert_eq!(f(call(&mut rt, t, "sum", &[]).unwrap()), 21.0);
    assert_eq!(f(call(&mut rt, t, "mean", &[]).unwrap()), 3.5);
    assert_eq!(f(call(&mut rt, t, "max", &[]).unwrap()), 6.0);
    let s0 = call(&mut rt, t, "sumAxis", &[Value::I64(0)]).unwrap();
    assert_eq!(show(&mut rt, s0), "TensorBox([3] [5.0, 7.0, 9.0])");
    let s1 = call(&mut rt, t, "sumAxis", &[Value::I64(-1)]).unwrap();
    assert_eq!(show(&mut rt, s1), "TensorBox([2] [9.0, 12.0])");
    let a1 = call(&mut rt, t, "argmax", &[Value::I64(1)]).unwrap();
    assert_eq!(show(&mut rt, a1), "TensorBox([2] [1.0, 2.0])");
    let a0 = call(&mut rt, t, "argmax", &[Value::I64(0)]).unwrap();
    assert_eq!(show(&mut rt, a0), "TensorBox([3] [1.0, 0.0, 1.0])");
    let ties = ten(&mut rt, &[4], &[2.0, 7.0, 7.0, 1.0]);
    let first = call(&mut rt, ties, "argmax", &[Value::I64(0)]).unwrap();
    assert_eq!(show(&mut rt, first), "TensorBox([] 1.0)");
    let no_rows = ints(&mut rt, &[0, 2]);
    let empty = tensor(&mut rt, "zeros", &[no_rows]).unwrap();
    assert_eq!(f(call(&mut rt, empty, "sum", &[]).unwrap()), 0.0);
    assert!(f(call(&mut rt, empty, "mean", &[]).unwrap()).is_nan());
    assert_eq!(message(call(&mut rt, empty, "max", &[])), "invalid argument: TensorBox.max of an empty tensor");
    assert_eq!(
        message(call(&mut rt, empty, "argmax", &[Value::I64(0)])),
        "invalid argument: TensorBox.argmax: axis 0 has length 0, not 1 to 16777216"
    );
    let cols = call(&mut rt, empty, "sumAxis", &[Value::I64(0)]).unwrap();
    assert_eq!(show(&mut rt, cols), "TensorBox([2] [0.0, 0.0])");
    assert_eq!(
        message(call(&mut rt, t, "sumAxis", &[Value::F64(0.0)])),
        "type error: TensorBox.sumAxis argument 1: expected IntegerBox, got FloatBox"
    );
}

#[test]
fn tensor_transpose() {
    let mut rt = runtime();
    let t = ten(&mut rt, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let tt = call(&mut rt, t, "transpose", &[]).unwrap();
    assert_eq!(show(&mut rt, tt), "TensorBox([3, 2] [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])");
    let cube = ten(&mut rt, &[2, 1, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let rc = call(&mut rt, cube, "transpose", &[]).unwrap();
    assert_eq!(show(&mut rt, rc), "TensorBox([3, 1, 2] [[[1.0, 4.0]], [[2.0, 5.0]], [[3.0, 6.0]]])");
    let sq = ten(&mut rt, &[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let before = rt.stats();
    let sq2 = call_owned(&mut rt, sq, "transpose", &[]).unwrap();
    assert_eq!(sq2.as_obj(), sq.as_obj());
    assert_eq!(rt.stats().allocated, before.allocated);
    assert_eq!(show(&mut rt, sq2), "TensorBox([2, 2] [[1.0, 3.0], [2.0, 4.0]])");
    let v = ten(&mut rt, &[3], &[1.0, 2.0, 3.0]);
    let vt = call(&mut rt, v, "transpose", &[]).unwrap();
    assert_eq!(show(&mut rt, vt), "TensorBox([3] [1.0, 2.0, 3.0])");
}

#[test]
fn tensor_reshape_reuses_a_unique_receiver() {
    let mut rt = runtime();
    let t = ten(&mut rt, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let shape = ints(&mut rt, &[6]);
    let before = rt.stats();
    let flat = call_owned(&mut rt, t, "reshape", &[shape]).unwrap();
    assert_eq!(flat.as_obj(), t.as_obj());
    assert_eq!(rt.stats().allocated, before.allocated);
    assert_eq!(show(&mut rt, flat), "TensorBox([6] [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])");
    for v in [flat, shape] {
        release(&mut rt, v);
    }
    assert_eq!(rt.heap.live_bytes(), 0, "every byte charged is given back");
}
