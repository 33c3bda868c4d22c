//! vCenter sync: the full inventory in one transaction per source, and a live watcher
//! applying WaitForUpdatesEx changes as they happen.
//!
//! A full sync logs in with the source's service identity, takes the bulk inventory
//! (PropertyCollector, paged), reads tags through the tagging REST API, and applies
//! datacenters → clusters → hosts → VMs with [`snapshot::apply`]: upserts, removals as
//! `removed_at`, every change in the ledger. Guest IPs and host management IPs become IP
//! observations (`vcenter_vm`, `esxi_mgmt`) with the connector's confidence; addresses a
//! carrier stopped reporting get `gone_at`. Tags that can't be read make the run `partial`
//! (the inventory still lands, keeping the tags it had).
//!
//! The watcher applies each batch of changes the same way (delta mode) and announces what
//! it changed on the `eio_inventory` channel; a lost version falls back to a full resync.
//! Site inference and the findings engine run over its changes once they have gathered for
//! `Syncer::derived_after_changes` (15 s), then `eio_inventory` says `derived`.
//! Watchers run where they are started: `eio sync --watch`, the demo, and worker pools
//! started with `--watch-vcenters` ([`watch_all`] keeps one per enabled vCenter). One
//! watches each source across all instances: the
//! `watch:vcenter:<id>` lease (table `leases`, the database's clock) decides, and the others
//! stand by until it lapses. The lease saves work, not correctness: a watcher that lost it
//! mid-batch and another that took it both apply the same changes, and the second finds
//! nothing left to change (the upsert's guard re-reads each row it would write).
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use eio_connectors::vcenter::{
    self, HostRecord, Inventory, InventoryRecord, Session, UpdateKind, VcenterConfig, VcenterError, VmRecord,
};
use eio_core::sources::SourceKind;
use eio_core::{Error, Result};
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::ledger::{Outcome, Run, RunReport};
use super::snapshot::{self, Column, EntityCounts, Mode, Staged, TableSpec};
use super::{sources, SourceRow, Syncer};

const DATACENTERS: TableSpec = TableSpec {
    table: "datacenters",
    entity: "datacenter",
    scope: "vcenter_id",
    key: "moid",
    columns: &[("name", "s.name")],
    joins: &[],
    not_diffed: &[],
    skip_unchanged: true,
};

const CLUSTERS: TableSpec = TableSpec {
    table: "clusters",
    entity: "cluster",
    scope: "vcenter_id",
    key: "moid",
    columns: &[
        ("name", "s.name"),
        ("datacenter_id", "d.id"),
        ("drs_enabled", "s.drs_enabled"),
        ("drs_behavior", "s.drs_behavior"),
        ("ha_enabled", "s.ha_enabled"),
    ],
    joins: &["LEFT JOIN datacenters d ON d.vcenter_id = $1 AND d.moid = s.datacenter_moid"],
    not_diffed: &[],
    skip_unchanged: true,
};

const HOSTS: TableSpec = TableSpec {
    table: "esxi_hosts",
    entity: "esxi_host",
    scope: "vcenter_id",
    key: "moid",
    columns: &[
        ("name", "s.name"),
        ("datacenter_id", "d.id"),
        ("cluster_id", "c.id"),
        ("hardware_uuid", "s.hardware_uuid"),
        ("vendor", "s.vendor"),
        ("model", "s.model"),
        ("serial_number", "s.serial_number"),
        ("service_tag", "s.service_tag"),
        ("esxi_version", "s.esxi_version"),
        ("esxi_build", "s.esxi_build"),
        ("connection_state", "s.connection_state::host_connection_state"),
        ("power_state", "s.power_state::host_power_state"),
        ("in_maintenance_mode", "s.in_maintenance_mode"),
        ("management_ips", "ARRAY(SELECT host(x::inet)::inet FROM jsonb_array_elements_text(s.management_ips) x)"),
        ("cpu_model", "s.cpu_model"),
        ("cpu_cores", "s.cpu_cores"),
        ("cpu_threads", "s.cpu_threads"),
        ("memory_mb", "s.memory_mb"),
        ("tags", "ARRAY(SELECT jsonb_array_elements_text(s.tags))"),
        ("custom_attributes", "s.custom_attributes"),
    ],
    joins: &[
        "LEFT JOIN datacenters d ON d.vcenter_id = $1 AND d.moid = s.datacenter_moid",
        "LEFT JOIN clusters c ON c.vcenter_id = $1 AND c.moid = s.cluster_moid",
    ],
    not_diffed: &[],
    skip_unchanged: true,
};

const VMS: TableSpec = TableSpec {
    table: "virtual_machines",
    entity: "virtual_machine",
    scope: "vcenter_id",
    key: "moid",
    columns: &[
        ("datacenter_id", "d.id"),
        ("cluster_id", "c.id"),
        ("host_id", "h.id"),
        ("uuid", "s.uuid"),
        ("instance_uuid", "s.instance_uuid"),
        ("name", "s.name"),
        ("folder_path", "s.folder_path"),
        ("vcpu", "nullif(s.vcpu, 0)"),
        ("memory_mb", "s.memory_mb"),
        ("power_state", "s.power_state::vm_power_state"),
        ("tools_status", "s.tools_status::vm_tools_status"),
        ("guest_os", "s.guest_os"),
        ("guest_hostname", "s.guest_hostname"),
        ("nics", "s.nics"),
        ("guest_ips", "s.guest_ips"),
        ("tags", "ARRAY(SELECT jsonb_array_elements_text(s.tags))"),
        ("custom_attributes", "s.custom_attributes"),
        ("notes", "s.notes"),
        ("has_snapshot", "s.has_snapshot"),
        ("snapshot_count", "s.snapshot_count"),
        ("is_template", "s.is_template"),
    ],
    joins: &[
        "LEFT JOIN datacenters d ON d.vcenter_id = $1 AND d.moid = s.datacenter_moid",
        "LEFT JOIN clusters c ON c.vcenter_id = $1 AND c.moid = s.cluster_moid",
        "LEFT JOIN esxi_hosts h ON h.vcenter_id = $1 AND h.moid = s.host_moid",
    ],
    not_diffed: &[],
    skip_unchanged: true,
};

fn enum_str<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().and_then(|v| serde_json::to_value(v).ok()).and_then(|j| j.as_str().map(str::to_owned))
}

fn text<T>(items: &[T], f: impl Fn(&T) -> Option<String>) -> Column {
    Column::Text(items.iter().map(f).collect())
}

/// A uuid as vCenter spells it, or NULL for anything that isn't one: a malformed value
/// never fails the sync. Parsed here rather than by a regex per row in SQL, which cost
/// ~5 µs a row (0.1 s of a 10k-VM resync, for two uuid columns).
fn uuids<T>(items: &[T], f: impl Fn(&T) -> Option<&str>) -> Column {
    Column::Uuid(items.iter().map(|i| f(i).and_then(parse_uuid)).collect())
}

/// 32 hex digits in the 8-4-4-4-12 groups, each hyphen between groups optional (the
/// pattern the sync has always accepted); anything else is not a uuid.
fn parse_uuid(s: &str) -> Option<Uuid> {
    let mut hex = [0u8; 32];
    let (mut n, mut hyphen_ok) = (0usize, false);
    for b in s.bytes() {
        if b == b'-' {
            if !hyphen_ok {
                return None;
            }
            hyphen_ok = false;
        } else if b.is_ascii_hexdigit() && n < 32 {
            hex[n] = b;
            n += 1;
            hyphen_ok = matches!(n, 8 | 12 | 16 | 20);
        } else {
            return None;
        }
    }
    if n != 32 {
        return None;
    }
    Uuid::try_parse_ascii(&hex).ok()
}

fn json<T>(items: &[T], f: impl Fn(&T) -> serde_json::Value) -> Column {
    Column::Json(items.iter().map(f).collect())
}

fn stage_hosts(hosts: &[&HostRecord]) -> Staged {
    Staged::new()
        .column("moid", text(hosts, |h| Some(h.moid.clone())))
        .column("name", text(hosts, |h| Some(h.name.clone())))
        .column("datacenter_moid", text(hosts, |h| h.datacenter_moid.clone()))
        .column("cluster_moid", text(hosts, |h| h.cluster_moid.clone()))
        .column("hardware_uuid", uuids(hosts, |h| h.hardware_uuid.as_deref()))
        .column("vendor", text(hosts, |h| h.vendor.clone()))
        .column("model", text(hosts, |h| h.model.clone()))
        .column("serial_number", text(hosts, |h| h.serial_number.clone()))
        .column("service_tag", text(hosts, |h| h.service_tag.clone()))
        .column("esxi_version", text(hosts, |h| h.esxi_version.clone()))
        .column("esxi_build", text(hosts, |h| h.esxi_build.clone()))
        .column("connection_state", text(hosts, |h| enum_str(&h.connection_state)))
        .column("power_state", text(hosts, |h| enum_str(&h.power_state)))
        .column("in_maintenance_mode", Column::Bool(hosts.iter().map(|h| Some(h.in_maintenance_mode)).collect()))
        .column("management_ips", json(hosts, |h| serde_json::json!(h.management_ips)))
        .column("cpu_model", text(hosts, |h| h.cpu_model.clone()))
        .column("cpu_cores", Column::Int(hosts.iter().map(|h| h.cpu_cores.map(|n| n as i32)).collect()))
        .column("cpu_threads", Column::Int(hosts.iter().map(|h| h.cpu_threads.map(|n| n as i32)).collect()))
        .column("memory_mb", Column::BigInt(hosts.iter().map(|h| h.memory_mb.map(|n| n as i64)).collect()))
        .column("tags", json(hosts, |h| serde_json::json!(h.tags)))
        .column("custom_attributes", json(hosts, |h| serde_json::json!(h.custom_attributes)))
}

fn stage_vms(vms: &[&VmRecord]) -> Staged {
    Staged::new()
        .column("moid", text(vms, |v| Some(v.moid.clone())))
        .column("datacenter_moid", text(vms, |v| v.datacenter_moid.clone()))
        .column("cluster_moid", text(vms, |v| v.cluster_moid.clone()))
        .column("host_moid", text(vms, |v| v.host_moid.clone()))
        .column("uuid", uuids(vms, |v| v.uuid.as_deref()))
        .column("instance_uuid", uuids(vms, |v| v.instance_uuid.as_deref()))
        .column("name", text(vms, |v| Some(v.name.clone())))
        .column("folder_path", text(vms, |v| v.folder_path.clone()))
        .column("vcpu", Column::Int(vms.iter().map(|v| v.vcpu.map(|n| n as i32)).collect()))
        .column("memory_mb", Column::Int(vms.iter().map(|v| v.memory_mb.map(|n| n as i32)).collect()))
        .column("power_state", text(vms, |v| enum_str(&v.power_state)))
        .column("tools_status", text(vms, |v| enum_str(&v.tools_status)))
        .column("guest_os", text(vms, |v| v.guest_os.clone()))
        .column("guest_hostname", text(vms, |v| v.guest_hostname.clone()))
        .column("nics", json(vms, |v| serde_json::json!(v.nics)))
        .column(
            "guest_ips",
            json(vms, |v| {
                serde_json::Value::Array(
                    v.guest_ips
                        .iter()
                        .map(|g| serde_json::json!({"ip": g.ip, "confidence": g.confidence, "mac": g.mac}))
                        .collect(),
                )
            }),
        )
        .column("tags", json(vms, |v| serde_json::json!(v.tags)))
        .column("custom_attributes", json(vms, |v| serde_json::json!(v.custom_attributes)))
        .column("notes", text(vms, |v| v.notes.clone()))
        .column("has_snapshot", Column::Bool(vms.iter().map(|v| Some(v.has_snapshot)).collect()))
        .column("snapshot_count", Column::Int(vms.iter().map(|v| Some(v.snapshot_count as i32)).collect()))
        .column("is_template", Column::Bool(vms.iter().map(|v| Some(v.is_template)).collect()))
}

/// Keep the last record for each moid (a source must not name an object twice).
fn dedup<'a, T>(items: impl IntoIterator<Item = &'a T>, moid: impl Fn(&T) -> &str) -> Vec<&'a T> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<&T> = Vec::new();
    for item in items {
        match seen.get(moid(item)) {
            Some(&i) => out[i] = item,
            None => {
                seen.insert(moid(item).to_owned(), out.len());
                out.push(item);
            }
        }
    }
    out
}

/// Sync every enabled vCenter (or the one named), one after another.
pub async fn sync_vcenters(syncer: &Syncer, name: Option<&str>) -> Result<Vec<RunReport>> {
    let mut reports = Vec::new();
    for source in sources(&syncer.db, SourceKind::Vcenter, name).await? {
        reports.push(full_sync(syncer, &source).await?);
    }
    if !reports.is_empty() {
        super::refresh_derived(&syncer.db).await;
    }
    Ok(reports)
}

/// The connector settings for a source: vcsim and large vCenters send a whole page of
/// 10,000 VMs (~100 MB), so the body cap is raised above the default.
pub(crate) async fn connect(syncer: &Syncer, source: &SourceRow) -> Result<std::result::Result<Session, VcenterError>> {
    let creds = syncer.credentials(source).await?;
    let url = url::Url::parse(&source.url).map_err(|e| Error::invalid(format!("bad URL {}: {e}", source.url)))?;
    let mut cfg = VcenterConfig::new(url, creds);
    cfg.page_size = syncer.vcenter_page_size;
    cfg.http = eio_connectors::http::HttpConfig {
        max_body_bytes: 512 * 1024 * 1024,
        cookies: true,
        ..syncer.http_config(source)?
    };
    let session = Session::login(&cfg).await;
    match &session {
        Ok(_) => syncer.record_use(source, Ok(())).await,
        Err(e) if e.fault().is_some_and(|f| matches!(f.kind, vcenter::FaultKind::InvalidLogin)) => {
            syncer.record_use(source, Err(&e.to_string())).await
        }
        Err(_) => {}
    }
    Ok(session)
}

/// A full sync of one vCenter. Source failures are recorded on the run (and returned in
/// its report); only database failures are `Err`.
pub async fn full_sync(syncer: &Syncer, source: &SourceRow) -> Result<RunReport> {
    let mut run = Run::start(&syncer.db, SourceKind::Vcenter, source.id, &source.name, "full", &syncer.worker).await?;
    let session = match connect(syncer, source).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return run.finish(&syncer.db, Outcome::Failed, 2, Some(e.to_string())).await,
        Err(e) => return run.finish(&syncer.db, Outcome::Failed, 0, Some(e.message)).await,
    };
    let mut inventory = match session.inventory().await {
        Ok(i) => i,
        Err(e) => {
            let calls = session.soap_calls();
            let _ = session.logout().await;
            return run.finish(&syncer.db, Outcome::Failed, calls, Some(e.to_string())).await;
        }
    };
    let tag_problem = match session.tags().await {
        Ok(tags) => {
            for vm in &mut inventory.vms {
                vm.tags = tags.get(&vm.moid).cloned().unwrap_or_default();
            }
            for host in &mut inventory.hosts {
                host.tags = tags.get(&host.moid).cloned().unwrap_or_default();
            }
            None
        }
        Err(e) => Some(format!("tags could not be read (kept as they were): {e}")),
    };
    let about = session.about().clone();
    let calls = session.soap_calls();
    let _ = session.logout().await;

    let mut tx = snapshot::begin(&syncer.db).await?;
    sqlx::query("UPDATE vcenter_instances SET instance_uuid = $2, api_version = $3, product = $4 WHERE id = $1")
        .bind(source.id)
        .bind(&about.instance_uuid)
        .bind(&about.api_version)
        .bind(&about.full_name)
        .execute(&mut *tx)
        .await?;
    if let Err(e) = store(&mut tx, source, &inventory, &mut run, tag_problem.is_some()).await {
        drop(tx);
        return run.finish(&syncer.db, Outcome::Failed, calls, Some(Error::from(e).message)).await;
    }
    tx.commit().await?;
    let mut warnings = inventory.warnings.clone();
    warnings.extend(tag_problem.clone());
    let outcome = if tag_problem.is_some() { Outcome::Partial } else { Outcome::Succeeded };
    run.finish(&syncer.db, outcome, calls, (!warnings.is_empty() && tag_problem.is_some()).then(|| warnings.join("; ")))
        .await
}

async fn store(
    tx: &mut Transaction<'_, Postgres>,
    source: &SourceRow,
    inv: &Inventory,
    run: &mut Run,
    keep_tags: bool,
) -> std::result::Result<(), sqlx::Error> {
    let dcs = dedup(&inv.datacenters, |d| &d.moid);
    let staged = Staged::new()
        .column("moid", text(&dcs, |d| Some(d.moid.clone())))
        .column("name", text(&dcs, |d| Some(d.name.clone())));
    run.record("datacenters", snapshot::apply(tx, &DATACENTERS, source.id, run.id, staged, Mode::Full).await?);

    let clusters = dedup(&inv.clusters, |c| &c.moid);
    let staged = Staged::new()
        .column("moid", text(&clusters, |c| Some(c.moid.clone())))
        .column("name", text(&clusters, |c| Some(c.name.clone())))
        .column("datacenter_moid", text(&clusters, |c| c.datacenter_moid.clone()))
        .column("drs_enabled", Column::Bool(clusters.iter().map(|c| c.drs_enabled).collect()))
        .column("drs_behavior", text(&clusters, |c| c.drs_behavior.clone()))
        .column("ha_enabled", Column::Bool(clusters.iter().map(|c| c.ha_enabled).collect()));
    run.record("clusters", snapshot::apply(tx, &CLUSTERS, source.id, run.id, staged, Mode::Full).await?);

    // When tags couldn't be read, the stored ones stay as they are.
    let skip: &[&str] = if keep_tags { &["tags"] } else { &[] };
    let hosts = dedup(&inv.hosts, |h| &h.moid);
    run.record(
        "esxi_hosts",
        snapshot::apply_skipping(tx, &HOSTS, source.id, run.id, stage_hosts(&hosts), Mode::Full, skip).await?,
    );
    let vms = dedup(&inv.vms, |v| &v.moid);
    run.record(
        "virtual_machines",
        snapshot::apply_skipping(tx, &VMS, source.id, run.id, stage_vms(&vms), Mode::Full, skip).await?,
    );

    let counts = observe(tx, source, &hosts, &vms, true).await?;
    run.record("ip_observations", counts);
    // Every live row of this vCenter was confirmed now, changed or not (the tables skip
    // rewriting unchanged rows; readers take the later of this and a row's own last_sync).
    sqlx::query("UPDATE vcenter_instances SET last_full_sync_at = now() WHERE id = $1")
        .bind(source.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Guest IPs and management IPs as observations. In a full sync, addresses the vCenter's
/// carriers no longer report are marked gone; in a delta, only those of the carriers in
/// the batch.
async fn observe(
    tx: &mut Transaction<'_, Postgres>,
    source: &SourceRow,
    hosts: &[&HostRecord],
    vms: &[&VmRecord],
    full: bool,
) -> std::result::Result<EntityCounts, sqlx::Error> {
    let (mut kind, mut moid, mut ip, mut mac, mut confidence, mut hostname) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for h in hosts {
        for addr in &h.management_ips {
            kind.push("host".to_owned());
            moid.push(h.moid.clone());
            ip.push(addr.clone());
            mac.push(None::<String>);
            confidence.push(0.95f32);
            hostname.push(Some(h.name.clone()));
        }
    }
    for v in vms {
        for g in &v.guest_ips {
            kind.push("vm".to_owned());
            moid.push(v.moid.clone());
            ip.push(g.ip.clone());
            mac.push(g.mac.clone());
            confidence.push(g.confidence);
            hostname.push(v.guest_hostname.clone());
        }
    }
    let carriers_vm: Vec<String> = vms.iter().map(|v| v.moid.clone()).collect();
    let carriers_host: Vec<String> = hosts.iter().map(|h| h.moid.clone()).collect();
    let row = sqlx::query(
        r#"
        WITH s AS (
            SELECT DISTINCT ON (kind, moid, host(ip::inet)) kind, moid, host(ip::inet)::inet AS address,
                   CASE WHEN mac ~* '^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$' THEN mac::macaddr END AS mac, confidence, hostname
            FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::float4[], $7::text[])
                 AS s(kind, moid, ip, mac, confidence, hostname)
            ORDER BY kind, moid, host(ip::inet), confidence DESC
        ),
        resolved AS (
            SELECT CASE s.kind WHEN 'vm' THEN 'vcenter_vm' ELSE 'esxi_mgmt' END::observation_source AS src,
                   CASE s.kind WHEN 'vm' THEN 'virtual_machine' ELSE 'esxi_host' END::entity_kind AS entity_type,
                   coalesce(v.id, h.id) AS entity_id, s.address, s.mac, s.confidence, s.hostname
            FROM s
            LEFT JOIN virtual_machines v ON s.kind = 'vm' AND v.vcenter_id = $1 AND v.moid = s.moid
            LEFT JOIN esxi_hosts h ON s.kind = 'host' AND h.vcenter_id = $1 AND h.moid = s.moid
        ),
        up AS (
            INSERT INTO ip_observations AS o (routing_domain_id, address, source, mac_address, confidence, entity_type, entity_id, hostname)
            SELECT $8, address, src, mac, confidence, entity_type, entity_id, hostname FROM resolved WHERE entity_id IS NOT NULL
            ON CONFLICT ON CONSTRAINT ip_observations_identity_key DO UPDATE
                SET last_seen = now(), gone_at = NULL, mac_address = EXCLUDED.mac_address,
                    confidence = EXCLUDED.confidence, hostname = EXCLUDED.hostname
            RETURNING o.id, (xmax = 0) AS inserted
        ),
        carriers AS (
            SELECT id FROM virtual_machines WHERE vcenter_id = $1 AND ($9 OR moid = ANY($10::text[]))
            UNION ALL
            SELECT id FROM esxi_hosts WHERE vcenter_id = $1 AND ($9 OR moid = ANY($11::text[]))
        ),
        gone AS (
            UPDATE ip_observations o SET gone_at = now()
            WHERE o.gone_at IS NULL AND o.source IN ('vcenter_vm', 'esxi_mgmt')
              AND o.entity_id IN (SELECT id FROM carriers)
              AND NOT EXISTS (SELECT 1 FROM up WHERE up.id = o.id)
            RETURNING o.id
        )
        SELECT (SELECT count(*) FROM up) AS seen, (SELECT count(*) FROM up WHERE inserted) AS created,
               (SELECT count(*) FROM gone) AS removed
        "#,
    )
    .bind(source.id)
    .bind(&kind)
    .bind(&moid)
    .bind(&ip)
    .bind(&mac)
    .bind(&confidence)
    .bind(&hostname)
    .bind(source.routing_domain_id)
    .bind(full)
    .bind(&carriers_vm)
    .bind(&carriers_host)
    .fetch_one(&mut **tx)
    .await?;
    Ok(EntityCounts {
        seen: row.get::<i64, _>("seen") as u64,
        created: row.get::<i64, _>("created") as u64,
        removed: row.get::<i64, _>("removed") as u64,
        ..Default::default()
    })
}

/// The right to watch one vCenter: the `leases` row `watch:vcenter:<source id>`, owned by
/// this watcher alone (the worker's name and a random suffix, so two watchers of one
/// process or two CLIs under one name are still two owners).
struct WatchLease {
    name: String,
    owner: String,
    ttl: Duration,
    renewed: Option<Instant>,
}

impl WatchLease {
    fn new(syncer: &Syncer, source: &SourceRow) -> WatchLease {
        WatchLease {
            name: format!("watch:vcenter:{}", source.id),
            owner: format!("{}/{}", syncer.worker, Uuid::new_v4()),
            ttl: syncer.watch_lease.max(Duration::from_secs(1)),
            renewed: None,
        }
    }

    /// Take the lease if it is free, lapsed or already ours; whether it is ours now.
    async fn take(&mut self, db: &eio_core::Database) -> Result<bool> {
        self.hold(
            db,
            "INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond')
             ON CONFLICT (name) DO UPDATE
                 SET owner = EXCLUDED.owner, acquired_at = now(), heartbeat_at = now(), expires_at = EXCLUDED.expires_at
                 WHERE leases.expires_at < now() OR leases.owner = EXCLUDED.owner",
        )
        .await
    }

    /// Renew the lease once a third of it has passed; whether it is still ours.
    async fn keep(&mut self, db: &eio_core::Database) -> Result<bool> {
        if self.renewed.is_some_and(|at| at.elapsed() < self.ttl / 3) {
            return Ok(true);
        }
        self.hold(
            db,
            "UPDATE leases SET heartbeat_at = now(), expires_at = now() + $3::bigint * interval '1 millisecond'
             WHERE name = $1 AND owner = $2",
        )
        .await
    }

    /// Run `sql` (over the name, the owner and the lifetime in ms); whether it wrote the row.
    async fn hold(&mut self, db: &eio_core::Database, sql: &str) -> Result<bool> {
        let held = sqlx::query(sql)
            .bind(&self.name)
            .bind(&self.owner)
            .bind(self.ttl.as_millis() as i64)
            .execute(db.pool())
            .await?
            .rows_affected()
            == 1;
        self.renewed = held.then(Instant::now);
        Ok(held)
    }

    /// Who holds the lease now (its owner), if anyone.
    async fn holder(&self, db: &eio_core::Database) -> Option<String> {
        sqlx::query_scalar("SELECT owner FROM leases WHERE name = $1")
            .bind(&self.name)
            .fetch_optional(db.pool())
            .await
            .ok()
            .flatten()
    }

    /// How long until the next renewal (or, standing by, the next look).
    fn next_look(&self) -> Duration {
        let every = self.ttl / 3;
        self.renewed.map_or(every, |at| every.saturating_sub(at.elapsed()))
    }

    /// Hand the lease back at once, so a standing-by watcher needn't wait for it to lapse.
    async fn release(&self, db: &eio_core::Database) {
        let released = sqlx::query("DELETE FROM leases WHERE name = $1 AND owner = $2")
            .bind(&self.name)
            .bind(&self.owner)
            .execute(db.pool())
            .await;
        if let Err(e) = released {
            tracing::warn!(lease = %self.name, error = %e, "could not hand the watch lease back; it lapses by itself");
        }
    }
}

/// Watch one vCenter until `stop` fires: apply every change batch as it arrives; fall back
/// to a full resync when the change stream loses its place. Returns the reports of the
/// batches that changed something. Changes applied but not yet followed by site inference
/// and findings (they gather for `derived_after_changes`) get that refresh before it
/// returns, for at most [`REFRESH_ON_STOP`].
pub async fn watch(
    syncer: &Syncer,
    source: &SourceRow,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<RunReport>> {
    let mut reports = Vec::new();
    // When site inference and findings are due over changes applied since they last ran.
    let mut derived_due: Option<Instant> = None;
    let mut lease = WatchLease::new(syncer, source);
    let mut standing_by = false;
    'session: loop {
        if *stop.borrow() {
            break 'session;
        }
        if !lease.take(&syncer.db).await? {
            if !standing_by {
                // Said at warn, the CLI's default level: whoever started this watcher sees it isn't applying.
                let holder = lease.holder(&syncer.db).await.unwrap_or_else(|| "another instance".into());
                tracing::warn!(source = %source.name, "{holder} watches this vCenter; standing by until it stops");
                standing_by = true;
            }
            tokio::select! {
                _ = tokio::time::sleep(lease.next_look()) => continue 'session,
                _ = stop.changed() => break 'session,
            }
        }
        if standing_by {
            tracing::warn!(source = %source.name, "took over watching this vCenter");
            standing_by = false;
        }
        let session = match connect(syncer, source).await? {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(source = %source.name, error = %e, "watcher cannot log in; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(10)) => continue 'session,
                    _ = stop.changed() => break 'session,
                }
            }
        };
        let mut watcher = match session.watch().await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(source = %source.name, error = %e, "cannot start the change stream");
                let _ = session.logout().await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(10)) => continue 'session,
                    _ = stop.changed() => break 'session,
                }
            }
        };
        loop {
            if !lease.keep(&syncer.db).await? {
                tracing::warn!(source = %source.name, "lost the watch lease to another instance; standing by");
                let _ = session.logout().await;
                continue 'session;
            }
            if derived_due.is_some_and(|due| Instant::now() >= due) {
                derived_due = None;
                refresh_after_changes(syncer, source).await;
            }
            // Wait for changes no longer than until that refresh or the lease's renewal is due.
            let until = derived_due.map_or(Duration::MAX, |due| due.saturating_duration_since(Instant::now()));
            let wait = until.min(lease.next_look()).as_secs().clamp(1, 30) as u32;
            let batch = tokio::select! {
                b = watcher.next(wait) => b,
                _ = stop.changed() => {
                    let _ = session.logout().await;
                    break 'session;
                }
            };
            match batch {
                Ok(None) => continue,
                Ok(Some(batch)) => {
                    if let Some(report) = apply_batch(syncer, source, batch).await? {
                        reports.push(report);
                        derived_due.get_or_insert_with(|| Instant::now() + syncer.derived_after_changes);
                    }
                }
                Err(e) if e.needs_full_resync() => {
                    tracing::info!(source = %source.name, error = %e, "change stream lost its place; full resync");
                    let _ = session.logout().await;
                    reports.push(full_sync(syncer, source).await?);
                    derived_due = None;
                    refresh_after_changes(syncer, source).await;
                    continue 'session;
                }
                Err(e) => {
                    tracing::warn!(source = %source.name, error = %e, "change stream failed; reconnecting");
                    let _ = session.logout().await;
                    continue 'session;
                }
            }
        }
    }
    if derived_due.is_some()
        && tokio::time::timeout(REFRESH_ON_STOP, refresh_after_changes(syncer, source)).await.is_err()
    {
        tracing::warn!(
            source = %source.name,
            "stopped before findings caught up with the last changes; the next sync brings them up to date"
        );
    }
    lease.release(&syncer.db).await;
    Ok(reports)
}

/// Keep one [`watch`] running per enabled vCenter source until `stop` fires: what a
/// worker pool with `watch_vcenters` runs beside its jobs. Sources added or enabled later
/// are picked up at the next look (every `rescan`); a disabled or deleted source's watcher
/// is stopped; an edited source's (a new URL or thumbprint) is stopped and started again
/// with the new row once it has ended; a watcher that ended on a database error is
/// started again at the next look. The lease keeps it to one watcher per vCenter however
/// many instances run this.
pub async fn watch_all(syncer: Syncer, mut stop: tokio::sync::watch::Receiver<bool>, rescan: Duration) {
    // Per source: the row its watcher started with, and the watcher's stop.
    let mut watchers: HashMap<Uuid, (SourceRow, tokio::sync::watch::Sender<bool>)> = HashMap::new();
    let mut tasks: tokio::task::JoinSet<(String, Result<Vec<RunReport>>)> = tokio::task::JoinSet::new();
    loop {
        while let Some(ended) = tasks.try_join_next() {
            log_watcher_end(ended);
        }
        // A watcher that ended dropped its receiver: it is started again below.
        watchers.retain(|_, (_, tx)| !tx.is_closed());
        match sources(&syncer.db, SourceKind::Vcenter, None).await {
            Ok(enabled) => {
                for (id, (row, tx)) in &watchers {
                    // Gone, disabled or edited: stop it (an edited one starts again once ended).
                    if !enabled.iter().any(|s| s == row) {
                        tracing::debug!(source = %row.name, %id, "stopping the watcher of a changed or disabled source");
                        let _ = tx.send(true);
                    }
                }
                for source in enabled {
                    if watchers.contains_key(&source.id) {
                        continue;
                    }
                    let (tx, rx) = tokio::sync::watch::channel(false);
                    watchers.insert(source.id, (source.clone(), tx));
                    let syncer = syncer.clone();
                    tasks.spawn(async move {
                        let result = watch(&syncer, &source, rx).await;
                        (source.name, result)
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list vCenter sources to watch; looking again later"),
        }
        tokio::select! {
            _ = tokio::time::sleep(rescan) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
    for (_, tx) in watchers.values() {
        let _ = tx.send(true);
    }
    while let Some(ended) = tasks.join_next().await {
        log_watcher_end(ended);
    }
}

fn log_watcher_end(ended: std::result::Result<(String, Result<Vec<RunReport>>), tokio::task::JoinError>) {
    match ended {
        Ok((_, Ok(_))) => {}
        Ok((source, Err(e))) => tracing::warn!(%source, error = %e, "vCenter watcher stopped on an error"),
        Err(e) => tracing::error!(error = %e, "vCenter watcher failed"),
    }
}

/// How long a stopping watcher spends bringing findings up to date with the changes it
/// applied last (seconds for a 10k-VM estate; a shutdown is not held up longer).
pub const REFRESH_ON_STOP: Duration = Duration::from_secs(30);

/// Site inference and findings over what a watcher applied, then an `eio_inventory`
/// notification saying so (`{"source": id, "derived": true}`), so open pages reload the
/// findings they show.
async fn refresh_after_changes(syncer: &Syncer, source: &SourceRow) {
    super::refresh_derived(&syncer.db).await;
    let notified =
        sqlx::query("SELECT pg_notify('eio_inventory', json_build_object('source', $1::text, 'derived', true)::text)")
            .bind(source.id.to_string())
            .execute(syncer.db.pool())
            .await;
    if let Err(e) = notified {
        tracing::warn!(source = %source.name, error = %e, "could not announce the refreshed findings");
    }
}

/// Apply one WaitForUpdatesEx batch as a `delta` run; announce the changed objects.
async fn apply_batch(syncer: &Syncer, source: &SourceRow, batch: vcenter::UpdateBatch) -> Result<Option<RunReport>> {
    let mut dcs = Vec::new();
    let mut clusters = Vec::new();
    let mut hosts = Vec::new();
    let mut vms = Vec::new();
    let mut left: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for change in &batch.changes {
        match (&change.kind, &change.record) {
            (UpdateKind::Leave, _) => {
                let table = match change.object_type.as_str() {
                    "VirtualMachine" => "virtual_machines",
                    "HostSystem" => "esxi_hosts",
                    "ClusterComputeResource" | "ComputeResource" => "clusters",
                    "Datacenter" => "datacenters",
                    _ => continue,
                };
                left.entry(table).or_default().push(change.moid.clone());
            }
            (_, Some(InventoryRecord::Datacenter(d))) => dcs.push(d.clone()),
            (_, Some(InventoryRecord::Cluster(c))) => clusters.push(c.clone()),
            (_, Some(InventoryRecord::Host(h))) => hosts.push(h.clone()),
            (_, Some(InventoryRecord::Vm(v))) => vms.push(v.clone()),
            (_, None) => {}
        }
    }
    if dcs.is_empty() && clusters.is_empty() && hosts.is_empty() && vms.is_empty() && left.is_empty() {
        return Ok(None);
    }
    let mut run = Run::start(&syncer.db, SourceKind::Vcenter, source.id, &source.name, "delta", &syncer.worker).await?;
    let mut tx = snapshot::begin(&syncer.db).await?;
    let removed = |t: &str| Mode::Delta { removed: left.get(t).cloned().unwrap_or_default() };
    let result: std::result::Result<(), sqlx::Error> = async {
        let staged = Staged::new()
            .column("moid", text(&dcs, |d| Some(d.moid.clone())))
            .column("name", text(&dcs, |d| Some(d.name.clone())));
        run.record("datacenters", snapshot::apply(&mut tx, &DATACENTERS, source.id, run.id, staged, removed("datacenters")).await?);
        let staged = Staged::new()
            .column("moid", text(&clusters, |c| Some(c.moid.clone())))
            .column("name", text(&clusters, |c| Some(c.name.clone())))
            .column("datacenter_moid", text(&clusters, |c| c.datacenter_moid.clone()))
            .column("drs_enabled", Column::Bool(clusters.iter().map(|c| c.drs_enabled).collect()))
            .column("drs_behavior", text(&clusters, |c| c.drs_behavior.clone()))
            .column("ha_enabled", Column::Bool(clusters.iter().map(|c| c.ha_enabled).collect()));
        run.record("clusters", snapshot::apply(&mut tx, &CLUSTERS, source.id, run.id, staged, removed("clusters")).await?);
        // Tags come from the REST API, not the change stream: keep the ones stored.
        let host_refs = dedup(&hosts, |h| &h.moid);
        run.record(
            "esxi_hosts",
            snapshot::apply_skipping(&mut tx, &HOSTS, source.id, run.id, stage_hosts(&host_refs), removed("esxi_hosts"), &["tags"])
                .await?,
        );
        let vm_refs = dedup(&vms, |v| &v.moid);
        run.record(
            "virtual_machines",
            snapshot::apply_skipping(&mut tx, &VMS, source.id, run.id, stage_vms(&vm_refs), removed("virtual_machines"), &["tags"])
                .await?,
        );
        run.record("ip_observations", observe(&mut tx, source, &host_refs, &vm_refs, false).await?);
        let moids: Vec<String> = batch.changes.iter().map(|c| c.moid.clone()).collect();
        sqlx::query("SELECT pg_notify('eio_inventory', json_build_object('source', $1::text, 'run', $2::text, 'moids', $3::text[])::text)")
            .bind(source.id.to_string())
            .bind(run.id.to_string())
            .bind(&moids[..moids.len().min(200)])
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            tx.commit().await?;
            Ok(Some(run.finish(&syncer.db, Outcome::Succeeded, 1, None).await?))
        }
        Err(e) => {
            drop(tx);
            Ok(Some(run.finish(&syncer.db, Outcome::Failed, 1, Some(Error::from(e).message)).await?))
        }
    }
}

/// Rows whose id this worker may need (tests).
pub async fn vm_id(db: &eio_core::Database, source: Uuid, moid: &str) -> Result<Option<Uuid>> {
    Ok(sqlx::query("SELECT id FROM virtual_machines WHERE vcenter_id = $1 AND moid = $2")
        .bind(source)
        .bind(moid)
        .fetch_optional(db.pool())
        .await?
        .map(|r| r.get("id")))
}

#[cfg(test)]
mod tests {
    use super::parse_uuid;
    use super::*;
    use eio_connectors::vcenter::{ClusterRecord, DatacenterRecord, VmPowerState};
    use serde_json::{json, Value};
    use sqlx::PgPool;

    fn vm(n: u32, host: &str) -> VmRecord {
        VmRecord {
            uuid: Some(format!("420c6ef6-eef0-03ff-20f2-5d2c4b4a2e{n:02}")),
            instance_uuid: None,
            moid: format!("vm-{n}"),
            name: format!("app-{n}"),
            folder_path: Some("/dc/vm".into()),
            vcpu: Some(2),
            memory_mb: Some(4096),
            power_state: Some(VmPowerState::PoweredOn),
            tools_status: None,
            guest_os: None,
            guest_hostname: None,
            nics: Vec::new(),
            guest_ips: Vec::new(),
            tags: vec!["prod".into()],
            custom_attributes: BTreeMap::new(),
            notes: None,
            has_snapshot: false,
            snapshot_count: 0,
            is_template: false,
            host_moid: Some(host.into()),
            cluster_moid: Some("domain-c1".into()),
            datacenter_moid: Some("datacenter-1".into()),
        }
    }

    fn host(moid: &str) -> HostRecord {
        HostRecord {
            moid: moid.into(),
            name: format!("{moid}.lab"),
            datacenter_moid: Some("datacenter-1".into()),
            cluster_moid: Some("domain-c1".into()),
            hardware_uuid: None,
            vendor: Some("Dell Inc.".into()),
            model: None,
            serial_number: None,
            service_tag: None,
            esxi_version: None,
            esxi_build: None,
            connection_state: None,
            power_state: None,
            in_maintenance_mode: false,
            management_ips: vec!["10.0.0.1".into()],
            cpu_model: None,
            cpu_cores: None,
            cpu_threads: None,
            memory_mb: None,
            tags: Vec::new(),
            custom_attributes: BTreeMap::new(),
        }
    }

    fn inventory(vms: Vec<VmRecord>) -> Inventory {
        Inventory {
            datacenters: vec![DatacenterRecord { moid: "datacenter-1".into(), name: "dc".into() }],
            clusters: vec![ClusterRecord {
                moid: "domain-c1".into(),
                name: "c1".into(),
                datacenter_moid: Some("datacenter-1".into()),
                drs_enabled: Some(true),
                drs_behavior: None,
                ha_enabled: None,
            }],
            hosts: vec![host("host-1"), host("host-2")],
            vms,
            ..Inventory::default()
        }
    }

    /// One full sync of `inv` through `store`; the ledger rows it wrote, as
    /// `(moid, change, diff)` sorted by moid.
    async fn store_once(
        pool: &PgPool,
        source: &SourceRow,
        inv: &Inventory,
        keep_tags: bool,
    ) -> Vec<(String, String, Value)> {
        let db = eio_core::Database::from_pool(pool.clone());
        let mut run = Run::start(&db, SourceKind::Vcenter, source.id, &source.name, "full", "test").await.unwrap();
        let mut tx = snapshot::begin(&db).await.unwrap();
        store(&mut tx, source, inv, &mut run, keep_tags).await.unwrap();
        tx.commit().await.unwrap();
        sqlx::query_as(
            "SELECT coalesce(v.moid, h.moid, '?'), c.change::text, c.diff FROM inventory_changes c
             LEFT JOIN virtual_machines v ON v.id = c.entity_id LEFT JOIN esxi_hosts h ON h.id = c.entity_id
             WHERE c.sync_run_id = $1 AND c.entity_type IN ('virtual_machine', 'esxi_host') ORDER BY 1",
        )
        .bind(run.id)
        .fetch_all(pool)
        .await
        .unwrap()
    }

    /// Every row's version and last locker: `xmin` moves when a row is rewritten, `xmax`
    /// also when it is only locked (as `ON CONFLICT DO UPDATE … WHERE` locks a row it then
    /// leaves alone).
    async fn versions(pool: &PgPool) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT moid, xmin::text || '/' || xmax::text FROM virtual_machines
             UNION ALL SELECT moid, xmin::text || '/' || xmax::text FROM esxi_hosts ORDER BY 1",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    }

    async fn host_id(pool: &PgPool, moid: &str) -> Value {
        let id: Uuid =
            sqlx::query_scalar("SELECT id FROM esxi_hosts WHERE moid = $1").bind(moid).fetch_one(pool).await.unwrap();
        json!(id)
    }

    /// The snapshot writes what changed, exactly: a VM moved to another host is one update
    /// with a `host_id` diff resolved through the join, a powered-off VM one `power_state`
    /// diff, a vanished VM a removal; everything else is left as it was, not even locked.
    #[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
    async fn a_resync_writes_exactly_what_changed_and_leaves_the_rest_untouched(pool: PgPool) {
        use eio_core::identity::{sealing::WorkerKey, service_identities};
        use eio_core::sources::{self as catalog, IdentityChoice, NewSource, TlsChoice};
        let db = eio_core::Database::from_pool(pool.clone());
        let key = WorkerKey::generate();
        service_identities::trust_worker_key(&db, &key.public_key(), "test").await.unwrap();
        let identity = IdentityChoice::New {
            name: None,
            credentials: eio_secret::Credentials::new("u", "p"),
            rotation_period_days: 90,
        };
        let new = NewSource {
            kind: SourceKind::Vcenter,
            name: "vc".into(),
            url: "https://vc.example/sdk".into(),
            identity,
            tls: TlsChoice { thumbprint: None, insecure: false },
            site: None,
            driver: None,
        };
        catalog::add(&db, &new).await.unwrap();
        let source = sources(&db, SourceKind::Vcenter, None).await.unwrap().remove(0);
        let first = inventory(vec![vm(1, "host-1"), vm(2, "host-1"), vm(3, "host-2")]);
        let created = store_once(&pool, &source, &first, false).await;
        assert_eq!(
            created.iter().map(|(m, c, _)| format!("{m} {c}")).collect::<Vec<_>>(),
            ["host-1 created", "host-2 created", "vm-1 created", "vm-2 created", "vm-3 created"]
        );
        assert!(store_once(&pool, &source, &first, false).await.is_empty(), "an unchanged resync records nothing");
        let before = versions(&pool).await;

        let moved = vm(1, "host-2");
        let mut off = vm(2, "host-1");
        off.power_state = Some(VmPowerState::PoweredOff);
        let changes = store_once(&pool, &source, &inventory(vec![moved, off]), false).await;
        let (h1, h2) = (host_id(&pool, "host-1").await, host_id(&pool, "host-2").await);
        assert_eq!(
            changes,
            [
                ("vm-1".into(), "updated".into(), json!({"host_id": [h1, h2]})),
                ("vm-2".into(), "updated".into(), json!({"power_state": ["powered_on", "powered_off"]})),
                ("vm-3".into(), "removed".into(), changes[2].2.clone()),
            ]
        );
        let after = versions(&pool).await;
        let rewritten: Vec<&str> =
            before.iter().zip(&after).filter(|(b, a)| b != a).map(|(b, _)| b.0.as_str()).collect();
        // host-2 only as the foreign-key check of vm-1's move locks it (FOR KEY SHARE).
        assert_eq!(rewritten, ["host-2", "vm-1", "vm-2", "vm-3"], "only the changed rows are written or locked");

        // Back as it was, with tags that could not be read this time: vm-3 is restored,
        // the others move back, and the tags stored stay as they were.
        let mut untagged = first.clone();
        untagged.vms.iter_mut().for_each(|v| v.tags.clear());
        let back = store_once(&pool, &source, &untagged, true).await;
        let back: Vec<String> =
            back.iter().map(|(m, c, d)| format!("{m} {c} {}", d.as_object().map_or(0, |o| o.len()))).collect();
        assert_eq!(back[..2], ["vm-1 updated 1".to_owned(), "vm-2 updated 1".to_owned()]);
        assert!(back[2].starts_with("vm-3 restored"), "{back:?}");
        let tags: Vec<Vec<String>> =
            sqlx::query_scalar("SELECT tags FROM virtual_machines ORDER BY moid").fetch_all(&pool).await.unwrap();
        assert_eq!(tags, vec![vec!["prod".to_owned()]; 3]);
    }

    #[test]
    fn uuids_are_taken_as_the_sql_pattern_took_them() {
        let u = "420c6ef6-eef0-03ff-20f2-5d2c4b4a2eb5";
        let want = Some(uuid::Uuid::parse_str(u).unwrap());
        for ok in [u, "420c6ef6eef003ff20f25d2c4b4a2eb5", "420C6EF6-EEF003FF-20f2-5d2c4b4a2eb5"] {
            assert_eq!(parse_uuid(ok), want, "{ok}");
        }
        for bad in [
            "",
            "not-a-uuid",
            "420c6ef6-eef0-03ff-20f2-5d2c4b4a2eb",
            "420c6ef6-eef0-03ff-20f2-5d2c4b4a2eb55",
            "420c6ef6--eef0-03ff-20f2-5d2c4b4a2eb5",
            "420c6-ef6eef0-03ff-20f2-5d2c4b4a2eb5",
            "-420c6ef6-eef0-03ff-20f2-5d2c4b4a2eb5",
            "420c6ef6-eef0-03ff-20f2-5d2c4b4a2eb5-",
            "{420c6ef6-eef0-03ff-20f2-5d2c4b4a2eb5}",
            " 420c6ef6-eef0-03ff-20f2-5d2c4b4a2eb5",
            "g20c6ef6-eef0-03ff-20f2-5d2c4b4a2eb5",
        ] {
            assert_eq!(parse_uuid(bad), None, "{bad:?}");
        }
    }
}
