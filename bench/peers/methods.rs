// methods.rs — twin of bench/programs/methods.mir: N calls of a method that
// updates a struct's fields; prints the sum of the results mod 1000.
struct Counter {
    n: i64,
    step: i64,
}

impl Counter {
    fn advance(&mut self, i: i64) -> i64 {
        self.n = self.n + self.step + i % 7;
        self.n
    }
}

fn main() {
    let n: i64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(10000000);
    let mut c = Counter { n: 0, step: 3 };
    let mut sum: i64 = 0;
    for i in 0..n {
        sum += c.advance(i) % 1000;
    }
    println!("{}", sum);
}
