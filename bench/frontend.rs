//! Front-end throughput: parse + verify + analyses (CFG, dominators, types,
//! liveness, drop plan) of generated modules of 100,000 and 200,000
//! instructions, as `mir13 check` does them.
//!
//! Run: `cargo bench --bench frontend`. The generated modules are ordinary
//! code: loops with phis, diamonds, calls and boxcalls.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

#[path = "support/generate.rs"]
mod generate;
use generate::generate;

fn frontend(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse+verify+analyses");
    group.sample_size(20);
    for target in [100_000, 200_000] {
        let text = generate(target);
        let insts = mir::parse(&text).expect("generated text parses").module.inst_count();
        mir13::load("gen.mir", text.as_bytes()).expect("generated module verifies");
        group.throughput(Throughput::Elements(insts as u64));
        group.bench_with_input(BenchmarkId::from_parameter(insts), &text, |b, text| {
            b.iter(|| mir13::load("gen.mir", black_box(text.as_bytes())).expect("valid"))
        });
    }
    group.finish();
}

criterion_group!(benches, frontend);
criterion_main!(benches);
