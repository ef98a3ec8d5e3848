//! Register allocation: every MIR value gets a register in the file of its
//! type, registers are reused once values die.
//!
//! The interference graph of an SSA program is chordal, so coloring values
//! greedily in dominator-tree preorder, each block starting from the colors
//! of its live-in values, is optimal and needs no iteration (Hack, Grund and
//! Goos, "Register Allocation for Programs in SSA Form").
//!
//! A box register is freed only *after* the instruction's result is given
//! one: the values dying at an instruction are released after it, and the
//! release must still find them in their registers.

use crate::op::{File, Reg, Slot};
use mir::{Block, DomTree, EntityVec, FuncInfo, Function, InstData, Value};

/// The registers of a function.
pub struct Allocation {
    /// The register of every value (meaningless for values never defined
    /// in reachable code).
    pub slots: EntityVec<Value, Slot>,
    /// Registers used in each file (the frame's size before temporaries).
    pub s_count: u32,
    pub b_count: u32,
}

/// Free registers of one file: the lowest free one is reused first.
struct Pool {
    in_use: Vec<bool>,
    free: std::collections::BTreeSet<u32>,
    high: u32,
}

impl Pool {
    fn new() -> Pool {
        Pool { in_use: Vec::new(), free: std::collections::BTreeSet::new(), high: 0 }
    }

    /// Starts a block with exactly `live` in use.
    fn reset(&mut self, live: impl Iterator<Item = u32>) {
        self.in_use.iter_mut().for_each(|u| *u = false);
        for r in live {
            self.in_use[r as usize] = true;
        }
        self.free = (0..self.high).filter(|&r| !self.in_use[r as usize]).collect();
    }

    fn take(&mut self) -> u32 {
        let r = match self.free.pop_first() {
            Some(r) => r,
            None => {
                self.high += 1;
                self.in_use.push(false);
                self.high - 1
            }
        };
        self.in_use[r as usize] = true;
        r
    }

    fn give(&mut self, r: u32) {
        if std::mem::replace(&mut self.in_use[r as usize], false) {
            self.free.insert(r);
        }
    }
}

/// Error: a function needs more registers than an op can name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooManyRegisters;

/// Allocates registers for the reachable code of `func`.
pub fn allocate(func: &Function, info: &FuncInfo) -> Result<Allocation, TooManyRegisters> {
    let placeholder = Slot { file: File::S, reg: 0 };
    let mut slots = EntityVec::filled(func.values.len(), placeholder);
    let mut assigned = EntityVec::filled(func.values.len(), false);
    let mut pools = [Pool::new(), Pool::new()];
    let pool_of = |file: File| if file == File::S { 0 } else { 1 };
    let file_of = |v: Value| File::of(info.types[v]);

    // Parameters are defined at entry, in order.
    for p in &func.params {
        let file = file_of(p.value);
        let reg = pools[pool_of(file)].take();
        slots[p.value] = Slot { file, reg: reg as Reg };
        assigned[p.value] = true;
    }
    let mut live = EntityVec::filled(func.values.len(), false);
    for block in dom_preorder(func, &info.domtree, info.order.rpo()) {
        // Parameters are live into the entry block; liveness lists them
        // nowhere because they are defined there.
        let block_live_in: Vec<Value> = if Some(block) == func.entry() {
            func.params.iter().map(|p| p.value).collect()
        } else {
            info.liveness.live_in(block).to_vec()
        };
        debug_assert!(block_live_in.iter().all(|&v| assigned[v]), "live-in values are defined in dominators");
        for (i, pool) in pools.iter_mut().enumerate() {
            let file = if i == 0 { File::S } else { File::B };
            pool.reset(block_live_in.iter().filter(|&&v| slots[v].file == file).map(|&v| slots[v].reg as u32));
        }
        // Which values die at which instruction of this block.
        for &v in info.liveness.live_out(block) {
            live[v] = true;
        }
        let insts = &func.blocks[block].insts;
        let mut dying: Vec<Vec<Value>> = vec![Vec::new(); insts.len()];
        let mut unused_phis = Vec::new();
        for (i, &inst) in insts.iter().enumerate().rev() {
            if let InstData::Phi { .. } = func.insts[inst] {
                if let Some(r) = func.results[inst]
                    && !live[r]
                {
                    unused_phis.push(r);
                }
                continue;
            }
            if let Some(r) = func.results[inst] {
                if !live[r] {
                    dying[i].push(r);
                }
                live[r] = false;
            }
            for v in func.operands(inst) {
                if !live[v] {
                    live[v] = true;
                    dying[i].push(v);
                }
            }
        }
        for &v in info.liveness.live_out(block).iter().chain(&block_live_in) {
            live[v] = false;
        }
        for phi in func.phis(block) {
            if let Some(r) = func.results[phi] {
                live[r] = false;
            }
        }

        let phi_count = func.phis(block).count();
        for (i, &inst) in insts.iter().enumerate() {
            let result = func.results[inst];
            if let InstData::Phi { .. } = func.insts[inst] {
                let r = result.expect("phis have results");
                let file = file_of(r);
                slots[r] = Slot { file, reg: pools[pool_of(file)].take() as Reg };
                assigned[r] = true;
                continue;
            }
            if i == phi_count {
                for &r in &unused_phis {
                    pools[pool_of(slots[r].file)].give(slots[r].reg as u32);
                }
            }
            // Scalars die before the result is placed (it may reuse them);
            // boxes after (their release reads them after the instruction).
            for &v in &dying[i] {
                if Some(v) != result && file_of(v) == File::S && assigned[v] {
                    pools[0].give(slots[v].reg as u32);
                }
            }
            if let Some(r) = result {
                let file = file_of(r);
                slots[r] = Slot { file, reg: pools[pool_of(file)].take() as Reg };
                assigned[r] = true;
            }
            for &v in &dying[i] {
                if assigned[v] && (file_of(v) == File::B || Some(v) == result) {
                    pools[pool_of(slots[v].file)].give(slots[v].reg as u32);
                }
            }
        }
    }
    let (s_count, b_count) = (pools[0].high, pools[1].high);
    if s_count > Reg::MAX as u32 || b_count > Reg::MAX as u32 {
        return Err(TooManyRegisters);
    }
    Ok(Allocation { slots, s_count, b_count })
}

/// Reachable blocks in preorder of the dominator tree (children in reverse
/// postorder, which keeps the traversal deterministic).
fn dom_preorder(func: &Function, domtree: &DomTree, rpo: &[Block]) -> Vec<Block> {
    let mut children: EntityVec<Block, Vec<Block>> = EntityVec::filled(func.blocks.len(), Vec::new());
    for &b in rpo.iter().skip(1) {
        if let Some(parent) = domtree.idom(b) {
            children[parent].push(b);
        }
    }
    let mut order = Vec::with_capacity(rpo.len());
    let mut stack: Vec<Block> = rpo.first().copied().into_iter().collect();
    while let Some(b) = stack.pop() {
        order.push(b);
        stack.extend(children[b].iter().rev());
    }
    order
}
