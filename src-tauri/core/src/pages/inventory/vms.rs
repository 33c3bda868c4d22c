//! The VM list of the inventory page: one window of VMs, filtered, by name or (searched)
//! best match first, with the total the filters keep.
//!
//! Both statements are planned with their parameters on every execution (unnamed, not
//! prepared): a cached generic plan is several times slower here (see the comments at each
//! `.persistent(false)`), so that must stay. A search takes the names pg_trgm's `%` would
//! match from the search index while it is current (with no filter on, only the first the
//! window can show, and how many more there are) and lets the statement check that; it
//! never trusts a stale index (the statement answers from pg_trgm instead, and a rebuild
//! starts).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::{unwindowed, InventoryQuery, Windowed};
use crate::error::Result;
use crate::inventory::states::{VmPowerState, VmToolsStatus};
use crate::pages::filter;
use crate::search::HitKind;
use crate::Database;

/// A VM as one table row.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
pub struct VmListRow {
    #[ts(type = "string")]
    pub id: Uuid,
    pub moid: String,
    pub name: String,
    pub power_state: Option<VmPowerState>,
    pub tools_status: Option<VmToolsStatus>,
    pub guest_os: Option<String>,
    /// The first address the guest reports.
    pub ip: Option<String>,
    pub vcpu: Option<i32>,
    pub memory_mb: Option<i32>,
    pub tags: Vec<String>,
    pub cluster: Option<String>,
    pub host: Option<String>,
    /// Where site inference placed it (a pin wins), else its vCenter's site.
    pub site: Option<String>,
    pub vcenter: String,
}

/// pg_trgm's default `similarity_threshold`, which `%` compares with.
const SIMILARITY_THRESHOLD: f64 = 0.3;

/// A window of VMs, filtered, by name, and `{COUNT}` (the total the filters keep:
/// [`COUNT_KEPT`] with no tag filter on, else [`COUNT_PLACED`] or, with no site or cluster
/// filter on, [`COUNT_UNPLACED`]). The window
/// walks `virtual_machines_listed` (migration 0062) in order; only a site or cluster filter
/// places or names the VMs it walks (the statement is planned with its parameters, so a
/// filter that is off costs nothing), and only the window's VMs are joined to their
/// details. The total is its own scalar, so nothing sorts or places every VM.
const VMS_SQL: &str = r#"
WITH listed AS NOT MATERIALIZED (
    SELECT v.id, v.name
    FROM virtual_machines v
    WHERE v.removed_at IS NULL AND NOT v.is_template
      AND ($1::text IS NULL OR EXISTS (
              SELECT 1 FROM vcenter_instances vc
              LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
              JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
              WHERE vc.id = v.vcenter_id AND s.code = $1))
      AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM clusters c WHERE c.id = v.cluster_id AND c.name = $2))
      AND ($3::text IS NULL OR v.power_state = $3::vm_power_state)
      AND ($4::text IS NULL OR v.tools_status = $4::vm_tools_status)
      AND ($5::text IS NULL OR $5 = ANY (v.tags))
)
SELECT v.id, v.moid, v.name, v.power_state, v.tools_status,
       v.guest_os, v.guest_ips -> 0 ->> 'ip' AS ip, v.vcpu, v.memory_mb, v.tags,
       c.name AS cluster, h.name AS host, s.code AS site, vc.name AS vcenter,
       ({COUNT}) AS total
FROM (SELECT l.id, l.name FROM listed l ORDER BY l.name, l.id LIMIT $6 OFFSET $7) w
JOIN virtual_machines v ON v.id = w.id
JOIN vcenter_instances vc ON vc.id = v.vcenter_id
LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
LEFT JOIN clusters c ON c.id = v.cluster_id
LEFT JOIN esxi_hosts h ON h.id = v.host_id
ORDER BY w.name, w.id
"#;

/// The total with a site or cluster filter on: every VM placed.
const COUNT_PLACED: &str = "SELECT count(*) FROM listed";

/// The total with no tag filter on ($5 is null): from the counts the database keeps as VMs
/// change (migration 0064), a few thousand groups instead of every VM.
const COUNT_KEPT: &str = r#"SELECT coalesce(sum(c.n), 0)::bigint FROM vm_counts c
       JOIN vcenter_instances vc ON vc.id = c.vcenter_id
       LEFT JOIN sites s ON s.id = coalesce(c.site_id, vc.site_id)
       LEFT JOIN clusters cl ON cl.id = c.cluster_id
       WHERE $5::text IS NULL
         AND ($1::text IS NULL OR s.code = $1)
         AND ($2::text IS NULL OR cl.name = $2)
         AND ($3::text IS NULL OR c.power_state = $3::vm_power_state)
         AND ($4::text IS NULL OR c.tools_status = $4::vm_tools_status)"#;

/// The total with a tag filter and no site or cluster filter on ($1 and $2 are null): no
/// VM placed.
const COUNT_UNPLACED: &str = r#"SELECT count(*) FROM virtual_machines v
       WHERE v.removed_at IS NULL AND NOT v.is_template
         AND ($3::text IS NULL OR v.power_state = $3::vm_power_state)
         AND ($4::text IS NULL OR v.tools_status = $4::vm_tools_status)
         AND ($5::text IS NULL OR $5 = ANY (v.tags))"#;

/// A window of VMs matching search $1 (a name `%` matches or containing it, a guest host
/// name containing it, the exact guest IP, a tag), most similar name first, then by name
/// byte by byte (`COLLATE "C"`: the order the search index sorts in). Each way of matching
/// is its own indexed arm.
///
/// The `%` arm comes from the search index while it is current as of snapshot $10: $11 ids
/// and $12 their similarity, $13 names for pg_trgm to check, and $16 how many more names
/// match than $11 holds (with no filter on, the index sends only the first $8 + $9 in this
/// order, so a search every name matches does not send the estate). The other arms leave
/// out the names the index answers for (ASCII, similarity ≥ $15), so each match counts
/// once. With a stale index (or no snapshot) pg_trgm's GIN index answers instead. `{KEPT}`
/// is [`KEPT_FILTERED`] or, with no filter on, [`KEPT_ALL`].
const VMS_SEARCH_SQL: &str = r#"
WITH fresh AS (SELECT $10::text IS NOT NULL AND NOT coalesce(search_index_stale($10::pg_snapshot), true) AS ok),
matched AS (
    SELECT x.id, x.sim FROM unnest($11::uuid[], $12::float4[]) x(id, sim) WHERE (SELECT ok FROM fresh)
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v
    WHERE (SELECT ok FROM fresh) AND v.id = ANY ($13::uuid[]) AND v.name % $1
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v WHERE NOT (SELECT ok FROM fresh) AND v.name % $1
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v WHERE v.name ILIKE $2 AND {NOT_INDEXED}
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v WHERE v.guest_hostname ILIKE $2 AND {NOT_INDEXED}
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v
    WHERE $14 AND v.guest_ips @> jsonb_build_array(jsonb_build_object('ip', $1::text)) AND {NOT_INDEXED}
    UNION ALL
    SELECT v.id, similarity(v.name, $1) FROM virtual_machines v WHERE v.tags @> ARRAY[$1] AND {NOT_INDEXED}
),
best AS (SELECT m.id, max(m.sim) AS sim FROM matched m GROUP BY m.id),
-- The matches the filters keep: counted whole, joined to their details only in the window.
kept AS ({KEPT}),
win AS (SELECT k.id, k.sim, k.name FROM kept k ORDER BY k.sim DESC, k.name COLLATE "C", k.id LIMIT $8 OFFSET $9)
SELECT v.id, v.moid, v.name, v.power_state, v.tools_status,
       v.guest_os, v.guest_ips -> 0 ->> 'ip' AS ip, v.vcpu, v.memory_mb, v.tags,
       c.name AS cluster, h.name AS host, s.code AS site, vc.name AS vcenter,
       (SELECT count(*) FROM kept) + CASE WHEN (SELECT ok FROM fresh) THEN $16 ELSE 0 END AS total,
       NOT (SELECT ok FROM fresh) AS stale
FROM win w
JOIN virtual_machines v ON v.id = w.id
JOIN vcenter_instances vc ON vc.id = v.vcenter_id
LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
LEFT JOIN clusters c ON c.id = v.cluster_id
LEFT JOIN esxi_hosts h ON h.id = v.host_id
ORDER BY w.sim DESC, w.name COLLATE "C", w.id
"#;

/// A VM whose name the search index answers for (while it is current): an ASCII name (in
/// UTF-8, as many bytes as characters) with similarity at least the threshold.
const NOT_INDEXED: &str = r#"NOT ((SELECT ok FROM fresh) AND octet_length(v.name) = char_length(v.name)
        AND similarity(v.name, $1) >= $15)"#;

/// The matches filters $3 (site) to $7 (tag) keep.
const KEPT_FILTERED: &str = r#"
    SELECT b.id, b.sim, v.name
    FROM best b
    JOIN virtual_machines v ON v.id = b.id
    JOIN vcenter_instances vc ON vc.id = v.vcenter_id
    LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
    LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
    LEFT JOIN clusters c ON c.id = v.cluster_id
    WHERE v.removed_at IS NULL AND NOT v.is_template
      AND ($3::text IS NULL OR s.code = $3)
      AND ($4::text IS NULL OR c.name = $4)
      AND ($5::text IS NULL OR v.power_state = $5::vm_power_state)
      AND ($6::text IS NULL OR v.tools_status = $6::vm_tools_status)
      AND ($7::text IS NULL OR $7 = ANY (v.tags))
"#;

/// Every match (no filter on; $3 to $7 are null): a search of 10k similar names skips
/// placing each of them (a third of the statement, bench_pages).
const KEPT_ALL: &str = r#"
    SELECT b.id, b.sim, v.name FROM best b JOIN virtual_machines v ON v.id = b.id
    WHERE v.removed_at IS NULL AND NOT v.is_template AND num_nulls($3, $4, $5, $6, $7) = 5
"#;

/// The window of VMs `q` asks for (searched for `search`; `like` is its ILIKE pattern) and
/// how many VMs the search and filters keep.
pub(super) async fn window(
    db: &Database,
    q: &InventoryQuery,
    search: Option<&str>,
    like: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<VmListRow>, i64)> {
    // A power or tools filter is compared as the enum, so the planner knows how many VMs
    // it keeps: compared as text it guessed few, and sorted every VM to show a window deep
    // in a long list (86 ms at offset 5000 of 100k VMs, 6 by the list's index). An unknown
    // value is a clear error rather than an empty list.
    let power = filter(&q.power).map(str::parse::<VmPowerState>).transpose()?.map(VmPowerState::as_str);
    let tools = filter(&q.tools).map(str::parse::<VmToolsStatus>).transpose()?.map(VmToolsStatus::as_str);
    let rows: Vec<Windowed<VmListRow>> = match search {
        None => {
            // Planned with its filters every time (an unnamed statement): the cached
            // generic plan, which can't see which `$n IS NULL` filters are off, took
            // 88 ms where a planned one takes 30 (bench_pages, 10k VMs).
            let placed = filter(&q.site).is_some() || filter(&q.cluster).is_some();
            let count = match (filter(&q.tag).is_some(), placed) {
                (false, _) => COUNT_KEPT,
                (true, true) => COUNT_PLACED,
                (true, false) => COUNT_UNPLACED,
            };
            let sql = VMS_SQL.replace("{COUNT}", count);
            sqlx::query_as(&sql)
                .persistent(false)
                .bind(filter(&q.site))
                .bind(filter(&q.cluster))
                .bind(power)
                .bind(tools)
                .bind(filter(&q.tag))
                .bind(limit)
                .bind(offset)
                .fetch_all(db.pool())
                .await?
        }
        Some(term) => {
            // Names `%` matches, with their similarity, from the search index when it
            // has them; the statement ignores them (and asks pg_trgm) if it is stale.
            let index = db.search_index().index(db).await?;
            let filters = [&q.site, &q.cluster, &q.power, &q.tools, &q.tag];
            let unfiltered = filters.iter().all(|f| filter(f).is_none());
            // With a filter on, every similar name goes in (the statement filters them);
            // otherwise only the first the window can show.
            let first = unfiltered.then(|| usize::try_from(offset.saturating_add(limit)).unwrap_or(usize::MAX));
            let names = index.similar_names(HitKind::VirtualMachine, term, SIMILARITY_THRESHOLD, first);
            let (snapshot, ids, sims, verify, beyond) = match names {
                Some(n) => (Some(n.snapshot), n.ids, n.sims, n.verify, n.beyond),
                None => (None, Vec::new(), Vec::new(), Vec::new(), 0),
            };
            // Planned with its parameters every time (an unnamed statement): a cached
            // generic plan guesses 10 names for the arrays and joins 10k by nested loop.
            let kept = if unfiltered { KEPT_ALL } else { KEPT_FILTERED };
            let sql = VMS_SEARCH_SQL.replace("{KEPT}", kept).replace("{NOT_INDEXED}", NOT_INDEXED);
            let rows: Vec<Windowed<VmListRow>> = sqlx::query_as(&sql)
                .persistent(false)
                .bind(term)
                .bind(like)
                .bind(filter(&q.site))
                .bind(filter(&q.cluster))
                .bind(power)
                .bind(tools)
                .bind(filter(&q.tag))
                .bind(limit)
                .bind(offset)
                .bind(&snapshot)
                .bind(&ids)
                .bind(&sims)
                .bind(&verify)
                .bind(term.parse::<std::net::IpAddr>().is_ok())
                .bind(SIMILARITY_THRESHOLD)
                .bind(beyond)
                .fetch_all(db.pool())
                .await?;
            if snapshot.is_some() && rows.first().is_some_and(|r| r.stale) {
                db.search_index().rebuild(db, &index);
            }
            rows
        }
    };
    Ok(unwindowed(rows))
}
