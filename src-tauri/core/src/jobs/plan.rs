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
use ts_rs::TS;
use uuid::Uuid;

use super::{JobSpec, MaintenanceTarget, Policy, PowerAction};
use crate::error::{Error, Result};
use crate::sites::EntityKind;
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
    /// The one cluster the targets are in, if they are in one.
    #[ts(type = "string | null")]
    pub cluster_id: Option<Uuid>,
    /// The site the job is shown at: where the job's targets (its hosts, VMs or servers)
    /// are, as every page shows them — where site inference placed each (a pin wins;
    /// `entity_sites`), else its source's configured site — when that is one site for all
    /// of them; targets at several sites leave it unset, with a note naming the sites.
    ///
    /// It decides nothing. Authority (who may submit, approve or act on the job, and
    /// within which site's limits) is decided in the database by `job_scope` over the plan's
    /// material: the union of every site any opinion places any target at, and its
    /// vCenter's; `submit_job` ignores this field.
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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema, sqlx::FromRow)]
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

/// An ESXi host a maintenance or firmware job names.
#[derive(sqlx::FromRow)]
struct HostRow {
    id: Uuid,
    moid: String,
    name: String,
    cluster: Option<String>,
    in_maintenance_mode: bool,
    server: Option<String>,
    vcenter: String,
}

/// The hosts of a plan, in order, with their ids.
struct ResolvedHosts {
    ids: Vec<Uuid>,
    hosts: Vec<PlannedHost>,
}

/// Hosts named (name, short name or moid) or all hosts of a cluster, in a stable order.
async fn resolve_hosts(db: &Database, t: &MaintenanceTarget) -> Result<ResolvedHosts> {
    if t.hosts.is_empty() && t.cluster.is_none() {
        return Err(Error::invalid("name the hosts (--host) or a cluster (--cluster)"));
    }
    let rows: Vec<HostRow> = sqlx::query_as(
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
        let found = rows
            .iter()
            .any(|r| &r.moid == wanted || &r.name == wanted || r.name.split('.').next() == Some(wanted.as_str()));
        if !found {
            return Err(Error::not_found(format!("no ESXi host named {wanted} in the inventory (sync first?)")));
        }
    }
    if let Some(cluster) = &t.cluster {
        // The same cluster name in two vCenters is two clusters: never both by accident.
        let vcenters: std::collections::BTreeSet<&str> =
            rows.iter().filter(|r| r.cluster.is_some()).map(|r| r.vcenter.as_str()).collect();
        if vcenters.len() > 1 && !cluster.contains('/') {
            let list: Vec<&str> = vcenters.into_iter().collect();
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
    let mut ids = Vec::new();
    for (i, r) in rows.into_iter().enumerate() {
        let vms: Vec<VmRef> = sqlx::query_as(
            "SELECT moid, name, power_state::text AS power_state FROM virtual_machines
             WHERE host_id = $1 AND removed_at IS NULL AND NOT is_template ORDER BY name",
        )
        .bind(r.id)
        .fetch_all(db.pool())
        .await?;
        let (mut moving, mut staying) = (Vec::new(), Vec::new());
        for vm in vms {
            if vm.power_state.as_deref() == Some("powered_on") {
                moving.push(vm);
            } else {
                staying.push(vm);
            }
        }
        hosts.push(PlannedHost {
            order: i as u32 + 1,
            moid: r.moid,
            name: r.name,
            vcenter: Some(r.vcenter),
            cluster: r.cluster,
            in_maintenance_mode: r.in_maintenance_mode,
            vms_to_move: moving,
            vms_staying: staying,
            server: r.server,
        });
        ids.push(r.id);
    }
    Ok(ResolvedHosts { ids, hosts })
}

/// A cluster a plan's hosts are in.
#[derive(sqlx::FromRow)]
struct ClusterRow {
    cluster_id: Option<Uuid>,
    name: Option<String>,
    drs_enabled: Option<bool>,
    drs_behavior: Option<String>,
}

/// The one cluster the hosts are in (if one), the site they are at (see [`Plan::site_id`]),
/// and notes about DRS and about hosts at several sites.
async fn cluster_and_site(db: &Database, host_ids: &[Uuid]) -> Result<(Option<Uuid>, Option<Uuid>, Vec<String>)> {
    let rows: Vec<ClusterRow> = sqlx::query_as(
        "SELECT DISTINCT h.cluster_id, c.name, c.drs_enabled, c.drs_behavior
         FROM esxi_hosts h LEFT JOIN clusters c ON c.id = h.cluster_id
         WHERE h.id = ANY($1) AND h.removed_at IS NULL",
    )
    .bind(host_ids)
    .fetch_all(db.pool())
    .await?;
    let mut notes = Vec::new();
    for r in &rows {
        if let Some(name) = &r.name {
            if r.drs_enabled == Some(false) || r.drs_behavior.as_deref().is_some_and(|b| b != "fullyAutomated") {
                notes.push(format!(
                    "cluster {name}: DRS is {}; evacuation may stall and the job will pause and ask",
                    if r.drs_enabled == Some(false) { "off" } else { r.drs_behavior.as_deref().unwrap_or_default() }
                ));
            }
        }
    }
    let cluster = match rows.as_slice() {
        [one] => one.cluster_id,
        _ => None,
    };
    let (site, note) = target_site(db, EntityKind::EsxiHost, host_ids).await?;
    notes.extend(note);
    Ok((cluster, site, notes))
}

/// Where `ids` (hosts, VMs or servers) are, as the pages show them: placed by site
/// inference (a pin wins), else at their source's configured site. One site for all of
/// them is the plan's site; several leave it unset, with a note naming them.
async fn target_site(db: &Database, kind: EntityKind, ids: &[Uuid]) -> Result<(Option<Uuid>, Option<String>)> {
    let (targets, what) = match kind {
        EntityKind::EsxiHost => (
            "SELECT coalesce(es.site_id, vc.site_id) AS site_id FROM esxi_hosts t
             JOIN vcenter_instances vc ON vc.id = t.vcenter_id
             LEFT JOIN entity_sites es ON es.entity_type = 'esxi_host' AND es.entity_id = t.id
             WHERE t.id = ANY($1)",
            "hosts",
        ),
        EntityKind::VirtualMachine => (
            "SELECT coalesce(es.site_id, vc.site_id) AS site_id FROM virtual_machines t
             JOIN vcenter_instances vc ON vc.id = t.vcenter_id
             LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = t.id
             WHERE t.id = ANY($1)",
            "VMs",
        ),
        EntityKind::PhysicalServer => (
            "SELECT coalesce(es.site_id, e.site_id, o.site_id) AS site_id FROM physical_servers t
             LEFT JOIN idrac_endpoints e ON e.id = t.idrac_id
             LEFT JOIN ome_instances o ON o.id = t.ome_instance_id
             LEFT JOIN entity_sites es ON es.entity_type = 'physical_server' AND es.entity_id = t.id
             WHERE t.id = ANY($1)",
            "servers",
        ),
        other => return Err(Error::internal(format!("a plan's targets are hosts, VMs or servers, not {other}"))),
    };
    let sites: Vec<(Uuid, String)> =
        sqlx::query_as(&format!("SELECT s.id, s.code FROM sites s WHERE s.id IN ({targets}) ORDER BY s.code"))
            .bind(ids)
            .fetch_all(db.pool())
            .await?;
    Ok(match sites.as_slice() {
        [] => (None, None),
        [(one, _)] => (Some(*one), None),
        several => {
            let codes: Vec<&str> = several.iter().map(|(_, code)| code.as_str()).collect();
            (None, Some(format!("the {what} are at {} sites ({})", codes.len(), codes.join(", "))))
        }
    })
}

async fn maintenance(db: &Database, t: &MaintenanceTarget, policy: &Policy) -> Result<Plan> {
    let ResolvedHosts { ids, hosts } = resolve_hosts(db, t).await?;
    let (cluster_id, site_id, notes) = cluster_and_site(db, &ids).await?;
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

/// An updateable firmware component of a server.
#[derive(sqlx::FromRow)]
struct ComponentRow {
    fqdd: String,
    name: String,
    version: String,
}

async fn firmware(db: &Database, t: &super::FirmwareTarget, policy: &Policy) -> Result<Plan> {
    t.check()?;
    let target = MaintenanceTarget { hosts: t.hosts.clone(), cluster: t.cluster.clone(), exit: false };
    let ResolvedHosts { ids, hosts } = resolve_hosts(db, &target).await?;
    let (cluster_id, site_id, notes) = cluster_and_site(db, &ids).await?;
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
        let rows: Vec<ComponentRow> = sqlx::query_as(
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
            if r.version == t.version {
                plan.notes.push(format!("{} {} is already at {}: skipped", h.name, r.fqdd, t.version));
                continue;
            }
            plan.firmware.push(planned(super::baselines::Behind {
                restart: !r.fqdd.starts_with("iDRAC."),
                name: r.name,
                from: r.version,
                to: t.version.clone(),
                package: Some(t.image.clone()),
                fqdd: r.fqdd,
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

/// A VM a power job names.
#[derive(sqlx::FromRow)]
struct PowerVmRow {
    id: Uuid,
    moid: String,
    name: String,
    power_state: Option<String>,
    host: Option<String>,
    cluster_id: Option<Uuid>,
    vcenter: String,
}

/// A server a power job names, and the ESXi host it runs.
#[derive(sqlx::FromRow)]
struct PowerServerRow {
    id: Uuid,
    service_tag: Option<String>,
    idrac: Option<String>,
    host: Option<String>,
    in_maintenance_mode: Option<bool>,
}

async fn power(db: &Database, t: &super::PowerTarget, policy: &Policy) -> Result<Plan> {
    let mut plan = Plan::default();
    match t.action {
        PowerAction::Shutdown | PowerAction::PowerOff | PowerAction::Suspend => {
            if t.vms.is_empty() {
                return Err(Error::invalid("name the VMs (--vm)"));
            }
            let rows: Vec<PowerVmRow> = sqlx::query_as(
                "SELECT v.id, v.moid, v.name, v.power_state::text AS power_state, h.name AS host, v.cluster_id,
                        vc.name AS vcenter
                 FROM virtual_machines v JOIN vcenter_instances vc ON vc.id = v.vcenter_id
                 LEFT JOIN esxi_hosts h ON h.id = v.host_id
                 WHERE v.removed_at IS NULL AND (v.moid = ANY($1) OR v.name = ANY($1)) ORDER BY v.name",
            )
            .bind(&t.vms)
            .fetch_all(db.pool())
            .await?;
            for wanted in &t.vms {
                if !rows.iter().any(|r| r.moid == *wanted || r.name == *wanted) {
                    return Err(Error::not_found(format!("no VM named {wanted} in the inventory")));
                }
            }
            let verb = match t.action {
                PowerAction::Shutdown => "shut down (guest OS)",
                PowerAction::PowerOff => "power off (hard)",
                _ => "suspend",
            };
            plan.cluster_id = rows.first().and_then(|r| r.cluster_id);
            let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
            let (site_id, note) = target_site(db, EntityKind::VirtualMachine, &ids).await?;
            plan.site_id = site_id;
            plan.notes.extend(note);
            for r in rows {
                plan.vms.push(PlannedVm {
                    moid: r.moid,
                    name: r.name,
                    vcenter: Some(r.vcenter),
                    host: r.host,
                    power_state: r.power_state,
                    action: verb.into(),
                });
            }
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
            let mut ids = Vec::new();
            for s in &t.servers {
                let row: PowerServerRow = sqlx::query_as(
                    "SELECT p.id, p.service_tag, e.name AS idrac, h.name AS host, h.in_maintenance_mode
                     FROM physical_servers p LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
                     LEFT JOIN server_mappings m ON m.physical_server_id = p.id AND m.status = 'active'
                     LEFT JOIN esxi_hosts h ON h.id = m.esxi_host_id
                     WHERE p.removed_at IS NULL AND (upper(p.service_tag) = upper($1) OR e.name = $1)",
                )
                .bind(s)
                .fetch_optional(db.pool())
                .await?
                .ok_or_else(|| Error::not_found(format!("no server {s} in the inventory")))?;
                if let Some(h) = &row.host {
                    if row.in_maintenance_mode != Some(true) {
                        plan.refusals.push(format!(
                            "{s} runs ESXi host {h}, which is not in maintenance mode: put it in maintenance mode first"
                        ));
                    }
                }
                ids.push(row.id);
                plan.servers.push(PlannedServer {
                    service_tag: row.service_tag,
                    idrac: row.idrac,
                    esxi_host: row.host,
                    action: if t.action == PowerAction::Reset { "graceful restart" } else { "power cycle (hard)" }
                        .into(),
                });
            }
            let (site_id, note) = target_site(db, EntityKind::PhysicalServer, &ids).await?;
            plan.site_id = site_id;
            plan.notes.extend(note);
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
