//! The dry-run plan of a job, computed from the current inventory: the exact hosts and
//! their order, the VMs that will move or be shut down, firmware components from → to,
//! what the policy forbids, and what refuses the job outright.
//!
//! The approver approves *this* plan. Before it acts, the worker computes the plan again;
//! if its material part (hosts, order, components, power targets, what must be shut down)
//! differs from the approved one, the job goes back for approval with the new plan. VMs
//! DRS moves around between approval and execution are not material: where a VM runs
//! doesn't change what the job does.
//!
//! Every plan that empties hosts predicts, from the synced inventory, what will keep DRS
//! from doing it ([`PredictedBlocker`]): the same rule the run-time gate applies live
//! (`eio_connectors::vcenter::mobility`), on the facts the last sync stored. Which blockers
//! are predicted is not material: the gate checks live anyway, and the approver
//! acknowledges the ones shown when approving (`approve_job`, migration 0055).
//!
//! Planning only reads. It never contacts a source.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use ts_rs::TS;
use uuid::Uuid;

use super::{JobSpec, MaintenanceTarget, Policy, PowerAction};
use crate::error::{Error, Result};
use crate::Database;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct Plan {
    /// One line an approver reads first.
    pub summary: String,
    pub hosts: Vec<PlannedHost>,
    pub vms: Vec<PlannedVm>,
    pub servers: Vec<PlannedServer>,
    pub firmware: Vec<PlannedFirmware>,
    /// Things the policy won't let the job do (it pauses and asks instead).
    pub forbidden: Vec<String>,
    /// Reasons the job can't run at all; a plan with refusals is never submitted.
    pub refusals: Vec<String>,
    /// What the inventory says will keep DRS from emptying a host, per host in order:
    /// approving the plan needs an acknowledgement of these.
    #[serde(default)]
    pub blockers: Vec<PredictedBlocker>,
    /// Notes for the approver that change nothing.
    pub notes: Vec<String>,
    #[ts(type = "string | null")]
    pub cluster_id: Option<Uuid>,
    #[ts(type = "string | null")]
    pub site_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct PlannedHost {
    pub order: u32,
    pub moid: String,
    pub name: String,
    /// The vCenter that manages it (moids repeat across vCenters).
    #[serde(default)]
    pub vcenter: Option<String>,
    pub cluster: Option<String>,
    pub in_maintenance_mode: bool,
    /// Powered-on VMs DRS must move away.
    pub vms_to_move: Vec<VmRef>,
    /// VMs that stay (powered off or suspended).
    pub vms_staying: Vec<VmRef>,
    /// The physical server it runs on (for firmware), by service tag.
    pub server: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct VmRef {
    pub moid: String,
    pub name: String,
    pub power_state: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct PlannedVm {
    pub moid: String,
    pub name: String,
    /// The vCenter that manages it (moids repeat across vCenters).
    #[serde(default)]
    pub vcenter: Option<String>,
    pub host: Option<String>,
    pub power_state: Option<String>,
    /// What the job will do to it.
    pub action: String,
}

/// Something the synced inventory says will stop the job emptying a host: a VM DRS can't
/// move (its code is the run-time gate's `reason_code`), or a cluster without room for one
/// host's VMs (`insufficient_resources`, no VM).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct PredictedBlocker {
    /// The host being emptied.
    pub host: String,
    pub host_moid: String,
    /// The vCenter that manages the host (moids repeat across vCenters).
    #[serde(default)]
    pub vcenter: Option<String>,
    #[serde(default)]
    pub vm_moid: Option<String>,
    #[serde(default)]
    pub vm_name: Option<String>,
    /// A stable code (`host_device`, `local_storage`, `affinity_rule`, `insufficient_resources`, …).
    pub reason_code: String,
    /// What to tell the approver.
    pub reason: String,
    /// What it rests on: the device (label and key), datastore, rule name or figures.
    #[serde(default)]
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct PlannedServer {
    pub service_tag: Option<String>,
    pub idrac: Option<String>,
    pub esxi_host: Option<String>,
    pub action: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct PlannedFirmware {
    pub host: String,
    pub service_tag: Option<String>,
    pub idrac: Option<String>,
    pub fqdd: String,
    pub name: String,
    pub from: String,
    pub to: String,
    /// The package that installs it: a path on the workers' disk or an http(s) URL (plans
    /// made before baselines have none: the job's image).
    #[serde(default)]
    pub package: Option<String>,
    /// Installing it needs the server restarted (the host's one restart, once every such
    /// component is staged); the iDRAC's own firmware applies at once, first.
    #[serde(default = "restarts")]
    pub restart: bool,
}

fn restarts() -> bool {
    true
}

impl Plan {
    /// The part of the plan whose change means the approver must look again.
    pub fn material(&self) -> serde_json::Value {
        serde_json::json!({
            // With the vCenter (moids repeat across vCenters): the database derives the
            // job's clusters and sites from these entries (`job_scope`).
            "hosts": self.hosts.iter().map(|h| (&h.moid, h.order, &h.vcenter)).collect::<Vec<_>>(),
            "vms": self.vms.iter().map(|v| (&v.moid, &v.action, &v.vcenter)).collect::<Vec<_>>(),
            "servers": self.servers.iter().map(|s| (&s.service_tag, &s.action)).collect::<Vec<_>>(),
            // With what flashes it and whether it waits for the restart; a plan made before
            // baselines (no package) hashes as it was approved.
            "firmware": self.firmware.iter().map(|f| match &f.package {
                None if f.restart => serde_json::json!((&f.host, &f.fqdd, &f.from, &f.to)),
                _ => serde_json::json!((&f.host, &f.fqdd, &f.from, &f.to, &f.package, f.restart)),
            }).collect::<Vec<_>>(),
            "forbidden": self.forbidden,
        })
    }

    /// The material part as plans approved before migration 0050 had it (hosts and VMs
    /// without their vCenter): a job approved then and already under way resumes against it.
    pub fn material_before_vcenters(&self) -> serde_json::Value {
        let mut m = self.material();
        m["hosts"] = serde_json::json!(self.hosts.iter().map(|h| (&h.moid, h.order)).collect::<Vec<_>>());
        m["vms"] = serde_json::json!(self.vms.iter().map(|v| (&v.moid, &v.action)).collect::<Vec<_>>());
        m
    }
}

/// Compute the plan of `spec` under `policy`.
pub async fn compute(db: &Database, spec: &JobSpec, policy: &Policy) -> Result<Plan> {
    match spec {
        JobSpec::MaintenanceMode(t) => maintenance(db, t, policy).await,
        JobSpec::FirmwareUpdate(t) => firmware(db, t, policy).await,
        JobSpec::Power(t) => power(db, t, policy).await,
        JobSpec::Sync(t) => Ok(Plan {
            summary: match (&t.source, &t.kind) {
                (Some(s), _) => format!("full sync of source {s}"),
                (None, Some(k)) => format!("full sync of every {} source", k.as_str()),
                (None, None) if t.benchmark_noop => "nothing (a benchmark no-op)".into(),
                (None, None) => "full sync of every enabled source".into(),
            },
            ..Default::default()
        }),
        JobSpec::Report(t) => {
            Ok(Plan { summary: format!("run report definition {}", t.definition), ..Default::default() })
        }
    }
}

/// Hosts named (name, short name or moid) or all hosts of a cluster, in a stable order.
async fn resolve_hosts(db: &Database, t: &MaintenanceTarget) -> Result<Vec<PlannedHost>> {
    if t.hosts.is_empty() && t.cluster.is_none() {
        return Err(Error::invalid("name the hosts (--host) or a cluster (--cluster)"));
    }
    let rows = sqlx::query(
        r#"
        SELECT h.id, h.moid, h.name, c.name AS cluster, h.in_maintenance_mode,
               p.service_tag AS server, vc.name AS vcenter
        FROM esxi_hosts h
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        LEFT JOIN clusters c ON c.id = h.cluster_id
        LEFT JOIN server_mappings m ON m.esxi_host_id = h.id AND m.status = 'active'
        LEFT JOIN physical_servers p ON p.id = m.physical_server_id
        WHERE h.removed_at IS NULL
          AND (h.moid = ANY($1) OR h.name = ANY($1) OR split_part(h.name, '.', 1) = ANY($1)
               OR ($2::text IS NOT NULL AND (c.name = $2 OR vc.name || '/' || c.name = $2)))
        ORDER BY h.name
        "#,
    )
    .bind(&t.hosts)
    .bind(&t.cluster)
    .fetch_all(db.pool())
    .await?;
    for wanted in &t.hosts {
        let found = rows.iter().any(|r| {
            let (moid, name): (String, String) = (r.get("moid"), r.get("name"));
            &moid == wanted || &name == wanted || name.split('.').next() == Some(wanted.as_str())
        });
        if !found {
            return Err(Error::not_found(format!("no ESXi host named {wanted} in the inventory (sync first?)")));
        }
    }
    if let Some(cluster) = &t.cluster {
        // The same cluster name in two vCenters is two clusters: never both by accident.
        let vcenters: std::collections::BTreeSet<String> = rows
            .iter()
            .filter(|r| r.get::<Option<String>, _>("cluster").as_deref().is_some())
            .map(|r| r.get::<String, _>("vcenter"))
            .collect();
        if vcenters.len() > 1 && !cluster.contains('/') {
            let list: Vec<String> = vcenters.into_iter().collect();
            return Err(Error::invalid(format!(
                "cluster {cluster} is in several vCenters ({}): name one as VCENTER/{cluster}",
                list.join(", ")
            )));
        }
    }
    if rows.is_empty() {
        return Err(Error::not_found(format!(
            "cluster {} has no hosts in the inventory",
            t.cluster.clone().unwrap_or_default()
        )));
    }
    let mut hosts = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let host_id: Uuid = r.get("id");
        let vms = sqlx::query(
            "SELECT moid, name, power_state::text AS power_state FROM virtual_machines
             WHERE host_id = $1 AND removed_at IS NULL AND NOT is_template ORDER BY name",
        )
        .bind(host_id)
        .fetch_all(db.pool())
        .await?;
        let (mut moving, mut staying) = (Vec::new(), Vec::new());
        for v in vms {
            let vm = VmRef { moid: v.get("moid"), name: v.get("name"), power_state: v.get("power_state") };
            if vm.power_state.as_deref() == Some("powered_on") {
                moving.push(vm);
            } else {
                staying.push(vm);
            }
        }
        hosts.push(PlannedHost {
            order: i as u32 + 1,
            moid: r.get("moid"),
            name: r.get("name"),
            vcenter: r.get("vcenter"),
            cluster: r.get("cluster"),
            in_maintenance_mode: r.get("in_maintenance_mode"),
            vms_to_move: moving,
            vms_staying: staying,
            server: r.get("server"),
        });
    }
    Ok(hosts)
}

async fn cluster_and_site(db: &Database, host_moids: &[String]) -> Result<(Option<Uuid>, Option<Uuid>, Vec<String>)> {
    let rows = sqlx::query(
        "SELECT DISTINCT h.cluster_id, coalesce(vc.site_id, NULL) AS site_id, c.name, c.drs_enabled, c.drs_behavior
         FROM esxi_hosts h LEFT JOIN clusters c ON c.id = h.cluster_id JOIN vcenter_instances vc ON vc.id = h.vcenter_id
         WHERE h.moid = ANY($1) AND h.removed_at IS NULL",
    )
    .bind(host_moids)
    .fetch_all(db.pool())
    .await?;
    let mut notes = Vec::new();
    for r in &rows {
        let name: Option<String> = r.get("name");
        let drs: Option<bool> = r.get("drs_enabled");
        let behavior: Option<String> = r.get("drs_behavior");
        if let Some(name) = name {
            if drs == Some(false) || behavior.as_deref().is_some_and(|b| b != "fullyAutomated") {
                notes.push(format!(
                    "cluster {name}: DRS is {}; evacuation may stall and the job will pause and ask",
                    if drs == Some(false) { "off".to_owned() } else { behavior.unwrap_or_default() }
                ));
            }
        }
    }
    let clusters: Vec<Option<Uuid>> = rows.iter().map(|r| r.get("cluster_id")).collect();
    let cluster = match clusters.as_slice() {
        [one] => *one,
        _ => None,
    };
    let site = rows.first().and_then(|r| r.get("site_id"));
    Ok((cluster, site, notes))
}

async fn maintenance(db: &Database, t: &MaintenanceTarget, policy: &Policy) -> Result<Plan> {
    let hosts = resolve_hosts(db, t).await?;
    let moids: Vec<String> = hosts.iter().map(|h| h.moid.clone()).collect();
    let (cluster_id, site_id, notes) = cluster_and_site(db, &moids).await?;
    let mut plan = Plan { cluster_id, site_id, notes, ..Default::default() };
    if t.exit {
        plan.summary = format!("take {} host(s) out of maintenance mode", hosts.len());
        for h in &hosts {
            if !h.in_maintenance_mode {
                plan.notes.push(format!("{} is not in maintenance mode: nothing to do there", h.name));
            }
        }
    } else {
        let moving: usize = hosts.iter().map(|h| h.vms_to_move.len()).sum();
        plan.summary = format!(
            "put {} host(s) into maintenance mode one at a time; DRS moves {moving} powered-on VM(s) away",
            hosts.len()
        );
        if !policy.allow_vm_shutdown {
            plan.forbidden.push(
                "no VM will be shut down: if a VM can't be moved, the job pauses and asks (allow_vm_shutdown is false)"
                    .into(),
            );
        }
        if hosts.len() > 1 && cluster_id.is_none() {
            plan.notes.push("the hosts span several clusters: they are still done one at a time".into());
        }
        // Hosts stay in maintenance mode: each one emptied has the earlier ones out too.
        let (blockers, notes) = super::predict::blockers(db, &hosts, true).await?;
        plan.blockers = blockers;
        plan.notes.extend(notes);
    }
    plan.hosts = hosts;
    Ok(plan)
}

async fn firmware(db: &Database, t: &super::FirmwareTarget, policy: &Policy) -> Result<Plan> {
    t.check()?;
    let target = MaintenanceTarget { hosts: t.hosts.clone(), cluster: t.cluster.clone(), exit: false };
    let hosts = resolve_hosts(db, &target).await?;
    let moids: Vec<String> = hosts.iter().map(|h| h.moid.clone()).collect();
    let (cluster_id, site_id, notes) = cluster_and_site(db, &moids).await?;
    let mut plan = Plan { cluster_id, site_id, notes, ..Default::default() };
    let baseline = match &t.baseline {
        Some(name) => {
            let tags: Vec<String> = hosts.iter().filter_map(|h| h.server.clone()).collect();
            Some(super::baselines::resolve(db, name, &tags).await?)
        }
        None => None,
    };
    for h in &hosts {
        let Some(tag) = &h.server else {
            plan.refusals.push(format!("{} is not mapped to a physical server (iDRAC): map it first", h.name));
            continue;
        };
        let idrac: Option<String> = sqlx::query_scalar(
            "SELECT e.name FROM physical_servers p JOIN idrac_endpoints e ON e.id = p.idrac_id
             WHERE upper(p.service_tag) = upper($1) LIMIT 1",
        )
        .bind(tag)
        .fetch_optional(db.pool())
        .await?;
        let planned = |b: super::baselines::Behind| PlannedFirmware {
            host: h.name.clone(),
            service_tag: Some(tag.clone()),
            idrac: idrac.clone(),
            fqdd: b.fqdd,
            name: b.name,
            from: b.from,
            to: b.to,
            package: b.package,
            restart: b.restart,
        };
        if let Some(b) = &baseline {
            let (behind, notes) = b.behind(db, tag, t.packages.as_deref()).await?;
            plan.notes.extend(notes);
            if behind.is_empty() {
                plan.notes.push(format!("{} ({tag}) is compliant with {}: skipped", h.name, b.name));
                continue;
            }
            for c in behind.iter().filter(|c| c.package.is_none()) {
                plan.refusals.push(match &t.packages {
                    None => format!(
                        "{} {} {}: OME's baseline names its package within the catalog's repository: say where \
                         that is with --packages DIR|URL",
                        h.name, c.fqdd, c.to
                    ),
                    Some(_) => format!(
                        "{} {} {}: OME's report names no usable package (none, or not a path within the \
                         repository)",
                        h.name, c.fqdd, c.to
                    ),
                });
            }
            plan.firmware.extend(behind.into_iter().map(planned));
            continue;
        }
        let rows = sqlx::query(
            "SELECT f.fqdd, f.name, f.version FROM firmware_inventory f
             JOIN physical_servers p ON p.id = f.server_id
             WHERE upper(p.service_tag) = upper($1) AND f.removed_at IS NULL AND f.updateable
               AND (f.fqdd ILIKE $2 || '%' OR f.name ILIKE '%' || $2 || '%')
             ORDER BY f.fqdd",
        )
        .bind(tag)
        .bind(&t.component)
        .fetch_all(db.pool())
        .await?;
        if rows.is_empty() {
            plan.refusals
                .push(format!("{} ({tag}) reports no updateable component matching \"{}\"", h.name, t.component));
            continue;
        }
        for r in rows {
            let from: String = r.get("version");
            let fqdd: String = r.get("fqdd");
            if from == t.version {
                plan.notes.push(format!("{} {fqdd} is already at {}: skipped", h.name, t.version));
                continue;
            }
            plan.firmware.push(planned(super::baselines::Behind {
                restart: !fqdd.starts_with("iDRAC."),
                name: r.get("name"),
                from,
                to: t.version.clone(),
                package: Some(t.image.clone()),
                fqdd,
            }));
        }
    }
    if !policy.allow_vm_shutdown {
        plan.forbidden.push(
            "no VM will be shut down: if a host can't be evacuated, the job pauses and asks (allow_vm_shutdown is false)".into(),
        );
    }
    let updating: std::collections::BTreeSet<&str> = plan.firmware.iter().map(|f| f.host.as_str()).collect();
    plan.summary = match &baseline {
        Some(b) => format!(
            "bring {} host(s) to the baseline {} ({} component(s) behind), one at a time: maintenance mode, every \
             component staged, one restart, verify, exit",
            updating.len(),
            b.name,
            plan.firmware.len()
        ),
        None => format!(
            "update {} to {} on {} host(s), one at a time: maintenance mode, update, reboot, verify, exit",
            t.component,
            t.version,
            updating.len()
        ),
    };
    plan.hosts = hosts.into_iter().filter(|h| updating.contains(h.name.as_str())).collect();
    for (i, h) in plan.hosts.iter_mut().enumerate() {
        h.order = i as u32 + 1;
    }
    // Each host leaves maintenance mode before the next enters.
    let (blockers, notes) = super::predict::blockers(db, &plan.hosts, false).await?;
    plan.blockers = blockers;
    plan.notes.extend(notes);
    if plan.firmware.is_empty() && plan.refusals.is_empty() {
        plan.refusals.push(match &baseline {
            Some(b) => format!("every host is compliant with the baseline {}: nothing to do", b.name),
            None => format!("every host is already at {} {}: nothing to do", t.component, t.version),
        });
    }
    Ok(plan)
}

async fn power(db: &Database, t: &super::PowerTarget, policy: &Policy) -> Result<Plan> {
    let mut plan = Plan::default();
    match t.action {
        PowerAction::Shutdown | PowerAction::PowerOff | PowerAction::Suspend => {
            if t.vms.is_empty() {
                return Err(Error::invalid("name the VMs (--vm)"));
            }
            let rows = sqlx::query(
                "SELECT v.moid, v.name, v.power_state::text AS power_state, h.name AS host, v.cluster_id, vc.site_id,
                        vc.name AS vcenter
                 FROM virtual_machines v JOIN vcenter_instances vc ON vc.id = v.vcenter_id
                 LEFT JOIN esxi_hosts h ON h.id = v.host_id
                 WHERE v.removed_at IS NULL AND (v.moid = ANY($1) OR v.name = ANY($1)) ORDER BY v.name",
            )
            .bind(&t.vms)
            .fetch_all(db.pool())
            .await?;
            for wanted in &t.vms {
                if !rows.iter().any(|r| r.get::<String, _>("moid") == *wanted || r.get::<String, _>("name") == *wanted)
                {
                    return Err(Error::not_found(format!("no VM named {wanted} in the inventory")));
                }
            }
            let verb = match t.action {
                PowerAction::Shutdown => "shut down (guest OS)",
                PowerAction::PowerOff => "power off (hard)",
                _ => "suspend",
            };
            for r in &rows {
                plan.vms.push(PlannedVm {
                    moid: r.get("moid"),
                    name: r.get("name"),
                    vcenter: r.get("vcenter"),
                    host: r.get("host"),
                    power_state: r.get("power_state"),
                    action: verb.into(),
                });
            }
            plan.cluster_id = rows.first().and_then(|r| r.get("cluster_id"));
            plan.site_id = rows.first().and_then(|r| r.get("site_id"));
            match t.action {
                PowerAction::Shutdown if !policy.allow_vm_shutdown => plan.refusals.push(
                    "shutting VMs down needs a policy with allow_vm_shutdown: true (the default forbids it)".into(),
                ),
                PowerAction::PowerOff if !policy.allow_hard_poweroff => plan.refusals.push(
                    "a hard power-off needs a policy with allow_hard_poweroff: true (the default forbids it)".into(),
                ),
                _ => {}
            }
            let moids: Vec<String> = plan.vms.iter().map(|v| v.moid.clone()).collect();
            let outside = vms_outside_filters(db, policy, &moids).await?;
            if !outside.is_empty() {
                plan.refusals.push(format!(
                    "the policy's tag/folder filters exclude {}: refused before touching anything",
                    outside.join(", ")
                ));
            }
            if plan.vms.len() > policy.vm_limit.max(0) as usize {
                plan.refusals.push(format!(
                    "{} VMs exceed the policy's vm_limit of {}: refused before touching anything",
                    plan.vms.len(),
                    policy.vm_limit
                ));
            }
            plan.summary = format!("{verb} {} VM(s)", plan.vms.len());
        }
        PowerAction::Reset | PowerAction::PowerCycle => {
            if t.servers.is_empty() {
                return Err(Error::invalid("name the servers (--server: service tag or iDRAC name)"));
            }
            for s in &t.servers {
                let row = sqlx::query(
                    "SELECT p.service_tag, e.name AS idrac, h.name AS host, h.in_maintenance_mode
                     FROM physical_servers p LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
                     LEFT JOIN server_mappings m ON m.physical_server_id = p.id AND m.status = 'active'
                     LEFT JOIN esxi_hosts h ON h.id = m.esxi_host_id
                     WHERE p.removed_at IS NULL AND (upper(p.service_tag) = upper($1) OR e.name = $1)",
                )
                .bind(s)
                .fetch_optional(db.pool())
                .await?
                .ok_or_else(|| Error::not_found(format!("no server {s} in the inventory")))?;
                let host: Option<String> = row.get("host");
                let in_mm: Option<bool> = row.get("in_maintenance_mode");
                if let Some(h) = &host {
                    if in_mm != Some(true) {
                        plan.refusals.push(format!(
                            "{s} runs ESXi host {h}, which is not in maintenance mode: put it in maintenance mode first"
                        ));
                    }
                }
                plan.servers.push(PlannedServer {
                    service_tag: row.get("service_tag"),
                    idrac: row.get("idrac"),
                    esxi_host: host,
                    action: if t.action == PowerAction::Reset { "graceful restart" } else { "power cycle (hard)" }
                        .into(),
                });
            }
            if !policy.allow_hard_poweroff {
                plan.refusals.push("restarting or power-cycling a server needs allow_hard_poweroff: true".into());
            }
            plan.summary = format!(
                "{} {} server(s)",
                if t.action == PowerAction::Reset { "restart" } else { "power-cycle" },
                plan.servers.len()
            );
        }
    }
    Ok(plan)
}

/// The names of the VMs (by moid) the policy's filters keep the job's hands off: with
/// `tag_filters`, a VM must carry one of the tags; with `folder_filters`, it must sit in one
/// of the folders (or below). Empty filters allow every VM.
pub async fn vms_outside_filters(db: &Database, policy: &Policy, moids: &[String]) -> Result<Vec<String>> {
    if policy.tag_filters.is_empty() && policy.folder_filters.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar(
        "SELECT v.name FROM virtual_machines v
         WHERE v.moid = ANY($1) AND v.removed_at IS NULL
           AND NOT ((cardinality($2::text[]) = 0 OR v.tags && $2::text[])
                    AND (cardinality($3::text[]) = 0
                         OR EXISTS (SELECT 1 FROM unnest($3::text[]) f
                                    WHERE v.folder_path = f OR v.folder_path LIKE f || '/%')))
         ORDER BY v.name",
    )
    .bind(moids)
    .bind(&policy.tag_filters)
    .bind(&policy.folder_filters)
    .fetch_all(db.pool())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A firmware entry stored before baselines (no package, no restart) is read as staged
    /// for the restart, and hashes as it was approved: a job under way across the upgrade
    /// resumes. A new entry binds its package and whether it waits for the restart.
    #[test]
    fn a_plan_stored_before_baselines_hashes_as_approved() {
        let stored: Plan = serde_json::from_value(serde_json::json!({
            "summary": "update BIOS", "cluster_id": null, "site_id": null,
            "hosts": [], "vms": [], "servers": [], "forbidden": [], "refusals": [], "notes": [],
            "firmware": [{"host": "esx-1", "service_tag": "T1", "idrac": "bmc-1", "fqdd": "BIOS.Setup.1-1",
                          "name": "BIOS", "from": "2.1", "to": "2.2"}]
        }))
        .unwrap();
        assert!(stored.firmware[0].restart);
        assert_eq!(stored.material()["firmware"], serde_json::json!([["esx-1", "BIOS.Setup.1-1", "2.1", "2.2"]]));
        let mut now = stored.clone();
        now.firmware[0].package = Some("/srv/dups/BIOS.EXE".into());
        assert_eq!(
            now.material()["firmware"],
            serde_json::json!([["esx-1", "BIOS.Setup.1-1", "2.1", "2.2", "/srv/dups/BIOS.EXE", true]])
        );
        now.firmware[0].restart = false;
        assert_ne!(now.material(), stored.material());
    }
}
