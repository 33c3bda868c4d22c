//! The in-process text index of fuzzy search: every name, guest host name, service tag
//! and planned host name the text search ranks, with a trigram inverted index, read from
//! PostgreSQL under one snapshot.
//!
//! What it owns: choosing *candidates*. For a query it counts, per entry, the query's
//! trigrams the entry shares (pg_trgm's trigrams: lower case, alphanumeric words padded
//! with two spaces before and one after), which bounds pg_trgm's word similarity from above
//! (shared / query trigrams) and gives its similarity exactly (shared / (query + entry −
//! shared)); the best few by the mean of the two go to PostgreSQL, which scores them with
//! the same expressions as the SQL plan (`word_similarity`, `similarity`, `lower`). So the
//! scores are pg_trgm's own; only the choice of whom to score is made here.
//!
//! What it must never do: answer from data that is not current. The index remembers the
//! snapshot it was read under; the statement that scores candidates also asks
//! `search_changes` (migration 0031: one row per write statement to the tables it reads,
//! visible exactly when the write commits) whether anything committed since. If so, the
//! caller discards the answer, searches with SQL alone and a rebuild starts in the
//! background. It never writes, never holds a lock while PostgreSQL works, and is one per
//! [`Database`] (one login's view: row-level security applies to what it reads).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::HitKind;
use crate::error::Result;
use crate::Database;

/// One searchable value.
pub(crate) struct Entry {
    pub kind: HitKind,
    pub id: Option<Uuid>,
    pub label: String,
    pub field: String,
    pub matched: String,
    pub detail: Option<String>,
    /// Found only when the query equals it, ignoring case (ESXi service tags).
    exact_only: bool,
    /// Distinct trigrams of `matched`.
    trigrams: u16,
    /// `matched` is ASCII: its trigrams here are exactly pg_trgm's.
    ascii: bool,
    /// A VM template (the inventory lists no templates).
    template: bool,
}

/// The text index of one snapshot.
pub(crate) struct TextIndex {
    /// `pg_current_snapshot()` the entries were read under.
    snapshot: String,
    pub entries: Vec<Entry>,
    postings: HashMap<u64, Vec<u32>>,
    /// Upper-cased exact-only values.
    exact: HashMap<String, Vec<u32>>,
    /// Entries of field `name` that are not ASCII.
    non_ascii_names: Vec<u32>,
}

/// Names `%` matches, from the index (see [`TextIndex::similar_names`]).
#[derive(Debug, Default)]
pub(crate) struct SimilarNames {
    /// The snapshot the index was read under: `search_index_stale()` says whether these
    /// still hold.
    pub snapshot: String,
    pub ids: Vec<Uuid>,
    pub sims: Vec<f32>,
    /// Names that are not ASCII: PostgreSQL checks them.
    pub verify: Vec<Uuid>,
    /// How many more names match than `ids` holds (asked for the first few only).
    pub beyond: i64,
}

/// The index of a [`Database`], built on first use and rebuilt when stale.
#[derive(Default)]
pub struct SearchIndexCell {
    current: Mutex<Option<Arc<TextIndex>>>,
    /// A build is under way (first use waits for it; a rebuild runs in the background).
    building: tokio::sync::Mutex<()>,
}

/// A row of [`ENTRIES_SQL`].
#[derive(sqlx::FromRow)]
struct EntryRow {
    kind: String,
    id: Option<Uuid>,
    label: String,
    field: String,
    matched: Option<String>,
    detail: Option<String>,
    exact_only: bool,
    template: bool,
}

/// What text search reads: (kind, id, label, field, matched, detail, exact_only), the same
/// sources and columns as the SQL plan (`TEXT_SQL`); and whether a VM is a template.
const ENTRIES_SQL: &str = r#"
SELECT 'virtual_machine' AS kind, v.id, v.name AS label, 'name' AS field, v.name AS matched,
       concat_ws(', ', v.guest_hostname, v.power_state::text) AS detail, false AS exact_only,
       v.is_template AS template
FROM virtual_machines v WHERE v.removed_at IS NULL
UNION ALL
SELECT 'virtual_machine', v.id, v.name, 'guest_hostname', v.guest_hostname,
       concat_ws(', ', v.guest_hostname, v.power_state::text), false, v.is_template
FROM virtual_machines v WHERE v.removed_at IS NULL AND v.guest_hostname IS NOT NULL
UNION ALL
SELECT 'esxi_host', h.id, h.name, 'name', h.name,
       concat_ws(', ', nullif(concat_ws(' ', h.vendor, h.model), ''), h.service_tag), false, false
FROM esxi_hosts h WHERE h.removed_at IS NULL
UNION ALL
SELECT 'physical_server', s.id, coalesce(s.hostname, s.service_tag, s.id::text), 'hostname', s.hostname,
       concat_ws(', ', s.model, s.service_tag, host(s.idrac_ip)), false, false
FROM physical_servers s WHERE s.removed_at IS NULL AND s.hostname IS NOT NULL
UNION ALL
SELECT 'physical_server', s.id, coalesce(s.hostname, s.service_tag), 'service_tag', s.service_tag,
       concat_ws(', ', s.model, host(s.idrac_ip)), false, false
FROM physical_servers s WHERE s.removed_at IS NULL AND s.service_tag IS NOT NULL
UNION ALL
SELECT 'esxi_host', h.id, h.name, 'service_tag', h.service_tag, concat_ws(' ', h.vendor, h.model), true, false
FROM esxi_hosts h WHERE h.removed_at IS NULL AND h.service_tag IS NOT NULL
UNION ALL
SELECT 'address', a.id, abbrev(a.address), 'planned_hostname', a.hostname, concat_ws(', ', 'planned', d.name), false, false
FROM ip_assignments a JOIN routing_domains d ON d.id = a.routing_domain_id
WHERE a.hostname IS NOT NULL
"#;

/// Scores candidates exactly as `TEXT_SQL` does, and says whether anything the index read
/// has changed since its snapshot ($2). Always one row at least (the verdict).
const SCORE_SQL: &str = r#"
SELECT v.stale, k.i, k.score
FROM (SELECT search_index_stale($2::pg_snapshot) AS stale) v
LEFT JOIN LATERAL (
    SELECT c.i, CASE WHEN lower(c.m) = lower($1) THEN 1.0
                     ELSE ((1 - ($1 <<-> c.m)) + similarity($1, c.m)) * 0.495 END::float8 AS score
    FROM unnest($3::int4[], $4::text[], $5::bool[]) c(i, m, exact_only)
    WHERE CASE WHEN c.exact_only THEN upper(c.m) = upper($1) ELSE ($1 <<-> c.m) <= 1 - $6 END
) k ON true
"#;

/// pg_trgm's trigrams of `s` (default build: case-folded, alphanumeric words, each padded
/// with two spaces before and one after), distinct, packed three chars to a u64.
pub(super) fn trigrams(s: &str) -> Vec<u64> {
    let lower = s.to_lowercase();
    let mut out = Vec::new();
    for word in lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let padded: Vec<char> = "  ".chars().chain(word.chars()).chain(" ".chars()).collect();
        for w in padded.windows(3) {
            out.push((u64::from(w[0]) << 42) | (u64::from(w[1]) << 21) | u64::from(w[2]));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

impl TextIndex {
    async fn load(db: &Database) -> Result<TextIndex> {
        let mut tx = db.pool().begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let snapshot: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text").fetch_one(&mut *tx).await?;
        let rows: Vec<EntryRow> = sqlx::query_as(ENTRIES_SQL).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut entries = Vec::with_capacity(rows.len());
        let mut postings: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut exact: HashMap<String, Vec<u32>> = HashMap::new();
        let mut non_ascii_names = Vec::new();
        for r in rows {
            let EntryRow { kind, id, label, field, matched, detail, exact_only, template } = r;
            let Some(matched) = matched else { continue };
            let n = u32::try_from(entries.len()).unwrap_or(u32::MAX);
            let mut count = 0u16;
            if exact_only {
                exact.entry(matched.to_uppercase()).or_default().push(n);
            } else {
                let t = trigrams(&matched);
                count = u16::try_from(t.len()).unwrap_or(u16::MAX);
                for g in t {
                    postings.entry(g).or_default().push(n);
                }
            }
            if field == "name" && !matched.is_ascii() {
                non_ascii_names.push(n);
            }
            entries.push(Entry {
                kind: HitKind::parse(&kind)?,
                id,
                label,
                field,
                ascii: matched.is_ascii(),
                matched,
                detail: detail.filter(|d| !d.is_empty()),
                exact_only,
                trigrams: count,
                template,
            });
        }
        Ok(TextIndex { snapshot, entries, postings, exact, non_ascii_names })
    }

    /// Per entry, how many of the (distinct) trigrams `q` it shares; and the entries that
    /// share any, in first-touch order.
    fn shared_trigrams(&self, q: &[u64]) -> (Vec<u16>, Vec<u32>) {
        let mut shared = vec![0u16; self.entries.len()];
        let mut touched: Vec<u32> = Vec::new();
        for g in q {
            if let Some(list) = self.postings.get(g) {
                for &e in list {
                    let c = &mut shared[e as usize];
                    if *c == 0 {
                        touched.push(e);
                    }
                    *c = c.saturating_add(1);
                }
            }
        }
        (shared, touched)
    }

    /// The `kind`'s names (field `name`, templates left out) that pg_trgm's `%` matches
    /// with `query` at `threshold` (similarity ≥ threshold), with their similarity:
    /// computed from shared trigram counts as pg_trgm computes it (float4 count / (len1 +
    /// len2 − count)), which is exact for ASCII. Names with other characters that might
    /// match are returned apart, for PostgreSQL to check. None for a query that is not ASCII
    /// (PostgreSQL decides).
    ///
    /// With `first`, only the first `first` of them in the inventory's search order (most
    /// similar first, then by name byte by byte, then by id: `ORDER BY sim DESC, name
    /// COLLATE "C", id`) and how many more there are ([`SimilarNames::beyond`]): a search
    /// every name matches sends a window, not the estate.
    pub(crate) fn similar_names(
        &self,
        kind: HitKind,
        query: &str,
        threshold: f64,
        first: Option<usize>,
    ) -> Option<SimilarNames> {
        if !query.is_ascii() {
            return None;
        }
        let q = trigrams(query);
        let mut out = SimilarNames { snapshot: self.snapshot.clone(), ..SimilarNames::default() };
        if q.is_empty() {
            return Some(out);
        }
        let (shared, touched) = self.shared_trigrams(&q);
        let q_len = q.len() as f32;
        let mut found: Vec<(f32, &str, Uuid)> = Vec::new();
        for e in touched {
            let entry = &self.entries[e as usize];
            let listed = entry.ascii && entry.kind == kind && entry.field == "name" && !entry.template;
            let Some(id) = entry.id.filter(|_| listed) else {
                continue;
            };
            let count = f32::from(shared[e as usize]);
            let sim = count / (q_len + f32::from(entry.trigrams) - count);
            if f64::from(sim) >= threshold {
                found.push((sim, &entry.matched, id));
            }
        }
        if let Some(n) = first.filter(|&n| n < found.len()) {
            let order = |a: &(f32, &str, Uuid), b: &(f32, &str, Uuid)| {
                b.0.total_cmp(&a.0).then_with(|| a.1.as_bytes().cmp(b.1.as_bytes())).then(a.2.cmp(&b.2))
            };
            let all = found.len();
            found.select_nth_unstable_by(n, order);
            found.truncate(n);
            out.beyond = i64::try_from(all - n).unwrap_or(i64::MAX);
        }
        for (sim, _, id) in found {
            out.ids.push(id);
            out.sims.push(sim);
        }
        // Whether PostgreSQL splits other characters into words as we do depends on its
        // locale: every such name is its to check.
        out.verify = self
            .non_ascii_names
            .iter()
            .map(|&e| &self.entries[e as usize])
            .filter(|entry| entry.kind == kind)
            .filter_map(|entry| entry.id)
            .collect();
        Some(out)
    }

    /// The `n` most promising entries for `query`: by the mean of the word-similarity
    /// bound and the similarity, both from shared trigram counts; entries whose bound is
    /// below `min_score` can't pass and are left out. Exact-only entries equal to the query.
    pub(super) fn candidates(&self, query: &str, n: usize, min_score: f64) -> Vec<u32> {
        let q = trigrams(query);
        let mut out: Vec<u32> = self.exact.get(&query.to_uppercase()).cloned().unwrap_or_default();
        if q.is_empty() {
            return out;
        }
        let (shared, touched) = self.shared_trigrams(&q);
        let qn = q.len() as f64;
        let mut scored: Vec<(f64, u32)> = touched
            .into_iter()
            .filter_map(|e| {
                let s = f64::from(shared[e as usize]);
                let bound = s / qn;
                if bound < min_score {
                    return None;
                }
                let sim = s / (qn + f64::from(self.entries[e as usize].trigrams) - s);
                Some(((bound + sim) / 2.0, e))
            })
            .collect();
        let by_estimate = |a: &(f64, u32), b: &(f64, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if scored.len() > n {
            scored.select_nth_unstable_by(n, by_estimate);
            scored.truncate(n);
        }
        scored.sort_unstable_by(by_estimate);
        out.extend(scored.into_iter().map(|(_, e)| e));
        out
    }
}

/// Scored candidates: (entry, score), or None when the index is stale.
pub(super) async fn score(
    db: &Database,
    index: &TextIndex,
    query: &str,
    candidates: &[u32],
    min_score: f64,
) -> Result<Option<Vec<(u32, f64)>>> {
    let ids: Vec<i32> = candidates.iter().map(|&c| i32::try_from(c).unwrap_or(i32::MAX)).collect();
    let matched: Vec<&str> = candidates.iter().map(|&c| index.entries[c as usize].matched.as_str()).collect();
    let exact_only: Vec<bool> = candidates.iter().map(|&c| index.entries[c as usize].exact_only).collect();
    let rows: Vec<(bool, Option<i32>, Option<f64>)> = sqlx::query_as(SCORE_SQL)
        .bind(query)
        .bind(&index.snapshot)
        .bind(&ids)
        .bind(&matched)
        .bind(&exact_only)
        .bind(min_score)
        .fetch_all(db.pool())
        .await?;
    if rows.first().is_none_or(|&(stale, _, _)| stale) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(rows.len());
    for (_, i, s) in rows {
        if let (Some(i), Some(s)) = (i, s) {
            out.push((u32::try_from(i).unwrap_or(u32::MAX), s));
        }
    }
    Ok(Some(out))
}

impl SearchIndexCell {
    fn get(&self) -> Option<Arc<TextIndex>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, index: Option<Arc<TextIndex>>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = index;
    }

    /// The index, built now when there is none yet (a search waits for a build under way:
    /// at 100k VMs it is over sooner than pg_trgm alone would answer).
    pub(crate) async fn index(&self, db: &Database) -> Result<Arc<TextIndex>> {
        if let Some(i) = self.get() {
            return Ok(i);
        }
        let _building = self.building.lock().await;
        if let Some(i) = self.get() {
            return Ok(i);
        }
        let fresh = Arc::new(TextIndex::load(db).await?);
        self.set(Some(fresh.clone()));
        Ok(fresh)
    }

    /// The index if there is one; else None, and it is built in the background
    /// ([`super::warm_in_background`]).
    pub(crate) fn ready(&self, db: &Database) -> Option<Arc<TextIndex>> {
        let current = self.get();
        if current.is_none() {
            Self::build_in_background(db);
        }
        current
    }

    /// Forget a stale index and build its successor in the background, unless a build is
    /// already under way. Searches meanwhile use SQL alone.
    pub(crate) fn rebuild(&self, db: &Database, stale: &Arc<TextIndex>) {
        {
            let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, stale)) {
                *current = None;
            }
        }
        Self::build_in_background(db);
    }

    /// Build the index of `db` on a task of its own, unless a build is under way or there
    /// is an index already.
    fn build_in_background(db: &Database) {
        let db = db.clone();
        tokio::spawn(async move {
            let cell = db.search_index();
            let Ok(_building) = cell.building.try_lock() else { return };
            if cell.get().is_some() {
                return;
            }
            match TextIndex::load(&db).await {
                Ok(fresh) => cell.set(Some(Arc::new(fresh))),
                Err(e) => tracing::debug!(error = %e, "building the search index"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &[u64]) -> Vec<String> {
        t.iter()
            .map(|g| {
                [(g >> 42) as u32, ((g >> 21) & 0x1f_ffff) as u32, (g & 0x1f_ffff) as u32]
                    .iter()
                    .map(|&c| char::from_u32(c).unwrap())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn trigrams_are_pg_trgms() {
        // SELECT show_trgm('Web-01'): {"  0","  w"," 01"," we","01 ","eb ",web}
        let mut got = text(&trigrams("Web-01"));
        got.sort();
        assert_eq!(got, ["  0", "  w", " 01", " we", "01 ", "eb ", "web"]);
        assert!(trigrams("--").is_empty());
        assert_eq!(trigrams("a a").len(), 2);
    }
}
