//! Predicted blockers: what the synced inventory says will keep DRS from emptying the hosts
//! of a plan, judged by the rule the run-time gate uses live
//! ([`eio_connectors::vcenter::mobility`]) — so the approver sees before approving what the
//! gate would otherwise find only once the job runs.
//!
//! It owns: assembling that rule's facts from the database (each VM's `mobility`, each
//! cluster's `drs`, datastore mounts, host capacity) for hosts emptied in a given order,
//! and the per-host capacity check with the earlier hosts still out.
//!
//! Must never: contact a source, or decide anything — a prediction is information for the
//! approver; the gate still checks live.
use std::collections::{BTreeSet, HashMap};

use eio_connectors::vcenter::mobility::{
    capacity_shortfall, ClusterDemand, ClusterDrs, DatastoreReach, Evacuation, HostCapacity, Shortfall, VmMobility,
};
use eio_connectors::vcenter::BlockReason;
use uuid::Uuid;

use super::plan::{PlannedHost, PredictedBlocker};
use crate::error::Result;
use crate::Database;

/// Hosts as the capacity check reads them (a condition on `h` is appended).
const HOSTS: &str = r#"SELECT h.id, h.vcenter_id, vc.name AS vcenter, h.cluster_id, h.moid, h.name,
       coalesce(h.connection_state::text = 'connected', false) AS connected, h.in_maintenance_mode,
       h.memory_mb, (h.cpu_cores::bigint * h.cpu_mhz) AS cpu_total_mhz
FROM esxi_hosts h JOIN vcenter_instances vc ON vc.id = h.vcenter_id
WHERE h.removed_at IS NULL"#;

#[derive(sqlx::FromRow)]
struct HostRow {
    id: Uuid,
    vcenter_id: Uuid,
    vcenter: String,
    cluster_id: Option<Uuid>,
    moid: String,
    name: String,
    connected: bool,
    in_maintenance_mode: bool,
    memory_mb: Option<i64>,
    cpu_total_mhz: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ClusterRow {
    id: Uuid,
    name: String,
    drs: Option<serde_json::Value>,
    drs_enabled: Option<bool>,
    drs_behavior: Option<String>,
}

#[derive(sqlx::FromRow)]
struct VmRow {
    moid: String,
    name: String,
    host_id: Uuid,
    memory_mb: Option<i32>,
    mobility: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct DatastoreRow {
    vcenter_id: Uuid,
    moid: String,
    name: String,
    host_moids: Option<Vec<String>>,
    multiple_host_access: Option<bool>,
}

/// The blockers of emptying `hosts` in their order, and notes on what the prediction could
/// not see. With `stay_out`, hosts stay in maintenance mode once emptied (a maintenance
/// job), so each host's VMs have the earlier ones' places taken away too; otherwise each
/// host returns before the next leaves (a rolling firmware update).
pub async fn blockers(
    db: &Database,
    hosts: &[PlannedHost],
    stay_out: bool,
) -> Result<(Vec<PredictedBlocker>, Vec<String>)> {
    if hosts.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let moids: Vec<&str> = hosts.iter().map(|h| h.moid.as_str()).collect();
    let planned: Vec<HostRow> =
        sqlx::query_as(&format!("{HOSTS} AND h.moid = ANY($1)")).bind(&moids).fetch_all(db.pool()).await?;
    // The planned hosts, in the plan's order (a moid names a host within its vCenter).
    let order: Vec<&HostRow> = hosts
        .iter()
        .filter_map(|p| planned.iter().find(|r| r.moid == p.moid && p.vcenter.as_ref().is_none_or(|v| *v == r.vcenter)))
        .collect();
    let cluster_ids: Vec<Uuid> =
        order.iter().filter_map(|h| h.cluster_id).collect::<BTreeSet<_>>().into_iter().collect();
    let standalone: Vec<Uuid> = order.iter().filter(|h| h.cluster_id.is_none()).map(|h| h.id).collect();
    let vcenters: Vec<Uuid> = order.iter().map(|h| h.vcenter_id).collect::<BTreeSet<_>>().into_iter().collect();

    let clusters: Vec<ClusterRow> =
        sqlx::query_as("SELECT id, name, drs, drs_enabled, drs_behavior FROM clusters WHERE id = ANY($1)")
            .bind(&cluster_ids)
            .fetch_all(db.pool())
            .await?;
    let members: Vec<HostRow> =
        sqlx::query_as(&format!("{HOSTS} AND h.cluster_id = ANY($1)")).bind(&cluster_ids).fetch_all(db.pool()).await?;
    let vms: Vec<VmRow> = sqlx::query_as(
        r#"SELECT v.moid, v.name, v.host_id AS host_id, v.memory_mb, v.mobility
           FROM virtual_machines v JOIN esxi_hosts h ON h.id = v.host_id
           WHERE v.removed_at IS NULL AND NOT v.is_template AND v.power_state = 'powered_on'
             AND h.removed_at IS NULL AND (h.cluster_id = ANY($1) OR h.id = ANY($2))
           ORDER BY v.name, v.moid"#,
    )
    .bind(&cluster_ids)
    .bind(&standalone)
    .fetch_all(db.pool())
    .await?;
    let stores: Vec<DatastoreRow> = sqlx::query_as(
        "SELECT vcenter_id, moid, name, host_moids, multiple_host_access FROM datastores WHERE vcenter_id = ANY($1)",
    )
    .bind(&vcenters)
    .fetch_all(db.pool())
    .await?;

    let mut notes = Vec::new();
    let drs_of: HashMap<Uuid, ClusterDrs> = clusters
        .iter()
        .map(|c| {
            let drs = match c.drs.clone().map(serde_json::from_value::<ClusterDrs>) {
                Some(Ok(d)) => d,
                other => {
                    notes.push(format!(
                        "cluster {}: {}; predicted blockers use its DRS setting alone",
                        c.name,
                        if other.is_none() {
                            "its DRS rules and HA settings are not in the inventory yet (sync it to see them)"
                        } else {
                            "its stored DRS configuration is unreadable"
                        }
                    ));
                    // A cluster that didn't say reads as DRS off, as the gate reads it.
                    ClusterDrs {
                        enabled: Some(c.drs_enabled.unwrap_or(false)),
                        behavior: c.drs_behavior.clone(),
                        ..Default::default()
                    }
                }
            };
            (c.id, drs)
        })
        .collect();
    // By row, not by moid: moids repeat across vCenters.
    let mut unreadable = 0usize;
    let mobility: Vec<VmMobility> = vms
        .iter()
        .map(|v| {
            serde_json::from_value(v.mobility.clone()).unwrap_or_else(|_| {
                unreadable += 1;
                VmMobility::default()
            })
        })
        .collect();
    if unreadable > 0 {
        notes.push(format!("{unreadable} VM(s) have stored mobility facts this version can't read: not judged"));
    }
    let running = |host: Uuid| vms.iter().enumerate().filter(move |(_, v)| v.host_id == host);

    let mut out = Vec::new();
    let no_drs = ClusterDrs::default();
    for (i, host) in order.iter().enumerate() {
        let datastores: HashMap<String, DatastoreReach> = stores
            .iter()
            .filter(|d| d.vcenter_id == host.vcenter_id)
            .map(|d| {
                (
                    d.moid.clone(),
                    DatastoreReach {
                        name: d.name.clone(),
                        hosts: d.host_moids.as_ref().map(|h| h.iter().cloned().collect()),
                        multiple_host_access: d.multiple_host_access,
                    },
                )
            })
            .collect();
        // Hosts out while this one is emptied: itself, and with `stay_out` the earlier ones.
        let out_now: BTreeSet<Uuid> =
            order[..i].iter().filter(|_| stay_out).map(|h| h.id).chain(std::iter::once(host.id)).collect();
        let others: Vec<&HostRow> = members
            .iter()
            .filter(|m| host.cluster_id.is_some() && m.cluster_id == host.cluster_id)
            .filter(|m| !out_now.contains(&m.id) && m.connected && !m.in_maintenance_mode)
            .collect();
        let usable: BTreeSet<String> = others.iter().map(|m| m.moid.clone()).collect();
        let host_names: HashMap<String, String> = members
            .iter()
            .filter(|m| m.vcenter_id == host.vcenter_id)
            .map(|m| (m.moid.clone(), m.name.clone()))
            .collect();
        let drs = host.cluster_id.and_then(|c| drs_of.get(&c)).unwrap_or(&no_drs);
        let evacuation = Evacuation {
            host_name: &host.name,
            usable_hosts: &usable,
            host_names: &host_names,
            drs,
            datastores: &datastores,
        };
        let mut push = |vm: Option<&VmRow>, reason: BlockReason, sentence: String, evidence: Option<String>| {
            out.push(PredictedBlocker {
                host: host.name.clone(),
                host_moid: host.moid.clone(),
                vcenter: Some(host.vcenter.clone()),
                vm_moid: vm.map(|v| v.moid.clone()),
                vm_name: vm.map(|v| v.name.clone()),
                reason_code: reason.code().to_owned(),
                reason: sentence,
                evidence,
            });
        };
        for (i, vm) in running(host.id) {
            for f in evacuation.blockers_of(&vm.moid, &mobility[i]) {
                push(Some(vm), f.reason, f.sentence, f.evidence);
            }
        }
        // Kept in maintenance mode, the earlier hosts' VMs moved to the ones left: with none
        // left for this host's turn, they have nowhere to go either.
        if stay_out && usable.is_empty() && host.cluster_id.is_some() {
            for earlier in &order[..i] {
                for (j, vm) in running(earlier.id) {
                    for f in evacuation.blockers_of(&vm.moid, &mobility[j]) {
                        if f.reason == BlockReason::NoTargetHost {
                            push(Some(vm), f.reason, f.sentence, f.evidence);
                        }
                    }
                }
            }
        }
        if host.cluster_id.is_some() {
            // Every running VM of the cluster (this host's ones moved elsewhere, the earlier
            // hosts' ones already moved) must fit on the hosts left.
            let in_cluster: Vec<usize> = (0..vms.len())
                .filter(|&k| members.iter().any(|m| m.id == vms[k].host_id && m.cluster_id == host.cluster_id))
                .collect();
            let demand = ClusterDemand {
                memory_mb: in_cluster.iter().map(|&k| i64::from(vms[k].memory_mb.unwrap_or(0))).sum(),
                memory_reservation_mb: in_cluster.iter().filter_map(|&k| mobility[k].memory_reservation_mb).sum(),
                cpu_reservation_mhz: in_cluster.iter().filter_map(|&k| mobility[k].cpu_reservation_mhz).sum(),
            };
            let capacity: Option<Vec<HostCapacity>> = others
                .iter()
                .map(|m| Some(HostCapacity { moid: m.moid.clone(), memory_mb: m.memory_mb?, cpu_mhz: m.cpu_total_mhz }))
                .collect();
            let left: BTreeSet<&str> = others.iter().map(|m| m.name.as_str()).collect();
            let left = left.into_iter().collect::<Vec<_>>().join(", ");
            match capacity.map(|c| capacity_shortfall(&c, &demand, drs.ha.as_ref())) {
                None => notes.push(format!(
                    "with {} out: the memory of a host left is not in the inventory; capacity not judged",
                    host.name
                )),
                Some(None) => {}
                Some(Some(Shortfall::Reservations(sentence))) => push(
                    None,
                    BlockReason::InsufficientResources,
                    format!("with {} out, {sentence}", host.name),
                    Some(format!("hosts left: {left}")),
                ),
                Some(Some(Shortfall::Overcommit(sentence))) => {
                    notes.push(format!("with {} out, {sentence} (hosts left: {left})", host.name))
                }
            }
        }
    }
    Ok((out, notes))
}
