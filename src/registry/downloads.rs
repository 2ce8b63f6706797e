//! Download counts, per version and per day: counted in memory on the hot
//! path and written to the store in batches (never a SQL write per
//! download). A count not yet flushed is lost only if the process dies
//! without its shutdown flush, which is a count, not content.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::fsutil::unix_now;
use crate::store::{Store, StoreError};

/// Seconds in a day: days are UTC day numbers since the Unix epoch.
const DAY: i64 = 86_400;

/// The counters.
#[derive(Default)]
pub(super) struct Downloads {
    /// Not yet written: (version id, day) → count.
    pending: Mutex<HashMap<(i64, i64), u64>>,
    /// Written totals per version, as of the last flush.
    flushed: Mutex<HashMap<i64, u64>>,
    /// Written counts per version and day, as of the last flush.
    daily: Mutex<HashMap<i64, BTreeMap<i64, u64>>>,
}

impl Downloads {
    /// Loads the written counts.
    pub(super) fn open(store: &Store) -> Result<Downloads, StoreError> {
        let mut daily: HashMap<i64, BTreeMap<i64, u64>> = HashMap::new();
        for (version_id, day, count) in store.all_daily_downloads()? {
            daily.entry(version_id).or_default().insert(day, count);
        }
        Ok(Downloads {
            pending: Mutex::default(),
            flushed: Mutex::new(store.download_totals()?.into_iter().collect()),
            daily: Mutex::new(daily),
        })
    }

    /// Downloads of `version_id` per UTC day number (days since the Unix
    /// epoch) from `since` on, written or not.
    pub(super) fn daily(&self, version_id: i64, since: i64) -> BTreeMap<i64, u64> {
        let mut out: BTreeMap<i64, u64> = self
            .daily
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&version_id)
            .map(|days| days.range(since..).map(|(d, n)| (*d, *n)).collect())
            .unwrap_or_default();
        for ((id, day), n) in self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            if *id == version_id && *day >= since {
                *out.entry(*day).or_default() += n;
            }
        }
        out
    }

    /// Today's UTC day number.
    pub(super) fn today() -> i64 {
        unix_now().div_euclid(DAY)
    }

    /// Counts one download of `version_id` today.
    pub(super) fn count(&self, version_id: i64) {
        let day = Downloads::today();
        *self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((version_id, day))
            .or_default() += 1;
    }

    /// All downloads of `version_id`, written or not.
    pub(super) fn total(&self, version_id: i64) -> u64 {
        let flushed = self
            .flushed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&version_id)
            .copied()
            .unwrap_or(0);
        let pending: u64 = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|((id, _), _)| *id == version_id)
            .map(|(_, n)| n)
            .sum();
        flushed + pending
    }

    /// Every version's downloads, written or not (version id → count), for
    /// sorting many packages at once: two locks, however many versions.
    pub(super) fn totals(&self) -> HashMap<i64, u64> {
        let mut totals = self
            .flushed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for ((version_id, _), n) in self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            *totals.entry(*version_id).or_default() += n;
        }
        totals
    }

    /// Writes the pending counts in one transaction; on failure they are
    /// kept for the next flush. Returns how many (version, day) rows.
    pub(super) fn flush(&self, store: &mut Store) -> Result<usize, StoreError> {
        let batch: Vec<((i64, i64), u64)> = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        if batch.is_empty() {
            return Ok(0);
        }
        let rows: Vec<(i64, i64, u64)> = batch.iter().map(|((v, d), n)| (*v, *d, *n)).collect();
        if let Err(e) = store.add_downloads(&rows) {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            for (key, n) in batch {
                *pending.entry(key).or_default() += n;
            }
            return Err(e);
        }
        let mut flushed = self.flushed.lock().unwrap_or_else(|e| e.into_inner());
        let mut daily = self.daily.lock().unwrap_or_else(|e| e.into_inner());
        for ((version_id, day), n) in batch {
            *flushed.entry(version_id).or_default() += n;
            *daily.entry(version_id).or_default().entry(day).or_default() += n;
        }
        Ok(rows.len())
    }
}
