//! The lexer: source text to tokens with spans.
//!
//! Newlines are tokens (an instruction is one line); comments run from `;`
//! or `//` to the end of the line. A malformed token becomes [`Tok::Error`]
//! after its error is recorded, so the parser can skip the line and go on.

use crate::diag::{Error, ErrorKind, Span};
use std::borrow::Cow;

/// A token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok<'s> {
    /// A keyword, label, class or dotted name: `[A-Za-z_][A-Za-z0-9_.]*`.
    Ident(&'s str),
    /// `%name`: a value.
    Local(&'s str),
    /// `@name`: a function.
    Global(&'s str),
    Int(i64),
    Float(f64),
    /// A string literal with escapes resolved.
    Str(Cow<'s, str>),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Equals,
    Arrow,
    Dot,
    Newline,
    /// A malformed token; its error was already recorded.
    Error,
    Eof,
}

impl Tok<'_> {
    /// How the token reads in an "expected X, found Y" message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Local(s) => format!("`%{s}`"),
            Tok::Global(s) => format!("`@{s}`"),
            Tok::Int(n) => format!("`{n}`"),
            Tok::Float(x) => format!("`{x:?}`"),
            Tok::Str(_) => "a string".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Colon => "`:`".into(),
            Tok::Equals => "`=`".into(),
            Tok::Arrow => "`->`".into(),
            Tok::Dot => "`.`".into(),
            Tok::Newline => "end of line".into(),
            Tok::Error => "an invalid token".into(),
            Tok::Eof => "end of file".into(),
        }
    }
}

/// A token with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Token<'s> {
    pub tok: Tok<'s>,
    pub span: Span,
}

/// Streaming lexer over a source string.
pub struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    /// Lexical errors found so far.
    pub errors: Vec<Error>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'s> Lexer<'s> {
    /// A lexer at the start of `src`.
    pub fn new(src: &'s str) -> Self {
        Lexer { src, bytes: src.as_bytes(), pos: 0, errors: Vec::new() }
    }

    fn peek_byte(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn error(&mut self, kind: ErrorKind, start: usize, end: usize) -> Tok<'s> {
        self.errors.push(Error::new(kind, Some(Span::new(start, end))));
        Tok::Error
    }

    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'s str {
        let start = self.pos;
        while self.pos < self.bytes.len() && pred(self.bytes[self.pos]) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    /// The next token.
    pub fn next_token(&mut self) -> Token<'s> {
        loop {
            match self.peek_byte(0) {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b';' => self.skip_comment(),
                b'/' if self.peek_byte(1) == b'/' => self.skip_comment(),
                _ => break,
            }
        }
        let start = self.pos;
        let tok = self.lex_token(start);
        Token { tok, span: Span::new(start, self.pos) }
    }

    fn skip_comment(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn lex_token(&mut self, start: usize) -> Tok<'s> {
        let Some(&b) = self.bytes.get(start) else {
            return Tok::Eof;
        };
        let single = |tok| tok;
        self.pos += 1;
        match b {
            b'\n' => single(Tok::Newline),
            b'(' => single(Tok::LParen),
            b')' => single(Tok::RParen),
            b'{' => single(Tok::LBrace),
            b'}' => single(Tok::RBrace),
            b'[' => single(Tok::LBracket),
            b']' => single(Tok::RBracket),
            b',' => single(Tok::Comma),
            b':' => single(Tok::Colon),
            b'=' => single(Tok::Equals),
            b'.' => single(Tok::Dot),
            b'"' => self.lex_string(start),
            b'%' => {
                let name = self.take_while(is_local_char);
                if name.is_empty() {
                    self.error(
                        ErrorKind::Expected { expected: "a value name after `%`".into(), found: self.found_here() },
                        start,
                        self.pos,
                    )
                } else {
                    Tok::Local(name)
                }
            }
            b'@' => {
                if !is_ident_start(self.peek_byte(0)) {
                    return self.error(
                        ErrorKind::Expected { expected: "a function name after `@`".into(), found: self.found_here() },
                        start,
                        self.pos,
                    );
                }
                Tok::Global(self.take_while(is_ident_char))
            }
            b'-' => match self.peek_byte(0) {
                b'>' => {
                    self.pos += 1;
                    Tok::Arrow
                }
                b'0'..=b'9' => {
                    self.pos += 1;
                    self.lex_number(start, true)
                }
                _ if self.src[self.pos..].starts_with("inf") && !is_ident_char(self.peek_byte(3)) => {
                    self.pos += 3;
                    Tok::Float(f64::NEG_INFINITY)
                }
                _ => self.error(ErrorKind::MalformedNumber("`-` must be followed by digits or `inf`"), start, self.pos),
            },
            b'0'..=b'9' => self.lex_number(start, false),
            _ if is_ident_start(b) => {
                self.pos = start;
                Tok::Ident(self.take_while(is_ident_char))
            }
            _ => {
                // Step over the whole (possibly multi-byte) character.
                let ch = self.src[start..].chars().next().unwrap_or('\u{fffd}');
                self.pos = start + ch.len_utf8();
                self.error(ErrorKind::UnexpectedChar(ch), start, self.pos)
            }
        }
    }

    /// Describes the character at the cursor for an error message.
    fn found_here(&self) -> String {
        match self.src[self.pos..].chars().next() {
            None => "end of file".into(),
            Some('\n') => "end of line".into(),
            Some(c) => format!("`{c}`"),
        }
    }

    /// Lexes a number whose first digit is at `self.pos - 1`.
    fn lex_number(&mut self, start: usize, negative: bool) -> Tok<'s> {
        let digits_start = self.pos - 1;
        let tok = if self.bytes[digits_start] == b'0' && matches!(self.peek_byte(0), b'x' | b'X') {
            self.pos += 1;
            let digits = self.take_while(|b| b.is_ascii_hexdigit() || b == b'_');
            if !digits.bytes().any(|b| b.is_ascii_hexdigit()) {
                return self.error(ErrorKind::MalformedNumber("expected hex digits after `0x`"), start, self.pos);
            }
            self.int_value(digits, 16, negative, start)
        } else {
            self.pos = digits_start;
            self.take_while(|b| b.is_ascii_digit() || b == b'_');
            let mut is_float = false;
            if self.peek_byte(0) == b'.' {
                if !self.peek_byte(1).is_ascii_digit() {
                    self.pos += 1;
                    return self.error(ErrorKind::MalformedNumber("expected a digit after `.`"), start, self.pos);
                }
                self.pos += 1;
                self.take_while(|b| b.is_ascii_digit() || b == b'_');
                is_float = true;
            }
            if matches!(self.peek_byte(0), b'e' | b'E') {
                self.pos += 1;
                if matches!(self.peek_byte(0), b'+' | b'-') {
                    self.pos += 1;
                }
                if !self.peek_byte(0).is_ascii_digit() {
                    return self.error(ErrorKind::MalformedNumber("expected digits in the exponent"), start, self.pos);
                }
                self.take_while(|b| b.is_ascii_digit() || b == b'_');
                is_float = true;
            }
            let text = &self.src[digits_start..self.pos];
            if is_float {
                let cleaned: String = text.chars().filter(|&c| c != '_').collect();
                match cleaned.parse::<f64>() {
                    Ok(x) => Tok::Float(if negative { -x } else { x }),
                    Err(_) => return self.error(ErrorKind::MalformedNumber("invalid float"), start, self.pos),
                }
            } else {
                self.int_value(text, 10, negative, start)
            }
        };
        if is_ident_char(self.peek_byte(0)) {
            self.take_while(is_ident_char);
            return self.error(ErrorKind::MalformedNumber("unexpected characters after the number"), start, self.pos);
        }
        tok
    }

    fn int_value(&mut self, digits: &str, radix: u32, negative: bool, start: usize) -> Tok<'s> {
        let limit = if negative { 1u128 << 63 } else { (1u128 << 63) - 1 };
        let mut value: u128 = 0;
        for c in digits.chars().filter(|&c| c != '_') {
            let d = c.to_digit(radix).unwrap_or(0) as u128;
            value = value * radix as u128 + d;
            if value > limit {
                return self.error(ErrorKind::IntOutOfRange, start, self.pos);
            }
        }
        let magnitude = value as i128;
        Tok::Int((if negative { -magnitude } else { magnitude }) as i64)
    }

    /// Lexes a string literal whose `"` is at `start`.
    fn lex_string(&mut self, start: usize) -> Tok<'s> {
        let body = self.pos;
        let mut owned: Option<String> = None;
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return self.error(ErrorKind::UnterminatedString, start, self.pos);
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Tok::Str(match owned {
                        Some(s) => Cow::Owned(s),
                        None => Cow::Borrowed(&self.src[body..self.pos - 1]),
                    });
                }
                b'\n' => return self.error(ErrorKind::UnterminatedString, start, self.pos),
                b'\\' => {
                    let text = owned.get_or_insert_with(|| self.src[body..self.pos].to_string());
                    let escape_start = self.pos;
                    self.pos += 1;
                    let resolved = match self.bytes.get(self.pos) {
                        Some(b'n') => Some('\n'),
                        Some(b't') => Some('\t'),
                        Some(b'r') => Some('\r'),
                        Some(b'\\') => Some('\\'),
                        Some(b'"') => Some('"'),
                        Some(b'0') => Some('\0'),
                        Some(b'u') => None,
                        // A backslash cannot continue a string onto the next line.
                        Some(b'\n') | None => return self.error(ErrorKind::UnterminatedString, start, self.pos),
                        _ => {
                            let end = self.src[self.pos..].chars().next().map_or(self.pos, |c| self.pos + c.len_utf8());
                            self.pos = end;
                            let escaped: String =
                                self.src[escape_start + 1..end].chars().flat_map(char::escape_debug).collect();
                            let escape = format!("\\{escaped}");
                            self.skip_rest_of_string();
                            return self.error(ErrorKind::InvalidEscape(escape), escape_start, end);
                        }
                    };
                    match resolved {
                        Some(c) => {
                            text.push(c);
                            self.pos += 1;
                        }
                        None => match self.unicode_escape() {
                            Some(c) => text.push(c),
                            None => {
                                let escape = self.src[escape_start..self.pos].to_string();
                                let end = self.pos;
                                self.skip_rest_of_string();
                                return self.error(ErrorKind::InvalidEscape(escape), escape_start, end);
                            }
                        },
                    }
                }
                _ => {
                    let ch_len = self.src[self.pos..].chars().next().map_or(1, char::len_utf8);
                    if let Some(text) = owned.as_mut() {
                        text.push_str(&self.src[self.pos..self.pos + ch_len]);
                    }
                    self.pos += ch_len;
                }
            }
        }
    }

    /// Parses `u{HEX}` after a backslash; the cursor is on the `u`.
    fn unicode_escape(&mut self) -> Option<char> {
        self.pos += 1;
        if self.peek_byte(0) != b'{' {
            return None;
        }
        self.pos += 1;
        let digits = self.take_while(|b| b.is_ascii_hexdigit());
        if self.peek_byte(0) != b'}' || digits.is_empty() || digits.len() > 6 {
            return None;
        }
        self.pos += 1;
        char::from_u32(u32::from_str_radix(digits, 16).ok()?)
    }

    /// After a bad escape, skips to the closing quote so the rest of the
    /// string does not produce more errors.
    fn skip_rest_of_string(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'"' => {
                    self.pos += 1;
                    return;
                }
                b'\n' => return,
                b'\\' => self.pos += 2,
                _ => self.pos += 1,
            }
        }
        self.pos = self.pos.min(self.bytes.len());
    }
}
