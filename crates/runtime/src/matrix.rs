//! MatrixBox (§7): a dense `rows x cols` matrix of f64, row-major.
//!
//! Methods run [`crate::kernels`] on the box's own buffer. The functional
//! updates (`add sub mul scale`, and `transpose` of a square matrix) write
//! into the receiver when it is handed over and unique (§6), so a chain of
//! them in a loop allocates nothing. Helpers shared with TensorBox (buffers
//! within `--max-memory`, numeric arrays) live here too.

use crate::display::Budget;
use crate::heap::{ArrayBody, Body, Kind, ObjRef};
use crate::kernels::{self, BinOp, Elem, SplitMix64, UnOp};
use crate::methods::{BuiltinResult, Method, Site, done, index};
use crate::runtime::Runtime;
use crate::trap::Trap;
use crate::value::Value;

/// A MatrixBox: `rows * cols` elements, row after row.
pub struct MatrixBody {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns (the length of a row in `data`).
    pub cols: usize,
    /// The elements, row after row.
    pub data: Vec<f64>,
}

impl Body for MatrixBody {
    const KIND: Kind = Kind::Matrix;
    fn heap_bytes(&self) -> usize {
        self.data.capacity() * size_of::<f64>()
    }
}

impl MatrixBody {
    fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }
}

/// Appends the display form: `MatrixBox([2, 2] [[1.0, 2.0], [3.0, 4.0]])`.
pub fn write_matrix(m: &MatrixBody, out: &mut String, budget: &Budget) -> Result<(), Trap> {
    budget.check_summary(out)?;
    out.push_str("MatrixBox(");
    out.push_str(&kernels::shape_text(&m.shape()));
    out.push(' ');
    kernels::write_nested(&m.data, &m.shape(), out);
    out.push(')');
    Ok(())
}

/// The result of an update done in place: the receiver itself.
pub(crate) fn reused(o: ObjRef) -> Result<BuiltinResult, Trap> {
    Ok(BuiltinResult { value: Value::Obj(o), took_receiver: true })
}

/// The number of elements of `shape`; `out of memory` when it does not fit
/// in a `usize` (no buffer could hold it). The product of the non-zero
/// dimensions must fit too, so that no partial product the kernels form
/// (strides, the sizes around an axis) can overflow, even for an empty box.
pub(crate) fn element_count(shape: &[usize]) -> Result<usize, Trap> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d.max(1))).ok_or(Trap::OutOfMemory)?;
    Ok(shape.iter().product())
}

impl Runtime {
    /// A zeroed buffer of `n` elements. The size is checked against
    /// `--max-memory` before anything is allocated, and a failed allocation
    /// is `out of memory`, never an abort.
    pub(crate) fn zeroed<T: Elem>(&self, n: usize) -> Result<Vec<T>, Trap> {
        let bytes = n.checked_mul(size_of::<T>()).ok_or(Trap::OutOfMemory)?;
        self.heap.check(bytes)?;
        let mut data = Vec::new();
        data.try_reserve_exact(n).map_err(|_| Trap::OutOfMemory)?;
        data.resize(n, T::ZERO);
        Ok(data)
    }

    /// A copy of `src`, within `--max-memory`.
    pub(crate) fn copied<T: Elem>(&self, src: &[T]) -> Result<Vec<T>, Trap> {
        self.heap.check(std::mem::size_of_val(src))?;
        let mut data = Vec::new();
        data.try_reserve_exact(src.len()).map_err(|_| Trap::OutOfMemory)?;
        data.extend_from_slice(src);
        Ok(data)
    }

    /// `n` uniform numbers from SplitMix64 seeded with `seed` (§7).
    pub(crate) fn random_buffer<T: Elem>(&self, n: usize, seed: i64) -> Result<Vec<T>, Trap> {
        let mut data = self.zeroed::<T>(n)?;
        let mut rng = SplitMix64::new(seed as u64);
        data.iter_mut().for_each(|x| *x = T::from_f64(rng.next_f64()));
        Ok(data)
    }

    /// Argument `i` as an ArrayBox's items.
    pub(crate) fn array_items<'a>(&self, site: Site, args: &[Value], i: usize) -> Result<&'a [Value], Trap> {
        match args[i].as_obj() {
            Some(o) if o.kind() == Kind::Array => Ok(&o.body::<ArrayBody>().items),
            _ => Err(self.bad_arg(site, args, i, "ArrayBox")),
        }
    }

    /// Argument `i` as a box of `kind` (named `class` in messages).
    pub(crate) fn kind_arg(
        &self,
        site: Site,
        args: &[Value],
        i: usize,
        kind: Kind,
        class: &'static str,
    ) -> Result<ObjRef, Trap> {
        args[i].as_obj().filter(|o| o.kind() == kind).ok_or_else(|| self.bad_arg(site, args, i, class))
    }

    /// The numbers of an array (FloatBox or IntegerBox elements) as elements.
    pub(crate) fn numbers<T: Elem>(&self, site: Site, items: &[Value]) -> Result<Vec<T>, Trap> {
        let mut data = self.zeroed::<T>(items.len())?;
        for (k, (x, &v)) in data.iter_mut().zip(items).enumerate() {
            *x = match v {
                Value::F64(f) => T::from_f64(f),
                Value::I64(n) => T::from_f64(n as f64),
                _ => {
                    return Err(Trap::BadElement {
                        method: self.site_name(site),
                        index: k,
                        expected: "FloatBox or IntegerBox",
                        got: self.class_name(v),
                    });
                }
            };
        }
        Ok(data)
    }

    /// An ArrayBox of FloatBoxes holding `data`.
    pub(crate) fn float_array<T: Elem>(&mut self, data: &[T]) -> Result<Value, Trap> {
        self.heap.check(data.len().saturating_mul(size_of::<Value>()))?;
        let mut items = Vec::new();
        items.try_reserve_exact(data.len()).map_err(|_| Trap::OutOfMemory)?;
        items.extend(data.iter().map(|x| Value::F64(x.to_f64())));
        self.new_array(items)
    }

    fn new_matrix(&mut self, rows: usize, cols: usize, data: Vec<f64>) -> Result<Value, Trap> {
        Ok(Value::Obj(self.heap.alloc(MatrixBody { rows, cols, data })?))
    }

    /// `MatrixBox.new(r, c)`, `identity(n)`, `fromArray(r, c, array)`, `random(r, c, seed)`.
    pub(crate) fn matrix_static(&mut self, site: Site, args: &[Value]) -> Result<Value, Trap> {
        match site.method {
            Method::New => {
                self.arity(site, args, 2)?;
                let (rows, cols) = (self.count_arg(site, args, 0)?, self.count_arg(site, args, 1)?);
                let data = self.zeroed(element_count(&[rows, cols])?)?;
                self.new_matrix(rows, cols, data)
            }
            Method::Identity => {
                self.arity(site, args, 1)?;
                let n = self.count_arg(site, args, 0)?;
                let mut data = self.zeroed(element_count(&[n, n])?)?;
                data.iter_mut().step_by(n + 1).for_each(|x| *x = 1.0);
                self.new_matrix(n, n, data)
            }
            Method::FromArray => {
                self.arity(site, args, 3)?;
                let (rows, cols) = (self.count_arg(site, args, 0)?, self.count_arg(site, args, 1)?);
                let items = self.array_items(site, args, 2)?;
                if element_count(&[rows, cols])? != items.len() {
                    return Err(Trap::ShapeMismatch {
                        op: "fromArray",
                        left: kernels::shape_text(&[rows, cols]),
                        right: kernels::shape_text(&[items.len()]),
                    });
                }
                let data = self.numbers(site, items)?;
                self.new_matrix(rows, cols, data)
            }
            Method::Random => {
                self.arity(site, args, 3)?;
                let (rows, cols) = (self.count_arg(site, args, 0)?, self.count_arg(site, args, 1)?);
                let seed = self.int_arg(site, args, 2)?;
                let data = self.random_buffer(element_count(&[rows, cols])?, seed)?;
                self.new_matrix(rows, cols, data)
            }
            _ => Err(self.unknown(site)),
        }
    }

    /// A MatrixBox method; `owned` says the receiver is handed over (§6).
    pub(crate) fn matrix_method(
        &mut self,
        site: Site,
        o: ObjRef,
        owned: bool,
        args: &[Value],
    ) -> Result<BuiltinResult, Trap> {
        let m = o.body::<MatrixBody>();
        let (rows, cols) = (m.rows, m.cols);
        // A unique receiver at its last use may be overwritten (§6).
        let unique = owned && o.rc() == 1;
        let value = match site.method {
            Method::Rows | Method::Cols => {
                self.arity(site, args, 0)?;
                let n = if site.method == Method::Rows { rows } else { cols };
                Value::I64(n as i64)
            }
            Method::Get => {
                self.arity(site, args, 2)?;
                let i = index(self.int_arg(site, args, 0)?, rows)?;
                let j = index(self.int_arg(site, args, 1)?, cols)?;
                Value::F64(m.data[i * cols + j])
            }
            Method::Set => {
                self.arity(site, args, 3)?;
                let i = index(self.int_arg(site, args, 0)?, rows)?;
                let j = index(self.int_arg(site, args, 1)?, cols)?;
                let x = self.float_arg(site, args, 2)?;
                o.body_mut::<MatrixBody>().data[i * cols + j] = x;
                Value::Null
            }
            Method::Add | Method::Sub | Method::Mul => {
                self.arity(site, args, 1)?;
                let op = match site.method {
                    Method::Add => BinOp::Add,
                    Method::Sub => BinOp::Sub,
                    _ => BinOp::Mul,
                };
                let other = self.kind_arg(site, args, 0, Kind::Matrix, "MatrixBox")?;
                let n = other.body::<MatrixBody>();
                if n.shape() != m.shape() {
                    return Err(shape_mismatch(site, &m.shape(), &n.shape()));
                }
                if unique && other != o {
                    kernels::zip_assign(op, &mut o.body_mut::<MatrixBody>().data, &n.data);
                    self.heap.count_reuse();
                    return reused(o);
                }
                let mut out = self.zeroed(m.data.len())?;
                kernels::zip_new(op, &m.data, &n.data, &mut out);
                self.new_matrix(rows, cols, out)?
            }
            Method::Scale => {
                self.arity(site, args, 1)?;
                let op = UnOp::Scale(self.float_arg(site, args, 0)?);
                if unique {
                    kernels::map_assign(op, &mut o.body_mut::<MatrixBody>().data);
                    self.heap.count_reuse();
                    return reused(o);
                }
                let mut out = self.zeroed(m.data.len())?;
                kernels::map_new(op, &m.data, &mut out);
                self.new_matrix(rows, cols, out)?
            }
            Method::Transpose => {
                self.arity(site, args, 0)?;
                if unique && rows == cols {
                    kernels::transpose_square(&mut o.body_mut::<MatrixBody>().data, rows);
                    self.heap.count_reuse();
                    return reused(o);
                }
                let mut out = self.zeroed(m.data.len())?;
                kernels::transpose(&m.data, rows, cols, &mut out);
                self.new_matrix(cols, rows, out)?
            }
            Method::Matmul => {
                self.arity(site, args, 1)?;
                let n = self.kind_arg(site, args, 0, Kind::Matrix, "MatrixBox")?.body::<MatrixBody>();
                if cols != n.rows {
                    return Err(shape_mismatch(site, &m.shape(), &n.shape()));
                }
                let mut out = self.zeroed(element_count(&[rows, n.cols])?)?;
                if !kernels::matmul(&m.data, &n.data, &mut out, (rows, cols, n.cols), true, &self.not_interrupted()) {
                    self.poll_interrupt()?;
                }
                self.new_matrix(rows, n.cols, out)?
            }
            Method::Sum => {
                self.arity(site, args, 0)?;
                Value::F64(kernels::sum(&m.data))
            }
            Method::Norm => {
                self.arity(site, args, 0)?;
                Value::F64(kernels::sum_squares(&m.data).sqrt())
            }
            Method::ToArray => {
                self.arity(site, args, 0)?;
                self.float_array(&m.data)?
            }
            Method::ToString => {
                self.arity(site, args, 0)?;
                self.new_string(self.display(Value::Obj(o))?)?
            }
            _ => return Err(self.unknown(site)),
        };
        done(value)
    }
}

/// `shape mismatch: METHOD of [..] and [..]`.
pub(crate) fn shape_mismatch(site: Site, left: &[usize], right: &[usize]) -> Trap {
    Trap::ShapeMismatch { op: site.method.name(), left: kernels::shape_text(left), right: kernels::shape_text(right) }
}
