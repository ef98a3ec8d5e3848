//! Annotated listings of a verified program, for `mir13 dump`.
//!
//! Both listings are valid MIR13 text: annotations are `;` comments.

use crate::ir::{FuncId, Item, Value};
use crate::printer::{is_inline_const, write_box, write_inst, write_signature};
use crate::program::Program;
use std::fmt::Write;

/// What to annotate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpKind {
    /// Predecessors, loop headers and the type of every result.
    Ir,
    /// Live-in/live-out sets and the drop plan.
    Liveness,
}

/// The program's text with annotations of `kind`.
pub fn dump(program: &Program, kind: DumpKind) -> String {
    let mut out = String::new();
    let module = program.module();
    for (i, item) in module.items.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match *item {
            Item::Func(f) => dump_function(&mut out, program, f, kind),
            Item::Box(b) => write_box(&mut out, module, &module.boxes[b]).expect("writing to a String cannot fail"),
        }
    }
    out
}

fn dump_function(out: &mut String, program: &Program, id: FuncId, kind: DumpKind) {
    let module = program.module();
    let func = program.func(id);
    let info = program.info(id);
    let name = |v: Value| match func.values[v].name {
        Some(n) => format!("%{}", module.sym(n)),
        None => format!("%_{}", v.as_u32()),
    };
    let names = |vs: &[Value]| vs.iter().map(|&v| name(v)).collect::<Vec<_>>().join(" ");
    let label = |b| module.sym(func.blocks[b].name);

    write_signature(out, module, func).expect("writing to a String cannot fail");
    out.push('\n');

    for (block, data) in func.blocks.iter() {
        let mut notes = Vec::new();
        if !info.order.is_reachable(block) {
            notes.push("unreachable".to_string());
        } else {
            let preds: Vec<&str> = info.cfg.preds(block).iter().map(|&p| label(p)).collect();
            if !preds.is_empty() {
                notes.push(format!("preds: {}", preds.join(", ")));
            }
            if info.order.is_loop_header(block) {
                notes.push("loop header".into());
            }
            if kind == DumpKind::Liveness {
                notes.push(format!("live-in: [{}]", names(info.liveness.live_in(block))));
            }
        }
        let _ = write!(out, "{}:", label(block));
        if !notes.is_empty() {
            let _ = write!(out, "  ; {}", notes.join("; "));
        }
        out.push('\n');
        for &inst in &data.insts {
            if is_inline_const(func, inst) {
                continue;
            }
            let mut line = String::from("  ");
            write_inst(&mut line, module, func, inst).expect("writing to a String cannot fail");
            let mut notes = Vec::new();
            match kind {
                DumpKind::Ir => {
                    if let Some(r) = func.results[inst] {
                        notes.push(info.types[r].to_string());
                    }
                }
                DumpKind::Liveness if info.order.is_reachable(block) => {
                    if let Some(c) = info.drops.consumed(inst) {
                        notes.push(format!("takes {}", name(c)));
                    }
                    let released = info.drops.releases_after(inst);
                    if !released.is_empty() {
                        notes.push(format!("release {}", names(released)));
                    }
                }
                DumpKind::Liveness => {}
            }
            if !notes.is_empty() {
                let _ = write!(line, "  ; {}", notes.join("; "));
            }
            out.push_str(&line);
            out.push('\n');
        }
        if kind == DumpKind::Liveness && info.order.is_reachable(block) {
            let _ = writeln!(out, "  ; live-out: [{}]", names(info.liveness.live_out(block)));
            for (i, &succ) in info.cfg.succs(block).iter().enumerate() {
                let edge = info.drops.edge(block, i);
                let moved: Vec<String> = func
                    .phis(succ)
                    .zip(edge.moves)
                    .filter(|&(_, &m)| m)
                    .filter_map(|(phi, _)| func.results[phi].map(name))
                    .collect();
                let released: Vec<String> = edge
                    .releases
                    .iter()
                    .map(|r| if r.new_phi { format!("{} (unused)", name(r.value)) } else { name(r.value) })
                    .collect();
                let _ = writeln!(
                    out,
                    "  ; edge -> {}: moves into [{}]; release [{}]",
                    label(succ),
                    moved.join(" "),
                    released.join(" ")
                );
            }
        }
    }
    out.push_str("}\n");
}
