// matmul_naive.rs — twin of bench/programs/matmul_naive.mir: C = A * B for two
// N x N matrices in flat, row-major Vec<f64>s, naive i, j, k loops;
// a[i][j] = ((7i + 3j) % 100) / 100.0, b[i][j] = ((5i + 11j) % 100) / 100.0;
// prints the weighted sum of C's elements, c[idx] * (idx % 7 + 1), 6 decimals.
fn fill(n: usize, ci: usize, cj: usize) -> Vec<f64> {
    let mut m = Vec::new();
    for i in 0..n {
        for j in 0..n {
            m.push(((ci * i + cj * j) % 100) as f64 / 100.0);
        }
    }
    m
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0f64; n * n];
    for i in 0..n {
        let i_n = i * n;
        for j in 0..n {
            let mut s = 0.0;
            for k in 0..n {
                s += a[i_n + k] * b[k * n + j];
            }
            c[i_n + j] = s;
        }
    }
    c
}

fn main() {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(200);
    let a = fill(n, 7, 3);
    let b = fill(n, 5, 11);
    let c = matmul(&a, &b, n);
    let mut s = 0.0;
    for i in 0..n * n {
        s += c[i] * (i % 7 + 1) as f64;
    }
    println!("{:.6}", s);
}
