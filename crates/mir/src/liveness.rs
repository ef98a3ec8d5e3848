//! Liveness and the drop plan of §6: where each Box reference dies.
//!
//! [`Liveness`] holds, per reachable block, the values live on entry (not
//! counting the block's own phis) and on exit, as sorted lists. It is built
//! one variable at a time by walking up from each use to the definition
//! (Brandner et al., "Computing Liveness Sets for SSA-Form Programs"), so its
//! cost follows the size of the live ranges, never blocks × values.
//!
//! [`DropPlan`] turns liveness into what a backend does:
//! - after each instruction, the values released there, in definition order
//!   (a value never used dies right after its definition);
//! - the operand an instruction takes over instead of releasing: a `boxcall`
//!   receiver at its last use (which allows in-place reuse), a returned
//!   value, a `cast` to box of a box;
//! - on each CFG edge, which phi entries move their reference into the phi,
//!   and the values released at the start of the successor, after its phis
//!   (a dying old value of one of the successor's own phis is read before
//!   the phis overwrite its register: see [`EdgeRelease`]).
//!
//! Only *owned* values are planned: `box` values that are not parameters
//! (MIR calls borrow their arguments, so the caller releases them).

use crate::cfg::{BlockOrder, Cfg};
use crate::entity::EntityVec;
use crate::ir::{Block, Function, Inst, InstData, PhiEntry, Receiver, Type, TypeOpKind, Value, ValueDef};
use std::collections::HashSet;

/// The most entries the live sets of one function may hold, live-in and
/// live-out together (2^26, 256 MiB of memory). Some shapes need sets
/// quadratic in the function's size: 20,000 nested loops took 6 GB and 38 s
/// on every backend. Such a function is rejected instead, as Lua rejects a
/// function with too many locals.
pub const MAX_LIVE_ENTRIES: usize = 1 << 26;

/// Error: a function's live sets would hold more than [`MAX_LIVE_ENTRIES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyLiveValues;

/// Live-in and live-out sets of every reachable block.
#[derive(Clone, Debug)]
pub struct Liveness {
    live_in: EntityVec<Block, Vec<Value>>,
    live_out: EntityVec<Block, Vec<Value>>,
}

impl Liveness {
    /// Computes liveness of every value of `func` over its reachable blocks,
    /// unless the sets would hold more than [`MAX_LIVE_ENTRIES`].
    pub fn new(func: &Function, cfg: &Cfg, order: &BlockOrder) -> Result<Liveness, TooManyLiveValues> {
        let n_blocks = func.blocks.len();
        let n_values = func.values.len();
        let mut live_in = EntityVec::filled(n_blocks, Vec::new());
        let mut live_out = EntityVec::filled(n_blocks, Vec::new());
        let Some(entry) = func.entry() else { return Ok(Liveness { live_in, live_out }) };

        let mut def_block = EntityVec::filled(n_values, Block::INVALID);
        // Uses in reachable code, grouped by value: (value, block, phi-predecessor).
        let mut uses: Vec<(Value, Block, Block)> = Vec::new();
        for (v, data) in func.values.iter() {
            if let ValueDef::Param(_) = data.def {
                def_block[v] = entry;
            }
        }
        for &block in order.rpo() {
            for &inst in &func.blocks[block].insts {
                if let Some(r) = func.results[inst] {
                    def_block[r] = block;
                }
                match func.insts[inst] {
                    InstData::Phi { entries, .. } => {
                        for e in func.phi_list(entries) {
                            if order.is_reachable(e.block) {
                                uses.push((e.value, block, e.block));
                            }
                        }
                    }
                    _ => uses.extend(func.operands(inst).map(|v| (v, block, Block::INVALID))),
                }
            }
        }
        uses.sort_unstable_by_key(|u| u.0);

        let mut stamp_in = EntityVec::filled(n_blocks, Value::INVALID);
        let mut stamp_out = EntityVec::filled(n_blocks, Value::INVALID);
        let mut stack = Vec::new();
        let mut entries = 0;
        for &(v, block, phi_pred) in &uses {
            let start = if phi_pred == Block::INVALID {
                block
            } else {
                if stamp_out[phi_pred] != v {
                    stamp_out[phi_pred] = v;
                    live_out[phi_pred].push(v);
                }
                phi_pred
            };
            stack.push(start);
            while let Some(b) = stack.pop() {
                if def_block[v] == b || stamp_in[b] == v {
                    continue;
                }
                stamp_in[b] = v;
                live_in[b].push(v);
                entries += 1;
                for &pred in cfg.preds(b) {
                    if !order.is_reachable(pred) {
                        continue;
                    }
                    if stamp_out[pred] != v {
                        stamp_out[pred] = v;
                        live_out[pred].push(v);
                        entries += 1;
                    }
                    stack.push(pred);
                }
            }
            if entries > MAX_LIVE_ENTRIES {
                return Err(TooManyLiveValues);
            }
        }
        Ok(Liveness { live_in, live_out })
    }

    /// Values live on entry to `block`, before its phis, sorted by id. The
    /// block's own phi results are not included.
    #[inline]
    pub fn live_in(&self, block: Block) -> &[Value] {
        &self.live_in[block]
    }

    /// Values live on exit from `block` (including those only a successor's
    /// phi reads), sorted by id.
    #[inline]
    pub fn live_out(&self, block: Block) -> &[Value] {
        &self.live_out[block]
    }

    /// How many values are live at once in `func`'s reachable code: the
    /// register pressure a backend's allocator faces (a dead result counts
    /// at its definition), with the values live before each instruction
    /// counted `weight(inst)` times. Costs one backward walk of each block.
    pub fn pressure(&self, func: &Function, order: &BlockOrder, weight: impl Fn(Inst) -> usize) -> Pressure {
        let mut live = EntityVec::filled(func.values.len(), false);
        let mut marked = Vec::new();
        let (mut max, mut area) = (0, 0usize);
        for &block in order.rpo() {
            for &v in &self.live_out[block] {
                live[v] = true;
                marked.push(v);
            }
            let mut count = self.live_out[block].len();
            max = max.max(count);
            for &inst in func.blocks[block].insts.iter().rev() {
                if let Some(r) = func.results[inst] {
                    max = max.max(count + usize::from(!live[r]));
                    if std::mem::replace(&mut live[r], false) {
                        count -= 1;
                    }
                }
                if let InstData::Phi { .. } = func.insts[inst] {
                    continue;
                }
                for v in func.operands(inst) {
                    if !std::mem::replace(&mut live[v], true) {
                        marked.push(v);
                        count += 1;
                    }
                }
                max = max.max(count);
                area = area.saturating_add(count.saturating_mul(weight(inst)));
            }
            for v in marked.drain(..) {
                live[v] = false;
            }
        }
        Pressure { max, area }
    }
}

/// Register pressure in a function (see [`Liveness::pressure`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pressure {
    /// The most values live at once.
    pub max: usize,
    /// The values live before each instruction, times its weight, summed.
    pub area: usize,
}

/// Where every owned Box reference is released or handed over.
#[derive(Clone, Debug)]
pub struct DropPlan {
    /// Per instruction: range of `values` released right after it.
    after: EntityVec<Inst, (u32, u32)>,
    /// Per instruction: the operand whose reference it takes over.
    consumed: EntityVec<Inst, Value>,
    /// Per block: index of its first edge in `edges`.
    edge_start: EntityVec<Block, u32>,
    edges: Vec<EdgeData>,
    values: Vec<Value>,
    edge_releases: Vec<EdgeRelease>,
    moves: Vec<bool>,
    /// Parallel to `moves`: the value each phi takes on the edge.
    inputs: Vec<Value>,
}

#[derive(Clone, Copy, Debug)]
struct EdgeData {
    releases: (u32, u32),
    /// The range of `inputs` and `moves`: one entry per phi of the successor.
    phis: (u32, u32),
}

/// What happens on one CFG edge, in this order: the successor's phis take
/// their `inputs` (moving the reference where `moves` says so, else adding
/// one), then `releases` are released.
#[derive(Clone, Copy, Debug)]
pub struct EdgePlan<'a> {
    /// One value per phi of the successor, in order: its entry for this edge.
    pub inputs: &'a [Value],
    /// One flag per phi of the successor, in order: whether the entry value
    /// for this edge hands its reference to the phi.
    pub moves: &'a [bool],
    /// Values released at the start of the successor, in definition order.
    pub releases: &'a [EdgeRelease],
}

/// A value released on an edge.
///
/// A result of the successor's own phis can be released in two ways: its
/// *old* value when that dies on the edge (it was live out of the
/// predecessor for another successor), or its *new* value when nobody uses
/// the phi. A backend that keeps values in registers by SSA name must read
/// the first before the phis are assigned and the second after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeRelease {
    pub value: Value,
    /// This is an unused result of the successor's phi: its new value.
    pub new_phi: bool,
}

impl DropPlan {
    /// Plans the drops of `func`, given its value types and liveness.
    pub fn new(
        func: &Function,
        cfg: &Cfg,
        order: &BlockOrder,
        types: &EntityVec<Value, Type>,
        liveness: &Liveness,
    ) -> DropPlan {
        let owned = |v: Value| types[v] == Type::Box && matches!(func.values[v].def, ValueDef::Result(_));
        let mut plan = DropPlan {
            after: EntityVec::filled(func.insts.len(), (0, 0)),
            consumed: EntityVec::filled(func.insts.len(), Value::INVALID),
            edge_start: EntityVec::filled(func.blocks.len(), 0),
            edges: Vec::new(),
            values: Vec::new(),
            edge_releases: Vec::new(),
            moves: Vec::new(),
            inputs: Vec::new(),
        };
        let mut live = EntityVec::filled(func.values.len(), false);
        let mut unused_phis: EntityVec<Block, Vec<Value>> = EntityVec::filled(func.blocks.len(), Vec::new());
        let mut dying = Vec::new();
        for &block in order.rpo() {
            for &v in liveness.live_out(block) {
                live[v] = true;
            }
            for &inst in func.blocks[block].insts.iter().rev() {
                if let InstData::Phi { .. } = func.insts[inst] {
                    continue;
                }
                dying.clear();
                if let Some(r) = func.results[inst] {
                    if !live[r] {
                        dying.push(r);
                    }
                    live[r] = false;
                }
                for v in func.operands(inst) {
                    if !live[v] {
                        live[v] = true;
                        dying.push(v);
                    }
                }
                dying.retain(|&v| owned(v));
                dying.sort_unstable();
                let consumed = consumed_operand(func, inst, &dying);
                if let Some(c) = consumed {
                    plan.consumed[inst] = c;
                    dying.retain(|&v| v != c);
                }
                plan.after[inst] = push_range(&mut plan.values, &dying);
            }
            for phi in func.phis(block) {
                let r = func.results[phi].expect("a phi has a result");
                if !live[r] && owned(r) {
                    unused_phis[block].push(r);
                }
            }
            // Whatever is still marked is live-in (or a used phi result).
            for &v in liveness.live_in(block) {
                live[v] = false;
            }
            for phi in func.phis(block) {
                live[func.results[phi].expect("a phi has a result")] = false;
            }
        }
        let inputs = PhiInputs::new(func, order);
        for block in func.blocks.keys() {
            plan.edge_start[block] = plan.edges.len() as u32;
            if !order.is_reachable(block) {
                continue;
            }
            for &succ in cfg.succs(block) {
                let edge = plan_edge(func, block, succ, liveness, &inputs, &unused_phis[succ], &owned, &mut plan);
                plan.edges.push(edge);
            }
        }
        plan
    }

    /// Values released right after `inst`, in definition order.
    #[inline]
    pub fn releases_after(&self, inst: Inst) -> &[Value] {
        let (start, len) = self.after[inst];
        &self.values[start as usize..(start + len) as usize]
    }

    /// The operand whose reference `inst` takes over, if any.
    #[inline]
    pub fn consumed(&self, inst: Inst) -> Option<Value> {
        let v = self.consumed[inst];
        (v != Value::INVALID).then_some(v)
    }

    /// The plan of the edge from a reachable `block` to its `succ_index`-th
    /// distinct successor (see [`Cfg::succs`]).
    #[inline]
    pub fn edge(&self, block: Block, succ_index: usize) -> EdgePlan<'_> {
        let e = self.edges[self.edge_start[block] as usize + succ_index];
        let phis = e.phis.0 as usize..(e.phis.0 + e.phis.1) as usize;
        EdgePlan {
            inputs: &self.inputs[phis.clone()],
            moves: &self.moves[phis],
            releases: &self.edge_releases[e.releases.0 as usize..(e.releases.0 + e.releases.1) as usize],
        }
    }
}

fn push_range(pool: &mut Vec<Value>, values: &[Value]) -> (u32, u32) {
    let start = pool.len() as u32;
    pool.extend_from_slice(values);
    (start, values.len() as u32)
}

/// The operand `inst` may take over: it must die here, be owned, appear
/// once, and be the first of the values dying here in definition order, so
/// that releasing it early keeps the order of §6.
fn consumed_operand(func: &Function, inst: Inst, dying: &[Value]) -> Option<Value> {
    let candidate = match func.insts[inst] {
        InstData::BoxCall { recv: Receiver::Value(r), .. } => r,
        InstData::Return { value: Some(v) } => v,
        InstData::TypeOp { op: TypeOpKind::Cast(Type::Box), arg } => arg,
        _ => return None,
    };
    let first = *dying.first()?;
    let appears_once = func.operands(inst).filter(|&v| v == candidate).count() == 1;
    (first == candidate && appears_once).then_some(candidate)
}

/// Every reachable phi's entries sorted by predecessor, so that an edge
/// finds its own by binary search: a linear search made a join of 20,000
/// predecessors quadratic.
struct PhiInputs {
    entries: Vec<PhiEntry>,
    range: EntityVec<Inst, (u32, u32)>,
}

impl PhiInputs {
    fn new(func: &Function, order: &BlockOrder) -> PhiInputs {
        let mut inputs = PhiInputs { entries: Vec::new(), range: EntityVec::filled(func.insts.len(), (0, 0)) };
        for &block in order.rpo() {
            for phi in func.phis(block) {
                let InstData::Phi { entries, .. } = func.insts[phi] else { unreachable!() };
                let start = inputs.entries.len();
                inputs.entries.extend_from_slice(func.phi_list(entries));
                inputs.entries[start..].sort_unstable_by_key(|e| e.block);
                inputs.range[phi] = (start as u32, (inputs.entries.len() - start) as u32);
            }
        }
        inputs
    }

    /// The value `phi` takes on the edge from `pred` (verified: it has one).
    fn on_edge(&self, phi: Inst, pred: Block) -> Value {
        let (start, len) = self.range[phi];
        let entries = &self.entries[start as usize..(start + len) as usize];
        let at = entries.binary_search_by_key(&pred, |e| e.block).expect("a verified phi has an entry per predecessor");
        entries[at].value
    }
}

#[allow(clippy::too_many_arguments)]
fn plan_edge(
    func: &Function,
    pred: Block,
    succ: Block,
    liveness: &Liveness,
    inputs: &PhiInputs,
    unused_phis: &[Value],
    owned: &impl Fn(Value) -> bool,
    plan: &mut DropPlan,
) -> EdgeData {
    let live_in = liveness.live_in(succ);
    let is_live_in = |v: Value| live_in.binary_search(&v).is_ok();
    let mut moved: HashSet<Value> = HashSet::new();
    let phis_start = plan.moves.len() as u32;
    for phi in func.phis(succ) {
        let value = inputs.on_edge(phi, pred);
        plan.moves.push(owned(value) && !is_live_in(value) && moved.insert(value));
        plan.inputs.push(value);
    }
    let phis = (phis_start, plan.moves.len() as u32 - phis_start);
    let mut releases: Vec<EdgeRelease> = liveness
        .live_out(pred)
        .iter()
        .copied()
        .filter(|&v| owned(v) && !is_live_in(v) && !moved.contains(&v))
        .map(|value| EdgeRelease { value, new_phi: false })
        .chain(unused_phis.iter().map(|&value| EdgeRelease { value, new_phi: true }))
        .collect();
    releases.sort_unstable_by_key(|r| r.value);
    let start = plan.edge_releases.len() as u32;
    plan.edge_releases.extend_from_slice(&releases);
    EdgeData { releases: (start, releases.len() as u32), phis }
}
