//! Download counts, per version and per day: counted in memory on the hot
//! path and written to the store in batches (never a SQL write per
//! download). A count not yet flushed is lost only if the process dies
//! without its shutdown flush, which is a count, not content.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::fsutil::{rfc3339, unix_now};
use crate::store::{Store, StoreError};

/// Seconds in a day: days are UTC day numbers since the Unix epoch.
const DAY: i64 = 86_400;

/// The counters, under one lock so that a reader never sees a count in
/// two places or in none (a batch being written stays in `in_flight`).
#[derive(Default)]
pub(super) struct Downloads {
    counts: Mutex<Counts>,
}

/// What [`Downloads`] guards: every download is in exactly one of
/// `pending`, `in_flight` or the written maps.
#[derive(Default)]
struct Counts {
    /// Not yet written: (version id, day) → count.
    pending: HashMap<(i64, i64), u64>,
    /// Taken by a flush whose transaction has not finished yet.
    in_flight: HashMap<(i64, i64), u64>,
    /// Written totals per version, as of the last flush.
    flushed: HashMap<i64, u64>,
    /// Written counts per version and day, as of the last flush.
    daily: HashMap<i64, BTreeMap<i64, u64>>,
}

impl Counts {
    /// The counts not yet written, whether a flush holds them or not.
    fn unwritten(&self) -> impl Iterator<Item = (&(i64, i64), &u64)> {
        self.pending.iter().chain(self.in_flight.iter())
    }
}

impl Downloads {
    /// Loads the written counts.
    pub(super) fn open(store: &Store) -> Result<Downloads, StoreError> {
        let mut daily: HashMap<i64, BTreeMap<i64, u64>> = HashMap::new();
        for (version_id, day, count) in store.all_daily_downloads()? {
            daily.entry(version_id).or_default().insert(day, count);
        }
        let counts = Counts {
            flushed: store.download_totals()?.into_iter().collect(),
            daily,
            ..Counts::default()
        };
        Ok(Downloads {
            counts: Mutex::new(counts),
        })
    }

    /// The counters, even if a thread panicked holding them: they are
    /// counts, and a partial update of one is still a count.
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Downloads of `version_id` per UTC day number (days since the Unix
    /// epoch) from `since` on, written or not.
    pub(super) fn daily(&self, version_id: i64, since: i64) -> BTreeMap<i64, u64> {
        let counts = self.lock();
        let mut out: BTreeMap<i64, u64> = counts
            .daily
            .get(&version_id)
            .map(|days| days.range(since..).map(|(d, n)| (*d, *n)).collect())
            .unwrap_or_default();
        for ((id, day), n) in counts.unwritten() {
            if *id == version_id && *day >= since {
                *out.entry(*day).or_default() += n;
            }
        }
        out
    }

    /// The downloads of the versions `version_ids` per day over the last
    /// `days` days (UTC, today included): `(YYYY-MM-DD, count)`, oldest
    /// first, days without downloads left out.
    pub(super) fn by_day(&self, version_ids: &[i64], days: i64) -> Vec<(String, u64)> {
        let since = Downloads::today() - days.max(1) + 1;
        let mut total: BTreeMap<i64, u64> = BTreeMap::new();
        for id in version_ids {
            for (day, n) in self.daily(*id, since) {
                *total.entry(day).or_default() += n;
            }
        }
        total
            .into_iter()
            .map(|(day, n)| (rfc3339(day * DAY)[..10].to_string(), n))
            .collect()
    }

    /// Today's UTC day number.
    pub(super) fn today() -> i64 {
        unix_now().div_euclid(DAY)
    }

    /// Counts one download of `version_id` today.
    pub(super) fn count(&self, version_id: i64) {
        let day = Downloads::today();
        *self.lock().pending.entry((version_id, day)).or_default() += 1;
    }

    /// All downloads of `version_id`, written or not.
    pub(super) fn total(&self, version_id: i64) -> u64 {
        let counts = self.lock();
        let written = counts.flushed.get(&version_id).copied().unwrap_or(0);
        let unwritten: u64 = counts
            .unwritten()
            .filter(|((id, _), _)| *id == version_id)
            .map(|(_, n)| n)
            .sum();
        written + unwritten
    }

    /// Every version's downloads, written or not (version id → count), for
    /// sorting many packages at once: one lock, however many versions.
    pub(super) fn totals(&self) -> HashMap<i64, u64> {
        let counts = self.lock();
        let mut totals = counts.flushed.clone();
        for ((version_id, _), n) in counts.unwritten() {
            *totals.entry(*version_id).or_default() += n;
        }
        totals
    }

    /// The downloads of just the versions `version_ids`, written or not:
    /// what a search needs for its few hits, without copying every
    /// version's count as [`Downloads::totals`] does.
    pub(super) fn totals_of(
        &self,
        version_ids: impl IntoIterator<Item = i64>,
    ) -> HashMap<i64, u64> {
        let counts = self.lock();
        let mut totals: HashMap<i64, u64> = version_ids
            .into_iter()
            .map(|id| (id, counts.flushed.get(&id).copied().unwrap_or(0)))
            .collect();
        // Unwritten counts are the few since the last flush.
        for ((version_id, _), n) in counts.unwritten() {
            if let Some(total) = totals.get_mut(version_id) {
                *total += n;
            }
        }
        totals
    }

    /// Writes the pending counts in one transaction; on failure they are
    /// kept for the next flush. Returns how many (version, day) rows.
    ///
    /// The lock is not held across the write, so downloads go on being
    /// counted meanwhile; the batch stays visible in `in_flight` until it
    /// has moved to the written maps (or back to `pending`).
    pub(super) fn flush(&self, store: &mut Store) -> Result<usize, StoreError> {
        let batch: Vec<((i64, i64), u64)> = {
            let mut counts = self.lock();
            let batch: Vec<_> = counts.pending.drain().collect();
            for (key, n) in &batch {
                *counts.in_flight.entry(*key).or_default() += n;
            }
            batch
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let rows: Vec<(i64, i64, u64)> = batch.iter().map(|((v, d), n)| (*v, *d, *n)).collect();
        let written = store.add_downloads(&rows);
        let mut counts = self.lock();
        for ((version_id, day), n) in batch {
            if let Some(held) = counts.in_flight.get_mut(&(version_id, day)) {
                *held -= n;
                if *held == 0 {
                    counts.in_flight.remove(&(version_id, day));
                }
            }
            if written.is_ok() {
                *counts.flushed.entry(version_id).or_default() += n;
                *counts
                    .daily
                    .entry(version_id)
                    .or_default()
                    .entry(day)
                    .or_default() += n;
            } else {
                *counts.pending.entry((version_id, day)).or_default() += n;
            }
        }
        written.map(|()| rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::{parse_version, Kind, PackageName};
    use crate::store::NewVersion;
    use crate::token::{Identity, Role};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A store holding one version, whose row id is 1.
    fn store_with_one_version(dir: &std::path::Path) -> Store {
        let mut store = Store::open(dir).unwrap();
        let name = PackageName::parse(Kind::Skill, "pdf-tools").unwrap();
        store
            .insert_version(&NewVersion {
                name: &name,
                kind: Kind::Skill,
                version: &parse_version("1.0.0").unwrap(),
                cksum: "00",
                size: 1,
                entry_json: "{}",
                description: "pdfs",
                keywords: &[],
                publisher: &Identity {
                    token_id: 1,
                    login: "alice".into(),
                    role: Role::Publisher,
                },
                files_json: "[]",
                mirror: None,
            })
            .unwrap();
        store
    }

    /// Counts while another thread flushes without pause, and checks after
    /// every count that none has gone missing: a batch being written must
    /// stay visible. Version 1 exists (flushes succeed); version 2 does not
    /// (its rows fail the foreign key, so every flush fails and restores).
    fn counts_stay_visible_during_flushes(version_id: i64) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_one_version(dir.path());
        let downloads = Downloads::open(&store).unwrap();
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    let _ = downloads.flush(&mut store);
                }
            });
            // Stops the flusher also when an assertion fails, so that the
            // scope can end and the failure be reported.
            struct StopOnDrop<'a>(&'a AtomicBool);
            impl Drop for StopOnDrop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Relaxed);
                }
            }
            let _stop = StopOnDrop(&done);
            for counted in 1..=5_000u64 {
                downloads.count(version_id);
                assert_eq!(downloads.total(version_id), counted);
                assert_eq!(downloads.totals()[&version_id], counted);
                assert_eq!(downloads.totals_of([version_id])[&version_id], counted);
                let daily: u64 = downloads.daily(version_id, 0).values().sum();
                assert_eq!(daily, counted);
            }
        });
    }

    #[test]
    fn a_count_being_written_is_still_counted() {
        counts_stay_visible_during_flushes(1);
    }

    #[test]
    fn a_count_whose_write_failed_is_still_counted() {
        counts_stay_visible_during_flushes(2);
    }
}
