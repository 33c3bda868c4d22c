//! The Dell servers page: a window of the physical servers (searched and filtered on the
//! server, so 5,000 servers never travel at once) with each one's iDRAC generation and
//! driver, firmware compliance against the OME baseline and the ESXi host it maps to; the
//! estate's counts beside it; and one server's detail: firmware per component, every
//! mapping candidate with its evidence, and the hosts a manual mapping may choose from.
//!
//! Like every page model it only reads, with the caller's rights, in a fixed number of
//! statements whatever the window's size; it never contacts a source.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::inventory::{mappings_where, MappingInfo};
use super::{filter, search_term, window, Count};
use crate::error::{Error, Result};
use crate::inventory::states::IdracGeneration;
use crate::inventory::{self, FirmwareRow, ServerRow};
use crate::Database;

/// Which servers the table shows: all of them when every field is blank.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct ServersQuery {
    /// Part of a service tag, hostname, iDRAC name, model or ESXi host name, or an exact
    /// iDRAC address.
    #[serde(default)]
    pub q: Option<String>,
    /// Site code: where site inference placed the server (a pin wins), else its iDRAC's
    /// or OME's site.
    #[serde(default)]
    pub site: Option<String>,
    /// iDRAC7 | iDRAC8 | iDRAC9, or unknown (not probed yet).
    #[serde(default)]
    pub generation: Option<String>,
    /// noncompliant (behind or ahead of the baseline) | mapped | unmapped (to an ESXi host).
    #[serde(default)]
    pub show: Option<String>,
    /// First row of the window (default 0).
    #[serde(default)]
    pub offset: Option<i64>,
    /// Rows in the window (default 200, at most 1000).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ServersPage {
    /// Servers the search and filters keep.
    pub total: i64,
    pub offset: i64,
    /// The window, ordered by hostname (else iDRAC name, else service tag).
    pub servers: Vec<ServerRow>,
    /// The estate's counts, on the first window of a list that is not searched: they
    /// describe every server, not the search, and the table keeps them while the user types.
    pub facets: Option<ServerFacets>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct ServerFacets {
    /// Servers per iDRAC generation ("unknown" when not probed yet).
    pub generations: Vec<Count>,
    /// Servers per site (servers no site claims are not counted).
    pub sites: Vec<Count>,
    /// Servers per compliance verdict: compliant, noncompliant, no_baseline.
    pub compliance: Vec<Count>,
    /// Servers with no active mapping to an ESXi host.
    pub unmapped: i64,
    /// Mappings the sync could not settle (two candidates, conflicting facts).
    pub ambiguous_mappings: Vec<MappingInfo>,
}

/// What `show` may ask for.
const SHOWS: [&str; 3] = ["noncompliant", "mapped", "unmapped"];

/// A window row: the server and the total the filters keep.
#[derive(sqlx::FromRow)]
struct Windowed {
    #[sqlx(flatten)]
    row: ServerRow,
    total: i64,
}

pub async fn load(db: &Database, q: &ServersQuery) -> Result<ServersPage> {
    let (offset, limit) = window(q.offset, q.limit, 200, 1000);
    let generation = match filter(&q.generation) {
        None => None,
        Some(g) if g.eq_ignore_ascii_case("unknown") => Some("unknown"),
        Some(g) => Some(g.parse::<IdracGeneration>()?.as_str()),
    };
    let show = super::one_of(&q.show, &SHOWS, "servers filter")?;
    let search = search_term(&q.q);
    let like = search.as_deref().map(|s| format!("%{}%", super::inventory::like_escape(s)));
    let want_facets = offset == 0 && search.is_none();
    let used = [search.is_some(), filter(&q.site).is_some(), generation.is_some(), show.is_some()];
    let filters: Vec<&str> = FILTERS.iter().zip(used).filter(|(_, on)| *on).map(|(f, _)| *f).collect();
    let mut filter_joins = String::new();
    if used[0] || used[3] {
        filter_joins.push_str(MAPPING_JOINS);
    }
    if used[1] {
        filter_joins.push_str(SITE_JOINS);
    }
    let sql = WINDOW_SQL
        .replace("{filter_joins}", &filter_joins)
        .replace("{filters}", &filters.join("\n          "))
        .replace("{columns}", inventory::SERVER_COLUMNS)
        .replace("{joins}", inventory::SERVER_JOINS);
    let run = |limit: i64, offset: i64| {
        sqlx::query_as::<_, Windowed>(&sql)
            .bind(search.as_deref())
            .bind(like.as_deref())
            .bind(filter(&q.site))
            .bind(generation)
            .bind(show)
            .bind(limit)
            .bind(offset)
            .fetch_all(db.pool())
    };
    // The window and the counts are read on two connections at once.
    let (rows, facets) = tokio::try_join!(async { Ok::<_, Error>(run(limit, offset).await?) }, async {
        if want_facets {
            facets(db).await.map(Some)
        } else {
            Ok(None)
        }
    })?;
    let mut total = rows.last().map_or(0, |r| r.total);
    if rows.is_empty() && offset > 0 {
        // Past the end: no row carried the total.
        total = run(1, 0).await?.first().map_or(0, |r| r.total);
    }
    Ok(ServersPage { total, offset, servers: rows.into_iter().map(|r| r.row).collect(), facets })
}

/// One statement for the window. Its first pass filters and orders every server by a
/// narrow row (id, sort name), so 5,000 servers are sorted as 5,000 short keys; the second
/// joins the details (`inventory::SERVER_COLUMNS`), and counts firmware, for the window's
/// rows only. `{filters}` is the
/// filters in use (see [`FILTERS`]): a statement per combination, so each has its own plan
/// (one generic plan for "this filter or none" guesses a handful of rows, and walks 5,000
/// through nested loops).
const WINDOW_SQL: &str = r#"
    WITH keep AS (
        SELECT p.id, coalesce(p.hostname, e.name, p.service_tag) AS sort_name, count(*) OVER () AS total
        FROM physical_servers p
        LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id {filter_joins}
        WHERE p.removed_at IS NULL {filters}
        ORDER BY sort_name, p.id
        LIMIT $6 OFFSET $7
    )
    SELECT {columns}, k.total
    FROM keep k
    JOIN physical_servers p ON p.id = k.id
    {joins}
    ORDER BY k.sort_name, k.id
"#;

/// The joins the search and `show` read (the active mapping, its host), and those the
/// site filter reads: the first pass joins them only when a filter needs them.
const MAPPING_JOINS: &str = "
        LEFT JOIN server_mappings m ON m.physical_server_id = p.id AND m.status = 'active'
        LEFT JOIN esxi_hosts h ON h.id = m.esxi_host_id";
const SITE_JOINS: &str = "
        LEFT JOIN ome_instances o ON o.id = p.ome_instance_id
        LEFT JOIN entity_sites es ON es.entity_type = 'physical_server' AND es.entity_id = p.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, e.site_id, o.site_id)";

/// Each filter's condition, used when its parameter is given: search (its text, then its
/// ILIKE pattern), site, generation, show.
const FILTERS: [&str; 4] = [
    "AND (p.service_tag ILIKE $2 OR p.hostname ILIKE $2 OR e.name ILIKE $2 OR p.model ILIKE $2
          OR h.name ILIKE $2 OR host(p.idrac_ip) = $1)",
    "AND s.code = $3",
    "AND coalesce(e.generation::text, 'unknown') = $4",
    "AND CASE $5 WHEN 'mapped' THEN m.id IS NOT NULL
                 WHEN 'unmapped' THEN m.id IS NULL
                 ELSE EXISTS (SELECT 1 FROM firmware_compliance c WHERE c.physical_server_id = p.id
                              AND c.removed_at IS NULL AND c.status IN ('upgrade', 'downgrade')) END",
];

/// The estate's counts: per generation, per site, per compliance verdict, the unmapped
/// servers (one statement), and the ambiguous mappings.
async fn facets(db: &Database) -> Result<ServerFacets> {
    let counts = sqlx::query_as::<_, (String, String, i64)>(
        r#"
        WITH p AS (
            SELECT p.id, coalesce(e.generation::text, 'unknown') AS generation, s.code AS site,
                   EXISTS (SELECT 1 FROM server_mappings m WHERE m.physical_server_id = p.id AND m.status = 'active')
                       AS mapped
            FROM physical_servers p
            LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
            LEFT JOIN ome_instances o ON o.id = p.ome_instance_id
            LEFT JOIN entity_sites es ON es.entity_type = 'physical_server' AND es.entity_id = p.id
            LEFT JOIN sites s ON s.id = coalesce(es.site_id, e.site_id, o.site_id)
            WHERE p.removed_at IS NULL
        ), verdict AS (
            SELECT c.physical_server_id AS id, bool_or(c.status IN ('upgrade', 'downgrade')) AS behind
            FROM firmware_compliance c JOIN p ON p.id = c.physical_server_id
            WHERE c.removed_at IS NULL
            GROUP BY c.physical_server_id
        )
        SELECT 'generation' AS facet, generation AS value, count(*) AS n FROM p GROUP BY generation
        UNION ALL SELECT 'site', site, count(*) FROM p WHERE site IS NOT NULL GROUP BY site
        UNION ALL SELECT 'unmapped', '', count(*) FROM p WHERE NOT mapped
        UNION ALL SELECT 'compliance', v, n FROM (
            SELECT count(*) FILTER (WHERE NOT behind) AS compliant, count(*) FILTER (WHERE behind) AS noncompliant,
                   (SELECT count(*) FROM p) - count(*) AS no_baseline
            FROM verdict
        ) c, LATERAL (VALUES ('compliant', c.compliant), ('noncompliant', c.noncompliant),
                             ('no_baseline', c.no_baseline)) AS x(v, n)
        "#,
    )
    .fetch_all(db.pool());
    let counts = async { Ok::<_, Error>(counts.await?) };
    let ambiguous =
        mappings_where(db, "m.status = 'ambiguous' AND p.removed_at IS NULL AND $1::uuid IS NOT NULL", Uuid::nil());
    let (counts, ambiguous_mappings) = tokio::try_join!(counts, ambiguous)?;
    let mut f = ServerFacets { ambiguous_mappings, ..ServerFacets::default() };
    for (facet, value, count) in counts {
        match facet.as_str() {
            "generation" => f.generations.push(Count { value, count }),
            "site" => f.sites.push(Count { value, count }),
            "compliance" => f.compliance.push(Count { value, count }),
            _ => f.unmapped = count,
        }
    }
    f.generations.sort_by(|a, b| a.value.cmp(&b.value));
    let verdicts = ["compliant", "noncompliant", "no_baseline"];
    f.compliance.sort_by_key(|c| verdicts.iter().position(|v| *v == c.value));
    f.sites.sort_by(|a, b| a.value.cmp(&b.value));
    Ok(f)
}

/// Which server: its id, service tag, hostname, iDRAC name or ESXi host name.
#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ServerInput {
    pub server: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ServerDetail {
    pub server: ServerRow,
    /// Installed firmware per component, with the baseline's version and verdict.
    pub firmware: Vec<FirmwareRow>,
    /// Every mapping candidate (active first), with its evidence.
    pub mappings: Vec<MappingInfo>,
    /// ESXi hosts a manual mapping may choose (names).
    pub hosts: Vec<String>,
}

async fn resolve(db: &Database, server: &str) -> Result<Uuid> {
    match server.trim().parse::<Uuid>() {
        Ok(id) => Ok(id),
        Err(_) => inventory::find_server(db, server.trim()).await,
    }
}

pub async fn detail(db: &Database, server: &str) -> Result<ServerDetail> {
    let id = resolve(db, server).await?;
    let row = inventory::server(db, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no server \"{server}\" in the inventory")))?;
    let firmware = inventory::firmware(db, id).await?;
    let mappings = mappings_where(db, "m.physical_server_id = $1", id).await?;
    let hosts: Vec<String> =
        sqlx::query_scalar("SELECT name FROM esxi_hosts WHERE removed_at IS NULL ORDER BY name LIMIT 5000")
            .fetch_all(db.pool())
            .await?;
    Ok(ServerDetail { server: row, firmware, mappings, hosts })
}

// Setting a mapping by hand is an inventory operation (`crate::inventory::ops::mapping_set`);
// its input's path stays here for the command line.
pub use crate::inventory::ops::ManualMappingInput;
