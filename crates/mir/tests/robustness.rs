//! Robustness of the front end: whatever bytes come in, parsing, verifying,
//! rendering errors, printing and dumping never panic; and every module that
//! verifies prints to text that parses back to an equal module.
//!
//! Properties (proptest):
//! 1. random bytes (uniform, and biased toward MIR13's alphabet);
//! 2. random sequences of MIR13 tokens and near-tokens;
//! 3. random edits of valid programs (round trip when still valid);
//! 4. randomly generated valid modules (verify, round trip, dumps).
//!
//! Whenever a module verifies, its liveness is compared with a naive
//! dataflow fixpoint and its drop plan is replayed with reference counts.
//!
//! Then deterministic stress tests (10 MB of garbage, 100,000 blocks, a value
//! live across 20,000 blocks) and regression tests for the bugs they found.

use mir::{DumpKind, Error, ExternSig, Parsed, Program, Source, SourceFile, Type, Value};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::{BTreeSet, HashMap};

// ---------------------------------------------------------------------------
// The pipeline every test drives
// ---------------------------------------------------------------------------

/// The host functions of §9 that the generated programs call.
fn externs() -> HashMap<String, ExternSig> {
    let sig = |params: &[Type], ret| ExternSig { params: params.to_vec(), ret };
    [
        ("env.console.log", sig(&[Type::Box], None)),
        ("env.console.print", sig(&[Type::Box], None)),
        ("env.io.readLine", sig(&[], Some(Type::Box))),
        ("env.time.nowNanos", sig(&[], Some(Type::I64))),
        ("env.process.args", sig(&[], Some(Type::Box))),
        ("env.runtime.checkpoint", sig(&[], None)),
    ]
    .into_iter()
    .map(|(name, sig)| (name.to_string(), sig))
    .collect()
}

/// Renders `errors` and checks the output is well formed: one header per
/// shown error, at most [`mir::MAX_RENDERED_ERRORS`] of them, and the summary.
fn check_render(file: &SourceFile, errors: &[Error]) {
    for error in errors {
        let span = error.span.unwrap_or_else(|| panic!("error without a position: {error:?}"));
        assert!(span.start <= span.end && span.end as usize <= file.text().len(), "{error:?} is outside the text");
    }
    let out = mir::render(file, errors);
    let n = errors.len();
    let summary = format!("error: {n} error{} in {}\n", if n == 1 { "" } else { "s" }, file.name());
    assert!(out.ends_with(&summary), "rendering lacks its summary line");
    let headers = out.lines().filter(|l| l.starts_with("error")).count();
    assert!(headers <= mir::MAX_RENDERED_ERRORS + 2, "{headers} error headers rendered for {n} errors");
}

/// What the front end made of some input.
struct Outcome {
    parsed: Parsed,
    /// Whether the module verified (and so became a `Program`).
    valid: bool,
}

/// Runs decode, parse, verify (with and without source), rendering,
/// printing, and for a valid module `Program::new` and both dumps. Panics
/// only if the library panics or contradicts itself.
fn run_bytes(bytes: &[u8]) -> Option<Outcome> {
    let (text, utf8_error) = mir::decode(bytes);
    let outcome = run_text(&text);
    if let Some(error) = utf8_error {
        check_render(&SourceFile::new("fuzz.mir", text.as_str()), &[error]);
        return None;
    }
    outcome
}

/// [`run_bytes`] for text that is already UTF-8.
fn run_text(text: &str) -> Option<Outcome> {
    let file = SourceFile::new("fuzz.mir", text);
    let parsed = match mir::parse(text) {
        Ok(parsed) => parsed,
        Err(errors) => {
            assert!(!errors.is_empty(), "parse failed without errors");
            check_render(&file, &errors);
            return None;
        }
    };
    let externs = externs();
    let source = Source { file: &file, map: &parsed.spans };
    let errors = mir::verify(&parsed.module, Some(source), &externs);
    let without_source = mir::verify(&parsed.module, None, &externs);
    assert_eq!(errors.len(), without_source.len(), "verify finds other errors without source:\n{text}");
    // The printer takes any module, even one with unresolved references.
    let _ = mir::print_module(&parsed.module);
    let program = Program::new(parsed.module.clone(), Some(source), &externs);
    if !errors.is_empty() {
        check_render(&file, &errors);
        let again = program.expect_err("Program::new accepted a module that verify rejects");
        assert_eq!(again, errors, "Program::new and verify disagree");
        return Some(Outcome { parsed, valid: false });
    }
    let program = program.unwrap_or_else(|e| panic!("verify passed but Program::new failed: {e:?}\n{text}"));
    let _ = mir::dump(&program, DumpKind::Ir);
    let _ = mir::dump(&program, DumpKind::Liveness);
    check_liveness(&program, text);
    check_drop_plan(&program, text);
    Some(Outcome { parsed, valid: true })
}

/// A verified module prints to text that parses to an equal module, that
/// verifies again, and that prints identically: printing is a fixed point.
fn check_round_trip(source: &str, parsed: &Parsed) {
    let printed = mir::print_module(&parsed.module);
    let reparsed = mir::parse(&printed).unwrap_or_else(|e| {
        panic!("printed module does not parse: {e:?}\n--- source\n{source}\n--- printed\n{printed}")
    });
    assert!(
        parsed.module == reparsed.module,
        "print -> parse changed the module\n--- source\n{source}\n--- printed\n{printed}"
    );
    let errors = mir::verify(&reparsed.module, None, &externs());
    assert!(errors.is_empty(), "printed module does not verify: {errors:?}\n{printed}");
    let reprinted = mir::print_module(&reparsed.module);
    assert_eq!(reprinted, printed, "printing is not a fixed point\n--- source\n{source}");
}

/// Liveness by the textbook backward dataflow fixpoint, to compare with
/// [`mir::Liveness`]: (live-in, live-out) per block, over reachable blocks.
fn naive_liveness(program: &Program, id: mir::FuncId) -> Vec<(BTreeSet<Value>, BTreeSet<Value>)> {
    let func = program.func(id);
    let info = program.info(id);
    let n = func.blocks.len();
    let mut live_in = vec![BTreeSet::new(); n];
    let mut live_out = vec![BTreeSet::new(); n];
    let index = |b: mir::Block| b.as_u32() as usize;
    let mut changed = true;
    while changed {
        changed = false;
        for &block in info.order.rpo().iter().rev() {
            let mut out = BTreeSet::new();
            for &succ in info.cfg.succs(block) {
                out.extend(live_in[index(succ)].iter().copied());
                for phi in func.phis(succ) {
                    let mir::InstData::Phi { entries, .. } = func.insts[phi] else { unreachable!() };
                    out.extend(func.phi_list(entries).iter().filter(|e| e.block == block).map(|e| e.value));
                }
            }
            let mut live = out.clone();
            for &inst in func.blocks[block].insts.iter().rev() {
                if let Some(r) = func.results[inst] {
                    live.remove(&r);
                }
                if !matches!(func.insts[inst], mir::InstData::Phi { .. }) {
                    live.extend(func.operands(inst));
                }
            }
            if Some(block) == func.entry() {
                for p in &func.params {
                    live.remove(&p.value);
                }
            }
            if out != live_out[index(block)] || live != live_in[index(block)] {
                live_out[index(block)] = out;
                live_in[index(block)] = live;
                changed = true;
            }
        }
    }
    live_in.into_iter().zip(live_out).collect()
}

/// Checks `Liveness` of every function against [`naive_liveness`], and that
/// the most values live at once (`Liveness::pressure`) is at least the size
/// of every live set.
fn check_liveness(program: &Program, text: &str) {
    for (id, func) in program.module().funcs.iter() {
        let info = program.info(id);
        let naive = naive_liveness(program, id);
        let max_live = info.liveness.pressure(func, &info.order, |_| 1).max;
        for &block in info.order.rpo() {
            let (want_in, want_out) = &naive[block.as_u32() as usize];
            let got_in: BTreeSet<Value> = info.liveness.live_in(block).iter().copied().collect();
            let got_out: BTreeSet<Value> = info.liveness.live_out(block).iter().copied().collect();
            let label = program.module().sym(func.blocks[block].name);
            assert_eq!(&got_in, want_in, "live-in of `{label}` in @{}\n{text}", program.module().sym(func.name));
            assert_eq!(&got_out, want_out, "live-out of `{label}` in @{}\n{text}", program.module().sym(func.name));
            assert!(got_in.len().max(got_out.len()) <= max_live, "max_live below `{label}`'s live sets\n{text}");
        }
    }
}

/// Replays the [`mir::DropPlan`] of every function, counting references by
/// value: every owned value used is still held, nothing is released twice,
/// and at each block boundary exactly the owned values live there are held
/// (nothing leaks, nothing is missing). Owned values are `box` results (§6).
fn check_drop_plan(program: &Program, text: &str) {
    for (id, func) in program.module().funcs.iter() {
        let info = program.info(id);
        let fname = program.module().sym(func.name);
        let label = |b: mir::Block| program.module().sym(func.blocks[b].name);
        let owned = |v: Value| info.types[v] == Type::Box && matches!(func.values[v].def, mir::ValueDef::Result(_));
        let is_phi = |i: mir::Inst| matches!(func.insts[i], mir::InstData::Phi { .. });
        // What a block holds once its phis and incoming-edge releases are done.
        let held_at_start = |b: mir::Block| -> BTreeSet<Value> {
            let live_out = info.liveness.live_out(b);
            let used_later = |r: Value| {
                live_out.contains(&r)
                    || func.blocks[b].insts.iter().any(|&i| !is_phi(i) && func.operands(i).any(|v| v == r))
            };
            let phis = func.phis(b).filter_map(|p| func.results[p]).filter(|&r| owned(r) && used_later(r));
            info.liveness.live_in(b).iter().copied().filter(|&v| owned(v)).chain(phis).collect()
        };
        let sorted = |vs: &[Value]| vs.windows(2).all(|w| w[0] < w[1]);
        for &block in info.order.rpo() {
            let at = |what: &str| {
                format!("{what} in `{}` of @{fname}\n{}\n{text}", label(block), mir::dump(program, DumpKind::Liveness))
            };
            let mut held = held_at_start(block);
            for &inst in func.blocks[block].insts.iter().filter(|&&i| !is_phi(i)) {
                for v in func.operands(inst).filter(|&v| owned(v)) {
                    assert!(held.contains(&v), "{}", at(&format!("use of {v:?} after its release")));
                }
                if let Some(c) = info.drops.consumed(inst) {
                    assert!(owned(c) && held.remove(&c), "{}", at(&format!("{inst:?} takes {c:?}, not held")));
                }
                if let Some(r) = func.results[inst].filter(|&r| owned(r)) {
                    held.insert(r);
                }
                let released = info.drops.releases_after(inst);
                assert!(sorted(released), "{}", at("releases out of definition order"));
                for &v in released {
                    assert!(held.remove(&v), "{}", at(&format!("{v:?} released after {inst:?} but not held")));
                }
            }
            let live_out: BTreeSet<Value> =
                info.liveness.live_out(block).iter().copied().filter(|&v| owned(v)).collect();
            assert_eq!(held, live_out, "{}", at("held references differ from the live ones at the end"));
            for (i, &succ) in info.cfg.succs(block).iter().enumerate() {
                let edge = info.drops.edge(block, i);
                let phis: Vec<mir::Inst> = func.phis(succ).collect();
                assert_eq!(edge.moves.len(), phis.len(), "{}", at("one move flag per phi"));
                assert_eq!(edge.inputs.len(), phis.len(), "{}", at("one input per phi"));
                assert!(
                    sorted(&edge.releases.iter().map(|r| r.value).collect::<Vec<_>>()),
                    "{}",
                    at("edge releases out of definition order")
                );
                let results: BTreeSet<Value> = phis.iter().filter_map(|&p| func.results[p]).collect();
                let mut held = held.clone();
                // Values dying on the edge are read before the phis (an old
                // value of a phi result among them); unused phi results after.
                for r in edge.releases.iter().filter(|r| !r.new_phi) {
                    assert!(held.remove(&r.value), "{}", at(&format!("edge releases {:?}, not held", r.value)));
                }
                // The phis read all their entries, then define all their results.
                for ((&phi, &moves), &input) in phis.iter().zip(edge.moves).zip(edge.inputs) {
                    let mir::InstData::Phi { entries, .. } = func.insts[phi] else { unreachable!() };
                    let v = func.phi_list(entries).iter().find(|e| e.block == block).expect("entry").value;
                    assert_eq!(input, v, "{}", at("the edge's input of a phi is not its entry for the edge"));
                    if moves {
                        assert!(owned(v) && held.remove(&v), "{}", at(&format!("edge moves {v:?}, not held")));
                    }
                }
                for r in results.iter().copied().filter(|&r| owned(r)) {
                    let what =
                        format!("edge to `{}`: the phi overwrites {r:?} while its old value is held", label(succ));
                    assert!(held.insert(r), "{}", at(&what));
                }
                for r in edge.releases.iter().filter(|r| r.new_phi) {
                    assert!(results.contains(&r.value), "{}", at("a new phi value released is not a phi result"));
                    assert!(held.remove(&r.value), "{}", at(&format!("edge releases {:?}, not held", r.value)));
                }
                let what = format!("references held on entry to `{}` differ from the live ones", label(succ));
                assert_eq!(held, held_at_start(succ), "{}", at(&what));
            }
        }
    }
}

/// `cases` per property, unless `PROPTEST_CASES` asks for another number
/// (for a longer fuzzing run: `PROPTEST_CASES=100000 cargo test ...`).
/// Failures are not persisted to files: each bug found gets an explicit
/// regression test at the end of this file instead. Debug builds run an
/// eighth of the cases (CI runs the tests in release mode).
fn config(cases: u32) -> ProptestConfig {
    let cases = if cfg!(debug_assertions) { cases / 8 } else { cases };
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases);
    ProptestConfig { cases, max_shrink_iters: 4096, failure_persistence: None, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------
// 1. Random bytes
// ---------------------------------------------------------------------------

/// Bytes MIR13 text is made of, plus a few that start invalid UTF-8.
const MIR_BYTES: &[u8] =
    b"func box field weak method phi %@{}()[],:=->.;/\"\\ \n\n\n\t\r0123456789xeE_abcdinu\x80\xc3\xa9\xff\xf0";

fn mirish_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(MIR_BYTES), 0..4096)
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn random_bytes_never_panic(
        bytes in prop_oneof![prop::collection::vec(any::<u8>(), 0..4096), mirish_bytes()],
    ) {
        run_bytes(&bytes);
    }
}

// ---------------------------------------------------------------------------
// 2. Random token sequences
// ---------------------------------------------------------------------------

/// MIR13 tokens and near-tokens.
const VOCAB: &[&str] = &[
    // item and member keywords
    "func",
    "box",
    "field",
    "weak",
    "method",
    // mnemonics and their keywords
    "const",
    "binop",
    "compare",
    "jump",
    "branch",
    "return",
    "phi",
    "call",
    "boxcall",
    "externcall",
    "typeop",
    "is",
    "cast",
    "to",
    "safepoint",
    "barrier",
    "read",
    "write",
    "full",
    // operators
    "add",
    "sub",
    "mul",
    "div",
    "rem",
    "and",
    "or",
    "xor",
    "shl",
    "shr",
    "ushr",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    // types
    "i64",
    "f64",
    "bool",
    "box",
    "void",
    // labels, classes, dotted names
    "entry",
    "loop",
    "exit",
    "b1",
    "a.b",
    "Point",
    "Point.new",
    "ArrayBox.new",
    "StringBox",
    "IntegerBox",
    "env.console.log",
    "%x.len",
    "x.",
    ".x",
    "_",
    // values and functions
    "%x",
    "%y",
    "%0",
    "%_1",
    "%",
    "@f",
    "@main",
    "@",
    "@1",
    "@Point.norm2",
    // literals and near-literals
    "0",
    "-1",
    "42",
    "1_000",
    "0x1F",
    "-0x10",
    "0x7FFF_FFFF_FFFF_FFFF",
    "0x8000_0000_0000_0000",
    "-0x8000_0000_0000_0000",
    "0xFFFF_FFFF_FFFF_FFFF",
    "9223372036854775808",
    "0x",
    "0x_",
    "1__0",
    "1.5",
    "-0.0",
    "1e400",
    "-1e400",
    "5e-324",
    "2.5e-3",
    "1e+5",
    ".5",
    "1.",
    "1e",
    "1e+",
    "1.e5",
    "1x",
    "inf",
    "-inf",
    "nan",
    "-nan",
    "-infinity",
    "-",
    "--1",
    "true",
    "false",
    "null",
    "\"s\"",
    "\"\"",
    "\"\\u{D800}\"",
    "\"\\u{1F600}\"",
    "\"\\u{110000}\"",
    "\"\\u{}\"",
    "\"\\u{1234567}\"",
    "\"\\u{41\"",
    "\"\\q\"",
    "\"\\",
    "\"unterminated",
    "\"a\\nb\\t\\\"\\\\\\0\"",
    "\"é😀\"",
    "\"\\é\"",
    // punctuation
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "=",
    "->",
    ".",
    "; comment",
    "// comment",
    "/",
    // stray characters
    "é",
    "😀",
    "\u{0}",
    "\u{feff}",
    "#",
    "!",
    "$",
    "\\",
    "\u{2028}",
];

const SEPARATORS: &[&str] = &[" ", " ", " ", " ", "\n", "\n", "", "\t", "\r\n", "  "];

/// How a token sequence is framed, to reach deeper into the parser.
const FRAMES: &[(&str, &str)] = &[
    ("", ""),
    ("func @main() -> i64 {\nentry:\n  ", "\n}\n"),
    ("func @f(%x: i64, %y: box) {\nentry:\n  ", "\n  return\n}\n"),
    ("box Point {\n  ", "\n}\n"),
];

fn token_text() -> impl Strategy<Value = String> {
    let tokens = prop::collection::vec((0..VOCAB.len(), 0..SEPARATORS.len()), 0..160);
    (tokens, 0..FRAMES.len()).prop_map(|(tokens, frame)| {
        let (before, after) = FRAMES[frame];
        let mut text = before.to_string();
        for (tok, sep) in tokens {
            text.push_str(VOCAB[tok]);
            text.push_str(SEPARATORS[sep]);
        }
        text.push_str(after);
        text
    })
}

const MNEMONICS: &[&str] = &[
    "const",
    "binop add",
    "binop div",
    "compare lt",
    "compare eq",
    "jump",
    "branch",
    "return",
    "phi i64",
    "phi box",
    "call",
    "boxcall",
    "externcall",
    "typeop is",
    "typeop cast",
    "safepoint",
    "barrier",
    "field",
    "method",
];

/// Lines that look like instructions: an optional result or label, a
/// mnemonic, then operand-ish tokens separated by commas or spaces.
fn token_lines() -> impl Strategy<Value = String> {
    let line = (0..4usize, 0..MNEMONICS.len(), prop::collection::vec((0..VOCAB.len(), any::<bool>()), 0..6));
    prop::collection::vec(line, 0..30).prop_map(|lines| {
        let mut text = String::from("func @main() -> i64 {\nentry:\n");
        for (prefix, mnemonic, operands) in lines {
            text.push_str(["  ", "  %x = ", "  %y = ", "b1: "][prefix]);
            text.push_str(MNEMONICS[mnemonic]);
            for (i, (tok, comma)) in operands.into_iter().enumerate() {
                text.push_str(if comma && i > 0 { ", " } else { " " });
                text.push_str(VOCAB[tok]);
            }
            text.push('\n');
        }
        text.push_str("  return 0\n}\n");
        text
    })
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn token_sequences_never_panic(text in prop_oneof![token_text(), token_lines()]) {
        if let Some(outcome) = run_text(&text)
            && outcome.valid
        {
            check_round_trip(&text, &outcome.parsed);
        }
    }
}

// ---------------------------------------------------------------------------
// 3. Mutations of valid programs (the seeds below, and generated ones)
// ---------------------------------------------------------------------------

const FIB: &str = "\
; fib.mir
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
";

const LOOP: &str = "\
func @sum(%n: i64) -> f64 {
entry:
  jump head
head:
  %i = phi i64 [0, entry], [%i2, body]
  %acc = phi f64 [-0.0, entry], [%acc2, body]
  %s = phi box [\"\", entry], [%s2, body]
  %c = compare lt %i, %n
  branch %c, body, exit
body:
  %x = typeop cast %i to f64
  %acc2 = binop add %acc, %x
  %s2 = boxcall %s.concat(\"x\\n\")
  %i2 = binop add %i, 0x1
  safepoint
  jump head
exit:
  externcall env.console.log(%s)
  return %acc
}

func @main() -> void {
entry:
  %r = call @sum(1_000)
  %big = compare gt %r, 1e400
  return
}
";

const DIAMOND: &str = "\
func @pick(%b: bool, %s: box) -> box {
entry:
  %k = compare eq %b, true
  branch %k, yes, no
yes:
  %t = boxcall %s.concat(\"!\\u{1F600}\\t\")
  %n = boxcall %t.length() -> i64
  jump join
no:
  %z = binop xor %b, false
  jump join
join:
  %r = phi box [%t, yes], [\"none\", no]
  %m = phi i64 [%n, yes], [-0x8000_0000_0000_0000, no]
  %f = phi f64 [nan, yes], [-inf, no]
  return %r
}

func @main() -> i64 {
entry:
  %a = boxcall ArrayBox.new()
  boxcall %a.push(1.5)
  %p = call @pick(true, %a)
  %fv = const @pick
  %q = call %fv(false, \"s\") -> box
  %is = typeop is %q, StringBox
  barrier write
  return 7
}
";

const POINT: &str = "\
box Point {
  field x
  field y
  field weak owner
  method norm2 @Point.norm2
  method birth @Point.birth
}

func @Point.birth(%self: box, %x: f64, %y: f64) {
entry:
  boxcall %self.setField(\"x\", %x)
  boxcall %self.setField(\"y\", %y)
  return
}

func @Point.norm2(%self: box) -> f64 {
entry:
  %x = boxcall %self.getField(\"x\") -> f64
  %y = boxcall %self.getField(\"y\") -> f64
  %xx = binop mul %x, %x
  %yy = binop mul %y, %y
  %r = binop add %xx, %yy
  return %r
}

func @main() -> i64 {
entry:
  %p = boxcall Point.new(3.0, 4.0)
  %n = boxcall %p.norm2() -> f64
  %is = typeop is %p, Point
  %fv = const @Point.norm2
  %m = call %fv(%p) -> f64
  %i = typeop cast %n to i64
  barrier full
  externcall env.console.log(%n)
  return %i
}
";

const SEEDS: &[&str] = &[FIB, LOOP, DIAMOND, POINT];

/// One random edit of a program's text.
#[derive(Clone, Debug)]
enum Edit {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    ReplaceToken(Index, usize),
    InsertToken(Index, usize),
    /// Cuts the bytes at any offset, even inside a character.
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        2 => any::<Index>().prop_map(Edit::DeleteLine),
        2 => any::<Index>().prop_map(Edit::DuplicateLine),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        3 => (any::<Index>(), 0..VOCAB.len()).prop_map(|(at, tok)| Edit::ReplaceToken(at, tok)),
        2 => (any::<Index>(), 0..VOCAB.len()).prop_map(|(at, tok)| Edit::InsertToken(at, tok)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

/// Byte ranges of the words of `text`: runs of characters other than
/// whitespace and `(),[]{}:=`.
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        let in_word = !c.is_whitespace() && !"(),[]{}:=".contains(c);
        match (in_word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    spans
}

fn apply_edit(text: &mut Vec<u8>, edit: &Edit) {
    let as_text = String::from_utf8_lossy(text).into_owned();
    let mut lines: Vec<&str> = as_text.split('\n').collect();
    let edited = match edit {
        Edit::DeleteLine(i) => {
            lines.remove(i.index(lines.len()));
            lines.join("\n")
        }
        Edit::DuplicateLine(i) => {
            let i = i.index(lines.len());
            lines.insert(i, lines[i]);
            lines.join("\n")
        }
        Edit::SwapLines(a, b) => {
            let n = lines.len();
            lines.swap(a.index(n), b.index(n));
            lines.join("\n")
        }
        Edit::ReplaceToken(at, tok) | Edit::InsertToken(at, tok) => {
            let words = words(&as_text);
            if words.is_empty() {
                return;
            }
            let (start, end) = words[at.index(words.len())];
            let (replaced, tail) = if matches!(edit, Edit::ReplaceToken(..)) { (end, "") } else { (start, " ") };
            format!("{}{}{tail}{}", &as_text[..start], VOCAB[*tok], &as_text[replaced..])
        }
        Edit::Truncate(at) => {
            text.truncate(at.index(text.len() + 1));
            return;
        }
    };
    *text = edited.into_bytes();
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn mutated_programs_never_panic_and_round_trip(
        program in prop_oneof![
            (0..SEEDS.len()).prop_map(|i| SEEDS[i].to_string()),
            prop::collection::vec(any::<u32>(), 0..300).prop_map(|choices| generate_module(&choices)),
        ],
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let mut bytes = program.into_bytes();
        for edit in &edits {
            apply_edit(&mut bytes, edit);
        }
        if let Some(outcome) = run_bytes(&bytes)
            && outcome.valid
        {
            check_round_trip(&String::from_utf8_lossy(&bytes), &outcome.parsed);
        }
    }
}

#[test]
fn seeds_are_valid_and_round_trip() {
    for seed in SEEDS {
        let outcome = run_text(seed).expect("seed parses");
        assert!(outcome.valid, "seed does not verify:\n{seed}");
        check_round_trip(seed, &outcome.parsed);
    }
}

// ---------------------------------------------------------------------------
// 4. Generated valid modules
// ---------------------------------------------------------------------------

/// A stream of choices the generator draws from. Proptest shrinks it toward
/// fewer and smaller numbers, and a zero always means the simplest option,
/// so a failing module shrinks to a small one.
struct Choices<'a> {
    data: &'a [u32],
    pos: usize,
}

impl Choices<'_> {
    /// A number in `0..n` (0 once the stream is exhausted).
    fn below(&mut self, n: usize) -> usize {
        let x = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        x as usize % n.max(1)
    }

    /// True with roughly `percent`% probability; false for a zero choice.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) + percent >= 100
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn pick_ref<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }

    /// A raw 64-bit number.
    fn bits(&mut self) -> u64 {
        let hi = self.below(u32::MAX as usize) as u64;
        (hi << 32) | self.below(u32::MAX as usize) as u64
    }
}

/// Module text under construction, one line at a time.
#[derive(Default)]
struct Text {
    lines: Vec<String>,
}

impl Text {
    fn line(&mut self, line: impl Into<String>) -> usize {
        self.lines.push(line.into());
        self.lines.len() - 1
    }

    fn label(&mut self, label: &str) {
        self.line(format!("{label}:"));
    }

    /// An indented instruction; returns its line number for [`Text::set`].
    fn inst(&mut self, inst: impl AsRef<str>) -> usize {
        self.line(format!("  {}", inst.as_ref()))
    }

    fn set(&mut self, line: usize, inst: impl AsRef<str>) {
        self.lines[line] = format!("  {}", inst.as_ref());
    }

    fn finish(self) -> String {
        self.lines.join("\n") + "\n"
    }
}

const TYPES: &[Type] = &[Type::I64, Type::F64, Type::Bool, Type::Box];

const I64_LITERALS: &[&str] = &[
    "0",
    "1",
    "-1",
    "42",
    "-7",
    "0x1F",
    "-0x10",
    "1_000",
    "0X7fff_ffff_ffff_ffff",
    "9223372036854775807",
    "-9223372036854775808",
    "-0x8000_0000_0000_0000",
];

const F64_LITERALS: &[&str] = &[
    "0.0",
    "-0.0",
    "1.5",
    "-2.5",
    "0.1",
    "1e300",
    "1e-300",
    "5e-324",
    "-5e-324",
    "1.7976931348623157e308",
    "2.5e-3",
    "1e+5",
    "-1e9",
    "1.0e-3",
    "1_0.2_5",
    "inf",
    "-inf",
    "nan",
    "1e400",
    "-1e400",
];

/// Pieces of string literals: plain text, every escape, characters the
/// printer must escape, and characters it must not.
const STRING_PIECES: &[&str] = &[
    "a",
    "Hello, world",
    " ",
    "é",
    "😀",
    "\\n",
    "\\t",
    "\\r",
    "\\\\",
    "\\\"",
    "\\0",
    "\\u{1F600}",
    "\\u{7f}",
    "\\u{1b}",
    "\\u{0}",
    "\\u{85}",
    "\\u{10FFFF}",
    "\t",
    "\r",
    ";",
    "//",
    "%x",
    "@f",
    "{}",
    "\u{2028}",
    "\u{feff}",
];

const BUILTIN_CLASSES: &[&str] = &[
    "IntegerBox",
    "FloatBox",
    "BoolBox",
    "NullBox",
    "StringBox",
    "ArrayBox",
    "MapBox",
    "FunctionBox",
    "MatrixBox",
    "TensorBox",
];

/// A generated function's signature.
struct Sig {
    name: String,
    params: Vec<Type>,
    ret: Option<Type>,
}

/// A generated user box.
struct BoxGen {
    name: String,
    fields: Vec<(String, bool)>,
    /// (method name, index of the implementing function in the signatures)
    methods: Vec<(String, usize)>,
}

fn ret_suffix(ret: Option<Type>) -> String {
    ret.map_or(String::new(), |t| format!(" -> {t}"))
}

/// Generates the body of one function into a [`Text`].
struct FuncGen<'g, 'c> {
    c: &'g mut Choices<'c>,
    sigs: &'g [Sig],
    boxes: &'g [BoxGen],
    text: &'g mut Text,
    /// Values that dominate the current point, with their types.
    scope: Vec<(String, Type)>,
    /// Every value defined so far, for unreachable code (not dominance-checked).
    all: Vec<(String, Type)>,
    /// The label of the block being filled.
    block: String,
    next_value: usize,
    next_label: usize,
    /// Statements left to generate.
    budget: usize,
}

impl FuncGen<'_, '_> {
    fn fresh_value(&mut self, ty: Type) -> String {
        let n = self.next_value;
        self.next_value += 1;
        let name = match self.c.below(4) {
            0 => format!("v{n}"),
            1 => format!("x_{n}"),
            2 => format!("{n}"),
            _ => format!("Tmp{n}"),
        };
        self.scope.push((name.clone(), ty));
        self.all.push((name.clone(), ty));
        format!("%{name}")
    }

    fn fresh_label(&mut self) -> String {
        let n = self.next_label;
        self.next_label += 1;
        match self.c.below(3) {
            0 => format!("b{n}"),
            1 => format!("bb.{n}"),
            _ => format!("L_{n}"),
        }
    }

    fn literal(&mut self, ty: Type) -> String {
        match ty {
            Type::I64 if self.c.chance(30) => (self.c.bits() as i64).to_string(),
            Type::I64 => self.c.pick(I64_LITERALS).to_string(),
            Type::F64 if self.c.chance(30) => {
                let x = f64::from_bits(self.c.bits());
                if x.is_nan() { "nan".into() } else { format!("{x:?}") }
            }
            Type::F64 => self.c.pick(F64_LITERALS).to_string(),
            Type::Bool => self.c.pick(&["true", "false"]).to_string(),
            Type::Box => match self.c.below(3) {
                0 => "null".into(),
                1 => self.string_literal(),
                _ => format!("@{}", self.c.pick_ref(self.sigs).name),
            },
        }
    }

    fn string_literal(&mut self) -> String {
        let mut s = String::from("\"");
        for _ in 0..self.c.below(6) {
            s.push_str(self.c.pick(STRING_PIECES));
        }
        s.push('"');
        s
    }

    /// A value of type `ty`: one in scope, or an immediate literal.
    fn operand(&mut self, ty: Type) -> String {
        let candidates: Vec<&String> = self.scope.iter().filter(|(_, t)| *t == ty).map(|(n, _)| n).collect();
        if !candidates.is_empty() && self.c.chance(60) {
            format!("%{}", self.c.pick(&candidates))
        } else {
            self.literal(ty)
        }
    }

    /// Operands matching `params`.
    fn args(&mut self, params: &[Type]) -> String {
        let args: Vec<String> = params.iter().map(|&t| self.operand(t)).collect();
        args.join(", ")
    }

    /// Any value or literal, with its type.
    fn any_operand(&mut self) -> (String, Type) {
        let ty = self.c.pick(TYPES);
        (self.operand(ty), ty)
    }

    fn binop_for(&mut self, ty: Type) -> &'static str {
        let ops: &[&str] = match ty {
            Type::I64 => &["add", "sub", "mul", "div", "rem", "and", "or", "xor", "shl", "shr", "ushr"],
            Type::F64 => &["add", "sub", "mul", "div", "rem"],
            Type::Bool => &["and", "or", "xor"],
            Type::Box => unreachable!("no binop on box"),
        };
        self.c.pick(ops)
    }

    /// Emits an instruction defining a new value of type `ty`.
    fn define(&mut self, ty: Type) -> String {
        let inst = match (ty, self.c.below(3)) {
            (Type::Box, 0) => format!("const {}", self.literal(ty)),
            (Type::Box, 1) => {
                let (arg, _) = self.any_operand();
                format!("typeop cast {arg} to box")
            }
            (Type::Box, _) => "boxcall ArrayBox.new()".into(),
            (_, 0) => format!("const {}", self.literal(ty)),
            (_, 1) => {
                let op = self.binop_for(ty);
                format!("binop {op} {}, {}", self.operand(ty), self.operand(ty))
            }
            _ => format!("typeop cast {} to {ty}", self.operand(Type::Box)),
        };
        let result = self.fresh_value(ty);
        self.text.inst(format!("{result} = {inst}"));
        result
    }

    /// One straight-line instruction.
    fn simple(&mut self) {
        match self.c.below(14) {
            0 => {
                let ty = self.c.pick(TYPES);
                self.define(ty);
            }
            1 | 2 => {
                let ty = self.c.pick(&TYPES[..3]);
                let op = self.binop_for(ty);
                let (a, b) = (self.operand(ty), self.operand(ty));
                let r = self.fresh_value(ty);
                self.text.inst(format!("{r} = binop {op} {a}, {b}"));
            }
            3 => {
                let ty = self.c.pick(TYPES);
                let ops: &[&str] = if ty == Type::Bool { &["eq", "ne"] } else { &["eq", "ne", "lt", "le", "gt", "ge"] };
                let op = self.c.pick(ops);
                let (a, b) = (self.operand(ty), self.operand(ty));
                let r = self.fresh_value(Type::Bool);
                self.text.inst(format!("{r} = compare {op} {a}, {b}"));
            }
            4 => {
                let (arg, from) = self.any_operand();
                let to = self.c.pick(TYPES);
                let to =
                    if matches!((from, to), (Type::F64, Type::Bool) | (Type::Bool, Type::F64)) { from } else { to };
                let r = self.fresh_value(to);
                self.text.inst(format!("{r} = typeop cast {arg} to {to}"));
            }
            5 => {
                let (arg, _) = self.any_operand();
                let class = if !self.boxes.is_empty() && self.c.chance(50) {
                    self.c.pick_ref(self.boxes).name.clone()
                } else {
                    self.c.pick(BUILTIN_CLASSES).to_string()
                };
                let r = self.fresh_value(Type::Bool);
                self.text.inst(format!("{r} = typeop is {arg}, {class}"));
            }
            6 | 7 => self.direct_call(),
            8 => self.indirect_call(),
            9 | 10 => self.boxcall(),
            11 => self.externcall(),
            12 => {
                self.text.inst("safepoint");
            }
            _ => {
                let kind = self.c.pick(&["read", "write", "full"]);
                self.text.inst(format!("barrier {kind}"));
            }
        }
    }

    fn direct_call(&mut self) {
        let sig = self.c.pick_ref(self.sigs);
        let call = format!("call @{}({})", sig.name, self.args(&sig.params));
        match sig.ret {
            Some(ty) if self.c.below(4) != 0 => {
                let r = self.fresh_value(ty);
                self.text.inst(format!("{r} = {call}"));
            }
            _ => {
                self.text.inst(call);
            }
        }
    }

    /// `call %fv(...) -> T`: types are checked at run time, so anything goes.
    fn indirect_call(&mut self) {
        let sig = self.c.pick_ref(self.sigs);
        let callee = self.fresh_value(Type::Box);
        self.text.inst(format!("{callee} = const @{}", sig.name));
        let args = self.args(&sig.params);
        if self.c.chance(70) {
            let ty = self.c.pick(TYPES);
            let r = self.fresh_value(ty);
            self.text.inst(format!("{r} = call {callee}({args}){}", ret_suffix(Some(ty))));
        } else {
            self.text.inst(format!("call {callee}({args})"));
        }
    }

    fn boxcall(&mut self) {
        match self.c.below(4) {
            0 => {
                let r = self.fresh_value(Type::Box);
                self.text.inst(format!("{r} = boxcall ArrayBox.new()"));
            }
            1 if !self.boxes.is_empty() => {
                let b = self.c.pick_ref(self.boxes);
                let params = vec![Type::Box; b.fields.len()];
                let args: Vec<String> = params.iter().map(|_| self.any_operand().0).collect();
                let r = self.fresh_value(Type::Box);
                self.text.inst(format!("{r} = boxcall {}.new({})", b.name, args.join(", ")));
            }
            2 => {
                let (recv, _) = self.any_operand();
                if recv.starts_with('%') {
                    let (arg, _) = self.any_operand();
                    self.text.inst(format!("boxcall {recv}.push({arg})"));
                }
            }
            _ => {
                let (recv, _) = self.any_operand();
                if recv.starts_with('%') {
                    let ty = self.c.pick(TYPES);
                    let field = self.string_literal();
                    let r = self.fresh_value(ty);
                    self.text.inst(format!("{r} = boxcall {recv}.getField({field}){}", ret_suffix(Some(ty))));
                }
            }
        }
    }

    fn externcall(&mut self) {
        match self.c.below(3) {
            0 => {
                let (arg, _) = self.any_operand();
                self.text.inst(format!("externcall env.console.log({arg})"));
            }
            1 => {
                let ty = self.c.pick(&[Type::I64, Type::Box]);
                let r = self.fresh_value(ty);
                self.text.inst(format!("{r} = externcall env.time.nowNanos(){}", ret_suffix(Some(ty))));
            }
            _ => {
                let ty = self.c.pick(TYPES);
                let r = self.fresh_value(ty);
                self.text.inst(format!("{r} = externcall env.io.readLine(){}", ret_suffix(Some(ty))));
            }
        }
    }

    /// Starts block `label`.
    fn start_block(&mut self, label: String) {
        self.text.label(&label);
        self.block = label;
    }

    /// `branch` to two arms that meet at a join block with a phi; or, half
    /// the time, an `if` without `else` whose phi takes a value from before.
    fn diamond(&mut self, depth: usize) {
        let cond = self.operand(Type::Bool);
        let (then_label, else_label, join) = (self.fresh_label(), self.fresh_label(), self.fresh_label());
        let ty = self.c.pick(TYPES);
        let saved = self.scope.len();
        if self.c.chance(50) {
            let before = self.operand(ty);
            let from = self.block.clone();
            self.text.inst(format!("branch {cond}, {then_label}, {join}"));
            self.start_block(then_label);
            self.region(depth + 1);
            let value = self.operand(ty);
            let then_end = self.block.clone();
            self.text.inst(format!("jump {join}"));
            self.scope.truncate(saved);
            self.start_block(join);
            let r = self.fresh_value(ty);
            self.text.inst(format!("{r} = phi {ty} [{value}, {then_end}], [{before}, {from}]"));
            return;
        }
        self.text.inst(format!("branch {cond}, {then_label}, {else_label}"));
        let mut arms = Vec::new();
        for label in [then_label, else_label] {
            self.start_block(label);
            self.region(depth + 1);
            arms.push((self.operand(ty), self.block.clone()));
            self.text.inst(format!("jump {join}"));
            self.scope.truncate(saved);
        }
        self.start_block(join);
        let r = self.fresh_value(ty);
        self.text.inst(format!("{r} = phi {ty} [{}, {}], [{}, {}]", arms[0].0, arms[0].1, arms[1].0, arms[1].1));
    }

    /// A counted loop: a header with an i64 counter and maybe a second
    /// loop-carried value, a body (which may nest), and an exit.
    fn counted_loop(&mut self, depth: usize) {
        let init = self.operand(Type::I64);
        let carried_ty = self.c.pick(TYPES);
        let carried_init = self.operand(carried_ty);
        let pre = self.block.clone();
        let (head, body, exit) = (self.fresh_label(), self.fresh_label(), self.fresh_label());
        self.text.inst(format!("jump {head}"));
        self.start_block(head.clone());
        let i = self.fresh_value(Type::I64);
        let i_phi = self.text.inst("");
        let carried = self.fresh_value(carried_ty);
        let carried_phi = self.text.inst("");
        let bound = self.operand(Type::I64);
        let c = self.fresh_value(Type::Bool);
        self.text.inst(format!("{c} = compare lt {i}, {bound}"));
        let saved = self.scope.len();
        self.text.inst(format!("branch {c}, {body}, {exit}"));
        self.start_block(body);
        self.region(depth + 1);
        let step = self.operand(Type::I64);
        let i2 = self.fresh_value(Type::I64);
        self.text.inst(format!("{i2} = binop add {i}, {step}"));
        let carried2 = self.define(carried_ty);
        let latch = self.block.clone();
        self.text.inst(format!("jump {head}"));
        self.text.set(i_phi, format!("{i} = phi i64 [{init}, {pre}], [{i2}, {latch}]"));
        self.text
            .set(carried_phi, format!("{carried} = phi {carried_ty} [{carried_init}, {pre}], [{carried2}, {latch}]"));
        self.scope.truncate(saved);
        self.start_block(exit);
    }

    /// A bottom-tested loop: the latch decides whether to go round again, so
    /// the header's phis are live out of the latch into the exit.
    fn do_while(&mut self, depth: usize) {
        let init = self.operand(Type::I64);
        let carried_ty = self.c.pick(TYPES);
        let carried_init = self.operand(carried_ty);
        let pre = self.block.clone();
        let (head, exit) = (self.fresh_label(), self.fresh_label());
        self.text.inst(format!("jump {head}"));
        self.start_block(head.clone());
        let i = self.fresh_value(Type::I64);
        let i_phi = self.text.inst("");
        let carried = self.fresh_value(carried_ty);
        let carried_phi = self.text.inst("");
        self.region(depth + 1);
        let step = self.operand(Type::I64);
        let i2 = self.fresh_value(Type::I64);
        self.text.inst(format!("{i2} = binop add {i}, {step}"));
        let carried2 = self.define(carried_ty);
        let bound = self.operand(Type::I64);
        let c = self.fresh_value(Type::Bool);
        self.text.inst(format!("{c} = compare lt {i2}, {bound}"));
        let latch = self.block.clone();
        self.text.inst(format!("branch {c}, {head}, {exit}"));
        self.text.set(i_phi, format!("{i} = phi i64 [{init}, {pre}], [{i2}, {latch}]"));
        self.text
            .set(carried_phi, format!("{carried} = phi {carried_ty} [{carried_init}, {pre}], [{carried2}, {latch}]"));
        // The latch dominates the exit: everything in scope stays in scope.
        self.start_block(exit);
    }

    /// A few statements, nesting diamonds and loops up to depth 3.
    fn region(&mut self, depth: usize) {
        for _ in 0..self.c.below(6) {
            if self.budget == 0 {
                return;
            }
            self.budget -= 1;
            match self.c.below(9) {
                6 if depth < 3 => self.diamond(depth),
                7 if depth < 3 => self.counted_loop(depth),
                8 if depth < 3 => self.do_while(depth),
                _ => self.simple(),
            }
        }
    }

    fn ret(&mut self, ret: Option<Type>) -> String {
        match ret {
            Some(ty) => format!("return {}", self.operand(ty)),
            None => "return".into(),
        }
    }

    /// The whole body: an entry block, regions, a return, and sometimes an
    /// unreachable block that uses values from anywhere.
    fn body(&mut self, ret: Option<Type>) {
        let entry = if self.c.chance(30) { self.fresh_label() } else { "entry".to_string() };
        self.start_block(entry);
        self.region(0);
        let ret_inst = self.ret(ret);
        self.text.inst(ret_inst);
        if self.c.chance(25) {
            let dead = self.fresh_label();
            self.start_block(dead);
            self.scope = self.all.clone();
            self.simple();
            let ret_inst = self.ret(ret);
            self.text.inst(ret_inst);
        }
    }
}

/// Generates a valid module from a choice stream.
fn generate_module(choices: &[u32]) -> String {
    let mut c = Choices { data: choices, pos: 0 };
    // User boxes, each with methods implemented by functions named after it.
    let mut sigs = Vec::new();
    let mut boxes = Vec::new();
    for b in 0..c.below(3) {
        let name = if c.chance(30) { format!("my.Box{b}") } else { format!("B{b}") };
        // A field may be called `weak`: `field weak weak` is a weak one.
        let fields = (0..c.below(4))
            .map(|f| (if f == 0 && c.chance(20) { "weak".into() } else { format!("f{f}") }, c.chance(30)));
        let fields: Vec<(String, bool)> = fields.collect();
        let mut methods = Vec::new();
        for (m, method) in ["get", "birth", "fini"].iter().enumerate().take(c.below(4)) {
            // The runtime calls `fini` with the receiver alone.
            let extra = if *method == "fini" { 0 } else { c.below(3) };
            let params = std::iter::once(Type::Box).chain((0..extra).map(|_| c.pick(TYPES))).collect();
            let ret = if m == 0 { Some(c.pick(TYPES)) } else { None };
            methods.push((method.to_string(), sigs.len()));
            sigs.push(Sig { name: format!("{name}.{method}"), params, ret });
        }
        boxes.push(BoxGen { name, fields, methods });
    }
    // Plain functions, then @main.
    for f in 0..1 + c.below(4) {
        let name = match c.below(3) {
            0 => format!("f{f}"),
            1 => format!("util.f{f}"),
            _ => format!("_F{f}"),
        };
        let params = (0..c.below(4)).map(|_| c.pick(TYPES)).collect();
        let ret = if c.chance(80) { Some(c.pick(TYPES)) } else { None };
        sigs.push(Sig { name, params, ret });
    }
    sigs.push(Sig { name: "main".into(), params: vec![], ret: if c.chance(80) { Some(Type::I64) } else { None } });

    // Items in a random order: names are module-global.
    let mut items: Vec<Result<usize, usize>> = (0..boxes.len()).map(Err).chain((0..sigs.len()).map(Ok)).collect();
    for i in (1..items.len()).rev() {
        items.swap(i, c.below(i + 1));
    }
    let mut text = Text::default();
    for (n, item) in items.into_iter().enumerate() {
        if n > 0 {
            text.line("");
        }
        match item {
            Err(b) => {
                let b = &boxes[b];
                text.line(format!("box {} {{", b.name));
                for (field, weak) in &b.fields {
                    text.line(format!("  field {}{field}", if *weak { "weak " } else { "" }));
                }
                for (method, f) in &b.methods {
                    text.line(format!("  method {method} @{}", sigs[*f].name));
                }
                text.line("}");
            }
            Ok(f) => {
                let sig = &sigs[f];
                let params: Vec<String> = sig.params.iter().enumerate().map(|(i, t)| format!("%p{i}: {t}")).collect();
                text.line(format!("func @{}({}){} {{", sig.name, params.join(", "), ret_suffix(sig.ret)));
                let scope: Vec<(String, Type)> =
                    sig.params.iter().enumerate().map(|(i, &t)| (format!("p{i}"), t)).collect();
                let budget = 3 + c.below(30);
                let mut g = FuncGen {
                    c: &mut c,
                    sigs: &sigs,
                    boxes: &boxes,
                    text: &mut text,
                    all: scope.clone(),
                    scope,
                    block: String::new(),
                    next_value: 0,
                    next_label: 0,
                    budget,
                };
                g.body(sig.ret);
                text.line("}");
            }
        }
    }
    text.finish()
}

fn check_generated(text: &str) {
    let parsed = mir::parse(text).unwrap_or_else(|e| panic!("generated module does not parse: {e:?}\n{text}"));
    let file = SourceFile::new("gen.mir", text);
    let source = Source { file: &file, map: &parsed.spans };
    let errors = mir::verify(&parsed.module, Some(source), &externs());
    assert!(errors.is_empty(), "generated module does not verify:\n{}\n{text}", mir::render(&file, &errors));
    check_round_trip(text, &parsed);
    let program = Program::new(parsed.module.clone(), Some(source), &externs())
        .unwrap_or_else(|e| panic!("Program::new failed: {e:?}\n{text}"));
    check_liveness(&program, text);
    check_drop_plan(&program, text);
    // Both dumps are valid MIR13 text (annotations are comments) for the same module.
    for kind in [DumpKind::Ir, DumpKind::Liveness] {
        let dump = mir::dump(&program, kind);
        let reparsed = mir::parse(&dump).unwrap_or_else(|e| panic!("{kind:?} dump does not parse: {e:?}\n{dump}"));
        assert!(reparsed.module == parsed.module, "{kind:?} dump parses to another module\n{dump}");
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn generated_modules_verify_and_round_trip(choices in prop::collection::vec(any::<u32>(), 0..600)) {
        check_generated(&generate_module(&choices));
    }
}

#[test]
fn generator_with_no_choices_makes_the_smallest_module() {
    let text = generate_module(&[]);
    assert_eq!(text, "func @main() {\nentry:\n  return\n}\n\nfunc @f0() {\nentry:\n  return\n}\n");
    check_generated(&text);
}

// ---------------------------------------------------------------------------
// Deterministic stress tests
// ---------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), for large inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Runs `f` on a thread with a 1 MiB stack: the front end and the analyses
/// use explicit stacks, so input size must not turn into native stack depth.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    let thread = std::thread::Builder::new().stack_size(1 << 20).spawn(f).expect("spawn");
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Parses, verifies and analyses `text`, which must be valid; checks the
/// round trip, liveness against the naive fixpoint and the drop plan.
fn check_valid_program(text: &str) -> Program {
    let parsed = mir::parse(text).unwrap_or_else(|e| panic!("does not parse: {:?}", &e[..e.len().min(3)]));
    let errors = mir::verify(&parsed.module, None, &externs());
    assert!(errors.is_empty(), "does not verify: {:?}", &errors[..errors.len().min(3)]);
    check_round_trip(text, &parsed);
    let program = Program::new(parsed.module, None, &externs()).expect("Program::new");
    check_liveness(&program, "(large program)");
    check_drop_plan(&program, "(large program)");
    let _ = mir::dump(&program, DumpKind::Ir);
    let _ = mir::dump(&program, DumpKind::Liveness);
    program
}

#[test]
fn ten_megabytes_of_printable_garbage() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let text: String = (0..10 << 20)
        .map(|_| match rng.next() % 96 {
            95 => '\n',
            c => char::from(b' ' + c as u8),
        })
        .collect();
    let start = std::time::Instant::now();
    let errors = mir::parse(&text).expect_err("garbage does not parse");
    let file = SourceFile::new("garbage.mir", text.as_str());
    let rendered = mir::render(&file, &errors);
    let elapsed = start.elapsed();
    assert!(errors.len() > mir::MAX_RENDERED_ERRORS);
    assert!(rendered.ends_with(&format!("error: {} errors in garbage.mir\n", errors.len())));
    assert!(rendered.contains(&format!("{} more errors not shown", errors.len() - mir::MAX_RENDERED_ERRORS)));
    // Lines here are ~100 characters: each shown error takes well under 1 KiB.
    assert!(rendered.len() < mir::MAX_RENDERED_ERRORS * 1024, "rendered {} bytes", rendered.len());
    if !cfg!(debug_assertions) {
        assert!(elapsed.as_secs() < 20, "parsing and rendering 10 MB took {elapsed:?}");
    }
}

/// `%v0` in the entry block, then `n` blocks in a chain, each with a
/// one-entry phi, a binop and a jump; a box made in the entry block is used
/// only at the very end.
fn chain_text(n: usize) -> String {
    let mut text = Text::default();
    text.line("func @main() -> i64 {");
    text.label("entry");
    text.inst("%v0 = const 0");
    text.inst("%keep = boxcall ArrayBox.new()");
    text.inst("jump b1");
    for i in 1..=n {
        let pred = if i == 1 { "entry".to_string() } else { format!("b{}", i - 1) };
        text.label(&format!("b{i}"));
        text.inst(format!("%p{i} = phi i64 [%v{}, {pred}]", i - 1));
        text.inst(format!("%v{i} = binop add %p{i}, 1"));
        if i < n {
            text.inst(format!("jump b{}", i + 1));
        }
    }
    text.inst("externcall env.console.log(%keep)");
    text.inst(format!("return %v{n}"));
    text.line("}");
    text.finish()
}

#[test]
fn chain_of_100_000_blocks() {
    on_small_stack(|| {
        let program = check_valid_program(&chain_text(100_000));
        let id = program.main().expect("main");
        let info = program.info(id);
        assert_eq!(info.order.rpo().len(), 100_001);
        let last = *info.order.rpo().last().expect("blocks");
        assert_eq!(info.domtree.idom(last).map(|b| b.as_u32()), Some(99_999));
    });
}

#[test]
fn value_live_across_20_000_blocks() {
    // Entry makes `%keep` (a box) and `%k` (an i64); then 6,667 diamonds
    // (20,001 blocks) that never touch them; the last block uses both.
    const DIAMONDS: usize = 6_667;
    let mut text = Text::default();
    text.line("func @main() -> i64 {");
    text.label("entry");
    text.inst("%keep = boxcall ArrayBox.new()");
    text.inst("%k = const 7");
    text.inst("%c = compare lt %k, 10");
    text.inst("jump d0");
    for i in 0..DIAMONDS {
        text.label(&format!("d{i}"));
        text.inst(format!("branch %c, l{i}, r{i}"));
        for arm in ["l", "r"] {
            text.label(&format!("{arm}{i}"));
            text.inst(format!("jump d{}", i + 1));
        }
    }
    text.label(&format!("d{DIAMONDS}"));
    text.inst("externcall env.console.log(%keep)");
    text.inst("return %k");
    text.line("}");
    let text = text.finish();
    on_small_stack(move || {
        let program = check_valid_program(&text);
        let id = program.main().expect("main");
        let (func, info) = (program.func(id), program.info(id));
        let value = |name: &str| {
            let sym = program.module().symbols.lookup(name).expect("name");
            func.values.iter().find(|(_, d)| d.name == Some(sym)).map(|(v, _)| v).expect("value")
        };
        let (keep, k) = (value("keep"), value("k"));
        let last = func.blocks.keys().last().expect("blocks");
        for &block in &info.order.rpo()[1..] {
            let live_in = info.liveness.live_in(block);
            assert!(live_in.contains(&keep) && live_in.contains(&k), "not live into {block:?}");
            if block != last {
                assert!(info.liveness.live_out(block).contains(&keep), "not live out of {block:?}");
            }
        }
        assert_eq!(info.order.rpo().len(), 3 * DIAMONDS + 2);
        // `%keep` dies at its use in the last block, and only there.
        let log = func.blocks[last].insts.iter().copied().find(|&i| func.operands(i).any(|v| v == keep));
        assert_eq!(info.drops.releases_after(log.expect("the log call")), &[keep]);
    });
}

// ---------------------------------------------------------------------------
// Regression tests: bugs the properties above found, minimised.
// ---------------------------------------------------------------------------

/// The printer writes a box's fields before its methods, but the symbol
/// table interns names in text order, and `Symbols` equality is by order. So
/// a box declaring a method before a field does not survive print -> parse.
#[test]
fn box_member_order_round_trip() {
    let src = "box P {\n  method m @f\n  field x\n}\n\nfunc @f(%self: box) {\nentry:\n  return\n}\n";
    let parsed = mir::parse(src).expect("parses");
    assert!(mir::verify(&parsed.module, None, &mir::NoExterns).is_empty());
    let printed = mir::print_module(&parsed.module);
    let reparsed = mir::parse(&printed).expect("printed text parses");
    assert!(parsed.module == reparsed.module, "print -> parse changed the module:\n{printed}");
}

/// `render` caps the number of errors, but shows each error's whole source
/// line: n errors on one long line render to about min(n, 100) x its length.
/// Here a 100 KB line renders to about 10 MB (a 10 MB line, to 1 GB).
#[test]
fn render_is_bounded_on_long_lines() {
    let text = "!".repeat(100_000);
    let errors = mir::parse(&text).expect_err("errors");
    let rendered = mir::render(&SourceFile::new("long.mir", text.as_str()), &errors);
    assert!(rendered.len() < 1 << 20, "rendered {} bytes for a {} byte input", rendered.len(), text.len());
}

/// The edge plan of a loop's back edge releases `%p`, the header phi's old
/// value (live out of the latch because the exit uses it). But an
/// [`mir::EdgePlan`] is documented to apply after the phis, when `%p` already
/// holds its new value: a backend following it frees the new object (which
/// the exit then uses) and leaks the old one. The dump shows
/// `edge -> head: moves into [%p]; release [%p]`, and `mir13 run --backend
/// interp` on this program dies with SIGSEGV.
#[test]
fn edge_release_of_a_redefined_phi() {
    let src = "\
func @main() -> i64 {
entry:
  %x = boxcall ArrayBox.new()
  jump head
head:
  %n = phi i64 [0, entry], [%n2, head]
  %p = phi box [%x, entry], [%q, head]
  %q = boxcall ArrayBox.new()
  %n2 = binop add %n, 1
  %c = compare lt %n2, 3
  branch %c, head, exit
exit:
  externcall env.console.log(%p)
  return 0
}
";
    let parsed = mir::parse(src).expect("parses");
    let program = Program::new(parsed.module, None, &externs()).expect("valid");
    check_drop_plan(&program, src);
}

/// Early exits from a long chain to one shared block (`if (err) goto fail`)
/// make the Cooper-Harvey-Kennedy `intersect` walk the whole chain for each
/// predecessor: quadratic. 40,000 blocks take ~3 s to verify, 100,000 about
/// 20 s, and `Program::new` verifies again.
#[test]
fn shared_exit_block_is_not_quadratic() {
    let n = 100_000;
    let mut text = Text::default();
    text.line("func @main() -> i64 {");
    text.label("entry");
    text.inst("jump b0");
    for i in 0..n {
        text.label(&format!("b{i}"));
        text.inst(format!("%c{i} = compare eq {i}, 7"));
        text.inst(format!("branch %c{i}, fail, b{}", i + 1));
    }
    text.label(&format!("b{n}"));
    text.inst("return 0");
    text.label("fail");
    text.inst("return 1");
    text.line("}");
    let parsed = mir::parse(&text.finish()).expect("parses");
    let func = parsed.module.funcs.values().next().expect("a function");
    let start = std::time::Instant::now();
    let cfg = mir::Cfg::new(func);
    let order = mir::BlockOrder::new(func, &cfg);
    let _ = mir::DomTree::new(func, &cfg, &order);
    assert!(start.elapsed().as_secs_f64() < 1.0, "dominators of {n} blocks took {:?}", start.elapsed());
}

/// `plan_edge` checks `moved.contains(..)` for every phi of the successor
/// and every live-out value: quadratic in the number of phis of a block.
/// A loop header with 40,000 box phis takes ~1.6 s to plan, 100,000 ~10 s.
#[test]
fn many_phis_are_not_quadratic() {
    let n = 100_000;
    let mut text = Text::default();
    text.line("func @main() -> i64 {");
    text.label("entry");
    text.inst("jump head");
    text.label("head");
    for i in 0..n {
        text.inst(format!("%p{i} = phi box [null, entry], [%p{}, head]", (i + 1) % n));
    }
    text.inst("%c = compare eq %p0, null");
    text.inst("branch %c, head, exit");
    text.label("exit");
    text.inst("return 0");
    text.line("}");
    let parsed = mir::parse(&text.finish()).expect("parses");
    let start = std::time::Instant::now();
    let _ = Program::new(parsed.module, None, &externs()).expect("valid");
    assert!(start.elapsed().as_secs_f64() < 2.0, "Program::new of {n} phis took {:?}", start.elapsed());
}
