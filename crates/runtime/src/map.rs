//! MapBox storage: an insertion-ordered hash map whose insert, lookup and
//! delete are all amortised O(1).
//!
//! `indexmap` keeps order too, but its order-preserving delete shifts every
//! later entry, which makes emptying a map quadratic. As CPython's dict does,
//! this map keeps entries in a vector in insertion order, leaves a hole where
//! one is deleted, and compacts once holes outnumber live entries.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::heap::MapKey;
use crate::value::Value;

/// An insertion-ordered map from [`MapKey`] to [`Value`].
#[derive(Default)]
pub struct OrderedMap {
    /// Entries in insertion order; `None` is a deleted entry's hole.
    slots: Vec<Option<(MapKey, Value)>>,
    /// Slot index of every live entry, hashed by its key.
    index: HashTable<usize>,
    hasher: DefaultHashBuilder,
    live: usize,
    /// Bytes of string keys, kept so memory accounting is O(1).
    key_bytes: usize,
}

impl OrderedMap {
    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.live
    }

    fn find(&self, hash: u64, key: &MapKey) -> Option<usize> {
        let slots = &self.slots;
        self.index.find(hash, |&i| matches!(&slots[i], Some((k, _)) if k == key)).copied()
    }

    /// The value under `key`.
    pub fn get(&self, key: &MapKey) -> Option<&Value> {
        let i = self.find(self.hasher.hash_one(key), key)?;
        self.slots[i].as_ref().map(|(_, v)| v)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &MapKey) -> bool {
        self.find(self.hasher.hash_one(key), key).is_some()
    }

    /// Sets `key` to `value`, returning the value it replaces. A new key goes
    /// last; an existing key keeps its position (§7).
    pub fn insert(&mut self, key: MapKey, value: Value) -> Option<Value> {
        let hash = self.hasher.hash_one(&key);
        if let Some(i) = self.find(hash, &key) {
            return self.slots[i].as_mut().map(|(_, v)| std::mem::replace(v, value));
        }
        let at = self.slots.len();
        self.key_bytes += key_bytes(&key);
        self.slots.push(Some((key, value)));
        self.live += 1;
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, at, |&i| rehash(hasher, slots, i));
        None
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &MapKey) -> Option<Value> {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        let (at, _) = self.index.find_entry(hash, |&i| matches!(&slots[i], Some((k, _)) if k == key)).ok()?.remove();
        let (key, value) = self.slots[at].take()?;
        self.key_bytes -= key_bytes(&key);
        self.live -= 1;
        if self.slots.len() > 2 * self.live + 8 {
            self.compact();
        }
        Some(value)
    }

    /// Closes the holes, keeping the order.
    fn compact(&mut self) {
        self.slots.retain(Option::is_some);
        self.index.clear();
        let (slots, hasher) = (&self.slots, &self.hasher);
        for at in 0..slots.len() {
            self.index.insert_unique(rehash(hasher, slots, at), at, |&i| rehash(hasher, slots, i));
        }
    }

    /// Removes every entry, handing back the values in insertion order.
    pub fn take_values(&mut self) -> impl Iterator<Item = Value> {
        let slots = std::mem::take(self).slots;
        slots.into_iter().flatten().map(|(_, v)| v)
    }

    /// Live entries in insertion order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&MapKey, &Value)> {
        self.slots.iter().flatten().map(|(k, v)| (k, v))
    }

    /// The first live entry at slot `from` or later, with its slot; walking
    /// the map by slot lets a caller resume where it stopped.
    pub fn entry_from(&self, from: usize) -> Option<(usize, &MapKey, &Value)> {
        let (at, (k, v)) = self.slots.get(from..)?.iter().enumerate().find_map(|(i, s)| Some((i, s.as_ref()?)))?;
        Some((from + at, k, v))
    }

    /// Bytes owned outside the MapBox object, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Option<(MapKey, Value)>>()
            + self.index.capacity() * (size_of::<usize>() + 1)
            + self.key_bytes
    }
}

fn key_bytes(key: &MapKey) -> usize {
    if let MapKey::Str(s) = key { s.len() } else { 0 }
}

/// The hash of the live entry at slot `i` (every index entry names one).
fn rehash(hasher: &DefaultHashBuilder, slots: &[Option<(MapKey, Value)>], i: usize) -> u64 {
    slots[i].as_ref().map_or(0, |(k, _)| hasher.hash_one(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(m: &OrderedMap) -> Vec<i64> {
        m.iter().map(|(k, _)| if let MapKey::Int(n) = k { *n } else { -1 }).collect()
    }

    #[test]
    fn order_survives_deletes_and_compaction() {
        let mut m = OrderedMap::default();
        for n in 0..100 {
            assert!(m.insert(MapKey::Int(n), Value::I64(n)).is_none());
        }
        for n in (0..100).filter(|n| n % 3 != 0) {
            assert!(matches!(m.remove(&MapKey::Int(n)), Some(Value::I64(v)) if v == n));
        }
        assert_eq!(m.len(), 34);
        assert_eq!(keys(&m), (0..100).filter(|n| n % 3 == 0).collect::<Vec<_>>());
        m.insert(MapKey::Int(1), Value::I64(1));
        m.insert(MapKey::Int(0), Value::I64(7));
        assert_eq!(keys(&m).first(), Some(&0), "an existing key keeps its place");
        assert_eq!(keys(&m).last(), Some(&1), "a new key goes last");
        assert!(matches!(m.get(&MapKey::Int(0)), Some(Value::I64(7))));
        assert!(m.remove(&MapKey::Int(2)).is_none());
        assert!(!m.contains_key(&MapKey::Int(2)));
    }

    #[test]
    fn entry_from_skips_holes() {
        let mut m = OrderedMap::default();
        for n in 0..4 {
            m.insert(MapKey::Int(n), Value::Null);
        }
        m.remove(&MapKey::Int(1));
        let (at, k, _) = m.entry_from(1).expect("an entry after the hole");
        assert_eq!((at, k), (2, &MapKey::Int(2)));
        assert!(m.entry_from(4).is_none());
    }
}
