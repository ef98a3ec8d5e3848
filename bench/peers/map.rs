// map.rs — twin of bench/programs/map.mir: a HashMap<i64, i64> (std, SipHash)
// with the N integer keys key(i) = i * 7919 % 1000003: insert key(i) -> i, look
// every key up again, probe the keys i * 31 % 1000003, add i % 10 to every
// value, delete the keys of the even i, sum the remaining values; prints the
// same combined checksum.
use std::collections::HashMap;

fn key(i: i64) -> i64 {
    i * 7919 % 1000003
}

fn main() {
    let n: i64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(200000);
    let mut m: HashMap<i64, i64> = HashMap::new();
    for i in 0..n {
        m.insert(key(i), i);
    }
    let mut total: i64 = 0;
    for j in 0..n {
        total += m[&key(j)];
    }
    let mut hits: i64 = 0;
    for p in 0..n {
        if m.contains_key(&(p * 31 % 1000003)) {
            hits += 1;
        }
    }
    for u in 0..n {
        let k = key(u);
        let old = m[&k];
        m.insert(k, old + u % 10);
    }
    let mut deleted: i64 = 0;
    for e in (0..n).step_by(2) {
        if m.remove(&key(e)).is_some() {
            deleted += 1;
        }
    }
    let size = m.len() as i64;
    let mut rest: i64 = 0;
    for v in m.values() {
        rest += v;
    }
    println!("{}", total + hits + deleted + size * 3 + rest);
}
