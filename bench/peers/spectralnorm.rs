// spectralnorm.rs — twin of bench/programs/spectralnorm.mir: the Benchmarks
// Game spectral norm of A(i, j) = 1 / ((i + j) * (i + j + 1) / 2 + i + 1),
// N x N, 10 rounds of the power method on A^T A; prints sqrt(u.v / v.v).
fn a(i: i64, j: i64) -> f64 {
    1.0 / ((i + j) * (i + j + 1) / 2 + i + 1) as f64
}

fn mult_av(v: &[f64], out: &mut [f64], n: i64) {
    for i in 0..n {
        let mut s = 0.0;
        for j in 0..n {
            s += a(i, j) * v[j as usize];
        }
        out[i as usize] = s;
    }
}

fn mult_atv(v: &[f64], out: &mut [f64], n: i64) {
    for i in 0..n {
        let mut s = 0.0;
        for j in 0..n {
            s += a(j, i) * v[j as usize];
        }
        out[i as usize] = s;
    }
}

fn mult_atav(v: &[f64], out: &mut [f64], tmp: &mut [f64], n: i64) {
    mult_av(v, tmp, n);
    mult_atv(tmp, out, n);
}

fn main() {
    let n: i64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(500);
    let mut u = vec![1.0f64; n as usize];
    let mut v = vec![0.0f64; n as usize];
    let mut tmp = vec![0.0f64; n as usize];
    for _ in 0..10 {
        mult_atav(&u, &mut v, &mut tmp, n);
        mult_atav(&v, &mut u, &mut tmp, n);
    }
    let mut vbv = 0.0;
    let mut vv = 0.0;
    for i in 0..n as usize {
        vbv += u[i] * v[i];
        vv += v[i] * v[i];
    }
    println!("{:.9}", (vbv / vv).sqrt());
}
