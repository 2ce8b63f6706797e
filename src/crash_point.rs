//! **Test hook**: abort points at each stage of a durable change, so crash
//! recovery can be tested deterministically instead of by timed SIGKILLs.
//!
//! A point is armed only by the environment variable [`ENV`]
//! (`SKILLREG_TEST_CRASH_AT=publish.after_commit`, or `…:N` to abort at the
//! Nth hit of that point, counted from the start of the process), read once.
//! Unarmed, [`crash_point`] is one `OnceLock` load and a comparison. When the
//! armed point is reached the process calls [`std::process::abort`]: as with
//! SIGKILL, no destructor runs and no buffer is flushed (one line goes to
//! the unbuffered stderr first, so a test can tell which point fired).
//!
//! The names are stable (tests and `RELIABILITY.md` use them); every point
//! is in [`POINTS`]:
//!
//! | point | where the process stops |
//! |---|---|
//! | `publish.after_blob` | the bundle's blob is durable; nothing is in the database |
//! | `publish.before_commit` | the version's rows are written in the open transaction, not committed |
//! | `publish.after_commit` | the version is committed; the index is not re-rendered |
//! | `publish.after_render` | the index and signed documents are re-rendered in memory; the static export is not written and the publisher has no answer |
//! | `yank.before_commit` | the yank flag is set in the open transaction, not committed |
//! | `yank.after_commit` | the yank is committed; the index is not re-rendered |
//! | `yank.after_render` | the index is re-rendered; the static export is not written, no answer sent |
//! | `review.before_commit` | an admin's decision is written in the open transaction, not committed |
//! | `review.after_commit` | the decision is committed; the index is not re-rendered |
//! | `review.after_render` | the index is re-rendered; the static export is not written, no answer sent |
//! | `mirror.after_blob` | a mirrored version's blob is durable; nothing is in the database |
//! | `mirror.before_commit` | a mirrored version's rows are written in the open transaction, not committed |
//! | `mirror.after_commit` | a mirrored version is committed; the index is not re-rendered (an approved one) |
//! | `mirror.after_render` | an approved mirrored version or an upstream yank is re-rendered; the static export is not written |
//! | `mirror.before_finish` | a sync run stored what it found; its end is not recorded |
//! | `export.before_rename` | a static-export file's temp file is written and fsynced, not renamed |
//! | `export.after_rename` | a static-export file is renamed into place; the files after it (snapshot, timestamp last) are not |
//! | `export.after_put` | a static-export object is acknowledged by the bucket; the objects after it (snapshot, timestamp last) are not |
//!
//! Production never sets the variable; it exists for `tests/crash_points.rs`
//! and `tests/crash_loop.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable that arms one point: `NAME` or `NAME:N`.
pub const ENV: &str = "SKILLREG_TEST_CRASH_AT";

/// Every point's name, in the order of the table above.
pub const POINTS: &[&str] = &[
    "publish.after_blob",
    "publish.before_commit",
    "publish.after_commit",
    "publish.after_render",
    "yank.before_commit",
    "yank.after_commit",
    "yank.after_render",
    "review.before_commit",
    "review.after_commit",
    "review.after_render",
    "mirror.after_blob",
    "mirror.before_commit",
    "mirror.after_commit",
    "mirror.after_render",
    "mirror.before_finish",
    "export.before_rename",
    "export.after_rename",
    "export.after_put",
];

/// The armed point and the hit that aborts.
struct Armed {
    point: String,
    nth: u64,
    hits: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var(ENV).ok()?;
            let (point, nth) = match value.rsplit_once(':') {
                Some((point, n)) => (point.to_string(), n.parse().unwrap_or(1)),
                None => (value, 1),
            };
            if !POINTS.contains(&point.as_str()) {
                // A typo would otherwise arm nothing and a crash test
                // would test nothing.
                eprintln!("skillreg: {ENV} names no crash point; known: {POINTS:?}");
                std::process::abort();
            }
            Some(Armed {
                point,
                nth: nth.max(1),
                hits: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Aborts the process here when [`ENV`] arms `name` and this is its Nth hit;
/// otherwise does nothing. `name` must be one of [`POINTS`].
pub fn crash_point(name: &'static str) {
    let Some(armed) = armed() else {
        return;
    };
    debug_assert!(POINTS.contains(&name), "undocumented crash point {name}");
    if armed.point != name {
        return;
    }
    let hit = armed.hits.fetch_add(1, Ordering::SeqCst) + 1;
    if hit == armed.nth {
        eprintln!("skillreg: crash point {name} hit ({hit}); aborting ({ENV})");
        std::process::abort();
    }
}
