//! The inventory page: VMs or ESXi hosts as a window of a filtered, searched list (the
//! table asks for the window it scrolls to, so 100k rows never travel at once), the facets
//! its filters offer, and the detail drawer of one VM or host.
//!
//! This file owns the page model (the query, the page, the facets) and puts a page
//! together: the window from [`vms`] or [`hosts`], the facets beside it. The drawers are in
//! [`detail`], the server-to-host mappings and their evidence in [`mappings`].
//!
//! Search is fuzzy and server-side: a name or guest hostname containing the words, a name
//! similar to them (pg_trgm's `%`), an exact guest IP, or a tag; best matches first. The
//! similar names and their similarity come from fuzzy search's in-process index
//! (`crate::search`) while it is current, so a search of 10k similar names computes no
//! similarity in SQL; the statement itself checks that it is current and otherwise asks
//! pg_trgm's GIN index.
//!
//! Like every page model it only reads, with the caller's rights, in a fixed number of
//! statements whatever the window's size; it never contacts a source.
mod detail;
mod hosts;
mod mappings;
mod vms;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{search_term, window, Count};
use crate::error::Result;
use crate::Database;

pub use detail::{host, vm, Attribute, GuestIp, HostDetail, IdInput, Nic, VmBrief, VmDetail};
pub use hosts::HostListRow;
pub(crate) use mappings::mappings_where;
pub use mappings::MappingInfo;
pub use vms::VmListRow;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InventoryKind {
    #[default]
    Vms,
    Hosts,
}

/// What the inventory table shows. Every field is optional; blank means "any".
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct InventoryQuery {
    /// vms (default) or hosts.
    #[serde(default)]
    pub kind: Option<InventoryKind>,
    /// Fuzzy search: name, guest hostname, an exact IP, or a tag.
    #[serde(default)]
    pub q: Option<String>,
    /// Site code, where site inference placed the object (a pin wins), else its
    /// vCenter's configured site.
    #[serde(default)]
    pub site: Option<String>,
    /// Cluster name.
    #[serde(default)]
    pub cluster: Option<String>,
    /// powered_on | powered_off | suspended (hosts: powered_on | standby | …).
    #[serde(default)]
    pub power: Option<String>,
    /// VMware Tools: ok | old | not_running | not_installed (VMs only).
    #[serde(default)]
    pub tools: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    /// First row of the window (default 0).
    #[serde(default)]
    pub offset: Option<i64>,
    /// Rows in the window (default 200, at most 1000).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct InventoryPage {
    pub kind: InventoryKind,
    /// Rows matching the search and filters.
    pub total: i64,
    pub offset: i64,
    /// The window of VMs (empty when kind is hosts).
    pub vms: Vec<VmListRow>,
    /// The window of hosts (empty when kind is vms).
    pub hosts: Vec<HostListRow>,
    /// The values each filter offers, over the whole inventory (on the first window of a
    /// list that is not searched: they describe the inventory, not the search).
    pub facets: Option<InventoryFacets>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct InventoryFacets {
    pub sites: Vec<Count>,
    pub clusters: Vec<Count>,
    pub power: Vec<Count>,
    pub tools: Vec<Count>,
    /// The 100 most used tags.
    pub tags: Vec<Count>,
}

/// A row of a window: the list row, how many rows the whole list has, and (searches of
/// VMs) whether the search index the statement was given was stale.
#[derive(sqlx::FromRow)]
struct Windowed<T> {
    #[sqlx(flatten)]
    row: T,
    total: i64,
    #[sqlx(default)]
    stale: bool,
}

/// The rows of a window and the list's total (0 when the window is empty).
fn unwindowed<T>(rows: Vec<Windowed<T>>) -> (Vec<T>, i64) {
    let total = rows.last().map_or(0, |r| r.total);
    (rows.into_iter().map(|r| r.row).collect(), total)
}

/// `%` and `_` in a search are letters, not wildcards.
pub(crate) fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub async fn load(db: &Database, q: &InventoryQuery) -> Result<InventoryPage> {
    let kind = q.kind.unwrap_or_default();
    // Facets describe the whole inventory, not the search: the first window of an
    // unsearched list carries them (the table keeps them while the user types). They are
    // read on a second connection while the window is: two statements at once.
    let (offset, _) = window(q.offset, q.limit, 200, 1000);
    let want_facets = offset == 0 && search_term(&q.q).is_none();
    let (page, facets) = tokio::try_join!(rows(db, q), async {
        if want_facets {
            facets(db, kind).await.map(Some)
        } else {
            Ok(None)
        }
    })?;
    Ok(InventoryPage { facets, ..page })
}

/// The window of rows and the total, without facets.
async fn rows(db: &Database, q: &InventoryQuery) -> Result<InventoryPage> {
    let kind = q.kind.unwrap_or_default();
    let (offset, limit) = window(q.offset, q.limit, 200, 1000);
    let search = search_term(&q.q);
    let like = search.as_deref().map(|s| format!("%{}%", like_escape(s)));
    let (vms, hosts, mut total) = match kind {
        InventoryKind::Vms => {
            let (vms, total) = vms::window(db, q, search.as_deref(), like.as_deref(), limit, offset).await?;
            (vms, Vec::new(), total)
        }
        InventoryKind::Hosts => {
            let (hosts, total) = hosts::window(db, q, search.as_deref(), like.as_deref(), limit, offset).await?;
            (Vec::new(), hosts, total)
        }
    };
    if vms.is_empty() && hosts.is_empty() && offset > 0 {
        // Past the end: the window function had no row to report the total on.
        let first = InventoryQuery { offset: Some(0), limit: Some(1), kind: Some(kind), ..q.clone() };
        total = Box::pin(rows(db, &first)).await?.total;
    }
    Ok(InventoryPage { kind, total, offset, vms, hosts, facets: None })
}

async fn facets(db: &Database, kind: InventoryKind) -> Result<InventoryFacets> {
    let sql = match kind {
        InventoryKind::Vms => {
            // From the counts the database keeps as VMs change (migration 0064): a few
            // thousand groups, not every VM.
            r#"
            WITH v AS (
                SELECT s.code AS site, cl.name AS cluster, c.power_state::text AS power,
                       c.tools_status::text AS tools, c.n
                FROM vm_counts c JOIN vcenter_instances vc ON vc.id = c.vcenter_id
                LEFT JOIN sites s ON s.id = coalesce(c.site_id, vc.site_id) LEFT JOIN clusters cl ON cl.id = c.cluster_id
            )
            SELECT 'site' AS facet, site AS value, sum(n)::bigint AS n FROM v WHERE site IS NOT NULL
            GROUP BY site HAVING sum(n) <> 0
            UNION ALL SELECT 'cluster', cluster, sum(n)::bigint FROM v WHERE cluster IS NOT NULL
            GROUP BY cluster HAVING sum(n) <> 0
            UNION ALL SELECT 'power', power, sum(n)::bigint FROM v WHERE power IS NOT NULL GROUP BY power HAVING sum(n) <> 0
            UNION ALL SELECT 'tools', tools, sum(n)::bigint FROM v WHERE tools IS NOT NULL GROUP BY tools HAVING sum(n) <> 0
            UNION ALL (SELECT 'tag', tag, sum(n)::bigint FROM vm_tag_counts GROUP BY tag HAVING sum(n) <> 0
                       ORDER BY 3 DESC, 2 LIMIT 100)
            "#
        }
        InventoryKind::Hosts => {
            r#"
            WITH h AS (
                SELECT h.power_state::text AS power, h.tags, c.name AS cluster, s.code AS site
                FROM esxi_hosts h JOIN vcenter_instances vc ON vc.id = h.vcenter_id
                LEFT JOIN entity_sites es ON es.entity_type = 'esxi_host' AND es.entity_id = h.id
                LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id) LEFT JOIN clusters c ON c.id = h.cluster_id
                WHERE h.removed_at IS NULL
            )
            SELECT 'site' AS facet, site AS value, count(*) AS n FROM h WHERE site IS NOT NULL GROUP BY site
            UNION ALL SELECT 'cluster', cluster, count(*) FROM h WHERE cluster IS NOT NULL GROUP BY cluster
            UNION ALL SELECT 'power', power, count(*) FROM h WHERE power IS NOT NULL GROUP BY power
            UNION ALL (SELECT 'tag', t, count(*) FROM h, unnest(h.tags) t GROUP BY t ORDER BY count(*) DESC, t LIMIT 100)
            "#
        }
    };
    let mut f = InventoryFacets::default();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(sql).fetch_all(db.pool()).await?;
    for (facet, value, count) in rows {
        let c = Count { value, count };
        match facet.as_str() {
            "site" => f.sites.push(c),
            "cluster" => f.clusters.push(c),
            "power" => f.power.push(c),
            "tools" => f.tools.push(c),
            _ => f.tags.push(c),
        }
    }
    for list in [&mut f.sites, &mut f.clusters, &mut f.power, &mut f.tools] {
        list.sort_by(|a, b| a.value.cmp(&b.value));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_never_become_wildcards() {
        assert_eq!(like_escape("web_01%"), "web\\_01\\%");
        assert_eq!(like_escape("a\\b"), "a\\\\b");
    }
}
