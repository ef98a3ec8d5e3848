// sort.rs — twin of bench/programs/sort.mir: a Vec<i64> of N pseudo-random
// integers from x = x * 48271 % 2147483647 (seed 42), sorted with Vec::sort,
// checksum c = (c * 31 + a[i]) % 1000000007 over the sorted elements.
fn main() {
    let n: i64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(3000000);
    let mut a: Vec<i64> = Vec::new();
    let mut x: i64 = 42;
    for _ in 0..n {
        x = x * 48271 % 2147483647;
        a.push(x);
    }
    a.sort();
    let mut c: i64 = 0;
    for j in 0..n as usize {
        c = (c * 31 + a[j]) % 1000000007;
    }
    println!("{}", c);
}
