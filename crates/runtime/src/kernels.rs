//! Numeric kernels behind MatrixBox and TensorBox: matrix products on the
//! `gemm` crate, and elementwise, broadcasting, reduction and layout loops
//! over plain slices.
//!
//! Kernels work on the boxes' own buffers (no copies) and cannot fail: the
//! callers check shapes and sizes before calling them, and every length a
//! kernel relies on is asserted before the one `unsafe` call into `gemm`.
//! Large inputs are split across the rayon pool in fixed-size chunks, and
//! partial sums are combined in chunk order, so a result never depends on
//! the number of threads or on which of them ran first.

use rayon::prelude::*;
use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Sub};

/// Elements from which elementwise loops run on the rayon pool (below it,
/// waking the pool costs more than it saves).
pub const PAR_ELEMS: usize = 1 << 17;
/// Elements per parallel task, and per partial sum of a reduction.
const CHUNK: usize = 1 << 14;
/// Multiply-adds up to which a product runs a plain loop: below about
/// 6x6x6, `gemm`'s dispatch costs more than the arithmetic (measured: 4x4
/// takes 80 ns in the loop, 210 ns in `gemm`; at 8x8 `gemm` wins).
const SMALL_MATMUL: usize = 256;
/// Multiply-adds from which a product may be split across the rayon pool
/// (`gemm` also applies its own threshold above this).
pub const PAR_MATMUL: usize = 128 * 128 * 128;
/// Columns processed together by the axis kernels (a stack buffer each).
const COLUMN_BLOCK: usize = 128;
/// Tile edge of the transposes, so both sides of a tile stay in L1.
const TILE: usize = 32;

/// An element type of a box: f64 (MatrixBox) or f32 (TensorBox).
pub trait Elem:
    Copy
    + Send
    + Sync
    + PartialOrd
    + Debug
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
{
    /// Zero, what new buffers hold.
    const ZERO: Self;
    /// One, the identity's diagonal.
    const ONE: Self;
    /// The value as f64 (exact for both element types).
    fn to_f64(self) -> f64;
    /// The nearest element to `x`.
    fn from_f64(x: f64) -> Self;
    /// e to the power of the value, at the element's precision.
    fn exp(self) -> Self;
    /// The hyperbolic tangent, at the element's precision.
    fn tanh(self) -> Self;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
    /// Appends the display form: the shortest decimal that reads back to the
    /// same element, with the rules of FloatBox display (§8).
    fn write(self, out: &mut String);
}

macro_rules! elem {
    ($t:ty) => {
        impl Elem for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn write(self, out: &mut String) {
                use std::fmt::Write;
                // `{:?}` is the shortest round-trip form, as `mir::display_f64`.
                let _ = write!(out, "{self:?}");
            }
        }
    };
}
elem!(f64);
elem!(f32);

/// An elementwise binary operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `x + y`
    Add,
    /// `x - y`
    Sub,
    /// `x * y`
    Mul,
    /// `x / y` (IEEE: by zero gives ±inf or NaN)
    Div,
}

/// A unary elementwise operation.
#[derive(Clone, Copy, Debug)]
pub enum UnOp<T> {
    /// `x * s`
    Scale(T),
    /// `max(x, 0)`; NaN stays NaN.
    Relu,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `tanh(x)`
    Tanh,
    /// `exp(x)`
    Exp,
}

/// Runs `$body` with `$f` bound to the closure of a [`BinOp`], so each
/// operation gets its own monomorphic (vectorisable) loop.
macro_rules! with_binop {
    ($op:expr, $t:ty, |$f:ident| $body:expr) => {
        match $op {
            BinOp::Add => {
                let $f = |x: $t, y: $t| x + y;
                $body
            }
            BinOp::Sub => {
                let $f = |x: $t, y: $t| x - y;
                $body
            }
            BinOp::Mul => {
                let $f = |x: $t, y: $t| x * y;
                $body
            }
            BinOp::Div => {
                let $f = |x: $t, y: $t| x / y;
                $body
            }
        }
    };
}

/// Like [`with_binop`] for a [`UnOp`].
macro_rules! with_unop {
    ($op:expr, $t:ty, |$f:ident| $body:expr) => {
        match $op {
            UnOp::Scale(s) => {
                let $f = move |x: $t| x * s;
                $body
            }
            UnOp::Relu => {
                let $f = |x: $t| if x < <$t>::ZERO { <$t>::ZERO } else { x };
                $body
            }
            UnOp::Sigmoid => {
                let $f = |x: $t| <$t>::ONE / (<$t>::ONE + (<$t>::ZERO - x).exp());
                $body
            }
            UnOp::Tanh => {
                let $f = |x: $t| x.tanh();
                $body
            }
            UnOp::Exp => {
                let $f = |x: $t| x.exp();
                $body
            }
        }
    };
}

/// Runs `body` on matching chunks of `dst` and `src`, on the pool when large.
fn chunked2<T: Elem>(dst: &mut [T], src: &[T], body: impl Fn(&mut [T], &[T]) + Sync + Send) {
    if dst.len() >= PAR_ELEMS {
        dst.par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK)).for_each(|(d, s)| body(d, s));
    } else {
        body(dst, src);
    }
}

/// Runs `body` on matching chunks of `dst`, `a` and `b`, on the pool when large.
fn chunked3<T: Elem>(dst: &mut [T], a: &[T], b: &[T], body: impl Fn(&mut [T], &[T], &[T]) + Sync + Send) {
    if dst.len() >= PAR_ELEMS {
        dst.par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK))
            .zip(b.par_chunks(CHUNK))
            .for_each(|((d, a), b)| body(d, a, b));
    } else {
        body(dst, a, b);
    }
}

/// `dst[i] = dst[i] op src[i]`; the slices have one length.
pub fn zip_assign<T: Elem>(op: BinOp, dst: &mut [T], src: &[T]) {
    debug_assert_eq!(dst.len(), src.len());
    with_binop!(op, T, |f| chunked2(dst, src, move |d, s| {
        for (d, &s) in d.iter_mut().zip(s) {
            *d = f(*d, s);
        }
    }))
}

/// `out[i] = a[i] op b[i]`; the slices have one length.
pub fn zip_new<T: Elem>(op: BinOp, a: &[T], b: &[T], out: &mut [T]) {
    debug_assert!(a.len() == out.len() && b.len() == out.len());
    with_binop!(op, T, |f| chunked3(out, a, b, move |o, a, b| {
        for (o, (&x, &y)) in o.iter_mut().zip(a.iter().zip(b)) {
            *o = f(x, y);
        }
    }))
}

/// `dst[i] = op(dst[i])`.
pub fn map_assign<T: Elem>(op: UnOp<T>, dst: &mut [T]) {
    with_unop!(op, T, |f| {
        let body = move |d: &mut [T]| d.iter_mut().for_each(|x| *x = f(*x));
        if dst.len() >= PAR_ELEMS { dst.par_chunks_mut(CHUNK).for_each(body) } else { body(dst) }
    })
}

/// `out[i] = op(src[i])`; the slices have one length.
pub fn map_new<T: Elem>(op: UnOp<T>, src: &[T], out: &mut [T]) {
    debug_assert_eq!(src.len(), out.len());
    with_unop!(op, T, |f| chunked2(out, src, move |o, s| {
        for (o, &x) in o.iter_mut().zip(s) {
            *o = f(x);
        }
    }))
}

// ---- broadcasting ----

/// The NumPy broadcast of two shapes: aligned at the end, each pair of
/// dimensions equal or one of them 1. `None` if they do not broadcast.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], d: usize| if d + s.len() < rank { 1 } else { s[d + s.len() - rank] };
    (0..rank)
        .map(|d| match (dim(a, d), dim(b, d)) {
            (x, y) if x == y || y == 1 => Some(x),
            (1, y) => Some(y),
            _ => None,
        })
        .collect()
}

/// How to walk two operands broadcast to an output shape: the output is
/// split into rows of `inner` elements; a row's operand elements start at
/// [`Walk::offsets`] and step by `step_a` / `step_b` (1, or 0 when that
/// operand repeats one element along the row).
struct Walk {
    /// Outer dimensions, outermost first, with each operand's strides.
    dims: Vec<(usize, usize, usize)>,
    inner: usize,
    step_a: usize,
    step_b: usize,
}

impl Walk {
    fn new(out: &[usize], a: &[usize], b: &[usize]) -> Walk {
        let rank = out.len();
        let strides = |s: &[usize]| {
            let mut st = vec![0; rank];
            let mut acc = 1;
            for d in (0..rank).rev() {
                let sd = if d + s.len() < rank { 1 } else { s[d + s.len() - rank] };
                st[d] = if sd == 1 { 0 } else { acc };
                acc *= sd;
            }
            st
        };
        let (sa, sb) = (strides(a), strides(b));
        // Merge dimensions, innermost first, while both operands stay
        // contiguous (or both repeat) across them.
        let mut merged: Vec<(usize, usize, usize)> = Vec::with_capacity(rank);
        for d in (0..rank).rev() {
            let (n, x, y) = (out[d], sa[d], sb[d]);
            if n == 1 {
                continue;
            }
            match merged.last_mut() {
                Some(last) if x == last.1 * last.0 && y == last.2 * last.0 => last.0 *= n,
                _ => merged.push((n, x, y)),
            }
        }
        merged.reverse();
        let (inner, step_a, step_b) = merged.pop().unwrap_or((1, 0, 0));
        Walk { dims: merged, inner, step_a, step_b }
    }

    /// Where row `row` of the output starts in each operand.
    fn offsets(&self, mut row: usize) -> (usize, usize) {
        let (mut oa, mut ob) = (0, 0);
        for &(n, sa, sb) in self.dims.iter().rev() {
            let i = row % n;
            row /= n;
            oa += i * sa;
            ob += i * sb;
        }
        (oa, ob)
    }
}

/// One output row of a broadcast operation.
#[inline(always)]
fn broadcast_row<T: Elem>(o: &mut [T], a: &[T], sa: usize, b: &[T], sb: usize, f: impl Fn(T, T) -> T) {
    let n = o.len();
    match (sa, sb) {
        (1, 1) => o.iter_mut().zip(a[..n].iter().zip(&b[..n])).for_each(|(o, (&x, &y))| *o = f(x, y)),
        (1, _) => {
            let y = b[0];
            o.iter_mut().zip(&a[..n]).for_each(|(o, &x)| *o = f(x, y));
        }
        (_, 1) => {
            let x = a[0];
            o.iter_mut().zip(&b[..n]).for_each(|(o, &y)| *o = f(x, y));
        }
        _ => o.fill(f(a[0], b[0])),
    }
}

/// `out = a op b` with NumPy broadcasting; `out_shape` is
/// [`broadcast_shape`] of the two shapes and `out` has its size.
pub fn broadcast_new<T: Elem>(
    op: BinOp,
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    out: &mut [T],
    out_shape: &[usize],
) {
    if out.is_empty() {
        return;
    }
    let walk = Walk::new(out_shape, a_shape, b_shape);
    let (inner, sa, sb) = (walk.inner, walk.step_a, walk.step_b);
    with_binop!(op, T, |f| {
        let row = |(r, o): (usize, &mut [T])| {
            let (oa, ob) = walk.offsets(r);
            broadcast_row(o, &a[oa..], sa, &b[ob..], sb, f);
        };
        if out.len() >= PAR_ELEMS {
            out.par_chunks_mut(inner).enumerate().with_min_len(CHUNK.div_ceil(inner)).for_each(row);
        } else {
            out.chunks_mut(inner).enumerate().for_each(row);
        }
    })
}

/// `dst = dst op b` with `b` broadcast to `dst`'s shape (which must be the
/// broadcast of both shapes).
pub fn broadcast_assign<T: Elem>(op: BinOp, dst: &mut [T], shape: &[usize], b: &[T], b_shape: &[usize]) {
    if dst.is_empty() {
        return;
    }
    let walk = Walk::new(shape, shape, b_shape);
    let (inner, sb) = (walk.inner, walk.step_b);
    with_binop!(op, T, |f| {
        let row = |(r, o): (usize, &mut [T])| {
            let (_, ob) = walk.offsets(r);
            let b = &b[ob..];
            if sb == 1 {
                let n = o.len();
                o.iter_mut().zip(&b[..n]).for_each(|(o, &y)| *o = f(*o, y));
            } else {
                let y = b[0];
                o.iter_mut().for_each(|o| *o = f(*o, y));
            }
        };
        if dst.len() >= PAR_ELEMS {
            dst.par_chunks_mut(inner).enumerate().with_min_len(CHUNK.div_ceil(inner)).for_each(row);
        } else {
            dst.chunks_mut(inner).enumerate().for_each(row);
        }
    })
}

// ---- reductions ----

/// Sum of one chunk in f64, in four interleaved lanes (so the loop
/// vectorises; the order is fixed, so the result is too).
fn sum_chunk<T: Elem>(x: &[T], f: impl Fn(f64) -> f64) -> f64 {
    let mut lanes = [0.0f64; 4];
    let mut quads = x.chunks_exact(4);
    for q in &mut quads {
        for (l, &v) in lanes.iter_mut().zip(q) {
            *l += f(v.to_f64());
        }
    }
    let tail: f64 = quads.remainder().iter().fold(0.0, |s, &v| s + f(v.to_f64()));
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

/// Sum of `f(x)` over chunks, combined in chunk order.
fn chunked_sum<T: Elem>(x: &[T], f: impl Fn(f64) -> f64 + Sync + Send + Copy) -> f64 {
    if x.len() >= PAR_ELEMS {
        let partial: Vec<f64> = x.par_chunks(CHUNK).map(|c| sum_chunk(c, f)).collect();
        partial.iter().fold(0.0, |s, &p| s + p)
    } else {
        x.chunks(CHUNK).map(|c| sum_chunk(c, f)).fold(0.0, |s, p| s + p)
    }
}

/// Sum of the elements, accumulated in f64.
pub fn sum<T: Elem>(x: &[T]) -> f64 {
    chunked_sum(x, |v| v)
}

/// Sum of the squares, accumulated in f64.
pub fn sum_squares<T: Elem>(x: &[T]) -> f64 {
    chunked_sum(x, |v| v * v)
}

/// `b` if it is larger than `a` or NaN, so NaN wins and sticks.
#[inline(always)]
fn max_nan<T: Elem>(a: T, b: T) -> T {
    if a.is_nan() || b <= a { a } else { b }
}

/// The largest element (NaN if any is NaN); `None` when empty.
pub fn max<T: Elem>(x: &[T]) -> Option<f64> {
    let first = *x.first()?;
    let fold = |c: &[T]| c.iter().fold(first, |m, &v| max_nan(m, v));
    let m = if x.len() >= PAR_ELEMS {
        let partial: Vec<T> = x.par_chunks(CHUNK).map(fold).collect();
        partial.into_iter().fold(first, max_nan)
    } else {
        fold(x)
    };
    Some(m.to_f64())
}

/// `shape` split around `axis`: (elements before it, its length, elements after it).
pub fn split_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (shape[..axis].iter().product(), shape[axis], shape[axis + 1..].iter().product())
}

/// Runs `f(o, out_block, in_block)` for every outer index `o`, on the pool
/// when the input is large. Input blocks are `n * inner` long, output
/// blocks `out_len` long.
fn per_outer<T: Elem, U: Send>(
    x: &[T],
    out: &mut [U],
    block: usize,
    out_len: usize,
    f: impl Fn(&mut [U], &[T]) + Sync + Send,
) {
    if block == 0 || out_len == 0 {
        return;
    }
    if x.len() >= PAR_ELEMS {
        out.par_chunks_mut(out_len).zip(x.par_chunks(block)).for_each(|(o, x)| f(o, x));
    } else {
        out.chunks_mut(out_len).zip(x.chunks(block)).for_each(|(o, x)| f(o, x));
    }
}

/// Sums along the middle axis of a `(outer, n, inner)` view into `out`
/// (`outer * inner` elements), accumulating in f64.
pub fn sum_axis<T: Elem>(x: &[T], (_, n, inner): (usize, usize, usize), out: &mut [T]) {
    if n == 0 {
        out.fill(T::ZERO);
        return;
    }
    per_outer(x, out, n * inner, inner, |o, x| {
        for c0 in (0..inner).step_by(COLUMN_BLOCK) {
            let w = COLUMN_BLOCK.min(inner - c0);
            let mut acc = [0.0f64; COLUMN_BLOCK];
            for k in 0..n {
                let row = &x[k * inner + c0..][..w];
                acc[..w].iter_mut().zip(row).for_each(|(a, &v)| *a += v.to_f64());
            }
            o[c0..c0 + w].iter_mut().zip(&acc[..w]).for_each(|(o, &a)| *o = T::from_f64(a));
        }
    });
}

/// Index of the largest element along the middle axis of a
/// `(outer, n, inner)` view (the first of equal ones; NaN counts as the
/// largest), as elements of `out`. `n` must not be 0.
pub fn argmax_axis<T: Elem>(x: &[T], (_, n, inner): (usize, usize, usize), out: &mut [T]) {
    per_outer(x, out, n * inner, inner, |o, x| {
        for c0 in (0..inner).step_by(COLUMN_BLOCK) {
            let w = COLUMN_BLOCK.min(inner - c0);
            let mut best = [T::ZERO; COLUMN_BLOCK];
            let mut at = [0usize; COLUMN_BLOCK];
            best[..w].copy_from_slice(&x[c0..c0 + w]);
            for k in 1..n {
                let row = &x[k * inner + c0..][..w];
                for ((b, a), &v) in best[..w].iter_mut().zip(&mut at[..w]).zip(row) {
                    if !b.is_nan() && (v.is_nan() || v > *b) {
                        *b = v;
                        *a = k;
                    }
                }
            }
            o[c0..c0 + w].iter_mut().zip(&at[..w]).for_each(|(o, &a)| *o = T::from_f64(a as f64));
        }
    });
}

/// Softmax in place along the middle axis of a `(outer, n, inner)` view:
/// `exp(x - max)` over its sum, the sum accumulated in f64.
pub fn softmax_axis<T: Elem>(x: &mut [T], (outer, n, inner): (usize, usize, usize)) {
    let block = n * inner;
    if block == 0 || outer == 0 {
        return;
    }
    let run = |x: &mut [T]| {
        for c0 in (0..inner).step_by(COLUMN_BLOCK) {
            let w = COLUMN_BLOCK.min(inner - c0);
            let mut top = [T::ZERO; COLUMN_BLOCK];
            top[..w].copy_from_slice(&x[c0..c0 + w]);
            for k in 1..n {
                let row = &x[k * inner + c0..][..w];
                top[..w].iter_mut().zip(row).for_each(|(m, &v)| *m = max_nan(*m, v));
            }
            let mut total = [0.0f64; COLUMN_BLOCK];
            for k in 0..n {
                let row = &mut x[k * inner + c0..][..w];
                for ((v, &m), s) in row.iter_mut().zip(&top[..w]).zip(&mut total[..w]) {
                    *v = (*v - m).exp();
                    *s += v.to_f64();
                }
            }
            for k in 0..n {
                let row = &mut x[k * inner + c0..][..w];
                row.iter_mut().zip(&total[..w]).for_each(|(v, &s)| *v = T::from_f64(v.to_f64() / s));
            }
        }
    };
    if x.len() >= PAR_ELEMS {
        x.par_chunks_mut(block).for_each(run);
    } else {
        x.chunks_mut(block).for_each(run);
    }
}

// ---- layout ----

/// `out` (cols x rows) = the transpose of `x` (rows x cols), tile by tile.
pub fn transpose<T: Elem>(x: &[T], rows: usize, cols: usize, out: &mut [T]) {
    if rows == 0 || cols == 0 {
        return;
    }
    // Each task writes TILE rows of the output (TILE columns of the input).
    let band = |(b, o): (usize, &mut [T])| {
        let j0 = b * TILE;
        let jn = o.len() / rows;
        for i0 in (0..rows).step_by(TILE) {
            for j in 0..jn {
                let dst = &mut o[j * rows + i0..][..TILE.min(rows - i0)];
                for (di, d) in dst.iter_mut().enumerate() {
                    *d = x[(i0 + di) * cols + j0 + j];
                }
            }
        }
    };
    if x.len() >= PAR_ELEMS {
        out.par_chunks_mut(TILE * rows).enumerate().for_each(band);
    } else {
        out.chunks_mut(TILE * rows).enumerate().for_each(band);
    }
}

/// Transposes the square `n x n` matrix `x` in place.
pub fn transpose_square<T: Elem>(x: &mut [T], n: usize) {
    for i0 in (0..n).step_by(TILE) {
        for j0 in (i0..n).step_by(TILE) {
            for i in i0..(i0 + TILE).min(n) {
                for j in j0.max(i + 1)..(j0 + TILE).min(n) {
                    x.swap(i * n + j, j * n + i);
                }
            }
        }
    }
}

/// `out` = `x` (of `shape`) with its axes reversed, as NumPy's `transpose()`.
pub fn reverse_axes<T: Elem>(x: &[T], shape: &[usize], out: &mut [T]) {
    match shape.len() {
        0 | 1 => out.copy_from_slice(x),
        2 => transpose(x, shape[0], shape[1], out),
        rank => {
            if x.is_empty() {
                return;
            }
            // Output strides of the input's axes: axis d of the input is
            // axis rank-1-d of the output.
            let mut ostride = vec![0usize; rank];
            let mut acc = 1;
            for d in 0..rank {
                ostride[d] = acc;
                acc *= shape[d];
            }
            let last = shape[rank - 1];
            let mut index = vec![0usize; rank - 1];
            for row in x.chunks(last) {
                let base: usize = index.iter().zip(&ostride).map(|(i, s)| i * s).sum();
                let step = ostride[rank - 1];
                for (j, &v) in row.iter().enumerate() {
                    out[base + j * step] = v;
                }
                for d in (0..rank - 1).rev() {
                    index[d] += 1;
                    if index[d] < shape[d] {
                        break;
                    }
                    index[d] = 0;
                }
            }
        }
    }
}

// ---- matrix products ----

/// Multiply-adds a product does between two calls of its `go_on` check
/// (about 20-40 ms here), so a long product notices an interrupt or a
/// timeout soon; 1024 x 1024 products still run as one.
const PANEL_WORK: usize = 1 << 30;

/// `out = a · b` for row-major `a` (m x k) and `b` (k x n); `out` (m x n)
/// is overwritten. Large products run in panels of rows, asking `go_on`
/// before each; it returns false if `go_on` stopped the product early.
pub fn matmul<T: Elem>(
    a: &[T],
    b: &[T],
    out: &mut [T],
    (m, k, n): (usize, usize, usize),
    threads: bool,
    go_on: &dyn Fn() -> bool,
) -> bool {
    if k == 0 || n == 0 {
        matmul_panel(a, b, out, (m, k, n), threads);
        return true;
    }
    // `n * k` is `b`'s length, so neither product below overflows.
    let rows = (PANEL_WORK / (n * k)).max(1);
    for (a, out) in a.chunks(rows * k).zip(out.chunks_mut(rows * n)) {
        if !go_on() {
            return false;
        }
        matmul_panel(a, b, out, (out.len() / n, k, n), threads);
    }
    true
}

/// `out = a · b` in one go. Small products run a plain loop, larger ones
/// `gemm` (blocked, vectorised for the host's SIMD, threaded when large).
fn matmul_panel<T: Elem>(a: &[T], b: &[T], out: &mut [T], (m, k, n): (usize, usize, usize), threads: bool) {
    // The lengths are the safety condition of the `gemm` call below.
    assert!(a.len() == m * k && b.len() == k * n && out.len() == m * n, "matmul buffers do not match their shapes");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out.fill(T::ZERO);
        return;
    }
    let work = m.saturating_mul(n).saturating_mul(k);
    if work <= SMALL_MATMUL {
        // i, k, j order: the inner loop runs along rows of `b` and `out`.
        for (o, a_row) in out.chunks_exact_mut(n).zip(a.chunks_exact(k)) {
            o.fill(T::ZERO);
            for (&x, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
                o.iter_mut().zip(b_row).for_each(|(o, &y)| *o = *o + x * y);
            }
        }
        return;
    }
    let parallelism = if threads && work >= PAR_MATMUL { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    let (n_, k_) = (n as isize, k as isize);
    // SAFETY: the three buffers hold exactly m*k, k*n and m*n elements,
    // addressed row-major (column stride 1, row strides k, n and n); `out`
    // does not alias the inputs (it is borrowed mutably); `read_dst` is
    // false, so `out`'s old contents are not read. `gemm` supports f32 and
    // f64, the only `Elem` types.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n_,
            false,
            a.as_ptr(),
            1,
            k_,
            b.as_ptr(),
            1,
            n_,
            T::ZERO,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Batched products: `out[i] = a[i] · b[i]` for `batch` products of
/// (m x k) by (k x n). An operand of one matrix (its `*_batched` false) is
/// used for every product, as NumPy broadcasts it. `go_on` as for
/// [`matmul`].
#[allow(clippy::too_many_arguments)]
pub fn matmul_batched<T: Elem>(
    a: &[T],
    a_batched: bool,
    b: &[T],
    b_batched: bool,
    out: &mut [T],
    batch: usize,
    (m, k, n): (usize, usize, usize),
    go_on: &dyn Fn() -> bool,
) -> bool {
    let (sa, sb) = (if a_batched { m * k } else { 0 }, if b_batched { k * n } else { 0 });
    if batch == 0 || m == 0 || n == 0 {
        return true;
    }
    if k == 0 {
        out.fill(T::ZERO);
        return true;
    }
    let work = m.saturating_mul(n).saturating_mul(k);
    if work >= PAR_MATMUL {
        // Each product is large enough to use every thread itself.
        for (i, o) in out.chunks_mut(m * n).enumerate() {
            if !matmul(&a[i * sa..][..m * k], &b[i * sb..][..k * n], o, (m, k, n), true, go_on) {
                return false;
            }
        }
        return true;
    }
    // Small products, in groups of about `PANEL_WORK`, each group in parallel.
    let group = (PANEL_WORK / work.max(1)).max(1);
    for (g, outs) in out.chunks_mut(group * m * n).enumerate() {
        if !go_on() {
            return false;
        }
        let one = |(j, o): (usize, &mut [T])| {
            let i = g * group + j;
            matmul_panel(&a[i * sa..][..m * k], &b[i * sb..][..k * n], o, (m, k, n), false);
        };
        if work.saturating_mul(outs.len() / (m * n)) >= PAR_MATMUL {
            outs.par_chunks_mut(m * n).enumerate().for_each(one);
        } else {
            outs.chunks_mut(m * n).enumerate().for_each(one);
        }
    }
    true
}

// ---- random numbers and display ----

/// SplitMix64 (Steele, Lea and Flood, 2014): the state advances by the
/// golden-ratio increment and each output is a mix of it. Portable and
/// tiny, so `random(..., seed)` is the same on every machine.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed` (a negative i64 seed is its bit pattern).
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform f64 in [0, 1): the top 53 bits times 2^-53.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// `[2, 3]`: a shape as messages and displays show it.
pub fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", dims.join(", "))
}

/// Elements beyond which a display shows only the first and last three
/// items of each dimension longer than six, as NumPy does.
pub const SUMMARY_ELEMS: usize = 1000;
/// Items shown at each end of a summarised dimension.
const EDGE_ITEMS: usize = 3;

/// Appends the nested-list form of `data` (of `shape`, row-major): `5.0`
/// for rank 0, `[1.0, 2.0]`, `[[1.0], [2.0]]`, ... Past
/// [`SUMMARY_ELEMS`] items (elements, or empty innermost lists),
/// dimensions longer than six show their first and last three items
/// around `...`, so the text stays small whatever the shape.
pub fn write_nested<T: Elem>(data: &[T], shape: &[usize], out: &mut String) {
    // An empty innermost list counts as an item: `[200000000, 0]` is
    // 200 million `[]`s.
    let items = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d.max(1)));
    let summarise = items.is_none_or(|n| n > SUMMARY_ELEMS);
    write_level(data, shape, summarise, out);
}

/// One level of [`write_nested`]; recursion depth is the rank (bounded by
/// the boxes' maximum rank).
fn write_level<T: Elem>(data: &[T], shape: &[usize], summarise: bool, out: &mut String) {
    let Some((&len, rest)) = shape.split_first() else {
        if let Some(&x) = data.first() {
            x.write(out);
        }
        return;
    };
    let size: usize = rest.iter().product();
    out.push('[');
    let elided = summarise && len > 2 * EDGE_ITEMS;
    let shown = if elided { (0..EDGE_ITEMS).chain(len - EDGE_ITEMS..len) } else { (0..len).chain(0..0) };
    for i in shown {
        if elided && i == len - EDGE_ITEMS {
            out.push_str(", ...");
        }
        if i > 0 {
            out.push_str(", ");
        }
        write_level(&data[i * size..(i + 1) * size], rest, summarise, out);
    }
    out.push(']');
}
