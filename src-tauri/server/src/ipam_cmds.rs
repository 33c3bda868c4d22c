//! `eio ipam …` and `eio search`: routing domains, prefixes, free space, assignments and
//! allocation, findings, and one search over everything (`eio site …` is in `site_cmds`).
//! Each command calls one registry operation (`api::call`) and prints a table for a human
//! or, with `--json`, the operation's own type for a script. It holds no SQL and no rule of
//! its own.
use clap::{Args, Subcommand};
use eio_core::api::{self, op, NoInput, Session};
use eio_core::ipam::findings::FindingType;
use eio_core::ipam::ops::{
    AcknowledgeInput, AddressInput, AllocateInput, AssignInput, AssignmentUpdateInput, AvailableInput, DomainAddInput,
    FindingsInput, PrefixAddInput, PrefixInput, PrefixListInput, PrefixUpdateInput, SearchInput,
};
use eio_core::ipam::prefixes::{Prefix, PrefixStatus};
use eio_core::ipam::space::AssignmentStatus;
use eio_core::ipam::Cidr;
use eio_core::{Database, Error};
use uuid::Uuid;

use crate::output::{date, print_json, table};

#[derive(Debug, Subcommand)]
pub enum IpamCommand {
    /// Routing domains (VRFs): the same prefix may exist once in each
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Prefixes: the hierarchy, utilization planned and observed
    #[command(subcommand)]
    Prefix(PrefixCommand),
    /// The free blocks of a prefix, as CIDRs
    Available {
        prefix: Cidr,
        /// Routing domain (default: default)
        #[arg(long)]
        domain: Option<String>,
        /// Only blocks that hold a /N, and how many fit
        #[arg(long, value_name = "N")]
        length: Option<u8>,
        /// At most this many blocks
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Plan the next free address (--ip) or create the next free /N child prefix (--length N)
    Allocate(AllocateArgs),
    /// Which prefixes hold an address, its assignments, and who is seen using it
    Lookup {
        address: String,
        #[arg(long)]
        domain: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Plan a chosen address (not the next free one): it must lie in a prefix, and not be reserved
    Assign(AssignArgs),
    /// Change a planned address's host name, MAC, description, or planned/reserved
    Edit(EditArgs),
    /// Release a planned or reserved address (what was observed using it stays on record)
    Release {
        address: String,
        #[arg(long)]
        domain: Option<String>,
    },
    /// Findings: duplicates, MAC conflicts, seen-not-planned, stale plans, full prefixes, …
    Findings(FindingsArgs),
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    pub address: String,
    #[arg(long)]
    pub domain: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    #[arg(long)]
    pub mac: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Hold it back (reserved) instead of planning it for use
    #[arg(long)]
    pub reserve: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    pub address: String,
    #[arg(long)]
    pub domain: Option<String>,
    /// "" clears it
    #[arg(long)]
    pub hostname: Option<String>,
    /// "" clears it
    #[arg(long)]
    pub mac: Option<String>,
    /// "" clears it
    #[arg(long)]
    pub description: Option<String>,
    /// planned or reserved
    #[arg(long)]
    pub status: Option<AssignmentStatus>,
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Add a routing domain (admins)
    Add {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PrefixCommand {
    /// Add a prefix (operators); its parent is whichever prefix of the domain holds it
    Add {
        cidr: Cidr,
        #[arg(long)]
        domain: Option<String>,
        /// Site code
        #[arg(long)]
        site: Option<String>,
        #[arg(long)]
        vlan: Option<i32>,
        /// active, reserved or deprecated (default active)
        #[arg(long, default_value = "active")]
        status: PrefixStatus,
        #[arg(long)]
        description: Option<String>,
        /// Utilization above this fraction raises a finding (default 0.9)
        #[arg(long)]
        threshold: Option<f32>,
    },
    /// Prefixes with parent and utilization (planned and observed, side by side)
    List {
        /// Only this routing domain
        #[arg(long)]
        domain: Option<String>,
        /// Only prefixes inside this block
        #[arg(long)]
        within: Option<Cidr>,
        /// Indent each prefix under its parent
        #[arg(long)]
        tree: bool,
        #[arg(long)]
        json: bool,
    },
    /// One prefix: ancestors, children, planned and observed addresses, free space, findings
    Show {
        cidr: Cidr,
        #[arg(long)]
        domain: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Change a prefix's status, site, VLAN, description or threshold (operators)
    Set {
        cidr: Cidr,
        #[arg(long)]
        domain: Option<String>,
        #[arg(long)]
        status: Option<PrefixStatus>,
        /// Site code ("" clears it)
        #[arg(long)]
        site: Option<String>,
        /// VLAN id (0 clears it)
        #[arg(long)]
        vlan: Option<i32>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        threshold: Option<f32>,
    },
    /// Remove a prefix (operators); its children and assignments move to the next one up
    Remove {
        cidr: Cidr,
        #[arg(long)]
        domain: Option<String>,
    },
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["ip", "length"]))]
pub struct AllocateArgs {
    pub prefix: Cidr,
    #[arg(long)]
    pub domain: Option<String>,
    /// The next free single address
    #[arg(long)]
    pub ip: bool,
    /// The next free /N, created as a child prefix
    #[arg(long, value_name = "N")]
    pub length: Option<u8>,
    /// --ip: the host name it is planned for
    #[arg(long, requires = "ip")]
    pub hostname: Option<String>,
    /// --ip: the MAC address it is planned for
    #[arg(long, requires = "ip")]
    pub mac: Option<String>,
    /// --ip: planned (expected in use) or reserved (held back); default planned
    #[arg(long, requires = "ip")]
    pub reserve: bool,
    /// --length: the new prefix's VLAN
    #[arg(long, requires = "length")]
    pub vlan: Option<i32>,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct FindingsArgs {
    #[command(subcommand)]
    pub action: Option<FindingsAction>,
    /// Resolved findings too
    #[arg(long)]
    pub all: bool,
    /// Only this type (repeatable): duplicate_usage, seen_not_planned, planned_not_seen, …
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<FindingType>,
    #[arg(long)]
    pub limit: Option<i64>,
    /// Only the findings at this site (code): of its prefixes, and of addresses seen there
    #[arg(long)]
    pub site: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum FindingsAction {
    /// Run the findings engine now (it also runs after every sync)
    Run {
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a finding, as yourself, saying why (operators)
    Acknowledge {
        id: Uuid,
        #[arg(long)]
        note: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// A name, host name, service tag, address, block (10.1.2.0/24, 10.1.2) or MAC
    pub query: String,
    /// At most this many hits (default 20, at most 200)
    #[arg(long)]
    pub limit: Option<i64>,
    #[arg(long)]
    pub json: bool,
}

impl IpamCommand {
    pub fn json(&self) -> bool {
        match self {
            IpamCommand::Domain(DomainCommand::List { json })
            | IpamCommand::Prefix(PrefixCommand::List { json, .. } | PrefixCommand::Show { json, .. })
            | IpamCommand::Available { json, .. }
            | IpamCommand::Lookup { json, .. } => *json,
            IpamCommand::Allocate(a) => a.json,
            IpamCommand::Assign(a) => a.json,
            IpamCommand::Findings(f) => match &f.action {
                None => f.json,
                Some(FindingsAction::Run { json } | FindingsAction::Acknowledge { json, .. }) => *json,
            },
            _ => false,
        }
    }
}

pub(crate) fn opt(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}

fn pct(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

pub async fn ipam(db: &Database, cmd: IpamCommand) -> Result<(), Error> {
    let session = Session::new(db.clone());
    match cmd {
        IpamCommand::Domain(DomainCommand::Add { name, description }) => {
            let d = api::call::<op::ipam_domain_add>(&session, DomainAddInput { name, description }).await?;
            println!("Added routing domain {}.", d.name);
            Ok(())
        }
        IpamCommand::Domain(DomainCommand::List { json }) => {
            let list = api::call::<op::ipam_domains>(&session, NoInput {}).await?;
            if json {
                return print_json(&list);
            }
            table(
                &["NAME", "PREFIXES", "DESCRIPTION"],
                list.iter()
                    .map(|d| vec![d.name.clone(), d.prefixes.to_string(), opt(d.description.as_deref())])
                    .collect(),
            );
            Ok(())
        }
        IpamCommand::Prefix(cmd) => prefix(&session, cmd).await,
        IpamCommand::Available { prefix, domain, length, limit, json } => {
            let a = api::call::<op::ipam_available>(
                &session,
                AvailableInput { domain, prefix: prefix.to_string(), length: length.map(i32::from), limit },
            )
            .await?;
            if json {
                return print_json(&a);
            }
            let mut header = vec!["FREE BLOCK", "ADDRESSES"];
            if a.length.is_some() {
                header.push("FITS");
            }
            table(
                &header,
                a.blocks
                    .iter()
                    .map(|b| {
                        let mut row = vec![b.cidr.clone(), b.addresses.clone()];
                        if a.length.is_some() {
                            row.push(b.fits.clone().unwrap_or_default());
                        }
                        row
                    })
                    .collect(),
            );
            println!(
                "{} free block(s){}, {} free address(es) in {} ({}).",
                a.blocks_total,
                a.length.map(|n| format!(" holding a /{n}")).unwrap_or_default(),
                a.free_addresses,
                a.prefix,
                a.routing_domain
            );
            Ok(())
        }
        IpamCommand::Allocate(args) => allocate(&session, args).await,
        IpamCommand::Assign(a) => {
            let done = api::call::<op::ipam_assign>(
                &session,
                AssignInput {
                    domain: a.domain,
                    address: a.address,
                    hostname: a.hostname,
                    mac_address: a.mac,
                    description: a.description,
                    reserve: a.reserve,
                },
            )
            .await?;
            if a.json {
                return print_json(&done);
            }
            println!(
                "{} {} in {} for {}.",
                if done.status == AssignmentStatus::Reserved { "Reserved" } else { "Planned" },
                done.address,
                done.prefix.as_deref().unwrap_or("-"),
                opt(done.hostname.as_deref())
            );
            Ok(())
        }
        IpamCommand::Edit(e) => {
            let done = api::call::<op::ipam_assignment_update>(
                &session,
                AssignmentUpdateInput {
                    domain: e.domain,
                    address: e.address,
                    hostname: e.hostname,
                    mac_address: e.mac,
                    description: e.description,
                    status: e.status,
                },
            )
            .await?;
            println!(
                "{} ({}): host {}, mac {}.",
                done.address,
                done.status,
                opt(done.hostname.as_deref()),
                opt(done.mac_address.as_deref())
            );
            Ok(())
        }
        IpamCommand::Release { address, domain } => {
            let gone = api::call::<op::ipam_release>(&session, AddressInput { domain, address }).await?;
            println!("Released {} (was {} for {}).", gone.address, gone.status, opt(gone.hostname.as_deref()));
            Ok(())
        }
        IpamCommand::Lookup { address, domain, json } => {
            let info = api::call::<op::ipam_lookup>(&session, AddressInput { domain, address }).await?;
            if json {
                return print_json(&info);
            }
            println!("{} in routing domain {}", info.address, info.routing_domain);
            let chain: Vec<String> = info.prefixes.iter().map(|p| p.cidr.clone()).collect();
            println!("  prefixes: {}", if chain.is_empty() { "none".into() } else { chain.join(" < ") });
            for a in &info.assignments {
                println!("  {} {} for {}", a.status, a.address, opt(a.hostname.as_deref()));
            }
            for o in &info.observations {
                println!(
                    "  seen by {} on {} {} (mac {}){}",
                    o.source,
                    o.entity_type,
                    opt(o.hostname.as_deref()),
                    opt(o.mac_address.as_deref()),
                    o.gone_at.map(|g| format!(", gone since {}", date(Some(g)))).unwrap_or_default()
                );
            }
            Ok(())
        }
        IpamCommand::Findings(args) => findings_cmd(&session, args).await,
    }
}

async fn prefix(session: &Session, cmd: PrefixCommand) -> Result<(), Error> {
    match cmd {
        PrefixCommand::Add { cidr, domain, site, vlan, status, description, threshold } => {
            let p = api::call::<op::ipam_prefix_add>(
                session,
                PrefixAddInput {
                    domain,
                    cidr: cidr.to_string(),
                    site,
                    vlan_id: vlan,
                    status: Some(status),
                    description,
                    utilization_threshold: threshold,
                },
            )
            .await?;
            println!(
                "Added prefix {} in routing domain {}{}.",
                p.cidr,
                p.routing_domain,
                p.parent.as_ref().map(|pp| format!(", inside {pp}")).unwrap_or_default()
            );
            Ok(())
        }
        PrefixCommand::List { domain, within, tree, json } => {
            let list = api::call::<op::ipam_prefixes>(
                session,
                PrefixListInput { domain, within: within.map(|w| w.to_string()) },
            )
            .await?;
            if json {
                return print_json(&list);
            }
            prefix_table(&list, tree);
            Ok(())
        }
        PrefixCommand::Show { cidr, domain, json } => {
            let page = api::call::<op::ipam_prefix>(session, PrefixInput { domain, cidr: cidr.to_string() }).await?;
            if json {
                return print_json(&page);
            }
            let p = &page.prefix;
            let u = &p.utilization;
            println!("{} in routing domain {} ({})", p.cidr, p.routing_domain, p.status);
            let path: Vec<&str> = page.ancestors.iter().map(|a| a.cidr.as_str()).collect();
            println!("  inside:      {}", if path.is_empty() { "-".into() } else { path.join(" > ") });
            println!("  site, vlan:  {}, {}", opt(p.site.as_deref()), p.vlan_id.map_or("-".into(), |v| v.to_string()));
            println!("  usable:      {} of {} addresses", u.usable, u.addresses);
            println!("  planned:     {} ({})", u.planned, pct(u.planned_ratio));
            println!("  observed:    {} ({})", u.observed, pct(u.observed_ratio));
            println!("  children:    {} covering {} ({})", u.child_prefixes, u.child_addresses, pct(u.child_ratio));
            if !page.children.is_empty() {
                println!();
                prefix_table(&page.children, false);
            }
            println!("\nFree ({} block(s)):", page.free_total);
            for b in &page.free {
                println!("  {}", b.cidr);
            }
            if !page.findings.is_empty() {
                println!("\nOpen findings:");
                for f in &page.findings {
                    println!("  [{}] {} {}", f.severity, f.kind, f.message);
                }
            }
            Ok(())
        }
        PrefixCommand::Set { cidr, domain, status, site, vlan, description, threshold } => {
            let p = api::call::<op::ipam_prefix_update>(
                session,
                PrefixUpdateInput {
                    domain,
                    cidr: cidr.to_string(),
                    status,
                    site,
                    vlan_id: vlan,
                    description,
                    utilization_threshold: threshold,
                },
            )
            .await?;
            println!(
                "Prefix {} ({}): {}, site {}, vlan {}.",
                p.cidr,
                p.routing_domain,
                p.status,
                opt(p.site.as_deref()),
                p.vlan_id.map_or("-".into(), |v| v.to_string())
            );
            Ok(())
        }
        PrefixCommand::Remove { cidr, domain } => {
            let done =
                api::call::<op::ipam_prefix_remove>(session, PrefixInput { domain, cidr: cidr.to_string() }).await?;
            println!("{}", done.message);
            Ok(())
        }
    }
}

/// Prefixes as a table; with `tree`, each indented under its parent.
fn prefix_table(list: &[Prefix], tree: bool) {
    table(
        &["DOMAIN", "PREFIX", "STATUS", "SITE", "VLAN", "PLANNED", "OBSERVED", "CHILDREN", "UTILIZATION"],
        list.iter()
            .map(|p| {
                let u = &p.utilization;
                let indent = if tree { "  ".repeat(usize::try_from(p.depth).unwrap_or(0)) } else { String::new() };
                vec![
                    p.routing_domain.clone(),
                    format!("{indent}{}", p.cidr),
                    p.status.to_string(),
                    opt(p.site.as_deref()),
                    p.vlan_id.map_or("-".into(), |v| v.to_string()),
                    format!("{} ({})", u.planned, pct(u.planned_ratio)),
                    format!("{} ({})", u.observed, pct(u.observed_ratio)),
                    format!("{} ({})", u.child_prefixes, pct(u.child_ratio)),
                    pct(u.utilization),
                ]
            })
            .collect(),
    );
}

async fn allocate(session: &Session, a: AllocateArgs) -> Result<(), Error> {
    let allocation = api::call::<op::ipam_allocate>(
        session,
        AllocateInput {
            domain: a.domain.clone(),
            prefix: a.prefix.to_string(),
            length: a.length.map(i32::from),
            hostname: a.hostname.clone(),
            mac_address: a.mac.clone(),
            description: a.description.clone(),
            reserve: a.reserve,
            vlan_id: a.vlan,
        },
    )
    .await?;
    if let Some(p) = allocation.prefix {
        if a.json {
            return print_json(&p);
        }
        println!("Created prefix {} inside {} ({}).", p.cidr, a.prefix, p.routing_domain);
        return Ok(());
    }
    let assigned = allocation.assignment.ok_or_else(|| Error::internal("the allocation returned nothing"))?;
    if a.json {
        return print_json(&assigned);
    }
    println!(
        "{} {} in {} ({}){}.",
        if a.reserve { "Reserved" } else { "Planned" },
        assigned.address,
        a.prefix,
        assigned.routing_domain,
        assigned.hostname.as_ref().map(|h| format!(" for {h}")).unwrap_or_default()
    );
    Ok(())
}

async fn findings_cmd(session: &Session, args: FindingsArgs) -> Result<(), Error> {
    match args.action {
        Some(FindingsAction::Run { json }) => {
            let run = api::call::<op::findings_run>(session, NoInput {}).await?;
            if json {
                return print_json(&run);
            }
            println!(
                "Findings run {} in {} ms: {} opened, {} reopened, {} resolved, {} open.",
                run.id, run.duration_ms, run.opened, run.reopened, run.resolved, run.open_total
            );
            Ok(())
        }
        Some(FindingsAction::Acknowledge { id, note, json }) => {
            let f = api::call::<op::finding_acknowledge>(session, AcknowledgeInput { id, note }).await?;
            if json {
                return print_json(&f);
            }
            println!("Acknowledged {} ({}) as {}.", f.id, f.kind, f.acknowledged_by.as_deref().unwrap_or("you"));
            Ok(())
        }
        None => {
            let types = args.types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",");
            let list = api::call::<op::findings>(
                session,
                FindingsInput { include_resolved: args.all, types: Some(types), limit: args.limit, site: args.site },
            )
            .await?;
            if args.json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("No {}findings.", if args.all { "" } else { "open " });
                return Ok(());
            }
            table(
                &["ID", "SEVERITY", "TYPE", "DOMAIN", "SUBJECT", "MESSAGE", "SINCE", "STATE"],
                list.iter()
                    .map(|f| {
                        vec![
                            f.id.to_string(),
                            f.severity.to_string(),
                            f.kind.to_string(),
                            opt(f.routing_domain.as_deref()),
                            f.address.clone().or(f.prefix.clone()).unwrap_or_else(|| f.subject_key.clone()),
                            f.message.clone(),
                            date(Some(f.first_seen_at)),
                            match (f.resolved_at, &f.acknowledged_by) {
                                (Some(r), _) => format!("resolved {}", date(Some(r))),
                                (None, Some(by)) => format!("acknowledged by {by}"),
                                (None, None) => "open".into(),
                            },
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
    }
}

pub async fn search(db: &Database, args: SearchArgs) -> Result<(), Error> {
    let r = api::call::<op::search>(&Session::new(db.clone()), SearchInput { query: args.query, limit: args.limit })
        .await?;
    if args.json {
        return print_json(&r);
    }
    if r.hits.is_empty() {
        println!("Nothing matches \"{}\".", r.query);
        return Ok(());
    }
    table(
        &["KIND", "NAME", "MATCHED", "DETAIL", "SCORE"],
        r.hits
            .iter()
            .map(|h| {
                vec![
                    h.kind.as_str().to_owned(),
                    h.label.clone(),
                    format!("{} {}", h.field, h.matched),
                    opt(h.detail.as_deref()),
                    format!("{:.2}", h.score),
                ]
            })
            .collect(),
    );
    Ok(())
}
