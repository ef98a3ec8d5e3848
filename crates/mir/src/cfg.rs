//! Control-flow analyses: successors and predecessors, reverse postorder,
//! loop headers, and the dominator tree.
//!
//! Every traversal uses an explicit stack, so a function of 100,000 blocks in
//! a chain costs linear time and no native stack.

use crate::entity::EntityVec;
use crate::ir::{Block, Function};

/// Successors and predecessors of every block.
#[derive(Clone, Debug)]
pub struct Cfg {
    succs: EntityVec<Block, ([Block; 2], u8)>,
    pred_start: Vec<u32>,
    preds: Vec<Block>,
}

impl Cfg {
    /// The CFG of `func`, from each block's terminator. Targets that name no
    /// block (unresolved labels) are left out.
    pub fn new(func: &Function) -> Cfg {
        let n = func.blocks.len();
        let mut succs = EntityVec::filled(n, ([Block::INVALID; 2], 0u8));
        let mut counts = vec![0u32; n + 1];
        for block in func.blocks.keys() {
            let Some(term) = func.terminator(block) else { continue };
            let mut list = ([Block::INVALID; 2], 0u8);
            for &target in func.targets(term).as_slice() {
                if func.blocks.contains(target) && !list.0[..list.1 as usize].contains(&target) {
                    list.0[list.1 as usize] = target;
                    list.1 += 1;
                    counts[target.as_u32() as usize] += 1;
                }
            }
            succs[block] = list;
        }
        let mut pred_start = Vec::with_capacity(n + 1);
        let mut total = 0;
        for &c in &counts[..n] {
            pred_start.push(total);
            total += c;
        }
        pred_start.push(total);
        let mut fill = pred_start.clone();
        let mut preds = vec![Block::INVALID; total as usize];
        for block in func.blocks.keys() {
            let (list, len) = succs[block];
            for &s in &list[..len as usize] {
                let slot = &mut fill[s.as_u32() as usize];
                preds[*slot as usize] = block;
                *slot += 1;
            }
        }
        Cfg { succs, pred_start, preds }
    }

    /// Distinct successors of `block`, in terminator order.
    #[inline]
    pub fn succs(&self, block: Block) -> &[Block] {
        let (list, len) = &self.succs[block];
        &list[..*len as usize]
    }

    /// Distinct predecessors of `block`, in block order.
    #[inline]
    pub fn preds(&self, block: Block) -> &[Block] {
        let i = block.as_u32() as usize;
        &self.preds[self.pred_start[i] as usize..self.pred_start[i + 1] as usize]
    }
}

/// Reachable blocks in reverse postorder, and the loop headers.
#[derive(Clone, Debug)]
pub struct BlockOrder {
    rpo: Vec<Block>,
    rpo_index: EntityVec<Block, u32>,
    loop_header: EntityVec<Block, bool>,
}

const UNREACHABLE: u32 = u32::MAX;

impl BlockOrder {
    /// Depth-first search from the entry block. A loop header is the target
    /// of a retreating edge, so every cycle, reducible or not, has one.
    pub fn new(func: &Function, cfg: &Cfg) -> BlockOrder {
        let n = func.blocks.len();
        let mut rpo_index = EntityVec::filled(n, UNREACHABLE);
        let mut loop_header = EntityVec::filled(n, false);
        let mut postorder = Vec::with_capacity(n);
        let Some(entry) = func.entry() else {
            return BlockOrder { rpo: Vec::new(), rpo_index, loop_header };
        };
        // 0 = unvisited, 1 = on the stack, 2 = finished.
        let mut state: EntityVec<Block, u8> = EntityVec::filled(n, 0);
        let mut stack = vec![(entry, 0usize)];
        state[entry] = 1;
        while let Some(top) = stack.last_mut() {
            let (block, next) = *top;
            if let Some(&succ) = cfg.succs(block).get(next) {
                top.1 += 1;
                match state[succ] {
                    0 => {
                        state[succ] = 1;
                        stack.push((succ, 0));
                    }
                    1 => loop_header[succ] = true,
                    _ => {}
                }
            } else {
                state[block] = 2;
                postorder.push(block);
                stack.pop();
            }
        }
        postorder.reverse();
        for (i, &b) in postorder.iter().enumerate() {
            rpo_index[b] = i as u32;
        }
        BlockOrder { rpo: postorder, rpo_index, loop_header }
    }

    /// Reachable blocks in reverse postorder (the entry block first).
    pub fn rpo(&self) -> &[Block] {
        &self.rpo
    }

    /// Whether `block` is reachable from the entry block.
    #[inline]
    pub fn is_reachable(&self, block: Block) -> bool {
        self.rpo_index[block] != UNREACHABLE
    }

    /// Position of a reachable `block` in reverse postorder.
    #[inline]
    pub fn rpo_index(&self, block: Block) -> Option<usize> {
        let i = self.rpo_index[block];
        (i != UNREACHABLE).then_some(i as usize)
    }

    /// Whether `block` is a loop header (where the loader puts a safepoint).
    #[inline]
    pub fn is_loop_header(&self, block: Block) -> bool {
        self.loop_header[block]
    }

    /// Whether the reachable code has a loop.
    pub fn has_loop(&self) -> bool {
        self.rpo.iter().any(|&b| self.loop_header[b])
    }
}

/// The dominator tree of the reachable blocks.
#[derive(Clone, Debug)]
pub struct DomTree {
    idom: EntityVec<Block, Block>,
    /// Pre- and post-order numbers in the tree, for O(1) dominance queries.
    pre: EntityVec<Block, u32>,
    post: EntityVec<Block, u32>,
}

impl DomTree {
    /// Computes immediate dominators with the Semi-NCA algorithm
    /// (Georgiadis, 2005): semidominators by Lengauer–Tarjan's evaluation
    /// with path compression, then each idom as the nearest common
    /// ancestor of its parent and semidominator. Near-linear, also when
    /// many blocks of a long chain branch to one shared block.
    pub fn new(func: &Function, cfg: &Cfg, order: &BlockOrder) -> DomTree {
        let n = func.blocks.len();
        let mut idom = EntityVec::filled(n, Block::INVALID);
        if let Some(&entry) = order.rpo().first() {
            for (block, dom) in semi_nca(cfg, order, entry, n) {
                idom[block] = dom;
            }
        }
        let (pre, post) = number_tree(&idom, order.rpo(), n);
        DomTree { idom, pre, post }
    }

    /// The immediate dominator of `block` (the entry block is its own), or
    /// `None` if `block` is unreachable.
    pub fn idom(&self, block: Block) -> Option<Block> {
        let d = self.idom[block];
        (d != Block::INVALID).then_some(d)
    }

    /// Whether `a` dominates `b` (every block dominates itself). False when
    /// either is unreachable.
    pub fn dominates(&self, a: Block, b: Block) -> bool {
        if self.idom[a] == Block::INVALID || self.idom[b] == Block::INVALID {
            return false;
        }
        self.pre[a] <= self.pre[b] && self.post[b] <= self.post[a]
    }
}

/// Semi-NCA over the reachable blocks; returns `(block, idom)` pairs (the
/// entry is its own idom). Vertices are numbered 1.. in DFS preorder; 0 is
/// "none".
fn semi_nca(cfg: &Cfg, order: &BlockOrder, entry: Block, n_blocks: usize) -> Vec<(Block, Block)> {
    let mut number = EntityVec::filled(n_blocks, 0u32);
    let mut vertex = vec![Block::INVALID];
    let mut parent = vec![0u32];
    let mut stack = vec![(entry, 0u32)];
    while let Some((block, from)) = stack.pop() {
        if number[block] != 0 {
            continue;
        }
        vertex.push(block);
        parent.push(from);
        let v = (vertex.len() - 1) as u32;
        number[block] = v;
        for &succ in cfg.succs(block).iter().rev() {
            if number[succ] == 0 {
                stack.push((succ, v));
            }
        }
    }
    let count = vertex.len();
    let mut semi: Vec<u32> = (0..count as u32).collect();
    let mut label: Vec<u32> = (0..count as u32).collect();
    let mut ancestor = vec![0u32; count];
    let mut path = Vec::new();
    for w in (2..count).rev() {
        for &pred in cfg.preds(vertex[w]) {
            if !order.is_reachable(pred) {
                continue;
            }
            let u = eval(number[pred], &mut ancestor, &mut label, &semi, &mut path);
            semi[w] = semi[w].min(semi[u as usize]);
        }
        ancestor[w] = parent[w];
    }
    let mut idom = parent;
    for w in 2..count {
        while idom[w] > semi[w] {
            idom[w] = idom[idom[w] as usize];
        }
    }
    let mut pairs = vec![(entry, entry)];
    pairs.extend((2..count).map(|w| (vertex[w], vertex[idom[w] as usize])));
    pairs
}

/// The vertex of minimal semidominator on `v`'s path to the root of its
/// link tree, compressing that path (iteratively: paths can be long).
fn eval(v: u32, ancestor: &mut [u32], label: &mut [u32], semi: &[u32], path: &mut Vec<u32>) -> u32 {
    if ancestor[v as usize] == 0 {
        return v;
    }
    let mut x = v;
    while ancestor[ancestor[x as usize] as usize] != 0 {
        path.push(x);
        x = ancestor[x as usize];
    }
    while let Some(y) = path.pop() {
        let a = ancestor[y as usize] as usize;
        if semi[label[a] as usize] < semi[label[y as usize] as usize] {
            label[y as usize] = label[a];
        }
        ancestor[y as usize] = ancestor[a];
    }
    label[v as usize]
}

/// Numbers the dominator tree in pre- and post-order without recursion.
fn number_tree(
    idom: &EntityVec<Block, Block>,
    rpo: &[Block],
    n: usize,
) -> (EntityVec<Block, u32>, EntityVec<Block, u32>) {
    let mut pre = EntityVec::filled(n, 0);
    let mut post = EntityVec::filled(n, 0);
    let Some(&root) = rpo.first() else { return (pre, post) };
    // Children lists in CSR form.
    let mut counts = vec![0u32; n + 1];
    for &b in &rpo[1..] {
        counts[idom[b].as_u32() as usize + 1] += 1;
    }
    for i in 0..n {
        counts[i + 1] += counts[i];
    }
    let mut fill = counts.clone();
    let mut children = vec![Block::INVALID; rpo.len().saturating_sub(1)];
    for &b in &rpo[1..] {
        let slot = &mut fill[idom[b].as_u32() as usize];
        children[*slot as usize] = b;
        *slot += 1;
    }
    let (mut pre_n, mut post_n) = (0, 0);
    let mut stack = vec![(root, counts[root.as_u32() as usize])];
    pre[root] = pre_n;
    pre_n += 1;
    while let Some(top) = stack.last_mut() {
        let (block, next) = *top;
        let end = counts[block.as_u32() as usize + 1];
        if next < end {
            top.1 += 1;
            let child = children[next as usize];
            pre[child] = pre_n;
            pre_n += 1;
            stack.push((child, counts[child.as_u32() as usize]));
        } else {
            post[block] = post_n;
            post_n += 1;
            stack.pop();
        }
    }
    (pre, post)
}
