//! mir13: a 13-instruction typed SSA IR with a Box runtime and three
//! interchangeable backends.
//!
//! This crate is the embedding facade and the `mir13` command line. It ties
//! the IR (`mir`) to the runtime's host functions (`runtime`); it holds no
//! IR or execution logic of its own.

use std::fmt;

pub use mir;
pub use runtime;

use mir::{Error, ErrorKind, Parsed, Program, Source, SourceFile};

/// A source text that failed to load, with every error found in it.
/// `Display` renders them rustc-style with positions and carets.
#[derive(Debug)]
pub struct Diagnostics {
    pub file: SourceFile,
    pub errors: Vec<Error>,
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mir::render(&self.file, &self.errors))
    }
}

impl std::error::Error for Diagnostics {}

/// Decodes and parses source bytes named `name` (for diagnostics).
pub fn parse_source(name: &str, bytes: &[u8]) -> Result<(SourceFile, Parsed), Diagnostics> {
    let (text, utf8_error) = mir::decode(bytes);
    let file = SourceFile::new(name, text);
    if let Some(error) = utf8_error {
        return Err(Diagnostics { file, errors: vec![error] });
    }
    match mir::parse(file.text()) {
        Ok(parsed) => Ok((file, parsed)),
        Err(errors) => Err(Diagnostics { file, errors }),
    }
}

/// Decodes, parses and verifies source bytes against the standard host
/// functions, giving a program ready to run.
pub fn load(name: &str, bytes: &[u8]) -> Result<(SourceFile, Program), Diagnostics> {
    let (file, parsed) = parse_source(name, bytes)?;
    let host = runtime::host::StandardHost::new();
    let source = Source { file: &file, map: &parsed.spans };
    match Program::new(parsed.module, Some(source), &host) {
        Ok(program) => Ok((file, program)),
        Err(errors) => Err(Diagnostics { file, errors }),
    }
}

/// The canonical text of a module. Formatting needs the text to parse and
/// every `%value` and label to resolve (otherwise printing would lose them);
/// type errors and unknown functions do not stop it.
pub fn format_source(name: &str, bytes: &[u8]) -> Result<String, Diagnostics> {
    let (file, parsed) = parse_source(name, bytes)?;
    let source = Source { file: &file, map: &parsed.spans };
    let unresolved: Vec<Error> = mir::verify(&parsed.module, Some(source), &mir::NoExterns)
        .into_iter()
        .filter(|e| matches!(e.kind, ErrorKind::UnknownValue(_) | ErrorKind::UnknownLabel(_)))
        .collect();
    if !unresolved.is_empty() {
        return Err(Diagnostics { file, errors: unresolved });
    }
    Ok(mir::print_module(&parsed.module))
}
