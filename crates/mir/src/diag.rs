//! Source positions, the error type of parsing and verification, and their
//! rustc-style rendering (`FILE:LINE:COL`, the line, a caret).

use crate::ir::{RetType, Type};
use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Chars, Config};
use std::fmt;
use std::ops::Range;

/// A byte range of the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// The span `start..end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }

    /// The smallest span covering `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// The span as a `Range<usize>`.
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A named source text with its line index.
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<u32>,
}

impl SourceFile {
    /// A source file called `name` (shown in diagnostics) holding `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i as u32 + 1))
            .collect();
        SourceFile { name: name.into(), text, line_starts }
    }

    /// The file's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text under `span` (empty if the span is not on char boundaries).
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line] as usize;
        let end = (offset as usize).min(self.text.len());
        let col = self.text.get(start..end).map_or(end - start, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// Everything that can be wrong with a module's text or IR.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    // ---- lexical and syntax errors ----
    #[error("invalid UTF-8 in source")]
    InvalidUtf8,
    #[error("unexpected character {}", CharName(*.0))]
    UnexpectedChar(char),
    #[error("unterminated string literal")]
    UnterminatedString,
    #[error("invalid escape `{0}` in string literal")]
    InvalidEscape(String),
    #[error("integer literal out of range for i64")]
    IntOutOfRange,
    #[error("malformed number: {0}")]
    MalformedNumber(&'static str),
    #[error("expected {expected}, found {found}")]
    Expected { expected: String, found: String },
    #[error("unknown instruction `{0}`")]
    UnknownInstruction(String),
    #[error("unknown type `{0}` (expected i64, f64, bool or box)")]
    UnknownType(String),
    #[error("unknown {inst} operator `{op}`")]
    UnknownOperator { inst: &'static str, op: String },
    #[error("`{0}` produces a value: write `%name = {0} ...`")]
    ResultRequired(&'static str),
    #[error("`{0}` produces no value")]
    ResultNotAllowed(&'static str),
    #[error("`-> TYPE` needs a result: write `%name = ...`")]
    ArrowWithoutResult,
    #[error("a direct call is typed by its callee's signature; `-> TYPE` is only for indirect calls")]
    ArrowOnDirectCall,
    #[error("a boxcall receiver must be a `%value` or a class name, not a literal")]
    LiteralReceiver,
    #[error("expected a block label (`name:`) before the first instruction")]
    InstBeforeLabel,
    #[error("unclosed function: expected `}}` before the next item")]
    UnclosedFunction,

    // ---- name resolution ----
    #[error("value `%{0}` is defined more than once")]
    DuplicateValue(String),
    #[error("label `{0}` is defined more than once")]
    DuplicateLabel(String),
    #[error("function `@{0}` is defined more than once")]
    DuplicateFunction(String),
    #[error("box `{0}` is declared more than once")]
    DuplicateBox(String),
    #[error("unknown value `{0}`")]
    UnknownValue(String),
    #[error("unknown label `{0}`")]
    UnknownLabel(String),
    #[error("unknown function `@{0}`")]
    UnknownFunction(String),
    #[error("unknown class `{0}`")]
    UnknownClass(String),
    #[error("unknown host function `{0}`")]
    UnknownExtern(String),

    // ---- structure ----
    #[error("function `@{0}` has no blocks")]
    EmptyFunction(String),
    #[error("block `{0}` does not end with a terminator (jump, branch or return)")]
    MissingTerminator(String),
    #[error("instruction after the block's terminator")]
    InstAfterTerminator,
    #[error("phi must come before every other instruction of its block")]
    PhiNotAtStart,
    #[error("phi has no entry for predecessor `{0}`")]
    PhiMissingEntry(String),
    #[error("phi entry for `{0}`, which is not a predecessor of this block")]
    PhiNotPredecessor(String),
    #[error("phi has more than one entry for `{0}`")]
    PhiDuplicateEntry(String),
    #[error("the entry block `{0}` cannot be a branch target")]
    EntryHasPredecessor(String),
    #[error("use of `{0}` is not dominated by its definition")]
    NotDominated(String),
    #[error("cannot infer the type of `{0}`")]
    CannotInferType(String),

    // ---- types ----
    #[error("`{op}` is not defined on {ty}")]
    OpNotOnType { op: &'static str, ty: Type },
    #[error("operands of `{op}` have different types: {left} and {right}")]
    OperandTypes { op: &'static str, left: Type, right: Type },
    #[error("{what} has type {found}, expected {expected}")]
    TypeMismatch { what: String, expected: Type, found: Type },
    #[error("`return` without a value in a function returning {0}")]
    ReturnMissingValue(Type),
    #[error("`return` with a value in a function returning void")]
    ReturnValueInVoid,
    #[error("`@{callee}` takes {expected} argument{s}, got {found}", s = if *.expected == 1 { "" } else { "s" })]
    Arity { callee: String, expected: usize, found: usize },
    #[error("`@{0}` returns void; its call has no result")]
    VoidResult(String),
    #[error("cannot cast {from} to {to}")]
    InvalidCast { from: Type, to: Type },
    #[error("argument {index} of `{name}` has type {found}, which never converts to {expected}")]
    ExternArg { name: String, index: usize, expected: Type, found: Type },
    #[error("`{name}` takes {expected} argument{s}, got {found}", s = if *.expected == 1 { "" } else { "s" })]
    ExternArity { name: String, expected: usize, found: usize },
    #[error("`{name}` returns {host}, which never converts to {wanted}")]
    ExternResult { name: String, host: RetTypeName, wanted: Type },
    #[error("`@main` must take no parameters and return i64 or void")]
    MainSignature,

    // ---- limits ----
    #[error("function `@{0}` is too large to analyze: its live sets would hold more than {max} entries (a value live in n blocks counts n times); split it into smaller functions", max = crate::MAX_LIVE_ENTRIES)]
    TooManyLiveValues(String),

    // ---- user boxes ----
    #[error("box `{0}` has the name of a built-in class")]
    BoxShadowsBuiltin(String),
    #[error("box `{owner}` declares `{name}` more than once")]
    DuplicateMember { owner: String, name: String },
    #[error("method `{method}` of box `{owner}`: `@{func}` must take the receiver as its first parameter, of type box")]
    MethodSelf { owner: String, method: String, func: String },
    #[error(
        "method `fini` of box `{owner}`: `@{func}` must take only the receiver (`%self: box`) and return void; the runtime calls it with the receiver alone and drops no result"
    )]
    FiniSignature { owner: String, func: String },
}

/// A function result type in an error message (`void` for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetTypeName(pub Option<Type>);

impl fmt::Display for RetTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        RetType(self.0).fmt(f)
    }
}

/// An error with the source position it is about, if known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// Where in the source; `None` for IR built without text.
    pub span: Option<Span>,
}

impl Error {
    /// An error of `kind` at `span`.
    pub fn new(kind: ErrorKind, span: Option<Span>) -> Error {
        Error { kind, span }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for Error {}

/// How many errors [`render`] prints before summarising the rest.
pub const MAX_RENDERED_ERRORS: usize = 100;

/// Renders errors like rustc: `error: MESSAGE`, ` --> FILE:LINE:COL`, the
/// source line and a caret under the span. Errors are sorted by position;
/// past [`MAX_RENDERED_ERRORS`] the rest are counted, not shown.
pub fn render(file: &SourceFile, errors: &[Error]) -> String {
    let mut sorted: Vec<&Error> = errors.iter().collect();
    sorted.sort_by_key(|e| e.span.map(|s| (s.start, s.end)));
    let shown = Shown::new(file);
    let file = &shown.file;
    let simple = SimpleFile::new(file.name(), file.text());
    let config = Config { chars: Chars::ascii(), ..Config::default() };
    let mut out = String::new();
    for error in sorted.iter().take(MAX_RENDERED_ERRORS) {
        let message = shown_text(&error.kind.to_string());
        let span = error.span.map(|s| shown.span(s));
        if let Some(span) = span
            && let Some(text) = render_long_line(file, span, &message)
        {
            out.push_str(&text);
            continue;
        }
        let mut diagnostic = Diagnostic::error().with_message(&message);
        if let Some(span) = span {
            diagnostic = diagnostic.with_labels(vec![Label::primary((), clamp(file, span))]);
        }
        match term::emit_into_string(&config, &simple, &diagnostic) {
            Ok(text) => out.push_str(&text),
            Err(_) => out.push_str(&format!("error: {message}\n\n")),
        }
    }
    if sorted.len() > MAX_RENDERED_ERRORS {
        out.push_str(&format!("error: {} more errors not shown\n\n", sorted.len() - MAX_RENDERED_ERRORS));
    }
    let n = errors.len();
    out.push_str(&format!("error: {n} error{} in {}\n", if n == 1 { "" } else { "s" }, file.name()));
    out
}

/// How a diagnostic shows `c`: a control character other than a tab or a
/// line end as its Unicode control picture (`␛` for escape; `�` for the C1
/// range), so that an escape sequence in the source or in a file name
/// cannot restyle the terminal it is printed on.
fn shown_char(c: char) -> Option<char> {
    match c {
        '\t' | '\n' | '\r' => None,
        '\0'..='\u{1f}' => char::from_u32(0x2400 + c as u32),
        '\u{7f}' => Some('\u{2421}'),
        '\u{80}'..='\u{9f}' => Some('\u{fffd}'),
        _ => None,
    }
}

/// `text` with each character as a diagnostic shows it.
fn shown_text(text: &str) -> String {
    text.chars().map(|c| shown_char(c).unwrap_or(c)).collect()
}

/// A source file as a diagnostic shows it (see [`shown_char`]), and how far
/// each replacement moved the text after it.
struct Shown {
    file: SourceFile,
    /// `(end, growth)`: the offset just past a replaced character in the
    /// original text, and how many bytes longer the shown text is by then.
    moved: Vec<(u32, u32)>,
}

impl Shown {
    fn new(file: &SourceFile) -> Shown {
        let mut text = String::with_capacity(file.text().len());
        let mut moved = Vec::new();
        let mut growth = 0;
        for (at, c) in file.text().char_indices() {
            let shown = shown_char(c).unwrap_or(c);
            text.push(shown);
            if shown != c {
                growth += shown.len_utf8() - c.len_utf8();
                moved.push(((at + c.len_utf8()) as u32, growth as u32));
            }
        }
        Shown { file: SourceFile::new(shown_text(file.name()), text), moved }
    }

    /// `span` of the original text, moved onto the shown one.
    fn span(&self, span: Span) -> Span {
        let at = |offset: u32| {
            let before = self.moved.partition_point(|&(end, _)| end <= offset);
            offset + before.checked_sub(1).map_or(0, |k| self.moved[k].1)
        };
        Span { start: at(span.start), end: at(span.end) }
    }
}

/// How a message names a character: in backticks, or as its code point
/// where it would not show (a control, a space other than ` `, a
/// zero-width character).
struct CharName(char);

impl fmt::Display for CharName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        let invisible = c.is_control()
            || (c.is_whitespace() && c != ' ')
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}');
        if invisible { write!(f, "U+{:04X}", c as u32) } else { write!(f, "`{c}`") }
    }
}

/// Lines longer than this are shown as an excerpt around the error.
const MAX_SHOWN_LINE: usize = 240;
/// Characters of context kept on each side of the span in an excerpt.
const EXCERPT_CONTEXT: usize = 60;
/// Most carets drawn under one span.
const MAX_CARETS: usize = 80;

/// Renders an error on a very long line (minified or garbage input) in the
/// same layout as codespan, but showing only an excerpt around the span, so
/// the output stays small however long the line is. `None` for ordinary lines.
fn render_long_line(file: &SourceFile, span: Span, message: &str) -> Option<String> {
    let text = file.text();
    let range = clamp(file, span);
    let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[range.start..].find('\n').map_or(text.len(), |i| range.start + i);
    if line_end - line_start <= MAX_SHOWN_LINE {
        return None;
    }
    let (line, col) = file.line_col(span.start);
    let before: String = {
        let chars: Vec<char> = text[line_start..range.start].chars().rev().take(EXCERPT_CONTEXT).collect();
        chars.into_iter().rev().collect()
    };
    let marked: String = text[range.start..range.end.min(line_end)].chars().take(MAX_CARETS).collect();
    let after: String = text[range.start + marked.len()..line_end].chars().take(EXCERPT_CONTEXT).collect();
    let lead = if line_start + before.len() < range.start { "..." } else { "" };
    let tail = if range.start + marked.len() + after.len() < line_end { "..." } else { "" };
    let width = line.to_string().len();
    let indent = " ".repeat(lead.chars().count() + before.chars().count());
    let carets = "^".repeat(marked.chars().count().max(1));
    Some(format!(
        "error: {message}\n{:width$} --> {}:{line}:{col}\n{:width$} |\n{line} | {lead}{before}{marked}{after}{tail}\n{:width$} | {indent}{carets}\n\n",
        "",
        file.name(),
        "",
        ""
    ))
}

/// A span on char boundaries within the text, as the renderer needs.
fn clamp(file: &SourceFile, span: Span) -> Range<usize> {
    let text = file.text();
    let mut start = (span.start as usize).min(text.len());
    let mut end = (span.end as usize).clamp(start, text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}
