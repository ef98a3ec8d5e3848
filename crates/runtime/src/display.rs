//! Display forms (§8): what `env.console.log` prints.
//!
//! Containers are walked with an explicit stack, so a deeply nested array
//! prints without native recursion; a container met again inside itself
//! prints as `[...]`, `{...}` or `Name{...}`, as Python does. A container
//! met again elsewhere prints again in full, so the text can be far larger
//! than the objects (an array holding the previous one twice, 30 deep,
//! prints 6 GB): a [`Budget`] bounds it.

use crate::heap::{ArrayBody, Kind, MapBody, MapKey, ObjRef, UserBody};
use crate::meta::ProgramInfo;
use crate::trap::Trap;
use crate::value::Value;
use std::collections::HashSet;
use std::fmt::Write;

/// What a display may cost: past `max_bytes` of text (or when the text
/// cannot grow) it traps `out of memory`, and every [`POLL_BYTES`] it
/// polls for an interrupt or a timeout.
pub struct Budget<'a> {
    pub max_bytes: usize,
    pub poll: &'a dyn Fn() -> Result<(), Trap>,
}

/// Text written between two checks of a [`Budget`].
const POLL_BYTES: usize = 1 << 16;

/// Room for a MatrixBox or TensorBox display: at most about a thousand
/// elements and the lists around them (see `kernels::write_nested`).
const SUMMARY_BYTES: usize = 1 << 16;

impl Budget<'_> {
    /// Checks the budget before a summarised MatrixBox or TensorBox display.
    pub(crate) fn check_summary(&self, out: &mut String) -> Result<(), Trap> {
        self.check(out, SUMMARY_BYTES)
    }

    /// Checks `out` against the budget and makes room for the next
    /// [`POLL_BYTES`] (and `next` more) without an infallible allocation.
    fn check(&self, out: &mut String, next: usize) -> Result<(), Trap> {
        if out.len() > self.max_bytes {
            return Err(Trap::OutOfMemory);
        }
        out.try_reserve(POLL_BYTES + next).map_err(|_| Trap::OutOfMemory)?;
        (self.poll)()
    }
}

/// Appends the display form of `v` to `out` (strings unquoted at top level).
pub fn display(info: &ProgramInfo, v: Value, out: &mut String, budget: &Budget) -> Result<(), Trap> {
    if let Some(s) = v.as_str() {
        budget.check(out, s.len())?;
        out.push_str(s);
        Ok(())
    } else {
        write_nested(info, v, out, budget)
    }
}

/// Appends `text` quoted as inside a container: `"`, `\` and control
/// characters escaped (`\" \\ \n \t \r`, else `\u{1b}`).
pub fn write_quoted(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a map key's display form (strings quoted).
pub fn write_key(key: &MapKey, out: &mut String) {
    match key {
        MapKey::Int(n) => {
            let _ = write!(out, "{n}");
        }
        MapKey::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        MapKey::Str(s) => write_quoted(s, out),
    }
}

/// A container being printed, and how far.
struct Open {
    obj: ObjRef,
    next: usize,
}

/// Writes `v` as a container element, walking nested containers iteratively.
fn write_nested(info: &ProgramInfo, v: Value, out: &mut String, budget: &Budget) -> Result<(), Trap> {
    let mut stack: Vec<Open> = Vec::new();
    let mut on_path: HashSet<ObjRef> = HashSet::new();
    let mut pending = Some(v);
    let mut checked_at = out.len();
    budget.check(out, 0)?;
    loop {
        if let Some(v) = pending.take() {
            make_room(out, budget, &mut checked_at, v.as_str().map_or(0, |s| s.len() + 2))?;
            if let Some(obj) = open(info, v, &on_path, out, budget)? {
                on_path.insert(obj);
                stack.push(Open { obj, next: 0 });
            }
        }
        let Some(top) = stack.last_mut() else { return Ok(()) };
        let obj = top.obj;
        let i = top.next;
        top.next += 1;
        match obj.kind() {
            Kind::Array => match obj.body::<ArrayBody>().items.get(i) {
                Some(&item) => {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    pending = Some(item);
                }
                None => close(&mut stack, &mut on_path, out, "]"),
            },
            Kind::Map => match obj.body::<MapBody>().entries.entry_from(i) {
                Some((at, key, &value)) => {
                    // Only a printed entry moves `next` past 0.
                    if let Some(top) = stack.last_mut() {
                        top.next = at + 1;
                    }
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let key_len = if let MapKey::Str(s) = key { s.len() + 2 } else { 0 };
                    make_room(out, budget, &mut checked_at, key_len)?;
                    write_key(key, out);
                    out.push_str(": ");
                    pending = Some(value);
                }
                None => close(&mut stack, &mut on_path, out, "}"),
            },
            Kind::User => {
                let body = obj.body::<UserBody>();
                let class = info.class(body.class);
                match body.fields.get(i) {
                    Some(&field) => {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        let _ = write!(out, "{}: ", class.fields[i]);
                        // A weak field shows its target only while it lives.
                        let alive = field.as_obj().is_none_or(|o| o.is_alive());
                        pending = Some(if alive { field } else { Value::Null });
                    }
                    None => close(&mut stack, &mut on_path, out, "}"),
                }
            }
            Kind::Str | Kind::Matrix | Kind::Tensor => unreachable!("only containers are opened"),
        }
    }
}

/// Checks the budget when [`POLL_BYTES`] were written since the last check
/// (at `checked_at`), or when the next `next` bytes would not fit.
fn make_room(out: &mut String, budget: &Budget, checked_at: &mut usize, next: usize) -> Result<(), Trap> {
    if out.len() - *checked_at >= POLL_BYTES || next > out.capacity() - out.len() {
        budget.check(out, next)?;
        *checked_at = out.len();
    }
    Ok(())
}

fn close(stack: &mut Vec<Open>, on_path: &mut HashSet<ObjRef>, out: &mut String, closer: &str) {
    out.push_str(closer);
    if let Some(done) = stack.pop() {
        on_path.remove(&done.obj);
    }
}

/// Writes a scalar or string, or the opening of a container (returned to be
/// walked). A container already open is written as a cycle marker.
fn open(
    info: &ProgramInfo,
    v: Value,
    on_path: &HashSet<ObjRef>,
    out: &mut String,
    budget: &Budget,
) -> Result<Option<ObjRef>, Trap> {
    match v {
        Value::Null => out.push_str("null"),
        Value::I64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::F64(x) => out.push_str(&mir::display_f64(x)),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Func(f) => {
            let _ = write!(out, "<function @{}>", info.func(f).name);
        }
        Value::Obj(obj) => {
            let cycle = on_path.contains(&obj);
            match obj.kind() {
                Kind::Str => write_quoted(obj.string(), out),
                Kind::Matrix => crate::matrix::write_matrix(obj.body(), out, budget)?,
                Kind::Tensor => crate::tensor::write_tensor(obj.body(), out, budget)?,
                Kind::Array => out.push_str(if cycle { "[...]" } else { "[" }),
                Kind::Map => out.push_str(if cycle { "{...}" } else { "{" }),
                Kind::User => {
                    out.push_str(&info.class(obj.user().class).name);
                    out.push_str(if cycle { "{...}" } else { "{" });
                }
            }
            if !cycle && matches!(obj.kind(), Kind::Array | Kind::Map | Kind::User) {
                return Ok(Some(obj));
            }
        }
    }
    Ok(None)
}
