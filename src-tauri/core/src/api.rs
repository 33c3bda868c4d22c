//! The operations EIO's adapters call: one registry for the desktop (Tauri IPC), the HTTP
//! API (`eio serve`), the command line (`eio …`, through [`call`] and the typed [`op`]
//! markers) and the generated TypeScript, so they can't drift apart.
//!
//! Each operation has a name, an HTTP method and path, a typed input and output, and a
//! handler in the service layer. [`dispatch`] runs one by name on a [`Session`];
//! [`typescript_bindings`] renders the types and a typed client for `ui/`; a test keeps
//! `ui/src/api/bindings.gen.ts` equal to it. Adapters stay one-liners over this.
use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::{TypeVisitor as _, TS};

use crate::error::{ApiError, Error, Result};
use crate::identity::ops::{EmailInput, ServiceIdentityInput, UserAddInput};
use crate::identity::service_identities::ServiceIdentity;
use crate::identity::users::User;
use crate::identity::Me;
use crate::status::StatusPage;
use crate::Database;

/// One caller's view of the database: everything an operation needs. The desktop and the
/// CLI also hold this machine's worker key, for the few operations that open credentials
/// here (testing and resealing them); `eio serve`'s web sessions never do.
#[derive(Debug, Clone)]
pub struct Session {
    pub db: Database,
    worker_key: Option<std::sync::Arc<crate::identity::sealing::WorkerKey>>,
}

impl Session {
    pub fn new(db: Database) -> Self {
        Session { db, worker_key: None }
    }

    /// This session opens credentials with `key` (this machine's worker key).
    pub fn with_worker_key(mut self, key: crate::identity::sealing::WorkerKey) -> Self {
        self.worker_key = Some(std::sync::Arc::new(key));
        self
    }

    /// This machine's worker key, or why there is none.
    pub fn worker_key(&self) -> Result<&crate::identity::sealing::WorkerKey> {
        // Forbidden, not a server fault: this session can't do it here (a web session never can).
        self.worker_key.as_deref().ok_or_else(|| {
            Error::forbidden(
                "this needs a worker key on the machine that runs it: run it from the desktop or `eio` on a worker \
                 (`eio identity init-worker-key` makes one)",
            )
        })
    }
}

/// Input of operations that take none.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, JsonSchema)]
pub struct NoInput {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
}

/// The least a login must be for the database to let the operation through: a hint for
/// adapters and readers (the UI hides, the OpenAPI document says), never the check — the
/// database decides every call. `Worker` operations also need this machine's worker key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Approver,
    Admin,
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
            Role::Worker => "worker",
        }
    }
}

/// The description of one operation.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct OperationSpec {
    pub name: &'static str,
    pub method: HttpMethod,
    pub path: &'static str,
    /// Who may call it (see [`Role`]).
    pub role: Role,
    pub doc: &'static str,
}

macro_rules! operations {
    ($( $(#[doc = $doc:literal])* $name:ident : $method:ident $path:literal [$role:ident], $input:ty => $output:ty = $handler:path; )*) => {
        /// Every operation, in declaration order.
        pub const OPERATIONS: &[OperationSpec] = &[
            $( OperationSpec { name: stringify!($name), method: HttpMethod::$method, path: $path, role: Role::$role,
                               doc: concat!($($doc, "\n"),*) }, )*
        ];

        /// Run operation `op` with a JSON input (`null` counts as `{}`).
        pub async fn dispatch(session: &Session, op: &str, input: serde_json::Value) -> Result<serde_json::Value, ApiError> {
            let input = if input.is_null() { serde_json::json!({}) } else { input };
            match op {
                $( stringify!($name) => {
                    let input: $input = serde_json::from_value(input).map_err(|e| {
                        ApiError::from(Error::invalid(format!("bad input for {}: {e}", stringify!($name))))
                    })?;
                    let output: $output = $handler(session, input).await.map_err(ApiError::from)?;
                    serde_json::to_value(output).map_err(|e| ApiError::from(Error::internal(e.to_string())))
                } )*
                other => Err(ApiError::from(Error::not_found(format!("no operation named \"{other}\"")))),
            }
        }

        /// One type per operation, for adapters that call with typed values (the CLI):
        /// `api::call::<op::source_add>(&session, input)` runs exactly what `dispatch` runs.
        pub mod op {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[doc = $doc])*
                #[allow(non_camel_case_types)]
                pub struct $name;
                impl super::Operation for $name {
                    const NAME: &'static str = stringify!($name);
                    type Input = $input;
                    type Output = $output;
                    fn run(
                        session: &super::Session,
                        input: $input,
                    ) -> impl std::future::Future<Output = crate::error::Result<$output>> + Send {
                        $handler(session, input)
                    }
                }
            )*
        }

        fn visit_operation_types(v: &mut TypeCollector) {
            $( v.visit::<$input>(); v.visit::<$output>(); )*
        }

        fn operation_signatures(cfg: &ts_rs::Config) -> Vec<(&'static str, String, String)> {
            vec![ $( (stringify!($name), <$input as TS>::name(cfg), <$output as TS>::name(cfg)), )* ]
        }

        /// JSON Schemas of every operation's (input, output), in declaration order; shared
        /// definitions collect in `generator` (the HTTP API's OpenAPI document uses them).
        pub fn operation_schemas(generator: &mut schemars::SchemaGenerator) -> Vec<(schemars::Schema, schemars::Schema)> {
            vec![ $( (generator.subschema_for::<$input>(), generator.subschema_for::<$output>()), )* ]
        }
    };
}

/// An operation of the registry, as a type (see [`op`]).
pub trait Operation {
    const NAME: &'static str;
    type Input;
    type Output;
    fn run(session: &Session, input: Self::Input) -> impl std::future::Future<Output = Result<Self::Output>> + Send;
}

/// Run operation `O` with a typed input: the same handler [`dispatch`] runs by name.
pub async fn call<O: Operation>(session: &Session, input: O::Input) -> Result<O::Output> {
    O::run(session, input).await
}

// Grouped by domain; the generated client and the OpenAPI document list operations in this order.
operations! {
    // ----- Status ------------------------------------------------------------------------
    /// The status page: connection, schema version, row counts, pending approvals, kill switch.
    status: Get "/api/status" [Viewer], NoInput => StatusPage = crate::status::status_page;

    // ----- Identity: who I am, users, service identities, worker keys --------------------
    /// Who this session is and what it may do (a hint for hiding actions; the database decides).
    me: Get "/api/me" [Viewer], NoInput => Me = crate::identity::ops::me;
    /// Every user (admins manage them).
    users: Get "/api/users" [Viewer], NoInput => Vec<User> = crate::identity::ops::users;
    /// Create a login and its user, or map an existing login (admins).
    user_add: Post "/api/users" [Admin], UserAddInput => User = crate::identity::ops::user_add;
    /// Refuse a user's logins and end their sessions (admins).
    user_disable: Post "/api/users/disable" [Admin], EmailInput => User = crate::identity::ops::user_disable;
    /// Let a disabled user sign in again (admins).
    user_enable: Post "/api/users/enable" [Admin], EmailInput => User = crate::identity::ops::user_enable;
    /// Change a user's role (admins).
    user_set_role: Post "/api/users/role" [Admin], crate::identity::ops::UserRoleInput => User = crate::identity::ops::user_set_role;
    /// Replace a user's capabilities (admins).
    user_set_capabilities: Post "/api/users/capabilities" [Admin], crate::identity::ops::UserCapabilitiesInput => User = crate::identity::ops::user_set_capabilities;
    /// Set a user's password: admins anyone's, everyone their own (only a SCRAM verifier is stored).
    user_set_password: Post "/api/users/password" [Admin], crate::identity::ops::UserPasswordInput => crate::identity::ops::Done = crate::identity::ops::user_set_password;
    /// Every service identity, without its credentials.
    service_identities: Get "/api/service-identities" [Viewer], NoInput => Vec<ServiceIdentity> = crate::identity::ops::service_identities;
    /// Seal and store credentials for a new service identity (admins).
    service_identity_add: Post "/api/service-identities" [Admin], ServiceIdentityInput => ServiceIdentity = crate::identity::ops::service_identity_add;
    /// Replace a service identity's credentials (admins).
    service_identity_rotate: Post "/api/service-identities/rotate" [Admin], crate::identity::ops::ServiceIdentityRotateInput => ServiceIdentity = crate::identity::ops::service_identity_rotate;
    /// Open a service identity's credentials with this machine's worker key and record the result.
    service_identity_test: Post "/api/service-identities/test" [Worker], crate::identity::ops::IdentityNameInput => crate::identity::ops::IdentityTest = crate::identity::ops::service_identity_test;
    /// Re-encrypt every identity this machine's key opens for the currently trusted worker keys (admins).
    service_identities_reseal: Post "/api/service-identities/reseal" [Admin], NoInput => crate::identity::ops::Reseal = crate::identity::ops::service_identities_reseal;
    /// Worker public keys credentials are sealed for, revoked ones included.
    worker_keys: Get "/api/worker-keys" [Viewer], NoInput => Vec<crate::identity::service_identities::WorkerKeyInfo> = crate::identity::ops::worker_keys;
    /// Trust a worker's public key: credentials sealed from now on include it (admins).
    worker_key_trust: Post "/api/worker-keys" [Admin], crate::identity::ops::WorkerKeyInput => crate::identity::ops::Done = crate::identity::ops::worker_key_trust;
    /// Stop sealing credentials for a worker key (admins).
    worker_key_revoke: Post "/api/worker-keys/revoke" [Admin], crate::identity::ops::WorkerKeyInput => crate::identity::ops::Done = crate::identity::ops::worker_key_revoke;

    // ----- Sites: regions, countries, sites, inference rules, placements -----------------
    /// Regions, countries, sites, inference rules and conflicts: the Sites page.
    sites_page: Get "/api/pages/sites" [Viewer], NoInput => crate::sites::ops::SitesPage = crate::sites::ops::sites_page;
    /// Every site, by region and country.
    sites: Get "/api/sites" [Viewer], NoInput => Vec<crate::sites::Site> = crate::sites::ops::sites;
    /// Add a site to a country (admins).
    site_add: Post "/api/sites" [Admin], crate::sites::NewSite => crate::sites::Site = crate::sites::ops::site_add;
    /// Change a site's name, time zone or status (admins).
    site_update: Post "/api/sites/update" [Admin], crate::sites::ops::SiteUpdateInput => crate::sites::Site = crate::sites::ops::site_update;
    /// Remove a site; its prefixes and sources stay, without a site (admins).
    site_remove: Post "/api/sites/remove" [Admin], crate::sites::ops::SiteCodeInput => crate::sites::ops::SiteChanged = crate::sites::ops::site_remove;
    /// Regions (EMEA, US-EAST, …).
    regions: Get "/api/regions" [Viewer], NoInput => Vec<crate::sites::Region> = crate::sites::ops::regions;
    /// Add a region (admins).
    region_add: Post "/api/regions" [Admin], crate::sites::ops::RegionAddInput => crate::sites::Region = crate::sites::ops::region_add;
    /// Countries within regions.
    countries: Get "/api/countries" [Viewer], NoInput => Vec<crate::sites::Country> = crate::sites::ops::countries;
    /// Add a country to a region (admins).
    country_add: Post "/api/countries" [Admin], crate::sites::ops::CountryAddInput => crate::sites::Country = crate::sites::ops::country_add;
    /// The rules that place things at sites.
    site_rules: Get "/api/sites/rules" [Viewer], NoInput => Vec<crate::sites::SiteRule> = crate::sites::ops::site_rules;
    /// Add an inference rule: a name pattern (vcenter, dns) or a VLAN (admins).
    site_rule_add: Post "/api/sites/rules" [Admin], crate::sites::ops::SiteRuleAddInput => crate::sites::SiteRule = crate::sites::ops::site_rule_add;
    /// What a rule would place, and what would move, before it is saved: inference run with it, then rolled back (admins).
    site_rule_preview: Post "/api/sites/rules/preview" [Admin], crate::sites::ops::SiteRuleAddInput => crate::sites::RulePreview = crate::sites::ops::site_rule_preview;
    /// Remove an inference rule (admins).
    site_rule_remove: Post "/api/sites/rules/remove" [Admin], crate::sites::ops::RuleIdInput => crate::sites::ops::SiteChanged = crate::sites::ops::site_rule_remove;
    /// Run site inference now (operators; it also runs after every sync).
    site_infer: Post "/api/sites/infer" [Operator], NoInput => Vec<crate::sites::InferenceCount> = crate::sites::ops::site_infer;
    /// Things whose inference methods name different sites, with every opinion.
    site_conflicts: Get "/api/sites/conflicts" [Viewer], NoInput => Vec<crate::sites::SiteConflict> = crate::sites::ops::site_conflicts;
    /// Where a VM, host, server or observed address is, with every opinion and its evidence.
    site_placement: Get "/api/sites/placement" [Viewer], crate::sites::ops::EntityInput => crate::sites::Placement = crate::sites::ops::site_placement;
    /// Place something at a site by hand: it wins and survives resyncs (operators).
    site_pin: Post "/api/sites/pin" [Operator], crate::sites::ops::PinInput => crate::sites::Placement = crate::sites::ops::site_pin;
    /// Remove a manual placement; inference decides again (operators).
    site_unpin: Post "/api/sites/unpin" [Operator], crate::sites::ops::EntityInput => crate::sites::Placement = crate::sites::ops::site_unpin;

    // ----- Inventory: sources ------------------------------------------------------------
    /// Every vCenter, iDRAC and OpenManage Enterprise EIO syncs from, with its last sync.
    sources: Get "/api/sources" [Viewer], NoInput => Vec<crate::sources::Source> = crate::sources::ops::sources;
    /// Add a source, reusing a service identity or creating one with it (admins).
    source_add: Post "/api/sources" [Admin], crate::sources::ops::SourceAddInput => crate::sources::Source = crate::sources::ops::source_add;
    /// Change a source: address, identity, site, driver, trust (re-pin), enabled (admins).
    source_update: Post "/api/sources/update" [Admin], crate::sources::ops::SourceUpdateInput => crate::sources::Source = crate::sources::ops::source_update;
    /// Remove a source and its cached inventory, or (dry_run) say what would go (admins).
    source_remove: Post "/api/sources/remove" [Admin], crate::sources::ops::SourceRemoveInput => crate::sources::SourceRemoval = crate::sources::ops::source_remove;
    /// Read the certificate an endpoint presents, to trust or refuse it; sends it nothing (admins).
    source_probe: Post "/api/sources/probe" [Admin], crate::sources::ops::SourceProbeInput => crate::sources::ops::SourceProbe = crate::sources::ops::source_probe;
    /// Add iDRACs from CSV text, or (dry_run) check every row and say what would happen (admins).
    source_import_idracs: Post "/api/sources/import" [Admin], crate::sources::ops::IdracImportInput => crate::sources::import::ImportResult = crate::sources::ops::source_import_idracs;

    // ----- Inventory: VMs, hosts, servers and their firmware -----------------------------
    /// VMs with the seed's fields, optionally narrowed by a fuzzy search.
    vms: Get "/api/vms" [Viewer], crate::inventory::ops::VmListInput => Vec<crate::inventory::VmRow> = crate::inventory::ops::vms;
    /// ESXi hosts: hardware, state, management IPs, VM count, mapped server.
    hosts: Get "/api/hosts" [Viewer], NoInput => Vec<crate::inventory::HostRow> = crate::inventory::ops::hosts;
    /// Physical servers: service tag, model, generation, power, health, firmware, mapping.
    servers: Get "/api/servers" [Viewer], NoInput => Vec<crate::inventory::ServerRow> = crate::inventory::ops::servers;
    /// A server's firmware, component by component, with its baseline verdict.
    server_firmware: Get "/api/servers/firmware" [Viewer], crate::inventory::ops::ServerNameInput => Vec<crate::inventory::FirmwareRow> = crate::inventory::ops::server_firmware;

    // ----- Inventory: server-to-host mappings --------------------------------------------
    /// Server-to-host mappings with method, confidence and status.
    mappings: Get "/api/mappings" [Viewer], NoInput => Vec<crate::inventory::MappingRow> = crate::inventory::ops::mappings;
    /// Recompute the automatic server-to-host mappings now (operators).
    mappings_refresh: Post "/api/mappings/refresh" [Operator], NoInput => crate::inventory::ops::MappingRefresh = crate::inventory::ops::mappings_refresh;
    /// Map a server to an ESXi host by hand (operators); it wins over every automatic mapping.
    mapping_set: Post "/api/mappings/manual" [Operator], crate::inventory::ops::ManualMappingInput => crate::pages::servers::ServerDetail = crate::inventory::ops::mapping_set;

    // ----- IPAM: the page, routing domains, prefixes, addresses, findings ----------------
    /// The IPAM page model: the prefix tree per routing domain with utilization planned and observed, open findings.
    ipam_page: Get "/api/pages/ipam" [Viewer], crate::ipam::ops::IpamPageQuery => crate::ipam::ops::IpamPage = crate::ipam::ops::ipam_page;
    /// Routing domains (VRFs) with how many prefixes each holds.
    ipam_domains: Get "/api/ipam/domains" [Viewer], NoInput => Vec<crate::ipam::prefixes::RoutingDomain> = crate::ipam::ops::ipam_domains;
    /// Add a routing domain (admins).
    ipam_domain_add: Post "/api/ipam/domains" [Admin], crate::ipam::ops::DomainAddInput => crate::ipam::prefixes::RoutingDomain = crate::ipam::ops::ipam_domain_add;
    /// Prefixes with parent and utilization, optionally of one domain or inside one block.
    ipam_prefixes: Get "/api/ipam/prefixes" [Viewer], crate::ipam::ops::PrefixListInput => Vec<crate::ipam::prefixes::Prefix> = crate::ipam::ops::ipam_prefixes;
    /// One prefix: ancestors, children, planned and observed addresses, free space, findings.
    ipam_prefix: Get "/api/ipam/prefix" [Viewer], crate::ipam::ops::PrefixInput => crate::ipam::prefixes::PrefixPage = crate::ipam::ops::ipam_prefix;
    /// Add a prefix to a routing domain (operators).
    ipam_prefix_add: Post "/api/ipam/prefixes" [Operator], crate::ipam::ops::PrefixAddInput => crate::ipam::prefixes::Prefix = crate::ipam::ops::ipam_prefix_add;
    /// Change a prefix's status, site, VLAN, description or threshold (operators).
    ipam_prefix_update: Post "/api/ipam/prefixes/update" [Operator], crate::ipam::ops::PrefixUpdateInput => crate::ipam::prefixes::Prefix = crate::ipam::ops::ipam_prefix_update;
    /// Remove a prefix; its children and addresses move to the prefix above it (operators).
    ipam_prefix_remove: Post "/api/ipam/prefixes/remove" [Operator], crate::ipam::ops::PrefixInput => crate::ipam::ops::Removed = crate::ipam::ops::ipam_prefix_remove;
    /// The free blocks of a prefix as CIDRs (only those holding a /length, when given).
    ipam_available: Get "/api/ipam/available" [Viewer], crate::ipam::ops::AvailableInput => crate::ipam::space::AvailableRanges = crate::ipam::ops::ipam_available;
    /// Plan the next free address of a prefix, or create its next free /length (operators; race-free).
    ipam_allocate: Post "/api/ipam/allocate" [Operator], crate::ipam::ops::AllocateInput => crate::ipam::ops::Allocation = crate::ipam::ops::ipam_allocate;
    /// Who uses this IP: the prefixes holding it, its plans, and every report of it over time.
    ipam_lookup: Get "/api/ipam/lookup" [Viewer], crate::ipam::ops::AddressInput => crate::ipam::space::AddressInfo = crate::ipam::ops::ipam_lookup;
    /// Plan a chosen address (operators).
    ipam_assign: Post "/api/ipam/assignments" [Operator], crate::ipam::ops::AssignInput => crate::ipam::space::Assignment = crate::ipam::ops::ipam_assign;
    /// Change a planned address's host name, MAC, description or status (operators).
    ipam_assignment_update: Post "/api/ipam/assignments/update" [Operator], crate::ipam::ops::AssignmentUpdateInput => crate::ipam::space::Assignment = crate::ipam::ops::ipam_assignment_update;
    /// Release a planned or reserved address (operators).
    ipam_release: Post "/api/ipam/assignments/release" [Operator], crate::ipam::ops::AddressInput => crate::ipam::space::Assignment = crate::ipam::ops::ipam_release;
    /// IPAM findings, open ones unless asked for all.
    findings: Get "/api/ipam/findings" [Viewer], crate::ipam::ops::FindingsInput => Vec<crate::ipam::findings::Finding> = crate::ipam::ops::findings_list;
    /// Acknowledge a finding as yourself, with a note saying why (operators).
    finding_acknowledge: Post "/api/ipam/findings/acknowledge" [Operator], crate::ipam::ops::AcknowledgeInput => crate::ipam::findings::Finding = crate::ipam::ops::finding_acknowledge;
    /// Run the findings engine now (operators; it also runs after every sync).
    findings_run: Post "/api/ipam/findings/run" [Operator], NoInput => crate::ipam::findings::FindingRun = crate::ipam::ops::findings_run;

    // ----- Search ------------------------------------------------------------------------
    /// Fuzzy search over VMs, hosts, servers, service tags, addresses, prefixes and MACs, ranked.
    search: Get "/api/search" [Viewer], crate::search::ops::SearchInput => crate::search::SearchResults = crate::search::ops::search;

    // ----- Jobs: jobs, approvals, pauses, the kill switch --------------------------------
    /// Jobs, newest first, optionally in one state.
    jobs: Get "/api/jobs" [Viewer], crate::pages::jobs::JobsQuery => Vec<crate::jobs::JobSummary> = crate::jobs::ops::jobs_list;
    /// One job: spec, policy, plan, why it paused, steps and events.
    job_detail: Get "/api/jobs/detail" [Viewer], crate::jobs::ops::JobIdInput => crate::jobs::JobDetail = crate::jobs::ops::job_detail;
    /// Plan a job and submit it (with dry_run: only plan it).
    job_submit: Post "/api/jobs" [Operator], crate::jobs::SubmitRequest => crate::jobs::Submitted = crate::jobs::ops::job_submit;
    /// Approve someone else's job (approvers; never your own).
    job_approve: Post "/api/jobs/approve" [Approver], crate::jobs::ops::JobCommentInput => crate::jobs::JobSummary = crate::jobs::ops::job_approve;
    /// Deny someone else's job.
    job_deny: Post "/api/jobs/deny" [Approver], crate::jobs::ops::JobCommentInput => crate::jobs::JobSummary = crate::jobs::ops::job_deny;
    /// Cancel a job (a running one stops at its next safe point).
    job_cancel: Post "/api/jobs/cancel" [Operator], crate::jobs::ops::JobCancelInput => crate::jobs::JobSummary = crate::jobs::ops::job_cancel;
    /// Answer a paused job: cancel, retry, or shut down / suspend the VMs blocking it.
    job_decide: Post "/api/jobs/decide" [Operator], crate::jobs::ops::JobDecideInput => crate::jobs::JobSummary = crate::jobs::ops::job_decide;
    /// The global kill switch: engaged or not, by whom and why.
    kill_switch: Get "/api/kill-switch" [Viewer], NoInput => crate::jobs::KillSwitch = crate::jobs::ops::kill_switch;
    /// Engage (operators) or release (admins) the global kill switch.
    kill_switch_set: Post "/api/kill-switch" [Operator], crate::jobs::ops::KillSwitchInput => crate::jobs::KillSwitch = crate::jobs::ops::kill_switch_set;

    // ----- Jobs: policies, concurrency limits, firmware baselines ------------------------
    /// Named job policies, `default` first.
    job_policies: Get "/api/job-policies" [Viewer], NoInput => Vec<crate::pages::jobs::PolicyChoice> = crate::jobs::policies::job_policies;
    /// Create a named job policy or change one (admins; audited): the only way a job may skip approval or stop VMs.
    job_policy_save: Post "/api/job-policies" [Admin], crate::jobs::policies::PolicyInput => crate::pages::jobs::PolicyChoice = crate::jobs::policies::job_policy_save;
    /// Change some fields of a named policy (the others stay); a new one starts from the safe defaults.
    job_policy_change: Post "/api/job-policies/change" [Admin], crate::jobs::policies::PolicyChange => crate::pages::jobs::PolicyChoice = crate::jobs::policies::job_policy_change;
    /// Remove a named job policy (admins; `default` stays). Jobs keep the policy they were submitted with.
    job_policy_remove: Post "/api/job-policies/remove" [Admin], crate::jobs::policies::PolicyNameInput => Vec<crate::pages::jobs::PolicyChoice> = crate::jobs::policies::job_policy_remove;
    /// How many disruptive jobs may run at once per cluster and per site.
    concurrency_limits: Get "/api/concurrency-limits" [Viewer], NoInput => Vec<crate::jobs::policies::ConcurrencyLimit> = crate::jobs::policies::concurrency_limits;
    /// Set a cluster's or site's limit, or the default (admins; audited); no max_running removes it.
    concurrency_limit_set: Post "/api/concurrency-limits" [Admin], crate::jobs::policies::LimitInput => Vec<crate::jobs::policies::ConcurrencyLimit> = crate::jobs::policies::concurrency_limit_set;
    /// Firmware baselines: those defined in EIO (with their components) and OpenManage Enterprise's.
    firmware_baselines: Get "/api/firmware-baselines" [Viewer], NoInput => Vec<crate::jobs::baselines::Baseline> = crate::jobs::baselines::firmware_baselines;
    /// Define a firmware baseline in EIO, or replace the one of that name (admins; audited): per component the version and its package.
    firmware_baseline_define: Post "/api/firmware-baselines" [Admin], crate::jobs::baselines::BaselineInput => crate::jobs::baselines::Baseline = crate::jobs::baselines::firmware_baseline_define;
    /// Remove a firmware baseline defined in EIO (admins). Jobs keep the plan they were approved with.
    firmware_baseline_remove: Post "/api/firmware-baselines/remove" [Admin], crate::jobs::baselines::BaselineNameInput => Vec<crate::jobs::baselines::Baseline> = crate::jobs::baselines::firmware_baseline_remove;

    // ----- Reports: the page, running, definitions, history, output folders --------------
    /// The Reports page: report types and their filters, definitions, schedules, history.
    reports_page: Get "/api/pages/reports" [Viewer], NoInput => crate::reports::ops::ReportsPage = crate::reports::ops::reports_page;
    /// Run a report now, as yourself: a definition (every format, into its folder) or one type in one format (operators).
    report_run: Post "/api/reports/run" [Operator], crate::reports::ops::ReportRunInput => Vec<crate::reports::ReportExecution> = crate::reports::ops::report_run;
    /// Create a report definition, or change yours of that name; a cron schedule makes the job engine run it (operators).
    report_define: Post "/api/reports/definitions" [Operator], crate::reports::NewDefinition => crate::reports::ReportDefinition = crate::reports::ops::report_define;
    /// Report definitions with their schedules and folders.
    report_definitions: Get "/api/reports/definitions" [Viewer], NoInput => Vec<crate::reports::ReportDefinition> = crate::reports::ops::report_definitions;
    /// Report executions, newest first, optionally of one definition.
    report_history: Get "/api/reports/history" [Viewer], crate::reports::ops::ReportHistoryInput => Vec<crate::reports::ReportExecution> = crate::reports::ops::report_history;
    /// The folders, besides the reports folder, that report definitions may write to.
    report_folders: Get "/api/reports/folders" [Viewer], NoInput => Vec<crate::reports::OutputFolder> = crate::reports::ops::report_folders;
    /// Allow report definitions to write to a folder (admins).
    report_folder_add: Post "/api/reports/folders" [Admin], crate::reports::ops::ReportFolderInput => Vec<crate::reports::OutputFolder> = crate::reports::ops::report_folder_add;
    /// Take a folder off the list (admins).
    report_folder_remove: Post "/api/reports/folders/remove" [Admin], crate::reports::ops::ReportFolderInput => Vec<crate::reports::OutputFolder> = crate::reports::ops::report_folder_remove;

    // ----- Pages: the models of the other pages and their drawers ------------------------
    /// The frame around every page: who is signed in, approvals waiting, the kill switch.
    shell_page: Get "/api/pages/shell" [Viewer], NoInput => crate::pages::shell::ShellModel = crate::pages::ops::shell_page;
    /// The dashboard page model: inventory per site, sync health, findings, active jobs, approvals, kill switch.
    dashboard_page: Get "/api/pages/dashboard" [Viewer], NoInput => crate::pages::dashboard::DashboardPage = crate::pages::ops::dashboard_page;
    /// A window of VMs or hosts, searched and filtered, with the filters' facets.
    inventory_page: Get "/api/pages/inventory" [Viewer], crate::pages::inventory::InventoryQuery => crate::pages::inventory::InventoryPage = crate::pages::ops::inventory_page;
    /// One VM: NICs, IPs with confidence, tags, custom attributes, its host's server mapping.
    vm_detail: Get "/api/vms/detail" [Viewer], crate::pages::inventory::IdInput => crate::pages::inventory::VmDetail = crate::pages::ops::vm_detail;
    /// One ESXi host: hardware, mapping candidates with evidence, its VMs.
    host_detail: Get "/api/hosts/detail" [Viewer], crate::pages::inventory::IdInput => crate::pages::inventory::HostDetail = crate::pages::ops::host_detail;
    /// A window of Dell servers, searched and filtered, with the estate's generations, compliance and mappings to settle.
    servers_page: Get "/api/pages/servers" [Viewer], crate::pages::servers::ServersQuery => crate::pages::servers::ServersPage = crate::pages::ops::servers_page;
    /// One server: firmware per component against the baseline, mapping candidates with evidence.
    server_detail: Get "/api/servers/detail" [Viewer], crate::pages::servers::ServerInput => crate::pages::servers::ServerDetail = crate::pages::ops::server_detail;
    /// The jobs page model: jobs, the approval queue with plans, the kill switch, wizard choices.
    jobs_page: Get "/api/pages/jobs" [Viewer], crate::pages::jobs::JobsQuery => crate::pages::jobs::JobsPage = crate::pages::ops::jobs_page;
    /// A page of the sources (the settings page's Sources tab), searched and filtered, with counts per kind and status.
    sources_page: Get "/api/pages/sources" [Viewer], crate::sources::SourcesQuery => crate::sources::SourcesPage = crate::sources::ops::sources_page;
    /// The settings page model: connection, service identities, users, sites, workers (the sources are `sources_page`).
    settings_page: Get "/api/pages/settings" [Viewer], NoInput => crate::pages::settings::SettingsPage = crate::pages::ops::settings_page;
}

pub fn find(name: &str) -> Option<&'static OperationSpec> {
    OPERATIONS.iter().find(|o| o.name == name)
}

// ---------------------------------------------------------------------------------
// TypeScript generation.

/// Commands only the desktop shell answers: signing in happens before any session
/// exists, so they can't be operations. (name, input type, output type, doc)
pub const DESKTOP_COMMANDS: &[(&str, &str, &str, &str)] = &[
    ("connection_state", "NoInput", "ConnectionState", "Where the desktop stands: connected, to what, and why not."),
    (
        "sign_in",
        "SignInInput",
        "ConnectionState",
        "Connect with these settings; save the address (and the password in the keyring, if asked).",
    ),
    ("sign_out", "NoInput", "ConnectionState", "Close the session; the sign-in page shows next."),
    (
        "open_report",
        "OpenReportInput",
        "OpenedReport",
        "Open a recorded report file (or its folder) with the desktop's default application.",
    ),
    (
        "save_report",
        "OpenReportInput",
        "SavedReport",
        "Save a copy of a recorded report file where the operator chooses (a Save as… dialog).",
    ),
    (
        "start_demo",
        "NoInput",
        "ConnectionState",
        "Try the demo lab: simulators in this process and EIO set up on them (embedded default only).",
    ),
];

/// Types the UI needs besides operation inputs and outputs.
fn visit_extra_types(v: &mut TypeCollector) {
    v.visit::<ApiError>();
    v.visit::<crate::connection::ConnectionState>();
    v.visit::<crate::connection::SignInInput>();
    v.visit::<crate::pages::session::WebSession>();
    v.visit::<crate::pages::session::WebSignIn>();
    v.visit::<crate::pages::live::LiveEvent>();
    v.visit::<crate::reports::ops::OpenReportInput>();
    v.visit::<crate::reports::ops::OpenedReport>();
    v.visit::<crate::reports::ops::SavedReport>();
}

struct TypeCollector {
    cfg: ts_rs::Config,
    seen: HashSet<TypeId>,
    decls: BTreeMap<String, String>,
}

impl ts_rs::TypeVisitor for TypeCollector {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        if T::output_path().is_none() {
            // A built-in (Vec<T>, Option<T>): declare what it holds.
            T::visit_generics(self);
            return;
        }
        let decl = T::decl(&self.cfg);
        let docs = T::docs().map(|d| format!("{}\n", d.trim_end())).unwrap_or_default();
        self.decls.insert(T::ident(&self.cfg), format!("{docs}export {decl}"));
        T::visit_dependencies(self);
    }
}

/// The whole `bindings.gen.ts`: every type the operations use, the operation table, and
/// a typed client over a transport (Tauri `invoke` or HTTP `fetch`, chosen in `ui/`).
pub fn typescript_bindings() -> String {
    let mut c = TypeCollector {
        cfg: ts_rs::Config::new().with_large_int("number"),
        seen: HashSet::new(),
        decls: BTreeMap::new(),
    };
    visit_operation_types(&mut c);
    visit_extra_types(&mut c);
    let signatures = operation_signatures(&c.cfg);

    let mut out = String::new();
    out.push_str("// Generated from the Rust operation registry (src-tauri/core/src/api.rs) by\n");
    out.push_str("// `cargo test -p eio-core api::`. Do not edit: change the Rust types and rerun.\n\n");
    for decl in c.decls.values() {
        out.push_str(decl.trim_end());
        out.push_str("\n\n");
    }
    out.push_str("export type HttpMethod = \"GET\" | \"POST\";\n\n");
    out.push_str("/** Every operation: name → HTTP method and path. */\nexport const operations = {\n");
    for op in OPERATIONS {
        let method = match op.method {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        };
        out.push_str(&format!(
            "  {}: {{ method: \"{method}\", path: \"{}\", role: \"{}\" }},\n",
            op.name,
            op.path,
            op.role.as_str()
        ));
    }
    out.push_str("} as const;\n\nexport type OperationName = keyof typeof operations;\n\n");
    out.push_str(
        "/** How a call reaches the backend: Tauri IPC in the desktop, HTTP in a browser. */\n\
         export interface Transport {\n  call<T>(op: OperationName, method: HttpMethod, path: string, input: unknown): Promise<T>;\n}\n\n",
    );
    out.push_str("/** A typed client: one method per operation. */\nexport function makeApi(transport: Transport) {\n  return {\n");
    for ((name, input, output), op) in signatures.iter().zip(OPERATIONS) {
        let doc = op.doc.trim();
        let needs = format!("Needs: {}.", op.role.as_str());
        let doc = if doc.is_empty() { needs } else { format!("{} {needs}", doc.replace('\n', " ")) };
        out.push_str(&format!("    /** {} */\n", doc.replace("*/", "* /")));
        let arg = if input == "NoInput" { format!("input: {input} = {{}}") } else { format!("input: {input}") };
        out.push_str(&format!(
            "    {name}: ({arg}): Promise<{output}> =>\n      transport.call<{output}>(\"{name}\", operations.{name}.method, operations.{name}.path, input),\n"
        ));
    }
    out.push_str("  };\n}\n\nexport type Api = ReturnType<typeof makeApi>;\n\n");
    out.push_str(
        "/** Invokes a desktop shell command (Tauri `invoke`). */\n\
         export type DesktopInvoke = <T>(command: string, args: Record<string, unknown>) => Promise<T>;\n\n\
         /** Commands only the desktop shell answers (signing in happens before any session exists). */\n\
         export function makeDesktop(invoke: DesktopInvoke) {\n  return {\n",
    );
    for (name, input, output, doc) in DESKTOP_COMMANDS {
        let (arg, args) =
            if *input == "NoInput" { (String::new(), "{}") } else { (format!("input: {input}"), "{ input }") };
        out.push_str(&format!(
            "    /** {doc} */\n    {name}: ({arg}): Promise<{output}> => invoke<{output}>(\"{name}\", {args}),\n"
        ));
    }
    out.push_str("  };\n}\n\nexport type Desktop = ReturnType<typeof makeDesktop>;\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the UI expects the generated bindings.
    fn bindings_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/api/bindings.gen.ts")
    }

    /// Keeps `ui/src/api/bindings.gen.ts` equal to the Rust types. When they differ the
    /// file is rewritten and the test fails, so a stale commit can't pass CI while a local
    /// run fixes it.
    #[test]
    fn typescript_bindings_are_current() {
        let want = typescript_bindings();
        let path = bindings_path();
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
            panic!("{} was stale and has been regenerated; commit it", path.display());
        }
    }

    #[test]
    fn bindings_declare_every_operation_and_its_types() {
        let ts = typescript_bindings();
        for op in OPERATIONS {
            assert!(ts.contains(&format!("  {}: {{ method:", op.name)), "operation {} missing", op.name);
        }
        assert!(ts.contains("export type StatusPage = {"), "{ts}");
        assert!(ts.contains("export type ApiError = {"), "{ts}");
        assert!(ts.contains("export type ErrorCode = "), "{ts}");
        // i64 row counts travel as JSON numbers, not bigint.
        assert!(!ts.contains("bigint"), "{ts}");
    }

    #[test]
    fn operation_names_and_paths_are_unique() {
        let mut names = HashSet::new();
        let mut paths = HashSet::new();
        for op in OPERATIONS {
            assert!(names.insert(op.name), "duplicate operation {}", op.name);
            assert!(paths.insert((op.path, op.method as u8)), "duplicate path {}", op.path);
            assert!(op.path.starts_with("/api/"), "{}", op.path);
        }
    }
}
