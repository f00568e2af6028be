//! Stable sorting through one shared copy of the standard library's sort.
//!
//! `sort_by` is generic over the element and the comparison, so every use
//! compiles its own copy of the stable sort into the wasm artifact: 4–8 KB
//! each, 49 KB for the sorts of bundle loading, rule compiling, test runs
//! and diffs. Those sorts run once per bundle, test run or diff on short
//! lists, so here the positions are sorted by one non-generic function and
//! the elements then moved into that order: the same stable order, one copy
//! of the sort.

use std::cmp::Ordering;

/// Sorts `items` stably by `compare`, like `slice::sort_by`.
pub fn sort_by<T>(items: &mut Vec<T>, mut compare: impl FnMut(&T, &T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let order = sorted_positions(items.len(), &mut |a, b| compare(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(
        order
            .into_iter()
            .map(|position| slots[position].take().expect("each position once")),
    );
}

/// Sorts `items` stably, like `slice::sort`.
pub fn sort<T: Ord>(items: &mut Vec<T>) {
    sort_by(items, T::cmp);
}

/// `0..len` sorted stably by `compare`; not generic, so compiled once.
#[inline(never)]
fn sorted_positions(len: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut positions: Vec<usize> = (0..len).collect();
    positions.sort_by(|&a, &b| compare(a, b));
    positions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_like_the_standard_stable_sort() {
        // Pairs compared by their first half only: equal keys keep their
        // original order, as a stable sort keeps it.
        let pairs: Vec<(u8, usize)> = [3u8, 1, 3, 0, 1, 2, 3, 0, 2, 1]
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, i))
            .collect();
        let mut ours = pairs.clone();
        sort_by(&mut ours, |a, b| a.0.cmp(&b.0));
        let mut standard = pairs;
        standard.sort_by_key(|a| a.0);
        assert_eq!(ours, standard);
        let mut words = vec!["pear", "apple", "fig", "apple"];
        sort(&mut words);
        assert_eq!(words, ["apple", "apple", "fig", "pear"]);
        let mut empty: Vec<u8> = Vec::new();
        sort(&mut empty);
        assert!(empty.is_empty());
    }
}
