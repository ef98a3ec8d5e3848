//! Generated MIR13 modules of a chosen size, for the benches: ordinary
//! code (loops with phis, diamonds, calls, boxcalls).

use std::fmt::Write;

/// One function of roughly 60 instructions; `k` names it and its callee.
fn write_function(out: &mut String, k: usize) {
    let callee = if k == 0 { "leaf".to_string() } else { format!("f{}", k - 1) };
    let _ = writeln!(out, "func @f{k}(%n: i64, %s: box) -> i64 {{");
    out.push_str("entry:\n  jump head\nhead:\n");
    out.push_str("  %i = phi i64 [0, entry], [%i2, latch]\n  %acc = phi i64 [0, entry], [%acc2, latch]\n");
    out.push_str("  %c = compare lt %i, %n\n  branch %c, body, exit\nbody:\n  %t0 = binop mul %i, 3\n");
    for j in 1..24 {
        let op = ["add", "sub", "xor", "mul"][j % 4];
        let _ = writeln!(out, "  %t{j} = binop {op} %t{}, {j}", j - 1);
    }
    out.push_str("  %bit = binop and %t23, 1\n  %odd = compare ne %bit, 0\n  branch %odd, left, right\n");
    out.push_str("left:\n  %l = binop add %t23, 1\n  jump latch\n");
    let _ = writeln!(out, "right:\n  %r = call @{callee}(%i, %s)\n  jump latch");
    out.push_str("latch:\n  %x = phi i64 [%l, left], [%r, right]\n  %len = boxcall %s.length() -> i64\n");
    out.push_str("  %str = boxcall %x.toString()\n  %s2 = boxcall %s.concat(%str)\n");
    out.push_str("  %big = compare gt %len, 100\n  %acc1 = binop add %acc, %x\n");
    out.push_str("  %acc2 = binop add %acc1, %len\n  %i2 = binop add %i, 1\n  jump head\n");
    out.push_str("exit:\n  externcall env.console.log(%acc)\n  return %acc\n}\n\n");
}

/// A module of at least `target` instructions (immediate constants count,
/// as the parser materialises them), with a `@main` that reaches every
/// function (the JIT compiles only what a run can reach).
pub fn generate(target: usize) -> String {
    let mut out = String::from("func @leaf(%n: i64, %s: box) -> i64 {\nentry:\n  return %n\n}\n\n");
    let per_function = {
        let mut one = String::new();
        write_function(&mut one, 1);
        let parsed = mir::parse(&(out.clone() + &one.replace("@f0", "@leaf"))).expect("generated text parses");
        parsed.module.inst_count() - 1
    };
    let functions = target.div_ceil(per_function);
    for k in 0..functions {
        write_function(&mut out, k);
    }
    let top = functions - 1;
    let _ = writeln!(out, "func @main() -> i64 {{\nentry:\n  %r = call @f{top}(0, \"\")\n  return %r\n}}");
    out
}
