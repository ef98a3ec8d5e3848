//! Arrays that hold only floats. The JIT reads such an array's elements
//! without checking their tags while the array's `floats` byte says every
//! element is an f64, so every store of anything else must clear it and
//! make compiled code read the array again. Random sequences of stores of
//! every type, through two values of one array, with float reads between
//! them, must print and trap the same on every backend.

use mir13::{Backend, Engine, Io, RunConfig, RunOptions};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

/// One step of the program; indices run past the array's end now and then.
#[derive(Clone, Debug)]
enum Op {
    /// `a.get(i) -> f64`, printed (traps on anything but a float).
    GetFloat(u8),
    /// `a.set(i, x)` of a float.
    SetFloat(u8, i8),
    /// `b.set(i, 3)`: an integer, through the other value.
    SetInt(u8),
    /// `b.set(i, "s")`: an object.
    SetString(u8),
    PushFloat,
    PushInt,
    /// `b.pop()`, printed.
    Pop,
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6u8).prop_map(Op::GetFloat),
        2 => (0..6u8, any::<i8>()).prop_map(|(i, x)| Op::SetFloat(i, x)),
        1 => (0..6u8).prop_map(Op::SetInt),
        1 => (0..6u8).prop_map(Op::SetString),
        1 => Just(Op::PushFloat),
        1 => Just(Op::PushInt),
        1 => Just(Op::Pop),
        1 => Just(Op::Clear),
    ]
}

/// `@ops(a, b)` runs `ops` twice in a loop, called with one array as both.
fn program(ops: &[Op]) -> String {
    let mut body = String::new();
    for (k, op) in ops.iter().enumerate() {
        body += &match op {
            Op::GetFloat(i) => format!("  %g{k} = boxcall %a.get({i}) -> f64\n  externcall env.console.log(%g{k})\n"),
            Op::SetFloat(i, x) => format!("  boxcall %a.set({i}, {x}.5)\n"),
            Op::SetInt(i) => format!("  boxcall %b.set({i}, 3)\n"),
            Op::SetString(i) => format!("  boxcall %b.set({i}, \"s\")\n"),
            Op::PushFloat => "  boxcall %a.push(1.25)\n".to_string(),
            Op::PushInt => "  boxcall %b.push(7)\n".to_string(),
            Op::Pop => format!("  %p{k} = boxcall %b.pop()\n  externcall env.console.log(%p{k})\n"),
            Op::Clear => "  boxcall %b.clear()\n".to_string(),
        };
    }
    format!(
        "func @ops(%a: box, %b: box) {{
entry:
  jump loop
loop:
  %n = phi i64 [0, entry], [%n2, body]
  %more = compare lt %n, 2
  branch %more, body, done
body:
{body}  %n2 = binop add %n, 1
  jump loop
done:
  return
}}

func @main() -> i64 {{
entry:
  %arr = boxcall ArrayBox.filled(4, 0.5)
  call @ops(%arr, %arr)
  return 0
}}
"
    )
}

/// What a run printed, and its error's first line (empty if none).
fn run(src: &str, backend: Backend) -> (String, String) {
    let loaded = Engine::new().load("floats.mir", src.as_bytes()).unwrap_or_else(|d| panic!("{d}\n{src}"));
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let io = Io::capture(b"", Arc::clone(&stdout), Arc::new(Mutex::new(Vec::new())));
    let outcome = loaded.run(&RunOptions { backend, config: RunConfig::default() }, io);
    let printed = String::from_utf8(stdout.lock().unwrap().clone()).unwrap();
    let error = outcome.err().map_or(String::new(), |f| f.to_string().lines().next().unwrap_or("").to_string());
    (printed, error)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn stores_of_every_type_agree_on_every_backend(ops in prop::collection::vec(op(), 1..24)) {
        let src = program(&ops);
        let expected = run(&src, Backend::Interp);
        for backend in [Backend::Vm, Backend::Jit] {
            prop_assert_eq!(&run(&src, backend), &expected, "{:?} on\n{}", backend, src);
        }
    }
}
