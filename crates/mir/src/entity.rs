//! Entity references: small `u32` ids that index dense vectors.
//!
//! As in Cranelift, an IR object never points at another one; it names it by
//! an id (`Value`, `Block`, `Inst`, ...) that indexes a vector owned by the
//! function or module. Ids are `Copy`, four bytes, and cheap to hash.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

/// A type usable as a dense index.
pub trait EntityRef: Copy + Eq {
    /// The id of the entry at `index`.
    fn new(index: usize) -> Self;
    /// The position this id indexes.
    fn index(self) -> usize;
}

/// Declares a `u32` entity id with a display prefix (`v7`, `block3`, ...).
///
/// Every id type has `INVALID` (`u32::MAX`), which the text lowering uses for
/// a reference that does not resolve; the verifier reports it.
macro_rules! entity {
    ($(#[$attr:meta])* $name:ident, $prefix:literal) => {
        $(#[$attr])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u32);

        impl $name {
            /// The id of no entity: an unresolved reference.
            pub const INVALID: Self = Self(u32::MAX);

            /// The raw index as `u32`.
            pub fn as_u32(self) -> u32 {
                self.0
            }
        }

        impl $crate::entity::EntityRef for $name {
            #[inline]
            fn new(index: usize) -> Self {
                let index = u32::try_from(index).expect("entity index overflows u32");
                debug_assert!(index != u32::MAX);
                Self(index)
            }
            #[inline]
            fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                if *self == Self::INVALID {
                    write!(f, concat!($prefix, "?"))
                } else {
                    write!(f, concat!($prefix, "{}"), self.0)
                }
            }
        }
    };
}
pub(crate) use entity;

/// A vector indexed by an entity id: the primary storage of that entity.
#[derive(Clone, PartialEq, Eq)]
pub struct EntityVec<K, V> {
    items: Vec<V>,
    key: PhantomData<K>,
}

impl<K: EntityRef, V> EntityVec<K, V> {
    /// An empty vector.
    pub fn new() -> Self {
        Self { items: Vec::new(), key: PhantomData }
    }

    /// An empty vector with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        Self { items: Vec::with_capacity(n), key: PhantomData }
    }

    /// Appends `value` and returns its id.
    pub fn push(&mut self, value: V) -> K {
        let key = K::new(self.items.len());
        self.items.push(value);
        key
    }

    /// The id the next `push` will return.
    pub fn next_key(&self) -> K {
        K::new(self.items.len())
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `key` names an entry of this vector (false for `INVALID`).
    #[inline]
    pub fn contains(&self, key: K) -> bool {
        key.index() < self.items.len()
    }

    /// The entry of `key`, if it exists.
    #[inline]
    pub fn get(&self, key: K) -> Option<&V> {
        self.items.get(key.index())
    }

    /// All ids, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = K> + ExactSizeIterator + use<K, V> {
        (0..self.items.len()).map(K::new)
    }

    /// All entries with their ids, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (K, &V)> + ExactSizeIterator {
        self.items.iter().enumerate().map(|(i, v)| (K::new(i), v))
    }

    /// All entries, in order.
    pub fn values(&self) -> std::slice::Iter<'_, V> {
        self.items.iter()
    }

    /// The entries as a slice.
    pub fn as_slice(&self) -> &[V] {
        &self.items
    }
}

impl<K: EntityRef, V: Clone> EntityVec<K, V> {
    /// A vector of `n` copies of `value`: a secondary map over ids `0..n`.
    pub fn filled(n: usize, value: V) -> Self {
        Self { items: vec![value; n], key: PhantomData }
    }
}

impl<K: EntityRef, V> Default for EntityVec<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: EntityRef, V> Index<K> for EntityVec<K, V> {
    type Output = V;
    #[inline]
    fn index(&self, key: K) -> &V {
        &self.items[key.index()]
    }
}

impl<K: EntityRef, V> IndexMut<K> for EntityVec<K, V> {
    #[inline]
    fn index_mut(&mut self, key: K) -> &mut V {
        &mut self.items[key.index()]
    }
}

impl<K: EntityRef + fmt::Debug, V: fmt::Debug> fmt::Debug for EntityVec<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: EntityRef, V> FromIterator<V> for EntityVec<K, V> {
    fn from_iter<I: IntoIterator<Item = V>>(iter: I) -> Self {
        Self { items: iter.into_iter().collect(), key: PhantomData }
    }
}
