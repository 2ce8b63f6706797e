//! Search: the full-text index of each package's latest visible version,
//! and the one query every public search route runs over it.
//!
//! The index (`search_docs` and its FTS5 shadow `search_fts`, schema
//! migration 9) holds one row per package that has a visible version
//! (approved, not yanked, not quarantined). [`refresh_in`] rewrites a
//! package's row inside every transaction that changes its versions, so a
//! search never sees a version that the index files do not serve.
//!
//! User text is hostile: it is split into words here (letters and digits;
//! everything else separates), each word is quoted as an FTS5 string, so
//! no FTS5 syntax (`"`, `*`, `:`, `^`, `NEAR`, `OR`, parentheses) reaches
//! the query parser, and the number and length of words are bounded.

use super::*;

/// Longest search text, in characters: the cost of a query grows with it.
pub const MAX_QUERY_CHARS: usize = 256;
/// Most words in a search text (after splitting at non-alphanumerics).
pub const MAX_QUERY_WORDS: usize = 16;

/// Why a search text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Too many characters or words.
    #[error("the search text is longer than {MAX_QUERY_CHARS} characters or {MAX_QUERY_WORDS} words; search for fewer words")]
    TooLong,
}

/// A search text, split into lowercase words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchText {
    words: Vec<String>,
    blank: bool,
}

impl SearchText {
    /// Splits `text` into words: runs of letters and digits, lowercased.
    /// Refuses more than [`MAX_QUERY_CHARS`] characters or
    /// [`MAX_QUERY_WORDS`] words.
    pub fn parse(text: &str) -> Result<SearchText, QueryError> {
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong);
        }
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        if words.len() > MAX_QUERY_WORDS {
            return Err(QueryError::TooLong);
        }
        Ok(SearchText {
            words,
            blank: text.trim().is_empty(),
        })
    }

    /// The words, lowercase, in order.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// No text at all: everything matches.
    pub fn is_blank(&self) -> bool {
        self.blank
    }

    /// Text without a single word (only punctuation): nothing matches.
    fn is_garbage(&self) -> bool {
        !self.blank && self.words.is_empty()
    }

    /// The normalized name the words spell when joined with `-`: a package
    /// with this name is an exact match.
    pub fn as_name(&self) -> String {
        crate::package::normalize(&self.words.join("-"))
    }

    /// Every word, as an FTS5 string, prefix-matched, all required. A word
    /// holds only letters and digits, and any `"` is doubled anyway, so it
    /// is always one literal string.
    fn fts_query(&self) -> String {
        self.words
            .iter()
            .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// [`Self::fts_query`] restricted to the name column.
    fn fts_name_query(&self) -> String {
        format!("normalized : ({})", self.fts_query())
    }
}

/// What a search is narrowed to besides its text.
#[derive(Clone, Copy, Debug, Default)]
pub struct SearchFilter<'a> {
    /// Only these kinds; empty means every kind.
    pub kinds: &'a [Kind],
    /// Normalized names beginning with this; empty means any.
    pub prefix: &'a str,
    /// Only packages whose latest version came from this `[[sources]]`
    /// name (`""`: published here); `None` means from anywhere.
    pub source: Option<&'a str>,
}

/// How a package's name matches the words: the first ranking key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameMatch {
    /// The name is the words joined with `-` (any spelling).
    Exact,
    /// Every word begins a word of the name.
    Words,
    /// Some word matched only the description or keywords (or no text).
    Other,
}

/// One package found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRow {
    /// Package row id.
    pub package_id: i64,
    /// Name as first published.
    pub name: String,
    /// Normalized name.
    pub normalized: String,
    /// Kind.
    pub kind: Kind,
    /// The highest non-yanked version in SemVer order (may be a pre-release).
    pub max_version: String,
    /// The description of the latest version.
    pub description: String,
    /// How the name matched.
    pub name_match: NameMatch,
}

/// One page of a search, best first, with the count of all matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchPage {
    /// This page.
    pub rows: Vec<SearchRow>,
    /// Every match, not only this page.
    pub total: usize,
}

/// The filters' SQL, on `search_docs d`, with parameters `?4` (kinds as
/// `,a,b,`, or empty), `?5` (prefix) and `?6` (source or NULL).
const FILTERS: &str = "(?4 = '' OR instr(?4, ',' || d.kind || ',') > 0)
     AND substr(d.normalized, 1, length(?5)) = ?5
     AND (?6 IS NULL OR d.source = ?6)";

/// Ranked matches: exact name, then every word in the name, then bm25
/// (name words weigh 10, keywords 4, description 1; lower is better), then
/// downloads, then name. Within the name tiers bm25 is left out: a name
/// that matches is as good as another, and popularity decides. bm25 is
/// only in the ORDER BY, behind the tier: its first call counts every row
/// that holds each word (its IDF), which a query answered by names alone
/// (the common case: a name typed whole) never pays.
fn ranked_sql() -> String {
    format!(
        "SELECT d.package_id, d.name, d.normalized, d.kind, d.max_version, d.description,
                CASE WHEN d.normalized = ?2 THEN 0
                     WHEN d.package_id IN
                          (SELECT rowid FROM search_fts WHERE search_fts MATCH ?3) THEN 1
                     ELSE 2 END AS tier
         FROM search_fts JOIN search_docs d ON d.package_id = search_fts.rowid
         LEFT JOIN package_downloads n ON n.package_id = d.package_id
         WHERE search_fts MATCH ?1 AND {FILTERS}
         ORDER BY tier, CASE WHEN tier = 2 THEN bm25(search_fts, 10.0, 1.0, 4.0) ELSE 0 END,
                  coalesce(n.total, 0) DESC, d.normalized
         LIMIT ?7 OFFSET ?8"
    )
}

/// The count of [`ranked_sql`]'s matches; without filters it reads the FTS
/// index alone (a third of the cost when a word matches many packages).
fn count_sql(filtered: bool) -> String {
    if filtered {
        format!(
            "SELECT count(*) FROM search_fts JOIN search_docs d ON d.package_id = search_fts.rowid
             WHERE search_fts MATCH ?1 AND {FILTERS}"
        )
    } else {
        "SELECT count(*) FROM search_fts WHERE search_fts MATCH ?1".to_string()
    }
}

/// Every package (no text), by normalized name, through its index. Each
/// statement takes the first of the eight parameters up to the highest it
/// names (`?1`..`?3` are unused here).
fn listed_sql() -> String {
    format!(
        "SELECT d.package_id, d.name, d.normalized, d.kind, d.max_version, d.description, 2, 0
         FROM search_docs d WHERE {FILTERS}
         ORDER BY d.normalized LIMIT ?7 OFFSET ?8"
    )
}

fn listed_count_sql() -> String {
    format!("SELECT count(*) FROM search_docs d WHERE {FILTERS}")
}

fn search_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SearchRow> {
    let kind: String = r.get(3)?;
    Ok(SearchRow {
        package_id: r.get(0)?,
        name: r.get(1)?,
        normalized: r.get(2)?,
        kind: Kind::parse(&kind).unwrap_or(Kind::Crate),
        max_version: r.get(4)?,
        description: r.get(5)?,
        name_match: match r.get::<_, i64>(6)? {
            0 => NameMatch::Exact,
            1 => NameMatch::Words,
            _ => NameMatch::Other,
        },
    })
}

impl Store {
    /// Packages matching `text` and `filter`, best first: rows
    /// `offset..offset + limit` and the count of all matches, both read
    /// from one snapshot. Every word must begin a word of the name, the
    /// description or the keywords of the package's latest visible version
    /// (case and diacritics ignored). Blank text lists every package by
    /// name; text without a word finds nothing.
    pub fn search_packages(
        &self,
        text: &SearchText,
        filter: &SearchFilter<'_>,
        offset: usize,
        limit: usize,
    ) -> Result<SearchPage, StoreError> {
        if text.is_garbage() {
            return Ok(SearchPage::default());
        }
        let kinds = if filter.kinds.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
            format!(",{},", names.join(","))
        };
        let filtered = !kinds.is_empty() || !filter.prefix.is_empty() || filter.source.is_some();
        let (ranked, count) = if text.is_blank() {
            (listed_sql(), listed_count_sql())
        } else {
            (ranked_sql(), count_sql(filtered))
        };
        let (all, name, words) = if text.is_blank() {
            (None, None, None)
        } else {
            (
                Some(text.fts_query()),
                Some(text.as_name()),
                Some(text.fts_name_query()),
            )
        };
        let limit = i64::try_from(limit).unwrap_or(-1);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let values: [&dyn rusqlite::ToSql; 8] = [
            &all,
            &name,
            &words,
            &kinds,
            &filter.prefix,
            &filter.source,
            &limit,
            &offset,
        ];
        // One read transaction: the page and its total agree.
        let tx = self.conn.unchecked_transaction()?;
        let rows = {
            let mut stmt = tx.prepare_cached(&ranked)?;
            let n = stmt.parameter_count();
            let rows = stmt.query_map(&values[..n], search_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        // A page that is neither full nor past the end holds the last
        // match: the total follows without counting again.
        let short = limit < 0 || (rows.len() as i64) < limit;
        let total: i64 = if !rows.is_empty() && short {
            offset.saturating_add(rows.len() as i64)
        } else {
            let mut stmt = tx.prepare_cached(&count)?;
            let n = stmt.parameter_count();
            stmt.query_row(&values[..n], |r| r.get(0))?
        };
        tx.commit()?;
        Ok(SearchPage {
            rows,
            total: total as usize,
        })
    }
}

/// One approved, unquarantined version, as the index needs it.
struct Visible {
    version: semver::Version,
    description: String,
    keywords: String,
    source: Option<String>,
}

/// Rewrites the search row of `package_id` from its versions, inside the
/// caller's transaction: the row describes the latest visible version (the
/// highest non-yanked release, else the highest non-yanked pre-release, as
/// the catalog and feeds choose it), or is removed when none is visible.
pub(super) fn refresh_in(conn: &Connection, package_id: i64) -> Result<(), StoreError> {
    let mut visible: Vec<Visible> = {
        let mut stmt = conn.prepare_cached(
            "SELECT version, description, keywords, source FROM versions
             WHERE package_id = ?1 AND status = 'approved' AND quarantined_at IS NULL
                   AND yanked = 0",
        )?;
        let rows = stmt.query_map([package_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (version, description, keywords, source) = row?;
            // A version that does not parse is never the latest (as in the
            // catalog); it stays downloadable by its exact number.
            if let Ok(version) = semver::Version::parse(&version) {
                out.push(Visible {
                    version,
                    description,
                    keywords,
                    source,
                });
            }
        }
        out
    };
    let max_version = visible.iter().map(|v| &v.version).max().cloned();
    visible.sort_by(|a, b| {
        (a.version.pre.is_empty(), &a.version).cmp(&(b.version.pre.is_empty(), &b.version))
    });
    let (Some(latest), Some(max_version)) = (visible.last(), max_version) else {
        conn.prepare_cached("DELETE FROM search_docs WHERE package_id = ?1")?
            .execute([package_id])?;
        return Ok(());
    };
    // Unchanged rows are left alone, so the FTS index is not rewritten.
    conn.prepare_cached(
        "INSERT INTO search_docs (package_id, name, normalized, kind, max_version, description,
                                  keywords, source)
         SELECT id, name, normalized, kind, ?2, ?3, ?4, ?5 FROM packages WHERE id = ?1
         ON CONFLICT (package_id) DO UPDATE SET max_version = excluded.max_version,
             description = excluded.description, keywords = excluded.keywords,
             source = excluded.source
         WHERE (max_version, description, keywords, source)
               IS NOT (excluded.max_version, excluded.description, excluded.keywords,
                       excluded.source)",
    )?
    .execute(params![
        package_id,
        max_version.to_string(),
        latest.description,
        latest.keywords,
        latest.source.as_deref().unwrap_or(""),
    ])?;
    Ok(())
}

/// Fills the search index from scratch for every package (after the
/// migration that created it), inside the caller's transaction.
pub(super) fn rebuild_in(conn: &Connection) -> Result<(), StoreError> {
    conn.execute("DELETE FROM search_docs", [])?;
    let ids: Vec<i64> = {
        let mut stmt = conn.prepare("SELECT id FROM packages ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for id in ids {
        refresh_in(conn, id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
