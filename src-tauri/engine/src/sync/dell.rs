//! Dell fleet sync: every iDRAC endpoint (probed, then inventoried through its driver) and
//! every OpenManage Enterprise instance (devices, firmware baselines and compliance).
//!
//! Endpoints sync concurrently, at most [`Syncer::per_site_concurrency`] per site and
//! [`Syncer::total_concurrency`] in all; each has its own timeouts and retries passing
//! failures with backoff. Each endpoint's result lands in one transaction: its physical
//! server, its firmware (vanished components marked removed), its management address as an
//! IP observation (`idrac_mgmt`), all changes in the ledger. A failing endpoint records its
//! error and changes nothing; the others carry on. Afterwards the server ↔ ESXi host
//! mappings are recomputed.
//!
//! Servers OME knows fill the gaps for iDRACs EIO can't reach: an OME device becomes a
//! physical server unless an iDRAC already reports the same service tag.
use std::collections::HashMap;
use std::sync::Arc;

use eio_connectors::idrac::{self, DriverKind, EndpointProbe, IdracEndpoint, ServerInventory, SyncOptions};
use eio_connectors::ome::OmeClient;
use eio_core::sources::SourceKind;
use eio_core::{Error, Result};
use serde_json::json;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::ledger::{Outcome, Run, RunReport};
use super::snapshot::{self, Column, EntityCounts, Mode, Staged, TableSpec};
use super::{sources, SourceRow, Syncer};

const FIRMWARE: TableSpec = TableSpec {
    table: "firmware_inventory",
    entity: "firmware_component",
    scope: "server_id",
    key: "fqdd",
    columns: &[
        ("component_id", "s.component_id"),
        ("name", "s.name"),
        ("version", "s.version"),
        ("category", "s.category"),
        ("updateable", "s.updateable"),
        ("reported_by", "s.reported_by"),
    ],
    joins: &[],
    not_diffed: &[],
    skip_unchanged: false,
};

const COMPLIANCE: TableSpec = TableSpec {
    table: "firmware_compliance",
    entity: "firmware_component",
    scope: "baseline_id",
    key: "key",
    columns: &[
        ("service_tag", "s.service_tag"),
        (
            "physical_server_id",
            "(SELECT p.id FROM physical_servers p WHERE upper(p.service_tag) = upper(s.service_tag) LIMIT 1)",
        ),
        ("component", "s.component"),
        ("fqdd", "s.fqdd"),
        ("current_version", "s.current_version"),
        ("baseline_version", "s.baseline_version"),
        ("status", "s.status::compliance_status"),
        ("criticality", "s.criticality"),
        ("reboot_required", "s.reboot_required"),
        ("package", "s.package"),
    ],
    joins: &[],
    not_diffed: &["physical_server_id"],
    skip_unchanged: false,
};

/// Sync every enabled iDRAC (or the one named), then refresh the mappings.
pub async fn sync_idracs(syncer: &Syncer, name: Option<&str>) -> Result<Vec<RunReport>> {
    let endpoints = sources(&syncer.db, SourceKind::Idrac, name).await?;
    let total = Arc::new(Semaphore::new(syncer.total_concurrency.max(1)));
    let mut per_site: HashMap<Option<Uuid>, Arc<Semaphore>> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    for endpoint in endpoints {
        let site = per_site
            .entry(endpoint.site_id)
            .or_insert_with(|| Arc::new(Semaphore::new(syncer.per_site_concurrency.max(1))))
            .clone();
        let (total, syncer) = (total.clone(), syncer.clone());
        tasks.spawn(async move {
            // Closed semaphores are impossible here (never closed); treat it as an internal error.
            let _site = site.acquire_owned().await.map_err(|e| Error::internal(e.to_string()))?;
            let _all = total.acquire_owned().await.map_err(|e| Error::internal(e.to_string()))?;
            sync_idrac(&syncer, &endpoint).await
        });
    }
    let mut reports = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(r)) => reports.push(r),
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(Error::internal(format!("an endpoint sync task failed: {e}"))),
        }
    }
    reports.sort_by(|a, b| a.source_name.cmp(&b.source_name));
    refresh_mappings(syncer).await?;
    if !reports.is_empty() {
        super::refresh_derived(&syncer.db).await;
    }
    Ok(reports)
}

/// Recompute server ↔ host mappings; returns counts by status.
pub async fn refresh_mappings(syncer: &Syncer) -> Result<serde_json::Value> {
    Ok(sqlx::query_scalar("SELECT refresh_server_mappings()").fetch_one(syncer.db.pool()).await?)
}

/// Sync one iDRAC. Errors reaching the endpoint are recorded on its run (and returned in
/// the report); only database failures are returned as `Err`.
pub async fn sync_idrac(syncer: &Syncer, source: &SourceRow) -> Result<RunReport> {
    let mut run = Run::start(&syncer.db, SourceKind::Idrac, source.id, &source.name, "full", &syncer.worker).await?;
    let creds = match syncer.credentials(source).await {
        Ok(c) => c,
        Err(e) => return run.finish(&syncer.db, Outcome::Failed, 0, Some(e.message)).await,
    };
    let url = match url::Url::parse(&source.url) {
        Ok(u) => u,
        Err(e) => {
            return run.finish(&syncer.db, Outcome::Failed, 0, Some(format!("bad URL {}: {e}", source.url))).await
        }
    };
    let mut endpoint = IdracEndpoint::new(url, creds, syncer.http_config(source)?);
    endpoint.driver_override = source.driver_override.as_deref().and_then(|d| d.parse::<DriverKind>().ok());

    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        tokio::time::sleep(syncer.retry.backoff(attempt)).await;
        let result = async {
            let probe = idrac::probe(&endpoint).await?;
            let inv = idrac::inventory(&endpoint, Some(&probe), &SyncOptions::default()).await?;
            Ok::<_, idrac::IdracError>((probe, inv))
        }
        .await;
        match result {
            Ok(ok) => break Ok(ok),
            Err(e) if attempt < syncer.retry.attempts && transient(&e) => {
                tracing::info!(endpoint = %source.name, attempt, error = %e, "retrying");
            }
            Err(e) => break Err(e),
        }
    };
    match outcome {
        Ok((probe, inv)) => {
            syncer.record_use(source, Ok(())).await;
            let calls = inv.api_calls as u64;
            if let Err(e) = store(syncer, source, &probe, &inv, &mut run).await {
                return run.finish(&syncer.db, Outcome::Failed, calls, Some(e.message)).await;
            }
            run.finish(&syncer.db, Outcome::Succeeded, calls, None).await
        }
        Err(e) => {
            let message = e.to_string();
            if e.kind() == idrac::ErrorKind::Unauthorized {
                syncer.record_use(source, Err(&message)).await;
            }
            run.finish(&syncer.db, Outcome::Failed, 0, Some(message)).await
        }
    }
}

fn transient(e: &idrac::IdracError) -> bool {
    matches!(e.kind(), idrac::ErrorKind::Timeout | idrac::ErrorKind::Connect | idrac::ErrorKind::Unavailable)
}

fn enum_str<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v).ok().and_then(|j| j.as_str().map(str::to_owned))
}

/// The server row an iDRAC's inventory was written to, and what it holds now (as JSON,
/// without its bookkeeping columns) for the change log.
#[derive(sqlx::FromRow)]
struct UpsertedServer {
    id: Uuid,
    j: serde_json::Value,
}

/// Write one endpoint's probe and inventory in a single transaction.
async fn store(
    syncer: &Syncer,
    source: &SourceRow,
    probe: &EndpointProbe,
    inv: &ServerInventory,
    run: &mut Run,
) -> Result<()> {
    let mut tx = snapshot::begin(&syncer.db).await?;
    sqlx::query(
        "UPDATE idrac_endpoints SET generation = $2::idrac_generation, firmware_version = $3, manager_model = $4,
                capabilities = $5, driver_preference = $6::idrac_driver, driver_reason = $7, tls_constraints = $8
         WHERE id = $1",
    )
    .bind(source.id)
    .bind(probe.generation.map(|g| g.as_str()))
    .bind(&probe.firmware_version)
    .bind(&probe.manager_model)
    .bind(serde_json::to_value(&probe.capabilities).unwrap_or_default())
    .bind(probe.driver_preference.as_str())
    .bind(&probe.driver_reason)
    .bind(serde_json::to_value(&inv.tls).unwrap_or_default())
    .execute(&mut *tx)
    .await?;

    // An OME-reported row with the same service tag becomes this iDRAC's server.
    if let Some(tag) = inv.service_tag.as_deref().filter(|t| !t.is_empty()) {
        sqlx::query(
            "UPDATE physical_servers SET idrac_id = $1
             WHERE upper(service_tag) = upper($2) AND idrac_id IS NULL
               AND NOT EXISTS (SELECT 1 FROM physical_servers WHERE idrac_id = $1)",
        )
        .bind(source.id)
        .bind(tag)
        .execute(&mut *tx)
        .await?;
    }
    let before: Option<serde_json::Value> = sqlx::query_scalar(
        "SELECT to_jsonb(p) - ARRAY['id', 'first_seen', 'last_sync', 'removed_at'] FROM physical_servers p WHERE idrac_id = $1",
    )
    .bind(source.id)
    .fetch_optional(&mut *tx)
    .await?;
    let row = sqlx::query_as::<_, UpsertedServer>(
        "INSERT INTO physical_servers AS p (idrac_id, service_tag, system_uuid, manufacturer, model, bios_version, power_state,
                                            health, cpu_model, cpu_count, memory_gib, hostname, idrac_firmware, idrac_mac, idrac_ip)
         VALUES ($1, $2, $3, $4, $5, $6, $7::server_power_state, $8::health_state, $9, $10, $11, $12, $13, $14::macaddr, $15::inet)
         ON CONFLICT ON CONSTRAINT physical_servers_idrac_id_key DO UPDATE SET
             service_tag = EXCLUDED.service_tag, system_uuid = EXCLUDED.system_uuid, manufacturer = EXCLUDED.manufacturer,
             model = EXCLUDED.model, bios_version = EXCLUDED.bios_version, power_state = EXCLUDED.power_state,
             health = EXCLUDED.health, cpu_model = EXCLUDED.cpu_model, cpu_count = EXCLUDED.cpu_count,
             memory_gib = EXCLUDED.memory_gib, hostname = EXCLUDED.hostname, idrac_firmware = EXCLUDED.idrac_firmware,
             idrac_mac = EXCLUDED.idrac_mac, idrac_ip = EXCLUDED.idrac_ip, removed_at = NULL, last_sync = now()
         RETURNING p.id, to_jsonb(p) - ARRAY['id', 'first_seen', 'last_sync', 'removed_at'] AS j",
    )
    .bind(source.id)
    .bind(&inv.service_tag)
    .bind(inv.system_uuid)
    .bind(&inv.manufacturer)
    .bind(&inv.model)
    .bind(&inv.bios_version)
    .bind(enum_str(&inv.power_state).unwrap_or_else(|| "unknown".into()))
    .bind(enum_str(&inv.health).unwrap_or_else(|| "unknown".into()))
    .bind(&inv.cpu_model)
    .bind(inv.cpu_count.map(|n| n as i32))
    .bind(inv.memory_gib.map(|n| n as i32))
    .bind(&inv.hostname)
    .bind(&inv.manager.firmware_version)
    .bind(&inv.manager.mac)
    .bind(&inv.manager.ip)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        let err = Error::from(e);
        if err.message.contains("physical_servers_service_tag_key") {
            Error::conflict(format!(
                "{} reports service tag {}, which another iDRAC already reports: two sources claim one chassis",
                source.name,
                inv.service_tag.as_deref().unwrap_or("?")
            ))
        } else {
            err
        }
    })?;
    let UpsertedServer { id: server_id, j: after } = row;
    let mut server_counts = EntityCounts { seen: 1, ..Default::default() };
    let change = match &before {
        None => Some(("created", after.clone())),
        Some(b) => {
            let diff = json_diff(b, &after);
            (!diff.as_object().is_some_and(|m| m.is_empty())).then_some(("updated", diff))
        }
    };
    if let Some((kind, diff)) = change {
        if kind == "created" {
            server_counts.created = 1;
        } else {
            server_counts.updated = 1;
        }
        sqlx::query(
            "INSERT INTO inventory_changes (sync_run_id, entity_type, entity_id, change, diff)
             VALUES ($1, 'physical_server', $2, $3::change_kind, $4)",
        )
        .bind(run.id)
        .bind(server_id)
        .bind(kind)
        .bind(diff)
        .execute(&mut *tx)
        .await?;
    }
    run.record("physical_servers", server_counts);

    // Firmware: the whole list, deduplicated by FQDD (the last report wins).
    let mut by_fqdd: Vec<&idrac::FirmwareComponent> = Vec::new();
    for c in &inv.firmware {
        by_fqdd.retain(|x| x.fqdd != c.fqdd);
        by_fqdd.push(c);
    }
    let driver = inv.driver_used.as_str().to_owned();
    let staged = Staged::new()
        .column("fqdd", Column::Text(by_fqdd.iter().map(|c| Some(c.fqdd.clone())).collect()))
        .column("component_id", Column::Text(by_fqdd.iter().map(|c| c.component_id.clone()).collect()))
        .column("name", Column::Text(by_fqdd.iter().map(|c| Some(c.name.clone())).collect()))
        .column("version", Column::Text(by_fqdd.iter().map(|c| Some(c.version.clone())).collect()))
        .column("category", Column::Text(by_fqdd.iter().map(|c| c.category.clone()).collect()))
        .column("updateable", Column::Bool(by_fqdd.iter().map(|c| Some(c.updateable)).collect()))
        .column("reported_by", Column::Text(by_fqdd.iter().map(|_| Some(driver.clone())).collect()));
    let counts = snapshot::apply(&mut tx, &FIRMWARE, server_id, run.id, staged, Mode::Full).await?;
    run.record("firmware_inventory", counts);

    // The iDRAC's management address as an observation.
    sqlx::query(
        "UPDATE ip_observations SET gone_at = now()
         WHERE entity_type = 'physical_server' AND entity_id = $1 AND source = 'idrac_mgmt' AND gone_at IS NULL
           AND ($2::inet IS NULL OR address <> $2::inet)",
    )
    .bind(server_id)
    .bind(&inv.manager.ip)
    .execute(&mut *tx)
    .await?;
    if let Some(ip) = &inv.manager.ip {
        sqlx::query(
            "INSERT INTO ip_observations (routing_domain_id, address, source, mac_address, confidence, entity_type, entity_id, hostname)
             VALUES ($1, host($2::inet)::inet, 'idrac_mgmt', $3::macaddr, 0.95, 'physical_server', $4, $5)
             ON CONFLICT ON CONSTRAINT ip_observations_identity_key DO UPDATE
                 SET last_seen = now(), gone_at = NULL, mac_address = EXCLUDED.mac_address, hostname = EXCLUDED.hostname",
        )
        .bind(source.routing_domain_id)
        .bind(ip)
        .bind(&inv.manager.mac)
        .bind(server_id)
        .bind(&inv.hostname)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `{field: [old, new]}` for the fields that differ.
fn json_diff(before: &serde_json::Value, after: &serde_json::Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (k, new) in a {
            let old = b.get(k).unwrap_or(&serde_json::Value::Null);
            if old != new {
                out.insert(k.clone(), json!([old, new]));
            }
        }
    }
    serde_json::Value::Object(out)
}

/// Sync every enabled OME instance (or the one named): devices fill servers no iDRAC
/// reports, baselines and compliance are stored per baseline.
pub async fn sync_omes(syncer: &Syncer, name: Option<&str>) -> Result<Vec<RunReport>> {
    let mut reports = Vec::new();
    for source in sources(&syncer.db, SourceKind::Ome, name).await? {
        reports.push(sync_ome(syncer, &source).await?);
    }
    if !reports.is_empty() {
        super::refresh_derived(&syncer.db).await;
    }
    Ok(reports)
}

pub async fn sync_ome(syncer: &Syncer, source: &SourceRow) -> Result<RunReport> {
    let mut run = Run::start(&syncer.db, SourceKind::Ome, source.id, &source.name, "full", &syncer.worker).await?;
    let creds = match syncer.credentials(source).await {
        Ok(c) => c,
        Err(e) => return run.finish(&syncer.db, Outcome::Failed, 0, Some(e.message)).await,
    };
    let fetched = async {
        let url = url::Url::parse(&source.url).map_err(|e| format!("bad URL {}: {e}", source.url))?;
        let http = eio_connectors::http::HttpClient::new(syncer.http_config(source).map_err(|e| e.message)?)
            .map_err(|e| e.to_string())?;
        let client = OmeClient::connect(&url, &creds, http).await.map_err(|e| e.to_string())?;
        let devices = client.devices().await.map_err(|e| e.to_string())?;
        let baselines = client.baselines().await.map_err(|e| e.to_string())?;
        let mut compliance = Vec::new();
        for b in &baselines {
            compliance.push((b.id, client.compliance(b.id).await.map_err(|e| e.to_string())?));
        }
        let calls = client.api_calls() as u64;
        let _ = client.logout().await;
        Ok::<_, String>((devices, baselines, compliance, calls))
    }
    .await;
    let (devices, baselines, compliance, calls) = match fetched {
        Ok(f) => f,
        Err(message) => {
            if message.contains("refused the credentials") {
                syncer.record_use(source, Err(&message)).await;
            }
            return run.finish(&syncer.db, Outcome::Failed, 0, Some(message)).await;
        }
    };
    syncer.record_use(source, Ok(())).await;

    let mut tx = snapshot::begin(&syncer.db).await?;
    // Devices: a server no iDRAC reports is known through OME.
    let mut created = 0u64;
    // A device without a service tag can't be told apart from a server an iDRAC reports.
    let devices: Vec<_> =
        devices.into_iter().filter(|d| d.service_tag.as_deref().is_some_and(|t| !t.is_empty())).collect();
    for d in &devices {
        let inserted: bool = sqlx::query_scalar(
            "INSERT INTO physical_servers AS p (ome_instance_id, ome_device_id, service_tag, model, hostname, power_state, health, idrac_ip, idrac_mac)
             VALUES ($1, $2, $3, $4, $5, $6::server_power_state, $7::health_state, $8::inet, $9::macaddr)
             ON CONFLICT ((upper(service_tag))) WHERE service_tag IS NOT NULL DO UPDATE
                 SET ome_instance_id = EXCLUDED.ome_instance_id, ome_device_id = EXCLUDED.ome_device_id,
                     model = coalesce(p.model, EXCLUDED.model), hostname = coalesce(p.hostname, EXCLUDED.hostname),
                     power_state = CASE WHEN p.idrac_id IS NULL THEN EXCLUDED.power_state ELSE p.power_state END,
                     health = CASE WHEN p.idrac_id IS NULL THEN EXCLUDED.health ELSE p.health END,
                     idrac_ip = coalesce(p.idrac_ip, EXCLUDED.idrac_ip), idrac_mac = coalesce(p.idrac_mac, EXCLUDED.idrac_mac),
                     removed_at = NULL, last_sync = now()
             RETURNING (xmax = 0) AS inserted",
        )
        .bind(source.id)
        .bind(d.ome_device_id)
        .bind(&d.service_tag)
        .bind(&d.model)
        .bind(&d.device_name)
        .bind(enum_str(&d.power_state).unwrap_or_else(|| "unknown".into()))
        .bind(enum_str(&d.health).unwrap_or_else(|| "unknown".into()))
        .bind(&d.idrac_ip)
        .bind(&d.idrac_mac)
        .fetch_one(&mut *tx)
        .await?;
        if inserted {
            created += 1;
        }
    }
    run.record("physical_servers", EntityCounts { seen: devices.len() as u64, created, ..Default::default() });

    for b in &baselines {
        let baseline_id: Uuid = sqlx::query_scalar(
            "INSERT INTO firmware_baselines (ome_instance_id, ome_baseline_id, name, description, catalog, last_run_at)
             VALUES ($1, $2, $3, $4, $5, $6::timestamptz)
             ON CONFLICT ON CONSTRAINT firmware_baselines_ome_key DO UPDATE
                 SET name = EXCLUDED.name, description = EXCLUDED.description, catalog = EXCLUDED.catalog,
                     last_run_at = EXCLUDED.last_run_at, removed_at = NULL, last_sync = now()
             RETURNING id",
        )
        .bind(source.id)
        .bind(b.id.to_string())
        .bind(&b.name)
        .bind(&b.description)
        .bind(b.catalog_id.map(|c| c.to_string()))
        .bind(b.last_run.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()))
        .fetch_one(&mut *tx)
        .await?;
        let entries = compliance.iter().find(|(id, _)| *id == b.id).map(|(_, e)| e.as_slice()).unwrap_or(&[]);
        let mut rows: Vec<(String, String, &eio_connectors::ome::ComponentCompliance)> = Vec::new();
        for e in entries {
            let tag = e.service_tag.clone().unwrap_or_else(|| format!("ome-device-{}", e.ome_device_id));
            for c in &e.components {
                let key = format!("{tag}/{}", c.fqdd.as_deref().unwrap_or(&c.name));
                rows.retain(|(k, _, _)| *k != key);
                rows.push((key, tag.clone(), c));
            }
        }
        let staged = Staged::new()
            .column("key", Column::Text(rows.iter().map(|(k, _, _)| Some(k.clone())).collect()))
            .column("service_tag", Column::Text(rows.iter().map(|(_, t, _)| Some(t.clone())).collect()))
            .column("component", Column::Text(rows.iter().map(|(_, _, c)| Some(c.name.clone())).collect()))
            .column("fqdd", Column::Text(rows.iter().map(|(_, _, c)| c.fqdd.clone()).collect()))
            .column("current_version", Column::Text(rows.iter().map(|(_, _, c)| c.current_version.clone()).collect()))
            .column("baseline_version", Column::Text(rows.iter().map(|(_, _, c)| c.baseline_version.clone()).collect()))
            .column("status", Column::Text(rows.iter().map(|(_, _, c)| Some(compliance_status(c).into())).collect()))
            .column("criticality", Column::Text(rows.iter().map(|(_, _, c)| c.criticality.clone()).collect()))
            .column("reboot_required", Column::Bool(rows.iter().map(|(_, _, c)| Some(c.reboot_required)).collect()))
            .column("package", Column::Text(rows.iter().map(|(_, _, c)| c.path.clone()).collect()));
        let counts = snapshot::apply(&mut tx, &COMPLIANCE, baseline_id, run.id, staged, Mode::Full).await?;
        run.record("firmware_compliance", counts);
    }
    tx.commit().await?;
    run.finish(&syncer.db, Outcome::Succeeded, calls, None).await
}

/// OME's per-component verdict in our words.
fn compliance_status(c: &eio_connectors::ome::ComponentCompliance) -> &'static str {
    let status = c.compliance_status.as_deref().unwrap_or("").to_ascii_uppercase();
    let action = c.update_action.as_deref().unwrap_or("").to_ascii_uppercase();
    if status == "OK" || status == "COMPLIANT" {
        "compliant"
    } else if status.contains("DOWNGRADE") || action.contains("DOWNGRADE") {
        "downgrade"
    } else if matches!(status.as_str(), "WARNING" | "CRITICAL") || action.contains("UPGRADE") {
        "upgrade"
    } else {
        "unknown"
    }
}
