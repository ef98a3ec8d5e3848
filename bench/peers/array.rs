// array.rs — twin of bench/programs/array.mir: a Vec<i64> of N built by push
// (a[i] = i * 7 % 1000), 20 passes of a[i] = (a[i] + a[i - 1]) % 1000007 for
// i in 1..N, then the sum of the elements.
fn main() {
    let n: i64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(1000000);
    let mut a: Vec<i64> = Vec::new();
    for i in 0..n {
        a.push(i * 7 % 1000);
    }
    for _ in 0..20 {
        for j in 1..n as usize {
            a[j] = (a[j] + a[j - 1]) % 1000007;
        }
    }
    let mut s: i64 = 0;
    for m in 0..n as usize {
        s += a[m];
    }
    println!("{}", s);
}
