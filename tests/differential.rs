//! Differential testing: random valid, terminating MIR13 programs must behave
//! identically on the reference interpreter, the bytecode VM and the
//! Cranelift JIT — the same stdout, exit status and first line of stderr
//! (spec §5), and, for a run that did not trap, the same `--stats` counts
//! (the backends allocate, reuse and free the same boxes, spec §6).
//!
//! Programs come from a seeded generator (SplitMix64, seeds `0..300` by
//! default), so every failure reproduces: the failure message prints the
//! seed, the flags and the whole program. `MIR13_DIFF_FIRST_SEED` and
//! `MIR13_DIFF_PROGRAMS` pick other seeds for a longer hunt; without them the
//! suite is deterministic. A program is one to five helpers `@f0..@f4` (each
//! may call only helpers before it, so the call graph is acyclic apart from
//! bounded self-recursion), `@main`, a `Tracker` box whose `fini` prints
//! its id, so the moment and order in which boxes die is part of stdout, a
//! `Shrinker` box whose `fini` pops or clears the array it holds, and two or
//! three user classes `Alpha Beta Gamma` with fields, methods, and sometimes
//! `birth` and a `fini` that prints the object or a field. It
//! runs with `--fuel` (usually 1_000_000, now and then at most 60 so fuel
//! runs out mid-program), `--max-depth` (16..=64) and, half the time,
//! `--stats`. Every program passes `mir13 check`
//! (`random_programs_pass_the_verifier`); an invalid one is a generator bug.
//!
//! # What the generator covers
//!
//! - `binop` on i64 (every operator; `div`/`rem` by a divisor forced into
//!   1..=16 or, rarely, by any value, `0` or `-1` with `i64::MIN`, so
//!   `division by zero` and `integer overflow` traps happen), f64
//!   (`add sub mul div rem`) and bool (`and or xor`);
//! - `compare` with every operator each type allows: box `eq`/`ne` on any
//!   boxes, orderings of strings and of boxed numbers and, rarely, of boxes
//!   that cannot be ordered (a trap);
//! - literals of every kind in operand position (`-0.0`, `nan`, `inf`,
//!   `i64::MIN`/`MAX`, i32 bounds, hex, `_` separators, non-ASCII and escaped
//!   strings, `null`, `@f`) and `const` of each;
//! - `typeop cast` between every allowed pair of types, unboxings of boxes of
//!   the wrong kind (traps) included; `typeop is` against every class;
//! - diamonds — two-armed, one-armed (critical edges) and early returns —
//!   joined by phis of every type, `box` included (strings, arrays, maps,
//!   trackers, function values, `null`, boxed scalars, mixtures);
//! - counted loops (counting up or down, constant or masked dynamic trip
//!   counts, nested two deep) with loop-carried phis of every type that swap
//!   and rotate values, and `break` edges to the exit block with exit phis;
//! - direct calls, bounded self-recursion (the depth argument masked to
//!   0..=7, rarely not, so `--max-depth` trips);
//! - indirect calls through function values (`const @f`, or a phi choosing
//!   between two functions of one signature) with the callee's result type
//!   or `box`, boxed arguments for scalar parameters and, rarely, a wrong
//!   argument kind, arity or result type (traps);
//! - ArrayBox `new push pop get set length contains indexOf join insert
//!   remove slice reverse clear`, MapBox `new set get has delete size keys
//!   values` (`get` guarded by `has` or, rarely, not), StringBox `concat
//!   length substring indexOf contains startsWith endsWith toUpper toLower`,
//!   `toString` of
//!   numbers, bools, strings and containers, IntegerBox `abs min max pow
//!   toFloat`, FloatBox `sqrt floor ceil round abs toFixed`, the tracker's
//!   `new` and `getField`; in-bounds and, rarely, out-of-bounds indices and
//!   ranges; checked `-> TYPE` unboxing of `boxcall` results;
//! - arrays that shrink, grow or move to another buffer behind code reading
//!   them (the JIT keeps an array's length and element pointer across a loop
//!   and must read them again after any call, method or release that ran
//!   code): `pop` and `remove(i)` on arrays known to be non-empty, right
//!   after a `push`, or guarded by a fresh `length` (if risky, on any array:
//!   `pop from empty ArrayBox`, `index out of bounds`); `clear` (which frees
//!   the buffer); runs of pushes (which move it); `get`/`set` guarded by a
//!   fresh `length`; helpers taking array parameters that they push to,
//!   insert into, pop, remove from or clear first thing, small and loop-free
//!   (the JIT inlines those) or not; shrinkers dying at once or a few steps
//!   later; and loops that `get`/`set` an array (at the loop counter or below
//!   the length, guarded) through several values naming it — the value, a
//!   `typeop cast` of it, a phi choosing it (or another array), a
//!   loop-carried phi — while direct and indirect calls of those helpers,
//!   methods through the other values and dying shrinkers in the same body
//!   shrink, clear or grow it; if risky, an index read before such a call,
//!   shrinker or `pop` is used after it (out of bounds if the array shrank).
//!   Where arrays may shrink, nothing is assumed about them: what is known
//!   to be non-empty is forgotten after each shrink and at the start of a
//!   loop body that may shrink (other loop bodies shrink nothing);
//! - user boxes (the JIT compiles `getField`/`setField` of a constant name
//!   to a class check and a load or store at the field's slot, and a method
//!   call to a class check and a direct, often inlined, call): classes that
//!   share field names at different slots (`id` with the tracker too), with
//!   strong and weak fields (a name weak in one class and strong in
//!   another), each field holding one kind of value program-wide (a boxed
//!   scalar, a short leaf — often a tracker, so replacing it or its dying
//!   behind a weak field shows in `fini` output — or anything [`storable`]);
//!   method names shared by several classes (some also names of built-in
//!   methods: `get length push size concat`) whose parameters are declared
//!   as the scalar, as `box` or, rarely, as another scalar, and whose result
//!   as the scalar, `box` or nothing, so call sites box arguments, unbox them
//!   with a check, and unbox results with `-> TYPE` only where every class
//!   returns one; method bodies reading and writing `%self`'s fields, calling
//!   `%self`'s methods of earlier names (so calls end) and growing an array
//!   held in a field; `new` with one value per field or `birth` arguments;
//!   receivers that vary at run time: phis choosing between objects of
//!   different classes (or a tracker), loop-carried phis, loops over an
//!   array of objects of several classes, helper parameters taken as objects
//!   of a set of classes; and, if risky, a method or field some class lacks,
//!   a wrong argument kind, arity or result unboxing, a wrong-kind field
//!   value, `getField`/`setField` of a wrong arity, `new`/`birth` of a
//!   wrong arity or kind, and user-box operations
//!   on strings, numbers, `null` or any box (traps);
//! - `externcall env.console.log` / `print` of values of every type;
//!   `safepoint` and `barrier`; fuel and depth limits; in-place reuse
//!   (`concat` on a unique receiver at its last use).
//!
//! Each choice that may trap is taken with probability [`RISK`] (a quarter
//! of that in a user method, which may run often); a bit under half of the
//! programs end in a trap (about a sixth of those out of fuel), at varying
//! points.
//!
//! # What it does not cover
//!
//! - user boxes: a class defining its own `getField`/`setField`; field names
//!   that are not constants; methods that call helpers or make user boxes
//!   (and so could recurse through `birth`), mutual recursion between
//!   methods; `fini` that does more than print, or stores `self`
//!   (resurrection); weak fields holding scalars; display of an object
//!   reached again through a weak field (the generator builds no cycle,
//!   strong or weak); `toString` of a user box;
//! - MatrixBox, TensorBox, FunctionBox `call`/`name`, the other
//!   String/Array/Map methods (`sort filled split ...`);
//! - host functions other than `env.console.log`/`print`; stdin, program
//!   arguments, `--max-memory`, `--timeout-ms`, the default `--max-depth`;
//!   the heap counts after a trap (not specified);
//! - unstructured control flow (irreducible loops, jumps between unrelated
//!   regions), unreachable blocks, loops that run until fuel is out;
//! - function values passed to or returned from functions and then called;
//! - reference cycles: the generator never builds one (see [`storable`]), so
//!   every box dies before `@main` returns and displaying any value ends;
//! - invalid programs: the verifier's diagnostics are not compared.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every backend; the first, the interpreter, is the reference (spec §1).
const BACKENDS: [&str; 3] = ["interp", "vm", "jit"];
/// How many programs a run generates unless `MIR13_DIFF_PROGRAMS` says otherwise.
const DEFAULT_PROGRAMS: u64 = 300;
/// Fuel for most programs: far more than any generated program uses.
const AMPLE_FUEL: usize = 1_000_000;
/// The largest `--max-depth` a program runs with, so the most activations a
/// self-recursive helper can have at once.
const MAX_DEPTH_LIMIT: usize = 64;
/// Static cost budget (instructions, loops and calls multiplied out) of `@main`.
const MAIN_BUDGET: u64 = 100_000;
/// Static cost budget of a helper (of all activations of a recursive one).
const HELPER_BUDGET: u64 = 20_000;
/// The cost a loop body is assumed to have at least, when deciding whether a
/// loop still fits the budget.
const LOOP_BODY_ESTIMATE: u64 = 20;
/// Deepest nesting of diamonds and loops.
const MAX_NESTING: u32 = 3;
/// Deepest nesting of loops.
const MAX_LOOP_NESTING: u32 = 2;
/// Stores of containers and long strings into containers per activation (see
/// [`storable`]); bounds how large a container's display can get.
const MAX_BIG_STORES: u32 = 4;
/// The `reach` of a box nothing is known about (a parameter, a call's result).
const UNKNOWN_REACH: u32 = u32::MAX;
/// The chance, in percent, that the generator takes a choice that may trap
/// (an unchecked divisor, index, key, unboxing, arity...) where a safe one
/// exists; a bit under half of the programs end in a trap.
const RISK: u64 = 2;

const I64_LITERALS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "7",
    "10",
    "42",
    "-7",
    "255",
    "4294967296",
    "0x7F",
    "-0x10",
    "1_000",
    "2147483647",
    "-2147483648",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "-9223372036854775808",
];
const F64_LITERALS: &[&str] = &[
    "0.0",
    "-0.0",
    "1.0",
    "-1.5",
    "0.1",
    "2.5",
    "3.0",
    "1e16",
    "1e300",
    "-1e-300",
    "123456.789",
    "1.0e-3",
    "-2.5e-3",
    "inf",
    "-inf",
    "nan",
];
const STRING_LITERALS: &[&str] = &[
    r#""""#,
    r#""a""#,
    r#""abc""#,
    r#""héllo""#,
    r#""😀x""#,
    r#""hello world""#,
    r#""say \"hi\"""#,
    r#""tab\there""#,
    r#""line\nbreak""#,
    r#""-12""#,
    r#""k""#,
];
/// Map keys: few, so that `set`, `has`, `get` and `delete` meet the same keys.
const KEY_LITERALS: &[&str] = &["0", "1", "2", "-1", "true", "false", r#""a""#, r#""b""#, r#""k""#];
/// Indices that are sometimes in bounds and sometimes not.
const INDEX_LITERALS: &[&str] = &["0", "1", "2", "3", "5", "-1", "100", "-9223372036854775808"];
const CLASSES: &[&str] = &[
    "IntegerBox",
    "FloatBox",
    "BoolBox",
    "NullBox",
    "StringBox",
    "ArrayBox",
    "MapBox",
    "FunctionBox",
    "Tracker",
    "Shrinker",
];
/// A user box whose `fini` prints its id: every program has it, so the
/// moment and order in which boxes die (spec §6) shows on stdout.
const TRACKER: &str = r#"box Tracker {
  field id
  method fini @Tracker.fini
}

func @Tracker.fini(%self: box) {
entry:
  %id = boxcall %self.getField("id")
  externcall env.console.print("fini ")
  externcall env.console.log(%id)
  return
}
"#;
/// A user box whose `fini` prints the length of the array it holds and pops
/// it (when it is a non-empty array), or clears it if it has more than three
/// elements: a release that runs code shrinking an array. A shrinker is
/// never stored or passed on, so it dies at a point the generator knows (see
/// [`Gen::shrinker`]).
const SHRINKER: &str = r#"box Shrinker {
  field arr
  method fini @Shrinker.fini
}

func @Shrinker.fini(%self: box) {
entry:
  %arr = boxcall %self.getField("arr")
  %array = typeop is %arr, ArrayBox
  branch %array, measure, done
measure:
  %n = boxcall %arr.length() -> i64
  %some = compare gt %n, 0
  branch %some, shrink, done
shrink:
  externcall env.console.print("shrink ")
  externcall env.console.log(%n)
  %many = compare gt %n, 3
  branch %many, clear, pop
clear:
  boxcall %arr.clear()
  jump done
pop:
  boxcall %arr.pop()
  jump done
done:
  return
}
"#;
/// The [`Kind::Object`] bit of a [`TRACKER`] (user classes take the low bits).
const TRACKER_BIT: u8 = 1 << 7;
/// The static cost budget of a user box method (or `birth`).
const METHOD_BUDGET: u64 = 3_000;
/// Names of user classes, in order.
const CLASS_NAMES: &[&str] = &["Alpha", "Beta", "Gamma"];
/// Names user methods may have: some are names of built-in methods too
/// (`get length push size concat`), which the VM and the JIT run inline on
/// built-in receivers and must not on user boxes.
const METHOD_POOL: &[&str] = &["run", "step", "mix", "poke", "get", "length", "push", "size", "concat"];

/// What a user box field (or a method parameter) holds, the same in every
/// class that has a field of that name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FieldKind {
    /// A scalar of this type, boxed (never `null`: `new` or `birth` sets it).
    Scalar(Ty),
    /// A short leaf (see [`Val::is_short_leaf`]), often a tracker, or `null`.
    Leaf,
    /// Anything [`storable`] into the object (which [`Gen::storable_operand`]
    /// checks), or `null`. Never a parameter's kind.
    Any,
}

/// Field names with what they hold; classes share them at different slots.
/// A tracker has `id` too.
const FIELD_POOL: &[(&str, FieldKind)] = &[
    ("x", FieldKind::Scalar(Ty::I64)),
    ("y", FieldKind::Scalar(Ty::F64)),
    ("id", FieldKind::Scalar(Ty::I64)),
    ("on", FieldKind::Scalar(Ty::Bool)),
    ("tag", FieldKind::Leaf),
    ("item", FieldKind::Leaf),
    ("data", FieldKind::Any),
];

/// A user method name and what its implementations naturally take and
/// return; each class declares each scalar parameter as that scalar or as
/// `box` (rarely as another scalar: a call with either traps in one of them),
/// and the result as that type, as `box` or as nothing.
#[derive(Clone, Debug)]
struct MethodName {
    name: &'static str,
    slots: Vec<FieldKind>,
    ret: Option<Ty>,
}

/// One class's implementation of a method (or its `birth`).
#[derive(Clone, Debug)]
struct MethodImpl {
    params: Vec<Ty>,
    ret: Option<Ty>,
    /// Static upper bound on the work of one call.
    cost: u64,
}

/// A user class: its fields (name, kind, weak) in declaration order, its
/// methods (by index into [`Gen::methods`]), `birth` and `fini`.
#[derive(Clone, Debug)]
struct ClassInfo {
    name: String,
    fields: Vec<(&'static str, FieldKind, bool)>,
    methods: Vec<Option<MethodImpl>>,
    /// `birth`'s parameter slots (after `%self`) and implementation.
    birth: Option<(Vec<FieldKind>, MethodImpl)>,
    /// `fini` prints the class name and this field (or, without one, `%self`).
    fini: Option<Option<&'static str>>,
}
const INT_OPS: &[&str] = &["add", "sub", "mul", "and", "or", "xor", "shl", "shr", "ushr", "div", "rem", "div", "rem"];
const FLOAT_OPS: &[&str] = &["add", "sub", "mul", "div", "rem"];
const BOOL_OPS: &[&str] = &["and", "or", "xor"];
const COMPARE_OPS: &[&str] = &["eq", "ne", "lt", "le", "gt", "ge"];

/// SplitMix64: the generator's only source of randomness.
struct Rng(u64);

impl Rng {
    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p` percent.
    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    /// A random element of a non-empty slice.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// A MIR13 value type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    I64,
    F64,
    Bool,
    Box,
}

impl Ty {
    /// Every type a value can have.
    const ALL: [Ty; 4] = [Ty::I64, Ty::F64, Ty::Bool, Ty::Box];

    /// The type's name in the text format.
    fn name(self) -> &'static str {
        match self {
            Ty::I64 => "i64",
            Ty::F64 => "f64",
            Ty::Bool => "bool",
            Ty::Box => "box",
        }
    }
}

/// What the generator knows about a value at run time, beyond its type.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Kind {
    Int,
    Float,
    Bool,
    Null,
    /// A string; a `short` one (a literal, a number's `toString`) may be
    /// appended anywhere without strings growing exponentially.
    Str {
        short: bool,
    },
    Array {
        nonempty: bool,
    },
    Map,
    /// A [`TRACKER`].
    Tracker,
    /// A function value naming helper `index` (or one of the same signature
    /// that costs no more).
    Func(usize),
    /// A user box of one of the classes in the mask: bit `i` for
    /// [`Gen::classes`]`[i]`, [`TRACKER_BIT`] for a tracker.
    Object(u8),
    /// Some short leaf (see [`Val::is_short_leaf`]): what a [`FieldKind::Leaf`]
    /// field or parameter holds.
    Leaf,
    Unknown,
}

impl Kind {
    /// The kind of every value of a scalar type (`Unknown` for `box`).
    fn of(ty: Ty) -> Kind {
        match ty {
            Ty::I64 => Kind::Int,
            Ty::F64 => Kind::Float,
            Ty::Bool => Kind::Bool,
            Ty::Box => Kind::Unknown,
        }
    }

    /// Whether this is an ArrayBox, a MapBox or a user box.
    fn is_container(&self) -> bool {
        matches!(self, Kind::Array { .. } | Kind::Map | Kind::Object(_))
    }

    /// The user classes a value of this kind may be of (0 if not a user box).
    fn mask(&self) -> u8 {
        match *self {
            Kind::Object(mask) => mask,
            Kind::Tracker => TRACKER_BIT,
            _ => 0,
        }
    }
}

/// An operand — a value `%vN`/`%pN` or a literal — and what is known about it.
///
/// Containers are numbered by allocation site, in generation order. To keep
/// the object graph acyclic, a container only ever holds values that reach
/// containers of lower sites (see [`storable`]).
#[derive(Clone, Debug)]
struct Val {
    text: String,
    ty: Ty,
    kind: Kind,
    /// The highest site of a container this value may reach (itself
    /// included); 0 for none, [`UNKNOWN_REACH`] if unknown.
    reach: u32,
    /// For a container: the lowest site its object can come from; 0 when
    /// unknown (it then receives only short leaves).
    site: u32,
}

impl Val {
    /// A value that reaches no container.
    fn leaf(text: impl Into<String>, ty: Ty, kind: Kind) -> Val {
        Val { text: text.into(), ty, kind, reach: 0, site: 0 }
    }

    /// A literal of type `ty`, written `text`.
    fn literal(text: &str, ty: Ty) -> Val {
        Val::leaf(text, ty, Kind::of(ty))
    }

    /// A reachless value that is cheap to store anywhere: a scalar, `null`, a
    /// function value, a short string or a tracker (which holds an i64).
    fn is_short_leaf(&self) -> bool {
        self.reach == 0
            && matches!(
                self.kind,
                Kind::Int
                    | Kind::Float
                    | Kind::Bool
                    | Kind::Null
                    | Kind::Str { short: true }
                    | Kind::Func(_)
                    | Kind::Tracker
                    | Kind::Leaf
            )
    }
}

/// Whether `value` may be stored into the container `into` without building
/// a cycle or an exponentially large object: short leaves always; anything
/// else only outside loops, at most [`MAX_BIG_STORES`] times per activation,
/// and only into a container of a higher site than everything `value` reaches.
fn storable(value: &Val, into: &Val, in_loop: bool, big_stores: u32) -> bool {
    value.is_short_leaf() || (!in_loop && big_stores < MAX_BIG_STORES && value.reach < into.site)
}

/// A helper function, as callers see it.
#[derive(Clone, Debug)]
struct FuncInfo {
    name: String,
    params: Vec<Ty>,
    ret: Option<Ty>,
    /// Its first parameter is a recursion depth.
    recursive: bool,
    /// Which parameters it takes as arrays (and calls ArrayBox methods on).
    array_params: Vec<bool>,
    /// For each parameter it takes as a user box, the classes it may be of
    /// (a [`Kind::Object`] mask); 0 for the others.
    object_params: Vec<u8>,
    /// It may shrink the arrays passed to it (`pop`, `remove`, `clear`).
    shrinks: bool,
    /// Static upper bound on the work of one call.
    cost: u64,
}

/// A basic block under construction.
struct BlockText {
    label: String,
    lines: Vec<String>,
}

/// The function being generated.
struct FuncState {
    blocks: Vec<BlockText>,
    /// Index of the block instructions go to.
    current: usize,
    /// Values that dominate the current point, in definition order.
    scope: Vec<Val>,
    next_value: u32,
    next_label: u32,
    ret: Option<Ty>,
    /// Static cost so far, and the most it may reach.
    cost: u64,
    budget: u64,
    /// How often the current point runs per call, at most.
    mult: u64,
    /// Enclosing diamonds and loops, and enclosing loops.
    nesting: u32,
    loops: u32,
    /// Stores so far that were not of short leaves.
    big_stores: u32,
    /// Whether arrays may shrink at the current point: not in the body of a
    /// loop that assumed, on entry, that its arrays stay non-empty.
    may_shrink: bool,
    /// Whether the function shrank an array (or called something that may).
    shrank: bool,
    /// In a user box method (or `birth`): the method names (indices into
    /// [`Gen::methods`]) below this one may be called, on `%self` or, if
    /// risky, on anything; no user box is made (so calls end).
    method_limit: Option<usize>,
    /// The function returns `box` but its result is always a boxed scalar
    /// of this type (a method whose natural result is that scalar).
    boxed_ret: Option<Ty>,
}

impl FuncState {
    /// A function with parameters `%p0..` of types `params`, at its entry block.
    fn new(params: &[Ty], ret: Option<Ty>, budget: u64) -> FuncState {
        let scope = params
            .iter()
            .enumerate()
            .map(|(i, &ty)| {
                let reach = if ty == Ty::Box { UNKNOWN_REACH } else { 0 };
                Val { text: format!("%p{i}"), ty, kind: Kind::of(ty), reach, site: 0 }
            })
            .collect();
        FuncState {
            blocks: vec![BlockText { label: "entry".into(), lines: Vec::new() }],
            current: 0,
            scope,
            next_value: 0,
            next_label: 0,
            ret,
            cost: 0,
            budget,
            mult: 1,
            nesting: 0,
            loops: 0,
            big_stores: 0,
            may_shrink: true,
            shrank: false,
            method_limit: None,
            boxed_ret: None,
        }
    }
}

/// The kinds of statement the generator emits.
#[derive(Clone, Copy)]
enum Stmt {
    IntArith,
    FloatArith,
    BoolArith,
    Compare,
    Cast,
    TypeIs,
    Log,
    ToString,
    NumberMethod,
    NewArray,
    ArrayOp,
    NewMap,
    MapOp,
    StringOp,
    Tracker,
    DirectCall,
    IndirectCall,
    Diamond,
    Loop,
    ShrinkLoop,
    NewObject,
    ObjectOp,
    ObjectLoop,
    Fence,
}

/// Statements with their relative frequencies.
const STMT_WEIGHTS: &[(Stmt, usize)] = &[
    (Stmt::IntArith, 10),
    (Stmt::FloatArith, 5),
    (Stmt::BoolArith, 3),
    (Stmt::Compare, 6),
    (Stmt::Cast, 6),
    (Stmt::TypeIs, 2),
    (Stmt::Log, 10),
    (Stmt::ToString, 3),
    (Stmt::NumberMethod, 2),
    (Stmt::NewArray, 3),
    (Stmt::ArrayOp, 6),
    (Stmt::NewMap, 2),
    (Stmt::MapOp, 5),
    (Stmt::StringOp, 5),
    (Stmt::Tracker, 4),
    (Stmt::DirectCall, 5),
    (Stmt::IndirectCall, 4),
    (Stmt::Diamond, 6),
    (Stmt::Loop, 4),
    (Stmt::ShrinkLoop, 3),
    (Stmt::NewObject, 3),
    (Stmt::ObjectOp, 8),
    (Stmt::ObjectLoop, 2),
    (Stmt::Fence, 1),
];

/// An ArrayBox method at an index (or, `pop`, at the end) that
/// [`Gen::guarded`] guards by the array's length.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guarded {
    Get,
    Set,
    Pop,
    Remove,
}

/// A generated program and the `mir13 run` flags it runs with.
struct Generated {
    text: String,
    flags: Vec<String>,
}

/// Generates the program for `seed`.
fn generate(seed: u64) -> Generated {
    let mut g = Gen {
        rng: Rng(seed ^ 0x6D69_7231_3364_6966),
        funcs: Vec::new(),
        next_site: 0,
        next_tracker: 0,
        f: FuncState::new(&[], None, 0),
        classes: Vec::new(),
        methods: Vec::new(),
    };
    let fuel = if g.rng.percent(15) { g.rng.between(1, 60) } else { AMPLE_FUEL };
    let max_depth = g.rng.between(16, MAX_DEPTH_LIMIT);
    let mut flags = vec!["--fuel".to_string(), fuel.to_string(), "--max-depth".to_string(), max_depth.to_string()];
    if g.rng.percent(50) {
        flags.push("--stats".to_string());
    }
    let mut text = format!("; tests/differential.rs, seed {seed}: mir13 run {}\n\n", flags.join(" "));
    let classes = g.user_classes();
    for index in 0..g.rng.between(1, 5) {
        let helper = g.helper(index);
        text.push_str(&helper);
    }
    let main = g.main_function();
    text.push_str(&main);
    text.push_str(&classes);
    text.push_str(TRACKER);
    text.push('\n');
    text.push_str(SHRINKER);
    Generated { text, flags }
}

/// Generator state: the random stream, the helpers generated so far and the
/// function being generated.
struct Gen {
    rng: Rng,
    funcs: Vec<FuncInfo>,
    next_site: u32,
    next_tracker: u32,
    f: FuncState,
    /// The program's user classes (not the tracker and the shrinker).
    classes: Vec<ClassInfo>,
    /// The program's user method names, with what they naturally take and return.
    methods: Vec<MethodName>,
}

impl Gen {
    // ---- functions ----

    /// Generates helper `@f{index}`, which may call the helpers before it and,
    /// if recursive, itself with a smaller depth.
    fn helper(&mut self, index: usize) -> String {
        let recursive = self.rng.percent(30);
        let mut params = Vec::new();
        if recursive {
            params.push(Ty::I64);
        }
        // Now and then many: box parameters take two words, so some go on the stack.
        let count = if self.rng.percent(15) { self.rng.between(5, 8) } else { self.rng.below(4) };
        for _ in 0..count {
            params.push(self.random_ty());
        }
        let first = usize::from(recursive);
        let mut array_params: Vec<bool> =
            params.iter().enumerate().map(|(i, &ty)| i >= first && ty == Ty::Box && self.rng.percent(30)).collect();
        if self.rng.percent(45) {
            let at = self.rng.between(first, params.len());
            params.insert(at, Ty::Box);
            array_params.insert(at, true);
        }
        let ret = if self.rng.percent(15) { None } else { Some(self.random_ty()) };
        let object_params: Vec<u8> = (0..params.len())
            .map(|i| {
                let object = i >= first && params[i] == Ty::Box && !array_params[i] && self.rng.percent(30);
                if object { self.random_mask() } else { 0 }
            })
            .collect();
        let name = format!("f{index}");
        let budget = if recursive { HELPER_BUDGET / MAX_DEPTH_LIMIT as u64 } else { HELPER_BUDGET };
        self.f = FuncState::new(&params, ret, budget);
        for (i, _) in array_params.iter().enumerate().filter(|&(_, &array)| array) {
            self.f.scope[i].kind = Kind::Array { nonempty: false };
        }
        for (i, &mask) in object_params.iter().enumerate().filter(|&(_, &mask)| mask != 0) {
            self.f.scope[i].kind = Kind::Object(mask);
        }
        if recursive {
            self.recursive_body(&name, &params, &array_params, &object_params, ret);
        } else {
            let arrays = self.matching(|v| matches!(v.kind, Kind::Array { .. }));
            let n = if arrays.is_empty() {
                self.rng.between(2, 14)
            } else {
                // Works on an array parameter first; now and then little
                // else, so that the JIT inlines it.
                for _ in 0..self.rng.between(1, 2) {
                    let array = self.choose(&arrays).expect("an array parameter");
                    match self.rng.below(8) {
                        0 => self.push(&array),
                        1 => self.insert(&array),
                        2 => self.grow(&array),
                        3 => self.clear(&array),
                        _ => self.shrink(&array),
                    }
                }
                if self.rng.percent(35) { self.rng.below(2) } else { self.rng.between(2, 12) }
            };
            self.stmts(n);
        }
        self.return_stmt();
        let cost = if recursive { self.f.cost * MAX_DEPTH_LIMIT as u64 } else { self.f.cost };
        let text = self.render(&name, &params);
        // Only arrays it is passed as arrays can it shrink for its caller: the
        // others it reaches, it reaches through containers or parameters of
        // unknown kind, which the generator never treats as arrays.
        let shrinks = self.f.shrank && array_params.contains(&true);
        self.funcs.push(FuncInfo { name, params, ret, recursive, array_params, object_params, shrinks, cost });
        text
    }

    /// The body of a self-recursive helper whose first parameter is the
    /// depth: a base case at depth <= 0, else one call of itself with depth - 1
    /// among other statements.
    fn recursive_body(
        &mut self,
        name: &str,
        params: &[Ty],
        array_params: &[bool],
        object_params: &[u8],
        ret: Option<Ty>,
    ) {
        let depth = self.f.scope[0].clone();
        let stop = self.define(format!("compare le {}, 0", depth.text), Ty::Bool, Kind::Bool);
        let (base, rec) = (self.label(), self.label());
        self.emit(format!("branch {}, {base}, {rec}", stop.text));
        let mark = self.f.scope.len();
        self.start_block(base);
        let n = self.rng.below(3);
        self.stmts(n);
        self.return_stmt();
        self.f.scope.truncate(mark);
        self.start_block(rec);
        let smaller = self.define(format!("binop sub {}, 1", depth.text), Ty::I64, Kind::Int);
        let n = self.rng.below(4);
        self.stmts(n);
        let mut args = vec![smaller];
        for ((&ty, &array), &object) in params.iter().zip(array_params).zip(object_params).skip(1) {
            args.push(self.arg(ty, array, object));
        }
        let call = format!("call @{name}({})", args_text(&args));
        match ret {
            Some(ty) => {
                self.define_call_result(call, ty);
            }
            None => self.emit(call),
        }
        if array_params.contains(&true) {
            // Whether this helper shrinks them is not known yet.
            self.mark_shrunk();
        }
        let n = self.rng.below(4);
        self.stmts(n);
    }

    /// Generates `@main`, returning `i64` (the exit status) or `void`.
    fn main_function(&mut self) -> String {
        let ret = if self.rng.percent(80) { Some(Ty::I64) } else { None };
        self.f = FuncState::new(&[], ret, MAIN_BUDGET);
        let n = self.rng.between(8, 50);
        self.stmts(n);
        for _ in 0..3 {
            self.log();
        }
        self.return_stmt();
        self.render("main", &[])
    }

    /// The current function's text.
    fn render(&self, name: &str, params: &[Ty]) -> String {
        let params: Vec<String> = params.iter().enumerate().map(|(i, ty)| format!("%p{i}: {}", ty.name())).collect();
        let mut text = format!("func @{name}({})", params.join(", "));
        if let Some(ret) = self.f.ret {
            write!(text, " -> {}", ret.name()).unwrap();
        }
        text.push_str(" {\n");
        for block in &self.f.blocks {
            writeln!(text, "{}:", block.label).unwrap();
            for line in &block.lines {
                writeln!(text, "  {line}").unwrap();
            }
        }
        text.push_str("}\n\n");
        text
    }

    // ---- emission and scope ----

    /// Appends an instruction to the current block.
    fn emit(&mut self, line: String) {
        self.f.cost += self.f.mult;
        let current = self.f.current;
        self.f.blocks[current].lines.push(line);
    }

    /// Names a new value and brings it into scope, without defining it yet
    /// (a loop header's phis are written after the loop body).
    fn reserve(&mut self, ty: Ty, kind: Kind, reach: u32, site: u32) -> Val {
        let val = Val { text: format!("%v{}", self.f.next_value), ty, kind, reach, site };
        self.f.next_value += 1;
        self.f.scope.push(val.clone());
        val
    }

    /// Defines a new value reaching no container as `rhs`.
    fn define(&mut self, rhs: String, ty: Ty, kind: Kind) -> Val {
        self.define_reaching(rhs, ty, kind, 0, 0)
    }

    /// Defines a new value as `rhs`, with what it reaches (see [`Val`]).
    fn define_reaching(&mut self, rhs: String, ty: Ty, kind: Kind, reach: u32, site: u32) -> Val {
        let val = self.reserve(ty, kind, reach, site);
        self.emit(format!("{} = {rhs}", val.text));
        val
    }

    /// Defines an i64 value.
    fn int(&mut self, rhs: String) -> Val {
        self.define(rhs, Ty::I64, Kind::Int)
    }

    /// Defines the result of a MIR call returning `ty`.
    fn define_call_result(&mut self, call: String, ty: Ty) -> Val {
        let reach = if ty == Ty::Box { UNKNOWN_REACH } else { 0 };
        self.define_reaching(call, ty, Kind::of(ty), reach, 0)
    }

    /// Defines the result of a `boxcall` whose natural result is a `natural`
    /// scalar: usually unboxed with `-> TYPE`, sometimes left boxed.
    fn method_result(&mut self, call: String, natural: Ty) -> Val {
        if self.rng.percent(25) {
            self.define(call, Ty::Box, Kind::of(natural))
        } else {
            self.define(format!("{call} -> {}", natural.name()), natural, Kind::of(natural))
        }
    }

    /// A fresh block label.
    fn label(&mut self) -> String {
        self.f.next_label += 1;
        format!("b{}", self.f.next_label)
    }

    /// Starts a new block; instructions go there from now on. Returns its index.
    fn start_block(&mut self, label: String) -> usize {
        self.f.blocks.push(BlockText { label, lines: Vec::new() });
        self.f.current = self.f.blocks.len() - 1;
        self.f.current
    }

    /// The label of the block instructions go to.
    fn current_label(&self) -> String {
        self.f.blocks[self.f.current].label.clone()
    }

    /// A new container allocation site.
    fn new_site(&mut self) -> u32 {
        self.next_site += 1;
        self.next_site
    }

    /// Indices of the values in scope that satisfy `keep`.
    fn matching(&self, keep: impl Fn(&Val) -> bool) -> Vec<usize> {
        self.f.scope.iter().enumerate().filter(|(_, v)| keep(v)).map(|(i, _)| i).collect()
    }

    /// A random value in scope among `candidates` (indices into the scope).
    fn choose(&mut self, candidates: &[usize]) -> Option<Val> {
        (!candidates.is_empty()).then(|| self.f.scope[self.rng.pick(candidates)].clone())
    }

    /// A random value in scope satisfying `keep`.
    fn pick_where(&mut self, keep: impl Fn(&Val) -> bool) -> Option<Val> {
        let candidates = self.matching(keep);
        self.choose(&candidates)
    }

    /// True, [`RISK`] percent of the time, when a choice that may trap should
    /// be taken; a quarter as often in a user method (or `birth`), which may
    /// run many times from many places.
    fn risky(&mut self) -> bool {
        self.rng.percent(RISK) && (self.f.method_limit.is_none() || self.rng.percent(25))
    }

    /// Whether the current point is inside a loop body.
    fn in_loop(&self) -> bool {
        self.f.loops > 0
    }

    // ---- operands ----

    /// A random type.
    fn random_ty(&mut self) -> Ty {
        self.rng.pick(&Ty::ALL)
    }

    /// A random scalar type.
    fn random_scalar_ty(&mut self) -> Ty {
        self.rng.pick(&[Ty::I64, Ty::F64, Ty::Bool])
    }

    /// An operand of type `ty`: usually a value in scope, else a literal.
    /// Emits nothing.
    fn operand(&mut self, ty: Ty) -> Val {
        if self.rng.percent(75)
            && let Some(v) = self.pick_where(|v| v.ty == ty)
        {
            return v;
        }
        self.literal(ty)
    }

    /// A literal of type `ty`; box literals are strings, `null` and helpers.
    fn literal(&mut self, ty: Ty) -> Val {
        match ty {
            Ty::I64 => Val::literal(self.rng.pick(I64_LITERALS), ty),
            Ty::F64 => Val::literal(self.rng.pick(F64_LITERALS), ty),
            Ty::Bool => Val::literal(self.rng.pick(&["true", "false"]), ty),
            Ty::Box => match self.rng.below(10) {
                0 | 1 => Val::leaf("null", ty, Kind::Null),
                2 | 3 if !self.funcs.is_empty() => {
                    let index = self.rng.below(self.funcs.len());
                    Val::leaf(format!("@{}", self.funcs[index].name), ty, Kind::Func(index))
                }
                _ => self.string_literal(),
            },
        }
    }

    /// A string literal.
    fn string_literal(&mut self) -> Val {
        Val::leaf(self.rng.pick(STRING_LITERALS), Ty::Box, Kind::Str { short: true })
    }

    /// `v` as a value: a literal is defined with `const` first (receivers,
    /// branch conditions and indirect callees cannot be literals).
    fn materialize(&mut self, v: Val) -> Val {
        if v.text.starts_with('%') {
            return v;
        }
        self.define_reaching(format!("const {}", v.text), v.ty, v.kind, v.reach, v.site)
    }

    /// A value (not a literal) of type `ty`.
    fn value(&mut self, ty: Ty) -> Val {
        let v = self.operand(ty);
        self.materialize(v)
    }

    /// A box holding a scalar of type `ty` (not `box`): one in scope or a fresh cast.
    fn boxed(&mut self, ty: Ty) -> Val {
        let kind = Kind::of(ty);
        if self.rng.percent(50)
            && let Some(v) = self.pick_where(|v| v.ty == Ty::Box && v.kind == kind)
        {
            return v;
        }
        let v = self.operand(ty);
        self.define(format!("typeop cast {} to box", v.text), Ty::Box, kind)
    }

    /// A bool value to branch on: a fresh comparison or a bool in scope.
    fn condition(&mut self) -> Val {
        if self.rng.percent(50) { self.compare() } else { self.value(Ty::Bool) }
    }

    /// A string operand: a string in scope or a literal.
    fn string_operand(&mut self) -> Val {
        match self.pick_where(|v| matches!(v.kind, Kind::Str { .. })) {
            Some(v) if self.rng.percent(70) => v,
            _ => self.string_literal(),
        }
    }

    /// A short string operand (safe to append anywhere).
    fn short_string(&mut self) -> Val {
        match self.pick_where(|v| v.kind == Kind::Str { short: true }) {
            Some(v) if self.rng.percent(60) => v,
            _ => self.string_literal(),
        }
    }

    /// What a phi merging `a` and `b` knows: their common kind, the higher
    /// reach, the lower site.
    fn join(&self, a: &Val, b: &Val) -> (Kind, u32, u32) {
        let kind = match (&a.kind, &b.kind) {
            (x, y) if x == y => x.clone(),
            (Kind::Str { short: x }, Kind::Str { short: y }) => Kind::Str { short: *x && *y },
            (Kind::Array { nonempty: x }, Kind::Array { nonempty: y }) => Kind::Array { nonempty: *x && *y },
            (&Kind::Func(i), &Kind::Func(j)) if self.same_signature(i, j) => {
                Kind::Func(if self.funcs[i].cost >= self.funcs[j].cost { i } else { j })
            }
            (x, y) if x.mask() != 0 && y.mask() != 0 => Kind::Object(x.mask() | y.mask()),
            _ => Kind::Unknown,
        };
        let site = if kind.is_container() { a.site.min(b.site) } else { 0 };
        (kind, a.reach.max(b.reach), site)
    }

    /// Whether helpers `i` and `j` take and return the same types.
    fn same_signature(&self, i: usize, j: usize) -> bool {
        let (a, b) = (&self.funcs[i], &self.funcs[j]);
        a.params == b.params
            && a.ret == b.ret
            && a.recursive == b.recursive
            && a.array_params == b.array_params
            && a.object_params == b.object_params
            && a.shrinks == b.shrinks
    }

    /// Whether `v` may flow into the loop-carried phi `phi` without breaking
    /// what the loop body assumed about `phi`.
    fn fits(&self, v: &Val, phi: &Val) -> bool {
        v.ty == phi.ty && v.reach <= phi.reach && v.site >= phi.site && self.join(phi, v).0 == phi.kind
    }

    // ---- statements ----

    /// Generates `n` random statements.
    fn stmts(&mut self, n: usize) {
        for _ in 0..n {
            self.stmt();
        }
    }

    /// Generates one random statement.
    fn stmt(&mut self) {
        let total: usize = STMT_WEIGHTS.iter().map(|&(_, w)| w).sum();
        loop {
            let mut roll = self.rng.below(total);
            let &(stmt, _) = STMT_WEIGHTS
                .iter()
                .find(|&&(_, w)| {
                    let hit = roll < w;
                    roll = roll.saturating_sub(w);
                    hit
                })
                .expect("the roll is below the total");
            if self.try_stmt(stmt) {
                return;
            }
        }
    }

    /// Generates a statement of kind `stmt`; false if it does not fit here
    /// (nesting or cost budget exhausted, nothing to call).
    fn try_stmt(&mut self, stmt: Stmt) -> bool {
        match stmt {
            Stmt::IntArith => {
                self.int_arith();
            }
            Stmt::FloatArith => {
                let op = self.rng.pick(FLOAT_OPS);
                let (a, b) = (self.operand(Ty::F64), self.operand(Ty::F64));
                self.define(format!("binop {op} {}, {}", a.text, b.text), Ty::F64, Kind::Float);
            }
            Stmt::BoolArith => {
                let op = self.rng.pick(BOOL_OPS);
                let (a, b) = (self.operand(Ty::Bool), self.operand(Ty::Bool));
                self.define(format!("binop {op} {}, {}", a.text, b.text), Ty::Bool, Kind::Bool);
            }
            Stmt::Compare => {
                self.compare();
            }
            Stmt::Cast => self.cast(),
            Stmt::TypeIs => {
                let ty = self.random_ty();
                let v = self.operand(ty);
                let class = if !self.classes.is_empty() && self.rng.percent(30) {
                    self.classes[self.rng.below(self.classes.len())].name.clone()
                } else {
                    self.rng.pick(CLASSES).to_string()
                };
                self.define(format!("typeop is {}, {class}", v.text), Ty::Bool, Kind::Bool);
            }
            Stmt::Log => self.log(),
            Stmt::ToString => self.stringify(),
            Stmt::NumberMethod => self.number_method(),
            Stmt::NewArray => {
                self.new_array();
            }
            Stmt::ArrayOp => self.array_op(),
            Stmt::NewMap => {
                self.new_map();
            }
            Stmt::MapOp => self.map_op(),
            Stmt::StringOp => self.string_op(),
            Stmt::Tracker => self.tracker(),
            Stmt::DirectCall => return self.direct_call(),
            Stmt::IndirectCall => return self.indirect_call(),
            Stmt::Diamond => return self.diamond(),
            Stmt::Loop => return self.counted_loop(),
            Stmt::ShrinkLoop => return self.shrink_loop(),
            Stmt::NewObject => return self.new_object_stmt(),
            Stmt::ObjectOp => return self.object_stmt(),
            Stmt::ObjectLoop => return self.object_loop(),
            Stmt::Fence => {
                let fence = self.rng.pick(&["safepoint", "barrier read", "barrier write", "barrier full"]);
                self.emit(fence.to_string());
            }
        }
        true
    }

    /// An i64 `binop`; division and remainder may trap now and then.
    fn int_arith(&mut self) {
        let op = self.rng.pick(INT_OPS);
        if matches!(op, "div" | "rem") && self.risky() {
            // Unchecked: by any value, 0, or -1 (with i64::MIN).
            let a = if self.rng.percent(40) {
                Val::literal("-9223372036854775808", Ty::I64)
            } else {
                self.operand(Ty::I64)
            };
            let b = if self.rng.percent(50) {
                Val::literal(self.rng.pick(&["0", "-1"]), Ty::I64)
            } else {
                self.operand(Ty::I64)
            };
            self.int(format!("binop {op} {}, {}", a.text, b.text));
            return;
        }
        let a = self.operand(Ty::I64);
        let b = if matches!(op, "div" | "rem") {
            let x = self.operand(Ty::I64);
            let low = self.int(format!("binop and {}, 15", x.text));
            self.int(format!("binop add {}, 1", low.text))
        } else {
            self.operand(Ty::I64)
        };
        self.int(format!("binop {op} {}, {}", a.text, b.text));
    }

    /// A `compare` of a random type; box orderings are usually of two strings
    /// or two boxed numbers of one kind, and now and then of anything.
    fn compare(&mut self) -> Val {
        let ty = self.random_ty();
        let (a, b, op) = match ty {
            Ty::I64 | Ty::F64 => (self.operand(ty), self.operand(ty), self.rng.pick(COMPARE_OPS)),
            Ty::Bool => (self.operand(ty), self.operand(ty), self.rng.pick(&["eq", "ne"])),
            Ty::Box if self.rng.percent(55) => (self.operand(ty), self.operand(ty), self.rng.pick(&["eq", "ne"])),
            Ty::Box => {
                let roll = self.rng.below(10);
                let (a, b) = if self.risky() {
                    (self.operand(ty), self.operand(ty))
                } else if roll < 5 {
                    (self.string_operand(), self.string_operand())
                } else {
                    let number = self.rng.pick(&[Ty::I64, Ty::F64]);
                    (self.boxed(number), self.boxed(number))
                };
                (a, b, self.rng.pick(COMPARE_OPS))
            }
        };
        self.define(format!("compare {op} {}, {}", a.text, b.text), Ty::Bool, Kind::Bool)
    }

    /// A `typeop cast` between two types the verifier allows; unboxings are
    /// usually of the right kind of box.
    fn cast(&mut self) {
        let to = self.random_ty();
        let from = loop {
            let from = self.random_ty();
            if !matches!((from, to), (Ty::F64, Ty::Bool) | (Ty::Bool, Ty::F64)) {
                break from;
            }
        };
        let v = if from == Ty::Box && to != Ty::Box && !self.risky() { self.boxed(to) } else { self.operand(from) };
        let rhs = format!("typeop cast {} to {}", v.text, to.name());
        match (v.ty, to) {
            (Ty::Box, Ty::Box) => {
                self.define_reaching(rhs, to, v.kind, v.reach, v.site);
            }
            (from, Ty::Box) => {
                self.define(rhs, to, Kind::of(from));
            }
            _ => {
                self.define(rhs, to, Kind::of(to));
            }
        }
    }

    /// Prints a random operand with `env.console.log` (or `print`).
    fn log(&mut self) {
        let ty = self.random_ty();
        let v = self.operand(ty);
        let host = if self.rng.percent(10) { "print" } else { "log" };
        self.emit(format!("externcall env.console.{host}({})", v.text));
    }

    /// `toString` of a scalar or of a box that has one (rarely of any box).
    fn stringify(&mut self) {
        let recv = if self.rng.percent(55) {
            let ty = self.random_scalar_ty();
            self.value(ty)
        } else {
            let any = self.risky();
            let displayable = |v: &Val| {
                v.ty == Ty::Box
                    && (any
                        || matches!(
                            v.kind,
                            Kind::Int | Kind::Float | Kind::Bool | Kind::Str { .. } | Kind::Array { .. } | Kind::Map
                        ))
            };
            match self.pick_where(displayable) {
                Some(v) => v,
                None => {
                    let s = self.string_literal();
                    self.materialize(s)
                }
            }
        };
        let short =
            recv.ty != Ty::Box || matches!(recv.kind, Kind::Int | Kind::Float | Kind::Bool | Kind::Str { short: true });
        self.define(format!("boxcall {}.toString()", recv.text), Ty::Box, Kind::Str { short });
    }

    /// An IntegerBox or FloatBox method on a scalar receiver.
    fn number_method(&mut self) {
        if self.rng.percent(50) {
            let n = self.value(Ty::I64);
            match self.rng.below(5) {
                0 => self.method_result(format!("boxcall {}.abs()", n.text), Ty::I64),
                1 | 2 => {
                    let method = self.rng.pick(&["min", "max"]);
                    let m = self.operand(Ty::I64);
                    self.method_result(format!("boxcall {}.{method}({})", n.text, m.text), Ty::I64)
                }
                3 => {
                    let e = if self.risky() {
                        self.operand(Ty::I64)
                    } else {
                        Val::literal(self.rng.pick(&["0", "1", "2", "3"]), Ty::I64)
                    };
                    self.method_result(format!("boxcall {}.pow({})", n.text, e.text), Ty::I64)
                }
                _ => self.method_result(format!("boxcall {}.toFloat()", n.text), Ty::F64),
            };
        } else {
            let x = self.value(Ty::F64);
            if self.rng.percent(20) {
                let digits = self.rng.pick(&["0", "1", "2", "3"]);
                self.define(format!("boxcall {}.toFixed({digits})", x.text), Ty::Box, Kind::Str { short: true });
            } else {
                let method = self.rng.pick(&["sqrt", "floor", "ceil", "round", "abs"]);
                self.method_result(format!("boxcall {}.{method}()", x.text), Ty::F64);
            }
        }
    }

    /// An operand of any type that may be stored into the container `into`.
    fn storable_operand(&mut self, into: &Val) -> Val {
        let (in_loop, big_stores) = (self.in_loop(), self.f.big_stores);
        let candidate =
            if self.rng.percent(70) { self.pick_where(|v| storable(v, into, in_loop, big_stores)) } else { None };
        let v = match candidate {
            Some(v) => v,
            None => {
                let ty = self.random_ty();
                self.literal(ty)
            }
        };
        if !v.is_short_leaf() {
            self.f.big_stores += 1;
        }
        v
    }

    /// A non-negative i64 value below the positive i64 value `n`.
    fn below_value(&mut self, n: &Val) -> Val {
        let x = self.operand(Ty::I64);
        let non_negative = self.int(format!("binop and {}, 9223372036854775807", x.text));
        self.int(format!("binop rem {}, {}", non_negative.text, n.text))
    }

    /// An index into `array`: in bounds when the array is known non-empty
    /// (unless risky), else a literal or any i64.
    fn index(&mut self, array: &Val) -> Val {
        if array.kind == (Kind::Array { nonempty: true }) && !self.risky() {
            let len = self.int(format!("boxcall {}.length() -> i64", array.text));
            self.below_value(&len)
        } else if self.rng.percent(50) {
            Val::literal(self.rng.pick(INDEX_LITERALS), Ty::I64)
        } else {
            self.operand(Ty::I64)
        }
    }

    // ---- ArrayBox ----

    /// `ArrayBox.new()`, usually followed by a few pushes.
    fn new_array(&mut self) -> Val {
        let site = self.new_site();
        let array =
            self.define_reaching("boxcall ArrayBox.new()".into(), Ty::Box, Kind::Array { nonempty: false }, site, site);
        if self.rng.percent(10) {
            return array;
        }
        for _ in 0..self.rng.between(1, 3) {
            self.push(&array);
        }
        let nonempty = Kind::Array { nonempty: true };
        if let Some(v) = self.f.scope.iter_mut().rev().find(|v| v.text == array.text) {
            v.kind = nonempty.clone();
        }
        Val { kind: nonempty, ..array }
    }

    /// An array in scope, or a new one.
    fn array(&mut self) -> Val {
        match self.pick_where(|v| matches!(v.kind, Kind::Array { .. })) {
            Some(a) if self.rng.percent(85) => a,
            _ => self.new_array(),
        }
    }

    /// `push` onto `array`.
    fn push(&mut self, array: &Val) {
        let v = self.storable_operand(array);
        self.emit(format!("boxcall {}.push({})", array.text, v.text));
    }

    /// An ArrayBox method on an array; `get`, `set`, `pop` and `remove` only
    /// on arrays known to be non-empty or guarded by their length, unless
    /// risky; no shrinking where arrays may not shrink.
    fn array_op(&mut self) {
        let array = self.array();
        let indexable = array.kind == (Kind::Array { nonempty: true }) || self.risky();
        match self.rng.below(15) {
            0 | 1 => self.push(&array),
            2 | 3 if indexable => {
                let i = self.index(&array);
                let call = format!("boxcall {}.get({})", array.text, i.text);
                if self.risky() {
                    let ty = self.random_scalar_ty();
                    // A failing unboxing here, at the array's last use, once made the
                    // JIT release the array before trapping (fixed; keep generating it).
                    self.define(format!("{call} -> {}", ty.name()), ty, Kind::of(ty));
                } else {
                    self.define_reaching(call, Ty::Box, Kind::Unknown, array.reach, 0);
                }
            }
            2 | 3 if self.rng.percent(40) => {
                if let Some(got) = self.guarded(&array, None, Guarded::Get)
                    && self.rng.percent(30)
                {
                    self.emit(format!("externcall env.console.log({})", got.text));
                }
            }
            4 | 5 if indexable => {
                let i = self.index(&array);
                let v = self.storable_operand(&array);
                self.emit(format!("boxcall {}.set({}, {})", array.text, i.text, v.text));
            }
            4 | 5 if self.rng.percent(40) => {
                self.guarded(&array, None, Guarded::Set);
            }
            6 => {
                let method = self.rng.pick(&["contains", "indexOf"]);
                let ty = self.random_ty();
                let v = self.operand(ty);
                let natural = if method == "contains" { Ty::Bool } else { Ty::I64 };
                self.method_result(format!("boxcall {}.{method}({})", array.text, v.text), natural);
            }
            7 => {
                let separator = self.short_string();
                let join = format!("boxcall {}.join({})", array.text, separator.text);
                self.define(join, Ty::Box, Kind::Str { short: false });
            }
            8 => self.insert(&array),
            9 => {
                let (i, j) = self.range(&array);
                let site = self.new_site();
                let slice = format!("boxcall {}.slice({}, {})", array.text, i.text, j.text);
                self.define_reaching(slice, Ty::Box, Kind::Array { nonempty: false }, site, site);
            }
            10 => self.emit(format!("boxcall {}.reverse()", array.text)),
            12..=14 if self.f.may_shrink => self.shrink(&array),
            _ => {
                self.method_result(format!("boxcall {}.length()", array.text), Ty::I64);
            }
        }
    }

    /// `insert` into `array` at `0..=length` (anywhere if risky).
    fn insert(&mut self, array: &Val) {
        let len = self.int(format!("boxcall {}.length() -> i64", array.text));
        let room = self.int(format!("binop add {}, 1", len.text));
        let i = if self.risky() { self.operand(Ty::I64) } else { self.below_value(&room) };
        let v = self.storable_operand(array);
        self.emit(format!("boxcall {}.insert({}, {})", array.text, i.text, v.text));
    }

    /// Forgets which arrays are known to be non-empty: any of them may be
    /// the one that shrinks (values naming the same array are not tracked).
    fn forget_nonempty(&mut self) {
        for v in &mut self.f.scope {
            if let Kind::Array { nonempty } = &mut v.kind {
                *nonempty = false;
            }
        }
    }

    /// Records that an array may have shrunk at the current point.
    fn mark_shrunk(&mut self) {
        assert!(self.f.may_shrink, "arrays shrink where the generator assumed they do not");
        self.f.shrank = true;
        self.forget_nonempty();
    }

    /// Shrinks `array` (where arrays may shrink): `clear`, a [`Gen::shrinker`]
    /// that dies at once, or `pop` or `remove(i)` — unguarded when the array
    /// is known to be non-empty or was just pushed to, else guarded by its
    /// length (unguarded on a maybe-empty array if risky).
    fn shrink(&mut self, array: &Val) {
        match self.rng.below(20) {
            0 | 1 => self.clear(array),
            2 => {
                self.shrinker(array, false);
            }
            roll => {
                let op = if roll % 2 == 0 { Guarded::Pop } else { Guarded::Remove };
                let nonempty = Val { kind: Kind::Array { nonempty: true }, ..array.clone() };
                if array.kind == nonempty.kind || self.risky() {
                    self.unguarded(array, op);
                } else if self.rng.percent(40) {
                    self.push(array);
                    self.unguarded(&nonempty, op);
                } else if let Some(got) = self.guarded(array, None, op)
                    && self.rng.percent(30)
                {
                    self.emit(format!("externcall env.console.log({})", got.text));
                }
            }
        }
        self.mark_shrunk();
    }

    /// `clear` of `array` (which frees its buffer).
    fn clear(&mut self, array: &Val) {
        if self.rng.percent(20) {
            self.define(format!("boxcall {}.clear()", array.text), Ty::Box, Kind::Null);
        } else {
            self.emit(format!("boxcall {}.clear()", array.text));
        }
        self.mark_shrunk();
    }

    /// Several pushes onto `array`, enough to make it move to a larger buffer.
    fn grow(&mut self, array: &Val) {
        for _ in 0..self.rng.between(3, 6) {
            self.push(array);
        }
    }

    /// `pop` or `remove(i)` of `array`, with no guard: `i` is in bounds when
    /// the array is known to be non-empty (see [`Gen::index`]).
    fn unguarded(&mut self, array: &Val, op: Guarded) {
        let call = match op {
            Guarded::Remove => {
                let i = self.index(array);
                format!("boxcall {}.remove({})", array.text, i.text)
            }
            _ => format!("boxcall {}.pop()", array.text),
        };
        if self.rng.percent(30) {
            self.emit(call);
        } else {
            let got = self.define_reaching(call, Ty::Box, Kind::Unknown, array.reach, 0);
            if self.rng.percent(30) {
                self.emit(format!("externcall env.console.log({})", got.text));
            }
        }
        self.mark_shrunk();
    }

    /// `op` on `array` at run time only if the array, measured afresh, is
    /// non-empty (or, with a `counter`, longer than it): a one-armed branch
    /// around it. The index is `counter` or a value below the length. Returns
    /// the phi joining what `op` returned (`get`, `pop`, `remove`) with `null`.
    fn guarded(&mut self, array: &Val, counter: Option<&Val>, op: Guarded) -> Option<Val> {
        let len = self.int(format!("boxcall {}.length() -> i64", array.text));
        let ok = match counter {
            Some(c) if op != Guarded::Pop => format!("compare lt {}, {}", c.text, len.text),
            _ => format!("compare gt {}, 0", len.text),
        };
        let ok = self.define(ok, Ty::Bool, Kind::Bool);
        let pre = self.current_label();
        let (yes, join) = (self.label(), self.label());
        self.emit(format!("branch {}, {yes}, {join}", ok.text));
        let mark = self.f.scope.len();
        self.start_block(yes.clone());
        let index = match counter {
            _ if op == Guarded::Pop => None,
            Some(c) => Some(c.clone()),
            None => Some(self.below_value(&len)),
        };
        let index = index.map_or(String::new(), |i| i.text);
        let result = match op {
            Guarded::Set => {
                let v = self.storable_operand(array);
                self.emit(format!("boxcall {}.set({index}, {})", array.text, v.text));
                None
            }
            _ => {
                let method = match op {
                    Guarded::Get => "get",
                    Guarded::Pop => "pop",
                    _ => "remove",
                };
                let call = format!("boxcall {}.{method}({index})", array.text);
                Some(self.define_reaching(call, Ty::Box, Kind::Unknown, array.reach, 0))
            }
        };
        if matches!(op, Guarded::Pop | Guarded::Remove) {
            self.mark_shrunk();
        }
        let end = self.current_label();
        self.emit(format!("jump {join}"));
        self.f.scope.truncate(mark);
        self.start_block(join);
        let null = Val::leaf("null", Ty::Box, Kind::Null);
        result.map(|got| self.phi(Ty::Box, &[(null, pre), (got, end)]))
    }

    /// A [`SHRINKER`] holding `array`, which shrinks it when it dies: at
    /// once, as it is never used, or (`kept`) at its one use, which the
    /// caller emits later (see [`Gen::shrink_loop`]); the shrinker never
    /// enters the scope, so nothing else uses it. Returns its name if `kept`.
    /// What is known about arrays is forgotten here already.
    fn shrinker(&mut self, array: &Val, kept: bool) -> Option<String> {
        let name = format!("%v{}", self.f.next_value);
        self.f.next_value += 1;
        self.emit(format!("{name} = boxcall Shrinker.new({})", array.text));
        self.mark_shrunk();
        kept.then_some(name)
    }

    // ---- MapBox ----

    /// `MapBox.new()`, with up to two entries.
    fn new_map(&mut self) -> Val {
        let site = self.new_site();
        let map = self.define_reaching("boxcall MapBox.new()".into(), Ty::Box, Kind::Map, site, site);
        for _ in 0..self.rng.below(3) {
            self.map_set(&map);
        }
        map
    }

    /// A map in scope, or a new one.
    fn map(&mut self) -> Val {
        match self.pick_where(|v| v.kind == Kind::Map) {
            Some(m) if self.rng.percent(85) => m,
            _ => self.new_map(),
        }
    }

    /// A map key: usually one of a few literals, sometimes an i64 or short
    /// string in scope; an f64 (which traps) if risky.
    fn key(&mut self) -> Val {
        if self.risky() {
            return self.operand(Ty::F64);
        }
        match self.rng.below(20) {
            0..=3 => self.operand(Ty::I64),
            4 | 5 => self.short_string(),
            _ => {
                let text = self.rng.pick(KEY_LITERALS);
                let ty = match text {
                    "true" | "false" => Ty::Bool,
                    t if t.starts_with('"') => Ty::Box,
                    _ => Ty::I64,
                };
                Val::leaf(text, ty, if ty == Ty::Box { Kind::Str { short: true } } else { Kind::of(ty) })
            }
        }
    }

    /// `set` of a key in `map`.
    fn map_set(&mut self, map: &Val) {
        let k = self.key();
        let v = self.storable_operand(map);
        self.emit(format!("boxcall {}.set({}, {})", map.text, k.text, v.text));
    }

    /// A MapBox method on a map.
    fn map_op(&mut self) {
        let map = self.map();
        match self.rng.below(9) {
            0 | 1 => self.map_set(&map),
            2 | 3 if !self.risky() => self.guarded_get(&map),
            2 | 3 => {
                let k = self.key();
                self.define_reaching(
                    format!("boxcall {}.get({})", map.text, k.text),
                    Ty::Box,
                    Kind::Unknown,
                    map.reach,
                    0,
                );
            }
            4 | 5 => {
                let method = self.rng.pick(&["has", "delete"]);
                let k = self.key();
                self.method_result(format!("boxcall {}.{method}({})", map.text, k.text), Ty::Bool);
            }
            6 => {
                self.method_result(format!("boxcall {}.size()", map.text), Ty::I64);
            }
            _ => {
                let site = self.new_site();
                let method = self.rng.pick(&["keys", "values"]);
                let list = format!("boxcall {}.{method}()", map.text);
                self.define_reaching(list, Ty::Box, Kind::Array { nonempty: false }, site, site);
            }
        }
    }

    /// `get` of a key only if `has` says it is there, else `null`: a diamond
    /// joined by a box phi.
    fn guarded_get(&mut self, map: &Val) {
        let k = self.key();
        let has = self.define(format!("boxcall {}.has({}) -> bool", map.text, k.text), Ty::Bool, Kind::Bool);
        let (yes, no, join) = (self.label(), self.label(), self.label());
        self.emit(format!("branch {}, {yes}, {no}", has.text));
        let mark = self.f.scope.len();
        self.start_block(yes.clone());
        let got =
            self.define_reaching(format!("boxcall {}.get({})", map.text, k.text), Ty::Box, Kind::Unknown, map.reach, 0);
        self.emit(format!("jump {join}"));
        self.f.scope.truncate(mark);
        self.start_block(no.clone());
        self.emit(format!("jump {join}"));
        self.start_block(join);
        let null = Val::leaf("null", Ty::Box, Kind::Null);
        self.phi(Ty::Box, &[(got, yes), (null, no)]);
    }

    // ---- StringBox ----

    /// A StringBox method on a string; `concat` most often.
    fn string_op(&mut self) {
        let s = self.string_operand();
        let s = self.materialize(s);
        match self.rng.below(9) {
            0..=2 => {
                let tail = if self.risky() { self.operand(Ty::I64) } else { self.short_string() };
                self.define(format!("boxcall {}.concat({})", s.text, tail.text), Ty::Box, Kind::Str { short: false });
            }
            3 => {
                self.method_result(format!("boxcall {}.length()", s.text), Ty::I64);
            }
            4 | 5 => self.substring(&s),
            6 => {
                let needle = self.string_operand();
                self.method_result(format!("boxcall {}.indexOf({})", s.text, needle.text), Ty::I64);
            }
            7 => {
                let method = self.rng.pick(&["contains", "startsWith", "endsWith"]);
                let needle = self.string_operand();
                self.method_result(format!("boxcall {}.{method}({})", s.text, needle.text), Ty::Bool);
            }
            _ => {
                let method = self.rng.pick(&["toUpper", "toLower"]);
                self.define(format!("boxcall {}.{method}()", s.text), Ty::Box, Kind::Str { short: false });
            }
        }
    }

    /// Bounds `i, j` for `substring` or `slice` of `seq`: `0 <= i <= j <=
    /// length` unless risky.
    fn range(&mut self, seq: &Val) -> (Val, Val) {
        if !self.risky() {
            let len = self.int(format!("boxcall {}.length() -> i64", seq.text));
            let room = self.int(format!("binop add {}, 1", len.text));
            let start = self.below_value(&room);
            let rest = self.int(format!("binop sub {}, {}", room.text, start.text));
            let extra = self.below_value(&rest);
            let end = self.int(format!("binop add {}, {}", start.text, extra.text));
            (start, end)
        } else {
            let i = Val::literal(self.rng.pick(INDEX_LITERALS), Ty::I64);
            (i, self.operand(Ty::I64))
        }
    }

    /// `substring(i, j)` of a string.
    fn substring(&mut self, s: &Val) {
        let (i, j) = self.range(s);
        let short = s.kind == Kind::Str { short: true };
        self.define(format!("boxcall {}.substring({}, {})", s.text, i.text, j.text), Ty::Box, Kind::Str { short });
    }

    // ---- Tracker ----

    /// A new tracker (numbered by allocation site), or its id read back.
    fn tracker(&mut self) {
        match self.pick_where(|v| v.kind == Kind::Tracker) {
            Some(t) if self.rng.percent(40) => {
                self.method_result(format!("boxcall {}.getField(\"id\")", t.text), Ty::I64);
            }
            _ => {
                self.new_tracker();
            }
        }
    }

    // ---- calls ----

    /// Helpers whose cost still fits the budget at the current point.
    fn affordable_helpers(&self) -> Vec<usize> {
        let room = self.f.budget.saturating_sub(self.f.cost);
        (0..self.funcs.len()).filter(|&i| self.funcs[i].cost.saturating_mul(self.f.mult) <= room).collect()
    }

    /// Charges a call of helper `index` to the cost budget.
    fn charge_call(&mut self, index: usize) {
        self.f.cost += self.funcs[index].cost * self.f.mult;
    }

    /// A recursion depth argument: masked to 0..=7 or a small literal; any
    /// i64 if risky (then `--max-depth` trips, or a negative depth stops at once).
    fn depth_arg(&mut self) -> Val {
        if self.risky() {
            return self.operand(Ty::I64);
        }
        match self.rng.below(10) {
            0 => Val::literal(self.rng.pick(&["0", "1", "2", "5"]), Ty::I64),
            _ => {
                let x = self.operand(Ty::I64);
                self.int(format!("binop and {}, 7", x.text))
            }
        }
    }

    /// An argument of type `ty`; for a parameter taken as an `array`, an
    /// array; for one taken as a user box of the classes in `object`, one.
    fn arg(&mut self, ty: Ty, array: bool, object: u8) -> Val {
        if array {
            self.array()
        } else if object != 0 {
            self.object_for(object)
        } else {
            self.operand(ty)
        }
    }

    /// Arguments of the types helper `index` takes.
    fn call_args(&mut self, index: usize) -> Vec<Val> {
        let callee = self.funcs[index].clone();
        let mut args = Vec::new();
        for (i, (&ty, &array)) in callee.params.iter().zip(&callee.array_params).enumerate() {
            let object = callee.object_params[i];
            let arg = if callee.recursive && i == 0 { self.depth_arg() } else { self.arg(ty, array, object) };
            args.push(arg);
        }
        args
    }

    /// Helpers that fit the budget and, unless arrays may shrink here, do
    /// not shrink the arrays passed to them.
    fn callable_helpers(&self) -> Vec<usize> {
        let mut candidates = self.affordable_helpers();
        candidates.retain(|&i| self.f.may_shrink || !self.funcs[i].shrinks);
        candidates
    }

    /// After a call of helper `index`: what is known about arrays is lost if
    /// it may have shrunk them.
    fn after_call(&mut self, index: usize) {
        if self.funcs[index].shrinks {
            self.mark_shrunk();
        }
    }

    /// A direct call of an earlier helper.
    fn direct_call(&mut self) -> bool {
        let candidates = self.callable_helpers();
        if candidates.is_empty() {
            return false;
        }
        let index = self.rng.pick(&candidates);
        let args = self.call_args(index);
        self.charge_call(index);
        let call = format!("call @{}({})", self.funcs[index].name, args_text(&args));
        match self.funcs[index].ret {
            Some(ty) => {
                self.define_call_result(call, ty);
            }
            None => self.emit(call),
        }
        self.after_call(index);
        true
    }

    /// A function value for an indirect call: one in scope, `const @f`, or a
    /// phi choosing between two helpers of one signature.
    fn function_value(&mut self) -> Option<(Val, usize)> {
        let candidates = self.callable_helpers();
        let existing = self.matching(|v| matches!(v.kind, Kind::Func(i) if candidates.contains(&i)));
        if self.rng.percent(50)
            && let Some(v) = self.choose(&existing)
            && let Kind::Func(index) = v.kind
        {
            return Some((v, index));
        }
        if candidates.is_empty() {
            return None;
        }
        let index = self.rng.pick(&candidates);
        let fv = self.define(format!("const @{}", self.funcs[index].name), Ty::Box, Kind::Func(index));
        let twins: Vec<usize> =
            candidates.iter().copied().filter(|&j| j != index && self.same_signature(index, j)).collect();
        if twins.is_empty() || self.rng.percent(50) {
            return Some((fv, index));
        }
        let twin = self.rng.pick(&twins);
        let other = Val::leaf(format!("@{}", self.funcs[twin].name), Ty::Box, Kind::Func(twin));
        let chosen = self.select(fv, other);
        let Kind::Func(index) = chosen.kind else { unreachable!("two helpers of one signature join to a Func") };
        Some((chosen, index))
    }

    /// `v1` or `v2`, chosen at run time by a diamond with empty arms.
    fn select(&mut self, v1: Val, v2: Val) -> Val {
        let cond = self.condition();
        let (first, second, join) = (self.label(), self.label(), self.label());
        self.emit(format!("branch {}, {first}, {second}", cond.text));
        self.start_block(first.clone());
        self.emit(format!("jump {join}"));
        self.start_block(second.clone());
        self.emit(format!("jump {join}"));
        self.start_block(join);
        let ty = v1.ty;
        self.phi(ty, &[(v1, first), (v2, second)])
    }

    /// An indirect call through a function value: well typed, or with a
    /// boxed argument (checked at run time); if risky, with a wrong arity, a
    /// box of the wrong kind or a wrong result type (traps).
    fn indirect_call(&mut self) -> bool {
        let Some((callee, index)) = self.function_value() else { return false };
        let mut args = self.call_args(index);
        if self.risky() {
            if args.is_empty() || self.rng.percent(50) {
                let ty = self.random_ty();
                args.push(self.operand(ty));
            } else {
                args.pop();
            }
        } else if self.rng.percent(15) {
            let params = &self.funcs[index].params;
            let scalars: Vec<usize> = (0..params.len()).filter(|&i| params[i] != Ty::Box).collect();
            if !scalars.is_empty() {
                let at = self.rng.pick(&scalars);
                let ty = self.funcs[index].params[at];
                args[at] = if self.risky() { self.operand(Ty::Box) } else { self.boxed(ty) };
            }
        }
        self.charge_call(index);
        let call = format!("call {}({})", callee.text, args_text(&args));
        match self.funcs[index].ret {
            None if self.rng.percent(70) => self.emit(call),
            None => {
                self.define(call, Ty::Box, Kind::Null);
            }
            Some(ty) => {
                if self.risky() {
                    let wrong = self.random_scalar_ty();
                    self.define(format!("{call} -> {}", wrong.name()), wrong, Kind::of(wrong));
                } else if self.rng.percent(65) {
                    self.define_call_result(format!("{call} -> {}", ty.name()), ty);
                } else {
                    let call = if self.rng.percent(50) { call } else { format!("{call} -> box") };
                    let (kind, reach) = if ty == Ty::Box { (Kind::Unknown, UNKNOWN_REACH) } else { (Kind::of(ty), 0) };
                    self.define_reaching(call, Ty::Box, kind, reach, 0);
                }
            }
        }
        self.after_call(index);
        true
    }

    // ---- control flow ----

    /// A phi of type `ty` in the current (just started) block.
    fn phi(&mut self, ty: Ty, entries: &[(Val, String)]) -> Val {
        let (first, _) = &entries[0];
        let (mut kind, mut reach, mut site) = (first.kind.clone(), first.reach, first.site);
        for (v, _) in &entries[1..] {
            let merged = Val { text: String::new(), ty, kind, reach, site };
            (kind, reach, site) = self.join(&merged, v);
        }
        let list: Vec<String> = entries.iter().map(|(v, label)| format!("[{}, {label}]", v.text)).collect();
        self.define_reaching(format!("phi {} {}", ty.name(), list.join(", ")), ty, kind, reach, site)
    }

    /// `return` of an operand of the function's result type.
    fn return_stmt(&mut self) {
        if let Some(ty) = self.f.boxed_ret {
            let v = self.boxed(ty);
            self.emit(format!("return {}", v.text));
            return;
        }
        match self.f.ret {
            Some(ty) => {
                let v = self.operand(ty);
                self.emit(format!("return {}", v.text));
            }
            None => self.emit("return".into()),
        }
    }

    /// A branch and join: two arms, one arm (the other edge goes straight to
    /// the join), or an arm that returns; joins get phis of random types.
    fn diamond(&mut self) -> bool {
        if self.f.nesting >= MAX_NESTING {
            return false;
        }
        let cond = self.condition();
        let phi_tys: Vec<Ty> = (0..self.rng.below(4)).map(|_| self.random_ty()).collect();
        self.f.nesting += 1;
        match self.rng.below(10) {
            0..6 => {
                let (then_label, else_label, join) = (self.label(), self.label(), self.label());
                self.emit(format!("branch {}, {then_label}, {else_label}", cond.text));
                let (then_vals, then_end) = self.arm(then_label, &join, &phi_tys);
                let (else_vals, else_end) = self.arm(else_label, &join, &phi_tys);
                self.start_block(join);
                for ((&ty, t), e) in phi_tys.iter().zip(then_vals).zip(else_vals) {
                    self.phi(ty, &[(t, then_end.clone()), (e, else_end.clone())]);
                }
            }
            6..9 => {
                let (arm_label, join) = (self.label(), self.label());
                let pre_vals: Vec<Val> = phi_tys.iter().map(|&ty| self.operand(ty)).collect();
                let pre_label = self.current_label();
                if self.rng.percent(50) {
                    self.emit(format!("branch {}, {arm_label}, {join}", cond.text));
                } else {
                    self.emit(format!("branch {}, {join}, {arm_label}", cond.text));
                }
                let (arm_vals, arm_end) = self.arm(arm_label, &join, &phi_tys);
                self.start_block(join);
                for ((&ty, a), p) in phi_tys.iter().zip(arm_vals).zip(pre_vals) {
                    self.phi(ty, &[(p, pre_label.clone()), (a, arm_end.clone())]);
                }
            }
            _ => {
                let (ret_label, cont) = (self.label(), self.label());
                self.emit(format!("branch {}, {ret_label}, {cont}", cond.text));
                let mark = self.f.scope.len();
                self.start_block(ret_label);
                let n = self.rng.below(3);
                self.stmts(n);
                self.return_stmt();
                self.f.scope.truncate(mark);
                self.start_block(cont);
            }
        }
        self.f.nesting -= 1;
        true
    }

    /// One arm of a diamond: a new block `label` with a few statements,
    /// ending in a jump to `join`. Returns the operands it passes to the
    /// join's phis (of types `phi_tys`) and the label of its last block.
    fn arm(&mut self, label: String, join: &str, phi_tys: &[Ty]) -> (Vec<Val>, String) {
        let mark = self.f.scope.len();
        self.start_block(label);
        let n = self.rng.below(5);
        self.stmts(n);
        let vals = phi_tys.iter().map(|&ty| self.operand(ty)).collect();
        let end = self.current_label();
        self.emit(format!("jump {join}"));
        self.f.scope.truncate(mark);
        (vals, end)
    }

    /// What a loop body may assume about a loop-carried phi entered with
    /// `init`: a string phi may grow, so it is not short; an array phi may be
    /// empty if the body may shrink arrays.
    fn carried_kind(init: &Val, shrinking: bool) -> Kind {
        match init.kind {
            Kind::Str { .. } => Kind::Str { short: false },
            Kind::Array { .. } if shrinking => Kind::Array { nonempty: false },
            ref kind => kind.clone(),
        }
    }

    /// The value a loop-carried phi takes on the back edge: itself, another
    /// phi of the header (so phis swap or rotate: parallel copies), a literal
    /// or a value in scope that fits it.
    fn loop_update(&mut self, phi: &Val, header_phis: &[Val]) -> Val {
        if self.rng.percent(20) {
            return phi.clone();
        }
        if self.rng.percent(35) {
            let others: Vec<&Val> = header_phis.iter().filter(|v| v.text != phi.text && self.fits(v, phi)).collect();
            if !others.is_empty() {
                return others[self.rng.below(others.len())].clone();
            }
        }
        if self.rng.percent(20) {
            let lit = self.literal(phi.ty);
            if self.fits(&lit, phi) {
                return lit;
            }
        }
        let candidates = self.matching(|v| self.fits(v, phi));
        self.choose(&candidates).unwrap_or_else(|| phi.clone())
    }

    /// A counted loop: a header with a counter phi and loop-carried phis, a
    /// body of statements (with, sometimes, a `break` edge to the exit, which
    /// then gets phis), trip count at most 4. Its body shrinks no array
    /// (keeping what is known about arrays on entry true on every
    /// iteration), or may shrink them and then assumes no array non-empty.
    fn counted_loop(&mut self) -> bool {
        if self.f.nesting >= MAX_NESTING || self.f.loops >= MAX_LOOP_NESTING {
            return false;
        }
        let (bound, trips) = if self.rng.percent(60) {
            let n = self.rng.below(5);
            (Val::literal(&n.to_string(), Ty::I64), n as u64)
        } else {
            let x = self.operand(Ty::I64);
            (self.int(format!("binop and {}, 3", x.text)), 3)
        };
        let outer_mult = self.f.mult;
        let body_mult = outer_mult * trips.max(1);
        if self.f.cost + body_mult * LOOP_BODY_ESTIMATE > self.f.budget {
            return false;
        }
        // Often all of one type, so that the phis can swap values.
        let same = self.rng.percent(50).then(|| self.random_ty());
        let carried_tys: Vec<Ty> = (0..self.rng.below(5)).map(|_| same.unwrap_or_else(|| self.random_ty())).collect();
        let inits: Vec<Val> = carried_tys.iter().map(|&ty| self.operand(ty)).collect();
        let has_break = self.rng.percent(30);
        let exit_tys: Vec<Ty> =
            if has_break { (0..self.rng.below(3)).map(|_| self.random_ty()).collect() } else { Vec::new() };
        let down = self.rng.percent(30);
        let shrinking = self.f.may_shrink && self.rng.percent(40);
        let pre_label = self.current_label();
        let (header_label, body_label, exit_label) = (self.label(), self.label(), self.label());
        self.emit(format!("jump {header_label}"));

        self.f.mult = outer_mult * (trips + 1);
        let header = self.start_block(header_label.clone());
        let counter = self.reserve(Ty::I64, Kind::Int, 0, 0);
        let carried: Vec<Val> = inits
            .iter()
            .map(|init| self.reserve(init.ty, Gen::carried_kind(init, shrinking), init.reach, init.site))
            .collect();
        let more = if down {
            self.define(format!("compare gt {}, 0", counter.text), Ty::Bool, Kind::Bool)
        } else {
            self.define(format!("compare lt {}, {}", counter.text, bound.text), Ty::Bool, Kind::Bool)
        };
        self.emit(format!("branch {}, {body_label}, {exit_label}", more.text));

        let mark = self.f.scope.len();
        self.f.mult = body_mult;
        self.f.nesting += 1;
        self.f.loops += 1;
        let outer_may_shrink = self.f.may_shrink;
        self.f.may_shrink = shrinking;
        if shrinking {
            self.forget_nonempty();
        }
        self.start_block(body_label);
        let n = self.rng.between(1, 5);
        self.stmts(n);
        let break_edge = has_break.then(|| {
            let cond = self.condition();
            let vals: Vec<Val> = exit_tys.iter().map(|&ty| self.operand(ty)).collect();
            let from = self.current_label();
            let cont = self.label();
            self.emit(format!("branch {}, {exit_label}, {cont}", cond.text));
            self.start_block(cont);
            let n = self.rng.below(3);
            self.stmts(n);
            (vals, from)
        });
        let updates: Vec<Val> = carried.iter().map(|phi| self.loop_update(phi, &carried)).collect();
        let step = if down { "sub" } else { "add" };
        let next = self.int(format!("binop {step} {}, 1", counter.text));
        let latch = self.current_label();
        self.emit(format!("jump {header_label}"));
        self.f.scope.truncate(mark);
        self.f.mult = outer_mult;
        self.f.nesting -= 1;
        self.f.loops -= 1;
        self.f.may_shrink = outer_may_shrink;

        let start = if down { bound.text.as_str() } else { "0" };
        let mut phis = vec![format!("{} = phi i64 [{start}, {pre_label}], [{}, {latch}]", counter.text, next.text)];
        for ((phi, init), update) in carried.iter().zip(&inits).zip(&updates) {
            let ty = phi.ty.name();
            phis.push(format!("{} = phi {ty} [{}, {pre_label}], [{}, {latch}]", phi.text, init.text, update.text));
        }
        self.f.cost += outer_mult * (trips + 1) * phis.len() as u64;
        self.f.blocks[header].lines.splice(0..0, phis);

        // Chosen before the exit block starts: a phi cannot take another phi of its block.
        let header_vals: Vec<Val> = exit_tys.iter().map(|&ty| self.operand(ty)).collect();
        self.start_block(exit_label);
        if let Some((break_vals, from)) = break_edge {
            for ((&ty, from_header), from_break) in exit_tys.iter().zip(header_vals).zip(break_vals) {
                self.phi(ty, &[(from_header, header_label.clone()), (from_break, from.clone())]);
            }
        }
        true
    }

    // ---- arrays that shrink behind a loop ----

    /// A value naming `array` too: a `typeop cast` of it, a phi choosing
    /// between it and itself or another array, or `array` itself.
    fn alias(&mut self, array: &Val) -> Val {
        match self.rng.below(4) {
            0 => {
                let cast = format!("typeop cast {} to box", array.text);
                self.define_reaching(cast, Ty::Box, array.kind.clone(), array.reach, array.site)
            }
            1 => {
                let other = if self.rng.percent(60) { array.clone() } else { self.array() };
                self.select(array.clone(), other)
            }
            _ => array.clone(),
        }
    }

    /// A loop that reads and writes an array — `get`/`set` at the loop
    /// counter or below the length, each guarded by a fresh `length` — through
    /// several values naming it (the array, an [`alias`](Gen::alias) and a
    /// loop-carried phi), while, in the same body, calls of helpers taking
    /// it, methods through the other names and dying shrinkers pop, remove,
    /// clear, push and insert; trip count at most 4.
    fn shrink_loop(&mut self) -> bool {
        if !self.f.may_shrink || self.f.nesting >= MAX_NESTING || self.f.loops >= MAX_LOOP_NESTING {
            return false;
        }
        let (bound, trips) = if self.rng.percent(60) {
            let n = self.rng.between(1, 4);
            (Val::literal(&n.to_string(), Ty::I64), n as u64)
        } else {
            let x = self.operand(Ty::I64);
            (self.int(format!("binop and {}, 3", x.text)), 3)
        };
        let outer_mult = self.f.mult;
        let body_mult = outer_mult * trips;
        if self.f.cost + body_mult * LOOP_BODY_ESTIMATE * 2 > self.f.budget {
            return false;
        }
        let array = self.array();
        // Elements for the body to take away.
        for _ in 0..self.rng.below(4) {
            self.push(&array);
        }
        let alias = self.alias(&array);
        let pre_label = self.current_label();
        let (header_label, body_label, exit_label) = (self.label(), self.label(), self.label());
        self.emit(format!("jump {header_label}"));

        self.f.mult = outer_mult * (trips + 1);
        let header = self.start_block(header_label.clone());
        let counter = self.reserve(Ty::I64, Kind::Int, 0, 0);
        let (_, reach, site) = self.join(&array, &alias);
        let carried = self.reserve(Ty::Box, Kind::Array { nonempty: false }, reach, site);
        let more = self.define(format!("compare lt {}, {}", counter.text, bound.text), Ty::Bool, Kind::Bool);
        self.emit(format!("branch {}, {body_label}, {exit_label}", more.text));

        let mark = self.f.scope.len();
        self.f.mult = body_mult;
        self.f.nesting += 1;
        self.f.loops += 1;
        self.start_block(body_label);
        self.forget_nonempty();
        let maybe_empty = |v: &Val| Val { kind: Kind::Array { nonempty: false }, ..v.clone() };
        let views = [maybe_empty(&array), maybe_empty(&alias), carried.clone()];
        let mut kept = None;
        let steps = self.rng.between(2, 6);
        // If risky, one step uses an index read before the array may shrink.
        let stale = if self.risky() { self.rng.below(steps) } else { steps };
        for step in 0..steps {
            let pending = kept.take();
            if step == stale {
                self.stale_index(&views);
            } else {
                self.shrink_step(&views, &counter, &mut kept);
            }
            if let Some(shrinker) = pending {
                self.define(format!("typeop is {shrinker}, Shrinker"), Ty::Bool, Kind::Bool);
            }
        }
        if let Some(shrinker) = kept {
            self.define(format!("typeop is {shrinker}, Shrinker"), Ty::Bool, Kind::Bool);
        }
        if self.rng.percent(50) {
            let view = &views[self.rng.below(views.len())];
            let len = self.int(format!("boxcall {}.length() -> i64", view.text));
            self.emit(format!("externcall env.console.log({})", len.text));
        }
        let next = self.int(format!("binop add {}, 1", counter.text));
        let latch = self.current_label();
        self.emit(format!("jump {header_label}"));
        self.f.scope.truncate(mark);
        self.f.mult = outer_mult;
        self.f.nesting -= 1;
        self.f.loops -= 1;

        let update = if self.rng.percent(50) { &alias } else { &carried };
        let phis = vec![
            format!("{} = phi i64 [0, {pre_label}], [{}, {latch}]", counter.text, next.text),
            format!("{} = phi box [{}, {pre_label}], [{}, {latch}]", carried.text, array.text, update.text),
        ];
        self.f.cost += outer_mult * (trips + 1) * phis.len() as u64;
        self.f.blocks[header].lines.splice(0..0, phis);
        self.start_block(exit_label);
        if self.rng.percent(50) {
            let shown = if self.rng.percent(50) { &array } else { &carried };
            self.emit(format!("externcall env.console.log({})", shown.text));
        }
        true
    }

    /// One step of a [`Gen::shrink_loop`] body, on one of `views` (values
    /// naming the loop's array): a guarded `get`, `set` or `remove`, a call of
    /// a helper taking the array, a method that shrinks or grows it, a
    /// shrinker (dying at once or, put in `kept`, after the next step), its
    /// length printed, or any statement.
    fn shrink_step(&mut self, views: &[Val], counter: &Val, kept: &mut Option<String>) {
        let view = views[self.rng.below(views.len())].clone();
        let at_counter = self.rng.percent(60).then_some(counter);
        match self.rng.below(15) {
            0..=3 => {
                if let Some(got) = self.guarded(&view, at_counter, Guarded::Get)
                    && self.rng.percent(60)
                {
                    self.emit(format!("externcall env.console.log({})", got.text));
                }
            }
            4 | 5 => {
                self.guarded(&view, at_counter, Guarded::Set);
            }
            6..=8 => {
                if !self.call_with_array(&view, false) {
                    self.shrink(&view);
                }
            }
            9 => self.shrink(&view),
            10 => match self.rng.below(4) {
                0 => self.push(&view),
                1 => self.insert(&view),
                2 => self.grow(&view),
                _ => {
                    self.guarded(&view, at_counter, Guarded::Remove);
                }
            },
            11 => {
                let keep = kept.is_none() && self.rng.percent(50);
                if let Some(shrinker) = self.shrinker(&view, keep) {
                    *kept = Some(shrinker);
                }
            }
            12 => {
                let len = self.int(format!("boxcall {}.length() -> i64", view.text));
                self.emit(format!("externcall env.console.log({})", len.text));
            }
            _ => self.stmt(),
        }
    }

    /// The last index of one of `views`, read before a call of a helper that
    /// may shrink the array, a dying shrinker or a `pop` through another
    /// view, used after it: out of bounds (a trap) if the array shrank.
    fn stale_index(&mut self, views: &[Val]) {
        let view = views[self.rng.below(views.len())].clone();
        let len = self.int(format!("boxcall {}.length() -> i64", view.text));
        let last = self.int(format!("binop sub {}, 1", len.text));
        let other = views[self.rng.below(views.len())].clone();
        if !(self.rng.percent(60) && self.call_with_array(&other, true)) {
            if self.rng.percent(50) {
                self.shrinker(&other, false);
            } else {
                self.guarded(&other, None, Guarded::Pop);
            }
        }
        let get = format!("boxcall {}.get({})", view.text, last.text);
        let got = self.define_reaching(get, Ty::Box, Kind::Unknown, view.reach, 0);
        self.emit(format!("externcall env.console.log({})", got.text));
    }

    /// A call, direct or through `const @f`, of a helper that takes arrays
    /// (and, if `shrinking`, may shrink them), with `array` for one or all of
    /// its array parameters; false if no such helper fits the budget.
    fn call_with_array(&mut self, array: &Val, shrinking: bool) -> bool {
        let mut candidates = self.callable_helpers();
        candidates.retain(|&i| self.funcs[i].array_params.contains(&true) && (self.funcs[i].shrinks || !shrinking));
        if candidates.is_empty() {
            return false;
        }
        let index = self.rng.pick(&candidates);
        let mut args = self.call_args(index);
        let slots: Vec<usize> = (0..args.len()).filter(|&i| self.funcs[index].array_params[i]).collect();
        if self.rng.percent(30) {
            for &i in &slots {
                args[i] = array.clone();
            }
        } else {
            args[self.rng.pick(&slots)] = array.clone();
        }
        self.charge_call(index);
        let (name, ret) = (format!("@{}", self.funcs[index].name), self.funcs[index].ret);
        let (call, unbox) = if self.rng.percent(25) {
            let callee = self.define(format!("const {name}"), Ty::Box, Kind::Func(index));
            (format!("call {}({})", callee.text, args_text(&args)), true)
        } else {
            (format!("call {name}({})", args_text(&args)), false)
        };
        match ret {
            Some(ty) if unbox => {
                self.define_call_result(format!("{call} -> {}", ty.name()), ty);
            }
            Some(ty) => {
                self.define_call_result(call, ty);
            }
            None => self.emit(call),
        }
        self.after_call(index);
        true
    }
}

impl Gen {
    // ---- user boxes ----

    /// Declares the program's user classes (two or three, sharing field
    /// names at different slots and method names with different signatures)
    /// and generates their methods, `birth` and `fini`; returns their text.
    /// Methods are generated first: they call no helper, make no user box,
    /// and call (on `%self` or, if risky, on anything) only methods whose
    /// names come before theirs, so every call ends.
    fn user_classes(&mut self) -> String {
        let mut names = METHOD_POOL.to_vec();
        for _ in 0..self.rng.between(2, 4) {
            let name = names.swap_remove(self.rng.below(names.len()));
            let slots = (0..self.rng.below(4)).map(|_| self.random_slot()).collect();
            let ret = match self.rng.below(4) {
                0 => None,
                1 => Some(Ty::Box),
                _ => Some(self.random_scalar_ty()),
            };
            self.methods.push(MethodName { name, slots, ret });
        }
        let shared = self.rng.pick(FIELD_POOL);
        let count = self.rng.between(2, CLASS_NAMES.len());
        for &class_name in &CLASS_NAMES[..count] {
            let mut pool: Vec<(&'static str, FieldKind)> =
                FIELD_POOL.iter().copied().filter(|&(name, _)| name != shared.0).collect();
            let mut fields = Vec::new();
            for _ in 0..self.rng.between(1, 3) {
                let (name, kind) = pool.swap_remove(self.rng.below(pool.len()));
                fields.push((name, kind, false));
            }
            let at = self.rng.between(0, fields.len());
            fields.insert(at, (shared.0, shared.1, false));
            for field in &mut fields {
                field.2 = matches!(field.1, FieldKind::Leaf | FieldKind::Any) && self.rng.percent(35);
            }
            let methods = (0..self.methods.len())
                .map(|m| (m == 0 || self.rng.percent(65)).then(|| self.method_decl(m)))
                .collect();
            let birth = self.rng.percent(35).then(|| {
                let slots: Vec<FieldKind> = (0..self.rng.below(4)).map(|_| self.random_slot()).collect();
                let params = slots.iter().map(|&slot| self.declared(slot, false)).collect();
                (slots, MethodImpl { params, ret: None, cost: 0 })
            });
            let fini =
                self.rng.percent(40).then(|| self.rng.percent(50).then(|| fields[self.rng.below(fields.len())].0));
            self.classes.push(ClassInfo { name: class_name.to_string(), fields, methods, birth, fini });
        }
        let mut bodies = String::new();
        for m in 0..self.methods.len() {
            for c in 0..self.classes.len() {
                if self.classes[c].methods[m].is_some() {
                    let (body, cost) = self.method_body(c, Some(m));
                    self.classes[c].methods[m].as_mut().expect("declared").cost = cost;
                    bodies.push_str(&body);
                }
            }
        }
        for c in 0..self.classes.len() {
            if self.classes[c].birth.is_some() {
                let (body, cost) = self.method_body(c, None);
                self.classes[c].birth.as_mut().expect("declared").1.cost = cost;
                bodies.push_str(&body);
            }
        }
        let mut text = String::new();
        for class in &self.classes {
            writeln!(text, "box {} {{", class.name).unwrap();
            for &(name, _, weak) in &class.fields {
                writeln!(text, "  field {}{name}", if weak { "weak " } else { "" }).unwrap();
            }
            for (m, method) in self.methods.iter().enumerate() {
                if class.methods[m].is_some() {
                    writeln!(text, "  method {} @{}.{}", method.name, class.name, method.name).unwrap();
                }
            }
            if class.birth.is_some() {
                writeln!(text, "  method birth @{}.birth", class.name).unwrap();
            }
            if class.fini.is_some() {
                writeln!(text, "  method fini @{}.fini", class.name).unwrap();
            }
            text.push_str("}\n\n");
        }
        text.push_str(&bodies);
        for class in &self.classes {
            let Some(shown) = class.fini else { continue };
            let name = &class.name;
            writeln!(text, "func @{name}.fini(%self: box) {{\nentry:").unwrap();
            writeln!(text, "  externcall env.console.print(\"fini {name} \")").unwrap();
            match shown {
                Some(field) => {
                    writeln!(text, "  %f = boxcall %self.getField(\"{field}\")").unwrap();
                    writeln!(text, "  externcall env.console.log(%f)").unwrap();
                }
                None => writeln!(text, "  externcall env.console.log(%self)").unwrap(),
            }
            text.push_str("  return\n}\n\n");
        }
        text
    }

    /// A method parameter's kind: a scalar or a short leaf.
    fn random_slot(&mut self) -> FieldKind {
        if self.rng.percent(70) { FieldKind::Scalar(self.random_scalar_ty()) } else { FieldKind::Leaf }
    }

    /// One class's declaration of method `m`: each scalar parameter as
    /// itself or `box` (rarely another scalar), the result as itself, `box`
    /// or nothing.
    fn method_decl(&mut self, m: usize) -> MethodImpl {
        let natural = self.methods[m].clone();
        let params = natural.slots.iter().map(|&slot| self.declared(slot, true)).collect();
        let ret = match natural.ret {
            Some(Ty::Box) => self.rng.percent(80).then_some(Ty::Box),
            Some(ty) => match self.rng.below(10) {
                0..=4 => Some(ty),
                5..=7 => Some(Ty::Box),
                _ => None,
            },
            None => None,
        };
        MethodImpl { params, ret, cost: 0 }
    }

    /// How a parameter of kind `slot` is declared: a scalar as itself or as
    /// `box` or, if `odd`, rarely as another scalar; a leaf as `box`.
    fn declared(&mut self, slot: FieldKind, odd: bool) -> Ty {
        match slot {
            FieldKind::Scalar(ty) => match self.rng.below(20) {
                0 | 1 if odd => loop {
                    let other = self.random_scalar_ty();
                    if other != ty {
                        break other;
                    }
                },
                roll if roll < 12 => ty,
                _ => Ty::Box,
            },
            _ => Ty::Box,
        }
    }

    /// The body of class `c`'s method `m` (or, for `None`, its `birth`,
    /// which sets every scalar field first), and its cost: statements,
    /// operations on `%self`'s fields and calls of its earlier methods.
    fn method_body(&mut self, c: usize, m: Option<usize>) -> (String, u64) {
        let class = self.classes[c].clone();
        let (name, slots, decl, limit, natural_ret) = match m {
            Some(m) => {
                let method = &self.methods[m];
                let decl = class.methods[m].clone().expect("declared");
                (format!("{}.{}", class.name, method.name), method.slots.clone(), decl, m, method.ret)
            }
            None => {
                let (slots, decl) = class.birth.clone().expect("declared");
                (format!("{}.birth", class.name), slots, decl, self.methods.len(), None)
            }
        };
        let mut params = vec![Ty::Box];
        params.extend(&decl.params);
        self.f = FuncState::new(&params, decl.ret, METHOD_BUDGET);
        self.f.method_limit = Some(limit);
        self.f.scope[0].kind = Kind::Object(1 << c);
        for (i, (&slot, &ty)) in slots.iter().zip(&decl.params).enumerate() {
            let param = &mut self.f.scope[i + 1];
            match slot {
                FieldKind::Scalar(natural) if ty == Ty::Box => (param.kind, param.reach) = (Kind::of(natural), 0),
                FieldKind::Scalar(_) => {}
                _ => (param.kind, param.reach) = (Kind::Leaf, 0),
            }
        }
        if decl.ret == Some(Ty::Box)
            && let Some(natural) = natural_ret
            && natural != Ty::Box
        {
            self.f.boxed_ret = Some(natural);
        }
        let me = self.f.scope[0].clone();
        if m.is_none() {
            for &(field, kind, _) in &class.fields {
                if matches!(kind, FieldKind::Scalar(_)) || self.rng.percent(40) {
                    let wrong = self.risky();
                    self.set_field(&me, field, kind, wrong);
                }
            }
        }
        let n = if self.rng.percent(35) { self.rng.below(3) } else { self.rng.between(2, 8) };
        for _ in 0..n {
            if self.rng.percent(50) {
                let risky = self.risky();
                self.object_op_on(&me, risky);
            } else {
                self.stmt();
            }
        }
        self.return_stmt();
        (self.render(&name, &params), self.f.cost)
    }

    /// The user classes in `mask` (not the tracker).
    fn classes_in(&self, mask: u8) -> Vec<usize> {
        (0..self.classes.len()).filter(|&c| mask & (1 << c) != 0).collect()
    }

    /// A random non-empty set of user classes, now and then with the tracker.
    fn random_mask(&mut self) -> u8 {
        let all = (1u8 << self.classes.len()) - 1;
        let mut mask = 0;
        while mask == 0 {
            mask = self.rng.next() as u8 & all;
        }
        if self.rng.percent(10) {
            mask |= TRACKER_BIT;
        }
        mask
    }

    /// The fields every class in `mask` has.
    fn common_fields(&self, mask: u8) -> Vec<(&'static str, FieldKind)> {
        let mut lists: Vec<Vec<(&'static str, FieldKind, bool)>> =
            self.classes_in(mask).into_iter().map(|c| self.classes[c].fields.clone()).collect();
        if mask & TRACKER_BIT != 0 {
            lists.push(vec![("id", FieldKind::Scalar(Ty::I64), false)]);
        }
        let Some(first) = lists.first() else { return Vec::new() };
        first
            .iter()
            .filter(|f| lists.iter().all(|list| list.iter().any(|g| g.0 == f.0)))
            .map(|&(name, kind, _)| (name, kind))
            .collect()
    }

    /// A field name some class in `mask` lacks (a trap there), or none has.
    fn lacking_field(&mut self, mask: u8) -> (&'static str, FieldKind) {
        let common = self.common_fields(mask);
        let others: Vec<(&'static str, FieldKind)> =
            FIELD_POOL.iter().copied().filter(|f| !common.iter().any(|g| g.0 == f.0)).collect();
        if others.is_empty() || self.rng.percent(20) { ("nope", FieldKind::Any) } else { self.rng.pick(&others) }
    }

    /// The implementations of method `m` in the classes of `mask`, and
    /// whether every class there has one.
    fn method_impls(&self, mask: u8, m: usize) -> (Vec<MethodImpl>, bool) {
        let mut complete = mask & TRACKER_BIT == 0;
        let mut impls = Vec::new();
        for c in self.classes_in(mask) {
            match &self.classes[c].methods[m] {
                Some(method) => impls.push(method.clone()),
                None => complete = false,
            }
        }
        (impls, complete)
    }

    /// How many method names may be called here (fewer inside a method).
    fn callable_methods(&self) -> usize {
        self.f.method_limit.unwrap_or(self.methods.len())
    }

    /// Methods that every class in `mask` has, with parameters that one
    /// argument suits in all of them (a scalar or its box).
    fn safe_methods(&self, mask: u8) -> Vec<usize> {
        (0..self.callable_methods())
            .filter(|&m| {
                let (impls, complete) = self.method_impls(mask, m);
                complete
                    && impls.iter().all(|method| {
                        method.params.iter().zip(&self.methods[m].slots).all(|(&ty, &slot)| match slot {
                            FieldKind::Scalar(natural) => ty == natural || ty == Ty::Box,
                            _ => true,
                        })
                    })
            })
            .collect()
    }

    /// A new tracker.
    fn new_tracker(&mut self) -> Val {
        self.next_tracker += 1;
        let rhs = format!("boxcall Tracker.new({})", self.next_tracker);
        self.define(rhs, Ty::Box, Kind::Tracker)
    }

    /// A short leaf: often a new tracker (so replacing or dropping it shows
    /// in `fini` output), a short leaf in scope or a literal.
    fn leaf_operand(&mut self) -> Val {
        match self.rng.below(10) {
            0..=3 => self.new_tracker(),
            4..=6 => match self.pick_where(|v| v.ty == Ty::Box && v.is_short_leaf()) {
                Some(v) => v,
                None => self.literal(Ty::Box),
            },
            _ => {
                let ty = self.random_ty();
                self.literal(ty)
            }
        }
    }

    /// An argument for a parameter of kind `slot`: a scalar or its box (if
    /// `wrong`, a string or another scalar: a trap where a scalar is declared).
    fn slot_arg(&mut self, slot: FieldKind, wrong: bool) -> Val {
        match slot {
            FieldKind::Scalar(_) if wrong => {
                if self.rng.percent(50) {
                    self.string_literal()
                } else {
                    let ty = self.random_scalar_ty();
                    self.operand(ty)
                }
            }
            FieldKind::Scalar(ty) => {
                if self.rng.percent(65) {
                    self.operand(ty)
                } else {
                    self.boxed(ty)
                }
            }
            _ => self.leaf_operand(),
        }
    }

    /// A value for a field of kind `kind` of `into`.
    fn field_value(&mut self, kind: FieldKind, into: &Val, wrong: bool) -> Val {
        match kind {
            FieldKind::Any => self.storable_operand(into),
            slot => self.slot_arg(slot, wrong),
        }
    }

    /// `getField` of a constant name.
    fn get_field(&mut self, obj: &Val, name: &str, kind: FieldKind) -> Val {
        let call = format!("boxcall {}.getField(\"{name}\")", obj.text);
        match kind {
            FieldKind::Scalar(ty) => self.method_result(call, ty),
            FieldKind::Leaf => self.define(call, Ty::Box, Kind::Leaf),
            FieldKind::Any => self.define_reaching(call, Ty::Box, Kind::Unknown, obj.reach, 0),
        }
    }

    /// `setField` of a constant name (replacing, and maybe releasing, what
    /// the field held); if `wrong`, of a value of the wrong kind.
    fn set_field(&mut self, obj: &Val, name: &str, kind: FieldKind, wrong: bool) {
        let v = self.field_value(kind, obj, wrong);
        let call = format!("boxcall {}.setField(\"{name}\", {})", obj.text, v.text);
        if self.rng.percent(10) {
            self.define(call, Ty::Box, Kind::Null);
        } else {
            self.emit(call);
        }
    }

    /// `getField` or `setField` with an argument too many or too few: an
    /// arity trap, which no backend's field cache may answer instead.
    fn field_wrong_arity(&mut self, obj: &Val, name: &str) {
        let extra = self.leaf_operand();
        let (o, x) = (&obj.text, &extra.text);
        let call = match self.rng.below(3) {
            0 => format!("boxcall {o}.getField(\"{name}\", {x})"),
            1 => format!("boxcall {o}.setField(\"{name}\")"),
            _ => format!("boxcall {o}.setField(\"{name}\", {x}, {x})"),
        };
        self.emit(call);
    }

    /// Reads a field of kind `Any` and, if it holds an array, pushes onto
    /// it (only ever growing it): a method changing an array behind its
    /// caller's back.
    fn grow_field_array(&mut self, obj: &Val, name: &str) {
        let v = self.get_field(obj, name, FieldKind::Any);
        let is = self.define(format!("typeop is {}, ArrayBox", v.text), Ty::Bool, Kind::Bool);
        let (yes, join) = (self.label(), self.label());
        self.emit(format!("branch {}, {yes}, {join}", is.text));
        let mark = self.f.scope.len();
        self.start_block(yes);
        for _ in 0..self.rng.between(1, 4) {
            let leaf = self.leaf_operand();
            self.emit(format!("boxcall {}.push({})", v.text, leaf.text));
        }
        self.emit(format!("jump {join}"));
        self.f.scope.truncate(mark);
        self.start_block(join);
    }

    /// A call of method `m` on a user box: arguments of the natural kinds,
    /// the result unboxed with `-> TYPE` only if every class returns a
    /// value; if `risky`, with a wrong argument, arity or unboxing.
    fn method_call(&mut self, recv: &Val, m: usize, risky: bool) {
        let name = self.methods[m].clone();
        let (impls, complete) = self.method_impls(recv.kind.mask(), m);
        let wrong = if risky { self.rng.below(3) } else { 3 };
        let mut args: Vec<Val> = Vec::new();
        for &slot in &name.slots {
            let bad = wrong == 0 && self.rng.percent(50);
            let arg = self.slot_arg(slot, bad);
            args.push(arg);
        }
        if wrong == 1 {
            if args.is_empty() || self.rng.percent(50) {
                let extra = self.leaf_operand();
                args.push(extra);
            } else {
                args.pop();
            }
        }
        let cost = impls.iter().map(|method| method.cost).max().unwrap_or(0);
        self.f.cost += cost * self.f.mult;
        let call = format!("boxcall {}.{}({})", recv.text, name.name, args_text(&args));
        let returns = complete && impls.iter().all(|method| method.ret.is_some());
        match name.ret {
            _ if wrong == 2 => {
                let ty = self.random_scalar_ty();
                self.define(format!("{call} -> {}", ty.name()), ty, Kind::of(ty));
            }
            Some(ty) if ty != Ty::Box && returns => {
                self.method_result(call, ty);
            }
            None if complete && self.rng.percent(40) => {
                self.define(call, Ty::Box, Kind::Null);
            }
            _ if self.rng.percent(40) => self.emit(call),
            _ => {
                self.define_reaching(call, Ty::Box, Kind::Unknown, UNKNOWN_REACH, 0);
            }
        }
    }

    /// An operation on the user box `obj`: a method its classes all have (if
    /// `risky`, any, or with a wrong argument, arity or unboxing), `getField`
    /// or `setField` of a field they all have (if `risky`, of one some lack),
    /// or an array in a field grown.
    fn object_op_on(&mut self, obj: &Val, risky: bool) {
        let mask = obj.kind.mask();
        let roll = self.rng.below(10);
        if roll >= 5 {
            let callable = self.callable_methods();
            let safe = self.safe_methods(mask);
            let m = if risky && callable > 0 && self.rng.percent(50) {
                Some(self.rng.below(callable))
            } else {
                (!safe.is_empty()).then(|| self.rng.pick(&safe))
            };
            if let Some(m) = m {
                let wrong = risky && safe.contains(&m);
                self.method_call(obj, m, wrong);
                return;
            }
        }
        let common = self.common_fields(mask);
        let (name, kind) = match common.is_empty() {
            _ if risky => self.lacking_field(mask),
            // A tracker and a class without `id`, say: only `typeop is` is safe.
            true => {
                let class = self.classes[self.rng.below(self.classes.len())].name.clone();
                let is = self.define(format!("typeop is {}, {class}", obj.text), Ty::Bool, Kind::Bool);
                self.emit(format!("externcall env.console.log({})", is.text));
                return;
            }
            false => self.rng.pick(&common),
        };
        if risky && self.rng.percent(15) {
            self.field_wrong_arity(obj, name);
            return;
        }
        match roll {
            3 | 4 | 8 => self.set_field(obj, name, kind, false),
            9 if kind == FieldKind::Any => self.grow_field_array(obj, name),
            _ => {
                let v = self.get_field(obj, name, kind);
                if self.rng.percent(20) {
                    self.emit(format!("externcall env.console.log({})", v.text));
                }
            }
        }
    }

    /// A new user box of class `c`: `new` with a value for each field or,
    /// with a `birth`, its arguments (if risky, one too many or too few, or
    /// one of a wrong kind).
    fn new_object(&mut self, c: usize) -> Val {
        let site = self.new_site();
        let bit = 1 << c;
        let target = Val { text: String::new(), ty: Ty::Box, kind: Kind::Object(bit), reach: site, site };
        let class = self.classes[c].clone();
        let wrong = if self.risky() { self.rng.below(2) } else { 2 };
        let mut args = Vec::new();
        match &class.birth {
            Some((slots, birth)) => {
                for &slot in slots {
                    let bad = wrong == 0 && self.rng.percent(50);
                    let arg = self.slot_arg(slot, bad);
                    args.push(arg);
                }
                self.f.cost += birth.cost * self.f.mult;
            }
            None => {
                for &(_, kind, _) in &class.fields {
                    let bad = wrong == 0 && self.rng.percent(50);
                    let arg = self.field_value(kind, &target, bad);
                    args.push(arg);
                }
            }
        }
        if wrong == 1 {
            if args.is_empty() || self.rng.percent(50) {
                args.push(self.literal(Ty::I64));
            } else {
                args.pop();
            }
        }
        let rhs = format!("boxcall {}.new({})", class.name, args_text(&args));
        self.define_reaching(rhs, Ty::Box, Kind::Object(bit), site, site)
    }

    /// A user box in scope, a new one, or a phi choosing between two (often
    /// of different classes); inside a method, only what is in scope.
    fn object(&mut self) -> Option<Val> {
        let objects = self.matching(|v| v.kind.mask() != 0);
        if self.f.method_limit.is_some() {
            return self.choose(&objects);
        }
        let n = self.classes.len();
        match self.rng.below(10) {
            0 | 1 => {
                let a = match self.choose(&objects) {
                    Some(v) if self.rng.percent(50) => v,
                    _ => {
                        let c = self.rng.below(n);
                        self.new_object(c)
                    }
                };
                let others = self.matching(|v| v.kind.mask() != 0 && v.kind.mask() != a.kind.mask());
                let b = match self.choose(&others) {
                    Some(v) if self.rng.percent(50) => v,
                    _ => {
                        let c = (a.kind.mask().trailing_zeros() as usize + 1 + self.rng.below(n - 1)) % n;
                        self.new_object(c)
                    }
                };
                Some(self.select(a, b))
            }
            2 => {
                let c = self.rng.below(n);
                Some(self.new_object(c))
            }
            _ => self.choose(&objects).or_else(|| {
                let c = self.rng.below(n);
                Some(self.new_object(c))
            }),
        }
    }

    /// An argument for a helper parameter taken as a user box of the classes
    /// in `mask`: one in scope or a new one (if risky, any box).
    fn object_for(&mut self, mask: u8) -> Val {
        if self.risky() {
            return self.operand(Ty::Box);
        }
        let fitting = self.matching(|v| v.kind.mask() != 0 && v.kind.mask() & !mask == 0);
        if self.rng.percent(75)
            && let Some(v) = self.choose(&fitting)
        {
            return v;
        }
        let classes = self.classes_in(mask);
        if classes.is_empty() || (mask & TRACKER_BIT != 0 && self.rng.percent(30)) {
            return self.new_tracker();
        }
        let c = self.rng.pick(&classes);
        self.new_object(c)
    }

    /// A new user box, now and then operated on at once.
    fn new_object_stmt(&mut self) -> bool {
        if self.classes.is_empty() || self.f.method_limit.is_some() {
            return false;
        }
        let c = self.rng.below(self.classes.len());
        let obj = self.new_object(c);
        if self.rng.percent(30) {
            let risky = self.risky();
            self.object_op_on(&obj, risky);
        }
        true
    }

    /// An operation on a user box (see [`Gen::object_op_on`]); if risky, on
    /// something that may not be one (see [`Gen::odd_receiver`]).
    fn object_stmt(&mut self) -> bool {
        if self.classes.is_empty() {
            return false;
        }
        let risky = self.risky();
        if risky && self.rng.percent(40) {
            self.odd_receiver();
            return true;
        }
        match self.object() {
            Some(obj) => {
                self.object_op_on(&obj, risky);
                true
            }
            None => false,
        }
    }

    /// A user method, `getField` or `setField` on a string, a number, `null`
    /// or any box: a trap unless it happens to be a user box that has it (or
    /// a built-in one with a method of that name).
    fn odd_receiver(&mut self) {
        let recv = match self.rng.below(4) {
            0 => {
                let s = self.string_literal();
                self.materialize(s)
            }
            1 => self.value(Ty::I64),
            2 => self.materialize(Val::leaf("null", Ty::Box, Kind::Null)),
            _ => self.value(Ty::Box),
        };
        let callable = self.callable_methods();
        let (name, _) = self.rng.pick(FIELD_POOL);
        if callable > 0 && self.rng.percent(50) {
            let m = self.rng.below(callable);
            let method = self.methods[m].clone();
            let mut args = Vec::new();
            for &slot in &method.slots {
                let arg = self.slot_arg(slot, false);
                args.push(arg);
            }
            let all = (1u8 << self.classes.len()) - 1;
            let cost = self.method_impls(all, m).0.iter().map(|i| i.cost).max().unwrap_or(0);
            self.f.cost += cost * self.f.mult;
            let call = format!("boxcall {}.{}({})", recv.text, method.name, args_text(&args));
            self.define_reaching(call, Ty::Box, Kind::Unknown, UNKNOWN_REACH, 0);
        } else if self.rng.percent(50) {
            let call = format!("boxcall {}.getField(\"{name}\")", recv.text);
            self.define_reaching(call, Ty::Box, Kind::Unknown, UNKNOWN_REACH, 0);
        } else {
            let v = self.leaf_operand();
            self.emit(format!("boxcall {}.setField(\"{name}\", {})", recv.text, v.text));
        }
    }

    /// A loop over an array of user boxes of different classes (the array
    /// never enters the scope, so nothing else changes it): each iteration
    /// operates on the element and on a loop-carried phi that takes the
    /// previous elements; trip count 2..=4.
    fn object_loop(&mut self) -> bool {
        if self.classes.is_empty()
            || self.f.method_limit.is_some()
            || self.f.nesting >= MAX_NESTING
            || self.f.loops >= MAX_LOOP_NESTING
        {
            return false;
        }
        let count = self.rng.between(2, 4);
        let outer_mult = self.f.mult;
        let body_mult = outer_mult * count as u64;
        if self.f.cost + body_mult * LOOP_BODY_ESTIMATE * 2 > self.f.budget {
            return false;
        }
        let first = self.rng.below(self.classes.len());
        let mut objects = Vec::new();
        for i in 0..count {
            let existing = self.matching(|v| matches!(v.kind, Kind::Object(_)));
            let obj = match self.choose(&existing) {
                Some(v) if self.rng.percent(if i >= 2 { 50 } else { 20 }) => v,
                _ => self.new_object((first + i) % self.classes.len()),
            };
            objects.push(obj);
        }
        let array = format!("%v{}", self.f.next_value);
        self.f.next_value += 1;
        self.emit(format!("{array} = boxcall ArrayBox.new()"));
        for obj in &objects {
            self.emit(format!("boxcall {array}.push({})", obj.text));
        }
        let mask = objects.iter().fold(0, |mask, obj| mask | obj.kind.mask());
        let reach = objects.iter().map(|obj| obj.reach).max().unwrap_or(0);
        let bound = if self.rng.percent(50) {
            Val::literal(&count.to_string(), Ty::I64)
        } else {
            self.int(format!("boxcall {array}.length() -> i64"))
        };
        let pre_label = self.current_label();
        let (header_label, body_label, exit_label) = (self.label(), self.label(), self.label());
        self.emit(format!("jump {header_label}"));

        self.f.mult = outer_mult * (count as u64 + 1);
        let header = self.start_block(header_label.clone());
        let counter = self.reserve(Ty::I64, Kind::Int, 0, 0);
        let carried = self.reserve(Ty::Box, Kind::Object(mask), reach, 0);
        let more = self.define(format!("compare lt {}, {}", counter.text, bound.text), Ty::Bool, Kind::Bool);
        self.emit(format!("branch {}, {body_label}, {exit_label}", more.text));

        let mark = self.f.scope.len();
        self.f.mult = body_mult;
        self.f.nesting += 1;
        self.f.loops += 1;
        let outer_may_shrink = self.f.may_shrink;
        self.f.may_shrink = false;
        self.start_block(body_label);
        let get = format!("boxcall {array}.get({})", counter.text);
        let element = self.define_reaching(get, Ty::Box, Kind::Object(mask), reach, 0);
        for _ in 0..self.rng.between(1, 3) {
            let target = if self.rng.percent(70) { element.clone() } else { carried.clone() };
            let risky = self.risky();
            self.object_op_on(&target, risky);
        }
        let n = self.rng.below(3);
        self.stmts(n);
        let update = if self.rng.percent(60) { element.clone() } else { carried.clone() };
        let next = self.int(format!("binop add {}, 1", counter.text));
        let latch = self.current_label();
        self.emit(format!("jump {header_label}"));
        self.f.scope.truncate(mark);
        self.f.mult = outer_mult;
        self.f.nesting -= 1;
        self.f.loops -= 1;
        self.f.may_shrink = outer_may_shrink;

        let phis = vec![
            format!("{} = phi i64 [0, {pre_label}], [{}, {latch}]", counter.text, next.text),
            format!("{} = phi box [{}, {pre_label}], [{}, {latch}]", carried.text, objects[0].text, update.text),
        ];
        self.f.cost += outer_mult * (count as u64 + 1) * phis.len() as u64;
        self.f.blocks[header].lines.splice(0..0, phis);
        self.start_block(exit_label);
        if self.rng.percent(40) {
            let risky = self.risky();
            self.object_op_on(&carried, risky);
        }
        true
    }
}

/// Operands separated by commas.
fn args_text(args: &[Val]) -> String {
    args.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(", ")
}

// ---- running ----

/// What a run shows: exit status, stdout, and the first line of stderr;
/// unless it trapped, all of stderr too (the `--stats` counts: the backends
/// allocate, reuse and free the same boxes at the same points, spec §6; after
/// a trap, what is still live is not specified).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    status: Option<i32>,
    stdout: String,
    stderr_first_line: String,
    stderr_unless_trapped: Option<String>,
}

/// Runs `program` on `backend` with `flags`.
fn run(program: &Path, backend: &str, flags: &[String]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_mir13"))
        .arg("run")
        .args(["--backend", backend])
        .args(flags)
        .arg(program)
        .env("MIR13_CACHE_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("differential-code-cache"))
        .output()
        .expect("mir13 starts");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stderr_first_line = stderr.lines().next().unwrap_or("").to_string();
    Outcome {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr_unless_trapped: (!stderr_first_line.starts_with("error: trap:")).then_some(stderr),
        stderr_first_line,
    }
}

/// `mir13 check`: `Ok` or the verifier's report.
fn verify(program: &Path) -> Result<(), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_mir13")).arg("check").arg(program).output().expect("mir13 starts");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// The seeds to test: `MIR13_DIFF_PROGRAMS` of them from
/// `MIR13_DIFF_FIRST_SEED` (defaults 300 from 0).
fn seeds() -> std::ops::Range<u64> {
    let var = |name: &str, default: u64| {
        std::env::var(name).map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
    };
    let first = var("MIR13_DIFF_FIRST_SEED", 0);
    first..first + var("MIR13_DIFF_PROGRAMS", DEFAULT_PROGRAMS)
}

/// A fresh directory for one test's program files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mir13-differential-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}

/// Writes the program for `seed` into `dir`; returns the program and its path.
fn write_program(dir: &Path, seed: u64) -> (Generated, PathBuf) {
    let program = generate(seed);
    let path = dir.join(format!("seed_{seed}.mir"));
    std::fs::write(&path, &program.text).expect("temp file is writable");
    (program, path)
}

/// Runs `job` for every seed, on as many threads as there are cores;
/// returns the results in seed order.
fn for_each_seed<T: Send>(job: impl Fn(u64) -> T + Sync) -> Vec<(u64, T)> {
    let seeds: Vec<u64> = seeds().collect();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut results: Vec<(u64, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (seeds, job) = (&seeds, &job);
                scope.spawn(move || {
                    seeds.iter().skip(worker).step_by(workers).map(|&seed| (seed, job(seed))).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker finishes")).collect()
    });
    results.sort_by_key(|&(seed, _)| seed);
    results
}

/// Describes the outcome of one backend for a failure report.
fn describe(backend: &str, outcome: &Outcome) -> String {
    let stderr = outcome.stderr_unless_trapped.as_deref().unwrap_or(&outcome.stderr_first_line);
    format!("--- {backend}: exit {:?}, stderr {stderr:?}, stdout:\n{}", outcome.status, outcome.stdout)
}

#[test]
fn generator_is_deterministic() {
    for seed in 0..20 {
        assert_eq!(generate(seed).text, generate(seed).text, "seed {seed}");
    }
}

#[test]
fn random_programs_pass_the_verifier() {
    let dir = scratch_dir("check");
    let failures: Vec<String> = for_each_seed(|seed| {
        let (program, path) = write_program(&dir, seed);
        verify(&path)
            .err()
            .map(|report| format!("seed {seed}: invalid program (a generator bug):\n{report}\n{}", program.text))
    })
    .into_iter()
    .filter_map(|(_, failure)| failure)
    .collect();
    std::fs::remove_dir_all(&dir).ok();
    assert!(failures.is_empty(), "{} invalid program(s); the first:\n{}", failures.len(), failures[0]);
}

#[test]
fn random_programs_agree_on_every_backend() {
    let dir = scratch_dir("run");
    let results = for_each_seed(|seed| {
        let (program, path) = write_program(&dir, seed);
        let mut outcomes: Vec<Outcome> = BACKENDS.iter().map(|b| run(&path, b, &program.flags)).collect();
        let agree = outcomes.iter().all(|o| *o == outcomes[0]);
        let report = (!agree).then(|| {
            let shown: Vec<String> = BACKENDS.iter().zip(&outcomes).map(|(b, o)| describe(b, o)).collect();
            format!(
                "seed {seed}: backends disagree (mir13 run {}):\n{}\n--- program:\n{}",
                program.flags.join(" "),
                shown.join("\n"),
                program.text
            )
        });
        (outcomes.swap_remove(0), report)
    });
    std::fs::remove_dir_all(&dir).ok();

    let traps = results.iter().filter(|(_, (o, _))| o.status == Some(1)).count();
    let fuel = results.iter().filter(|(_, (o, _))| o.stderr_first_line.ends_with("out of fuel")).count();
    println!("{} programs: {traps} trapped ({fuel} out of fuel) on the interpreter", results.len());
    let failures: Vec<(u64, String)> =
        results.into_iter().filter_map(|(seed, (_, report))| report.map(|r| (seed, r))).collect();
    let seeds: Vec<String> = failures.iter().map(|(seed, _)| seed.to_string()).collect();
    let first = failures.first().map_or("", |(_, report)| report.as_str());
    assert!(
        failures.is_empty(),
        "{} program(s) disagree, seeds {}; the first:\n{first}",
        failures.len(),
        seeds.join(", ")
    );
}
