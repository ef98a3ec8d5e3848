//! User boxes: `getField`/`setField` with a constant name as a load or a
//! store, and method calls as direct calls, behind a class check.
//!
//! A program declares all its classes, so a site knows, before it runs,
//! which classes have the field or define the method: each field has a slot
//! and each method one function per class. The site compares the
//! receiver's class with those (at most [`MAX_CLASSES`]) and takes the
//! matching branch; any other receiver, a weak field, or arguments the
//! callee would have to convert with a check go to the general path, which
//! has the inline cache and reports the traps.

use super::{FLAGS, FnTranslator, Repr};
use crate::ctx::{Site, SiteKind};
use cranelift_codegen::ir::{self, BlockArg, InstBuilder, condcodes::IntCC, types};
use mir::{BoxId, FuncId, Program, Sym, Type, Value};
use runtime::{Method, MethodRef, layout};
use std::collections::HashMap;

/// A site dispatches inline on at most this many classes.
const MAX_CLASSES: usize = 4;

/// The blocks of an inline dispatch on a receiver's class.
struct ClassBranches<T> {
    /// Where the result joins.
    done: ir::Block,
    /// The general path, for any other receiver.
    slow: ir::Block,
    /// A block per target, with its class.
    branches: Vec<(ir::Block, BoxId, T)>,
}

/// Where compiled code finds each method and field of the user classes.
pub(crate) struct UserClasses {
    /// Per method name: the classes that define it, and the function each runs.
    methods: HashMap<Sym, Vec<(BoxId, FuncId)>>,
    /// Per field name: the classes with a strong (not weak) field of that
    /// name, and its slot.
    fields: HashMap<Sym, Vec<(BoxId, usize)>>,
}

impl UserClasses {
    pub fn new(program: &Program) -> UserClasses {
        let mut methods: HashMap<Sym, Vec<(BoxId, FuncId)>> = HashMap::new();
        let mut fields: HashMap<Sym, Vec<(BoxId, usize)>> = HashMap::new();
        for (id, decl) in program.module().boxes.iter() {
            for m in &decl.methods {
                if let Some(f) = program.func_id(m.func) {
                    methods.entry(m.name).or_default().push((id, f));
                }
            }
            for (slot, field) in decl.fields.iter().enumerate() {
                if !field.weak {
                    fields.entry(field.name).or_default().push((id, slot));
                }
            }
        }
        UserClasses { methods, fields }
    }

    /// Whether class `id` defines method `name` (which then runs instead of
    /// any built-in of that name).
    fn defines(&self, id: BoxId, name: Sym) -> bool {
        self.methods.get(&name).is_some_and(|m| m.iter().any(|&(c, _)| c == id))
    }
}

impl FnTranslator<'_, '_> {
    /// A boxcall on a user box done inline, or `None` when the site cannot
    /// be (see the module doc). `all` is the receiver then the arguments.
    pub(super) fn user_fast(
        &mut self,
        kind: SiteKind,
        all: &[Value],
        (result, ret): (Option<Value>, Type),
        method: MethodRef,
        const_name: Option<String>,
    ) -> Option<Repr> {
        let site = Site { const_name, ..Site::new(kind, result.map(|_| ret)) };
        match (method.builtin, all.len()) {
            (Some(Method::GetField), 2) if result.is_some() => self.field(site, all, method, false),
            (Some(Method::SetField), 3) if result.is_none() || ret == Type::Box => self.field(site, all, method, true),
            (Some(Method::GetField | Method::SetField), _) => None,
            _ => self.method(site, all, method),
        }
    }

    /// `getField(NAME)` as a load, `setField(NAME, v)` as a store (the old
    /// value is released after, as the runtime does).
    fn field(&mut self, site: Site, all: &[Value], method: MethodRef, set: bool) -> Option<Repr> {
        let name = self.const_sym(all[1])?;
        let known = self.known_class(all[0]);
        let found: Vec<(BoxId, usize)> = self.classes.fields.get(&name)?.clone();
        let slots: Vec<(BoxId, usize)> = found
            .into_iter()
            .filter(|&(c, _)| !self.classes.defines(c, method.sym) && known.is_none_or(|k| k == c))
            .collect();
        let ret = site.ret;
        let ClassBranches { done, slow, branches } = self.class_branches(all[0], slots, known, ret)?;
        for (block, _, slot) in branches {
            self.b.switch_to_block(block);
            let (_, obj) = self.as_box(all[0]);
            let fields = self.b.ins().load(types::I64, FLAGS, obj, layout::USER_FIELDS as i32);
            let at = self.b.ins().iadd_imm_s(fields, (slot * layout::VALUE_SIZE) as i64);
            if set {
                let tag = self.b.ins().uload8(types::I64, FLAGS, at, layout::VALUE_TAG as i32);
                let payload = self.b.ins().load(types::I64, FLAGS, at, layout::VALUE_PAYLOAD as i32);
                self.store_element(at, all[2], None);
                self.release(tag, payload);
                let mut args = Vec::new();
                if ret.is_some() {
                    let (t, p) = self.null();
                    args.extend([BlockArg::Value(t), BlockArg::Value(p)]);
                }
                self.b.ins().jump(done, &args);
            } else {
                self.take_value(at, ret.expect("a bound result"), (done, slow));
            }
        }
        Some(self.slow_path((slow, done), site, all))
    }

    /// A user method as a direct call (inline when small) to the function
    /// the receiver's class runs, when the call needs no checked conversion.
    fn method(&mut self, site: Site, all: &[Value], method: MethodRef) -> Option<Repr> {
        let ret = site.ret;
        let arg_tys: Vec<Type> = all.iter().map(|&v| self.ty(v)).collect();
        let known = self.known_class(all[0]);
        let targets: Vec<(BoxId, FuncId)> = self
            .classes
            .methods
            .get(&method.sym)?
            .iter()
            .copied()
            .filter(|&(c, f)| direct_fits(self.program, f, &arg_tys, ret) && known.is_none_or(|k| k == c))
            .collect();
        let ClassBranches { done, slow, branches } = self.class_branches(all[0], targets, known, ret)?;
        for (block, class, func) in branches {
            self.b.switch_to_block(block);
            let callee = self.program.func(func);
            let mut args = Vec::new();
            for (&a, p) in all.iter().zip(&callee.params) {
                args.push(if p.ty == self.ty(a) {
                    self.repr(a)
                } else {
                    let (t, v) = self.as_box(a);
                    Repr::Box(t, v)
                });
            }
            let returned = self.direct_call(func, &args, Some(class));
            let mut values = Vec::new();
            match (ret, callee.ret, returned) {
                (None, _, Some(Repr::Box(t, p))) => self.release(t, p),
                (None, ..) => {}
                (Some(want), Some(got), Some(repr)) if want == got => repr.push_to(&mut values),
                (Some(Type::Box), Some(got), Some(Repr::Scalar(x))) => {
                    let (t, p) = self.box_scalar(x, got);
                    values.extend([t, p]);
                }
                (Some(Type::Box), None, _) => {
                    let (t, p) = self.null();
                    values.extend([t, p]);
                }
                (Some(want), Some(Type::Box), Some(Repr::Box(t, p))) => values.push(self.unbox(t, p, want)),
                _ => unreachable!("`direct_fits` admits only these"),
            }
            let args: Vec<BlockArg> = values.into_iter().map(BlockArg::Value).collect();
            self.b.ins().jump(done, &args);
        }
        Some(self.slow_path((slow, done), site, all))
    }

    /// An inline dispatch on `recv`'s class over `targets` (none, or more
    /// than [`MAX_CLASSES`], is no dispatch), a result of type `ret`.
    fn class_branches<T: Copy>(
        &mut self,
        recv: Value,
        targets: Vec<(BoxId, T)>,
        known: Option<BoxId>,
        ret: Option<Type>,
    ) -> Option<ClassBranches<T>> {
        if targets.is_empty() || targets.len() > MAX_CLASSES {
            return None;
        }
        let done = self.result_block(ret);
        let slow = self.b.create_block();
        let classes: Vec<BoxId> = targets.iter().map(|&(c, _)| c).collect();
        let blocks = self.class_switch(recv, &classes, known, slow);
        let branches = blocks.into_iter().zip(targets).map(|(b, (c, t))| (b, c, t)).collect();
        Some(ClassBranches { done, slow, branches })
    }

    /// Branches, from the current block, to one new block per class of
    /// `classes` when `recv` is a user box of that class, else to `other`;
    /// when its class is `known` (the one of `classes`), just jumps.
    fn class_switch(
        &mut self,
        recv: Value,
        classes: &[BoxId],
        known: Option<BoxId>,
        other: ir::Block,
    ) -> Vec<ir::Block> {
        if known.is_some() {
            let branch = self.b.create_block();
            self.b.ins().jump(branch, &[]);
            return vec![branch];
        }
        let (tag, obj) = self.as_box(recv);
        let is_obj = self.b.ins().icmp_imm_s(IntCC::Equal, tag, layout::TAG_OBJ as i64);
        let check_kind = self.b.create_block();
        self.b.ins().brif(is_obj, check_kind, &[], other, &[]);
        self.b.switch_to_block(check_kind);
        let kind = self.b.ins().uload8(types::I32, FLAGS, obj, layout::OBJ_KIND as i32);
        let is_user = self.b.ins().icmp_imm_s(IntCC::Equal, kind, layout::KIND_USER as i64);
        let check_class = self.b.create_block();
        self.b.ins().brif(is_user, check_class, &[], other, &[]);
        self.b.switch_to_block(check_class);
        let class = self.b.ins().load(types::I32, FLAGS, obj, layout::USER_CLASS as i32);
        let mut branches = Vec::new();
        for (i, &c) in classes.iter().enumerate() {
            let is = self.b.ins().icmp_imm_s(IntCC::Equal, class, c.as_u32() as i64);
            let branch = self.b.create_block();
            let next = if i + 1 == classes.len() { other } else { self.b.create_block() };
            self.b.ins().brif(is, branch, &[], next, &[]);
            branches.push(branch);
            if next != other {
                self.b.switch_to_block(next);
            }
        }
        branches
    }

    /// The class of `v` if known here: the receiver of a method inlined
    /// behind a class check.
    fn known_class(&self, v: Value) -> Option<BoxId> {
        match self.frame.func.values[v].def {
            mir::ValueDef::Param(0) => self.frame.self_class,
            _ => None,
        }
    }

    /// `null` as a box.
    fn null(&mut self) -> (ir::Value, ir::Value) {
        let t = self.b.ins().iconst(types::I64, layout::TAG_NULL as i64);
        (t, self.b.ins().iconst(types::I64, 0))
    }
}

/// Whether a method call with arguments of `arg_tys` (the receiver first)
/// and a result bound as `ret` can call `func` directly: the same arity, no
/// argument that needs a checked unboxing, a result the site takes as is,
/// boxes, or unboxes with the check the general path makes.
fn direct_fits(program: &Program, func: FuncId, arg_tys: &[Type], ret: Option<Type>) -> bool {
    let callee = program.func(func);
    let args_fit = callee.params.len() == arg_tys.len()
        && callee.params.iter().zip(arg_tys).all(|(p, &a)| p.ty == a || p.ty == Type::Box);
    let ret_fits = match (ret, callee.ret) {
        (None, _) => true,
        (Some(want), Some(got)) => want == got || want == Type::Box || got == Type::Box,
        (Some(want), None) => want == Type::Box,
    };
    args_fit && ret_fits
}
