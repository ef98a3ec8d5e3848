//! The memory layout compiled code relies on, as byte offsets.
//!
//! A [`Value`] is `#[repr(C, u8)]`: a tag byte at [`VALUE_TAG`] and an
//! 8-byte payload at [`VALUE_PAYLOAD`]. Heap objects start with their
//! header; an ArrayBox's elements are a [`crate::heap::ValueVec`].

use crate::heap::{ArrayBody, ObjBox, UserBody, ValueVec};
use crate::value::Value;
use std::mem::offset_of;

/// Size of a value.
pub const VALUE_SIZE: usize = size_of::<Value>();
/// Offset of a value's tag byte.
pub const VALUE_TAG: usize = 0;
/// Offset of a value's payload (i64, f64 bits, bool byte, function id, object pointer).
pub const VALUE_PAYLOAD: usize = 8;

/// Tags of the kinds of values.
pub const TAG_NULL: u8 = 0;
pub const TAG_I64: u8 = 1;
pub const TAG_F64: u8 = 2;
pub const TAG_BOOL: u8 = 3;
pub const TAG_FUNC: u8 = 4;
pub const TAG_OBJ: u8 = 5;

/// Offset of an object's strong count (`u32`).
pub const OBJ_RC: usize = 0;
/// Offset of an object's kind byte ([`crate::Kind`] as `u8`).
pub const OBJ_KIND: usize = 8;
/// The kind byte of an ArrayBox.
pub const KIND_ARRAY: u8 = crate::heap::Kind::Array as u8;
/// The kind byte of a StringBox.
pub const KIND_STRING: u8 = crate::heap::Kind::Str as u8;
/// The kind byte of a user box.
pub const KIND_USER: u8 = crate::heap::Kind::User as u8;

/// Offset of an ArrayBox's element pointer.
pub const ARRAY_PTR: usize =
    offset_of!(ObjBox<ArrayBody>, body) + offset_of!(ArrayBody, items) + offset_of!(ValueVec, ptr);
/// Offset of an ArrayBox's capacity.
pub const ARRAY_CAP: usize =
    offset_of!(ObjBox<ArrayBody>, body) + offset_of!(ArrayBody, items) + offset_of!(ValueVec, cap);
/// Offset of an ArrayBox's length.
pub const ARRAY_LEN: usize =
    offset_of!(ObjBox<ArrayBody>, body) + offset_of!(ArrayBody, items) + offset_of!(ValueVec, len);

/// Offset of an ArrayBox's `floats` byte: 1 only while every element is an
/// f64 (see [`ArrayBody::floats`]).
pub const ARRAY_FLOATS: usize = offset_of!(ObjBox<ArrayBody>, body) + offset_of!(ArrayBody, floats);

/// Offset of a user box's class id (`u32`).
pub const USER_CLASS: usize = offset_of!(ObjBox<UserBody>, body) + offset_of!(UserBody, class);
/// Offset of a user box's field pointer (one value per field, in order).
pub const USER_FIELDS: usize =
    offset_of!(ObjBox<UserBody>, body) + offset_of!(UserBody, fields) + offset_of!(ValueVec, ptr);

const _: () = assert!(VALUE_SIZE == 16);
const _: () = assert!(size_of::<mir::BoxId>() == 4);
const _: () = assert!(offset_of!(crate::heap::Header, rc) == OBJ_RC);
const _: () = assert!(offset_of!(crate::heap::Header, kind) == OBJ_KIND);
