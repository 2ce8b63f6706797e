//! Packages: lookup by any spelling, owners, counts and search.

use super::*;

/// A package as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageRow {
    /// Row id.
    pub id: i64,
    /// Name as first published.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Unix seconds of the last publish or yank (the index file's Last-Modified).
    pub updated_at: i64,
}

/// A search result in cargo's shape.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SearchHit {
    /// Package name.
    pub name: String,
    /// Highest non-yanked version.
    pub max_version: String,
    /// Description of that version.
    pub description: String,
    /// Package kind (a skillreg extension).
    pub kind: Kind,
}

impl Store {
    /// Finds a package by any spelling of its name.
    pub fn package(&self, name: &str) -> Result<Option<PackageRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, kind, updated_at FROM packages WHERE normalized = ?1",
                [crate::package::normalize(name)],
                package_row,
            )
            .optional()?)
    }

    /// Every package, for rendering the whole index at start-up.
    pub fn packages(&self) -> Result<Vec<PackageRow>, StoreError> {
        self.all(
            "SELECT id, name, kind, updated_at FROM packages ORDER BY id",
            [],
            package_row,
        )
    }

    /// How many packages exist, whatever their versions' status.
    pub fn package_count(&self) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM packages", [], |r| r.get::<_, i64>(0))?
            as usize)
    }

    /// How many packages have at least one approved version: the public
    /// count. A package that only has pending or rejected (mirrored)
    /// versions is not counted, so `/healthz` does not reveal it.
    pub fn public_package_count(&self) -> Result<usize, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(DISTINCT package_id) FROM versions WHERE status = 'approved'",
            [],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }

    /// Whether a package has at least one approved version, i.e. whether
    /// anyone but an admin may know that it exists.
    pub fn has_approved(&self, package_id: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM versions WHERE package_id = ?1 AND status = 'approved')",
            )?
            .query_row([package_id], |r| r.get(0))?)
    }

    /// The owners' logins of a package by name (for mirror ownership checks).
    pub fn owners_of(&self, name: &str) -> Result<Vec<String>, StoreError> {
        match self.package(name)? {
            Some(p) => self.owners(p.id),
            None => Ok(Vec::new()),
        }
    }

    /// The logins owning a package.
    pub fn owners(&self, package_id: i64) -> Result<Vec<String>, StoreError> {
        self.all(
            "SELECT login FROM owners WHERE package_id = ?1 ORDER BY added_at, login",
            [package_id],
            |r| r.get(0),
        )
    }

    /// Adds owners (idempotent). Each login must belong to a live token.
    pub fn add_owners(
        &mut self,
        package: &PackageRow,
        logins: &[String],
        actor: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = unix_now();
        for login in logins {
            let known: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM tokens WHERE name = ?1 AND revoked_at IS NULL
                               AND role IN ('publisher', 'admin'))",
                [login],
                |r| r.get(0),
            )?;
            if !known {
                return Err(StoreError::Owners(format!(
                    "`{login}` has no live publisher token, so as an owner it could do nothing; create one with `skillreg token create --name {login} --role publisher`"
                )));
            }
            tx.execute(
                "INSERT OR IGNORE INTO owners (package_id, login, added_at) VALUES (?1, ?2, ?3)",
                params![package.id, login, now],
            )?;
            audit(&tx, actor, "owner-add", &package.name, login)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes owners; a package always keeps at least one.
    pub fn remove_owners(
        &mut self,
        package: &PackageRow,
        logins: &[String],
        actor: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for login in logins {
            let removed = tx.execute(
                "DELETE FROM owners WHERE package_id = ?1 AND login = ?2",
                params![package.id, login],
            )?;
            if removed == 0 {
                return Err(StoreError::Owners(format!(
                    "`{login}` is not an owner of `{}`",
                    package.name
                )));
            }
            audit(&tx, actor, "owner-remove", &package.name, login)?;
        }
        let left: i64 = tx.query_row(
            "SELECT COUNT(*) FROM owners WHERE package_id = ?1",
            [package.id],
            |r| r.get(0),
        )?;
        if left == 0 {
            return Err(StoreError::Owners(format!(
                "`{}` would have no owner left; add the new owner before removing the last one",
                package.name
            )));
        }
        tx.commit()?;
        Ok(())
    }

    /// The cargo-style search (`index-spec/web-api.md` §4.3): packages
    /// matching `text` through the search index, best first, each with its
    /// highest non-yanked version. Returns one page and the total count.
    pub fn search(
        &self,
        text: &super::SearchText,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<SearchHit>, usize), StoreError> {
        let page = self.search_packages(text, &super::SearchFilter::default(), offset, limit)?;
        let hits = page
            .rows
            .into_iter()
            .map(|row| SearchHit {
                name: row.name,
                max_version: row.max_version,
                description: row.description,
                kind: row.kind,
            })
            .collect();
        Ok((hits, page.total))
    }
}

pub(super) fn package_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PackageRow> {
    let kind: String = r.get(2)?;
    Ok(PackageRow {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: Kind::parse(&kind).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
        updated_at: r.get(3)?,
    })
}
