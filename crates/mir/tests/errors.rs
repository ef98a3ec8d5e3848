//! One test per error a MIR13 text can contain (spec §2-§5): the message,
//! and the `LINE:COL` it points at, with the positions §5 prescribes.
//!
//! Every source below holds exactly one error unless its test says
//! otherwise. Sources start at column 0 so that line numbers and columns can
//! be read off the test text.

use mir::{Error, ExternSig, SourceFile, Type};
use std::collections::HashMap;

/// An error as a user sees it: message, 1-based line, 1-based column.
type Reported = (String, usize, usize);

/// The standard host functions of §9, plus one an embedder registers with
/// a scalar parameter (every standard one takes boxes, which accept
/// anything, so only such a function can receive an argument of a type
/// that never converts).
fn host() -> HashMap<String, ExternSig> {
    let sig = |params: &[Type], ret: Option<Type>| ExternSig { params: params.to_vec(), ret };
    [
        ("env.console.log", sig(&[Type::Box], None)),
        ("env.console.print", sig(&[Type::Box], None)),
        ("env.console.error", sig(&[Type::Box], None)),
        ("env.io.readLine", sig(&[], Some(Type::Box))),
        ("env.time.nowNanos", sig(&[], Some(Type::I64))),
        ("env.process.args", sig(&[], Some(Type::Box))),
        ("env.fs.readFile", sig(&[Type::Box], Some(Type::Box))),
        ("env.fs.writeFile", sig(&[Type::Box, Type::Box], None)),
        ("env.runtime.checkpoint", sig(&[], None)),
        ("test.sleepMillis", sig(&[Type::I64], None)),
    ]
    .into_iter()
    .map(|(name, sig)| (name.to_string(), sig))
    .collect()
}

/// Messages and positions of `errors` in `file`, in source order.
fn reported(file: &SourceFile, errors: &[Error]) -> Vec<Reported> {
    let mut list: Vec<Reported> = errors
        .iter()
        .map(|e| {
            let (line, col) = file.line_col(e.span.expect("an error from source text has a position").start);
            (e.to_string(), line, col)
        })
        .collect();
    list.sort_by(|a, b| (a.1, a.2, &a.0).cmp(&(b.1, b.2, &b.0)));
    list
}

/// Every error of `src`: its syntax errors if it does not parse, else its
/// verification errors.
fn errors(src: &str) -> Vec<Reported> {
    let file = SourceFile::new("t.mir", src);
    reported(&file, &raw_errors(&file))
}

/// The errors of `file` as the library returns them (in no particular order).
fn raw_errors(file: &SourceFile) -> Vec<Error> {
    let parsed = match mir::parse(file.text()) {
        Ok(parsed) => parsed,
        Err(errors) => return errors,
    };
    let source = mir::Source { file, map: &parsed.spans };
    mir::Program::new(parsed.module, Some(source), &host()).err().unwrap_or_default()
}

/// Asserts that `src` reports exactly `expected` (message, line, column).
fn check(src: &str, expected: &[(&str, usize, usize)]) {
    let expected: Vec<Reported> = expected.iter().map(|&(m, l, c)| (m.to_string(), l, c)).collect();
    assert_eq!(errors(src), expected, "source:\n{src}");
}

// ---- lexical and syntax errors (`mir::parse`, `mir::decode`) ----

#[test]
fn invalid_utf8() {
    let bytes = b"func @main() {\nentry:\n  return \xff\n}\n";
    let (text, error) = mir::decode(bytes);
    let file = SourceFile::new("t.mir", text);
    let error = error.expect("invalid UTF-8 is an error");
    assert_eq!(reported(&file, &[error]), [("invalid UTF-8 in source".to_string(), 3, 10)]);
}

#[test]
fn unexpected_char() {
    // Columns count characters: `é` is one column, not two bytes.
    check(
        "\
func @main() {
entry:
  %s = const \"héllo\" §
  return
}
",
        &[("unexpected character `§`", 3, 22)],
    );
}

#[test]
fn an_invisible_character_is_named_by_its_code_point() {
    check("func @main() {\nentry:\n  \u{7}return\n}\n", &[("unexpected character U+0007", 3, 3)]);
    check("func @main() {\nentry:\n  \u{200b}return\n}\n", &[("unexpected character U+200B", 3, 3)]);
}

#[test]
fn a_leading_byte_order_mark_is_dropped() {
    let (text, error) = mir::decode(b"\xef\xbb\xbffunc @main() -> i64 {\nentry:\n  return %x\n}\n");
    assert!(error.is_none());
    assert!(text.starts_with("func"), "{text:?}");
    let file = SourceFile::new("t.mir", text);
    assert_eq!(reported(&file, &raw_errors(&file)), [("unknown value `%x`".to_string(), 3, 10)]);
    // Anywhere else it is an unexpected character.
    check("func @main() {\nentry:\n  \u{feff}return\n}\n", &[("unexpected character U+FEFF", 3, 3)]);
}

#[test]
fn control_characters_show_as_pictures_and_carets_stay_under_their_span() {
    // An escape sequence in the source (here one that would turn the
    // terminal red) must not reach the terminal raw.
    let src = "func @main() {\nentry:\n  %s = const \"\u{1b}[31m\u{9b}\" \u{7} %q\n  return\n}\n";
    let file = SourceFile::new("t\u{1b}.mir", src);
    let rendered = mir::render(&file, &raw_errors(&file));
    assert!(!rendered.chars().any(|c| c.is_control() && c != '\n'), "{rendered:?}");
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines[0], "error: unexpected character U+0007");
    assert_eq!(lines[1], "  --> t\u{241b}.mir:3:23");
    assert_eq!(lines[3], "3 |   %s = const \"\u{241b}[31m\u{fffd}\" \u{2407} %q");
    assert_eq!(lines[4], format!("  | {}^", " ".repeat(22)));
}

#[test]
fn unterminated_string() {
    check(
        "\
func @main() {
entry:
  externcall env.console.log(\"abc)
  return
}
",
        &[("unterminated string literal", 3, 30)],
    );
}

#[test]
fn string_broken_by_escaped_newline_is_unterminated() {
    // §2: a string literal may not contain a raw newline, escaped or not;
    // the next line is still parsed (and its error reported).
    check(
        "\
func @main() {
entry:
  externcall env.console.log(\"abc\\
  %x = load 1
  return
}
",
        &[("unterminated string literal", 3, 30), ("unknown instruction `load`", 4, 8)],
    );
}

#[test]
fn invalid_escape() {
    check(
        "\
func @main() {
entry:
  externcall env.console.log(\"a\\qb\")
  return
}
",
        &[("invalid escape `\\q` in string literal", 3, 32)],
    );
}

#[test]
fn int_out_of_range() {
    check(
        "\
func @main() -> i64 {
entry:
  %x = const 0xFFFF_FFFF_FFFF_FFFF
  return %x
}
",
        &[("integer literal out of range for i64", 3, 14)],
    );
}

#[test]
fn malformed_number() {
    check(
        "\
func @main() -> f64 {
entry:
  %x = const 1.
  return %x
}
",
        &[("malformed number: expected a digit after `.`", 3, 14)],
    );
}

#[test]
fn expected_token() {
    check(
        "\
func @main() -> i64 {
entry:
  %x = binop add 1 2
  return %x
}
",
        &[("expected `,`, found `2`", 3, 20)],
    );
}

#[test]
fn unknown_instruction() {
    check(
        "\
func @main() -> i64 {
entry:
  %x = load 1
  return %x
}
",
        &[("unknown instruction `load`", 3, 8)],
    );
}

#[test]
fn unknown_type() {
    check(
        "\
func @f(%a: int) {
entry:
  return
}
",
        &[("unknown type `int` (expected i64, f64, bool or box)", 1, 13)],
    );
}

#[test]
fn unknown_operator() {
    check(
        "\
func @main() -> i64 {
entry:
  %x = binop pow 2, 3
  return %x
}
",
        &[("unknown binop operator `pow`", 3, 14)],
    );
}

#[test]
fn result_required() {
    check(
        "\
func @main() {
entry:
  binop add 1, 2
  return
}
",
        &[("`binop` produces a value: write `%name = binop ...`", 3, 3)],
    );
}

#[test]
fn result_not_allowed() {
    check(
        "\
func @main() {
entry:
  %x = jump exit
exit:
  return
}
",
        &[("`jump` produces no value", 3, 3)],
    );
}

#[test]
fn arrow_without_result() {
    check(
        "\
func @main() {
entry:
  externcall env.time.nowNanos() -> i64
  return
}
",
        &[("`-> TYPE` needs a result: write `%name = ...`", 3, 34)],
    );
}

#[test]
fn arrow_on_direct_call() {
    check(
        "\
func @f() -> i64 {
entry:
  %x = call @f() -> i64
  return %x
}
",
        &[("a direct call is typed by its callee's signature; `-> TYPE` is only for indirect calls", 3, 18)],
    );
}

#[test]
fn literal_receiver() {
    check(
        "\
func @main() {
entry:
  %n = boxcall \"abc\".length()
  return
}
",
        &[("a boxcall receiver must be a `%value` or a class name, not a literal", 3, 16)],
    );
}

#[test]
fn literal_keyword_receiver() {
    check(
        "\
func @main() {
entry:
  %s = boxcall null.toString()
  return
}
",
        &[("a boxcall receiver must be a `%value` or a class name, not a literal", 3, 16)],
    );
}

#[test]
fn inst_before_label() {
    check(
        "\
func @main() {
  return
}
",
        &[("expected a block label (`name:`) before the first instruction", 2, 3)],
    );
}

#[test]
fn unclosed_function() {
    check(
        "\
func @f() {
entry:
  return
func @main() {
entry:
  return
}
",
        &[("unclosed function: expected `}` before the next item", 4, 1)],
    );
}

// ---- name resolution (`mir::Program::new`) ----

#[test]
fn duplicate_value() {
    check(
        "\
func @main() -> i64 {
entry:
  %x = const 1
  %x = const 2
  return %x
}
",
        &[("value `%x` is defined more than once", 4, 3)],
    );
}

#[test]
fn duplicate_label() {
    check(
        "\
func @main() {
entry:
  jump next
next:
  return
next:
  return
}
",
        &[("label `next` is defined more than once", 6, 1)],
    );
}

#[test]
fn duplicate_function() {
    check(
        "\
func @f() {
entry:
  return
}

func @f() {
entry:
  return
}
",
        &[("function `@f` is defined more than once", 6, 6)],
    );
}

#[test]
fn duplicate_box() {
    check(
        "\
box P {
  field x
}

box P {
  field y
}
",
        &[("box `P` is declared more than once", 5, 5)],
    );
}

#[test]
fn unknown_value() {
    check(
        "\
func @main() -> i64 {
entry:
  return %y
}
",
        &[("unknown value `%y`", 3, 10)],
    );
}

#[test]
fn unknown_label() {
    check(
        "\
func @main() {
entry:
  jump nowhere
}
",
        &[("unknown label `nowhere`", 3, 8)],
    );
}

#[test]
fn unknown_function() {
    check(
        "\
func @main() -> i64 {
entry:
  %x = call @nope()
  return %x
}
",
        &[("unknown function `@nope`", 3, 13)],
    );
}

#[test]
fn unknown_class() {
    check(
        "\
func @main() {
entry:
  %o = boxcall Foo.new()
  return
}
",
        &[("unknown class `Foo`", 3, 16)],
    );
}

#[test]
fn unknown_extern() {
    check(
        "\
func @main() {
entry:
  externcall env.nope(1)
  return
}
",
        &[("unknown host function `env.nope`", 3, 14)],
    );
}

// ---- structure ----

#[test]
fn empty_function() {
    check(
        "\
func @f() {
}
",
        &[("function `@f` has no blocks", 1, 6)],
    );
}

#[test]
fn missing_terminator() {
    // §5: at the block's last instruction.
    check(
        "\
func @main() -> i64 {
entry:
  %x = const 1
  %y = binop add %x, 2
}
",
        &[("block `entry` does not end with a terminator (jump, branch or return)", 4, 3)],
    );
}

#[test]
fn missing_terminator_in_empty_block() {
    // §5: at the label of an empty block.
    check(
        "\
func @main() {
entry:
  jump next
next:
}
",
        &[("block `next` does not end with a terminator (jump, branch or return)", 4, 1)],
    );
}

#[test]
fn inst_after_terminator() {
    // §5: at the instruction after the terminator.
    check(
        "\
func @main() {
entry:
  return
  safepoint
}
",
        &[("instruction after the block's terminator", 4, 3)],
    );
}

#[test]
fn inst_after_terminator_with_immediate_operand() {
    check(
        "\
func @main() -> i64 {
entry:
  return 0
  %y = binop add 1, 2
}
",
        &[("instruction after the block's terminator", 4, 3)],
    );
}

#[test]
fn missing_terminator_in_block_named_by_a_phi_literal() {
    // The phi's `7` becomes a constant at the end of `a`, which must not
    // move the error away from `a`'s last instruction.
    check(
        "\
func @main() -> i64 {
entry:
  %c = compare lt 1, 2
  branch %c, a, b
a:
  %x = binop add 1, 2
b:
  %p = phi i64 [7, a], [0, entry]
  return %p
}
",
        &[
            ("block `a` does not end with a terminator (jump, branch or return)", 6, 3),
            ("phi entry for `a`, which is not a predecessor of this block", 8, 20),
        ],
    );
}

#[test]
fn phi_not_at_start() {
    check(
        "\
func @main() -> i64 {
entry:
  jump next
next:
  %a = const 1
  %p = phi i64 [0, entry]
  return %p
}
",
        &[("phi must come before every other instruction of its block", 6, 3)],
    );
}

/// A diamond `entry -> a | b -> join`; `join` starts with `phi_line`.
fn diamond(phi_line: &str) -> String {
    format!(
        "\
func @main() -> i64 {{
entry:
  %c = compare lt 1, 2
  branch %c, a, b
a:
  jump join
b:
  jump join
join:
{phi_line}
  return %p
}}
"
    )
}

#[test]
fn phi_missing_entry() {
    // §5: at the phi.
    check(&diamond("  %p = phi i64 [1, a]"), &[("phi has no entry for predecessor `b`", 10, 3)]);
}

#[test]
fn phi_not_predecessor() {
    check(
        &diamond("  %p = phi i64 [1, a], [2, b], [3, entry]"),
        &[("phi entry for `entry`, which is not a predecessor of this block", 10, 36)],
    );
}

#[test]
fn phi_duplicate_entry() {
    check(&diamond("  %p = phi i64 [1, a], [2, b], [3, a]"), &[("phi has more than one entry for `a`", 10, 36)]);
}

#[test]
fn entry_has_predecessor() {
    // §5: at the `jump`/`branch` that targets the entry block.
    check(
        "\
func @main() {
entry:
  %c = compare eq 1, 2
  branch %c, entry, done
done:
  return
}
",
        &[("the entry block `entry` cannot be a branch target", 4, 3)],
    );
}

#[test]
fn not_dominated() {
    check(
        "\
func @main() -> i64 {
entry:
  %c = compare lt 1, 2
  branch %c, a, b
a:
  %x = const 1
  jump join
b:
  jump join
join:
  return %x
}
",
        &[("use of `%x` is not dominated by its definition", 11, 10)],
    );
}

#[test]
fn cannot_infer_type() {
    // Only unreachable code can leave a type open: it is not checked for
    // dominance, so a binop may use its own result.
    check(
        "\
func @main() {
entry:
  return
dead:
  %a = binop add %a, %a
  return
}
",
        &[("cannot infer the type of `%a`", 5, 3)],
    );
}

// ---- types ----

#[test]
fn op_not_on_type() {
    check(
        "\
func @main() {
entry:
  %x = binop shl true, false
  return
}
",
        &[("`shl` is not defined on bool", 3, 3)],
    );
}

#[test]
fn operand_types() {
    check(
        "\
func @main() {
entry:
  %x = binop add 1, 2.5
  return
}
",
        &[("operands of `add` have different types: i64 and f64", 3, 3)],
    );
}

#[test]
fn type_mismatch() {
    check(
        "\
func @main() -> i64 {
entry:
  return 1.5
}
",
        &[("returned value has type f64, expected i64", 3, 10)],
    );
}

#[test]
fn return_missing_value() {
    check(
        "\
func @main() -> i64 {
entry:
  return
}
",
        &[("`return` without a value in a function returning i64", 3, 3)],
    );
}

#[test]
fn return_value_in_void() {
    check(
        "\
func @main() {
entry:
  return 1
}
",
        &[("`return` with a value in a function returning void", 3, 3)],
    );
}

#[test]
fn arity() {
    check(
        "\
func @f(%a: i64) -> i64 {
entry:
  return %a
}

func @main() -> i64 {
entry:
  %x = call @f(1, 2)
  return %x
}
",
        &[("`@f` takes 1 argument, got 2", 8, 3)],
    );
}

#[test]
fn void_result() {
    check(
        "\
func @v() {
entry:
  return
}

func @main() {
entry:
  %x = call @v()
  return
}
",
        &[("`@v` returns void; its call has no result", 8, 3)],
    );
}

#[test]
fn invalid_cast() {
    check(
        "\
func @main() {
entry:
  %b = typeop cast 1.5 to bool
  return
}
",
        &[("cannot cast f64 to bool", 3, 3)],
    );
}

#[test]
fn extern_arg() {
    check(
        "\
func @main() {
entry:
  externcall test.sleepMillis(1.5)
  return
}
",
        &[("argument 1 of `test.sleepMillis` has type f64, which never converts to i64", 3, 31)],
    );
}

#[test]
fn extern_arity() {
    check(
        "\
func @main() {
entry:
  externcall env.fs.writeFile(\"out.txt\")
  return
}
",
        &[("`env.fs.writeFile` takes 2 arguments, got 1", 3, 3)],
    );
}

#[test]
fn extern_result() {
    check(
        "\
func @main() {
entry:
  %t = externcall env.time.nowNanos() -> f64
  return
}
",
        &[("`env.time.nowNanos` returns i64, which never converts to f64", 3, 3)],
    );
}

#[test]
fn main_signature() {
    check(
        "\
func @main(%a: i64) -> i64 {
entry:
  return %a
}
",
        &[("`@main` must take no parameters and return i64 or void", 1, 6)],
    );
}

// ---- user boxes ----

#[test]
fn box_shadows_builtin() {
    check(
        "\
box ArrayBox {
  field x
}
",
        &[("box `ArrayBox` has the name of a built-in class", 1, 5)],
    );
}

#[test]
fn duplicate_member() {
    check(
        "\
box P {
  field x
  field x
}
",
        &[("box `P` declares `x` more than once", 3, 9)],
    );
}

#[test]
fn method_self() {
    check(
        "\
box P {
  field x
  method get @P.get
}

func @P.get(%self: i64) -> i64 {
entry:
  return %self
}
",
        &[("method `get` of box `P`: `@P.get` must take the receiver as its first parameter, of type box", 3, 14)],
    );
}

#[test]
fn fini_takes_only_the_receiver_and_returns_nothing() {
    let message = "method `fini` of box `P`: `@P.fini` must take only the receiver (`%self: box`) and return void; \
                   the runtime calls it with the receiver alone and drops no result";
    for (signature, ret) in [("(%self: box, %extra: i64)", "return"), ("(%self: box) -> box", "return %self")] {
        check(
            &format!(
                "\
box P {{
  method fini @P.fini
}}

func @P.fini{signature} {{
entry:
  {ret}
}}
"
            ),
            &[(message, 2, 15)],
        );
    }
}

// ---- several errors ----

#[test]
fn three_errors_in_one_function() {
    check(
        "\
func @f(%a: i64) -> i64 {
entry:
  %c = compare lt %a, 10
  branch %c, small, big
small:
  %y = binop add %a, %nope
  return %y
big:
  %b = call @f(true)
}
",
        &[
            ("unknown value `%nope`", 6, 22),
            ("block `big` does not end with a terminator (jump, branch or return)", 9, 3),
            ("argument 1 of `@f` has type bool, expected i64", 9, 16),
        ],
    );
}

const TWO_BAD_FUNCTIONS: &str = "\
func @main() -> i64 {
entry:
  %x = call @helper(1)
  return %x
}

func @helper(%n: i64) -> i64 {
entry:
  %m = binop mul %n, 2.0
  jump out
}

box Point {
  field x
  field x
}
";

#[test]
fn errors_of_every_function_are_reported() {
    check(
        TWO_BAD_FUNCTIONS,
        &[
            ("operands of `mul` have different types: i64 and f64", 9, 3),
            ("unknown label `out`", 10, 8),
            ("box `Point` declares `x` more than once", 15, 9),
        ],
    );
}

#[test]
fn rendered_errors_are_sorted_by_position() {
    let file = SourceFile::new("t.mir", TWO_BAD_FUNCTIONS);
    let rendered = mir::render(&file, &raw_errors(&file));
    let positions: Vec<&str> = rendered.lines().filter_map(|l| l.split("t.mir:").nth(1)).collect();
    assert_eq!(positions, ["9:3", "10:8", "15:9"], "rendered:\n{rendered}");
    assert!(rendered.ends_with("error: 3 errors in t.mir\n"), "rendered:\n{rendered}");
}

// ---- valid programs ----

#[test]
fn fib_has_no_errors() {
    check(
        "\
; fib.mir — comments run from ';' or '//' to the end of the line
func @fib(%n: i64) -> i64 {
entry:
  %small = compare lt %n, 2
  branch %small, base, rec
base:
  return %n
rec:
  %a = binop sub %n, 1
  %fa = call @fib(%a)
  %b = binop sub %n, 2
  %fb = call @fib(%b)
  %r = binop add %fa, %fb
  return %r
}

func @main() -> i64 {
entry:
  %r = call @fib(30)
  externcall env.console.log(%r)
  return 0
}
",
        &[],
    );
}

#[test]
fn void_may_be_written_as_a_function_result() {
    check("func @f() -> void {\nentry:\n  return\n}\n", &[]);
    let parsed = mir::parse("func @f() -> void {\nentry:\n  return\n}\n").unwrap();
    assert_eq!(mir::print_module(&parsed.module), "func @f() {\nentry:\n  return\n}\n");
}
