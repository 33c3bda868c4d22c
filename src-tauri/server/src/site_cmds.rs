//! `eio site …`: regions, countries and sites, the rules that place things at sites (with a
//! dry run of what a rule would place), inference, conflicts, placements and pins. Each
//! command calls one registry operation (`api::call`) and prints a table for a human or, with
//! `--json`, the operation's own type for a script. It holds no SQL and no rule of its own.
use clap::Subcommand;
use eio_core::api::{self, op, NoInput, Session};
use eio_core::sites::ops::{
    CountryAddInput, EntityInput, PinInput, RegionAddInput, RuleIdInput, SiteCodeInput, SiteRuleAddInput,
    SiteUpdateInput,
};
use eio_core::sites::{InferenceMethod, NewSite, SiteStatus};
use eio_core::{Database, Error};
use uuid::Uuid;

use crate::ipam_cmds::opt;
use crate::output::{print_json, table};

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Add a site to a country (admins); codes look like US-EAST-01
    Add {
        code: String,
        /// ISO 3166 code of its country (add the country first: `eio site country add`)
        #[arg(long)]
        country: String,
        #[arg(long)]
        name: Option<String>,
        /// IANA time zone (default UTC)
        #[arg(long)]
        timezone: Option<String>,
        /// active, maintenance or offline (default active)
        #[arg(long)]
        status: Option<SiteStatus>,
    },
    /// Sites by region and country, with their prefixes and rules
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a site's name, time zone or status (admins)
    Set {
        code: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        status: Option<SiteStatus>,
    },
    /// Remove a site (admins); its prefixes and sources stay, without a site
    Remove { code: String },
    /// Regions (EMEA, US-EAST, …)
    #[command(subcommand)]
    Region(RegionCommand),
    /// Countries within regions
    #[command(subcommand)]
    Country(CountryCommand),
    /// The rules that place things at sites (vcenter names, host names, VLANs)
    #[command(subcommand)]
    Rule(RuleCommand),
    /// Run site inference now (it also runs after every sync)
    Infer {
        #[arg(long)]
        json: bool,
    },
    /// Hosts, VMs, servers and addresses whose inference methods name different sites
    Conflicts {
        #[arg(long)]
        json: bool,
    },
    /// Where a VM, host, server or observed address is, with every opinion and its evidence
    Where {
        /// vm, host, server or ip
        kind: String,
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Place a VM, host, server or observed address at a site by hand (wins, survives resyncs)
    Pin {
        /// vm, host, server or ip
        kind: String,
        id: Uuid,
        site: String,
        /// Why
        #[arg(long)]
        note: Option<String>,
    },
    /// Remove a manual placement; inference decides again
    Unpin {
        /// vm, host, server or ip
        kind: String,
        id: Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegionCommand {
    /// Add a region (admins)
    Add {
        code: String,
        #[arg(long)]
        name: String,
    },
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CountryCommand {
    /// Add a country to a region (admins)
    Add {
        /// ISO 3166 alpha-2 code (DE, US)
        iso_code: String,
        #[arg(long)]
        region: String,
        #[arg(long)]
        name: String,
    },
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Add an inference rule for a site (admins): exactly one of --vcenter, --dns, --vlan
    Add {
        site: String,
        /// Datacenter or cluster names matching this regular expression (case-insensitive)
        #[arg(long, group = "rule", value_name = "REGEX")]
        vcenter: Option<String>,
        /// Host names matching this regular expression (case-insensitive)
        #[arg(long, group = "rule", value_name = "REGEX")]
        dns: Option<String>,
        /// Prefixes and port groups of this VLAN
        #[arg(long, group = "rule", value_name = "ID")]
        vlan: Option<i32>,
        /// Above 0, below 1 (default: vcenter 0.9, vlan 0.6, dns 0.5)
        #[arg(long)]
        confidence: Option<f32>,
        #[arg(long)]
        description: Option<String>,
        /// Show what the rule would place and what would move; save nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Remove {
        id: Uuid,
    },
}

impl SiteCommand {
    pub fn json(&self) -> bool {
        match self {
            SiteCommand::List { json }
            | SiteCommand::Infer { json }
            | SiteCommand::Conflicts { json }
            | SiteCommand::Where { json, .. }
            | SiteCommand::Region(RegionCommand::List { json })
            | SiteCommand::Country(CountryCommand::List { json })
            | SiteCommand::Rule(RuleCommand::List { json } | RuleCommand::Add { json, .. }) => *json,
            _ => false,
        }
    }
}

pub async fn site(db: &Database, cmd: SiteCommand) -> Result<(), Error> {
    let session = Session::new(db.clone());
    let session = &session;
    match cmd {
        SiteCommand::Add { code, country, name, timezone, status } => {
            let s = api::call::<op::site_add>(session, NewSite { code, country, name, timezone, status }).await?;
            println!("Added site {} in {} ({}), {}, {}.", s.code, s.country_name, s.region, s.timezone, s.status);
            Ok(())
        }
        SiteCommand::List { json } => {
            let list = api::call::<op::sites>(session, NoInput {}).await?;
            if json {
                return print_json(&list);
            }
            table(
                &["CODE", "NAME", "COUNTRY", "REGION", "TIMEZONE", "STATUS", "PREFIXES", "RULES"],
                list.iter()
                    .map(|s| {
                        vec![
                            s.code.clone(),
                            opt(s.name.as_deref()),
                            s.country.clone(),
                            s.region.clone(),
                            s.timezone.clone(),
                            s.status.to_string(),
                            s.prefixes.to_string(),
                            s.rules.to_string(),
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
        SiteCommand::Set { code, name, timezone, status } => {
            let s = api::call::<op::site_update>(session, SiteUpdateInput { code, name, timezone, status }).await?;
            println!("Site {}: {}, {}, {}.", s.code, opt(s.name.as_deref()), s.timezone, s.status);
            Ok(())
        }
        SiteCommand::Remove { code } => {
            println!("{}", api::call::<op::site_remove>(session, SiteCodeInput { code }).await?.message);
            Ok(())
        }
        SiteCommand::Region(RegionCommand::Add { code, name }) => {
            let r = api::call::<op::region_add>(session, RegionAddInput { code, name }).await?;
            println!("Added region {} ({}).", r.code, r.name);
            Ok(())
        }
        SiteCommand::Region(RegionCommand::List { json }) => {
            let list = api::call::<op::regions>(session, NoInput {}).await?;
            if json {
                return print_json(&list);
            }
            table(
                &["CODE", "NAME", "COUNTRIES"],
                list.iter().map(|r| vec![r.code.clone(), r.name.clone(), r.countries.to_string()]).collect(),
            );
            Ok(())
        }
        SiteCommand::Country(CountryCommand::Add { iso_code, region, name }) => {
            let c = api::call::<op::country_add>(session, CountryAddInput { iso_code, region, name }).await?;
            println!("Added country {} ({}) to region {}.", c.iso_code, c.name, c.region);
            Ok(())
        }
        SiteCommand::Country(CountryCommand::List { json }) => {
            let list = api::call::<op::countries>(session, NoInput {}).await?;
            if json {
                return print_json(&list);
            }
            table(
                &["ISO", "NAME", "REGION", "SITES"],
                list.iter()
                    .map(|c| vec![c.iso_code.clone(), c.name.clone(), c.region.clone(), c.sites.to_string()])
                    .collect(),
            );
            Ok(())
        }
        SiteCommand::Rule(cmd) => rule(session, cmd).await,
        SiteCommand::Infer { json } => {
            let counts = api::call::<op::site_infer>(session, NoInput {}).await?;
            if json {
                return print_json(&counts);
            }
            table(
                &["METHOD", "INFERENCES", "WRITTEN", "REMOVED"],
                counts
                    .iter()
                    .map(|c| {
                        vec![c.method.to_string(), c.total.to_string(), c.written.to_string(), c.removed.to_string()]
                    })
                    .collect(),
            );
            Ok(())
        }
        SiteCommand::Conflicts { json } => {
            let list = api::call::<op::site_conflicts>(session, NoInput {}).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("No conflicts: every method agrees wherever more than one has an opinion.");
                return Ok(());
            }
            table(
                &["KIND", "NAME", "ID", "WINNER", "BY", "OPINIONS"],
                list.iter()
                    .map(|c| {
                        let opinions = c
                            .opinions
                            .iter()
                            .map(|o| format!("{} {} {:.2} ({})", o.site, o.method, o.confidence, o.because))
                            .collect::<Vec<_>>()
                            .join("; ");
                        vec![
                            c.entity_type.to_string(),
                            opt(c.name.as_deref()),
                            c.entity_id.to_string(),
                            c.winner_site.clone(),
                            c.winner_method.to_string(),
                            opinions,
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
        SiteCommand::Where { kind, id, json } => {
            let p = api::call::<op::site_placement>(session, EntityInput { kind, id }).await?;
            if json {
                return print_json(&p);
            }
            println!(
                "{} {} ({}): {}{}",
                p.entity_type,
                opt(p.name.as_deref()),
                p.entity_id,
                p.winner.as_ref().map_or("no site".to_owned(), |w| format!("{} by {}", w.site, w.method)),
                if p.conflict { " — methods disagree" } else { "" }
            );
            table(
                &["SITE", "METHOD", "CONFIDENCE", "EVIDENCE"],
                p.inferences
                    .iter()
                    .map(|i| {
                        vec![i.site.clone(), i.method.to_string(), format!("{:.2}", i.confidence), i.because.clone()]
                    })
                    .collect(),
            );
            Ok(())
        }
        SiteCommand::Pin { kind, id, site, note } => {
            let p = api::call::<op::site_pin>(session, PinInput { kind, id, site, note }).await?;
            println!(
                "{} {} is at {} by hand.",
                p.entity_type,
                opt(p.name.as_deref()),
                p.winner.map(|w| w.site).unwrap_or_default()
            );
            Ok(())
        }
        SiteCommand::Unpin { kind, id } => {
            let p = api::call::<op::site_unpin>(session, EntityInput { kind, id }).await?;
            println!(
                "Removed the manual placement of {} {}; now {}.",
                p.entity_type,
                opt(p.name.as_deref()),
                p.winner.map_or("no site".to_owned(), |w| format!("{} by {}", w.site, w.method))
            );
            Ok(())
        }
    }
}

async fn rule(session: &Session, cmd: RuleCommand) -> Result<(), Error> {
    match cmd {
        RuleCommand::Add { site, vcenter, dns, vlan, confidence, description, dry_run, json } => {
            let (method, pattern) = match (vcenter, dns, vlan) {
                (Some(p), None, None) => (InferenceMethod::Vcenter, Some(p)),
                (None, Some(p), None) => (InferenceMethod::Dns, Some(p)),
                (None, None, Some(_)) => (InferenceMethod::Vlan, None),
                _ => return Err(Error::invalid("say what the rule matches: one of --vcenter, --dns or --vlan")),
            };
            let input = SiteRuleAddInput { site, method, pattern, vlan_id: vlan, confidence, description };
            if dry_run {
                let p = api::call::<op::site_rule_preview>(session, input).await?;
                if json {
                    return print_json(&p);
                }
                let matched: Vec<String> =
                    p.matched.iter().map(|k| format!("{} {}(s)", k.count, k.kind.as_str().replace('_', " "))).collect();
                println!(
                    "The rule would hold an opinion on {}; {} would be placed elsewhere than now. Nothing was saved.",
                    if matched.is_empty() { "nothing".to_string() } else { matched.join(", ") },
                    p.moved
                );
                for m in &p.examples {
                    println!(
                        "  {} {}: {} → {}",
                        m.kind.as_str().replace('_', " "),
                        m.name.as_deref().unwrap_or("(unnamed)"),
                        m.from_site.as_deref().unwrap_or("(nowhere)"),
                        m.to_site
                    );
                }
                return Ok(());
            }
            let r = api::call::<op::site_rule_add>(session, input).await?;
            if json {
                return print_json(&r);
            }
            println!(
                "Added {} rule {} for {}: {} (confidence {:.2}).",
                r.method,
                r.id,
                r.site,
                r.pattern.clone().or(r.vlan_id.map(|v| format!("VLAN {v}"))).unwrap_or_default(),
                r.confidence
            );
            Ok(())
        }
        RuleCommand::List { json } => {
            let list = api::call::<op::site_rules>(session, NoInput {}).await?;
            if json {
                return print_json(&list);
            }
            table(
                &["ID", "METHOD", "SITE", "MATCHES", "CONFIDENCE", "DESCRIPTION"],
                list.iter()
                    .map(|r| {
                        vec![
                            r.id.to_string(),
                            r.method.to_string(),
                            r.site.clone(),
                            r.pattern.clone().or(r.vlan_id.map(|v| format!("vlan {v}"))).unwrap_or_default(),
                            format!("{:.2}", r.confidence),
                            opt(r.description.as_deref()),
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
        RuleCommand::Remove { id } => {
            println!("{}", api::call::<op::site_rule_remove>(session, RuleIdInput { id }).await?.message);
            Ok(())
        }
    }
}
