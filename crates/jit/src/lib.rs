//! The Cranelift JIT: compiles each function of a verified `mir::Program` to
//! native code, with inline fast paths for the hottest Box operations.
//!
//! It shares the runtime, the drop plan, the traps and the limits with the
//! other backends, and knows nothing about them. [`compile`] translates the
//! whole program once (see [`translate`] for the code's shape); [`run`]
//! executes `@main`, and must run inside [`on_jit_thread`], whose stack is
//! sized for the run's `--max-depth`. Compiled code never unwinds: traps are
//! recorded in the run's context and every frame returns. A [`CodeCache`]
//! keeps what Cranelift compiled for the next run of the same code.

mod cache;
mod ctx;
mod helpers;
mod translate;

pub use cache::CodeCache;

use crate::ctx::Ctx;
use crate::translate::{FnTranslator, Helpers, Tables, UserClasses, scalar_type, signature};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, AbiParam, InstBuilder, MemFlagsData, UserFuncName, types};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId as ClifFunc, Linkage, Module, ModuleReloc, default_libcall_names};
use mir::{FuncInfo, Function, Pressure, Program, Type};
use runtime::{Runtime, TrapReport, Value, layout};
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

/// Why a program cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JitError {
    /// Cranelift has no backend for this machine; run another backend.
    #[error("the JIT cannot target this machine: {0}")]
    Unsupported(String),
    /// Compiling this function would take too long: too many values live
    /// across too many of its branches (see [`ALLOCATION_BUDGET`]).
    #[error("@{0} would take the JIT too long to compile (too many values live across its branches)")]
    TooLarge(String),
    /// Cranelift rejected the generated code (a JIT bug).
    #[error("internal error: JIT code generation failed: {0}")]
    Codegen(String),
}

/// A compiled program: native code and the tables it reads.
pub struct JitCode {
    /// Owns the code; freed on drop.
    module: Mutex<Option<JITModule>>,
    /// Entry points `extern "C" fn(*mut Ctx, *const Value, *mut Value)`, by function.
    trampolines: Vec<usize>,
    sites: Vec<ctx::Site>,
    strings: Vec<String>,
    hosts: Vec<String>,
    names: Vec<String>,
    metered: bool,
    stack: StackNeed,
    /// Functions compiled, and how many of them came from the code cache.
    compiled: usize,
    from_cache: usize,
}

/// What a run's native stack must hold, from the compiled frames.
struct StackNeed {
    /// Each function that may be on the stack once at most, its frame
    /// and a call's overhead, summed.
    once: usize,
    /// The largest frame of the functions that may be on it more often
    /// (see [`repeatable`]).
    repeated: usize,
}

impl StackNeed {
    fn new(frames: &[usize], repeatable: &[bool]) -> StackNeed {
        let mut need = StackNeed { once: 0, repeated: 0 };
        // A function left uncompiled (frame 0) never runs.
        for (&frame, &repeats) in frames.iter().zip(repeatable).filter(|&(&frame, _)| frame > 0) {
            match repeats {
                true => need.repeated = need.repeated.max(frame),
                false => need.once += BYTES_PER_CALL + frame,
            }
        }
        need
    }
}

impl JitCode {
    /// Whether the code charges fuel (see [`compile`]).
    pub fn metered(&self) -> bool {
        self.metered
    }

    /// How many functions (trampolines and shims included) were compiled,
    /// and how many of them the code cache held.
    pub fn from_cache(&self) -> (usize, usize) {
        (self.from_cache, self.compiled)
    }
}

impl Drop for JitCode {
    fn drop(&mut self) {
        let module = self.module.get_mut().map(Option::take).unwrap_or_else(|e| e.into_inner().take());
        if let Some(module) = module {
            // SAFETY: runs borrow the code, so none is running once it drops.
            unsafe { module.free_memory() };
        }
    }
}

/// Whether Cranelift can target this machine (the error says why not).
pub fn host_supported() -> Result<(), JitError> {
    cranelift_native::builder().map(|_| ()).map_err(|m| JitError::Unsupported(m.to_string()))
}

/// Compiles every function of `program`. `metered` code charges fuel at
/// every safepoint, as runs with a fuel limit need; other code only polls
/// the interrupt flag there (as wasmtime, fuel is a compile-time choice).
/// With a `cache`, a function compiled before is taken from it, and one
/// compiled now is added to it.
pub fn compile(program: &Program, metered: bool, cache: Option<&CodeCache>) -> Result<JitCode, JitError> {
    build(program, metered, None, cache)
}

/// The Cranelift IR of every function of `program` (unmetered), for
/// `mir13 dump --clif`.
pub fn clif(program: &Program) -> Result<String, JitError> {
    let mut text = String::new();
    build(program, false, Some(&mut text), None)?;
    Ok(text)
}

fn codegen(e: impl std::fmt::Debug) -> JitError {
    JitError::Codegen(format!("{e:?}"))
}

/// How a function is compiled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tier {
    /// Optimized, reporting its block layout so its tightest loop can be
    /// placed (see [`loop_padding`]).
    Loops,
    /// Optimized, without a loop to place.
    Straight,
    /// Without optimization and with the single-pass register allocator:
    /// code that runs once, or that would take too long to optimize.
    Quick,
}

/// The host's ISA for functions compiled as `tier` says.
fn native_isa(tier: Tier) -> Result<Arc<dyn TargetIsa>, JitError> {
    let isa_builder = cranelift_native::builder().map_err(|m| JitError::Unsupported(m.to_string()))?;
    let mut flags = settings::builder();
    let quick = tier == Tier::Quick;
    for (name, value) in [
        ("opt_level", if quick { "none" } else { "speed" }),
        ("regalloc_algorithm", if quick { "single_pass" } else { "backtracking" }),
        ("use_colocated_libcalls", "false"),
        ("is_pic", "false"),
        ("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" }),
        ("enable_probestack", "true"),
        ("probestack_strategy", "inline"),
        // Cranelift's layout report is quadratic in runs of blocks its
        // branch folding removes (160,000 calls in a row took 8 s to
        // compile), and only loop placement needs it.
        ("machine_code_cfg_info", if tier == Tier::Loops { "true" } else { "false" }),
    ] {
        flags.set(name, value).map_err(codegen)?;
    }
    isa_builder.finish(settings::Flags::new(flags)).map_err(|e| JitError::Unsupported(e.to_string()))
}

fn build(
    program: &Program,
    metered: bool,
    mut clif: Option<&mut String>,
    cache: Option<&CodeCache>,
) -> Result<JitCode, JitError> {
    let straight = native_isa(Tier::Straight)?;
    let mut jb = JITBuilder::with_isa(Arc::clone(&straight), default_libcall_names());
    let symbols: [(&str, *const u8); 9] = [
        ("mir13_unwind", helpers::mir13_unwind as *const u8),
        ("mir13_trap", helpers::mir13_trap as *const u8),
        ("mir13_unbox_failed", helpers::mir13_unbox_failed as *const u8),
        ("mir13_safepoint", helpers::mir13_safepoint as *const u8),
        ("mir13_release", helpers::mir13_release as *const u8),
        ("mir13_compare", helpers::mir13_compare as *const u8),
        ("mir13_math", helpers::mir13_math as *const u8),
        ("mir13_call", helpers::mir13_call as *const u8),
        ("mir13_string_length", helpers::mir13_string_length as *const u8),
    ];
    jb.symbols(symbols);
    let mut module = JITModule::new(jb);
    let (i32t, i64t, f64t) = (types::I32, types::I64, types::F64);
    let mut import = |name: &str, params: &[ir::Type], rets: &[ir::Type]| {
        let mut sig = module.make_signature();
        sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
        sig.returns.extend(rets.iter().map(|&t| AbiParam::new(t)));
        module.declare_function(name, Linkage::Import, &sig).map_err(codegen)
    };
    let mut helpers = Helpers {
        trap: import("mir13_trap", &[i64t, i32t], &[])?,
        unwind: import("mir13_unwind", &[i64t, i32t], &[])?,
        unbox_failed: import("mir13_unbox_failed", &[i64t, i32t, i64t, i64t], &[])?,
        safepoint: import("mir13_safepoint", &[i64t], &[i32t])?,
        release: import("mir13_release", &[i64t, i64t], &[i32t])?,
        compare: import("mir13_compare", &[i64t, i32t, i64t, i64t, i64t, i64t], &[i32t])?,
        math: import("mir13_math", &[i32t, f64t, f64t], &[f64t])?,
        call: import("mir13_call", &[i64t, i32t, i64t, i32t, i64t], &[i32t])?,
        string_length: import("mir13_string_length", &[i64t], &[i64t])?,
        safepoint_saving: ClifFunc::from_u32(0),
        call_saving: ClifFunc::from_u32(0),
    };
    let mut compiler = Compiler { cache, functions: 0, from_cache: 0 };
    let (safepoint, call) = (helpers.safepoint, helpers.call);
    let call_params = [i64t, i32t, i64t, i32t, i64t];
    helpers.safepoint_saving =
        saving_shim(&mut module, &mut compiler, &*straight, safepoint, "safepoint_saving", &[i64t])?;
    helpers.call_saving = saving_shim(&mut module, &mut compiler, &*straight, call, "call_saving", &call_params)?;
    let funcs = &program.module().funcs;
    let mut ids = Vec::with_capacity(funcs.len());
    let mut tramps = Vec::with_capacity(funcs.len());
    let mut tramp_sig = module.make_signature();
    tramp_sig.params.extend([AbiParam::new(i64t), AbiParam::new(i64t), AbiParam::new(i64t)]);
    let entered = entered_from_runtime(program);
    let once = runs_once(program, &entered);
    // Printing the Cranelift IR shows every function, called or not.
    let wanted = match clif {
        Some(_) => vec![true; funcs.len()],
        None => reachable(program, &entered),
    };
    for (i, (_, func)) in funcs.iter().enumerate() {
        let sig = signature(&module, func);
        ids.push(module.declare_function(&format!("f{i}"), Linkage::Local, &sig).map_err(codegen)?);
        tramps.push(match entered[i] {
            true => Some(module.declare_function(&format!("t{i}"), Linkage::Local, &tramp_sig).map_err(codegen)?),
            false => None,
        });
    }
    let mut isas: [Option<Arc<dyn TargetIsa>>; 3] = [None, Some(straight), None];
    let mut tables = Tables::new(program);
    let classes = UserClasses::new(program);
    let mut fcx = FunctionBuilderContext::new();
    let names: Vec<String> = funcs.iter().map(|(_, func)| program.module().sym(func.name).to_string()).collect();
    let mut translated: Vec<Option<Translation>> = Vec::with_capacity(funcs.len());
    let by_clif: HashMap<ClifFunc, usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    for (i, (id, func)) in funcs.iter().enumerate() {
        if !wanted[i] {
            translated.push(None);
            continue;
        }
        let name = &names[i];
        let mut code = ir::Function::with_name_signature(UserFuncName::user(0, i as u32), signature(&module, func));
        let b = FunctionBuilder::new(&mut code, &mut fcx);
        let made =
            FnTranslator::new(program, id, b, &mut module, &helpers, &ids, &classes, &mut tables, metered, once[i])
                .translate();
        let info = program.info(id);
        let pressure = info.liveness.pressure(func, &info.order, |inst| made.blocks_made[inst] as usize);
        if pressure.area > ALLOCATION_BUDGET {
            return Err(JitError::TooLarge(name.clone()));
        }
        if let Some(text) = clif.as_deref_mut() {
            let _ = writeln!(text, "; @{name}\n{}", code.display());
        }
        let tier = if once[i] || too_slow_to_optimize(info, pressure, code.dfg.num_insts()) {
            Tier::Quick
        } else if info.order.has_loop() {
            Tier::Loops
        } else {
            Tier::Straight
        };
        let isa = match &mut isas[tier as usize] {
            Some(isa) => Arc::clone(isa),
            slot => Arc::clone(slot.insert(native_isa(tier)?)),
        };
        let entry = tramps[i].map(|tramp| {
            let mut entry = ir::Function::with_name_signature(UserFuncName::user(1, i as u32), tramp_sig.clone());
            trampoline(FunctionBuilder::new(&mut entry, &mut fcx), &mut module, func, ids[i]);
            (tramp, entry)
        });
        let callees = made.callees.iter().filter_map(|f| by_clif.get(f).copied()).collect();
        translated.push(Some(Translation { code, entry, isa, callees }));
    }
    // Compiled are the functions a run may enter and those compiled code
    // calls natively: one inlined at every call site needs no code of its own.
    let mut native = entered.clone();
    let mut work: Vec<usize> = (0..funcs.len()).filter(|&i| native[i]).collect();
    while let Some(i) = work.pop() {
        for &callee in translated[i].as_ref().map_or(&[][..], |t| &t.callees) {
            if !std::mem::replace(&mut native[callee], true) {
                work.push(callee);
            }
        }
    }
    let mut cx = module.make_context();
    // Each compiled function's largest frame, its own or its trampoline's.
    let mut frames = vec![0; funcs.len()];
    for (i, translation) in translated.into_iter().enumerate() {
        let Some(t) = translation.filter(|_| native[i]) else { continue };
        for (clif_id, code) in std::iter::once((ids[i], t.code)).chain(t.entry) {
            cx.func = code;
            let frame = compiler
                .define(&mut module, &mut cx, clif_id, &*t.isa)
                .map_err(|e| JitError::Codegen(format!("@{}: {e}", names[i])))?;
            frames[i] = frames[i].max(frame);
            module.clear_context(&mut cx);
        }
    }
    module.finalize_definitions().map_err(codegen)?;
    let trampolines = tramps
        .iter()
        .map(|t| match t {
            Some(t) => module.get_finalized_function(*t) as usize,
            None => helpers::mir13_not_entered as *const () as usize,
        })
        .collect();
    Ok(JitCode {
        module: Mutex::new(Some(module)),
        trampolines,
        sites: tables.sites,
        strings: tables.strings,
        hosts: tables.hosts,
        names,
        metered,
        stack: StackNeed::new(&frames, &repeatable(program)),
        compiled: compiler.functions,
        from_cache: compiler.from_cache,
    })
}

/// A function translated to Cranelift IR, waiting to be compiled.
struct Translation {
    code: ir::Function,
    /// Its trampoline (see [`trampoline`]), when the runtime may enter it.
    entry: Option<(ClifFunc, ir::Function)>,
    /// The ISA of its tier.
    isa: Arc<dyn TargetIsa>,
    /// The MIR functions it calls natively, by index.
    callees: Vec<usize>,
}

/// Which functions runtime helpers may call, and so need a trampoline:
/// `@main` and the functions the runtime may enter again (see
/// [`reentered_from_runtime`]). The others are only called directly, from
/// compiled code.
fn entered_from_runtime(program: &Program) -> Vec<bool> {
    let mut entered = reentered_from_runtime(program);
    if let Some(main) = program.main() {
        entered[main.as_u32() as usize] = true;
    }
    entered
}

/// The functions the runtime may call while compiled code runs: box
/// methods (`birth` and `fini` among them) and functions used as values.
fn reentered_from_runtime(program: &Program) -> Vec<bool> {
    let module = program.module();
    let mut entered = vec![false; module.funcs.len()];
    let mut mark = |f: Option<mir::FuncId>| {
        if let Some(f) = f {
            entered[f.as_u32() as usize] = true;
        }
    };
    for (_, decl) in module.boxes.iter() {
        for m in &decl.methods {
            mark(program.func_id(m.func));
        }
    }
    for (_, func) in module.funcs.iter() {
        for (_, data) in func.insts.iter() {
            if let mir::InstData::Const { lit: mir::Literal::Func(f) } = *data {
                mark(program.func_id(f));
            }
        }
    }
    entered
}

/// The functions that may be on the stack more than once at a time: those
/// on a cycle of calls. Any function may call through the runtime (a
/// boxcall, a function value, a release that runs a `fini`), which may call
/// any of [`reentered_from_runtime`]; so those, and every function they
/// reach by direct calls, are on one cycle. The others repeat only by
/// direct recursion. The strongly connected components are Tarjan's,
/// without recursion: a chain of 50,000 calls is a 50,000-deep search.
fn repeatable(program: &Program) -> Vec<bool> {
    let module = program.module();
    let n = module.funcs.len();
    // Node `n` stands for the runtime: every function calls it, and it calls
    // the functions it may enter.
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
    for (f, func) in module.funcs.iter() {
        let i = f.as_u32() as usize;
        for (_, data) in func.insts.iter() {
            if let mir::InstData::Call { callee: mir::Callee::Direct(sym), .. } = *data
                && let Some(g) = program.func_id(sym)
            {
                succs[i].push(g.as_u32() as usize);
            }
        }
        succs[i].push(n);
    }
    let reentered = reentered_from_runtime(program);
    succs[n] = (0..n).filter(|&i| reentered[i]).collect();
    // Tarjan's algorithm with an explicit stack of (node, next successor).
    const UNSEEN: usize = usize::MAX;
    let (mut index, mut low, mut on_stack) = (vec![UNSEEN; n + 1], vec![0; n + 1], vec![false; n + 1]);
    let (mut next, mut stack, mut repeat) = (0, Vec::new(), vec![false; n]);
    for root in 0..=n {
        if index[root] != UNSEEN {
            continue;
        }
        let mut work = vec![(root, 0)];
        while let Some(&mut (v, ref mut k)) = work.last_mut() {
            if *k == 0 {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = succs[v].get(*k) {
                *k += 1;
                if index[w] == UNSEEN {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                let cyclic = component.len() > 1 || succs[v].contains(&v);
                for w in component.into_iter().filter(|&w| w < n) {
                    repeat[w] = cyclic;
                }
            }
        }
    }
    repeat
}

/// Defines functions in the module: compiled by Cranelift, or taken from
/// the code cache when there is one; counts them.
struct Compiler<'a> {
    cache: Option<&'a CodeCache>,
    functions: usize,
    from_cache: usize,
}

impl Compiler<'_> {
    /// Compiles the function in `cx` with `isa`, or takes its code from the
    /// cache, and defines it as `id` (see [`place`]); returns the size of
    /// its frame.
    fn define(
        &mut self,
        module: &mut JITModule,
        cx: &mut cranelift_codegen::Context,
        id: ClifFunc,
        isa: &dyn TargetIsa,
    ) -> Result<usize, String> {
        let mut control = ControlPlane::default();
        let failed = |e: cranelift_codegen::CompileError| format!("{:?}", e.inner);
        let found = match self.cache {
            Some(cache) => cx.compile_with_cache(isa, &mut cache::Store(cache), &mut control).map_err(failed)?.1,
            None => {
                cx.compile(isa, &mut control).map_err(failed)?;
                false
            }
        };
        self.functions += 1;
        self.from_cache += usize::from(found);
        place(module, cx, id, isa)
    }
}

/// Defines the code compiled in `cx` as `id`; returns the size of its
/// frame. On x86-64, a function with a loop starts with as many bytes of
/// `nop` as place its tightest loop's header where the fetch unit takes it
/// well (see [`loop_padding`]).
fn place(
    module: &mut JITModule,
    cx: &cranelift_codegen::Context,
    id: ClifFunc,
    isa: &dyn TargetIsa,
) -> Result<usize, String> {
    let code = cx.compiled_code().expect("compiled just above");
    // Below the frame pointer, plus the saved frame pointer and return address.
    let frame = code.buffer.frame_layout().map_or(0, |l| l.frame_to_fp_offset as usize) + 16;
    let pad = if isa.name() == "x64" { loop_padding(&code.bb_edges) } else { 0 };
    let mut bytes = x64_nops(pad);
    bytes.extend_from_slice(code.code_buffer());
    let relocs: Vec<ModuleReloc> = code
        .buffer
        .relocs()
        .iter()
        .map(|r| ModuleReloc { offset: r.offset + pad, ..ModuleReloc::from_mach_reloc(r, &cx.func, id) })
        .collect();
    let align = if pad > 0 { LOOP_LINE } else { code.buffer.alignment };
    module.define_function_bytes(id, align as u64, &bytes, &relocs).map_err(|e| format!("{e:?}"))?;
    Ok(frame)
}

/// A padded function starts on a line of this many bytes, and its loop
/// header `LOOP_AT` bytes into one.
const LOOP_LINE: u32 = 64;
const LOOP_AT: u32 = 32;

/// How many bytes before a function's code put the header of its tightest
/// loop (the target of the shortest backward branch) `LOOP_AT` bytes into a
/// `LOOP_LINE`. Cranelift does not align loops, and where a small loop
/// starts matters: on this machine's AMD EPYC, `loop.mir` took 113 ms with
/// its header at a line's start or 4 bytes before it, and 92 ms anywhere
/// between (spectralnorm 27.7 against 25.6 ms); 32 is also the alignment
/// Intel's decoded-instruction cache wants.
fn loop_padding(edges: &[(u32, u32)]) -> u32 {
    let tightest = edges.iter().filter(|(from, to)| to <= from).min_by_key(|(from, to)| from - to);
    tightest.map_or(0, |&(_, header)| (LOOP_LINE + LOOP_AT - header % LOOP_LINE) % LOOP_LINE)
}

/// `n` bytes of x86-64 `nop`, in as few instructions as the recommended
/// encodings allow (at most 9 bytes each).
fn x64_nops(n: u32) -> Vec<u8> {
    const NOPS: [&[u8]; 9] = [
        &[0x90],
        &[0x66, 0x90],
        &[0x0f, 0x1f, 0x00],
        &[0x0f, 0x1f, 0x40, 0x00],
        &[0x0f, 0x1f, 0x44, 0x00, 0x00],
        &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
        &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
        &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    ];
    let mut bytes = Vec::with_capacity(n as usize);
    let mut left = n as usize;
    while left > 0 {
        let nop = NOPS[left.min(NOPS.len()) - 1];
        bytes.extend_from_slice(nop);
        left -= nop.len();
    }
    bytes
}

/// Values live at once above which a function is compiled quickly: Cranelift's
/// backtracking register allocator takes time quadratic in them (12 s for a
/// loop carrying 20,000 values; 0.1 s for 2,000), and code this crowded
/// lives in spill slots whichever allocator runs.
const CROWDED: usize = 1000;

/// The largest `Pressure::area` the JIT compiles, with each instruction's
/// live values counted once per Cranelift block it made: about the values
/// live into each block, summed. Both of Cranelift's register allocators
/// pay for each, 30 to 60 ns here, so a function over budget would take
/// half a second or more; the program then runs on the VM instead. 4,000 arrays live through 12,000
/// `boxcall` sites in `@main`, 80 million, took 4.3 s and 475 MB to
/// compile; the largest function of the benchmarks, nbody's `@advance`,
/// is about 2,000.
pub const ALLOCATION_BUDGET: usize = 1 << 23;

/// Cranelift instructions above which a function is compiled quickly: the
/// optimizer's passes grow faster than the function (a loop body of 20,000
/// checked casts, 520,000 instructions, took 9 s). The largest function of
/// the benchmarks, nbody's `@advance`, has about 1,700.
const HUGE: usize = 20_000;

/// Whether optimizing a function, translated to `clif_insts` Cranelift
/// instructions, with this `pressure`, could take minutes; it is then
/// compiled quickly, as code that runs once. That is when it is [`HUGE`], holds more than [`CROWDED`]
/// values live at once, or has an irreducible CFG, on which the backtracking
/// allocator's iterative dominator computation took 96 s for a chain of
/// 5,000 blocks entered at both ends.
fn too_slow_to_optimize(info: &FuncInfo, pressure: Pressure, clif_insts: usize) -> bool {
    clif_insts > HUGE || !info.is_reducible() || pressure.max > CROWDED
}

/// The functions a run can reach: those entered from the runtime (see
/// [`entered_from_runtime`]) and those they call directly, transitively.
/// The JIT translates only these (a generated module's unused library of
/// 50,000 small functions took 3 s to compile for a program calling one),
/// and compiles those of them its code calls natively.
fn reachable(program: &Program, entered: &[bool]) -> Vec<bool> {
    let mut seen = entered.to_vec();
    let mut work: Vec<mir::FuncId> =
        program.module().funcs.iter().map(|(f, _)| f).filter(|f| entered[f.as_u32() as usize]).collect();
    while let Some(f) = work.pop() {
        for (_, data) in program.func(f).insts.iter() {
            if let mir::InstData::Call { callee: mir::Callee::Direct(sym), .. } = *data
                && let Some(g) = program.func_id(sym)
                && !std::mem::replace(&mut seen[g.as_u32() as usize], true)
            {
                work.push(g);
            }
        }
    }
    seen
}

/// The functions that run a few times at most, compiled quickly rather
/// than well (most of a short run's time is compiling): `@main` without
/// loops, and loop-free functions that are never entered from the runtime
/// (no method, no function value) and are called only from code that runs
/// once itself, `@main` outside its loops or another such function. A
/// recursive function calls itself from code that does not, so it is never
/// one.
fn runs_once(program: &Program, entered: &[bool]) -> Vec<bool> {
    let funcs = &program.module().funcs;
    let loop_free = |id: mir::FuncId| !program.info(id).order.has_loop();
    let mut callers: Vec<Vec<(mir::FuncId, mir::Block)>> = vec![Vec::new(); funcs.len()];
    for (g, func) in funcs.iter() {
        for &block in program.info(g).order.rpo() {
            for &inst in &func.blocks[block].insts {
                if let mir::InstData::Call { callee: mir::Callee::Direct(sym), .. } = func.insts[inst]
                    && let Some(f) = program.func_id(sym)
                {
                    callers[f.as_u32() as usize].push((g, block));
                }
            }
        }
    }
    let main = program.main();
    let mut once = vec![false; funcs.len()];
    if let Some(m) = main {
        once[m.as_u32() as usize] = loop_free(m) && callers[m.as_u32() as usize].is_empty();
    }
    let runs_once_at = |once: &[bool], (g, block): (mir::FuncId, mir::Block)| {
        once[g.as_u32() as usize] || (Some(g) == main && !translate::under_loop(program.info(g), block))
    };
    loop {
        let mut changed = false;
        for (f, _) in funcs.iter() {
            let i = f.as_u32() as usize;
            if once[i] || entered[i] || callers[i].is_empty() || !loop_free(f) {
                continue;
            }
            if callers[i].iter().all(|&site| runs_once_at(&once, site)) {
                once[i] = true;
                changed = true;
            }
        }
        if !changed {
            return once;
        }
    }
}

/// A function that calls helper `target` and keeps every register: slow
/// paths call it, so that values live across them need not leave registers
/// on the fast path (no register survives a System V call but a few integer
/// ones). Its caller learns of a trap from `Ctx::trapped`.
fn saving_shim(
    module: &mut JITModule,
    compiler: &mut Compiler,
    isa: &dyn TargetIsa,
    target: ClifFunc,
    name: &str,
    params: &[ir::Type],
) -> Result<ClifFunc, JitError> {
    let mut sig = module.make_signature();
    sig.call_conv = CallConv::PreserveAll;
    sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
    let id = module.declare_function(name, Linkage::Local, &sig).map_err(codegen)?;
    let mut cx = module.make_context();
    cx.func.signature = sig;
    let mut fcx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut cx.func, &mut fcx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let args = b.block_params(entry).to_vec();
    let callee = module.declare_func_in_func(target, b.func);
    b.ins().call(callee, &args);
    b.ins().return_(&[]);
    b.seal_all_blocks();
    b.finalize(module.target_config());
    compiler.define(module, &mut cx, id, isa).map_err(JitError::Codegen)?;
    Ok(id)
}

/// The entry point helpers (and [`run`]) call a function through: it reads
/// the arguments from a `Value` array and writes the result as a `Value`.
fn trampoline(mut b: FunctionBuilder, module: &mut JITModule, func: &Function, target: ClifFunc) {
    let flags = MemFlagsData::trusted();
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let &[cx, args, out] = b.block_params(entry) else { unreachable!("three parameters") };
    // The callee gets the depth its caller published; restoring it afterwards
    // keeps it right for the helper's next call into compiled code.
    let left = b.ins().load(types::I32, flags, cx, ctx::CALLS_LEFT);
    let mut values = vec![cx, left];
    for (i, p) in func.params.iter().enumerate() {
        let at = (i * layout::VALUE_SIZE) as i32;
        let payload = at + layout::VALUE_PAYLOAD as i32;
        match p.ty {
            Type::Box => {
                values.push(b.ins().uload8(types::I64, flags, args, at + layout::VALUE_TAG as i32));
                values.push(b.ins().load(types::I64, flags, args, payload));
            }
            ty => values.push(b.ins().load(scalar_type(ty), flags, args, payload)),
        }
    }
    let callee = module.declare_func_in_func(target, b.func);
    let call = b.ins().call(callee, &values);
    let results = b.inst_results(call).to_vec();
    b.ins().store(flags, left, cx, ctx::CALLS_LEFT);
    if let Some(ty) = func.ret {
        let tag = match ty {
            Type::Box => b.ins().ireduce(types::I8, results[0]),
            Type::I64 => b.ins().iconst(types::I8, layout::TAG_I64 as i64),
            Type::F64 => b.ins().iconst(types::I8, layout::TAG_F64 as i64),
            Type::Bool => b.ins().iconst(types::I8, layout::TAG_BOOL as i64),
        };
        let payload = match ty {
            Type::Box => results[1],
            Type::Bool => b.ins().uextend(types::I64, results[0]),
            _ => results[0],
        };
        b.ins().store(flags, tag, out, layout::VALUE_TAG as i32);
        b.ins().store(flags, payload, out, layout::VALUE_PAYLOAD as i32);
    }
    b.ins().return_(&[]);
    b.seal_all_blocks();
    b.finalize(module.target_config());
}

thread_local! {
    /// Lowest stack address compiled code may use on this thread, set by
    /// [`on_jit_thread`]; 0 elsewhere.
    static STACK_LIMIT: Cell<usize> = const { Cell::new(0) };
}

/// Stack kept free below the limit for runtime helpers and host functions.
const HELPER_RESERVE: usize = 4 << 20;
/// Native stack budgeted per MIR call besides the callee's own frame: a
/// call through runtime helpers (a method, a function value, a `fini`)
/// passes through their frames and a trampoline's.
const BYTES_PER_CALL: usize = 2 << 10;
/// The largest stack [`on_jit_thread`] asks for (address space, mostly
/// never touched).
const MAX_STACK: usize = 4 << 30;

// The deepest run a program may ask for fits, with frames up to 4 KiB.
const _: () = assert!(HELPER_RESERVE * 4 + runtime::MAX_DEPTH as usize * (BYTES_PER_CALL + (4 << 10)) <= MAX_STACK);

/// The stack a run of `code` needs so that `max_depth` nested MIR calls
/// trap `stack overflow` by the depth count and never by the stack check;
/// `None` when that is more than the JIT's thread may have. A chain of
/// calls holds each function that cannot recur once at most, and fills the
/// rest of its depth with frames as large as the largest of those that can:
/// a huge `@main` that no call can reach again costs its frame once.
pub fn stack_size(code: &JitCode, max_depth: u32) -> Option<usize> {
    let deep = (max_depth as usize).checked_mul(BYTES_PER_CALL + code.stack.repeated)?;
    let wanted = deep.checked_add(code.stack.once)?.checked_add(HELPER_RESERVE * 4)?;
    (wanted <= MAX_STACK).then_some(wanted)
}

/// Runs `body` on a new thread with a stack of `size` bytes (see
/// [`stack_size`]); compiled code traps `stack overflow` before it runs out.
pub fn on_jit_thread<R: Send>(size: usize, body: impl FnOnce() -> R + Send) -> Result<R, String> {
    std::thread::scope(|s| {
        let thread = std::thread::Builder::new()
            .name("mir13-jit".into())
            .stack_size(size)
            .spawn_scoped(s, || {
                let here = 0u8;
                let top = &here as *const u8 as usize;
                STACK_LIMIT.set(top.saturating_sub(size) + HELPER_RESERVE);
                body()
            })
            .map_err(|e| format!("cannot start the JIT thread: {e}"))?;
        thread.join().map_err(|_| "internal error: the JIT thread panicked".to_string())
    })
}

/// Runs `@main` of `code` (compiled from `program`) on `rt`.
///
/// # Panics
/// If `program` has no `@main`; callers check first.
/// Unmetered code must not run with a fuel limit.
pub fn run(code: &JitCode, program: &Program, rt: &mut Runtime) -> Result<Option<i64>, TrapReport> {
    assert!(code.metered || !rt.has_fuel_limit(), "a run with a fuel limit needs metered code");
    let main = program.main().expect("the caller checked that @main exists");
    let no_trace = TrapReport::bare;
    let mut strings = Vec::with_capacity(code.strings.len());
    for text in &code.strings {
        strings.push(rt.new_string(text.clone()).map_err(no_trace)?);
    }
    let hosts = code.hosts.iter().map(|name| rt.host_id(name).expect("verified host function")).collect();
    let stack_limit = match STACK_LIMIT.get() {
        0 => {
            // Not on a JIT thread: assume the 2 MiB of a spawned thread.
            let here = 0u8;
            (&here as *const u8 as usize).saturating_sub(1 << 20)
        }
        limit => limit,
    };
    let (fuel, interrupt) = rt.safepoint_cells();
    let mut cx = Ctx {
        fuel,
        interrupt,
        calls_left: rt.max_depth,
        stack_limit,
        trapped: 0,
        strings: strings.as_ptr(),
        not_an_array: [0; 8],
        rt: rt as *mut Runtime,
        sites: code.sites.as_ptr(),
        trampolines: code.trampolines.as_ptr(),
        hosts,
        caches: vec![None; code.sites.len()],
        trap: None,
        names: code.names.as_ptr(),
    };
    // SAFETY: every trampoline was compiled with this signature.
    let entry: extern "C" fn(*mut Ctx, *const Value, *mut Value) =
        unsafe { std::mem::transmute(code.trampolines[main.as_u32() as usize]) };
    let mut out = Value::Null;
    entry(&mut cx, std::ptr::null(), &mut out);
    let outcome = match cx.trap.take() {
        Some((trap, backtrace)) => Err(backtrace.report(trap)),
        None => Ok(match out {
            Value::I64(n) => Some(n),
            _ => None,
        }),
    };
    let base = rt.heap.release_base();
    rt.heap.push_releases(strings.iter().copied());
    let _ = rt.heap.drive(base);
    outcome
}

#[cfg(test)]
mod tests {
    /// `src` parsed and verified.
    fn program(src: &str) -> mir::Program {
        let parsed = mir::parse(src).expect("the test module parses");
        mir::Program::new(parsed.module, None, &mir::NoExterns).expect("the test module verifies")
    }

    /// The names of the functions of `program` whose entry in `picked` is set.
    fn names(program: &mir::Program, picked: &[bool]) -> Vec<String> {
        let module = program.module();
        module
            .funcs
            .iter()
            .filter(|(id, _)| picked[id.as_u32() as usize])
            .map(|(_, f)| module.sym(f.name).to_string())
            .collect()
    }

    /// A module whose `@big` is over [`super::ALLOCATION_BUDGET`] (2,000
    /// arrays live through 6,000 sites), with a `@main` that may call it.
    fn with_big(main_calls_big: bool) -> mir::Program {
        let mut src = String::from("func @big() -> i64 {\nentry:\n");
        for i in 0..2000 {
            src += &format!("  %a{i} = boxcall ArrayBox.new()\n");
        }
        for i in 0..2000 {
            src += &format!("  boxcall %a{i}.push({i})\n");
        }
        src += "  %s0 = const 0\n";
        for i in 0..2000 {
            src += &format!("  %l{i} = boxcall %a{i}.length() -> i64\n  %s{} = binop add %s{i}, %l{i}\n", i + 1);
        }
        src += "  return %s2000\n}\n";
        let call = if main_calls_big { "  %r = call @big()\n  return %r\n" } else { "  return 0\n" };
        src += &format!("func @main() -> i64 {{\nentry:\n{call}}}\n");
        program(&src)
    }

    #[test]
    fn only_the_functions_a_run_can_reach_are_compiled() {
        assert!(super::compile(&with_big(false), false, None).is_ok());
        let err = super::compile(&with_big(true), false, None).err();
        assert!(matches!(&err, Some(super::JitError::TooLarge(f)) if f == "big"), "{err:?}");
        // The Cranelift IR shows every function, so it tries `@big` too.
        assert!(matches!(super::clif(&with_big(false)), Err(super::JitError::TooLarge(_))));
    }

    #[test]
    fn a_function_inlined_at_every_call_has_no_code_of_its_own() {
        // `@main`'s loop inlines `@leaf`; a call that runs once does not.
        let with = |once: &str| {
            let src = format!(
                "func @leaf(%x: i64) -> i64 {{\nentry:\n  %y = binop add %x, 1\n  return %y\n}}\n\
                 func @main() -> i64 {{\nentry:\n{once}  jump head\n\
                 head:\n  %i = phi i64 [0, entry], [%j, body]\n  %more = compare lt %i, 10\n  branch %more, body, done\n\
                 body:\n  %j = call @leaf(%i)\n  jump head\n\
                 done:\n  return %i\n}}\n"
            );
            super::compile(&program(&src), false, None).expect("compiles").stack.once
        };
        // Without code, `@leaf` has no frame for the run's stack to hold.
        assert!(with("  %k = call @leaf(0)\n") >= with("") + super::BYTES_PER_CALL);
    }

    /// The functions of `src` that [`super::runs_once`] picks, by name.
    fn once(src: &str) -> Vec<String> {
        let program = program(src);
        names(&program, &super::runs_once(&program, &super::entered_from_runtime(&program)))
    }

    #[test]
    fn only_functions_on_a_cycle_of_calls_repeat() {
        let src = "\
box B {
  method get @B.get
}

func @B.get(%self: box) -> i64 {
entry:
  %x = call @helper()
  return %x
}

func @helper() -> i64 {
entry:
  return 1
}

func @once() -> i64 {
entry:
  %x = call @self(3)
  %y = call @ping(3)
  %f = const @valued
  return %x
}

func @self(%n: i64) -> i64 {
entry:
  %stop = compare le %n, 0
  branch %stop, done, again
again:
  %m = binop sub %n, 1
  %r = call @self(%m)
  return %r
done:
  return 0
}

func @ping(%n: i64) -> i64 {
entry:
  %r = call @pong(%n)
  return %r
}

func @pong(%n: i64) -> i64 {
entry:
  %stop = compare le %n, 0
  branch %stop, done, again
again:
  %r = call @ping(0)
  return %r
done:
  return 0
}

func @valued() -> i64 {
entry:
  return 2
}

func @main() -> i64 {
entry:
  %x = call @once()
  return %x
}
";
        let program = program(src);
        let repeating = names(&program, &super::repeatable(&program));
        // A method, what it calls, a function value, and direct recursion.
        assert_eq!(repeating, ["B.get", "helper", "self", "ping", "pong", "valued"]);
    }

    #[test]
    fn padding_places_the_tightest_loop_header() {
        // A forward edge, an outer loop back to 0x40, the inner one to 0x7d.
        let edges = [(0x10, 0x20), (0x200, 0x40), (0x90, 0x7d)];
        let pad = super::loop_padding(&edges);
        assert!(pad < super::LOOP_LINE);
        assert_eq!((0x7d + pad) % super::LOOP_LINE, super::LOOP_AT);
        assert_eq!(super::loop_padding(&[(0x10, 0x20)]), 0, "no loop, no padding");
        for n in 0..super::LOOP_LINE {
            assert_eq!(super::x64_nops(n).len(), n as usize);
        }
    }

    #[test]
    fn only_code_that_runs_once_is_compiled_quickly() {
        let src = "\
box B {
  method m @B.m
}

func @B.m(%self: box) -> i64 {
entry:
  return 1
}

func @leaf(%x: i64) -> i64 {
entry:
  %y = binop add %x, 1
  return %y
}

func @setup(%x: i64) -> i64 {
entry:
  %y = call @leaf(%x)
  return %y
}

func @rec(%n: i64) -> i64 {
entry:
  %small = compare lt %n, 1
  branch %small, base, step
base:
  return 0
step:
  %m = binop sub %n, 1
  %r = call @rec(%m)
  return %r
}

func @looped(%n: i64) -> i64 {
entry:
  jump head
head:
  %i = phi i64 [0, entry], [%i2, head]
  %i2 = binop add %i, 1
  %more = compare lt %i2, %n
  branch %more, head, out
out:
  return %i2
}

func @in_loop(%x: i64) -> i64 {
entry:
  return %x
}

func @main() -> i64 {
entry:
  %a = call @setup(1)
  %b = call @rec(3)
  %c = call @looped(3)
  jump head
head:
  %i = phi i64 [0, entry], [%i2, head]
  %d = call @in_loop(%i)
  %i2 = binop add %i, 1
  %more = compare lt %i2, 3
  branch %more, head, out
out:
  return %a
}
";
        assert_eq!(once(src), ["leaf", "setup"]);
        let no_loop = "func @f() -> i64 {\nentry:\n  return 1\n}\n\nfunc @main() -> i64 {\nentry:\n  %x = call @f()\n  return %x\n}\n";
        assert_eq!(once(no_loop), ["f", "main"]);
    }

    #[test]
    fn huge_crowded_and_irreducible_functions_are_compiled_quickly() {
        // `@main` passes `n` values around a loop, so all of them are live
        // at its header.
        let wide = |n: usize| {
            let phis: String = (0..n).map(|i| format!("  %q{i} = phi i64 [{i}, entry], [%q{i}, head]\n")).collect();
            format!(
                "func @main() -> i64 {{\nentry:\n  jump head\nhead:\n{phis}  %k = phi bool [true, entry], [false, head]\n  branch %k, head, out\nout:\n  return %q0\n}}\n"
            )
        };
        for (n, crowded) in [(10, false), (super::CROWDED - 10, false), (super::CROWDED + 1, true)] {
            let program = program(&wide(n));
            let main = program.main().expect("@main");
            let (info, func) = (program.info(main), program.func(main));
            let pressure = info.liveness.pressure(func, &info.order, |_| 1);
            assert_eq!(super::too_slow_to_optimize(info, pressure, 100), crowded, "{n} values");
            // However few values, a huge translation is compiled quickly.
            assert!(super::too_slow_to_optimize(info, pressure, super::HUGE + 1));
        }
        // A loop entered at `a` and at `b`.
        let two_entries = "func @main() -> i64 {\nentry:\n  %c = compare lt 1, 2\n  branch %c, a, b\na:\n  branch %c, b, out\nb:\n  branch %c, a, out\nout:\n  return 0\n}\n";
        let program = program(two_entries);
        let info = program.info(program.main().expect("@main"));
        let pressure = mir::Pressure { max: 1, area: 1 };
        assert!(super::too_slow_to_optimize(info, pressure, 100));
    }
}
