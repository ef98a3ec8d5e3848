//! TensorBox (§7): a dense n-d array of f32, row-major.
//!
//! Elementwise operations broadcast as NumPy does; reductions accumulate
//! in f64. The functional updates (`add sub mul div` when the result has
//! the receiver's shape, `relu sigmoid tanh exp softmax reshape`, and
//! `transpose` of a square matrix or a tensor of rank below 2) write into
//! the receiver when it is handed over and unique (§6).

use crate::display::Budget;
use crate::heap::{Body, Kind, ObjRef};
use crate::kernels::{self, BinOp, UnOp};
use crate::matrix::{element_count, reused, shape_mismatch};
use crate::methods::{BuiltinResult, Method, Site, done, index};
use crate::runtime::Runtime;
use crate::trap::Trap;
use crate::value::Value;

/// The largest rank a TensorBox may have (NumPy's limit before 2.0). It
/// bounds the recursion of display and the cost of index arithmetic.
pub const MAX_RANK: usize = 32;

/// Largest axis length whose indices `argmax` can hold exactly as f32.
const MAX_ARGMAX_AXIS: usize = 1 << 24;

/// A TensorBox: `data` holds the product of `shape` elements.
pub struct TensorBody {
    /// Length of each axis, outermost first.
    pub shape: Box<[usize]>,
    /// The elements in row-major order (the last axis varies fastest).
    pub data: Vec<f32>,
}

impl Body for TensorBody {
    const KIND: Kind = Kind::Tensor;
    fn heap_bytes(&self) -> usize {
        self.data.capacity() * size_of::<f32>() + self.shape.len() * size_of::<usize>()
    }
}

/// Appends the display form: `TensorBox([2, 2] [[1.0, 2.0], [3.0, 4.0]])`
/// (a rank-0 tensor shows its one element: `TensorBox([] 5.0)`).
pub fn write_tensor(t: &TensorBody, out: &mut String, budget: &Budget) -> Result<(), Trap> {
    budget.check_summary(out)?;
    out.push_str("TensorBox(");
    out.push_str(&kernels::shape_text(&t.shape));
    out.push(' ');
    kernels::write_nested(&t.data, &t.shape, out);
    out.push(')');
    Ok(())
}

impl Runtime {
    fn new_tensor(&mut self, shape: Box<[usize]>, data: Vec<f32>) -> Result<Value, Trap> {
        Ok(Value::Obj(self.heap.alloc(TensorBody { shape, data })?))
    }

    /// Argument `i` as a shape: an ArrayBox of non-negative IntegerBoxes, at
    /// most [`MAX_RANK`] of them. With `reshaping` (the current shape), one
    /// entry may be -1: the length that keeps the element count, as NumPy's
    /// `reshape` infers it.
    fn shape_arg(
        &self,
        site: Site,
        args: &[Value],
        i: usize,
        reshaping: Option<&[usize]>,
    ) -> Result<Box<[usize]>, Trap> {
        let items = self.array_items(site, args, i)?;
        if items.len() > MAX_RANK {
            return Err(Trap::InvalidArgument(format!(
                "{}: rank {} exceeds the maximum of {MAX_RANK}",
                self.site_name(site),
                items.len()
            )));
        }
        let mut shape = Vec::with_capacity(items.len());
        let mut unknown = None;
        for (k, &v) in items.iter().enumerate() {
            let Value::I64(d) = v else {
                return Err(Trap::BadElement {
                    method: self.site_name(site),
                    index: k,
                    expected: "IntegerBox",
                    got: self.class_name(v),
                });
            };
            match usize::try_from(d) {
                Ok(d) => shape.push(d),
                Err(_) if d == -1 && reshaping.is_some() && unknown.is_none() => {
                    unknown = Some(k);
                    shape.push(1);
                }
                Err(_) => {
                    return Err(Trap::InvalidArgument(format!(
                        "{}: dimension {d} must not be negative",
                        self.site_name(site)
                    )));
                }
            }
        }
        if let (Some(k), Some(current)) = (unknown, reshaping) {
            let total = element_count(current)?;
            let known = element_count(&shape)?;
            if known == 0 || total % known != 0 {
                return Err(self.reshape_mismatch(site, current, items));
            }
            shape[k] = total / known;
        }
        Ok(shape.into_boxed_slice())
    }

    /// `shape mismatch: reshape of [2, 3] and [4, -1]` (the shape as requested).
    fn reshape_mismatch(&self, site: Site, current: &[usize], requested: &[Value]) -> Trap {
        let mut dims = Vec::with_capacity(requested.len());
        for &v in requested {
            match self.display(v) {
                Ok(text) => dims.push(text),
                Err(trap) => return trap,
            }
        }
        Trap::ShapeMismatch {
            op: site.method.name(),
            left: kernels::shape_text(current),
            right: format!("[{}]", dims.join(", ")),
        }
    }

    /// Argument `i` as an axis of a tensor of rank `rank` (negative counts from the end).
    fn axis_arg(&self, site: Site, args: &[Value], i: usize, rank: usize) -> Result<usize, Trap> {
        let axis = self.int_arg(site, args, i)?;
        let resolved = if axis < 0 { axis.checked_add(rank as i64) } else { Some(axis) };
        resolved.and_then(|a| usize::try_from(a).ok()).filter(|&a| a < rank).ok_or_else(|| {
            Trap::InvalidArgument(format!("{}: axis {axis} is out of range for rank {rank}", self.site_name(site)))
        })
    }

    /// The flat position of argument `i` (an ArrayBox of indices) in `shape`.
    fn position(&self, site: Site, args: &[Value], i: usize, shape: &[usize]) -> Result<usize, Trap> {
        let items = self.array_items(site, args, i)?;
        if items.len() != shape.len() {
            return Err(Trap::InvalidArgument(format!(
                "{}: {} indices for a tensor of rank {}",
                self.site_name(site),
                items.len(),
                shape.len()
            )));
        }
        let mut at = 0;
        for (k, (&v, &dim)) in items.iter().zip(shape).enumerate() {
            let Value::I64(j) = v else {
                return Err(Trap::BadElement {
                    method: self.site_name(site),
                    index: k,
                    expected: "IntegerBox",
                    got: self.class_name(v),
                });
            };
            at = at * dim + index(j, dim)?;
        }
        Ok(at)
    }

    /// `TensorBox.zeros(shape)`, `fromArray(shape, data)`, `random(shape, seed)`.
    pub(crate) fn tensor_static(&mut self, site: Site, args: &[Value]) -> Result<Value, Trap> {
        match site.method {
            Method::Zeros => {
                self.arity(site, args, 1)?;
                let shape = self.shape_arg(site, args, 0, None)?;
                let data = self.zeroed(element_count(&shape)?)?;
                self.new_tensor(shape, data)
            }
            Method::FromArray => {
                self.arity(site, args, 2)?;
                let shape = self.shape_arg(site, args, 0, None)?;
                let items = self.array_items(site, args, 1)?;
                if element_count(&shape)? != items.len() {
                    return Err(Trap::ShapeMismatch {
                        op: "fromArray",
                        left: kernels::shape_text(&shape),
                        right: kernels::shape_text(&[items.len()]),
                    });
                }
                let data = self.numbers(site, items)?;
                self.new_tensor(shape, data)
            }
            Method::Random => {
                self.arity(site, args, 2)?;
                let shape = self.shape_arg(site, args, 0, None)?;
                let seed = self.int_arg(site, args, 1)?;
                let data = self.random_buffer(element_count(&shape)?, seed)?;
                self.new_tensor(shape, data)
            }
            _ => Err(self.unknown(site)),
        }
    }

    /// A TensorBox method; `owned` says the receiver is handed over (§6).
    pub(crate) fn tensor_method(
        &mut self,
        site: Site,
        o: ObjRef,
        owned: bool,
        args: &[Value],
    ) -> Result<BuiltinResult, Trap> {
        let t = o.body::<TensorBody>();
        let shape = &t.shape;
        let rank = shape.len();
        // A unique receiver at its last use may be overwritten (§6).
        let unique = owned && o.rc() == 1;
        let value = match site.method {
            Method::Shape => {
                self.arity(site, args, 0)?;
                let dims = shape.iter().map(|&d| Value::I64(d as i64)).collect();
                self.new_array(dims)?
            }
            Method::Rank => {
                self.arity(site, args, 0)?;
                Value::I64(rank as i64)
            }
            Method::Get => {
                self.arity(site, args, 1)?;
                Value::F64(t.data[self.position(site, args, 0, shape)?] as f64)
            }
            Method::Set => {
                self.arity(site, args, 2)?;
                let at = self.position(site, args, 0, shape)?;
                let x = self.float_arg(site, args, 1)?;
                o.body_mut::<TensorBody>().data[at] = x as f32;
                Value::Null
            }
            Method::Reshape => {
                self.arity(site, args, 1)?;
                let new_shape = self.shape_arg(site, args, 0, Some(shape))?;
                if element_count(&new_shape)? != t.data.len() {
                    return Err(self.reshape_mismatch(site, shape, self.array_items(site, args, 0)?));
                }
                if unique {
                    let body = o.body_mut::<TensorBody>();
                    let before = body.heap_bytes();
                    body.shape = new_shape;
                    let after = body.heap_bytes();
                    self.heap.adjust(before, after)?;
                    self.heap.count_reuse();
                    return reused(o);
                }
                let data = self.copied(&t.data)?;
                self.new_tensor(new_shape, data)?
            }
            Method::Add | Method::Sub | Method::Mul | Method::Div => {
                self.arity(site, args, 1)?;
                let op = match site.method {
                    Method::Add => BinOp::Add,
                    Method::Sub => BinOp::Sub,
                    Method::Mul => BinOp::Mul,
                    _ => BinOp::Div,
                };
                let other = self.kind_arg(site, args, 0, Kind::Tensor, "TensorBox")?;
                let u = other.body::<TensorBody>();
                let out_shape =
                    kernels::broadcast_shape(shape, &u.shape).ok_or_else(|| shape_mismatch(site, shape, &u.shape))?;
                if unique && other != o && *out_shape == **shape {
                    let data = &mut o.body_mut::<TensorBody>().data;
                    if u.shape == *shape {
                        kernels::zip_assign(op, data, &u.data);
                    } else {
                        kernels::broadcast_assign(op, data, shape, &u.data, &u.shape);
                    }
                    self.heap.count_reuse();
                    return reused(o);
                }
                let mut out = self.zeroed(element_count(&out_shape)?)?;
                if u.shape == *shape {
                    kernels::zip_new(op, &t.data, &u.data, &mut out);
                } else {
                    kernels::broadcast_new(op, &t.data, shape, &u.data, &u.shape, &mut out, &out_shape);
                }
                self.new_tensor(out_shape.into_boxed_slice(), out)?
            }
            Method::Matmul => {
                self.arity(site, args, 1)?;
                let u = self.kind_arg(site, args, 0, Kind::Tensor, "TensorBox")?.body::<TensorBody>();
                self.tensor_matmul(site, t, u)?
            }
            Method::Relu | Method::Sigmoid | Method::Tanh | Method::Exp => {
                self.arity(site, args, 0)?;
                let op = match site.method {
                    Method::Relu => UnOp::Relu,
                    Method::Sigmoid => UnOp::Sigmoid,
                    Method::Tanh => UnOp::Tanh,
                    _ => UnOp::Exp,
                };
                if unique {
                    kernels::map_assign(op, &mut o.body_mut::<TensorBody>().data);
                    self.heap.count_reuse();
                    return reused(o);
                }
                let mut out = self.zeroed(t.data.len())?;
                kernels::map_new(op, &t.data, &mut out);
                self.new_tensor(shape.clone(), out)?
            }
            Method::Softmax => {
                self.arity(site, args, 1)?;
                let split = kernels::split_axis(shape, self.axis_arg(site, args, 0, rank)?);
                if unique {
                    kernels::softmax_axis(&mut o.body_mut::<TensorBody>().data, split);
                    self.heap.count_reuse();
                    return reused(o);
                }
                let mut out = self.copied(&t.data)?;
                kernels::softmax_axis(&mut out, split);
                self.new_tensor(shape.clone(), out)?
            }
            Method::Sum | Method::Mean | Method::Max => {
                self.arity(site, args, 0)?;
                Value::F64(match site.method {
                    Method::Sum => kernels::sum(&t.data),
                    Method::Mean => kernels::sum(&t.data) / t.data.len() as f64,
                    _ => kernels::max(&t.data)
                        .ok_or_else(|| Trap::InvalidArgument(format!("{} of an empty tensor", self.site_name(site))))?,
                })
            }
            Method::SumAxis | Method::Argmax => {
                self.arity(site, args, 1)?;
                let axis = self.axis_arg(site, args, 0, rank)?;
                let split = kernels::split_axis(shape, axis);
                let out_shape: Box<[usize]> =
                    shape.iter().enumerate().filter(|&(d, _)| d != axis).map(|(_, &n)| n).collect();
                let mut out = self.zeroed(split.0 * split.2)?;
                if site.method == Method::SumAxis {
                    kernels::sum_axis(&t.data, split, &mut out);
                } else {
                    if split.1 == 0 || split.1 > MAX_ARGMAX_AXIS {
                        return Err(Trap::InvalidArgument(format!(
                            "{}: axis {axis} has length {}, not 1 to {MAX_ARGMAX_AXIS}",
                            self.site_name(site),
                            split.1
                        )));
                    }
                    kernels::argmax_axis(&t.data, split, &mut out);
                }
                self.new_tensor(out_shape, out)?
            }
            Method::Transpose => {
                self.arity(site, args, 0)?;
                let square = rank == 2 && shape[0] == shape[1];
                if unique && (rank < 2 || square) {
                    if square {
                        kernels::transpose_square(&mut o.body_mut::<TensorBody>().data, shape[0]);
                    }
                    self.heap.count_reuse();
                    return reused(o);
                }
                let mut out = self.zeroed(t.data.len())?;
                kernels::reverse_axes(&t.data, shape, &mut out);
                self.new_tensor(shape.iter().rev().copied().collect(), out)?
            }
            Method::ToArray => {
                self.arity(site, args, 0)?;
                self.float_array(&t.data)?
            }
            Method::ToString => {
                self.arity(site, args, 0)?;
                self.new_string(self.display(Value::Obj(o))?)?
            }
            _ => return Err(self.unknown(site)),
        };
        done(value)
    }

    /// `t.matmul(u)`: 2-D by 2-D; 3-D by 3-D with equal batches (or a batch
    /// of one, broadcast); 3-D by 2-D and 2-D by 3-D (the 2-D operand used
    /// for every batch).
    fn tensor_matmul(&mut self, site: Site, t: &TensorBody, u: &TensorBody) -> Result<Value, Trap> {
        let mismatch = || shape_mismatch(site, &t.shape, &u.shape);
        let (a, b) = (&*t.shape, &*u.shape);
        // (batch, a batched, b batched, m, k, n)
        let (batch, a_batched, b_batched, m, k, n) = match (a, b) {
            (&[m, k], &[k2, n]) if k == k2 => (1, false, false, m, k, n),
            (&[ba, m, k], &[bb, k2, n]) if k == k2 && (ba == bb || ba == 1 || bb == 1) => {
                (ba.max(bb), ba != 1, bb != 1, m, k, n)
            }
            (&[ba, m, k], &[k2, n]) if k == k2 => (ba, true, false, m, k, n),
            (&[m, k], &[bb, k2, n]) if k == k2 => (bb, false, true, m, k, n),
            _ => return Err(mismatch()),
        };
        let mut out = self.zeroed(element_count(&[batch, m, n])?)?;
        let go_on = self.not_interrupted();
        let finished = if a.len() == 3 && b.len() == 2 {
            // Every batch of `t` times one matrix: a single (batch*m) x k product.
            kernels::matmul(&t.data, &u.data, &mut out, (element_count(&[batch, m])?, k, n), true, &go_on)
        } else {
            kernels::matmul_batched(&t.data, a_batched, &u.data, b_batched, &mut out, batch, (m, k, n), &go_on)
        };
        if !finished {
            self.poll_interrupt()?;
        }
        let shape: Box<[usize]> = if a.len() == 2 && b.len() == 2 { [m, n].into() } else { [batch, m, n].into() };
        self.new_tensor(shape, out)
    }
}
