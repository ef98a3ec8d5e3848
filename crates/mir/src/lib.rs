//! MIR13's intermediate representation: types, text format, verifier and
//! the analyses every backend shares.
//!
//! This crate owns the IR ([`Module`], [`Function`] and the 13-variant
//! [`InstData`]), its text format ([`parse`], [`print_module`]), the
//! [`verify`]er with rustc-style diagnostics, and the analyses (CFG,
//! dominators, loop headers, value types, liveness and the [`DropPlan`]).
//! A verified module is a [`Program`].
//!
//! It knows nothing of the Box runtime or of any backend: host functions
//! reach the verifier only as signatures, through [`ExternSigs`].
//!
//! ```
//! let src = "func @main() -> i64 {\nentry:\n  %x = binop add 40, 2\n  return %x\n}\n";
//! let parsed = mir::parse(src).unwrap();
//! let program = mir::Program::new(parsed.module, None, &mir::NoExterns).unwrap();
//! assert!(program.main().is_some());
//! ```

mod cfg;
mod diag;
mod dump;
mod entity;
mod ir;
mod lexer;
mod liveness;
mod lower;
mod parser;
mod printer;
mod program;
mod source_map;
mod verify;

pub use cfg::{BlockOrder, Cfg, DomTree};
pub use diag::{Error, ErrorKind, MAX_RENDERED_ERRORS, RetTypeName, SourceFile, Span, render};
pub use dump::{DumpKind, dump};
pub use entity::{EntityRef, EntityVec};
pub use ir::*;
pub use liveness::{DropPlan, EdgePlan, EdgeRelease, Liveness, MAX_LIVE_ENTRIES, Pressure, TooManyLiveValues};
pub use printer::{
    display_f64, is_inline_const, print_module, write_box, write_escaped, write_function, write_inst, write_signature,
};
pub use program::{FuncInfo, Program};
pub use source_map::{BoxSpans, FuncSpans, InstSpans, SourceMap};
pub use verify::{ExternSig, ExternSigs, Names, NoExterns, Source, converts, verify};

/// A module parsed from text, with the positions of everything in it.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub module: Module,
    pub spans: SourceMap,
}

/// Parses module text. Fails with every syntax error found; names and types
/// are checked later, by [`verify`] or [`Program::new`].
pub fn parse(src: &str) -> Result<Parsed, Vec<Error>> {
    let (items, errors) = parser::parse(src);
    if !errors.is_empty() {
        return Err(errors);
    }
    let (module, spans) = lower::lower(&items);
    Ok(Parsed { module, spans })
}

/// Decodes source bytes: invalid UTF-8 is a syntax error at the first bad
/// byte. Returns the text to show in diagnostics either way. A leading
/// byte-order mark, which some Windows editors write, is dropped (as rustc,
/// Python and C compilers do).
pub fn decode(bytes: &[u8]) -> (String, Option<Error>) {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), None),
        Err(e) => {
            let at = e.valid_up_to();
            let span = Span::new(at, at + e.error_len().unwrap_or(1));
            (String::from_utf8_lossy(bytes).into_owned(), Some(Error::new(ErrorKind::InvalidUtf8, Some(span))))
        }
    }
}
