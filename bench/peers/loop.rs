// loop.rs — twin of bench/programs/loop.mir: sum += i + i % 7 for i in 0..N.
fn main() {
    let n: i64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(100000000);
    let mut sum: i64 = 0;
    for i in 0..n {
        sum = sum.wrapping_add(i + i % 7);
    }
    println!("{}", sum);
}
