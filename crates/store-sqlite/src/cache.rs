//! Recently used cases, kept in memory so that reading a case does not touch
//! the database. The embedded store is owned by one process, and every write
//! goes through it, so the cache can be kept exact: writers put the committed
//! record, and a record only ever replaces an older version of itself.
//!
//! Two generations bound the memory: new entries go to the young one; when
//! it is full it becomes the old one and the previous old one is dropped;
//! a hit in the old generation moves the entry back to the young one.

use std::collections::HashMap;
use std::sync::Arc;

use citygrid_domain::case::CaseId;
use citygrid_store::CaseRecord;
use parking_lot::Mutex;

type Generation = HashMap<CaseId, Arc<CaseRecord>>;

pub(crate) struct CaseCache {
    generation: usize,
    inner: Mutex<(Generation, Generation)>,
}

impl CaseCache {
    /// A cache holding between `capacity / 2` and `capacity` cases.
    pub fn new(capacity: usize) -> CaseCache {
        CaseCache { generation: (capacity / 2).max(1), inner: Mutex::new((HashMap::new(), HashMap::new())) }
    }

    pub fn get(&self, id: CaseId) -> Option<Arc<CaseRecord>> {
        let mut g = self.inner.lock();
        if let Some(r) = g.0.get(&id) {
            return Some(Arc::clone(r));
        }
        let r = g.1.remove(&id)?;
        let evicted = Self::insert_young(&mut g, self.generation, id, Arc::clone(&r));
        drop(g);
        drop(evicted);
        Some(r)
    }

    /// Stores `rec` unless a newer version of the same case is already there.
    pub fn put(&self, rec: Arc<CaseRecord>) {
        let id = rec.case.id;
        let mut g = self.inner.lock();
        let newer =
            |m: &HashMap<CaseId, Arc<CaseRecord>>| m.get(&id).is_some_and(|c| c.case.version > rec.case.version);
        if newer(&g.0) || newer(&g.1) {
            return;
        }
        g.1.remove(&id);
        let evicted = Self::insert_young(&mut g, self.generation, id, rec);
        drop(g);
        drop(evicted);
    }

    /// Forgets every case (after rows were written behind the cache's back).
    pub fn clear(&self) {
        let old = std::mem::take(&mut *self.inner.lock());
        drop(old);
    }

    /// Moves a cached case one entry forward, or forgets it if the cache
    /// does not hold the version just before.
    pub fn advance(&self, case: &citygrid_domain::case::Case, entry: &citygrid_domain::case::TimelineEntry) {
        let Some(prev) = self.get(case.id) else { return };
        if prev.case.version + 1 == entry.seq {
            let mut timeline = prev.timeline.clone();
            timeline.push(entry.clone());
            self.put(Arc::new(CaseRecord { case: case.clone(), timeline, contact: prev.contact.clone() }));
        } else if prev.case.version < entry.seq {
            let mut g = self.inner.lock();
            g.0.remove(&case.id);
            g.1.remove(&case.id);
        }
    }

    /// Inserts into the young generation; returns the generation it pushed
    /// out, for the caller to drop after releasing the lock (dropping many
    /// records takes long enough to stall every reader waiting on it).
    fn insert_young(g: &mut (Generation, Generation), cap: usize, id: CaseId, rec: Arc<CaseRecord>) -> Generation {
        let evicted = if g.0.len() >= cap && !g.0.contains_key(&id) {
            let young = std::mem::replace(&mut g.0, HashMap::with_capacity(cap));
            std::mem::replace(&mut g.1, young)
        } else {
            Generation::new()
        };
        g.0.insert(id, rec);
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: CaseId, version: u32) -> Arc<CaseRecord> {
        let json = serde_json::json!({
            "case": {"id": id, "state": "reported", "category": "E0101", "urgent": false, "source": "hotline",
                "location": {"lon": 118.0, "lat": 31.0}, "territory": "340202", "description": "d", "reporter": "r",
                "reported_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "self_handled": false,
                "returns": 0, "reworks": 0, "extensions": 0, "version": version},
            "timeline": [], "contact": null
        });
        Arc::new(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn older_versions_never_replace_newer_ones() {
        let c = CaseCache::new(10);
        c.put(rec(1, 3));
        c.put(rec(1, 2));
        assert_eq!(c.get(1).unwrap().case.version, 3);
        c.put(rec(1, 4));
        assert_eq!(c.get(1).unwrap().case.version, 4);
    }

    /// Where `id` is held, looked up without the promotion `get` does:
    /// `Some(true)` young, `Some(false)` old; with its version.
    fn peek(c: &CaseCache, id: CaseId) -> Option<(bool, u32)> {
        let g = c.inner.lock();
        g.0.get(&id).map(|r| (true, r.case.version)).or_else(|| g.1.get(&id).map(|r| (false, r.case.version)))
    }

    fn held(c: &CaseCache) -> usize {
        let g = c.inner.lock();
        g.0.len() + g.1.len()
    }

    #[test]
    fn memory_is_bounded_and_hits_survive() {
        let capacity = 6;
        let c = CaseCache::new(capacity);
        c.put(rec(0, 1)); // hot: read after every insert
        c.put(rec(1, 1)); // cold: never read
        let mut cold_evicted_after = None;
        let mut hot_seen_old = false;
        for id in 2..200 {
            c.put(rec(id, 1));
            assert!(held(&c) <= capacity, "{} cases held after inserting {id}", held(&c));
            // Every insert pushes the hot entry along; whenever it has
            // reached the old generation, the read must bring it back.
            hot_seen_old |= peek(&c, 0) == Some((false, 1));
            assert_eq!(c.get(0).map(|r| r.case.version), Some(1), "the hot entry was evicted at {id}");
            assert_eq!(peek(&c, 0), Some((true, 1)), "a hit leaves the hot entry in the young generation");
            assert!(held(&c) <= capacity, "{} cases held after reading at {id}", held(&c));
            // The entry just put is always there.
            assert_eq!(peek(&c, id).map(|(_, v)| v), Some(1));
            if cold_evicted_after.is_none() && peek(&c, 1).is_none() {
                cold_evicted_after = Some(id);
            }
        }
        assert!(hot_seen_old, "the hot entry never aged into the old generation: promotion was not exercised");
        // The cold entry goes once two generations have filled after it,
        // i.e. within `capacity` inserts (puts and promotions) of its own.
        let evicted = cold_evicted_after.unwrap_or(i64::MAX);
        assert!(evicted - 1 <= capacity as i64, "the never-read entry survived until {evicted}");
        assert_eq!(c.get(1).map(|r| r.case.version), None);
        // It does not shed more than it must: a generation's worth stays.
        assert!(held(&c) >= capacity / 2, "{}", held(&c));
    }

    #[test]
    fn older_versions_never_replace_newer_ones_across_generations() {
        let c = CaseCache::new(4);
        c.put(rec(7, 5));
        // Age case 7 into the old generation without reading it.
        c.put(rec(100, 1));
        c.put(rec(101, 1));
        assert_eq!(peek(&c, 7), Some((false, 5)), "case 7 should now be old");
        // An older version arriving late is ignored: neither put in the young
        // generation nor allowed to push the newer one out.
        c.put(rec(7, 4));
        assert_eq!(peek(&c, 7), Some((false, 5)));
        assert_eq!(c.get(7).map(|r| r.case.version), Some(5));
        // The hit moved it to the young generation; an older version is
        // still refused there.
        assert_eq!(peek(&c, 7), Some((true, 5)));
        c.put(rec(7, 3));
        assert_eq!(c.get(7).map(|r| r.case.version), Some(5));
        // A newer version replaces it from the old generation, leaving one copy.
        c.put(rec(102, 1));
        assert_eq!(peek(&c, 7), Some((false, 5)), "case 7 should be old again");
        c.put(rec(7, 6));
        assert_eq!(peek(&c, 7), Some((true, 6)));
        assert!(!c.inner.lock().1.contains_key(&7), "the replaced version must not stay in the old generation");
        assert_eq!(c.get(7).map(|r| r.case.version), Some(6));
    }
}
