//! Ordered maps and sets built by insertion rather than `collect()`.
//!
//! `collect()` into a `BTreeMap` or `BTreeSet` (and so into a
//! `serde_json::Map`) sorts a vector of the entries first, and every
//! iterator type collected gets its own copy of the standard library's
//! stable sort, about 5 KB of the wasm artifact each. Inserting one entry
//! at a time shares one `insert` per key and value type, and costs the
//! same O(n log n) as the sort.

/// `.insert_all()`: like `.collect()` for a map or set, by insertion.
pub trait InsertAll: Iterator + Sized {
    /// Every item inserted, in order, into an empty collection (a later
    /// entry with the same key replaces an earlier one, as with `collect`).
    fn insert_all<C: Default + Extend<Self::Item>>(self) -> C {
        let mut collection = C::default();
        collection.extend(self);
        collection
    }
}

impl<I: Iterator> InsertAll for I {}

#[cfg(test)]
mod tests {
    use super::InsertAll;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn matches_collect_including_repeated_keys() {
        let entries = [("b", 1), ("a", 2), ("b", 3), ("c", 4)];
        let inserted: BTreeMap<&str, i32> = entries.iter().copied().insert_all();
        let collected: BTreeMap<&str, i32> = entries.iter().copied().collect();
        assert_eq!(inserted, collected);
        assert_eq!(inserted["b"], 3);
        let set: BTreeSet<i32> = [3, 1, 3, 2].into_iter().insert_all();
        assert_eq!(set.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
    }
}
