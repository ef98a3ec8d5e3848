//! MapBox storage: an insertion-ordered hash map whose insert, lookup and
//! delete are all amortised O(1).
//!
//! `indexmap` keeps order too, but its order-preserving delete shifts every
//! later entry, which makes emptying a map quadratic. As CPython's dict does,
//! this map keeps entries in a vector in insertion order, leaves a hole where
//! one is deleted, and compacts once holes outnumber live entries.
//!
//! Small non-negative integer keys skip hashing: as in Lua's "array part",
//! a dense table maps such a key straight to its slot. It grows, by powers
//! of two, only to a size more than half of whose keys would be present, so
//! a map with the key 10^12 never allocates for it. The size is reconsidered
//! whenever the hash index has doubled since the last time (a count in time
//! proportional to the index, so amortised O(1)); the integer keys it then
//! covers move out of the hash index. Order, holes and compaction are those
//! of the slots, so which part indexes a key is invisible to programs.
//!
//! The hash index keeps each key's (32-bit) hash beside its slot, so that
//! growing it never reads the randomly placed slots again.

use std::hash::BuildHasher;

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};

use crate::heap::MapKey;
use crate::value::Value;

/// A dense-table entry with no key.
const NONE: u32 = u32::MAX;

/// An entry of the hash index: a live slot and its key's hash.
#[derive(Clone, Copy)]
struct Hashed {
    slot: u32,
    hash: u32,
}

/// An insertion-ordered map from [`MapKey`] to [`Value`].
#[derive(Default)]
pub struct OrderedMap {
    /// Entries in insertion order; `None` is a deleted entry's hole.
    slots: Vec<Option<(MapKey, Value)>>,
    /// Slot of each integer key `0 <= k < dense.len()` (or `NONE`); such
    /// keys are never in `index`. Its length is 0 or a power of two.
    dense: Vec<u32>,
    /// Live entries indexed by `dense`.
    dense_live: usize,
    /// Every other live entry, hashed by its key.
    index: HashTable<Hashed>,
    hasher: DefaultHashBuilder,
    live: usize,
    /// Non-negative integer keys in `index`: what `dense` could take over.
    hashed_ints: usize,
    /// Length of `index` from which a new hashed key reconsiders `dense`.
    check_at: usize,
    /// Bytes of string keys, kept so memory accounting is O(1).
    key_bytes: usize,
}

impl OrderedMap {
    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.live
    }

    fn hash(&self, key: &MapKey) -> u32 {
        key_hash(&self.hasher, key)
    }

    fn find(&self, hash: u32, key: &MapKey) -> Option<usize> {
        let slots = &self.slots;
        self.index.find(wide(hash), |e| e.hash == hash && is_key(slots, e.slot, key)).map(|e| e.slot as usize)
    }

    /// The slot of a live `key`.
    #[inline]
    fn slot_of(&self, key: &MapKey) -> Option<usize> {
        match dense_pos(self.dense.len(), key) {
            Some(k) => Some(self.dense[k]).filter(|&at| at != NONE).map(|at| at as usize),
            None => self.find_hashed(key),
        }
    }

    /// [`OrderedMap::slot_of`] a key outside the dense table's range (kept
    /// out of line, so that the dense path inlines small).
    #[inline(never)]
    fn find_hashed(&self, key: &MapKey) -> Option<usize> {
        self.find(self.hash(key), key)
    }

    /// The value under `key`.
    #[inline]
    pub fn get(&self, key: &MapKey) -> Option<&Value> {
        self.slots[self.slot_of(key)?].as_ref().map(|(_, v)| v)
    }

    /// Whether `key` is present.
    #[inline]
    pub fn contains_key(&self, key: &MapKey) -> bool {
        self.slot_of(key).is_some()
    }

    /// Sets `key` to `value`, returning the value it replaces. A new key goes
    /// last; an existing key keeps its position (§7).
    #[inline]
    pub fn insert(&mut self, key: MapKey, value: Value) -> Option<Value> {
        match dense_pos(self.dense.len(), &key) {
            Some(k) => self.insert_dense(k, key, value),
            None => self.insert_hashed(key, value),
        }
    }

    /// [`OrderedMap::insert`] of a key outside the dense table's range.
    fn insert_hashed(&mut self, key: MapKey, value: Value) -> Option<Value> {
        let hash = self.hash(&key);
        let check = self.index.len() >= self.check_at;
        let slots = &self.slots;
        let entry = self.index.entry(wide(hash), |e| e.hash == hash && is_key(slots, e.slot, &key), |e| wide(e.hash));
        match entry {
            Entry::Occupied(e) => {
                let at = e.get().slot as usize;
                return self.slots[at].as_mut().map(|(_, v)| std::mem::replace(v, value));
            }
            Entry::Vacant(vacant) if !check => {
                vacant.insert(Hashed { slot: slot32(self.slots.len()), hash });
            }
            Entry::Vacant(_) => {
                self.grow_dense(&key);
                self.check_at = (2 * self.index.len()).max(1);
                if let Some(k) = dense_pos(self.dense.len(), &key) {
                    return self.insert_dense(k, key, value);
                }
                let slot = slot32(self.slots.len());
                self.index.insert_unique(wide(hash), Hashed { slot, hash }, |e| wide(e.hash));
            }
        }
        self.hashed_ints += is_candidate(&key) as usize;
        // Into the slot the index entry above names.
        self.push(key, value);
        None
    }

    /// [`OrderedMap::insert`] of a key in the dense table's range.
    #[inline]
    fn insert_dense(&mut self, k: usize, key: MapKey, value: Value) -> Option<Value> {
        match self.dense[k] {
            NONE => {
                let at = self.push(key, value);
                self.dense[k] = slot32(at);
                self.dense_live += 1;
                None
            }
            at => self.slots[at as usize].as_mut().map(|(_, v)| std::mem::replace(v, value)),
        }
    }

    /// Appends a new entry; its slot.
    fn push(&mut self, key: MapKey, value: Value) -> usize {
        self.key_bytes += key_bytes(&key);
        self.slots.push(Some((key, value)));
        self.live += 1;
        self.slots.len() - 1
    }

    /// Grows the dense table to the largest power of two more than half of
    /// whose keys would be present (counting `new_key`, about to be added),
    /// if that is larger than it is, and moves the keys it now covers out
    /// of the hash index. Lua sizes its tables' array part the same way.
    fn grow_dense(&mut self, new_key: &MapKey) {
        if self.hashed_ints == 0 && !is_candidate(new_key) {
            return;
        }
        // Keys by bit length: key k fits a table of 2^b entries iff bits(k) <= b.
        let mut by_bits = [0usize; 64];
        let mut count = |key: &MapKey| {
            if let MapKey::Int(k) = *key
                && k >= self.dense.len() as i64
            {
                by_bits[(64 - k.leading_zeros()) as usize] += 1;
            }
        };
        count(new_key);
        if self.hashed_ints > 0 {
            // Walking the slots in order is much faster than reaching them
            // from the index, but only worth it if most of them are hashed.
            if self.slots.len() <= 2 * self.index.len() {
                self.slots.iter().flatten().for_each(|(k, _)| count(k));
            } else {
                self.index.iter().filter_map(|e| self.slots[e.slot as usize].as_ref()).for_each(|(k, _)| count(k));
            }
        }
        let mut size = self.dense.len();
        let mut present = self.dense_live;
        for (b, count) in by_bits.iter().enumerate().take(usize::BITS as usize - 1) {
            present += count;
            let n = 1usize << b;
            if n > size && present > n / 2 {
                size = n;
            }
        }
        if size > self.dense.len() {
            self.dense.resize(size, NONE);
            self.reindex();
            if self.index.len() * 4 < self.index.capacity() {
                self.index.shrink_to(self.index.len(), |e| wide(e.hash));
            }
        }
    }

    /// Rebuilds both indexes from the slots (after compaction, or once the
    /// dense table covers more keys).
    fn reindex(&mut self) {
        self.index.clear();
        (self.dense_live, self.hashed_ints) = (0, 0);
        for (at, slot) in self.slots.iter().enumerate() {
            let Some((key, _)) = slot else { continue };
            match dense_pos(self.dense.len(), key) {
                Some(k) => {
                    self.dense[k] = slot32(at);
                    self.dense_live += 1;
                }
                None => {
                    let hash = key_hash(&self.hasher, key);
                    self.index.insert_unique(wide(hash), Hashed { slot: slot32(at), hash }, |e| wide(e.hash));
                    self.hashed_ints += is_candidate(key) as usize;
                }
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &MapKey) -> Option<Value> {
        let at = match dense_pos(self.dense.len(), key) {
            Some(k) => match std::mem::replace(&mut self.dense[k], NONE) {
                NONE => return None,
                at => {
                    self.dense_live -= 1;
                    at as usize
                }
            },
            None => {
                let hash = self.hash(key);
                let slots = &self.slots;
                let entry = self.index.find_entry(wide(hash), |e| e.hash == hash && is_key(slots, e.slot, key));
                let (e, _) = entry.ok()?.remove();
                self.hashed_ints -= is_candidate(key) as usize;
                e.slot as usize
            }
        };
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
        self.reindex();
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
            + self.dense.capacity() * size_of::<u32>()
            + self.index.capacity() * (size_of::<Hashed>() + 1)
            + self.key_bytes
    }
}

/// The dense-table position of `key`, if a table of `len` entries covers it.
#[inline]
fn dense_pos(len: usize, key: &MapKey) -> Option<usize> {
    match *key {
        // A negative key wraps to beyond any length.
        MapKey::Int(k) if (k as u64) < len as u64 => Some(k as usize),
        _ => None,
    }
}

/// Whether a hashed `key` could move to the dense table.
fn is_candidate(key: &MapKey) -> bool {
    matches!(*key, MapKey::Int(k) if k >= 0)
}

/// A slot index as the indexes store it. Slots number fewer than 2^32 - 1:
/// that many entries would take 160 GiB.
fn slot32(at: usize) -> u32 {
    u32::try_from(at).ok().filter(|&at| at != NONE).expect("fewer than 2^32 - 1 map slots")
}

/// The 32-bit hash of `key` the index keeps.
fn key_hash(hasher: &DefaultHashBuilder, key: &MapKey) -> u32 {
    hasher.hash_one(key) as u32
}

/// The table hash of a 32-bit key hash (hashbrown takes its bucket from the
/// low bits and a tag from the top seven).
fn wide(hash: u32) -> u64 {
    (hash as u64) << 32 | hash as u64
}

/// Whether slot `at` holds `key`.
fn is_key(slots: &[Option<(MapKey, Value)>], at: u32, key: &MapKey) -> bool {
    matches!(&slots[at as usize], Some((k, _)) if k == key)
}

fn key_bytes(key: &MapKey) -> usize {
    if let MapKey::Str(s) = key { s.len() } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(m: &OrderedMap) -> Vec<i64> {
        m.iter().map(|(k, _)| if let MapKey::Int(n) = k { *n } else { -1 }).collect()
    }

    /// Checks that every live entry is reachable through exactly the part
    /// that should index it, and that the counters agree.
    fn check_invariants(m: &OrderedMap) {
        let mut dense_live = 0;
        let mut hashed_ints = 0;
        for (at, slot) in m.slots.iter().enumerate() {
            let Some((key, _)) = slot else { continue };
            assert_eq!(m.slot_of(key), Some(at), "{key:?} finds its slot");
            match dense_pos(m.dense.len(), key) {
                Some(k) => {
                    assert_eq!(m.dense[k], at as u32);
                    assert!(m.find(m.hash(key), key).is_none(), "{key:?} is not hashed too");
                    dense_live += 1;
                }
                None => hashed_ints += is_candidate(key) as usize,
            }
        }
        assert_eq!(m.dense.iter().filter(|&&at| at != NONE).count(), dense_live);
        assert_eq!(m.dense_live, dense_live);
        assert_eq!(m.hashed_ints, hashed_ints);
        assert_eq!(m.index.len() + m.dense_live, m.live);
        for e in m.index.iter() {
            let (key, _) = m.slots[e.slot as usize].as_ref().expect("the index names live slots");
            assert_eq!(e.hash, m.hash(key));
        }
        assert_eq!(m.slots.iter().flatten().count(), m.live);
        assert!(m.dense.is_empty() || m.dense.len().is_power_of_two());
    }

    fn int(m: &OrderedMap, k: i64) -> Option<i64> {
        match m.get(&MapKey::Int(k)) {
            Some(Value::I64(v)) => Some(*v),
            _ => None,
        }
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
        check_invariants(&m);
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

    #[test]
    fn ascending_keys_are_dense() {
        let mut m = OrderedMap::default();
        for n in 0..1000 {
            m.insert(MapKey::Int(n), Value::I64(n));
        }
        assert_eq!(m.dense.len(), 1024);
        assert!(m.index.len() <= 1, "at most the key that triggers the next growth is hashed");
        assert_eq!(keys(&m), (0..1000).collect::<Vec<_>>());
        check_invariants(&m);
    }

    #[test]
    fn descending_and_scattered_keys_move_to_the_dense_table() {
        let mut m = OrderedMap::default();
        for n in (0..1000).rev() {
            m.insert(MapKey::Int(n * 7919 % 1009), Value::I64(n));
        }
        assert!(m.dense.len() >= 1024, "1000 keys below 1024: over half full");
        assert_eq!(m.index.len(), 0);
        let expected: Vec<i64> = (0..1000).rev().map(|n| n * 7919 % 1009).collect();
        assert_eq!(keys(&m), expected, "moving keys between the parts keeps the order");
        for n in 0..1000 {
            assert_eq!(int(&m, n * 7919 % 1009), Some(n));
        }
        check_invariants(&m);
    }

    #[test]
    fn sparse_negative_and_huge_keys_stay_hashed() {
        let mut m = OrderedMap::default();
        for n in 0..100 {
            m.insert(MapKey::Int(n * 1_000_000_000_000), Value::I64(n));
            m.insert(MapKey::Int(-n - 1), Value::I64(n));
        }
        m.insert(MapKey::Int(i64::MAX), Value::Null);
        m.insert(MapKey::Int(i64::MIN), Value::Null);
        assert!(m.dense.len() <= 1, "only the key 0 could be dense: {}", m.dense.len());
        assert!(m.heap_bytes() < 64 * 1024, "no huge table for huge keys");
        for n in 0..100 {
            assert_eq!(int(&m, n * 1_000_000_000_000), Some(n));
            assert_eq!(int(&m, -n - 1), Some(n));
        }
        assert!(m.contains_key(&MapKey::Int(i64::MAX)) && m.contains_key(&MapKey::Int(i64::MIN)));
        assert!(!m.contains_key(&MapKey::Int(1)) && !m.contains_key(&MapKey::Int(-1000)));
        check_invariants(&m);
    }

    #[test]
    fn deletes_then_reinserts_go_last_and_compact() {
        let mut m = OrderedMap::default();
        for n in 0..64 {
            m.insert(MapKey::Int(n), Value::I64(n));
            m.insert(MapKey::Str(format!("s{n}").into()), Value::I64(n));
        }
        for n in 0..60 {
            assert!(m.remove(&MapKey::Int(n)).is_some());
            assert!(m.remove(&MapKey::Str(format!("s{n}").into())).is_some());
        }
        assert!(m.slots.len() <= 2 * m.live + 8, "compacted");
        for n in (0..10).rev() {
            m.insert(MapKey::Int(n), Value::I64(-n));
        }
        assert_eq!(keys(&m), vec![60, -1, 61, -1, 62, -1, 63, -1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        assert_eq!(int(&m, 3), Some(-3));
        assert_eq!(int(&m, 61), Some(61));
        check_invariants(&m);
    }

    #[test]
    fn clear_forgets_the_dense_table() {
        let mut m = OrderedMap::default();
        for n in 0..100 {
            m.insert(MapKey::Int(n), Value::I64(n));
        }
        assert_eq!(m.take_values().count(), 100);
        assert_eq!((m.len(), m.dense.len(), m.heap_bytes()), (0, 0, 0));
        m.insert(MapKey::Int(5), Value::Null);
        assert_eq!(keys(&m), vec![5]);
        check_invariants(&m);
    }

    #[test]
    fn heap_bytes_counts_the_dense_table() {
        let mut m = OrderedMap::default();
        for n in 0..4096 {
            m.insert(MapKey::Int(n), Value::Null);
        }
        assert!(m.heap_bytes() >= 4096 * (size_of::<Option<(MapKey, Value)>>() + size_of::<u32>()));
    }

    /// One step of a random workload.
    #[derive(Clone, Debug)]
    enum Step {
        Insert(MapKey, i64),
        Remove(MapKey),
    }

    fn any_key() -> impl Strategy<Value = MapKey> {
        prop_oneof![
            4 => (0i64..300).prop_map(MapKey::Int),
            1 => (-50i64..0).prop_map(MapKey::Int),
            1 => prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(1i64 << 40), Just(1000)].prop_map(MapKey::Int),
            1 => any::<bool>().prop_map(MapKey::Bool),
            1 => (0u8..20).prop_map(|n| MapKey::Str(format!("{n}").into())),
        ]
    }

    fn any_step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (any_key(), any::<i64>()).prop_map(|(k, v)| Step::Insert(k, v)),
            2 => any_key().prop_map(Step::Remove),
        ]
    }

    proptest! {
        /// The map agrees with a plain list of entries in insertion order.
        #[test]
        fn behaves_like_an_ordered_list(steps in prop::collection::vec(any_step(), 0..600)) {
            let mut m = OrderedMap::default();
            let mut model: Vec<(MapKey, i64)> = Vec::new();
            for step in steps {
                match step {
                    Step::Insert(k, v) => {
                        let old = m.insert(k.clone(), Value::I64(v));
                        match model.iter_mut().find(|(mk, _)| *mk == k) {
                            Some((_, mv)) => {
                                prop_assert!(matches!(old, Some(Value::I64(o)) if o == *mv));
                                *mv = v;
                            }
                            None => {
                                prop_assert!(old.is_none());
                                model.push((k, v));
                            }
                        }
                    }
                    Step::Remove(k) => {
                        let old = m.remove(&k);
                        match model.iter().position(|(mk, _)| *mk == k) {
                            Some(i) => {
                                let (_, mv) = model.remove(i);
                                prop_assert!(matches!(old, Some(Value::I64(o)) if o == mv));
                            }
                            None => prop_assert!(old.is_none()),
                        }
                    }
                }
                prop_assert_eq!(m.len(), model.len());
            }
            check_invariants(&m);
            let entries: Vec<(MapKey, i64)> =
                m.iter().map(|(k, v)| (k.clone(), if let Value::I64(n) = v { *n } else { 0 })).collect();
            prop_assert_eq!(entries, model.clone());
            for (k, v) in &model {
                prop_assert!(matches!(m.get(k), Some(Value::I64(n)) if n == v));
            }
        }
    }
}
