//! Which delivery ids a SQLite store may hold, in memory: a delivery whose id the filter has
//! never seen is certainly new, so the lookup asked before firing every hook delivery costs a
//! few hashes instead of a read transaction (about 4 µs of CPU, 15% of a delivery's cost).
//!
//! Sound only where one process writes the store, as with SQLite (the last seen cache assumes
//! the same): the filter is filled from the file when the store opens and then with every id
//! this process records, before the record is answered, so every acknowledged id is in it. A
//! Bloom filter never forgets: ids whose events were pruned, and rare false positives, are
//! looked up in the file as before. Past its planned size it only grows less exact.

use fastbloom::AtomicBloomFilter;

/// The ids a filter is sized for at least: about 180 KB at the rate below, held by every
/// SQLite store for its life, where a million (1.8 MB) was most of an idle process's heap.
/// A busier store is planned for twice what it holds at its next open.
const MIN_EXPECTED: usize = 100_000;
/// How often an id never recorded still needs a lookup in the file.
const FALSE_POSITIVES: f64 = 0.001;

#[derive(Debug)]
pub(crate) struct DeliveryFilter(AtomicBloomFilter);

impl DeliveryFilter {
    /// A filter planned for `stored` ids already in the file, with room to double.
    pub(crate) fn for_stored(stored: usize) -> Self {
        let expected = (stored.saturating_mul(2)).max(MIN_EXPECTED);
        Self(AtomicBloomFilter::with_false_pos(FALSE_POSITIVES).expected_items(expected))
    }

    pub(crate) fn insert(&self, delivery_id: &str) {
        self.0.insert(delivery_id);
    }

    /// False only for an id never inserted.
    pub(crate) fn may_hold(&self, delivery_id: &str) -> bool {
        self.0.contains(delivery_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inserted_id_is_never_missed() {
        let filter = DeliveryFilter::for_stored(10);
        for n in 0..10_000 {
            filter.insert(&format!("ns/t/{n}"));
        }
        assert!((0..10_000).all(|n| filter.may_hold(&format!("ns/t/{n}"))));
        let strangers = (0..10_000)
            .filter(|n| filter.may_hold(&format!("other/{n}")))
            .count();
        assert!(strangers < 100, "{strangers} false positives in 10,000");
    }
}
