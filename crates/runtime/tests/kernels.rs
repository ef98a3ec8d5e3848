//! Property tests of the MatrixBox/TensorBox kernels against naive
//! reference loops: matrix products (plain loop, `gemm`, batched),
//! NumPy broadcasting, reductions, softmax and axis reversal.

use proptest::prelude::*;
use runtime::kernels::{self, BinOp, Elem};

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut st = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        st[d] = st[d + 1] * shape[d + 1];
    }
    st
}

/// The multi-index of flat position `i` in `shape`.
fn unflatten(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

fn naive_matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
        }
    }
    out
}

fn close(x: f64, y: f64, tol: f64) -> bool {
    (x - y).abs() <= tol * (1.0 + x.abs().max(y.abs()))
}

/// Small integers as floats: products and sums of them are exact, so any
/// summation order gives the same result.
fn ints(len: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((-8i32..8).prop_map(f64::from), len)
}

fn op() -> impl Strategy<Value = BinOp> {
    prop_oneof![Just(BinOp::Add), Just(BinOp::Sub), Just(BinOp::Mul), Just(BinOp::Div)]
}

fn apply(op: BinOp, x: f64, y: f64) -> f64 {
    match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => x / y,
    }
}

/// Two shapes that broadcast: a common shape with dimensions set to 1 or
/// leading dimensions dropped at random in each.
fn broadcastable() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec((1usize..5, any::<bool>(), any::<bool>()), 0..5).prop_flat_map(|dims| {
        let rank = dims.len();
        (Just(dims), 0..=rank, 0..=rank).prop_map(move |(dims, drop_a, drop_b)| {
            let a: Vec<usize> = dims.iter().map(|&(n, one, _)| if one { 1 } else { n }).collect();
            let b: Vec<usize> = dims.iter().map(|&(n, _, one)| if one { 1 } else { n }).collect();
            (a[drop_a.min(rank)..].to_vec(), b[drop_b.min(rank)..].to_vec())
        })
    })
}

/// `a op b` broadcast, by indexing each output element separately.
fn naive_broadcast(op: BinOp, a: &[f64], sa: &[usize], b: &[f64], sb: &[usize], out: &[usize]) -> Vec<f64> {
    let total: usize = out.iter().product();
    let pick = |x: &[f64], s: &[usize], idx: &[usize]| {
        let st = strides(s);
        let off = idx.len() - s.len();
        let at: usize = s.iter().enumerate().map(|(d, &n)| if n == 1 { 0 } else { idx[off + d] * st[d] }).sum();
        x[at]
    };
    (0..total)
        .map(|i| {
            let idx = unflatten(i, out);
            apply(op, pick(a, sa, &idx), pick(b, sb, &idx))
        })
        .collect()
}

fn values(shape: &[usize], seed: u64) -> Vec<f64> {
    let n: usize = shape.iter().product();
    (0..n as u64).map(|i| ((i * 7 + seed * 13) % 11) as f64 - 3.0).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn matmul_matches_naive_loops(
        (m, k, n, a, b) in (0usize..40, 0usize..40, 0usize..40)
            .prop_flat_map(|(m, k, n)| (Just(m), Just(k), Just(n), ints(m * k), ints(k * n)))
    ) {
        let want = naive_matmul(&a, &b, m, k, n);
        let mut out = vec![f64::NAN; m * n];
        assert!(kernels::matmul(&a, &b, &mut out, (m, k, n), true, &|| true));
        prop_assert_eq!(&out, &want);
        // f32: exact too for these small integers.
        let (a32, b32): (Vec<f32>, Vec<f32>) =
            (a.iter().map(|&x| x as f32).collect(), b.iter().map(|&x| x as f32).collect());
        let mut out32 = vec![f32::NAN; m * n];
        assert!(kernels::matmul(&a32, &b32, &mut out32, (m, k, n), true, &|| true));
        prop_assert_eq!(out32.iter().map(|&x| x as f64).collect::<Vec<_>>(), want);
    }

    #[test]
    fn matmul_of_fractions_is_close(
        (m, k, n, a, b) in (1usize..70, 1usize..70, 1usize..70).prop_flat_map(|(m, k, n)| {
            let v = |len| prop::collection::vec(-1.0f64..1.0, len);
            (Just(m), Just(k), Just(n), v(m * k), v(k * n))
        })
    ) {
        let want = naive_matmul(&a, &b, m, k, n);
        let mut out = vec![0.0; m * n];
        assert!(kernels::matmul(&a, &b, &mut out, (m, k, n), true, &|| true));
        for (x, y) in out.iter().zip(&want) {
            prop_assert!(close(*x, *y, 1e-12), "{x} vs {y}");
        }
    }

    #[test]
    fn batched_matmul_matches_one_product_per_batch(
        (batch, m, k, n, a_batched, b_batched) in (0usize..5, 1usize..12, 0usize..12, 1usize..12, any::<bool>(), any::<bool>())
    ) {
        let a = values(&[if a_batched { batch } else { 1 }, m, k], 1);
        let b = values(&[if b_batched { batch } else { 1 }, k, n], 2);
        let mut out = vec![f64::NAN; batch * m * n];
        assert!(kernels::matmul_batched(&a, a_batched, &b, b_batched, &mut out, batch, (m, k, n), &|| true));
        for i in 0..batch {
            let ai = if a_batched { &a[i * m * k..][..m * k] } else { &a[..m * k] };
            let bi = if b_batched { &b[i * k * n..][..k * n] } else { &b[..k * n] };
            prop_assert_eq!(&out[i * m * n..][..m * n], &naive_matmul(ai, bi, m, k, n)[..]);
        }
    }

    #[test]
    fn broadcasting_matches_numpy_rules(op in op(), (sa, sb) in broadcastable()) {
        let out_shape = kernels::broadcast_shape(&sa, &sb).expect("shapes broadcast");
        let (a, b) = (values(&sa, 1), values(&sb, 2));
        let want = naive_broadcast(op, &a, &sa, &b, &sb, &out_shape);
        let mut out = vec![f64::NAN; want.len()];
        kernels::broadcast_new(op, &a, &sa, &b, &sb, &mut out, &out_shape);
        prop_assert_eq!(out.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), want.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        if out_shape == sa {
            let mut dst = a.clone();
            kernels::broadcast_assign(op, &mut dst, &sa, &b, &sb);
            prop_assert_eq!(dst.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), want.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn mismatched_shapes_do_not_broadcast(n in 2usize..6, extra in 1usize..4) {
        prop_assert_eq!(kernels::broadcast_shape(&[n], &[n + extra]), None);
        prop_assert_eq!(kernels::broadcast_shape(&[1, n], &[n + extra, 1]), Some(vec![n + extra, n]));
    }

    #[test]
    fn reductions_match_naive_loops(x in prop::collection::vec(-1.0e3f64..1.0e3, 0..3000)) {
        let naive: f64 = x.iter().sum();
        prop_assert!(close(kernels::sum(&x), naive, 1e-9));
        let squares: f64 = x.iter().map(|v| v * v).sum();
        prop_assert!(close(kernels::sum_squares(&x), squares, 1e-9));
        let top = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        prop_assert_eq!(kernels::max(&x), (!x.is_empty()).then_some(top));
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let naive32: f64 = x32.iter().map(|&v| v as f64).sum();
        prop_assert!(close(kernels::sum(&x32), naive32, 1e-9));
    }

    #[test]
    fn axis_kernels_match_naive_loops(
        shape in prop::collection::vec(1usize..5, 1..4),
        axis_seed in any::<usize>(),
    ) {
        let axis = axis_seed % shape.len();
        let x = values(&shape, 3);
        let split = kernels::split_axis(&shape, axis);
        let (outer, n, inner) = split;
        let at = |o: usize, k: usize, i: usize| x[(o * n + k) * inner + i];
        let mut sums = vec![0.0; outer * inner];
        kernels::sum_axis(&x, split, &mut sums);
        let mut arg = vec![0.0; outer * inner];
        kernels::argmax_axis(&x, split, &mut arg);
        let mut soft = x.clone();
        kernels::softmax_axis(&mut soft, split);
        for o in 0..outer {
            for i in 0..inner {
                let column: Vec<f64> = (0..n).map(|k| at(o, k, i)).collect();
                prop_assert_eq!(sums[o * inner + i], column.iter().sum::<f64>());
                let best = column.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let first = column.iter().position(|&v| v == best).unwrap_or(0);
                prop_assert_eq!(arg[o * inner + i], first as f64);
                let total: f64 = column.iter().map(|v| (v - best).exp()).sum();
                for (k, v) in column.iter().enumerate() {
                    let got = soft[(o * n + k) * inner + i];
                    prop_assert!(close(got, (v - best).exp() / total, 1e-12));
                }
            }
        }
    }

    #[test]
    fn reversing_axes_matches_index_reversal(shape in prop::collection::vec(1usize..5, 0..5)) {
        let x = values(&shape, 4);
        let mut out = vec![f64::NAN; x.len()];
        kernels::reverse_axes(&x, &shape, &mut out);
        let rev: Vec<usize> = shape.iter().rev().copied().collect();
        let st = strides(&rev);
        for (i, &v) in x.iter().enumerate() {
            let idx = unflatten(i, &shape);
            let at: usize = idx.iter().rev().zip(&st).map(|(j, s)| j * s).sum();
            prop_assert_eq!(out[at], v);
        }
    }

    #[test]
    fn square_transpose_in_place_matches_copy(n in 0usize..70) {
        let x = values(&[n, n], 5);
        let mut copy = vec![0.0; n * n];
        kernels::transpose(&x, n, n, &mut copy);
        let mut inplace = x.clone();
        kernels::transpose_square(&mut inplace, n);
        prop_assert_eq!(&copy, &inplace);
        for i in 0..n {
            for j in 0..n {
                prop_assert_eq!(copy[j * n + i], x[i * n + j]);
            }
        }
    }
}

/// Inputs above the parallel threshold take the threaded paths; their
/// results equal the serial reference.
#[test]
fn parallel_paths_agree_with_serial_loops() {
    let n = kernels::PAR_ELEMS * 2 + 17;
    let a: Vec<f64> = (0..n).map(|i| (i % 13) as f64 * 0.25).collect();
    let b: Vec<f64> = (0..n).map(|i| (i % 7) as f64 + 1.0).collect();
    let mut out = vec![0.0; n];
    kernels::zip_new(BinOp::Div, &a, &b, &mut out);
    assert!(out.iter().zip(a.iter().zip(&b)).all(|(o, (x, y))| *o == x / y));
    let mut acc = a.clone();
    kernels::zip_assign(BinOp::Add, &mut acc, &b);
    assert!(acc.iter().zip(a.iter().zip(&b)).all(|(o, (x, y))| *o == x + y));
    // Exact: every partial sum of these quarters is representable.
    assert_eq!(kernels::sum(&a), a.iter().sum::<f64>());
    assert_eq!(kernels::max(&a), Some(3.0));
    // A row of length 1000 broadcast over 300 rows.
    let rows = 300;
    let big: Vec<f64> = (0..rows * 1000).map(|i| i as f64).collect();
    let bias: Vec<f64> = (0..1000).map(|i| -(i as f64)).collect();
    let mut shifted = vec![0.0; rows * 1000];
    kernels::broadcast_new(BinOp::Add, &big, &[rows, 1000], &bias, &[1000], &mut shifted, &[rows, 1000]);
    assert!(shifted.chunks(1000).enumerate().all(|(r, row)| row.iter().all(|&v| v == (r * 1000) as f64)));
    // A threaded product equals the plain loop on exact inputs.
    let (m, k, p) = (150, 130, 140);
    let x: Vec<f64> = (0..m * k).map(|i| (i % 5) as f64).collect();
    let y: Vec<f64> = (0..k * p).map(|i| (i % 3) as f64).collect();
    let mut prod = vec![0.0; m * p];
    assert!(kernels::matmul(&x, &y, &mut prod, (m, k, p), true, &|| true));
    assert_eq!(prod, naive_matmul(&x, &y, m, k, p));
}

/// SplitMix64 matches the published reference outputs for seed 0
/// (Vigna's `splitmix64.c`).
#[test]
fn splitmix64_matches_reference_outputs() {
    let mut rng = kernels::SplitMix64::new(0);
    let want = [0xe220a8397b1dcdaf_u64, 0x6e789e6aa1b965f4, 0x06c45d188009454f];
    for w in want {
        assert_eq!(rng.next_u64(), w);
    }
    let mut rng = kernels::SplitMix64::new(42);
    let x = rng.next_f64();
    assert!((0.0..1.0).contains(&x));
    assert_eq!(x, (0xbdd732262feb6e95_u64 >> 11) as f64 / (1u64 << 53) as f64);
}

/// The nested display of a long axis is summarised past 1000 elements.
#[test]
fn long_displays_are_summarised() {
    let x: Vec<f32> = (0..2000).map(|i| i as f32).collect();
    let mut out = String::new();
    kernels::write_nested(&x, &[2, 1000], &mut out);
    assert_eq!(
        out,
        "[[0.0, 1.0, 2.0, ..., 997.0, 998.0, 999.0], [1000.0, 1001.0, 1002.0, ..., 1997.0, 1998.0, 1999.0]]"
    );
    let mut small = String::new();
    kernels::write_nested(&[0.1f32, -2.5], &[2], &mut small);
    assert_eq!(small, "[0.1, -2.5]");
    let mut scalar = String::new();
    kernels::write_nested(&[1e-7f64], &[], &mut scalar);
    assert_eq!(scalar, "1e-7");
    assert_eq!(1.5f32.to_f64(), 1.5);
}

#[test]
fn long_matmul_runs_in_panels_and_stops_between_them() {
    // 1030 x 1024 by 1024 x 1024: two panels of rows (1024 and 6).
    let (m, k, n) = (1030, 1024, 1024);
    let a: Vec<f64> = (0..m * k).map(|i| (i % 7) as f64 - 3.0).collect();
    let b: Vec<f64> = (0..k * n).map(|i| (i % 5) as f64 - 2.0).collect();
    let mut out = vec![0.0; m * n];
    assert!(kernels::matmul(&a, &b, &mut out, (m, k, n), true, &|| true));
    for row in [0, 511, 1023, 1024, 1029] {
        let want = naive_matmul(&a[row * k..][..k], &b, 1, k, n);
        assert_eq!(out[row * n..][..n], want[..], "row {row}");
    }

    let asked = std::cell::Cell::new(0);
    let mut partial = vec![0.0; m * n];
    let first_only = || {
        asked.set(asked.get() + 1);
        asked.get() == 1
    };
    assert!(!kernels::matmul(&a, &b, &mut partial, (m, k, n), true, &first_only));
    assert_eq!(asked.get(), 2);
    assert_eq!(partial[..1024 * n], out[..1024 * n]);
    assert!(partial[1024 * n..].iter().all(|&x| x == 0.0));
}
