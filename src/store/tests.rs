use super::*;
use crate::package::parse_version;

fn publisher(login: &str) -> Identity {
    Identity {
        token_id: 1,
        login: login.into(),
        role: Role::Publisher,
    }
}

fn insert(
    store: &mut Store,
    kind: Kind,
    name: &str,
    version: &str,
) -> Result<PackageRow, StoreError> {
    let name = PackageName::parse(kind, name).unwrap();
    let version = parse_version(version).unwrap();
    store.insert_version(&NewVersion {
        name: &name,
        kind,
        version: &version,
        cksum: "00",
        size: 1,
        entry_json: "{}",
        description: "a thing for pdfs",
        keywords: &["pdf".to_string()],
        publisher: &publisher("alice"),
        files_json: "[]",
        mirror: None,
    })
}

#[test]
fn migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let store = Store::open(dir.path()).unwrap();
    let v: i64 = store
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, MIGRATIONS.len() as i64);
}

#[test]
fn names_collide_across_kinds_and_spellings() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    insert(&mut store, Kind::Crate, "pdf_tools", "1.0.0").unwrap();
    let err = insert(&mut store, Kind::Skill, "pdf-tools", "1.0.0").unwrap_err();
    assert!(matches!(err, StoreError::NameTaken { .. }), "{err}");
    let err = insert(&mut store, Kind::Crate, "PDF_tools", "2.0.0").unwrap_err();
    assert!(matches!(err, StoreError::NameTaken { .. }), "{err}");
    assert_eq!(store.published().unwrap().len(), 1);
}

#[test]
fn build_metadata_does_not_make_a_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    insert(&mut store, Kind::Crate, "a", "1.0.0+x").unwrap();
    let err = insert(&mut store, Kind::Crate, "a", "1.0.0+y").unwrap_err();
    assert!(matches!(err, StoreError::VersionExists { .. }), "{err}");
}

#[test]
fn search_skips_yanked_and_finds_by_description() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    insert(&mut store, Kind::Crate, "alpha", "1.0.0").unwrap();
    insert(&mut store, Kind::Crate, "alpha", "1.1.0").unwrap();
    store.set_yanked("alpha", "1.1.0", true, "alice").unwrap();
    let (hits, total) = store
        .search(&SearchText::parse("PDFS").unwrap(), 0, 10)
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(hits[0].max_version, "1.0.0");
    let (hits, _) = store
        .search(&SearchText::parse("zzz").unwrap(), 0, 10)
        .unwrap();
    assert!(hits.is_empty());
}

#[test]
fn audit_log_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    insert(&mut store, Kind::Crate, "alpha", "1.0.0").unwrap();
    assert_eq!(store.audit_log().unwrap().len(), 1);
    assert!(store.conn.execute("DELETE FROM audit", []).is_err());
    assert!(store
        .conn
        .execute("UPDATE audit SET actor = 'x'", [])
        .is_err());
}

#[test]
fn tokens_round_trip_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let t = store.create_token("bob", Role::Publisher, "test").unwrap();
    let presented = token::parse_presented(&t).unwrap();
    let live = store.live_tokens().unwrap();
    assert!(token::secret_matches(presented.secret, &live[0].hash));
    store.revoke_token(presented.id, "test").unwrap();
    assert!(store.live_tokens().unwrap().is_empty());
    assert!(store.revoke_token(presented.id, "test").is_err());
}

/// A connection given back goes to the reader who waited, not to the
/// thread that gave it back and asks again at once (which, under load,
/// kept a waiting search waiting for several turns).
#[test]
fn a_pooled_connection_goes_to_the_reader_who_waited_first() {
    let dir = tempfile::tempdir().unwrap();
    let _writer = Store::open(dir.path()).unwrap();
    let pool = std::sync::Arc::new(ReaderPool::open(dir.path(), 1).unwrap());
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let held = pool.get();
    let waiter = {
        let (pool, order) = (pool.clone(), order.clone());
        std::thread::spawn(move || {
            let _reader = pool.get();
            order.lock().unwrap().push("waiter");
        })
    };
    while pool.waiting() == 0 {
        std::thread::yield_now();
    }
    drop(held);
    let again = pool.get();
    order.lock().unwrap().push("the thread that gave it back");
    drop(again);
    waiter.join().unwrap();
    assert_eq!(
        *order.lock().unwrap(),
        ["waiter", "the thread that gave it back"]
    );
    assert_eq!(pool.waiting(), 0);
}

#[test]
fn pooled_readers_read_while_the_writer_commits_and_never_go_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = Store::open(dir.path()).unwrap();
    let pool = std::sync::Arc::new(ReaderPool::open(dir.path(), 3).unwrap());
    assert_eq!(pool.size(), 3);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (pool, done) = (pool.clone(), done.clone());
            std::thread::spawn(move || {
                let (mut last, mut reads) = (0, 0u64);
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let seen = pool.get().public_package_count().unwrap();
                    assert!(seen >= last, "a reader saw {seen} after {last}");
                    last = seen;
                    reads += 1;
                }
                (last, reads)
            })
        })
        .collect();
    for i in 0..200 {
        insert(&mut writer, Kind::Skill, &format!("pooled-{i}"), "1.0.0").unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        let (last, reads) = reader.join().unwrap();
        assert!(last <= 200 && reads > 0);
    }
    assert_eq!(pool.get().public_package_count().unwrap(), 200);
    // Read-only: a pooled connection cannot write.
    let mut store = pool.get();
    assert!(insert(&mut store, Kind::Skill, "from-a-reader", "1.0.0").is_err());
}
