// strings.rs — twin of bench/programs/strings.mir: builds one String of N
// words ("w" + (i * 7919 % 10007) + ",") by push_str in a loop, splits it on
// ",", sums the parts' lengths and counts those starting with "w1", joins with
// " ", replaces "w1" by "ab", upper-cases, and looks up three substrings
// (ASCII only, so byte offsets are character offsets); prints the checksum.
fn index_of(s: &str, sub: &str) -> i64 {
    s.find(sub).map_or(-1, |at| at as i64)
}

fn main() {
    let n: i64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(1000000);
    let mut text = String::new();
    for i in 0..n {
        let word = "w".to_string() + &(i * 7919 % 10007).to_string();
        text.push_str(&word);
        text.push_str(",");
    }
    let parts: Vec<String> = text.split(',').map(String::from).collect();
    let mut lens: i64 = 0;
    let mut w1s: i64 = 0;
    for part in &parts {
        lens += part.chars().count() as i64;
        if part.starts_with("w1") {
            w1s += 1;
        }
    }
    let joined = parts.join(" ");
    let replaced = joined.replace("w1", "ab");
    let upper = replaced.to_uppercase();
    let x1 = index_of(&replaced, "w9999 ");
    let x2 = index_of(&upper, "AB0 ");
    let x3 = index_of(&upper, "w");
    let total = lens + w1s * 1000 + joined.chars().count() as i64 + replaced.chars().count() as i64
        + upper.chars().count() as i64 + x1 + x2 + x3;
    println!("{}", total);
}
