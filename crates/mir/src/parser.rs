//! The parser: tokens to a syntax tree that keeps every name and span.
//!
//! Recovery is line based: an error skips the rest of its line and parsing
//! goes on with the next instruction, so one run reports every syntax error.
//! Names are resolved later, by [`crate::lower`].

use crate::diag::{Error, ErrorKind, Span};
use crate::ir::{BarrierKind, BinaryOp, CompareOp, Type};
use crate::lexer::{Lexer, Tok, Token};
use std::borrow::Cow;

/// A name with its span (`%x`, `@f`, a label or class; without sigil).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Name<'s> {
    pub text: &'s str,
    pub span: Span,
}

/// A literal as written.
#[derive(Clone, Debug, PartialEq)]
pub enum LitAst<'s> {
    I64(i64),
    F64(f64),
    Bool(bool),
    Null,
    Str(Cow<'s, str>),
    Func(&'s str),
}

/// A value operand: a `%name` or an immediate literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand<'s> {
    Value(Name<'s>),
    Lit(LitAst<'s>, Span),
}

impl Operand<'_> {
    /// Where the operand is written.
    pub fn span(&self) -> Span {
        match self {
            Operand::Value(n) => n.span,
            Operand::Lit(_, s) => *s,
        }
    }
}

/// The callee of a call as written.
#[derive(Clone, Debug, PartialEq)]
pub enum CalleeAst<'s> {
    Direct(Name<'s>),
    Indirect(Name<'s>, Type),
}

/// The receiver of a boxcall as written.
#[derive(Clone, Debug, PartialEq)]
pub enum ReceiverAst<'s> {
    Value(Name<'s>),
    Class(Name<'s>),
}

/// An instruction as written.
#[derive(Clone, Debug, PartialEq)]
pub enum InstAst<'s> {
    Const(Operand<'s>),
    BinOp(BinaryOp, [Operand<'s>; 2]),
    Compare(CompareOp, [Operand<'s>; 2]),
    Jump(Name<'s>),
    Branch(Operand<'s>, Name<'s>, Name<'s>),
    Return(Option<Operand<'s>>),
    Phi(Type, Vec<(Operand<'s>, Name<'s>)>),
    Call { callee: CalleeAst<'s>, args: Vec<Operand<'s>> },
    BoxCall { recv: ReceiverAst<'s>, method: Name<'s>, args: Vec<Operand<'s>>, ret: Type },
    ExternCall { name: Name<'s>, args: Vec<Operand<'s>>, ret: Type },
    Is(Operand<'s>, Name<'s>),
    Cast(Operand<'s>, Type),
    Safepoint,
    Barrier(BarrierKind),
}

/// An instruction line.
#[derive(Clone, Debug, PartialEq)]
pub struct InstLine<'s> {
    pub result: Option<Name<'s>>,
    pub inst: InstAst<'s>,
    /// The whole line, result included.
    pub span: Span,
    /// The mnemonic and what follows it up to the first operand.
    pub name_span: Span,
}

/// A block: a label and its instruction lines.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockAst<'s> {
    pub label: Name<'s>,
    pub insts: Vec<InstLine<'s>>,
}

/// A function definition.
#[derive(Clone, Debug, PartialEq)]
pub struct FuncAst<'s> {
    pub name: Name<'s>,
    pub params: Vec<(Name<'s>, Type)>,
    pub ret: Option<Type>,
    pub blocks: Vec<BlockAst<'s>>,
}

/// A member of a box declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum MemberAst<'s> {
    Field { name: Name<'s>, weak: bool },
    Method { name: Name<'s>, func: Name<'s> },
}

/// A `box` declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct BoxAst<'s> {
    pub name: Name<'s>,
    pub members: Vec<MemberAst<'s>>,
}

/// A module item.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemAst<'s> {
    Func(FuncAst<'s>),
    Box(BoxAst<'s>),
}

/// Parses a whole module. Returns the items that parsed and every error.
pub fn parse(src: &str) -> (Vec<ItemAst<'_>>, Vec<Error>) {
    let mut parser = Parser::new(src);
    let items = parser.module();
    let mut errors = std::mem::take(&mut parser.lexer.errors);
    errors.append(&mut parser.errors);
    (items, errors)
}

/// A parse failure; its error is already recorded.
struct Failed;

type PResult<T> = Result<T, Failed>;

/// Recursive-descent parser with a two-token window over the lexer.
struct Parser<'s> {
    lexer: Lexer<'s>,
    tok: Token<'s>,
    next: Token<'s>,
    /// End of the previous token, so a line's span stops at its last token.
    prev_end: u32,
    errors: Vec<Error>,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str) -> Self {
        let mut lexer = Lexer::new(src);
        let tok = lexer.next_token();
        let next = lexer.next_token();
        Parser { lexer, tok, next, prev_end: 0, errors: Vec::new() }
    }

    fn bump(&mut self) -> Token<'s> {
        let after = self.lexer.next_token();
        let next = std::mem::replace(&mut self.next, after);
        self.prev_end = self.tok.span.end;
        std::mem::replace(&mut self.tok, next)
    }

    fn at(&self, tok: &Tok<'_>) -> bool {
        std::mem::discriminant(&self.tok.tok) == std::mem::discriminant(tok)
    }

    fn at_line_end(&self) -> bool {
        matches!(self.tok.tok, Tok::Newline | Tok::Eof | Tok::RBrace)
    }

    /// Whether the current token is an identifier followed by `:` (a label).
    fn at_label(&self) -> bool {
        matches!(self.tok.tok, Tok::Ident(_)) && self.next.tok == Tok::Colon
    }

    /// Whether the current token starts a new item (`func`/`box`, not a label).
    fn at_item(&self) -> bool {
        matches!(self.tok.tok, Tok::Ident("func" | "box")) && !self.at_label()
    }

    /// Records "expected X, found <current token>" unless the current token
    /// is a lexical error (already reported), then fails.
    fn expected<T>(&mut self, what: &str) -> PResult<T> {
        if self.tok.tok != Tok::Error {
            let found = self.tok.tok.describe();
            self.errors.push(Error::new(ErrorKind::Expected { expected: what.into(), found }, Some(self.tok.span)));
        }
        Err(Failed)
    }

    fn fail<T>(&mut self, kind: ErrorKind, span: Span) -> PResult<T> {
        self.errors.push(Error::new(kind, Some(span)));
        Err(Failed)
    }

    fn expect(&mut self, tok: Tok<'_>, what: &str) -> PResult<Span> {
        if self.at(&tok) { Ok(self.bump().span) } else { self.expected(what) }
    }

    fn eat(&mut self, tok: Tok<'_>) -> bool {
        let here = self.at(&tok);
        if here {
            self.bump();
        }
        here
    }

    fn skip_newlines(&mut self) {
        while self.at(&Tok::Newline) {
            self.bump();
        }
    }

    fn skip_line(&mut self) {
        while !matches!(self.tok.tok, Tok::Newline | Tok::Eof) {
            self.bump();
        }
    }

    fn ident(&mut self, what: &str) -> PResult<Name<'s>> {
        match self.tok.tok {
            Tok::Ident(text) => Ok(Name { text, span: self.bump().span }),
            _ => self.expected(what),
        }
    }

    fn global(&mut self, what: &str) -> PResult<Name<'s>> {
        match self.tok.tok {
            Tok::Global(text) => Ok(Name { text, span: self.bump().span }),
            _ => self.expected(what),
        }
    }

    fn local(&mut self, what: &str) -> PResult<Name<'s>> {
        match self.tok.tok {
            Tok::Local(text) => Ok(Name { text, span: self.bump().span }),
            _ => self.expected(what),
        }
    }

    fn ty(&mut self) -> PResult<Type> {
        let name = self.ident("a type")?;
        match Type::from_name(name.text) {
            Some(ty) => Ok(ty),
            None => self.fail(ErrorKind::UnknownType(name.text.into()), name.span),
        }
    }

    /// A function's result type: a type, or `void` (also written by omitting `->`).
    fn ret_or_void(&mut self) -> PResult<Option<Type>> {
        if matches!(self.tok.tok, Tok::Ident("void")) {
            self.bump();
            return Ok(None);
        }
        Ok(Some(self.ty()?))
    }

    fn module(&mut self) -> Vec<ItemAst<'s>> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines();
            let result = match self.tok.tok {
                Tok::Eof => return items,
                Tok::Ident("func") => self.func().map(ItemAst::Func),
                Tok::Ident("box") => self.box_decl().map(ItemAst::Box),
                _ => self.expected("`func` or `box`"),
            };
            match result {
                Ok(item) => items.push(item),
                Err(Failed) => self.skip_to_item(),
            }
        }
    }

    /// After an error in an item header: skip to the next line that starts an item.
    fn skip_to_item(&mut self) {
        loop {
            self.skip_line();
            self.skip_newlines();
            if self.at(&Tok::Eof) || self.at_item() {
                return;
            }
        }
    }

    fn func(&mut self) -> PResult<FuncAst<'s>> {
        self.bump();
        let name = self.global("a function name `@name`")?;
        self.expect(Tok::LParen, "`(`")?;
        let mut params = Vec::new();
        if !self.at(&Tok::RParen) {
            loop {
                let param = self.local("a parameter `%name: TYPE`")?;
                self.expect(Tok::Colon, "`:`")?;
                params.push((param, self.ty()?));
                if !self.eat(Tok::Comma) {
                    break;
                }
            }
        }
        self.expect(Tok::RParen, "`,` or `)`")?;
        let ret = if self.eat(Tok::Arrow) { self.ret_or_void()? } else { None };
        self.expect(Tok::LBrace, "`{`")?;
        let blocks = self.body();
        Ok(FuncAst { name, params, ret, blocks })
    }

    /// Parses blocks up to the closing `}`, recovering line by line.
    fn body(&mut self) -> Vec<BlockAst<'s>> {
        let mut blocks: Vec<BlockAst<'s>> = Vec::new();
        loop {
            self.skip_newlines();
            if self.eat(Tok::RBrace) {
                return blocks;
            }
            if self.at(&Tok::Eof) {
                let _ = self.expected::<()>("`}` to close the function");
                return blocks;
            }
            if self.at_item() {
                self.errors.push(Error::new(ErrorKind::UnclosedFunction, Some(self.tok.span)));
                return blocks;
            }
            if let Err(Failed) = self.body_line(&mut blocks) {
                self.skip_line();
            }
        }
    }

    /// One line of a function body: a label, or an instruction.
    fn body_line(&mut self, blocks: &mut Vec<BlockAst<'s>>) -> PResult<()> {
        if self.at_label() {
            let label = self.ident("a label")?;
            self.bump();
            blocks.push(BlockAst { label, insts: Vec::new() });
            return Ok(());
        }
        let line = self.inst_line()?;
        if !self.at_line_end() {
            return self.expected("end of line");
        }
        match blocks.last_mut() {
            Some(block) => {
                block.insts.push(line);
                Ok(())
            }
            None => self.fail(ErrorKind::InstBeforeLabel, line.span),
        }
    }

    fn inst_line(&mut self) -> PResult<InstLine<'s>> {
        let start = self.tok.span;
        let result = if matches!(self.tok.tok, Tok::Local(_)) {
            let name = self.local("a value")?;
            self.expect(Tok::Equals, "`=`")?;
            Some(name)
        } else {
            None
        };
        let mnemonic = self.ident("an instruction")?;
        let needs_result = |p: &mut Self, inst: &'static str| match result {
            Some(_) => Ok(()),
            None => p.fail(ErrorKind::ResultRequired(inst), mnemonic.span),
        };
        let no_result = |p: &mut Self, inst: &'static str| match result {
            Some(r) => p.fail(ErrorKind::ResultNotAllowed(inst), r.span),
            None => Ok(()),
        };
        let inst = match mnemonic.text {
            "const" => {
                needs_result(self, "const")?;
                let op = self.operand()?;
                if let Operand::Value(v) = op {
                    return self.fail(
                        ErrorKind::Expected { expected: "a literal".into(), found: format!("`%{}`", v.text) },
                        v.span,
                    );
                }
                InstAst::Const(op)
            }
            "binop" => {
                needs_result(self, "binop")?;
                let op = self.operator("binop", BinaryOp::from_name)?;
                InstAst::BinOp(op, self.two_operands()?)
            }
            "compare" => {
                needs_result(self, "compare")?;
                let op = self.operator("compare", CompareOp::from_name)?;
                InstAst::Compare(op, self.two_operands()?)
            }
            "jump" => {
                no_result(self, "jump")?;
                InstAst::Jump(self.ident("a label")?)
            }
            "branch" => {
                no_result(self, "branch")?;
                let cond = self.operand()?;
                self.expect(Tok::Comma, "`,`")?;
                let then_dest = self.ident("a label")?;
                self.expect(Tok::Comma, "`,`")?;
                InstAst::Branch(cond, then_dest, self.ident("a label")?)
            }
            "return" => {
                no_result(self, "return")?;
                InstAst::Return(if self.at_line_end() { None } else { Some(self.operand()?) })
            }
            "phi" => {
                needs_result(self, "phi")?;
                let ty = self.ty()?;
                let mut entries = Vec::new();
                loop {
                    self.expect(Tok::LBracket, "`[`")?;
                    let value = self.operand()?;
                    self.expect(Tok::Comma, "`,`")?;
                    let label = self.ident("a label")?;
                    self.expect(Tok::RBracket, "`]`")?;
                    entries.push((value, label));
                    if !self.eat(Tok::Comma) {
                        break;
                    }
                }
                InstAst::Phi(ty, entries)
            }
            "call" => {
                let callee = match self.tok.tok {
                    Tok::Global(_) => CalleeAst::Direct(self.global("a callee")?),
                    Tok::Local(_) => CalleeAst::Indirect(self.local("a callee")?, Type::Box),
                    _ => return self.expected("a callee `@function` or `%value`"),
                };
                let args = self.args()?;
                let arrow = self.tok.span;
                let ret = self.ret_type(result.is_some())?;
                let callee = match (callee, ret) {
                    (CalleeAst::Direct(_), Some(_)) => return self.fail(ErrorKind::ArrowOnDirectCall, arrow),
                    (CalleeAst::Indirect(name, _), Some(ty)) => CalleeAst::Indirect(name, ty),
                    (callee, None) => callee,
                };
                InstAst::Call { callee, args }
            }
            "boxcall" => {
                let (recv, method) = self.receiver()?;
                let args = self.args()?;
                let ret = self.ret_type(result.is_some())?.unwrap_or(Type::Box);
                InstAst::BoxCall { recv, method, args, ret }
            }
            "externcall" => {
                let name = self.ident("a host function name")?;
                let args = self.args()?;
                let ret = self.ret_type(result.is_some())?.unwrap_or(Type::Box);
                InstAst::ExternCall { name, args, ret }
            }
            "typeop" => {
                needs_result(self, "typeop")?;
                let form = self.ident("`is` or `cast`")?;
                match form.text {
                    "is" => {
                        let value = self.operand()?;
                        self.expect(Tok::Comma, "`,`")?;
                        InstAst::Is(value, self.ident("a class name")?)
                    }
                    "cast" => {
                        let value = self.operand()?;
                        let to = self.ident("`to`")?;
                        if to.text != "to" {
                            return self.fail(
                                ErrorKind::Expected { expected: "`to`".into(), found: format!("`{}`", to.text) },
                                to.span,
                            );
                        }
                        InstAst::Cast(value, self.ty()?)
                    }
                    other => {
                        return self.fail(ErrorKind::UnknownOperator { inst: "typeop", op: other.into() }, form.span);
                    }
                }
            }
            "safepoint" => {
                no_result(self, "safepoint")?;
                InstAst::Safepoint
            }
            "barrier" => {
                no_result(self, "barrier")?;
                InstAst::Barrier(self.operator("barrier", BarrierKind::from_name)?)
            }
            other => return self.fail(ErrorKind::UnknownInstruction(other.into()), mnemonic.span),
        };
        let span = Span::new(start.start as usize, self.prev_end as usize);
        Ok(InstLine { result, inst, span, name_span: mnemonic.span })
    }

    fn operator<T>(&mut self, inst: &'static str, from_name: fn(&str) -> Option<T>) -> PResult<T> {
        let name = self.ident("an operator")?;
        match from_name(name.text) {
            Some(op) => Ok(op),
            None => self.fail(ErrorKind::UnknownOperator { inst, op: name.text.into() }, name.span),
        }
    }

    fn two_operands(&mut self) -> PResult<[Operand<'s>; 2]> {
        let a = self.operand()?;
        self.expect(Tok::Comma, "`,`")?;
        Ok([a, self.operand()?])
    }

    /// A `%value` or an immediate literal.
    fn operand(&mut self) -> PResult<Operand<'s>> {
        let lit = match self.tok.tok {
            Tok::Local(text) => return Ok(Operand::Value(Name { text, span: self.bump().span })),
            Tok::Int(n) => LitAst::I64(n),
            Tok::Float(x) => LitAst::F64(x),
            Tok::Global(name) => LitAst::Func(name),
            Tok::Ident("true") => LitAst::Bool(true),
            Tok::Ident("false") => LitAst::Bool(false),
            Tok::Ident("null") => LitAst::Null,
            Tok::Ident("inf") => LitAst::F64(f64::INFINITY),
            Tok::Ident("nan") => LitAst::F64(f64::NAN),
            Tok::Str(_) => {
                let token = self.bump();
                let Tok::Str(text) = token.tok else { unreachable!() };
                return Ok(Operand::Lit(LitAst::Str(text), token.span));
            }
            _ => return self.expected("a value or a literal"),
        };
        Ok(Operand::Lit(lit, self.bump().span))
    }

    /// `( operand, ... )`
    fn args(&mut self) -> PResult<Vec<Operand<'s>>> {
        self.expect(Tok::LParen, "`(`")?;
        let mut args = Vec::new();
        if !self.at(&Tok::RParen) {
            loop {
                args.push(self.operand()?);
                if !self.eat(Tok::Comma) {
                    break;
                }
            }
        }
        self.expect(Tok::RParen, "`,` or `)`")?;
        Ok(args)
    }

    /// An optional `-> TYPE`, allowed only when the instruction has a result.
    fn ret_type(&mut self, has_result: bool) -> PResult<Option<Type>> {
        if !self.at(&Tok::Arrow) {
            return Ok(None);
        }
        let arrow = self.bump().span;
        if !has_result {
            return self.fail(ErrorKind::ArrowWithoutResult, arrow);
        }
        Ok(Some(self.ty()?))
    }

    /// `%value.method` or `CLASS.method` (the last dot splits a dotted name).
    fn receiver(&mut self) -> PResult<(ReceiverAst<'s>, Name<'s>)> {
        match self.tok.tok {
            Tok::Local(_) => {
                let value = self.local("a receiver")?;
                self.expect(Tok::Dot, "`.` and a method name")?;
                let method = self.ident("a method name")?;
                if method.text.contains('.') {
                    return self.fail(
                        ErrorKind::Expected { expected: "a method name".into(), found: format!("`{}`", method.text) },
                        method.span,
                    );
                }
                Ok((ReceiverAst::Value(value), method))
            }
            Tok::Ident(text) => {
                let span = self.tok.span;
                let Some(dot) = text.rfind('.') else {
                    return self.expected("a receiver `%value.method` or `CLASS.method`");
                };
                self.bump();
                let class_end = span.start as usize + dot;
                let class = Name { text: &text[..dot], span: Span::new(span.start as usize, class_end) };
                let method = Name { text: &text[dot + 1..], span: Span::new(class_end + 1, span.end as usize) };
                if matches!(class.text, "null" | "true" | "false" | "inf" | "nan") {
                    return self.fail(ErrorKind::LiteralReceiver, class.span);
                }
                if class.text.is_empty() || method.text.is_empty() || class.text.ends_with('.') {
                    return self.fail(
                        ErrorKind::Expected { expected: "`CLASS.method`".into(), found: format!("`{text}`") },
                        span,
                    );
                }
                Ok((ReceiverAst::Class(class), method))
            }
            Tok::Int(_) | Tok::Float(_) | Tok::Str(_) | Tok::Global(_) => {
                let span = self.tok.span;
                self.fail(ErrorKind::LiteralReceiver, span)
            }
            _ => self.expected("a receiver `%value.method` or `CLASS.method`"),
        }
    }

    fn box_decl(&mut self) -> PResult<BoxAst<'s>> {
        self.bump();
        let name = self.ident("a box name")?;
        self.expect(Tok::LBrace, "`{`")?;
        let mut members = Vec::new();
        loop {
            self.skip_newlines();
            if self.eat(Tok::RBrace) {
                return Ok(BoxAst { name, members });
            }
            if self.at(&Tok::Eof) {
                return self.expected("`}` to close the box");
            }
            if self.at_item() {
                return self.fail(ErrorKind::UnclosedFunction, self.tok.span);
            }
            match self.member() {
                Ok(member) if self.at_line_end() => members.push(member),
                Ok(_) => {
                    let _ = self.expected::<()>("end of line");
                    self.skip_line();
                }
                Err(Failed) => self.skip_line(),
            }
        }
    }

    fn member(&mut self) -> PResult<MemberAst<'s>> {
        let keyword = self.ident("`field` or `method`")?;
        match keyword.text {
            "field" => {
                let first = self.ident("a field name")?;
                if first.text == "weak" && matches!(self.tok.tok, Tok::Ident(_)) {
                    Ok(MemberAst::Field { name: self.field_name()?, weak: true })
                } else {
                    self.check_plain(first)?;
                    Ok(MemberAst::Field { name: first, weak: false })
                }
            }
            "method" => {
                let name = self.ident("a method name")?;
                self.check_plain(name)?;
                Ok(MemberAst::Method { name, func: self.global("a function `@name`")? })
            }
            other => self.fail(
                ErrorKind::Expected { expected: "`field` or `method`".into(), found: format!("`{other}`") },
                keyword.span,
            ),
        }
    }

    fn field_name(&mut self) -> PResult<Name<'s>> {
        let name = self.ident("a field name")?;
        self.check_plain(name)?;
        Ok(name)
    }

    /// Field and method names have no dots.
    fn check_plain(&mut self, name: Name<'s>) -> PResult<()> {
        if name.text.contains('.') {
            return self.fail(
                ErrorKind::Expected { expected: "a name without `.`".into(), found: format!("`{}`", name.text) },
                name.span,
            );
        }
        Ok(())
    }
}
