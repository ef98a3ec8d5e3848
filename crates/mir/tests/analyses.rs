//! The shared analyses on small hand-checked functions: CFG, dominators,
//! loop headers, liveness and the drop plan of §6.

use mir::{Block, FuncId, Program, Value};

fn program(src: &str) -> Program {
    let parsed = mir::parse(src).unwrap_or_else(|e| panic!("syntax errors: {e:?}"));
    Program::new(parsed.module, None, &mir::NoExterns).unwrap_or_else(|e| panic!("verify errors: {e:?}"))
}

fn func_named(p: &Program, name: &str) -> FuncId {
    p.module().find_function(name).expect("function exists")
}

fn block(p: &Program, f: FuncId, label: &str) -> Block {
    let func = p.func(f);
    func.blocks.iter().find(|(_, b)| p.module().sym(b.name) == label).map(|(b, _)| b).expect("label exists")
}

fn value(p: &Program, f: FuncId, name: &str) -> Value {
    let func = p.func(f);
    func.values
        .iter()
        .find(|(_, v)| v.name.is_some_and(|n| p.module().sym(n) == name))
        .map(|(v, _)| v)
        .expect("value exists")
}

fn names(p: &Program, f: FuncId, values: &[Value]) -> Vec<String> {
    let func = p.func(f);
    values
        .iter()
        .map(|&v| func.values[v].name.map_or(format!("_{}", v.as_u32()), |n| p.module().sym(n).to_string()))
        .collect()
}

fn edge_names(p: &Program, f: FuncId, releases: &[mir::EdgeRelease]) -> Vec<String> {
    names(p, f, &releases.iter().map(|r| r.value).collect::<Vec<_>>())
}

/// The instruction defining `name`.
fn def(p: &Program, f: FuncId, name: &str) -> mir::Inst {
    match p.func(f).values[value(p, f, name)].def {
        mir::ValueDef::Result(inst) => inst,
        mir::ValueDef::Param(_) => panic!("{name} is a parameter"),
    }
}

const DIAMOND_AND_LOOP: &str = "
func @f(%n: i64) -> i64 {
entry:
  %c = compare lt %n, 0
  branch %c, neg, pos
neg:
  %m = binop sub 0, %n
  jump join
pos:
  jump join
join:
  %a = phi i64 [%m, neg], [%n, pos]
  jump head
head:
  %i = phi i64 [0, join], [%i2, body]
  %done = compare ge %i, %a
  branch %done, exit, body
body:
  %i2 = binop add %i, 1
  jump head
exit:
  return %i
dead:
  jump exit
}
";

#[test]
fn cfg_dominators_and_loop_headers() {
    let p = program(DIAMOND_AND_LOOP);
    let f = func_named(&p, "f");
    let info = p.info(f);
    let b = |l| block(&p, f, l);
    assert_eq!(info.cfg.preds(b("join")), &[b("neg"), b("pos")]);
    assert_eq!(info.cfg.succs(b("entry")), &[b("neg"), b("pos")]);
    assert_eq!(info.domtree.idom(b("join")), Some(b("entry")));
    assert_eq!(info.domtree.idom(b("body")), Some(b("head")));
    assert!(info.domtree.dominates(b("head"), b("exit")));
    assert!(!info.domtree.dominates(b("neg"), b("join")));
    assert!(info.order.is_loop_header(b("head")));
    assert!(!info.order.is_loop_header(b("join")));
    assert!(!info.order.is_reachable(b("dead")));
    assert_eq!(info.order.rpo()[0], b("entry"));
    assert_eq!(info.order.rpo().len(), 7);
}

/// Two entries into the cycle a <-> b: neither dominates the other.
const TWO_ENTRY_CYCLE: &str = "func @f(%c: bool) {
entry:
  branch %c, a, b
a:
  branch %c, b, exit
b:
  branch %c, a, exit
exit:
  return
}";

#[test]
fn irreducible_loop_gets_a_header() {
    // Two entries into the cycle a <-> b: neither dominates the other, but
    // the cycle still has a header for its implicit safepoint.
    let p = program(TWO_ENTRY_CYCLE);
    let f = func_named(&p, "f");
    let info = p.info(f);
    let headers = ["a", "b"].iter().filter(|l| info.order.is_loop_header(block(&p, f, l))).count();
    assert_eq!(headers, 1);
    assert!(!info.domtree.dominates(block(&p, f, "a"), block(&p, f, "b")));
}

#[test]
fn liveness_of_a_loop() {
    let p = program(DIAMOND_AND_LOOP);
    let f = func_named(&p, "f");
    let info = p.info(f);
    let live_in = |l| names(&p, f, info.liveness.live_in(block(&p, f, l)));
    let live_out = |l| names(&p, f, info.liveness.live_out(block(&p, f, l)));
    assert_eq!(live_in("head"), ["a"]);
    assert_eq!(live_out("head"), ["a", "i"]);
    assert_eq!(live_out("body"), ["a", "i2"]);
    assert_eq!(live_in("exit"), ["i"]);
    assert_eq!(live_out("neg"), ["m"]);
    assert_eq!(live_out("pos"), ["n"]);
}

const STRING_LOOP: &str = r#"
func @build(%n: i64) -> box {
entry:
  jump loop
loop:
  %i = phi i64 [0, entry], [%i2, body]
  %s = phi box ["", entry], [%s2, body]
  %done = compare ge %i, %n
  branch %done, exit, body
body:
  %piece = boxcall %i.toString()
  %s2 = boxcall %s.concat(%piece)
  %i2 = binop add %i, 1
  jump loop
exit:
  return %s
}
"#;

#[test]
fn unique_receiver_at_last_use_is_handed_over() {
    let p = program(STRING_LOOP);
    let f = func_named(&p, "build");
    let drops = &p.info(f).drops;
    let concat = def(&p, f, "s2");
    assert_eq!(drops.consumed(concat), Some(value(&p, f, "s")));
    assert_eq!(names(&p, f, drops.releases_after(concat)), ["piece"]);
    let ret = *p.func(f).blocks[block(&p, f, "exit")].insts.last().unwrap();
    assert_eq!(drops.consumed(ret), Some(value(&p, f, "s")));
}

#[test]
fn loop_carried_value_moves_into_its_phi() {
    let p = program(STRING_LOOP);
    let f = func_named(&p, "build");
    let info = p.info(f);
    let body = block(&p, f, "body");
    let edge = info.drops.edge(body, 0);
    // Phis of `loop`: %i (i64, never moved) then %s (box, moved from %s2).
    assert_eq!(edge.moves, &[false, true]);
    assert!(edge.releases.is_empty());
}

#[test]
fn loop_exit_edge_releases_what_dies_there() {
    let p = program(
        r#"
func @f(%n: i64) -> i64 {
entry:
  %keep = boxcall ArrayBox.new()
  jump loop
loop:
  %i = phi i64 [0, entry], [%i2, loop]
  %len = boxcall %keep.length() -> i64
  %i2 = binop add %i, %len
  %done = compare ge %i2, %n
  branch %done, exit, loop
exit:
  return %i2
}
"#,
    );
    let f = func_named(&p, "f");
    let info = p.info(f);
    let lp = block(&p, f, "loop");
    let exit_index = info.cfg.succs(lp).iter().position(|&b| b == block(&p, f, "exit")).unwrap();
    let back_index = 1 - exit_index;
    assert_eq!(edge_names(&p, f, info.drops.edge(lp, exit_index).releases), ["keep"]);
    assert!(info.drops.edge(lp, back_index).releases.is_empty());
    // Not handed over in the loop: %keep is still live on the back edge.
    assert_eq!(info.drops.consumed(def(&p, f, "len")), None);
}

#[test]
fn unused_values_die_at_definition_in_definition_order() {
    let p = program(
        r#"
func @f() {
entry:
  %a = boxcall ArrayBox.new()
  %b = boxcall ArrayBox.new()
  %unused = boxcall ArrayBox.new()
  %pair = boxcall ArrayBox.new()
  boxcall %pair.push(%b)
  boxcall %pair.push(%a)
  return
}
"#,
    );
    let f = func_named(&p, "f");
    let drops = &p.info(f).drops;
    assert_eq!(names(&p, f, drops.releases_after(def(&p, f, "unused"))), ["unused"]);
    let insts = &p.func(f).blocks[block(&p, f, "entry")].insts;
    let last_push = insts[insts.len() - 2];
    // %a and %pair die together; %a was defined first. %pair, the receiver,
    // is not first in order, so it is released after the call, not taken.
    assert_eq!(drops.consumed(last_push), None);
    assert_eq!(names(&p, f, drops.releases_after(last_push)), ["a", "pair"]);
}

#[test]
fn parameters_are_borrowed_and_never_released() {
    let p = program(
        r#"
func @f(%x: box) -> box {
entry:
  %n = boxcall %x.length()
  return %x
}
"#,
    );
    let f = func_named(&p, "f");
    let drops = &p.info(f).drops;
    let insts = &p.func(f).blocks[block(&p, f, "entry")].insts;
    assert_eq!(drops.consumed(insts[0]), None);
    assert_eq!(names(&p, f, drops.releases_after(insts[0])), ["n"]);
    assert_eq!(drops.consumed(insts[1]), None, "a returned parameter is copied, not moved");
}

#[test]
fn unused_phi_result_dies_after_the_phis() {
    let p = program(
        r#"
func @f(%c: bool) {
entry:
  branch %c, a, b
a:
  %x = boxcall ArrayBox.new()
  jump join
b:
  %y = boxcall ArrayBox.new()
  jump join
join:
  %p = phi box [%x, a], [%y, b]
  return
}
"#,
    );
    let f = func_named(&p, "f");
    let info = p.info(f);
    for label in ["a", "b"] {
        let edge = info.drops.edge(block(&p, f, label), 0);
        assert_eq!(edge.moves, &[true]);
        assert_eq!(edge_names(&p, f, edge.releases), ["p"]);
        assert!(edge.releases[0].new_phi, "an unused phi result is the phi's new value");
    }
}

#[test]
fn a_value_feeding_two_phis_moves_once() {
    let p = program(
        r#"
func @f() {
entry:
  %x = boxcall ArrayBox.new()
  jump join
join:
  %p = phi box [%x, entry]
  %q = phi box [%x, entry]
  boxcall %p.push(%q)
  return
}
"#,
    );
    let f = func_named(&p, "f");
    let edge = p.info(f).drops.edge(block(&p, f, "entry"), 0);
    assert_eq!(edge.moves, &[true, false]);
}

#[test]
fn an_old_phi_value_dying_on_its_own_back_edge_is_read_before_the_phis() {
    // %p is live out of `head` only for `exit`; on the back edge its old
    // value dies while the phi defines a new one.
    let p = program(
        r#"
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
  %len = boxcall %p.length() -> i64
  return %len
}
"#,
    );
    let f = func_named(&p, "main");
    let info = p.info(f);
    let head = block(&p, f, "head");
    let back = info.cfg.succs(head).iter().position(|&b| b == head).unwrap();
    let edge = info.drops.edge(head, back);
    assert_eq!(edge.moves, &[false, true]);
    assert_eq!(edge.releases, &[mir::EdgeRelease { value: value(&p, f, "p"), new_phi: false }]);
}

#[test]
fn pressure_counts_values_live_at_once() {
    let p = program(
        "func @f(%x: i64) -> i64 {
entry:
  %a = binop add %x, %x
  %b = binop mul %a, %a
  %unused = binop sub %a, %b
  %c = binop add %a, %b
  return %c
}",
    );
    let f = func_named(&p, "f");
    let info = p.info(f);
    // %a, %b and the dead %unused at its definition; before each
    // instruction: %x, %a, %a %b, %a %b, %c.
    assert_eq!(info.liveness.pressure(p.func(f), &info.order, |_| 1), mir::Pressure { max: 3, area: 7 });

    let p = program(STRING_LOOP);
    let f = func_named(&p, "build");
    let info = p.info(f);
    // In `body`, at the concat: %n, %i, %s and %piece.
    assert_eq!(info.liveness.pressure(p.func(f), &info.order, |_| 1).max, 4);
}

#[test]
fn reducibility() {
    let p = program(DIAMOND_AND_LOOP);
    assert!(p.info(func_named(&p, "f")).is_reducible());
    let p = program(TWO_ENTRY_CYCLE);
    assert!(!p.info(func_named(&p, "f")).is_reducible());
}
