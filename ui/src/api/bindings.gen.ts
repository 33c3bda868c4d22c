// Generated from the Rust operation registry (src-tauri/core/src/api.rs) by
// `cargo test -p eio-core api::`. Do not edit: change the Rust types and rerun.

/**
 * Acknowledge a finding, saying why.
 */
export type AcknowledgeInput = { id: string, note: string, };

/**
 * Everything about one address in one routing domain.
 */
export type AddressInfo = { routing_domain: string, address: string, 
/**
 * The prefixes holding it, most specific first.
 */
prefixes: Array<PrefixRef>, 
/**
 * Assignments of the address or of a block holding it.
 */
assignments: Array<Assignment>, 
/**
 * Current and past reports of it (gone ones have `gone_at`).
 */
observations: Array<LookupObservation>, };

/**
 * One address of a routing domain.
 */
export type AddressInput = { domain: string | null, address: string, };

/**
 * Plan the next free address of a prefix, or (with `length`) create its next free /length.
 */
export type AllocateInput = { domain: string | null, 
/**
 * The prefix to allocate from.
 */
prefix: string, 
/**
 * A child prefix of this length instead of one address.
 */
length: number | null, hostname: string | null, mac_address: string | null, description: string | null, 
/**
 * Hold the address back instead of planning it for use.
 */
reserve: boolean, 
/**
 * The new child prefix's VLAN.
 */
vlan_id: number | null, };

/**
 * What an allocation made: an address or a child prefix.
 */
export type Allocation = { assignment: Assignment | null, prefix: Prefix | null, };

/**
 * What crosses a process boundary (Tauri IPC, HTTP, `--json`): a code and a sentence.
 * Internal details never do; they are logged where the error is turned into this.
 */
export type ApiError = { code: ErrorCode, message: string, };

export type ApprovalItem = { job: JobSummary, plan: Plan | null, 
/**
 * The policy it would run under (none for the system's own jobs).
 */
policy: Policy | null, 
/**
 * The hash of the plan shown: sent back with the approval, which the database refuses
 * if the plan changed meanwhile.
 */
plan_hash: string | null, };

/**
 * Plan exactly this address (not the next free one).
 */
export type AssignInput = { domain: string | null, address: string, hostname: string | null, mac_address: string | null, description: string | null, 
/**
 * Hold the address back instead of planning it for use.
 */
reserve: boolean, };

/**
 * A planned (or reserved) address or block.
 */
export type Assignment = { id: string, routing_domain: string, 
/**
 * An address (10.0.0.5) or a block (10.0.0.0/28).
 */
address: string, 
/**
 * The prefix it was planned in.
 */
prefix: string | null, status: AssignmentStatus, hostname: string | null, mac_address: string | null, description: string | null, 
/**
 * Email of who planned it.
 */
created_by: string | null, created_at: string, };

/**
 * A planned assignment expects the address in use; a reserved one holds it back.
 */
export type AssignmentStatus = "planned" | "reserved";

/**
 * Changes to a planned address; a field left out stays, "" clears it.
 */
export type AssignmentUpdateInput = { domain: string | null, address: string, hostname: string | null, mac_address: string | null, description: string | null, status: AssignmentStatus | null, };

/**
 * A custom attribute (vCenter custom field) and its value.
 */
export type Attribute = { name: string, value: string, };

/**
 * The free space of a prefix.
 */
export type AvailableInput = { domain: string | null, 
/**
 * The prefix, e.g. 10.0.0.0/24.
 */
prefix: string, 
/**
 * Only blocks that hold a /length, and how many fit.
 */
length: number | null, 
/**
 * At most this many blocks.
 */
limit: number | null, };

/**
 * The free space of a prefix.
 */
export type AvailableRanges = { routing_domain: string, prefix: string, 
/**
 * Only blocks that hold a /length (and how many), when asked.
 */
length: number | null, blocks: Array<FreeBlock>, 
/**
 * Every free block (the list may stop earlier when a limit was asked).
 */
blocks_total: number, 
/**
 * Addresses in all listed-or-not free blocks.
 */
free_addresses: string, };

/**
 * A baseline as the wizard and `eio server baseline list` list it.
 */
export type Baseline = { name: string, source: BaselineSource, description: string | null, 
/**
 * Where its packages are (EIO's); OME's are in its catalog's repository.
 */
repository: string | null, 
/**
 * EIO's components (OME's are in its compliance report).
 */
components: Array<BaselineComponent>, 
/**
 * Servers with at least one component off it: behind in OME's report; for EIO's, a
 * synced version that differs (a plan says which are newer and left alone).
 */
servers_behind: number, };

/**
 * One component of a baseline defined in EIO.
 */
export type BaselineComponent = { 
/**
 * An FQDD prefix: `BIOS.Setup`, `iDRAC.Embedded`, `NIC.Integrated.1-1`.
 */
component: string, 
/**
 * The version the baseline wants.
 */
version: string, 
/**
 * The Dell Update Package: relative to the baseline's repository, or an absolute path
 * on the workers' disk or an http(s) URL.
 */
package: string, 
/**
 * Whether installing it restarts the server (not the iDRAC's own firmware).
 */
reboot_required: boolean, };

/**
 * A baseline to define in EIO, or to replace (by name).
 */
export type BaselineInput = { name: string, description: string | null, 
/**
 * A directory on the workers' disk or an http(s) URL the packages are under.
 */
repository: string | null, components: Array<BaselineComponent>, };

export type BaselineNameInput = { name: string, };

export type BaselineSource = "eio" | "ome";

/**
 * What an endpoint presents (see `eio_connectors::probe`).
 */
export type Certificate = { endpoint: string, subject: string, issuer: string, not_before: string, not_after: string, names: Array<string>, key: string, 
/**
 * SHA-256, `AB:CD:…`: what pinning stores.
 */
sha256: string, self_signed: boolean, trusted_by_system: boolean, system_trust_error: string | null, 
/**
 * Set when EIO refuses it whatever the trust setting, with why (a weak key).
 */
refused: string | null, };

/**
 * An operator's answer to a paused job.
 */
export type Choice = "cancel" | "retry" | "shutdown" | "suspend";

/**
 * A firmware component against its baseline.
 */
export type ComplianceStatus = "compliant" | "upgrade" | "downgrade" | "unknown";

/**
 * How many disruptive jobs may run at once in one cluster or site (`name` None: every
 * cluster or site without a limit of its own).
 */
export type ConcurrencyLimit = { scope: LimitScope, 
/**
 * A site code or a cluster name; None for the default.
 */
name: string | null, max_running: number, 
/**
 * For a cluster: its vCenter (cluster names repeat across vCenters).
 */
vcenter: string | null, };

export type ConnectionMode = "embedded" | "shared";

export type ConnectionSettings = { mode: ConnectionMode, host: string, port: number, database: string, username: string, 
/**
 * The PostgreSQL `sslmode` chosen for this address; none: `verify-full` for a remote
 * host, TLS-when-offered on this machine. Kept across sign-ins.
 */
sslmode: string | null, 
/**
 * A CA file to verify the server's certificate with (else the system's roots).
 */
sslrootcert: string | null, 
/**
 * How the connection is protected, in words (shown in Settings; ignored on input).
 */
tls: string, };

/**
 * Where the desktop stands: connected or not, to what, and why not.
 */
export type ConnectionState = { connected: boolean, settings: ConnectionSettings, password_remembered: boolean, error: ApiError | null, warnings: Array<string>, };

export type ConnectionStatus = { mode: DatabaseMode, 
/**
 * The redacted URL, or the embedded cluster's folder.
 */
target: string, database: string, server_version: string, 
/**
 * How the connection is protected: the TLS policy in force, and whether this very
 * connection is encrypted.
 */
encryption: string, 
/**
 * The PostgreSQL login this session runs as.
 */
login: string, superuser: boolean, 
/**
 * EIO group roles the login belongs to (eio_viewer, eio_operator, ...).
 */
roles: Array<string>, 
/**
 * The EIO user the login is mapped to, if any.
 */
user: UserSummary | null, };

/**
 * A value and how many objects have it (a facet of a filter, a count per severity).
 */
export type Count = { value: string, count: number, };

export type Country = { id: string, 
/**
 * ISO 3166 alpha-2 code.
 */
iso_code: string, name: string, region: string, sites: number, };

export type CountryAddInput = { 
/**
 * ISO 3166 alpha-2 (DE, US).
 */
iso_code: string, 
/**
 * The region's code.
 */
region: string, name: string, };

export type DashboardPage = { totals: InventoryTotals, 
/**
 * Inventory per site: each object where site inference placed it (else its source's
 * site; `site` None: neither says).
 */
sites: Array<SiteCounts>, 
/**
 * Every source when there are at most [`SOURCES_SHOWN`]; beyond that, those that need a
 * look (failed, partial, never synced, running, disabled), up to that many.
 */
sources: Array<SourceHealth>, 
/**
 * Sources left out of `sources` (most synced without error; Settings → Sources lists all).
 */
sources_hidden: number, 
/**
 * Open IPAM findings per severity (error, warning, info), zeros included.
 */
findings: Array<Count>, 
/**
 * Jobs per status, every status included.
 */
job_counts: Array<Count>, 
/**
 * Running and paused jobs, newest first.
 */
active_jobs: Array<JobSummary>, 
/**
 * Jobs awaiting approval, newest first.
 */
approvals: Array<JobSummary>, kill_switch: KillSwitch, 
/**
 * Worker processes that announced themselves and haven't stopped.
 */
workers: Array<WorkerInstance>, 
/**
 * Sources whose last sync failed, grouped by why (empty: none failed).
 */
sync_failures: Array<SyncFailureGroup>, 
/**
 * Things to act on, in plain words.
 */
warnings: Array<string>, };

export type DatabaseMode = "embedded" | "external";

/**
 * What a person decided about a paused job (`jobs.decision`, written by `decide_job`).
 */
export type Decision = { choice: Choice, 
/**
 * The VMs a shutdown or suspend applies to (moids).
 */
vms: Array<string>, 
/**
 * Who decided (their email).
 */
by: string | null, at: string, comment: string | null, };

/**
 * A new routing domain (VRF): the same prefix may exist once in each.
 */
export type DomainAddInput = { name: string, description: string | null, };

/**
 * One routing domain and its prefixes in tree order (parents first; `depth` says how
 * far to indent, `parent_id` which row holds it).
 */
export type DomainTree = { domain: RoutingDomain, prefixes: Array<Prefix>, };

/**
 * The answer to a change that returns nothing else.
 */
export type Done = { 
/**
 * One sentence saying what was done.
 */
message: string, };

export type EmailInput = { email: string, };

/**
 * A VM, host, server or observed address.
 */
export type EntityInput = { 
/**
 * vm, host, server or ip (or the full kind name).
 */
kind: string, id: string, };

/**
 * The kinds of thing the ledger, inferences and observations point at.
 */
export type EntityKind = "vcenter_instance" | "datacenter" | "cluster" | "esxi_host" | "virtual_machine" | "idrac_endpoint" | "physical_server" | "firmware_component" | "ome_instance" | "ip_observation" | "server_mapping";

/**
 * What kind of failure this is, for a UI or script to act on.
 */
export type ErrorCode = "forbidden" | "not_found" | "conflict" | "invalid_input" | "unavailable" | "schema_outdated" | "embedded_postgres" | "config" | "internal";

/**
 * How much a timeline entry matters.
 */
export type EventLevel = "debug" | "info" | "warning" | "error";

/**
 * Where an execution stands (`report_status` in the database).
 */
export type ExecutionStatus = "pending" | "generating" | "completed" | "failed";

/**
 * The system a service identity logs in to.
 */
export type ExternalSystem = "vcenter" | "idrac" | "ome" | "other";

/**
 * One finding, open or resolved.
 */
export type Finding = { id: string, type: FindingType, severity: Severity, 
/**
 * Stable identity of the condition: a finding that returns reopens this row.
 */
subject_key: string, routing_domain: string | null, 
/**
 * The prefix a prefix finding is about.
 */
prefix: string | null, address: string | null, message: string, 
/**
 * Who carries the address, which MACs, which prefix, the numbers behind a threshold.
 */
details: Record<string, unknown>, first_seen_at: string, last_seen_at: string, resolved_at: string | null, reopened_count: number, acknowledged_at: string | null, 
/**
 * Email of who acknowledged it.
 */
acknowledged_by: string | null, acknowledge_note: string | null, };

/**
 * One run of the engine.
 */
export type FindingRun = { id: number, started_at: string, finished_at: string, duration_ms: number, 
/**
 * The login that ran it.
 */
run_by: string, 
/**
 * Findings raised for the first time.
 */
opened: number, 
/**
 * Resolved findings whose condition returned.
 */
reopened: number, 
/**
 * Findings whose condition cleared.
 */
resolved: number, open_total: number, open_by_type: { [key in string]: number }, };

/**
 * When the findings engine last ran and what it did.
 */
export type FindingRunSummary = { finished_at: string, duration_ms: number, run_by: string, opened: number, resolved: number, };

/**
 * What is wrong.
 */
export type FindingType = "duplicate_usage" | "seen_not_planned" | "planned_not_seen" | "outside_any_prefix" | "mac_conflict" | "prefix_over_threshold" | "credential_rotation_due";

/**
 * Which findings a listing shows.
 */
export type FindingsInput = { 
/**
 * Resolved ones too.
 */
include_resolved: boolean, 
/**
 * Only these types, comma-separated (duplicate_usage,seen_not_planned); none: all.
 */
types: string | null, limit: number | null, 
/**
 * Only the findings at this site (its code): of its prefixes, and of addresses seen
 * in use where inference placed what carries them.
 */
site: string | null, };

export type FirmwareRow = { fqdd: string, component_id: string | null, name: string, version: string, category: string | null, updateable: boolean, reported_by: string, 
/**
 * What the OME baseline wants, and the verdict.
 */
baseline_version: string | null, compliance: ComplianceStatus | null, criticality: string | null, };

export type FirmwareTarget = { hosts: Array<string>, cluster: string | null, 
/**
 * One component: an FQDD prefix (`BIOS.Setup`, `NIC.Integrated`) or a name fragment.
 * Empty with `baseline`.
 */
component: string, 
/**
 * The version the update installs (one component).
 */
version: string, 
/**
 * The Dell Update Package on the worker's disk, or an http(s) URL (one component).
 */
image: string, 
/**
 * Bring every component to this baseline instead (OME's or one defined in EIO; `""`:
 * the one baseline that covers these hosts' servers). Each host is then updated once:
 * every component behind staged together, one restart.
 */
baseline: string | null, 
/**
 * Where the baseline's packages are, overriding its repository: a directory on the
 * workers' disk or an http(s) URL (OME's baselines name packages relative to their
 * catalog's repository, which EIO can't read).
 */
packages: string | null, };

/**
 * A free block of a prefix.
 */
export type FreeBlock = { cidr: string, 
/**
 * How many addresses it holds (a decimal string: IPv6 blocks are large).
 */
addresses: string, 
/**
 * How many blocks of the requested length fit in it, when a length was asked for.
 */
fits: string | null, };

/**
 * An address the guest reports, with how sure we are it holds it now (0–1).
 */
export type GuestIp = { ip: string, confidence: number, mac: string | null, };

/**
 * A Dell server's (or component's) health rollup.
 */
export type HealthState = "ok" | "warning" | "critical" | "unknown";

/**
 * What a hit is.
 */
export type HitKind = "virtual_machine" | "esxi_host" | "physical_server" | "idrac_endpoint" | "address" | "prefix";

/**
 * An ESXi host's connection to its vCenter.
 */
export type HostConnectionState = "connected" | "disconnected" | "not_responding";

export type HostDetail = { id: string, moid: string, name: string, vcenter: string, datacenter: string | null, cluster: string | null, site: string | null, vendor: string | null, model: string | null, serial_number: string | null, service_tag: string | null, hardware_uuid: string | null, esxi_version: string | null, esxi_build: string | null, connection_state: HostConnectionState | null, power_state: HostPowerState | null, in_maintenance_mode: boolean, management_ips: Array<string>, cpu_model: string | null, cpu_cores: number | null, memory_mb: number | null, tags: Array<string>, custom_attributes: Array<Attribute>, last_sync: string, 
/**
 * Every mapping candidate (active first), with its evidence.
 */
mappings: Array<MappingInfo>, 
/**
 * The VMs it runs (at most 500), by name.
 */
vms: Array<VmBrief>, };

/**
 * An ESXi host as one table row.
 */
export type HostListRow = { id: string, moid: string, name: string, connection_state: HostConnectionState | null, power_state: HostPowerState | null, in_maintenance_mode: boolean, esxi_version: string | null, model: string | null, service_tag: string | null, vms: number, 
/**
 * The physical server it runs on (service tag), when mapped.
 */
server: string | null, mapping_confidence: number | null, cluster: string | null, 
/**
 * Where site inference placed it (a pin wins), else its vCenter's site.
 */
site: string | null, vcenter: string, };

/**
 * An ESXi host's power state.
 */
export type HostPowerState = "powered_on" | "powered_off" | "standby" | "unknown";

export type HostRow = { hardware_uuid: string | null, moid: string, name: string, vendor: string | null, model: string | null, serial_number: string | null, service_tag: string | null, esxi_version: string | null, connection_state: HostConnectionState | null, power_state: HostPowerState | null, in_maintenance_mode: boolean, management_ips: Array<string>, vms: number, vcenter: string, datacenter: string | null, cluster: string | null, 
/**
 * The physical server it runs on (service tag), when mapped.
 */
server: string | null, last_sync: string, };

export type HostTarget = { name: string, cluster: string | null, in_maintenance_mode: boolean, 
/**
 * The physical server it runs on (service tag), when mapped.
 */
server: string | null, };

/**
 * Input of the detail drawers: the row's id.
 */
export type IdInput = { id: string, };

export type IdentityNameInput = { name: string, };

/**
 * A successful opening: the credentials stay in memory here, only their username leaves.
 */
export type IdentityTest = { name: string, username: string, 
/**
 * The sources that authenticate with it.
 */
used_by: Array<string>, message: string, };

/**
 * How EIO talks to an iDRAC.
 */
export type IdracDriver = "redfish" | "wsman" | "racadm";

/**
 * An iDRAC's generation, spelt as Dell does.
 */
export type IdracGeneration = "iDRAC7" | "iDRAC8" | "iDRAC9";

/**
 * iDRACs from CSV text with a header: name,url[,site][,driver][,thumbprint].
 */
export type IdracImportInput = { csv: string, 
/**
 * The service identity every row shares: an existing one…
 */
identity: string | null, 
/**
 * …or a new one (named: every row shares it).
 */
new_identity: NewIdentityInput | null, 
/**
 * For rows that name no site, driver or thumbprint.
 */
site: string | null, driver: string | null, thumbprint: string | null, insecure: boolean, 
/**
 * Check every row and answer, adding nothing.
 */
dry_run: boolean, };

/**
 * The answer to an import or its preview.
 */
export type ImportResult = { dry_run: boolean, rows: Array<ImportRow>, 
/**
 * Rows ready (preview) or added.
 */
ok: number, failed: number, };

/**
 * One CSV row, with the defaults applied, and what became of it.
 */
export type ImportRow = { 
/**
 * Line in the file (the header is line 1).
 */
line: number, name: string, url: string, site: string | null, driver: string | null, thumbprint: string | null, status: ImportStatus, error: string | null, };

/**
 * Where one row stands.
 */
export type ImportStatus = "ready" | "added" | "failed";

/**
 * One method's opinion about where an entity is.
 */
export type Inference = { method: InferenceMethod, site: string, confidence: number, 
/**
 * Which rule, which prefix, which name.
 */
evidence: Record<string, unknown>, 
/**
 * The evidence in words.
 */
because: string, updated_at: string, };

/**
 * What one inference pass did, per method.
 */
export type InferenceCount = { method: InferenceMethod, 
/**
 * Inferences of this method now.
 */
total: number, 
/**
 * New or changed in this pass.
 */
written: number, 
/**
 * No longer holding, removed in this pass.
 */
removed: number, };

/**
 * How a site was inferred.
 */
export type InferenceMethod = "vcenter" | "cidr" | "vlan" | "dns" | "manual";

export type InventoryFacets = { sites: Array<Count>, clusters: Array<Count>, power: Array<Count>, tools: Array<Count>, 
/**
 * The 100 most used tags.
 */
tags: Array<Count>, };

export type InventoryKind = "vms" | "hosts";

export type InventoryPage = { kind: InventoryKind, 
/**
 * Rows matching the search and filters.
 */
total: number, offset: number, 
/**
 * The window of VMs (empty when kind is hosts).
 */
vms: Array<VmListRow>, 
/**
 * The window of hosts (empty when kind is vms).
 */
hosts: Array<HostListRow>, 
/**
 * The values each filter offers, over the whole inventory (on the first window of a
 * list that is not searched: they describe the inventory, not the search).
 */
facets: InventoryFacets | null, };

/**
 * What the inventory table shows. Every field is optional; blank means "any".
 */
export type InventoryQuery = { 
/**
 * vms (default) or hosts.
 */
kind: InventoryKind | null, 
/**
 * Fuzzy search: name, guest hostname, an exact IP, or a tag.
 */
q: string | null, 
/**
 * Site code, where site inference placed the object (a pin wins), else its
 * vCenter's configured site.
 */
site: string | null, 
/**
 * Cluster name.
 */
cluster: string | null, 
/**
 * powered_on | powered_off | suspended (hosts: powered_on | standby | …).
 */
power: string | null, 
/**
 * VMware Tools: ok | old | not_running | not_installed (VMs only).
 */
tools: string | null, tag: string | null, 
/**
 * First row of the window (default 0).
 */
offset: number | null, 
/**
 * Rows in the window (default 200, at most 1000).
 */
limit: number | null, };

export type InventoryTotals = { vms: number, vms_powered_on: number, hosts: number, hosts_in_maintenance: number, clusters: number, servers: number, 
/**
 * Servers with at least one component behind (or ahead of) their baseline.
 */
servers_noncompliant: number, };

/**
 * The IPAM page: the prefix tree per routing domain with utilization planned and
 * observed, and the open findings.
 */
export type IpamPage = { 
/**
 * Every routing domain the query selects, the default first, each with its prefixes.
 */
trees: Array<DomainTree>, 
/**
 * Prefixes the query selects; the trees stop at [`PAGE_PREFIXES`].
 */
prefixes_total: number, 
/**
 * Open findings, most severe first (at most [`PAGE_FINDINGS`]).
 */
findings: Array<Finding>, 
/**
 * Open findings per type, all of them.
 */
findings_by_type: { [key in string]: number }, 
/**
 * Site codes, for placing a prefix.
 */
sites: Array<string>, 
/**
 * The last findings run, if any.
 */
last_findings_run: FindingRunSummary | null, 
/**
 * With a site: the addresses seen in use at it, by routing domain and address (at most
 * [`PAGE_OBSERVED`] reports); without one, empty.
 */
observed: Array<SiteObservation>, 
/**
 * With a site: how many reports of addresses in use at it the query selects.
 */
observed_total: number, };

/**
 * Which part of the address plan the IPAM page shows.
 */
export type IpamPageQuery = { 
/**
 * Only this routing domain (default: every domain).
 */
domain: string | null, 
/**
 * Only prefixes inside this block, e.g. 10.0.0.0/8.
 */
within: string | null, 
/**
 * Only this site (its code, as the inventory's site filter): the prefixes at it (by
 * their own site, or, having none, because an address seen in them is at it) and the
 * addresses seen in use at it, where site inference placed what carries them (a pin
 * wins).
 */
site: string | null, };

export type JobCancelInput = { id: string, reason: string | null, };

/**
 * Approve or deny a job, with an optional comment for the record.
 */
export type JobCommentInput = { id: string, comment: string | null, 
/**
 * Approving: the approver has read the plan's predicted blockers and approves anyway
 * (needed when there are any; ignored when denying).
 */
acknowledge_blockers: boolean, 
/**
 * Approving: the hash of the plan the approver read (`ApprovalItem.plan_hash`); the
 * database refuses the approval if the job's plan is no longer that one.
 */
plan_hash: string | null, };

/**
 * The answer to a paused job: cancel, retry, or shut down / suspend blocking VMs (moids).
 */
export type JobDecideInput = { id: string, choice: Choice, vms: Array<string>, comment: string | null, };

/**
 * Everything about one job: the job page model.
 */
export type JobDetail = { job: JobSummary, spec: JobSpec, 
/**
 * The policy it runs under; none for the system's own jobs (syncs and reports a
 * schedule made).
 */
policy: Policy | null, plan: Plan | null, 
/**
 * The hash of the plan shown (`jobs.plan_hash`): an approval can be bound to it.
 */
plan_hash: string | null, 
/**
 * Why it paused and what may be chosen.
 */
pause_reason: PauseReason | null, 
/**
 * The pause's sentence for the operator (the same words `eio job show` prints).
 */
pause_message: string | null, 
/**
 * The last decision taken on a pause.
 */
decision: Decision | null, steps: Array<JobStep>, events: Array<JobEvent>, };

export type JobEvent = { id: number, at: string, level: EventLevel, message: string, data: JsonValue, actor: string, };

/**
 * One job, by id.
 */
export type JobIdInput = { id: string, };

/**
 * What a job does, with its target.
 */
export type JobSpec = { "type": "maintenance_mode" } & MaintenanceTarget | { "type": "firmware_update" } & FirmwareTarget | { "type": "power" } & PowerTarget | { "type": "sync" } & SyncTarget | { "type": "report" } & ReportTarget;

/**
 * Where a job is in its life; the database allows only legal transitions.
 */
export type JobStatus = "pending" | "awaiting_approval" | "scheduled" | "running" | "paused" | "succeeded" | "failed" | "cancelled";

export type JobStep = { seq: number, name: string, kind: string, status: StepStatus, external_task_id: string | null, attempts: number, error: string | null, started_at: string | null, finished_at: string | null, };

export type JobSummary = { id: string, type: JobType, status: JobStatus, title: string, initiated_by: string | null, approved_by: string | null, progress: number | null, progress_message: string | null, error: string | null, external_task_ids: Array<string>, attempts: number, cancel_requested: boolean, 
/**
 * A schedule definition's cron expression (its runs are jobs of their own).
 */
schedule: string | null, 
/**
 * When a schedule definition next creates a run.
 */
next_run_at: string | null, 
/**
 * The schedule definition this job is a run of.
 */
parent_job_id: string | null, created_at: string, started_at: string | null, finished_at: string | null, };

/**
 * What the create wizard offers.
 */
export type JobTargets = { clusters: Array<string>, hosts: Array<HostTarget>, policies: Array<PolicyChoice>, 
/**
 * Source names (for sync jobs).
 */
sources: Array<string>, 
/**
 * Report definition names (for report jobs).
 */
report_definitions: Array<string>, 
/**
 * Firmware baselines (for firmware updates to a baseline).
 */
baselines: Array<Baseline>, };

/**
 * What kind of work a job is.
 */
export type JobType = "firmware_update" | "maintenance_mode" | "power" | "sync" | "report";

export type JobsPage = { jobs: Array<JobSummary>, 
/**
 * Jobs per status, every status included.
 */
counts: Array<Count>, 
/**
 * Jobs awaiting approval, each with the plan the approver approves.
 */
approvals: Array<ApprovalItem>, kill_switch: KillSwitch, targets: JobTargets, };

export type JobsQuery = { 
/**
 * Only jobs in this state.
 */
status: string | null, 
/**
 * At most this many jobs (default 100, at most 500).
 */
limit: number | null, };

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

export type KillSwitch = { engaged: boolean, reason: string | null, changed_by: string | null, changed_at: string | null, };

export type KillSwitchInput = { engaged: boolean, reason: string, };

export type KillSwitchStatus = { engaged: boolean, reason: string | null, changed_by: string | null, changed_at: string | null, };

export type KindCount = { kind: EntityKind, count: number, };

/**
 * Set (or, with `max_running` None, remove) one limit.
 */
export type LimitInput = { scope: LimitScope, 
/**
 * A site code or a cluster name (a cluster name must be unique, else add its vCenter);
 * None or "" for the default.
 */
name: string | null, 
/**
 * For a cluster whose name repeats across vCenters.
 */
vcenter: string | null, 
/**
 * None removes the limit (the default then applies; the default itself stays).
 */
max_running: number | null, };

/**
 * Where a limit applies.
 */
export type LimitScope = "cluster" | "site";

/**
 * One change, as ids and kinds only.
 */
export type LiveEvent = { kind: LiveKind, job_id: string | null, 
/**
 * The job's new status (job).
 */
status: JobStatus | null, 
/**
 * The job's type (job).
 */
job_type: JobType | null, 
/**
 * Who submitted the job (job, approval): for "your job paused" notifications.
 */
initiated_by_user: string | null, 
/**
 * The timeline entry's id and level (job_event).
 */
event_id: number | null, level: EventLevel | null, 
/**
 * Kill switch state (kill_switch).
 */
engaged: boolean | null, 
/**
 * The source synced (inventory).
 */
source: string | null, };

export type LiveKind = "job" | "job_event" | "approval" | "kill_switch" | "inventory" | "resync";

/**
 * An observation as the lookup returns it: live or gone.
 */
export type LookupObservation = { source: ObservationSource, mac_address: string | null, entity_type: EntityKind, entity_id: string, hostname: string | null, confidence: number, last_seen: string, gone_at: string | null, };

export type MaintenanceTarget = { 
/**
 * Host names, short names or moids.
 */
hosts: Array<string>, 
/**
 * Every host of this cluster.
 */
cluster: string | null, 
/**
 * Take the hosts out of maintenance mode instead.
 */
exit: boolean, };

/**
 * A manual mapping: this server runs this ESXi host.
 */
export type ManualMappingInput = { 
/**
 * Server id, service tag, hostname or iDRAC name.
 */
server: string, 
/**
 * ESXi host name (or short name).
 */
host: string, };

/**
 * How an ESXi host maps to a physical server, and why we think so.
 */
export type MappingInfo = { server_id: string, service_tag: string | null, idrac: string | null, esxi_host: string, method: MappingMethod, confidence: number, status: MappingStatus, verified: boolean, 
/**
 * Which facts matched.
 */
evidence: JsonValue, };

/**
 * How a server was matched to its ESXi host.
 */
export type MappingMethod = "service_tag" | "uuid" | "naming" | "attribute" | "manual";

/**
 * What recomputing the mappings did.
 */
export type MappingRefresh = { counts: Record<string, number>, };

export type MappingRow = { service_tag: string | null, idrac: string | null, esxi_host: string, method: MappingMethod, confidence: number, status: MappingStatus, verified: boolean, evidence: JsonValue, };

/**
 * Whether a server-to-host mapping holds.
 */
export type MappingStatus = "active" | "ambiguous" | "rejected";

/**
 * The session's identity and what it may do, as the database will judge it.
 */
export type Me = { login: string, email: string | null, role: string | null, capabilities: Array<string>, disabled: boolean, may: Permissions, };

/**
 * A new definition, or new settings for the definition of that name.
 */
export type NewDefinition = { name: string, type: ReportType, formats: Array<ReportFormat>, schedule: string | null, filters: { [key in string]: string }, 
/**
 * An absolute folder; none = the reports folder under the data directory.
 */
output_dir: string | null, enabled: boolean, };

/**
 * Credentials for a service identity created with a source (or an import).
 */
export type NewIdentityInput = { 
/**
 * Defaults to the source's name (an import must name it: every row shares it).
 */
name: string | null, username: string, password: string, };

/**
 * What `eio site add` asks for.
 */
export type NewSite = { code: string, 
/**
 * Country ISO code; the country must exist.
 */
country: string, name: string | null, 
/**
 * IANA time zone (default UTC).
 */
timezone: string | null, status: SiteStatus | null, };

/**
 * A configured virtual NIC.
 */
export type Nic = { mac: string, network: string | null, connected: boolean, label: string, };

/**
 * Input of operations that take none.
 */
export type NoInput = Record<symbol, never>;

/**
 * One connector's report of an address in use.
 */
export type Observation = { address: string, source: ObservationSource, mac_address: string | null, entity_type: EntityKind, entity_id: string, 
/**
 * What the carrier is called (VM, host or server name), when known.
 */
entity_name: string | null, hostname: string | null, confidence: number, last_seen: string, };

/**
 * Which connector saw an address.
 */
export type ObservationSource = "vcenter_vm" | "esxi_mgmt" | "idrac_mgmt";

/**
 * An address seen in use, with every report of it.
 */
export type ObservedAddress = { address: string, observations: Array<Observation>, };

/**
 * Open, save or download a recorded report file, or open the folder holding it.
 */
export type OpenReportInput = { execution_id: string, 
/**
 * Open the folder instead of the file (desktop only).
 */
folder: boolean, 
/**
 * Which of the execution's files (csv of a multi-sheet report writes several); the
 * first by default.
 */
file: number | null, };

/**
 * What was opened.
 */
export type OpenedReport = { path: string, };

/**
 * A folder report definitions may write to (admins: `eio report folder add`).
 */
export type OutputFolder = { path: string, description: string | null, created_by: string | null, created_at: string, };

/**
 * The policy bounds a blocked evacuation's choices were offered under.
 */
export type PausePolicy = { allow_vm_shutdown: boolean, vm_limit: number, shutdown_timeout_seconds: number, };

/**
 * Why a job paused, by kind. Every kind carries a sentence for the operator
 * ([`PauseReason::message`]).
 */
export type PauseReason = { "kind": "blocked_evacuation", 
/**
 * The host's name.
 */
host: string, host_moid: string, message: string, blocking_vms: Array<PausedVm>, choices: Array<Choice>, 
/**
 * The parts of the job's policy that bound the choices.
 */
policy: PausePolicy, } | { "kind": "dell_queue_busy", host: string, message: string, jobs: Array<QueuedDellJob>, choices: Array<Choice>, } | { "kind": "blocked", step: number, task: string, details: StepBlock, } | { "kind": "unreachable", step: number, task: string, message: string, } | { "kind": "timeout", step: number, task: string, message: string, } | { "kind": "kill_switch", reason: string, choices: Array<Choice>, } | { "kind": "unrecognized", message: string, };

/**
 * A VM that keeps a host from entering maintenance mode, as the engine found it.
 */
export type PausedVm = { vm_moid: string, vm_name: string, power_state: string | null, 
/**
 * A stable code (`local_storage`, `host_device`, `affinity_rule`, …).
 */
reason_code: string, 
/**
 * What to tell the operator.
 */
reason: string, 
/**
 * `drs` (vCenter said so) or `configuration` (read from the VM before trying).
 */
source: string | null, 
/**
 * vSphere's fault type, when DRS reported it.
 */
fault_type: string | null, };

/**
 * One flag per action the UI offers. A hint only: the database decides.
 */
export type Permissions = { read: boolean, submit_jobs: boolean, approve_jobs: boolean, engage_kill_switch: boolean, release_kill_switch: boolean, plan_ipam: boolean, manage_users: boolean, manage_sources: boolean, manage_service_identities: boolean, run_workers: boolean, 
/**
 * Job types this user may submit or approve, after capabilities.
 */
job_types: Array<string>, };

/**
 * Place something at a site by hand: it wins over every inference and survives resyncs.
 */
export type PinInput = { kind: string, id: string, site: string, 
/**
 * Why.
 */
note: string | null, };

/**
 * Where an entity is, and why.
 */
export type Placement = { entity_type: EntityKind, entity_id: string, 
/**
 * What it is called, when known.
 */
name: string | null, 
/**
 * The winning opinion: manual first, then the most confident.
 */
winner: Inference | null, 
/**
 * Every opinion, winner first.
 */
inferences: Array<Inference>, 
/**
 * True when the opinions name more than one site.
 */
conflict: boolean, };

export type Plan = { 
/**
 * One line an approver reads first.
 */
summary: string, hosts: Array<PlannedHost>, vms: Array<PlannedVm>, servers: Array<PlannedServer>, firmware: Array<PlannedFirmware>, 
/**
 * Things the policy won't let the job do (it pauses and asks instead).
 */
forbidden: Array<string>, 
/**
 * Reasons the job can't run at all; a plan with refusals is never submitted.
 */
refusals: Array<string>, 
/**
 * What the inventory says will keep DRS from emptying a host, per host in order:
 * approving the plan needs an acknowledgement of these.
 */
blockers: Array<PredictedBlocker>, 
/**
 * Notes for the approver that change nothing.
 */
notes: Array<string>, 
/**
 * The one cluster the targets are in, if they are in one.
 */
cluster_id: string | null, 
/**
 * The site the job is shown at: where the job's targets (its hosts, VMs or servers)
 * are, as every page shows them — where site inference placed each (a pin wins;
 * `entity_sites`), else its source's configured site — when that is one site for all
 * of them; targets at several sites leave it unset, with a note naming the sites.
 *
 * It decides nothing. Authority (who may submit, approve or act on the job, and
 * within which site's limits) is decided in the database by `job_scope` over the plan's
 * material: the union of every site any opinion places any target at, and its
 * vCenter's; `submit_job` ignores this field.
 */
site_id: string | null, };

export type PlannedFirmware = { host: string, service_tag: string | null, idrac: string | null, fqdd: string, name: string, from: string, to: string, 
/**
 * The package that installs it: a path on the workers' disk or an http(s) URL (plans
 * made before baselines have none: the job's image).
 */
package: string | null, 
/**
 * Installing it needs the server restarted (the host's one restart, once every such
 * component is staged); the iDRAC's own firmware applies at once, first.
 */
restart: boolean, };

export type PlannedHost = { order: number, moid: string, name: string, 
/**
 * The vCenter that manages it (moids repeat across vCenters).
 */
vcenter: string | null, cluster: string | null, in_maintenance_mode: boolean, 
/**
 * Powered-on VMs DRS must move away.
 */
vms_to_move: Array<VmRef>, 
/**
 * VMs that stay (powered off or suspended).
 */
vms_staying: Array<VmRef>, 
/**
 * The physical server it runs on (for firmware), by service tag.
 */
server: string | null, };

export type PlannedServer = { service_tag: string | null, idrac: string | null, esxi_host: string | null, action: string, };

export type PlannedVm = { moid: string, name: string, 
/**
 * The vCenter that manages it (moids repeat across vCenters).
 */
vcenter: string | null, host: string | null, power_state: string | null, 
/**
 * What the job will do to it.
 */
action: string, };

/**
 * JobPolicy, exactly as the seed.
 */
export type Policy = { allow_vm_shutdown: boolean, allow_hard_poweroff: boolean, vm_limit: number, shutdown_timeout_seconds: number, require_approval: boolean, tag_filters: Array<string>, folder_filters: Array<string>, policy_name: string | null, };

/**
 * Some fields of a named policy to change; the others stay as they are. A policy that
 * doesn't exist yet starts from [`PolicyInput::safe`].
 */
export type PolicyChange = { name: string, description: string | null, require_approval: boolean | null, allow_vm_shutdown: boolean | null, allow_hard_poweroff: boolean | null, vm_limit: number | null, shutdown_timeout_seconds: number | null, 
/**
 * Replaces the list (an empty list clears it).
 */
tag_filters: Array<string> | null, 
/**
 * Replaces the list (an empty list clears it).
 */
folder_filters: Array<string> | null, };

/**
 * A named job policy, as an admin made it.
 */
export type PolicyChoice = { name: string, description: string | null, require_approval: boolean, allow_vm_shutdown: boolean, allow_hard_poweroff: boolean, vm_limit: number, shutdown_timeout_seconds: number, 
/**
 * Only VMs with one of these tags may be stopped (empty: any).
 */
tag_filters: Array<string>, 
/**
 * Only VMs in these folders (or below) may be stopped (empty: any).
 */
folder_filters: Array<string>, };

/**
 * A named policy to create or change (by name).
 */
export type PolicyInput = { name: string, description: string | null, require_approval: boolean, allow_vm_shutdown: boolean, allow_hard_poweroff: boolean, 
/**
 * At most this many VMs per host may be shut down or suspended.
 */
vm_limit: number, 
/**
 * How long a guest shutdown may take before the job pauses (1–86400 s).
 */
shutdown_timeout_seconds: number, tag_filters: Array<string>, folder_filters: Array<string>, };

/**
 * Which policy.
 */
export type PolicyNameInput = { name: string, };

/**
 * Field-by-field overrides of a named policy, as a submitter gives them: each field left
 * out keeps the named policy's value. Serialized without the fields left out, which is the
 * shape `resolve_job_policy` and `submit_job` take (an explicit `null` is refused there).
 */
export type PolicyOverrides = { allow_vm_shutdown?: boolean | null, allow_hard_poweroff?: boolean | null, vm_limit?: number | null, shutdown_timeout_seconds?: number | null, require_approval?: boolean | null, tag_filters?: Array<string> | null, folder_filters?: Array<string> | null, };

export type PowerAction = "shutdown" | "power_off" | "suspend" | "reset" | "power_cycle";

export type PowerTarget = { action: PowerAction, vms: Array<string>, servers: Array<string>, };

/**
 * Something the synced inventory says will stop the job emptying a host: a VM DRS can't
 * move (its code is the run-time gate's `reason_code`), or a cluster without room for one
 * host's VMs (`insufficient_resources`, no VM).
 */
export type PredictedBlocker = { 
/**
 * The host being emptied.
 */
host: string, host_moid: string, 
/**
 * The vCenter that manages the host (moids repeat across vCenters).
 */
vcenter: string | null, vm_moid: string | null, vm_name: string | null, 
/**
 * A stable code (`host_device`, `local_storage`, `affinity_rule`, `insufficient_resources`, …).
 */
reason_code: string, 
/**
 * What to tell the approver.
 */
reason: string, 
/**
 * What it rests on: the device (label and key), datastore, rule name or figures.
 */
evidence: string | null, };

/**
 * A prefix where it sits in the hierarchy, with its utilization.
 */
export type Prefix = { id: string, routing_domain: string, cidr: string, 
/**
 * 4 or 6.
 */
family: number, parent_id: string | null, parent: string | null, 
/**
 * How many prefixes of its routing domain contain it.
 */
depth: number, site: string | null, vlan_id: number | null, status: PrefixStatus, description: string | null, utilization_threshold: number, utilization: Utilization, };

/**
 * A new prefix.
 */
export type PrefixAddInput = { domain: string | null, cidr: string, 
/**
 * Site code.
 */
site: string | null, vlan_id: number | null, status: PrefixStatus | null, description: string | null, 
/**
 * Utilization above this fraction raises a finding (default 0.9).
 */
utilization_threshold: number | null, };

/**
 * One prefix of a routing domain.
 */
export type PrefixInput = { 
/**
 * Routing domain (default: default).
 */
domain: string | null, 
/**
 * The prefix, e.g. 10.0.0.0/24.
 */
cidr: string, };

/**
 * Which prefixes a listing shows.
 */
export type PrefixListInput = { 
/**
 * Only this routing domain (default: every one).
 */
domain: string | null, 
/**
 * Only prefixes inside this block (itself included).
 */
within: string | null, };

/**
 * The prefix page: one call for everything the UI shows about one prefix. Long lists
 * stop at [`PAGE_LIMIT`] entries; the totals say how many there are.
 */
export type PrefixPage = { prefix: Prefix, 
/**
 * Outermost first.
 */
ancestors: Array<PrefixRef>, 
/**
 * Direct children in address order.
 */
children: Array<Prefix>, children_total: number, 
/**
 * Planned assignments inside the prefix (children's included).
 */
assignments: Array<Assignment>, assignments_total: number, 
/**
 * Addresses seen in use inside the prefix now.
 */
observed: Array<ObservedAddress>, observed_total: number, 
/**
 * Free blocks in address order.
 */
free: Array<FreeBlock>, free_total: number, 
/**
 * Open findings about the prefix or an address inside it.
 */
findings: Array<Finding>, };

/**
 * A prefix named in passing (ancestors).
 */
export type PrefixRef = { id: string, cidr: string, status: PrefixStatus, site: string | null, vlan_id: number | null, };

/**
 * What a prefix is for: in use, held back, or on its way out (nothing more is
 * allocated from a deprecated prefix).
 */
export type PrefixStatus = "active" | "reserved" | "deprecated";

/**
 * Changes to a prefix; a field left out stays as it is.
 */
export type PrefixUpdateInput = { domain: string | null, cidr: string, status: PrefixStatus | null, 
/**
 * A site code; "" takes the site away.
 */
site: string | null, 
/**
 * A VLAN id; 0 takes the VLAN away.
 */
vlan_id: number | null, 
/**
 * "" clears it.
 */
description: string | null, utilization_threshold: number | null, };

export type PreviewMove = { kind: EntityKind, name: string | null, 
/**
 * Where it is placed now (None: nowhere yet).
 */
from_site: string | null, to_site: string, };

/**
 * How the query was understood.
 */
export type QueryKind = "text" | "address" | "block" | "mac";

/**
 * A job in an iDRAC's own queue.
 */
export type QueuedDellJob = { id: string, state: string, name: string | null, };

export type Region = { id: string, code: string, name: string, countries: number, };

export type RegionAddInput = { 
/**
 * EMEA, US-EAST, …
 */
code: string, name: string, };

/**
 * What a removal did, in one sentence.
 */
export type Removed = { message: string, };

/**
 * A report definition as listed.
 */
export type ReportDefinition = { id: string, name: string, type: ReportType, 
/**
 * Cron expression (UTC); none = on demand only.
 */
schedule: string | null, 
/**
 * The schedule in words.
 */
schedule_description: string | null, formats: Array<ReportFormat>, filters: { [key in string]: string }, 
/**
 * None = the reports folder under the data directory of whoever runs it.
 */
output_dir: string | null, enabled: boolean, next_run_at: string | null, created_by: string | null, created_at: string, updated_at: string, last_status: ExecutionStatus | null, last_run_at: string | null, };

/**
 * One execution: one report in one format (possibly several csv files).
 */
export type ReportExecution = { id: string, 
/**
 * The definition's name, for runs of a definition.
 */
definition: string | null, job_id: string | null, type: ReportType, format: ReportFormat, status: ExecutionStatus, filters: { [key in string]: string }, 
/**
 * The file written (the first of several for csv of a multi-sheet report).
 */
storage_path: string | null, 
/**
 * Every file written.
 */
files: Array<string>, size_bytes: number | null, row_count: number | null, requested_by: string | null, created_at: string, started_at: string | null, finished_at: string | null, duration_ms: number | null, 
/**
 * Why it failed, in words.
 */
error: string | null, };

/**
 * A filter a report type accepts, for the UI's form.
 */
export type ReportFilterInfo = { key: string, help: string, 
/**
 * `text`, `choice`, `time` (a date or RFC 3339 time) or `bool`.
 */
kind: string, 
/**
 * The values a `choice` filter accepts.
 */
choices: Array<string>, };

/**
 * A folder on the server's (or this machine's) file system, as an absolute path.
 */
export type ReportFolderInput = { path: string, description: string | null, };

/**
 * The file formats (`report_format` in the database).
 */
export type ReportFormat = "html" | "csv" | "json" | "xlsx";

/**
 * Which executions the history shows.
 */
export type ReportHistoryInput = { 
/**
 * Only this definition's runs.
 */
name: string | null, 
/**
 * At most this many (default 50).
 */
limit: number | null, };

/**
 * "Run now": a definition (every format, into its folder), or one report type in one
 * format (into the default reports folder).
 */
export type ReportRunInput = { 
/**
 * The definition to run; or else `type` and `format`.
 */
definition: string | null, type: ReportType | null, format: ReportFormat | null, filters: { [key in string]: string }, };

/**
 * A scheduled definition's next run, soonest first.
 */
export type ReportSchedule = { definition: string, type: ReportType, 
/**
 * Cron expression (UTC).
 */
schedule: string, 
/**
 * The schedule in words.
 */
description: string | null, enabled: boolean, next_run_at: string | null, last_status: ExecutionStatus | null, last_run_at: string | null, };

export type ReportTarget = { definition: string, };

/**
 * The report types (`report_type` in the database).
 */
export type ReportType = "inventory_summary" | "rvtools" | "firmware_compliance" | "server_mapping" | "ipam_utilization" | "ipam_findings" | "job_history" | "credential_rotation";

/**
 * A report type as the UI offers it.
 */
export type ReportTypeInfo = { type: ReportType, title: string, description: string, filters: Array<ReportFilterInfo>, 
/**
 * Sheet names; a report with several accepts `sheet=` (comma-separated) to pick some.
 */
sheets: Array<string>, };

/**
 * The Reports page.
 */
export type ReportsPage = { types: Array<ReportTypeInfo>, formats: Array<ReportFormat>, definitions: Array<ReportDefinition>, 
/**
 * The definitions with a schedule, soonest next run first (disabled ones last).
 */
schedules: Array<ReportSchedule>, 
/**
 * Executions, newest first (at most [`PAGE_HISTORY`]).
 */
history: Array<ReportExecution>, 
/**
 * Where "run now" writes when the definition names no folder (on the machine that runs it).
 */
default_folder: string, };

/**
 * What resealing did.
 */
export type Reseal = { resealed: Array<string>, 
/**
 * (identity, why) for those this machine's key can't open.
 */
failed: Array<ResealFailure>, };

export type ResealFailure = { name: string, reason: string, };

/**
 * A routing domain (a VRF): prefixes in different domains never mix.
 */
export type RoutingDomain = { id: string, name: string, description: string | null, 
/**
 * How many prefixes it holds.
 */
prefixes: number, created_at: string, };

export type RuleIdInput = { id: string, };

/**
 * What a rule would do, before it is saved.
 */
export type RulePreview = { 
/**
 * How many objects the rule would hold an opinion on, per kind.
 */
matched: Array<KindCount>, 
/**
 * How many objects would be placed elsewhere than they are now (the rule's opinion
 * wins over theirs).
 */
moved: number, 
/**
 * Up to 20 of those, with where they are now and where they would be.
 */
examples: Array<PreviewMove>, };

/**
 * Where a copy was saved; `path` is None when the operator cancelled the dialog.
 */
export type SavedReport = { path: string | null, };

export type SchemaStatus = { applied_version: number | null, latest_version: number, pending: Array<number>, up_to_date: boolean, };

export type SearchHit = { kind: HitKind, 
/**
 * The VM, host, server, assignment or prefix id (none for an observed address).
 */
id: string | null, 
/**
 * What to show: a name, an address, a block.
 */
label: string, 
/**
 * Which field matched (name, guest_hostname, service_tag, address, mac, ...).
 */
field: string, 
/**
 * The value that matched.
 */
matched: string, 
/**
 * A line of context (power state, model, who carries an address, ...).
 */
detail: string | null, 
/**
 * 1 for an exact match; otherwise trigram similarity, best first.
 */
score: number, };

/**
 * One search box for everything.
 */
export type SearchInput = { 
/**
 * A name, host name, service tag, address, block (10.1.2.0/24, 10.1.2) or MAC.
 */
query: string, 
/**
 * At most this many hits (default 20, at most 200).
 */
limit: number | null, };

export type SearchResults = { query: string, interpreted_as: QueryKind, hits: Array<SearchHit>, };

export type ServerDetail = { server: ServerRow, 
/**
 * Installed firmware per component, with the baseline's version and verdict.
 */
firmware: Array<FirmwareRow>, 
/**
 * Every mapping candidate (active first), with its evidence.
 */
mappings: Array<MappingInfo>, 
/**
 * ESXi hosts a manual mapping may choose (names).
 */
hosts: Array<string>, };

export type ServerFacets = { 
/**
 * Servers per iDRAC generation ("unknown" when not probed yet).
 */
generations: Array<Count>, 
/**
 * Servers per site (servers no site claims are not counted).
 */
sites: Array<Count>, 
/**
 * Servers per compliance verdict: compliant, noncompliant, no_baseline.
 */
compliance: Array<Count>, 
/**
 * Servers with no active mapping to an ESXi host.
 */
unmapped: number, 
/**
 * Mappings the sync could not settle (two candidates, conflicting facts).
 */
ambiguous_mappings: Array<MappingInfo>, };

/**
 * Which server: its id, service tag, hostname, iDRAC name or ESXi host name.
 */
export type ServerInput = { server: string, };

/**
 * A server by service tag, host name, iDRAC name or ESXi host name.
 */
export type ServerNameInput = { server: string, };

/**
 * A Dell server's power state as its iDRAC reports it.
 */
export type ServerPowerState = "on" | "off" | "powering_on" | "powering_off" | "unknown";

export type ServerRow = { uuid: string, service_tag: string | null, system_uuid: string | null, model: string | null, generation: IdracGeneration | null, power_state: ServerPowerState, health: HealthState, hostname: string | null, idrac: string | null, idrac_firmware: string | null, idrac_ip: string | null, driver: IdracDriver | null, bios_version: string | null, firmware_components: number, 
/**
 * The ESXi host it runs, when mapped.
 */
esxi_host: string | null, mapping_method: MappingMethod | null, mapping_confidence: number | null, 
/**
 * How many baseline components it violates (OME compliance).
 */
noncompliant_components: number, 
/**
 * Where site inference placed it (a pin wins), else its iDRAC's or OME's site.
 */
site: string | null, last_sync: string, };

export type ServersPage = { 
/**
 * Servers the search and filters keep.
 */
total: number, offset: number, 
/**
 * The window, ordered by hostname (else iDRAC name, else service tag).
 */
servers: Array<ServerRow>, 
/**
 * The estate's counts, on the first window of a list that is not searched: they
 * describe every server, not the search, and the table keeps them while the user types.
 */
facets: ServerFacets | null, };

/**
 * Which servers the table shows: all of them when every field is blank.
 */
export type ServersQuery = { 
/**
 * Part of a service tag, hostname, iDRAC name, model or ESXi host name, or an exact
 * iDRAC address.
 */
q: string | null, 
/**
 * Site code: where site inference placed the server (a pin wins), else its iDRAC's
 * or OME's site.
 */
site: string | null, 
/**
 * iDRAC7 | iDRAC8 | iDRAC9, or unknown (not probed yet).
 */
generation: string | null, 
/**
 * noncompliant (behind or ahead of the baseline) | mapped | unmapped (to an ESXi host).
 */
show: string | null, 
/**
 * First row of the window (default 0).
 */
offset: number | null, 
/**
 * Rows in the window (default 200, at most 1000).
 */
limit: number | null, };

/**
 * A service identity as listings show it: never the ciphertext, never a password.
 */
export type ServiceIdentity = { id: string, name: string, system: ExternalSystem, username: string, 
/**
 * The worker public keys the credentials are sealed for.
 */
sealed_for: Array<string>, rotation_due: string | null, rotation_overdue: boolean, rotation_period_days: number, rotated_at: string, last_success: string | null, last_failure: string | null, last_error: string | null, 
/**
 * Sources that authenticate with it ("vcenter vc-prod", "idrac r740-01", …).
 */
used_by: Array<string>, };

/**
 * Credentials for a service identity: sealed for the workers as soon as they arrive.
 */
export type ServiceIdentityInput = { name: string, system: ExternalSystem, username: string, password: string, rotation_period_days: number | null, };

/**
 * New credentials for a service identity; the username stays unless a new one is given.
 */
export type ServiceIdentityRotateInput = { name: string, username: string | null, password: string, 
/**
 * Days until the next rotation is due, from now on (None keeps the identity's period).
 */
rotation_period_days: number | null, };

export type SettingsPage = { connection: ConnectionStatus, schema: SchemaStatus, service_identities: Array<ServiceIdentity>, users: Array<User>, sites: Array<SiteRow>, workers: Array<WorkerInstance>, 
/**
 * Worker public keys credentials are sealed for.
 */
worker_keys: Array<WorkerKeyRow>, warnings: Array<string>, };

/**
 * How much it matters.
 */
export type Severity = "info" | "warning" | "error";

export type ShellModel = { me: Me, 
/**
 * The signed-in user's id (None for a login with no user).
 */
user_id: string | null, 
/**
 * Jobs awaiting approval that this user could approve (not their own).
 */
approvals_for_me: number, 
/**
 * All jobs awaiting approval.
 */
pending_approvals: number, 
/**
 * This user's jobs that are paused and wait for a decision.
 */
my_paused_jobs: number, kill_switch: KillSwitch, };

/**
 * What a sign-in form sends.
 */
export type SignInInput = { settings: ConnectionSettings, password: string | null, 
/**
 * Keep the password in the OS keyring for next time.
 */
remember: boolean, };

export type Site = { id: string, 
/**
 * e.g. US-EAST-01
 */
code: string, name: string | null, 
/**
 * IANA time zone.
 */
timezone: string, status: SiteStatus, country: string, country_name: string, region: string, 
/**
 * Prefixes assigned to the site.
 */
prefixes: number, 
/**
 * Inference rules naming the site.
 */
rules: number, };

/**
 * What a change did, in one sentence.
 */
export type SiteChanged = { message: string, };

export type SiteCodeInput = { code: string, };

/**
 * An entity whose inference methods disagree.
 */
export type SiteConflict = { entity_type: EntityKind, entity_id: string, name: string | null, winner_site: string, winner_method: InferenceMethod, 
/**
 * Every opinion, winner first: pinning to one of their sites settles the conflict.
 */
opinions: Array<SiteOpinion>, };

export type SiteCounts = { site: string | null, name: string | null, vms: number, vms_powered_on: number, hosts: number, clusters: number, servers: number, };

/**
 * An address seen in use at a site, and what carries it.
 */
export type SiteObservation = { routing_domain: string, address: string, source: ObservationSource, mac_address: string | null, 
/**
 * What carries it: a VM, an ESXi host, an iDRAC.
 */
entity_type: EntityKind, entity_id: string, 
/**
 * What the carrier is called.
 */
entity_name: string | null, hostname: string | null, last_seen: string, };

/**
 * One method's opinion in a conflict: where it places the entity, how sure it is, and why.
 */
export type SiteOpinion = { site: string, method: InferenceMethod, confidence: number, 
/**
 * Which rule, which prefix, which name, as inference recorded it.
 */
evidence: Record<string, unknown>, 
/**
 * The evidence in words ("datacenter Frankfurt-DC matches ^frankfurt").
 */
because: string, };

/**
 * A manual placement: who put what where, and why.
 */
export type SitePin = { entity_type: EntityKind, entity_id: string, 
/**
 * What it is called, when it still exists.
 */
name: string | null, site: string, 
/**
 * Email of who pinned it.
 */
pinned_by: string | null, note: string | null, pinned_at: string, 
/**
 * Whether the caller may unpin it (its author, or an admin).
 */
can_unpin: boolean, };

export type SiteRow = { code: string, name: string | null, country: string, region: string, timezone: string, 
/**
 * active | maintenance | offline
 */
status: string, };

/**
 * A rule inference applies.
 */
export type SiteRule = { id: string, method: InferenceMethod, site: string, 
/**
 * vcenter and dns: a case-insensitive regular expression.
 */
pattern: string | null, 
/**
 * vlan: the VLAN id.
 */
vlan_id: number | null, confidence: number, description: string | null, };

/**
 * A rule that places things at a site: a name pattern (vcenter: datacenter or cluster
 * names; dns: host names) or a VLAN.
 */
export type SiteRuleAddInput = { site: string, 
/**
 * vcenter, dns or vlan.
 */
method: InferenceMethod, 
/**
 * vcenter and dns: a case-insensitive regular expression.
 */
pattern: string | null, 
/**
 * vlan: the VLAN id.
 */
vlan_id: number | null, 
/**
 * Above 0, below 1 (default: vcenter 0.9, vlan 0.6, dns 0.5).
 */
confidence: number | null, description: string | null, };

/**
 * Whether a site is in service.
 */
export type SiteStatus = "active" | "maintenance" | "offline";

/**
 * Changes to a site; a field left out stays as it is.
 */
export type SiteUpdateInput = { code: string, name: string | null, timezone: string | null, status: SiteStatus | null, };

/**
 * Geography, rules, conflicts and pins in one answer: what the Sites page shows.
 */
export type SitesPage = { regions: Array<Region>, countries: Array<Country>, sites: Array<Site>, rules: Array<SiteRule>, conflicts: Array<SiteConflict>, 
/**
 * Manual placements, newest first.
 */
pins: Array<SitePin>, };

/**
 * A source as listings show it.
 */
export type Source = { id: string, kind: SourceKind, name: string, url: string, service_identity: string, tls: TlsMode, thumbprint_sha256: string | null, site: string | null, enabled: boolean, last_sync_at: string | null, last_sync_status: SyncOutcome | null, last_error: string | null, 
/**
 * iDRAC: generation and the driver in use, with why.
 */
generation: IdracGeneration | null, driver: IdracDriver | null, driver_reason: string | null, 
/**
 * Registered by the demo lab (it pauses these when it stops).
 */
demo_lab: boolean, };

/**
 * A new vCenter, iDRAC or OpenManage Enterprise.
 */
export type SourceAddInput = { kind: SourceKind, name: string, 
/**
 * https://vcenter/sdk, https://idrac, https://ome (vCenter's /sdk is added when missing).
 */
url: string, 
/**
 * An existing service identity, by name…
 */
identity: string | null, 
/**
 * …or credentials for a new one.
 */
new_identity: NewIdentityInput | null, trust: TrustInput, 
/**
 * Site code (US-EAST-01).
 */
site: string | null, 
/**
 * iDRAC only: redfish, wsman or racadm (none: probe each endpoint).
 */
driver: string | null, };

export type SourceFacets = { kinds: Array<Count>, statuses: Array<Count>, };

/**
 * One source's sync health.
 */
export type SourceHealth = { kind: SourceKind, name: string, site: string | null, enabled: boolean, last_sync_at: string | null, 
/**
 * None: never synced.
 */
last_sync_status: SyncOutcome | null, last_error: string | null, 
/**
 * Registered by the demo lab.
 */
demo_lab: boolean, };

/**
 * What a source is: a vCenter, an iDRAC, or an OpenManage Enterprise.
 */
export type SourceKind = "vcenter" | "idrac" | "ome";

export type SourceProbe = { 
/**
 * The URL as EIO would store it.
 */
url: string, certificate: Certificate, 
/**
 * The thumbprint the named source pins now, if any…
 */
pinned: string | null, 
/**
 * …and whether the endpoint still presents it.
 */
matches_pin: boolean | null, };

/**
 * An endpoint to read the certificate of, before (or instead of) trusting it.
 */
export type SourceProbeInput = { kind: SourceKind, url: string, 
/**
 * An existing source whose pin to compare with (re-pinning after a change).
 */
name: string | null, };

/**
 * What removing a source takes with it, counted before (or as) it goes.
 */
export type SourceRemoval = { source: Source, 
/**
 * False for a preview (`dry_run`): nothing was removed.
 */
removed: boolean, 
/**
 * vCenter: its cached datacenters, clusters, hosts and VMs go with it.
 */
datacenters: number, clusters: number, hosts: number, vms: number, 
/**
 * iDRAC and OME: servers only this source reports, marked removed (kept for history).
 */
servers_retired: number, 
/**
 * iDRAC and OME: servers another source also reports, which stay in the inventory.
 */
servers_kept: number, 
/**
 * iDRAC: its server-to-host mappings go; OME: its firmware baselines go.
 */
mappings: number, baselines: number, 
/**
 * One sentence saying all of the above, for a confirmation dialog or a terminal.
 */
summary: string, };

export type SourceRemoveInput = { kind: SourceKind, name: string, 
/**
 * Only say what would go.
 */
dry_run: boolean, };

/**
 * Changes to a source; a field left out stays as it is.
 */
export type SourceUpdateInput = { kind: SourceKind, name: string, url: string | null, 
/**
 * Another existing service identity, by name.
 */
identity: string | null, 
/**
 * A site code; "" takes the site away.
 */
site: string | null, 
/**
 * iDRAC: redfish, wsman, racadm, or "auto" to probe.
 */
driver: string | null, 
/**
 * Whether it syncs (a disabled source keeps its inventory and is skipped).
 */
enabled: boolean | null, 
/**
 * Trust it differently: pin (or re-pin after a certificate change), verify, insecure.
 */
trust: TrustInput | null, };

/**
 * A page of sources, by kind then name, and how many the filters keep.
 */
export type SourcesPage = { total: number, offset: number, sources: Array<Source>, 
/**
 * Sources per kind and per status (failing, never, disabled), over every source: on
 * the first page of a list that is not searched.
 */
facets: SourceFacets | null, };

/**
 * Which sources the settings page shows: all of them when every field is blank.
 */
export type SourcesQuery = { kind: SourceKind | null, 
/**
 * Part of a name or an address.
 */
q: string | null, 
/**
 * failing (the last sync failed or was partial) | never (not synced yet) | disabled.
 */
status: string | null, 
/**
 * First row of the page (default 0).
 */
offset: number | null, 
/**
 * Rows in the page (default 100, at most 1000).
 */
limit: number | null, };

export type StatusPage = { connection: ConnectionStatus, schema: SchemaStatus, 
/**
 * Rows per table, keyed by table name, as far as this login may see them.
 */
tables: { [key in string]: number }, 
/**
 * Jobs awaiting approval (None before the schema exists).
 */
pending_approvals: number | null, kill_switch: KillSwitchStatus | null, 
/**
 * Things an operator should act on, in plain words.
 */
warnings: Array<string>, };

/**
 * What a blocked step says: a sentence, and the VMs or Dell jobs concerned.
 */
export type StepBlock = { 
/**
 * A stable code (`reset_unconfirmed`), when the step gave one.
 */
reason: string | null, message: string | null, blocking_vms: Array<PausedVm>, 
/**
 * The iDRAC concerned, for a server's step.
 */
idrac: string | null, 
/**
 * The server's power state when the step stopped.
 */
power_state: string | null, 
/**
 * The Dell jobs the step waits on.
 */
jobs: Array<WaitedDellJob>, choices: Array<Choice>, };

/**
 * Where one step of a job is.
 */
export type StepStatus = "pending" | "running" | "waiting" | "succeeded" | "failed" | "skipped" | "cancelled";

/**
 * What `eio job submit` asks for.
 */
export type SubmitRequest = { spec: JobSpec, title: string | null, policy_name: string | null, 
/**
 * Field-by-field overrides of the named policy.
 */
policy: PolicyOverrides | null, idempotency_key: string | null, run_at: string | null, 
/**
 * A cron schedule (five fields, UTC, or @daily…): the job becomes a definition that runs
 * once per due time, each run planned then and approved like a submitted job.
 */
schedule: string | null, 
/**
 * Compute and return the plan; submit nothing.
 */
dry_run: boolean, };

export type Submitted = { plan: Plan, policy: Policy, 
/**
 * None for a dry run.
 */
job: JobSummary | null, };

/**
 * Failed sources that failed for the same reason.
 */
export type SyncFailureGroup = { reason: SyncFailureReason, 
/**
 * "61 sources unreachable — the demo lab is not running: …"
 */
sentence: string, 
/**
 * Every source of the group, by name.
 */
sources: Array<string>, 
/**
 * All of them belong to the demo lab.
 */
demo_lab: boolean, };

/**
 * Why syncs failed, in the words an operator acts on.
 */
export type SyncFailureReason = "unreachable" | "certificate" | "credentials" | "worker_key" | "other";

/**
 * How a sync ended (or that it is still running).
 */
export type SyncOutcome = "running" | "succeeded" | "partial" | "failed";

export type SyncTarget = { source: string | null, kind: SourceKind | null, 
/**
 * Completes at once without syncing: for measuring the worker pool.
 */
benchmark_noop: boolean, };

/**
 * How a source's certificate is trusted.
 */
export type TlsMode = "verify" | "pinned" | "insecure";

/**
 * How to trust the certificate: `thumbprint` with `pinned`, nothing else otherwise.
 */
export type TrustInput = { mode: TlsMode, thumbprint: string | null, };

/**
 * A user as listings show it.
 */
export type User = { id: string, email: string, display_name: string | null, role: UserRole, capabilities: Array<string>, login: string, disabled: boolean, created_at: string, };

/**
 * A new user. The password, if any, is turned into a SCRAM verifier before it leaves.
 */
export type UserAddInput = { email: string, role: UserRole, login: string, capabilities: Array<string>, display_name: string | null, password: string | null, };

/**
 * A user's capabilities, replacing the ones they have (admins).
 */
export type UserCapabilitiesInput = { email: string, 
/**
 * firmware_update, maintenance_mode, power, relaxed_policy, site:<CODE>; none clears them.
 */
capabilities: Array<string>, };

/**
 * A new password: admins set anyone's, everyone their own. Only its SCRAM verifier
 * reaches the database.
 */
export type UserPasswordInput = { email: string, password: string, };

/**
 * What a person may do in EIO (each a PostgreSQL group role of the same name).
 */
export type UserRole = "viewer" | "operator" | "approver" | "admin";

/**
 * A user's new role (admins).
 */
export type UserRoleInput = { email: string, role: UserRole, };

export type UserSummary = { email: string, role: string, capabilities: Array<string>, };

/**
 * How full a prefix is, from both sides. Address counts are decimal strings (an IPv6
 * prefix can hold 2^128); ratios are fractions of the usable addresses (of all
 * addresses for child coverage).
 */
export type Utilization = { 
/**
 * Every address of the prefix.
 */
addresses: string, 
/**
 * Addresses a host can use: IPv4 without network and broadcast (except /31, /32),
 * IPv6 without the Subnet-Router anycast address (except /127, /128).
 */
usable: string, 
/**
 * Addresses in planned assignments (a planned block counts its size).
 */
planned: string, 
/**
 * Distinct addresses the connectors see in use now.
 */
observed: number, 
/**
 * Direct child prefixes.
 */
child_prefixes: number, 
/**
 * Addresses those children take.
 */
child_addresses: string, planned_ratio: number, observed_ratio: number, child_ratio: number, 
/**
 * The largest of the three ratios: whichever says the prefix is fuller.
 */
utilization: number, };

export type VmBrief = { id: string, name: string, power_state: VmPowerState | null, };

export type VmDetail = { id: string, moid: string, name: string, uuid: string | null, vcenter: string, datacenter: string | null, cluster: string | null, host: string | null, site: string | null, folder_path: string | null, vcpu: number | null, memory_mb: number | null, power_state: VmPowerState | null, tools_status: VmToolsStatus | null, guest_os: string | null, guest_hostname: string | null, nics: Array<Nic>, ips: Array<GuestIp>, tags: Array<string>, custom_attributes: Array<Attribute>, notes: string | null, has_snapshot: boolean, snapshot_count: number, first_seen: string, last_sync: string, 
/**
 * Its host's physical server, when mapped.
 */
host_mapping: MappingInfo | null, };

/**
 * Which VMs a listing shows.
 */
export type VmListInput = { 
/**
 * Names, guest host names or IPs matching this (fuzzy).
 */
search: string | null, 
/**
 * At most this many (default 1000).
 */
limit: number | null, };

/**
 * A VM as one table row.
 */
export type VmListRow = { id: string, moid: string, name: string, power_state: VmPowerState | null, tools_status: VmToolsStatus | null, guest_os: string | null, 
/**
 * The first address the guest reports.
 */
ip: string | null, vcpu: number | null, memory_mb: number | null, tags: Array<string>, cluster: string | null, host: string | null, 
/**
 * Where site inference placed it (a pin wins), else its vCenter's site.
 */
site: string | null, vcenter: string, };

/**
 * A VM's power state as vCenter reports it.
 */
export type VmPowerState = "powered_on" | "powered_off" | "suspended";

export type VmRef = { moid: string, name: string, power_state: string | null, };

/**
 * A VM with every seed field (and where it runs).
 */
export type VmRow = { 
/**
 * BIOS uuid (config.uuid).
 */
uuid: string | null, moid: string, name: string, folder_path: string | null, vcpu: number | null, memory_mb: number | null, power_state: VmPowerState | null, tools_status: VmToolsStatus | null, guest_os: string | null, guest_hostname: string | null, 
/**
 * [{mac, network, connected, label}]
 */
nics: JsonValue, 
/**
 * [{ip, confidence, mac}]
 */
guest_ips: JsonValue, tags: Array<string>, custom_attributes: JsonValue, notes: string | null, has_snapshot: boolean, last_sync: string, vcenter: string, datacenter: string | null, cluster: string | null, host: string | null, };

/**
 * VMware Tools in the guest.
 */
export type VmToolsStatus = "ok" | "old" | "not_running" | "not_installed";

/**
 * A Dell job a step waits on, and how far it got.
 */
export type WaitedDellJob = { job_id: string, state: string, finished: boolean, };

export type WebSession = { mode: WebSessionMode, 
/**
 * The PostgreSQL login requests act as (None when not signed in).
 */
login: string | null, 
/**
 * Where sign-ins connect: `host:port/database` (never a password).
 */
database: string, 
/**
 * Whether this server accepts sign-ins (the embedded default has no passwords to check).
 */
sign_in_available: boolean, };

/**
 * How this browser's requests reach the database.
 */
export type WebSessionMode = "session" | "local" | "none";

/**
 * A browser's sign-in: the user's own PostgreSQL login.
 */
export type WebSignIn = { username: string, password: string, };

export type WorkerInstance = { id: string, hostname: string, 
/**
 * desktop | serve | worker
 */
mode: string, heartbeat_at: string, 
/**
 * Heartbeat within the last 90 seconds.
 */
alive: boolean, };

export type WorkerKeyInfo = { public_key: string, label: string, created_at: string, revoked: boolean, };

/**
 * A worker's public key (`age1…`, printed by `eio identity init-worker-key`).
 */
export type WorkerKeyInput = { public_key: string, 
/**
 * Required to trust a key: which machine it is.
 */
label: string | null, };

export type WorkerKeyRow = { public_key: string, label: string, revoked: boolean, };

export type HttpMethod = "GET" | "POST";

/** Every operation: name → HTTP method and path. */
export const operations = {
  status: { method: "GET", path: "/api/status", role: "viewer" },
  me: { method: "GET", path: "/api/me", role: "viewer" },
  users: { method: "GET", path: "/api/users", role: "viewer" },
  user_add: { method: "POST", path: "/api/users", role: "admin" },
  user_disable: { method: "POST", path: "/api/users/disable", role: "admin" },
  user_enable: { method: "POST", path: "/api/users/enable", role: "admin" },
  user_set_role: { method: "POST", path: "/api/users/role", role: "admin" },
  user_set_capabilities: { method: "POST", path: "/api/users/capabilities", role: "admin" },
  user_set_password: { method: "POST", path: "/api/users/password", role: "admin" },
  service_identities: { method: "GET", path: "/api/service-identities", role: "viewer" },
  service_identity_add: { method: "POST", path: "/api/service-identities", role: "admin" },
  service_identity_rotate: { method: "POST", path: "/api/service-identities/rotate", role: "admin" },
  service_identity_test: { method: "POST", path: "/api/service-identities/test", role: "worker" },
  service_identities_reseal: { method: "POST", path: "/api/service-identities/reseal", role: "admin" },
  worker_keys: { method: "GET", path: "/api/worker-keys", role: "viewer" },
  worker_key_trust: { method: "POST", path: "/api/worker-keys", role: "admin" },
  worker_key_revoke: { method: "POST", path: "/api/worker-keys/revoke", role: "admin" },
  sites_page: { method: "GET", path: "/api/pages/sites", role: "viewer" },
  sites: { method: "GET", path: "/api/sites", role: "viewer" },
  site_add: { method: "POST", path: "/api/sites", role: "admin" },
  site_update: { method: "POST", path: "/api/sites/update", role: "admin" },
  site_remove: { method: "POST", path: "/api/sites/remove", role: "admin" },
  regions: { method: "GET", path: "/api/regions", role: "viewer" },
  region_add: { method: "POST", path: "/api/regions", role: "admin" },
  countries: { method: "GET", path: "/api/countries", role: "viewer" },
  country_add: { method: "POST", path: "/api/countries", role: "admin" },
  site_rules: { method: "GET", path: "/api/sites/rules", role: "viewer" },
  site_rule_add: { method: "POST", path: "/api/sites/rules", role: "admin" },
  site_rule_preview: { method: "POST", path: "/api/sites/rules/preview", role: "admin" },
  site_rule_remove: { method: "POST", path: "/api/sites/rules/remove", role: "admin" },
  site_infer: { method: "POST", path: "/api/sites/infer", role: "operator" },
  site_conflicts: { method: "GET", path: "/api/sites/conflicts", role: "viewer" },
  site_placement: { method: "GET", path: "/api/sites/placement", role: "viewer" },
  site_pin: { method: "POST", path: "/api/sites/pin", role: "operator" },
  site_unpin: { method: "POST", path: "/api/sites/unpin", role: "operator" },
  sources: { method: "GET", path: "/api/sources", role: "viewer" },
  source_add: { method: "POST", path: "/api/sources", role: "admin" },
  source_update: { method: "POST", path: "/api/sources/update", role: "admin" },
  source_remove: { method: "POST", path: "/api/sources/remove", role: "admin" },
  source_probe: { method: "POST", path: "/api/sources/probe", role: "admin" },
  source_import_idracs: { method: "POST", path: "/api/sources/import", role: "admin" },
  vms: { method: "GET", path: "/api/vms", role: "viewer" },
  hosts: { method: "GET", path: "/api/hosts", role: "viewer" },
  servers: { method: "GET", path: "/api/servers", role: "viewer" },
  server_firmware: { method: "GET", path: "/api/servers/firmware", role: "viewer" },
  mappings: { method: "GET", path: "/api/mappings", role: "viewer" },
  mappings_refresh: { method: "POST", path: "/api/mappings/refresh", role: "operator" },
  mapping_set: { method: "POST", path: "/api/mappings/manual", role: "operator" },
  ipam_page: { method: "GET", path: "/api/pages/ipam", role: "viewer" },
  ipam_domains: { method: "GET", path: "/api/ipam/domains", role: "viewer" },
  ipam_domain_add: { method: "POST", path: "/api/ipam/domains", role: "admin" },
  ipam_prefixes: { method: "GET", path: "/api/ipam/prefixes", role: "viewer" },
  ipam_prefix: { method: "GET", path: "/api/ipam/prefix", role: "viewer" },
  ipam_prefix_add: { method: "POST", path: "/api/ipam/prefixes", role: "operator" },
  ipam_prefix_update: { method: "POST", path: "/api/ipam/prefixes/update", role: "operator" },
  ipam_prefix_remove: { method: "POST", path: "/api/ipam/prefixes/remove", role: "operator" },
  ipam_available: { method: "GET", path: "/api/ipam/available", role: "viewer" },
  ipam_allocate: { method: "POST", path: "/api/ipam/allocate", role: "operator" },
  ipam_lookup: { method: "GET", path: "/api/ipam/lookup", role: "viewer" },
  ipam_assign: { method: "POST", path: "/api/ipam/assignments", role: "operator" },
  ipam_assignment_update: { method: "POST", path: "/api/ipam/assignments/update", role: "operator" },
  ipam_release: { method: "POST", path: "/api/ipam/assignments/release", role: "operator" },
  findings: { method: "GET", path: "/api/ipam/findings", role: "viewer" },
  finding_acknowledge: { method: "POST", path: "/api/ipam/findings/acknowledge", role: "operator" },
  findings_run: { method: "POST", path: "/api/ipam/findings/run", role: "operator" },
  search: { method: "GET", path: "/api/search", role: "viewer" },
  jobs: { method: "GET", path: "/api/jobs", role: "viewer" },
  job_detail: { method: "GET", path: "/api/jobs/detail", role: "viewer" },
  job_submit: { method: "POST", path: "/api/jobs", role: "operator" },
  job_approve: { method: "POST", path: "/api/jobs/approve", role: "approver" },
  job_deny: { method: "POST", path: "/api/jobs/deny", role: "approver" },
  job_cancel: { method: "POST", path: "/api/jobs/cancel", role: "operator" },
  job_decide: { method: "POST", path: "/api/jobs/decide", role: "operator" },
  kill_switch: { method: "GET", path: "/api/kill-switch", role: "viewer" },
  kill_switch_set: { method: "POST", path: "/api/kill-switch", role: "operator" },
  job_policies: { method: "GET", path: "/api/job-policies", role: "viewer" },
  job_policy_save: { method: "POST", path: "/api/job-policies", role: "admin" },
  job_policy_change: { method: "POST", path: "/api/job-policies/change", role: "admin" },
  job_policy_remove: { method: "POST", path: "/api/job-policies/remove", role: "admin" },
  concurrency_limits: { method: "GET", path: "/api/concurrency-limits", role: "viewer" },
  concurrency_limit_set: { method: "POST", path: "/api/concurrency-limits", role: "admin" },
  firmware_baselines: { method: "GET", path: "/api/firmware-baselines", role: "viewer" },
  firmware_baseline_define: { method: "POST", path: "/api/firmware-baselines", role: "admin" },
  firmware_baseline_remove: { method: "POST", path: "/api/firmware-baselines/remove", role: "admin" },
  reports_page: { method: "GET", path: "/api/pages/reports", role: "viewer" },
  report_run: { method: "POST", path: "/api/reports/run", role: "operator" },
  report_define: { method: "POST", path: "/api/reports/definitions", role: "operator" },
  report_definitions: { method: "GET", path: "/api/reports/definitions", role: "viewer" },
  report_history: { method: "GET", path: "/api/reports/history", role: "viewer" },
  report_folders: { method: "GET", path: "/api/reports/folders", role: "viewer" },
  report_folder_add: { method: "POST", path: "/api/reports/folders", role: "admin" },
  report_folder_remove: { method: "POST", path: "/api/reports/folders/remove", role: "admin" },
  shell_page: { method: "GET", path: "/api/pages/shell", role: "viewer" },
  dashboard_page: { method: "GET", path: "/api/pages/dashboard", role: "viewer" },
  inventory_page: { method: "GET", path: "/api/pages/inventory", role: "viewer" },
  vm_detail: { method: "GET", path: "/api/vms/detail", role: "viewer" },
  host_detail: { method: "GET", path: "/api/hosts/detail", role: "viewer" },
  servers_page: { method: "GET", path: "/api/pages/servers", role: "viewer" },
  server_detail: { method: "GET", path: "/api/servers/detail", role: "viewer" },
  jobs_page: { method: "GET", path: "/api/pages/jobs", role: "viewer" },
  sources_page: { method: "GET", path: "/api/pages/sources", role: "viewer" },
  settings_page: { method: "GET", path: "/api/pages/settings", role: "viewer" },
} as const;

export type OperationName = keyof typeof operations;

/** How a call reaches the backend: Tauri IPC in the desktop, HTTP in a browser. */
export interface Transport {
  call<T>(op: OperationName, method: HttpMethod, path: string, input: unknown): Promise<T>;
}

/** A typed client: one method per operation. */
export function makeApi(transport: Transport) {
  return {
    /** The status page: connection, schema version, row counts, pending approvals, kill switch. Needs: viewer. */
    status: (input: NoInput = {}): Promise<StatusPage> =>
      transport.call<StatusPage>("status", operations.status.method, operations.status.path, input),
    /** Who this session is and what it may do (a hint for hiding actions; the database decides). Needs: viewer. */
    me: (input: NoInput = {}): Promise<Me> =>
      transport.call<Me>("me", operations.me.method, operations.me.path, input),
    /** Every user (admins manage them). Needs: viewer. */
    users: (input: NoInput = {}): Promise<Array<User>> =>
      transport.call<Array<User>>("users", operations.users.method, operations.users.path, input),
    /** Create a login and its user, or map an existing login (admins). Needs: admin. */
    user_add: (input: UserAddInput): Promise<User> =>
      transport.call<User>("user_add", operations.user_add.method, operations.user_add.path, input),
    /** Refuse a user's logins and end their sessions (admins). Needs: admin. */
    user_disable: (input: EmailInput): Promise<User> =>
      transport.call<User>("user_disable", operations.user_disable.method, operations.user_disable.path, input),
    /** Let a disabled user sign in again (admins). Needs: admin. */
    user_enable: (input: EmailInput): Promise<User> =>
      transport.call<User>("user_enable", operations.user_enable.method, operations.user_enable.path, input),
    /** Change a user's role (admins). Needs: admin. */
    user_set_role: (input: UserRoleInput): Promise<User> =>
      transport.call<User>("user_set_role", operations.user_set_role.method, operations.user_set_role.path, input),
    /** Replace a user's capabilities (admins). Needs: admin. */
    user_set_capabilities: (input: UserCapabilitiesInput): Promise<User> =>
      transport.call<User>("user_set_capabilities", operations.user_set_capabilities.method, operations.user_set_capabilities.path, input),
    /** Set a user's password: admins anyone's, everyone their own (only a SCRAM verifier is stored). Needs: admin. */
    user_set_password: (input: UserPasswordInput): Promise<Done> =>
      transport.call<Done>("user_set_password", operations.user_set_password.method, operations.user_set_password.path, input),
    /** Every service identity, without its credentials. Needs: viewer. */
    service_identities: (input: NoInput = {}): Promise<Array<ServiceIdentity>> =>
      transport.call<Array<ServiceIdentity>>("service_identities", operations.service_identities.method, operations.service_identities.path, input),
    /** Seal and store credentials for a new service identity (admins). Needs: admin. */
    service_identity_add: (input: ServiceIdentityInput): Promise<ServiceIdentity> =>
      transport.call<ServiceIdentity>("service_identity_add", operations.service_identity_add.method, operations.service_identity_add.path, input),
    /** Replace a service identity's credentials (admins). Needs: admin. */
    service_identity_rotate: (input: ServiceIdentityRotateInput): Promise<ServiceIdentity> =>
      transport.call<ServiceIdentity>("service_identity_rotate", operations.service_identity_rotate.method, operations.service_identity_rotate.path, input),
    /** Open a service identity's credentials with this machine's worker key and record the result. Needs: worker. */
    service_identity_test: (input: IdentityNameInput): Promise<IdentityTest> =>
      transport.call<IdentityTest>("service_identity_test", operations.service_identity_test.method, operations.service_identity_test.path, input),
    /** Re-encrypt every identity this machine's key opens for the currently trusted worker keys (admins). Needs: admin. */
    service_identities_reseal: (input: NoInput = {}): Promise<Reseal> =>
      transport.call<Reseal>("service_identities_reseal", operations.service_identities_reseal.method, operations.service_identities_reseal.path, input),
    /** Worker public keys credentials are sealed for, revoked ones included. Needs: viewer. */
    worker_keys: (input: NoInput = {}): Promise<Array<WorkerKeyInfo>> =>
      transport.call<Array<WorkerKeyInfo>>("worker_keys", operations.worker_keys.method, operations.worker_keys.path, input),
    /** Trust a worker's public key: credentials sealed from now on include it (admins). Needs: admin. */
    worker_key_trust: (input: WorkerKeyInput): Promise<Done> =>
      transport.call<Done>("worker_key_trust", operations.worker_key_trust.method, operations.worker_key_trust.path, input),
    /** Stop sealing credentials for a worker key (admins). Needs: admin. */
    worker_key_revoke: (input: WorkerKeyInput): Promise<Done> =>
      transport.call<Done>("worker_key_revoke", operations.worker_key_revoke.method, operations.worker_key_revoke.path, input),
    /** Regions, countries, sites, inference rules and conflicts: the Sites page. Needs: viewer. */
    sites_page: (input: NoInput = {}): Promise<SitesPage> =>
      transport.call<SitesPage>("sites_page", operations.sites_page.method, operations.sites_page.path, input),
    /** Every site, by region and country. Needs: viewer. */
    sites: (input: NoInput = {}): Promise<Array<Site>> =>
      transport.call<Array<Site>>("sites", operations.sites.method, operations.sites.path, input),
    /** Add a site to a country (admins). Needs: admin. */
    site_add: (input: NewSite): Promise<Site> =>
      transport.call<Site>("site_add", operations.site_add.method, operations.site_add.path, input),
    /** Change a site's name, time zone or status (admins). Needs: admin. */
    site_update: (input: SiteUpdateInput): Promise<Site> =>
      transport.call<Site>("site_update", operations.site_update.method, operations.site_update.path, input),
    /** Remove a site; its prefixes and sources stay, without a site (admins). Needs: admin. */
    site_remove: (input: SiteCodeInput): Promise<SiteChanged> =>
      transport.call<SiteChanged>("site_remove", operations.site_remove.method, operations.site_remove.path, input),
    /** Regions (EMEA, US-EAST, …). Needs: viewer. */
    regions: (input: NoInput = {}): Promise<Array<Region>> =>
      transport.call<Array<Region>>("regions", operations.regions.method, operations.regions.path, input),
    /** Add a region (admins). Needs: admin. */
    region_add: (input: RegionAddInput): Promise<Region> =>
      transport.call<Region>("region_add", operations.region_add.method, operations.region_add.path, input),
    /** Countries within regions. Needs: viewer. */
    countries: (input: NoInput = {}): Promise<Array<Country>> =>
      transport.call<Array<Country>>("countries", operations.countries.method, operations.countries.path, input),
    /** Add a country to a region (admins). Needs: admin. */
    country_add: (input: CountryAddInput): Promise<Country> =>
      transport.call<Country>("country_add", operations.country_add.method, operations.country_add.path, input),
    /** The rules that place things at sites. Needs: viewer. */
    site_rules: (input: NoInput = {}): Promise<Array<SiteRule>> =>
      transport.call<Array<SiteRule>>("site_rules", operations.site_rules.method, operations.site_rules.path, input),
    /** Add an inference rule: a name pattern (vcenter, dns) or a VLAN (admins). Needs: admin. */
    site_rule_add: (input: SiteRuleAddInput): Promise<SiteRule> =>
      transport.call<SiteRule>("site_rule_add", operations.site_rule_add.method, operations.site_rule_add.path, input),
    /** What a rule would place, and what would move, before it is saved: inference run with it, then rolled back (admins). Needs: admin. */
    site_rule_preview: (input: SiteRuleAddInput): Promise<RulePreview> =>
      transport.call<RulePreview>("site_rule_preview", operations.site_rule_preview.method, operations.site_rule_preview.path, input),
    /** Remove an inference rule (admins). Needs: admin. */
    site_rule_remove: (input: RuleIdInput): Promise<SiteChanged> =>
      transport.call<SiteChanged>("site_rule_remove", operations.site_rule_remove.method, operations.site_rule_remove.path, input),
    /** Run site inference now (operators; it also runs after every sync). Needs: operator. */
    site_infer: (input: NoInput = {}): Promise<Array<InferenceCount>> =>
      transport.call<Array<InferenceCount>>("site_infer", operations.site_infer.method, operations.site_infer.path, input),
    /** Things whose inference methods name different sites, with every opinion. Needs: viewer. */
    site_conflicts: (input: NoInput = {}): Promise<Array<SiteConflict>> =>
      transport.call<Array<SiteConflict>>("site_conflicts", operations.site_conflicts.method, operations.site_conflicts.path, input),
    /** Where a VM, host, server or observed address is, with every opinion and its evidence. Needs: viewer. */
    site_placement: (input: EntityInput): Promise<Placement> =>
      transport.call<Placement>("site_placement", operations.site_placement.method, operations.site_placement.path, input),
    /** Place something at a site by hand: it wins and survives resyncs (operators). Needs: operator. */
    site_pin: (input: PinInput): Promise<Placement> =>
      transport.call<Placement>("site_pin", operations.site_pin.method, operations.site_pin.path, input),
    /** Remove a manual placement; inference decides again (operators). Needs: operator. */
    site_unpin: (input: EntityInput): Promise<Placement> =>
      transport.call<Placement>("site_unpin", operations.site_unpin.method, operations.site_unpin.path, input),
    /** Every vCenter, iDRAC and OpenManage Enterprise EIO syncs from, with its last sync. Needs: viewer. */
    sources: (input: NoInput = {}): Promise<Array<Source>> =>
      transport.call<Array<Source>>("sources", operations.sources.method, operations.sources.path, input),
    /** Add a source, reusing a service identity or creating one with it (admins). Needs: admin. */
    source_add: (input: SourceAddInput): Promise<Source> =>
      transport.call<Source>("source_add", operations.source_add.method, operations.source_add.path, input),
    /** Change a source: address, identity, site, driver, trust (re-pin), enabled (admins). Needs: admin. */
    source_update: (input: SourceUpdateInput): Promise<Source> =>
      transport.call<Source>("source_update", operations.source_update.method, operations.source_update.path, input),
    /** Remove a source and its cached inventory, or (dry_run) say what would go (admins). Needs: admin. */
    source_remove: (input: SourceRemoveInput): Promise<SourceRemoval> =>
      transport.call<SourceRemoval>("source_remove", operations.source_remove.method, operations.source_remove.path, input),
    /** Read the certificate an endpoint presents, to trust or refuse it; sends it nothing (admins). Needs: admin. */
    source_probe: (input: SourceProbeInput): Promise<SourceProbe> =>
      transport.call<SourceProbe>("source_probe", operations.source_probe.method, operations.source_probe.path, input),
    /** Add iDRACs from CSV text, or (dry_run) check every row and say what would happen (admins). Needs: admin. */
    source_import_idracs: (input: IdracImportInput): Promise<ImportResult> =>
      transport.call<ImportResult>("source_import_idracs", operations.source_import_idracs.method, operations.source_import_idracs.path, input),
    /** VMs with the seed's fields, optionally narrowed by a fuzzy search. Needs: viewer. */
    vms: (input: VmListInput): Promise<Array<VmRow>> =>
      transport.call<Array<VmRow>>("vms", operations.vms.method, operations.vms.path, input),
    /** ESXi hosts: hardware, state, management IPs, VM count, mapped server. Needs: viewer. */
    hosts: (input: NoInput = {}): Promise<Array<HostRow>> =>
      transport.call<Array<HostRow>>("hosts", operations.hosts.method, operations.hosts.path, input),
    /** Physical servers: service tag, model, generation, power, health, firmware, mapping. Needs: viewer. */
    servers: (input: NoInput = {}): Promise<Array<ServerRow>> =>
      transport.call<Array<ServerRow>>("servers", operations.servers.method, operations.servers.path, input),
    /** A server's firmware, component by component, with its baseline verdict. Needs: viewer. */
    server_firmware: (input: ServerNameInput): Promise<Array<FirmwareRow>> =>
      transport.call<Array<FirmwareRow>>("server_firmware", operations.server_firmware.method, operations.server_firmware.path, input),
    /** Server-to-host mappings with method, confidence and status. Needs: viewer. */
    mappings: (input: NoInput = {}): Promise<Array<MappingRow>> =>
      transport.call<Array<MappingRow>>("mappings", operations.mappings.method, operations.mappings.path, input),
    /** Recompute the automatic server-to-host mappings now (operators). Needs: operator. */
    mappings_refresh: (input: NoInput = {}): Promise<MappingRefresh> =>
      transport.call<MappingRefresh>("mappings_refresh", operations.mappings_refresh.method, operations.mappings_refresh.path, input),
    /** Map a server to an ESXi host by hand (operators); it wins over every automatic mapping. Needs: operator. */
    mapping_set: (input: ManualMappingInput): Promise<ServerDetail> =>
      transport.call<ServerDetail>("mapping_set", operations.mapping_set.method, operations.mapping_set.path, input),
    /** The IPAM page model: the prefix tree per routing domain with utilization planned and observed, open findings. Needs: viewer. */
    ipam_page: (input: IpamPageQuery): Promise<IpamPage> =>
      transport.call<IpamPage>("ipam_page", operations.ipam_page.method, operations.ipam_page.path, input),
    /** Routing domains (VRFs) with how many prefixes each holds. Needs: viewer. */
    ipam_domains: (input: NoInput = {}): Promise<Array<RoutingDomain>> =>
      transport.call<Array<RoutingDomain>>("ipam_domains", operations.ipam_domains.method, operations.ipam_domains.path, input),
    /** Add a routing domain (admins). Needs: admin. */
    ipam_domain_add: (input: DomainAddInput): Promise<RoutingDomain> =>
      transport.call<RoutingDomain>("ipam_domain_add", operations.ipam_domain_add.method, operations.ipam_domain_add.path, input),
    /** Prefixes with parent and utilization, optionally of one domain or inside one block. Needs: viewer. */
    ipam_prefixes: (input: PrefixListInput): Promise<Array<Prefix>> =>
      transport.call<Array<Prefix>>("ipam_prefixes", operations.ipam_prefixes.method, operations.ipam_prefixes.path, input),
    /** One prefix: ancestors, children, planned and observed addresses, free space, findings. Needs: viewer. */
    ipam_prefix: (input: PrefixInput): Promise<PrefixPage> =>
      transport.call<PrefixPage>("ipam_prefix", operations.ipam_prefix.method, operations.ipam_prefix.path, input),
    /** Add a prefix to a routing domain (operators). Needs: operator. */
    ipam_prefix_add: (input: PrefixAddInput): Promise<Prefix> =>
      transport.call<Prefix>("ipam_prefix_add", operations.ipam_prefix_add.method, operations.ipam_prefix_add.path, input),
    /** Change a prefix's status, site, VLAN, description or threshold (operators). Needs: operator. */
    ipam_prefix_update: (input: PrefixUpdateInput): Promise<Prefix> =>
      transport.call<Prefix>("ipam_prefix_update", operations.ipam_prefix_update.method, operations.ipam_prefix_update.path, input),
    /** Remove a prefix; its children and addresses move to the prefix above it (operators). Needs: operator. */
    ipam_prefix_remove: (input: PrefixInput): Promise<Removed> =>
      transport.call<Removed>("ipam_prefix_remove", operations.ipam_prefix_remove.method, operations.ipam_prefix_remove.path, input),
    /** The free blocks of a prefix as CIDRs (only those holding a /length, when given). Needs: viewer. */
    ipam_available: (input: AvailableInput): Promise<AvailableRanges> =>
      transport.call<AvailableRanges>("ipam_available", operations.ipam_available.method, operations.ipam_available.path, input),
    /** Plan the next free address of a prefix, or create its next free /length (operators; race-free). Needs: operator. */
    ipam_allocate: (input: AllocateInput): Promise<Allocation> =>
      transport.call<Allocation>("ipam_allocate", operations.ipam_allocate.method, operations.ipam_allocate.path, input),
    /** Who uses this IP: the prefixes holding it, its plans, and every report of it over time. Needs: viewer. */
    ipam_lookup: (input: AddressInput): Promise<AddressInfo> =>
      transport.call<AddressInfo>("ipam_lookup", operations.ipam_lookup.method, operations.ipam_lookup.path, input),
    /** Plan a chosen address (operators). Needs: operator. */
    ipam_assign: (input: AssignInput): Promise<Assignment> =>
      transport.call<Assignment>("ipam_assign", operations.ipam_assign.method, operations.ipam_assign.path, input),
    /** Change a planned address's host name, MAC, description or status (operators). Needs: operator. */
    ipam_assignment_update: (input: AssignmentUpdateInput): Promise<Assignment> =>
      transport.call<Assignment>("ipam_assignment_update", operations.ipam_assignment_update.method, operations.ipam_assignment_update.path, input),
    /** Release a planned or reserved address (operators). Needs: operator. */
    ipam_release: (input: AddressInput): Promise<Assignment> =>
      transport.call<Assignment>("ipam_release", operations.ipam_release.method, operations.ipam_release.path, input),
    /** IPAM findings, open ones unless asked for all. Needs: viewer. */
    findings: (input: FindingsInput): Promise<Array<Finding>> =>
      transport.call<Array<Finding>>("findings", operations.findings.method, operations.findings.path, input),
    /** Acknowledge a finding as yourself, with a note saying why (operators). Needs: operator. */
    finding_acknowledge: (input: AcknowledgeInput): Promise<Finding> =>
      transport.call<Finding>("finding_acknowledge", operations.finding_acknowledge.method, operations.finding_acknowledge.path, input),
    /** Run the findings engine now (operators; it also runs after every sync). Needs: operator. */
    findings_run: (input: NoInput = {}): Promise<FindingRun> =>
      transport.call<FindingRun>("findings_run", operations.findings_run.method, operations.findings_run.path, input),
    /** Fuzzy search over VMs, hosts, servers, service tags, addresses, prefixes and MACs, ranked. Needs: viewer. */
    search: (input: SearchInput): Promise<SearchResults> =>
      transport.call<SearchResults>("search", operations.search.method, operations.search.path, input),
    /** Jobs, newest first, optionally in one state. Needs: viewer. */
    jobs: (input: JobsQuery): Promise<Array<JobSummary>> =>
      transport.call<Array<JobSummary>>("jobs", operations.jobs.method, operations.jobs.path, input),
    /** One job: spec, policy, plan, why it paused, steps and events. Needs: viewer. */
    job_detail: (input: JobIdInput): Promise<JobDetail> =>
      transport.call<JobDetail>("job_detail", operations.job_detail.method, operations.job_detail.path, input),
    /** Plan a job and submit it (with dry_run: only plan it). Needs: operator. */
    job_submit: (input: SubmitRequest): Promise<Submitted> =>
      transport.call<Submitted>("job_submit", operations.job_submit.method, operations.job_submit.path, input),
    /** Approve someone else's job (approvers; never your own). Needs: approver. */
    job_approve: (input: JobCommentInput): Promise<JobSummary> =>
      transport.call<JobSummary>("job_approve", operations.job_approve.method, operations.job_approve.path, input),
    /** Deny someone else's job. Needs: approver. */
    job_deny: (input: JobCommentInput): Promise<JobSummary> =>
      transport.call<JobSummary>("job_deny", operations.job_deny.method, operations.job_deny.path, input),
    /** Cancel a job (a running one stops at its next safe point). Needs: operator. */
    job_cancel: (input: JobCancelInput): Promise<JobSummary> =>
      transport.call<JobSummary>("job_cancel", operations.job_cancel.method, operations.job_cancel.path, input),
    /** Answer a paused job: cancel, retry, or shut down / suspend the VMs blocking it. Needs: operator. */
    job_decide: (input: JobDecideInput): Promise<JobSummary> =>
      transport.call<JobSummary>("job_decide", operations.job_decide.method, operations.job_decide.path, input),
    /** The global kill switch: engaged or not, by whom and why. Needs: viewer. */
    kill_switch: (input: NoInput = {}): Promise<KillSwitch> =>
      transport.call<KillSwitch>("kill_switch", operations.kill_switch.method, operations.kill_switch.path, input),
    /** Engage (operators) or release (admins) the global kill switch. Needs: operator. */
    kill_switch_set: (input: KillSwitchInput): Promise<KillSwitch> =>
      transport.call<KillSwitch>("kill_switch_set", operations.kill_switch_set.method, operations.kill_switch_set.path, input),
    /** Named job policies, `default` first. Needs: viewer. */
    job_policies: (input: NoInput = {}): Promise<Array<PolicyChoice>> =>
      transport.call<Array<PolicyChoice>>("job_policies", operations.job_policies.method, operations.job_policies.path, input),
    /** Create a named job policy or change one (admins; audited): the only way a job may skip approval or stop VMs. Needs: admin. */
    job_policy_save: (input: PolicyInput): Promise<PolicyChoice> =>
      transport.call<PolicyChoice>("job_policy_save", operations.job_policy_save.method, operations.job_policy_save.path, input),
    /** Change some fields of a named policy (the others stay); a new one starts from the safe defaults. Needs: admin. */
    job_policy_change: (input: PolicyChange): Promise<PolicyChoice> =>
      transport.call<PolicyChoice>("job_policy_change", operations.job_policy_change.method, operations.job_policy_change.path, input),
    /** Remove a named job policy (admins; `default` stays). Jobs keep the policy they were submitted with. Needs: admin. */
    job_policy_remove: (input: PolicyNameInput): Promise<Array<PolicyChoice>> =>
      transport.call<Array<PolicyChoice>>("job_policy_remove", operations.job_policy_remove.method, operations.job_policy_remove.path, input),
    /** How many disruptive jobs may run at once per cluster and per site. Needs: viewer. */
    concurrency_limits: (input: NoInput = {}): Promise<Array<ConcurrencyLimit>> =>
      transport.call<Array<ConcurrencyLimit>>("concurrency_limits", operations.concurrency_limits.method, operations.concurrency_limits.path, input),
    /** Set a cluster's or site's limit, or the default (admins; audited); no max_running removes it. Needs: admin. */
    concurrency_limit_set: (input: LimitInput): Promise<Array<ConcurrencyLimit>> =>
      transport.call<Array<ConcurrencyLimit>>("concurrency_limit_set", operations.concurrency_limit_set.method, operations.concurrency_limit_set.path, input),
    /** Firmware baselines: those defined in EIO (with their components) and OpenManage Enterprise's. Needs: viewer. */
    firmware_baselines: (input: NoInput = {}): Promise<Array<Baseline>> =>
      transport.call<Array<Baseline>>("firmware_baselines", operations.firmware_baselines.method, operations.firmware_baselines.path, input),
    /** Define a firmware baseline in EIO, or replace the one of that name (admins; audited): per component the version and its package. Needs: admin. */
    firmware_baseline_define: (input: BaselineInput): Promise<Baseline> =>
      transport.call<Baseline>("firmware_baseline_define", operations.firmware_baseline_define.method, operations.firmware_baseline_define.path, input),
    /** Remove a firmware baseline defined in EIO (admins). Jobs keep the plan they were approved with. Needs: admin. */
    firmware_baseline_remove: (input: BaselineNameInput): Promise<Array<Baseline>> =>
      transport.call<Array<Baseline>>("firmware_baseline_remove", operations.firmware_baseline_remove.method, operations.firmware_baseline_remove.path, input),
    /** The Reports page: report types and their filters, definitions, schedules, history. Needs: viewer. */
    reports_page: (input: NoInput = {}): Promise<ReportsPage> =>
      transport.call<ReportsPage>("reports_page", operations.reports_page.method, operations.reports_page.path, input),
    /** Run a report now, as yourself: a definition (every format, into its folder) or one type in one format (operators). Needs: operator. */
    report_run: (input: ReportRunInput): Promise<Array<ReportExecution>> =>
      transport.call<Array<ReportExecution>>("report_run", operations.report_run.method, operations.report_run.path, input),
    /** Create a report definition, or change yours of that name; a cron schedule makes the job engine run it (operators). Needs: operator. */
    report_define: (input: NewDefinition): Promise<ReportDefinition> =>
      transport.call<ReportDefinition>("report_define", operations.report_define.method, operations.report_define.path, input),
    /** Report definitions with their schedules and folders. Needs: viewer. */
    report_definitions: (input: NoInput = {}): Promise<Array<ReportDefinition>> =>
      transport.call<Array<ReportDefinition>>("report_definitions", operations.report_definitions.method, operations.report_definitions.path, input),
    /** Report executions, newest first, optionally of one definition. Needs: viewer. */
    report_history: (input: ReportHistoryInput): Promise<Array<ReportExecution>> =>
      transport.call<Array<ReportExecution>>("report_history", operations.report_history.method, operations.report_history.path, input),
    /** The folders, besides the reports folder, that report definitions may write to. Needs: viewer. */
    report_folders: (input: NoInput = {}): Promise<Array<OutputFolder>> =>
      transport.call<Array<OutputFolder>>("report_folders", operations.report_folders.method, operations.report_folders.path, input),
    /** Allow report definitions to write to a folder (admins). Needs: admin. */
    report_folder_add: (input: ReportFolderInput): Promise<Array<OutputFolder>> =>
      transport.call<Array<OutputFolder>>("report_folder_add", operations.report_folder_add.method, operations.report_folder_add.path, input),
    /** Take a folder off the list (admins). Needs: admin. */
    report_folder_remove: (input: ReportFolderInput): Promise<Array<OutputFolder>> =>
      transport.call<Array<OutputFolder>>("report_folder_remove", operations.report_folder_remove.method, operations.report_folder_remove.path, input),
    /** The frame around every page: who is signed in, approvals waiting, the kill switch. Needs: viewer. */
    shell_page: (input: NoInput = {}): Promise<ShellModel> =>
      transport.call<ShellModel>("shell_page", operations.shell_page.method, operations.shell_page.path, input),
    /** The dashboard page model: inventory per site, sync health, findings, active jobs, approvals, kill switch. Needs: viewer. */
    dashboard_page: (input: NoInput = {}): Promise<DashboardPage> =>
      transport.call<DashboardPage>("dashboard_page", operations.dashboard_page.method, operations.dashboard_page.path, input),
    /** A window of VMs or hosts, searched and filtered, with the filters' facets. Needs: viewer. */
    inventory_page: (input: InventoryQuery): Promise<InventoryPage> =>
      transport.call<InventoryPage>("inventory_page", operations.inventory_page.method, operations.inventory_page.path, input),
    /** One VM: NICs, IPs with confidence, tags, custom attributes, its host's server mapping. Needs: viewer. */
    vm_detail: (input: IdInput): Promise<VmDetail> =>
      transport.call<VmDetail>("vm_detail", operations.vm_detail.method, operations.vm_detail.path, input),
    /** One ESXi host: hardware, mapping candidates with evidence, its VMs. Needs: viewer. */
    host_detail: (input: IdInput): Promise<HostDetail> =>
      transport.call<HostDetail>("host_detail", operations.host_detail.method, operations.host_detail.path, input),
    /** A window of Dell servers, searched and filtered, with the estate's generations, compliance and mappings to settle. Needs: viewer. */
    servers_page: (input: ServersQuery): Promise<ServersPage> =>
      transport.call<ServersPage>("servers_page", operations.servers_page.method, operations.servers_page.path, input),
    /** One server: firmware per component against the baseline, mapping candidates with evidence. Needs: viewer. */
    server_detail: (input: ServerInput): Promise<ServerDetail> =>
      transport.call<ServerDetail>("server_detail", operations.server_detail.method, operations.server_detail.path, input),
    /** The jobs page model: jobs, the approval queue with plans, the kill switch, wizard choices. Needs: viewer. */
    jobs_page: (input: JobsQuery): Promise<JobsPage> =>
      transport.call<JobsPage>("jobs_page", operations.jobs_page.method, operations.jobs_page.path, input),
    /** A page of the sources (the settings page's Sources tab), searched and filtered, with counts per kind and status. Needs: viewer. */
    sources_page: (input: SourcesQuery): Promise<SourcesPage> =>
      transport.call<SourcesPage>("sources_page", operations.sources_page.method, operations.sources_page.path, input),
    /** The settings page model: connection, service identities, users, sites, workers (the sources are `sources_page`). Needs: viewer. */
    settings_page: (input: NoInput = {}): Promise<SettingsPage> =>
      transport.call<SettingsPage>("settings_page", operations.settings_page.method, operations.settings_page.path, input),
  };
}

export type Api = ReturnType<typeof makeApi>;

/** Invokes a desktop shell command (Tauri `invoke`). */
export type DesktopInvoke = <T>(command: string, args: Record<string, unknown>) => Promise<T>;

/** Commands only the desktop shell answers (signing in happens before any session exists). */
export function makeDesktop(invoke: DesktopInvoke) {
  return {
    /** Where the desktop stands: connected, to what, and why not. */
    connection_state: (): Promise<ConnectionState> => invoke<ConnectionState>("connection_state", {}),
    /** Connect with these settings; save the address (and the password in the keyring, if asked). */
    sign_in: (input: SignInInput): Promise<ConnectionState> => invoke<ConnectionState>("sign_in", { input }),
    /** Close the session; the sign-in page shows next. */
    sign_out: (): Promise<ConnectionState> => invoke<ConnectionState>("sign_out", {}),
    /** Open a recorded report file (or its folder) with the desktop's default application. */
    open_report: (input: OpenReportInput): Promise<OpenedReport> => invoke<OpenedReport>("open_report", { input }),
    /** Save a copy of a recorded report file where the operator chooses (a Save as… dialog). */
    save_report: (input: OpenReportInput): Promise<SavedReport> => invoke<SavedReport>("save_report", { input }),
    /** Try the demo lab: simulators in this process and EIO set up on them (embedded default only). */
    start_demo: (): Promise<ConnectionState> => invoke<ConnectionState>("start_demo", {}),
  };
}

export type Desktop = ReturnType<typeof makeDesktop>;
