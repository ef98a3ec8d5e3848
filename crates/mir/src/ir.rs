//! The in-memory IR: modules, functions, blocks, values and the 13 instructions.
//!
//! Storage is dense and index-based. A [`Function`] owns vectors of values,
//! instructions and blocks, addressed by [`Value`], [`Inst`] and [`Block`];
//! variable-length operand lists live in per-function pools. A [`Module`] owns
//! its functions, user box declarations and one symbol table ([`Sym`]) shared
//! by every name and string in it.
//!
//! References *between* items (a call's callee, a class name, an extern) are
//! symbols, resolved by the verifier; references *within* a function are ids.
//! An IR value may hold `INVALID` ids or unknown names; only a module that
//! passed the verifier ([`crate::Program`]) promises that none remain.

use crate::entity::{EntityVec, entity};
use indexmap::IndexSet;
use std::fmt;

entity!(
    /// An SSA value: a parameter or an instruction result.
    Value,
    "v"
);
entity!(
    /// A basic block of a function.
    Block,
    "block"
);
entity!(
    /// An instruction of a function.
    Inst,
    "inst"
);
entity!(
    /// A function of a module.
    FuncId,
    "func"
);
entity!(
    /// A user box declaration of a module.
    BoxId,
    "box"
);
entity!(
    /// An interned string of a module: a name, a method, or a string literal.
    Sym,
    "sym"
);

/// The four value types of §1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    I64,
    F64,
    Bool,
    /// Any value: a Box reference, `null`, or a boxed scalar.
    Box,
}

impl Type {
    /// The keyword of this type in the text format.
    pub fn name(self) -> &'static str {
        match self {
            Type::I64 => "i64",
            Type::F64 => "f64",
            Type::Bool => "bool",
            Type::Box => "box",
        }
    }

    /// The type spelled `name`, if any.
    pub fn from_name(name: &str) -> Option<Type> {
        Some(match name {
            "i64" => Type::I64,
            "f64" => Type::F64,
            "bool" => Type::Bool,
            "box" => Type::Box,
            _ => return None,
        })
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Writes `ty` or `void` for a function result.
pub struct RetType(pub Option<Type>);

impl fmt::Display for RetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ty) => ty.fmt(f),
            None => f.write_str("void"),
        }
    }
}

/// An f64 compared and hashed by its bits, so NaN literals keep `Eq`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ieee64(pub u64);

impl Ieee64 {
    /// The float these bits encode.
    pub fn value(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl From<f64> for Ieee64 {
    fn from(x: f64) -> Self {
        Ieee64(x.to_bits())
    }
}

impl fmt::Debug for Ieee64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.value())
    }
}

/// The operand of a `const` instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Literal {
    I64(i64),
    F64(Ieee64),
    Bool(bool),
    Null,
    /// A string literal (the symbol holds its text, escapes resolved).
    Str(Sym),
    /// A function reference `@name`: a FunctionBox.
    Func(Sym),
}

impl Literal {
    /// The type of the value this literal produces.
    pub fn ty(self) -> Type {
        match self {
            Literal::I64(_) => Type::I64,
            Literal::F64(_) => Type::F64,
            Literal::Bool(_) => Type::Bool,
            Literal::Null | Literal::Str(_) | Literal::Func(_) => Type::Box,
        }
    }
}

/// Declares an operator enum with its text mnemonics.
macro_rules! mnemonics {
    ($(#[$attr:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$attr])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),* }

        impl $name {
            /// Every operator, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The mnemonic of this operator in the text format.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            /// The operator spelled `text`, if any.
            pub fn from_name(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

mnemonics!(
    /// Operators of `binop`.
    BinaryOp {
        Add = "add", Sub = "sub", Mul = "mul", Div = "div", Rem = "rem",
        And = "and", Or = "or", Xor = "xor",
        Shl = "shl", Shr = "shr", Ushr = "ushr",
    }
);

mnemonics!(
    /// Operators of `compare`.
    CompareOp { Eq = "eq", Ne = "ne", Lt = "lt", Le = "le", Gt = "gt", Ge = "ge" }
);

mnemonics!(
    /// Kinds of `barrier`.
    BarrierKind { Read = "read", Write = "write", Full = "full" }
);

impl BinaryOp {
    /// Whether this operator is defined on operands of type `ty` (§2 table).
    pub fn accepts(self, ty: Type) -> bool {
        use BinaryOp::*;
        match self {
            Add | Sub | Mul | Div | Rem => matches!(ty, Type::I64 | Type::F64),
            And | Or | Xor => matches!(ty, Type::I64 | Type::Bool),
            Shl | Shr | Ushr => ty == Type::I64,
        }
    }
}

impl CompareOp {
    /// Whether this comparison is defined on operands of type `ty`.
    pub fn accepts(self, ty: Type) -> bool {
        ty != Type::Bool || matches!(self, CompareOp::Eq | CompareOp::Ne)
    }
}

mnemonics!(
    /// The built-in classes of §7, by the name programs write.
    BuiltinClass {
        Integer = "IntegerBox", Float = "FloatBox", Bool = "BoolBox", Null = "NullBox",
        String = "StringBox", Array = "ArrayBox", Map = "MapBox", Function = "FunctionBox",
        Matrix = "MatrixBox", Tensor = "TensorBox",
    }
);

/// A class a program names: built-in or a user box of the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClassRef {
    Builtin(BuiltinClass),
    User(BoxId),
}

/// The two forms of `typeop`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TypeOpKind {
    /// `typeop is %v, CLASS`: whether the value is an instance of the class.
    Is(Sym),
    /// `typeop cast %v to TYPE` (§4).
    Cast(Type),
}

/// The callee of a `call`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Callee {
    /// `call @f(...)`, typed by `@f`'s signature.
    Direct(Sym),
    /// `call %fv(...) -> TYPE`: a FunctionBox checked at run time; the
    /// result is converted to the stated type.
    Indirect(Value, Type),
}

/// The receiver of a `boxcall`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Receiver {
    /// `boxcall %v.method(...)`: dynamic dispatch on the value's class.
    Value(Value),
    /// `boxcall CLASS.method(...)`: a constructor or static method.
    Class(Sym),
}

/// A range of the function's value pool: the arguments of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ValueList {
    start: u32,
    len: u32,
}

/// A range of the function's phi pool: the entries of a phi.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PhiList {
    start: u32,
    len: u32,
}

/// One `[%value, label]` entry of a phi.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PhiEntry {
    pub value: Value,
    pub block: Block,
}

/// The 13 instructions of MIR13 (§2). Results are stored beside, in
/// [`Function::results`]; operand lists in the function's pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstData {
    /// `%x = const LITERAL`
    Const { lit: Literal },
    /// `%x = binop OP %a, %b`
    BinOp { op: BinaryOp, args: [Value; 2] },
    /// `%x = compare OP %a, %b`
    Compare { op: CompareOp, args: [Value; 2] },
    /// `jump LABEL`
    Jump { dest: Block },
    /// `branch %c, THEN, ELSE`
    Branch { cond: Value, then_dest: Block, else_dest: Block },
    /// `return [%v]`
    Return { value: Option<Value> },
    /// `%x = phi TYPE [%v, LABEL], ...`
    Phi { ty: Type, entries: PhiList },
    /// `[%x =] call CALLEE(args)`
    Call { callee: Callee, args: ValueList },
    /// `[%x =] boxcall RECEIVER.METHOD(args) [-> TYPE]`
    BoxCall { recv: Receiver, method: Sym, args: ValueList, ret: Type },
    /// `[%x =] externcall NAME(args) [-> TYPE]`
    ExternCall { name: Sym, args: ValueList, ret: Type },
    /// `%x = typeop is %v, CLASS` / `%x = typeop cast %v to TYPE`
    TypeOp { op: TypeOpKind, arg: Value },
    /// `safepoint`
    Safepoint,
    /// `barrier read|write|full`
    Barrier { kind: BarrierKind },
}

impl InstData {
    /// Whether this instruction ends a block.
    pub fn is_terminator(&self) -> bool {
        matches!(self, InstData::Jump { .. } | InstData::Branch { .. } | InstData::Return { .. })
    }

    /// The mnemonic of the instruction.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            InstData::Const { .. } => "const",
            InstData::BinOp { .. } => "binop",
            InstData::Compare { .. } => "compare",
            InstData::Jump { .. } => "jump",
            InstData::Branch { .. } => "branch",
            InstData::Return { .. } => "return",
            InstData::Phi { .. } => "phi",
            InstData::Call { .. } => "call",
            InstData::BoxCall { .. } => "boxcall",
            InstData::ExternCall { .. } => "externcall",
            InstData::TypeOp { .. } => "typeop",
            InstData::Safepoint => "safepoint",
            InstData::Barrier { .. } => "barrier",
        }
    }
}

/// Where a value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueDef {
    /// The n-th parameter of the function.
    Param(u32),
    /// The result of an instruction.
    Result(Inst),
}

/// Per-value data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ValueData {
    /// The `%name` of the value; `None` for an immediate operand's constant.
    pub name: Option<Sym>,
    pub def: ValueDef,
}

/// Per-block data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockData {
    /// The label.
    pub name: Sym,
    /// Instructions in order; phis first and a terminator last in a valid block.
    pub insts: Vec<Inst>,
}

/// A function parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    pub value: Value,
    pub ty: Type,
}

/// A function: its signature and its body in dense storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Name without `@`.
    pub name: Sym,
    pub params: Vec<Param>,
    /// Result type; `None` is `void`.
    pub ret: Option<Type>,
    /// Blocks in text order; the first is the entry block.
    pub blocks: EntityVec<Block, BlockData>,
    pub insts: EntityVec<Inst, InstData>,
    /// The value each instruction defines, if any.
    pub results: EntityVec<Inst, Option<Value>>,
    pub values: EntityVec<Value, ValueData>,
    value_pool: Vec<Value>,
    phi_pool: Vec<PhiEntry>,
}

impl Function {
    /// An empty function named `name`.
    pub fn new(name: Sym, ret: Option<Type>) -> Self {
        Function {
            name,
            params: Vec::new(),
            ret,
            blocks: EntityVec::new(),
            insts: EntityVec::new(),
            results: EntityVec::new(),
            values: EntityVec::new(),
            value_pool: Vec::new(),
            phi_pool: Vec::new(),
        }
    }

    /// The entry block, if the function has any block.
    #[inline]
    pub fn entry(&self) -> Option<Block> {
        self.blocks.keys().next()
    }

    /// Adds a parameter of type `ty` and returns its value.
    pub fn add_param(&mut self, name: Option<Sym>, ty: Type) -> Value {
        let index = self.params.len() as u32;
        let value = self.values.push(ValueData { name, def: ValueDef::Param(index) });
        self.params.push(Param { value, ty });
        value
    }

    /// Adds an empty block labelled `name`.
    pub fn add_block(&mut self, name: Sym) -> Block {
        self.blocks.push(BlockData { name, insts: Vec::new() })
    }

    /// Creates an instruction, not yet placed in a block, with an optional
    /// result value named `result_name` (`Some(None)` is an anonymous result).
    pub fn create_inst(&mut self, data: InstData, result: Option<Option<Sym>>) -> Inst {
        let inst = self.insts.push(data);
        let value = result.map(|name| self.values.push(ValueData { name, def: ValueDef::Result(inst) }));
        self.results.push(value);
        inst
    }

    /// Creates an instruction defining an already created value.
    pub fn create_inst_defining(&mut self, data: InstData, result: Option<Value>) -> Inst {
        let inst = self.insts.push(data);
        self.results.push(result);
        if let Some(v) = result {
            self.values[v].def = ValueDef::Result(inst);
        }
        inst
    }

    /// Creates a value whose defining instruction is set later by
    /// [`Function::create_inst_defining`] (used for forward references).
    pub fn create_value(&mut self, name: Option<Sym>) -> Value {
        self.values.push(ValueData { name, def: ValueDef::Result(Inst::INVALID) })
    }

    /// Appends `inst` to `block`.
    pub fn append_inst(&mut self, block: Block, inst: Inst) {
        self.blocks[block].insts.push(inst);
    }

    /// Stores a list of values and returns its handle.
    pub fn make_value_list(&mut self, values: &[Value]) -> ValueList {
        let start = self.value_pool.len() as u32;
        self.value_pool.extend_from_slice(values);
        ValueList { start, len: values.len() as u32 }
    }

    /// Stores a list of phi entries and returns its handle.
    pub fn make_phi_list(&mut self, entries: &[PhiEntry]) -> PhiList {
        let start = self.phi_pool.len() as u32;
        self.phi_pool.extend_from_slice(entries);
        PhiList { start, len: entries.len() as u32 }
    }

    /// The values of a list.
    #[inline]
    pub fn value_list(&self, list: ValueList) -> &[Value] {
        &self.value_pool[list.start as usize..(list.start + list.len) as usize]
    }

    /// The entries of a phi list.
    #[inline]
    pub fn phi_list(&self, list: PhiList) -> &[PhiEntry] {
        &self.phi_pool[list.start as usize..(list.start + list.len) as usize]
    }

    /// The result of `inst`, if it has one.
    #[inline]
    pub fn result(&self, inst: Inst) -> Option<Value> {
        self.results[inst]
    }

    /// The value operands of `inst` in text order (phi values included;
    /// a receiver or indirect callee comes before the arguments).
    #[inline]
    pub fn operands(&self, inst: Inst) -> Operands<'_> {
        let none = Value::INVALID;
        let (fixed, n, rest): ([Value; 2], usize, &[Value]) = match self.insts[inst] {
            InstData::Const { .. }
            | InstData::Jump { .. }
            | InstData::Safepoint
            | InstData::Barrier { .. }
            | InstData::Return { value: None } => ([none; 2], 0, &[]),
            InstData::BinOp { args, .. } | InstData::Compare { args, .. } => (args, 2, &[]),
            InstData::Branch { cond, .. } => ([cond, none], 1, &[]),
            InstData::Return { value: Some(v) } => ([v, none], 1, &[]),
            InstData::TypeOp { arg, .. } => ([arg, none], 1, &[]),
            InstData::Phi { entries, .. } => return Operands::Phi(self.phi_list(entries).iter()),
            InstData::Call { callee, args } => match callee {
                Callee::Direct(_) => ([none; 2], 0, self.value_list(args)),
                Callee::Indirect(f, _) => ([f, none], 1, self.value_list(args)),
            },
            InstData::BoxCall { recv, args, .. } => match recv {
                Receiver::Class(_) => ([none; 2], 0, self.value_list(args)),
                Receiver::Value(r) => ([r, none], 1, self.value_list(args)),
            },
            InstData::ExternCall { args, .. } => ([none; 2], 0, self.value_list(args)),
        };
        Operands::Plain { fixed, n, next: 0, rest: rest.iter() }
    }

    /// The successors named by `inst`, in text order (empty unless it is a
    /// `jump` or `branch`).
    pub fn targets(&self, inst: Inst) -> Targets {
        match self.insts[inst] {
            InstData::Jump { dest } => Targets { blocks: [dest, Block::INVALID], len: 1 },
            InstData::Branch { then_dest, else_dest, .. } => Targets { blocks: [then_dest, else_dest], len: 2 },
            _ => Targets { blocks: [Block::INVALID; 2], len: 0 },
        }
    }

    /// The terminator of `block`: its last instruction, if that is one.
    #[inline]
    pub fn terminator(&self, block: Block) -> Option<Inst> {
        let last = *self.blocks[block].insts.last()?;
        self.insts[last].is_terminator().then_some(last)
    }

    /// The phis at the start of `block`.
    pub fn phis(&self, block: Block) -> impl Iterator<Item = Inst> + '_ {
        self.blocks[block].insts.iter().copied().take_while(|&i| matches!(self.insts[i], InstData::Phi { .. }))
    }

    /// The type of parameter value `v`, if `v` is a parameter.
    pub fn param_type(&self, v: Value) -> Option<Type> {
        match self.values[v].def {
            ValueDef::Param(i) => self.params.get(i as usize).map(|p| p.ty),
            ValueDef::Result(_) => None,
        }
    }

    /// Number of instructions placed in blocks.
    pub fn placed_inst_count(&self) -> usize {
        self.blocks.values().map(|b| b.insts.len()).sum()
    }
}

/// The up-to-two successor blocks of a terminator.
#[derive(Clone, Copy, Debug)]
pub struct Targets {
    blocks: [Block; 2],
    len: usize,
}

impl Targets {
    /// The targets as a slice.
    pub fn as_slice(&self) -> &[Block] {
        &self.blocks[..self.len]
    }
}

/// Iterator over an instruction's value operands.
pub enum Operands<'a> {
    Plain { fixed: [Value; 2], n: usize, next: usize, rest: std::slice::Iter<'a, Value> },
    Phi(std::slice::Iter<'a, PhiEntry>),
}

impl Iterator for Operands<'_> {
    type Item = Value;
    fn next(&mut self) -> Option<Value> {
        match self {
            Operands::Plain { fixed, n, next, rest } => {
                if *next < *n {
                    *next += 1;
                    Some(fixed[*next - 1])
                } else {
                    rest.next().copied()
                }
            }
            Operands::Phi(entries) => entries.next().map(|e| e.value),
        }
    }
}

/// A field of a user box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldDecl {
    pub name: Sym,
    /// A weak field does not keep its target alive.
    pub weak: bool,
}

/// A method of a user box: a name bound to a MIR function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MethodDecl {
    pub name: Sym,
    /// The implementing function, without `@`.
    pub func: Sym,
}

/// A `box NAME { field ...  method ... }` declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoxDecl {
    pub name: Sym,
    pub fields: Vec<FieldDecl>,
    pub methods: Vec<MethodDecl>,
}

/// A module-level item, in the order the text declares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    Func(FuncId),
    Box(BoxId),
}

/// The module's interned strings.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    set: IndexSet<Box<str>>,
}

impl Symbols {
    /// The symbol of `text`, interning it on first use.
    pub fn intern(&mut self, text: &str) -> Sym {
        if let Some(i) = self.set.get_index_of(text) {
            return Sym(i as u32);
        }
        let (i, _) = self.set.insert_full(text.into());
        Sym(i as u32)
    }

    /// The symbol of `text`, if it was interned.
    pub fn lookup(&self, text: &str) -> Option<Sym> {
        self.set.get_index_of(text).map(|i| Sym(i as u32))
    }

    /// The text of `sym`.
    pub fn get(&self, sym: Sym) -> &str {
        self.set.get_index(sym.0 as usize).map_or("<invalid symbol>", |s| s)
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether no symbol was interned.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

impl PartialEq for Symbols {
    /// Order matters: two tables are equal when every `Sym` means the same text.
    fn eq(&self, other: &Self) -> bool {
        self.set.iter().eq(other.set.iter())
    }
}

impl Eq for Symbols {}

/// A MIR13 module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Module {
    pub symbols: Symbols,
    pub funcs: EntityVec<FuncId, Function>,
    pub boxes: EntityVec<BoxId, BoxDecl>,
    /// Functions and boxes in text order, for printing.
    pub items: Vec<Item>,
}

impl Module {
    /// An empty module.
    pub fn new() -> Self {
        Self::default()
    }

    /// The function named `name` (without `@`), by linear search.
    pub fn find_function(&self, name: &str) -> Option<FuncId> {
        let sym = self.symbols.lookup(name)?;
        self.funcs.iter().find(|(_, f)| f.name == sym).map(|(id, _)| id)
    }

    /// The text of a symbol.
    #[inline]
    pub fn sym(&self, sym: Sym) -> &str {
        self.symbols.get(sym)
    }

    /// Total number of instructions placed in blocks, over all functions.
    pub fn inst_count(&self) -> usize {
        self.funcs.values().map(Function::placed_inst_count).sum()
    }
}
