//! Backends in-process: compiling a 100,000-instruction module to
//! bytecode and to native code, and running small programs on every backend.
//!
//! Run: `cargo bench --bench backends`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mir13::{Backend, Engine, Io, RunOptions};
use std::hint::black_box;

#[path = "support/generate.rs"]
mod generate;

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(20);
    let text = generate::generate(100_000);
    let (_, program) = mir13::load("gen.mir", text.as_bytes()).expect("generated module verifies");
    let insts = program.module().inst_count();
    group.bench_function(BenchmarkId::new("bytecode", insts), |b| {
        b.iter(|| vm::compile(black_box(&program)).expect("compiles"))
    });
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("native", insts), |b| {
        b.iter(|| jit::compile(black_box(&program), false, None).expect("compiles"))
    });
    group.finish();
}

fn run(c: &mut Criterion) {
    let mut group = c.benchmark_group("run");
    group.sample_size(20);
    let programs = [("fib", "bench/programs/fib.mir", "24"), ("loop", "bench/programs/loop.mir", "1000000")];
    for (name, path, arg) in programs {
        let source = std::fs::read(path).expect("benchmark program exists");
        let loaded = Engine::new().load(path, &source).expect("valid program");
        for &backend in Backend::ALL {
            let options =
                RunOptions { backend, config: mir13::RunConfig { args: vec![arg.to_string()], ..Default::default() } };
            group.bench_function(BenchmarkId::new(name, backend.name()), |b| {
                b.iter(|| loaded.run(&options, Io::capture(b"", Default::default(), Default::default())).expect("runs"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, compile, run);
criterion_main!(benches);
