//! `eio source …`, `eio sync`, `eio server …` and `eio mapping …`: registering what EIO
//! syncs from, running syncs as this machine's worker, and reading the Dell side.
use std::path::PathBuf;

use clap::{Args, Subcommand};
use eio_core::config::Config;
use eio_core::identity::keystore;
use eio_core::inventory;
use eio_core::sources::{self, IdentityChoice, NewSource, SourceKind, TlsChoice};
use eio_core::{Database, Error};
use eio_engine::sync::ledger::{Outcome, RunReport};
use eio_engine::sync::{dell, vcenter, Syncer};
use eio_secret::Credentials;

use crate::identity_cmds::OptionalPassword;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Register a vCenter, iDRAC or OpenManage Enterprise to sync from
    Add(Box<SourceAdd>),
    /// List sources with their last sync
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a source and its cached inventory (its service identity stays)
    Remove { kind: SourceKind, name: String },
}

#[derive(Debug, Args)]
pub struct SourceAdd {
    /// vcenter, idrac or ome
    pub kind: SourceKind,
    /// A short name (vc-prod, r740-01); not needed with --csv
    #[arg(long, required_unless_present = "csv")]
    pub name: Option<String>,
    /// https://vcenter/sdk, https://idrac, https://ome; not needed with --csv
    #[arg(long, required_unless_present = "csv")]
    pub url: Option<String>,
    /// Reuse this existing service identity
    #[arg(long, conflicts_with = "username")]
    pub identity: Option<String>,
    /// Create a service identity with this username (named after the source, or --identity-name)
    #[arg(long)]
    pub username: Option<String>,
    /// Name of the service identity --username creates
    #[arg(long, requires = "username")]
    pub identity_name: Option<String>,
    #[command(flatten)]
    pub password: OptionalPassword,
    /// Pin the endpoint's certificate by its SHA-256 thumbprint (for self-signed certificates)
    #[arg(long, conflicts_with = "insecure")]
    pub thumbprint: Option<String>,
    /// Trust any certificate (and allow plain http): for labs only
    #[arg(long)]
    pub insecure: bool,
    /// Site code (US-EAST-01)
    #[arg(long)]
    pub site: Option<String>,
    /// iDRAC driver: auto (probe), redfish, wsman or racadm
    #[arg(long, default_value = "auto")]
    pub driver: String,
    /// Add many iDRACs from a CSV file with a header: name,url[,site][,driver][,thumbprint]
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Physical servers: service tag, model, generation, power, health, iDRAC firmware, mapping
    List {
        #[arg(long)]
        json: bool,
    },
    /// A server's firmware, component by component, with its baseline verdict
    Firmware {
        /// Service tag, hostname, iDRAC name or ESXi host name
        server: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Server ↔ ESXi host mappings with method, confidence and status (ambiguities included)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Map a server to a host by hand (always wins, survives resyncs)
    Set {
        /// Service tag, hostname or iDRAC name
        server: String,
        /// ESXi host name
        host: String,
    },
    /// Recompute the automatic mappings now
    Refresh,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only the source with this name
    #[arg(long)]
    pub source: Option<String>,
    /// Only sources of this kind
    #[arg(long)]
    pub kind: Option<SourceKind>,
    /// After the full sync, keep applying vCenter changes as they happen (until Ctrl-C)
    #[arg(long)]
    pub watch: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum VmCommand {
    /// VMs with the seed's fields (uuid, name, power_state, has_snapshot, …)
    List {
        /// Narrow to names, guest hostnames or IPs matching this (fuzzy)
        #[arg(long)]
        search: Option<String>,
        /// At most this many rows
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// ESXi hosts: hardware, state, management IPs, VM count, mapped server
    List {
        #[arg(long)]
        json: bool,
    },
}

pub async fn vm(db: &Database, cmd: VmCommand) -> Result<(), Error> {
    match cmd {
        VmCommand::List { search, limit, json } => {
            output::vms(&inventory::vms(db, search.as_deref(), limit).await?, json)
        }
    }
}

pub async fn host(db: &Database, cmd: HostCommand) -> Result<(), Error> {
    match cmd {
        HostCommand::List { json } => output::hosts(&inventory::hosts(db).await?, json),
    }
}

pub async fn source(db: &Database, cmd: SourceCommand) -> Result<(), Error> {
    match cmd {
        SourceCommand::Add(add) => source_add(db, *add).await,
        SourceCommand::List { json } => output::sources(&sources::list(db).await?, json),
        SourceCommand::Remove { kind, name } => {
            sources::remove(db, kind, &name).await?;
            println!("Removed {} source {name} and its cached inventory.", kind.as_str());
            Ok(())
        }
    }
}

async fn source_add(db: &Database, add: SourceAdd) -> Result<(), Error> {
    let driver = match add.driver.as_str() {
        "auto" => None,
        d => Some(d.to_owned()),
    };
    let password = add.password.read()?;
    let identity = |source_name: &str, first: bool| -> Result<IdentityChoice, Error> {
        match (&add.identity, &add.username) {
            (Some(name), _) => Ok(IdentityChoice::Existing(name.clone())),
            (None, Some(user)) if first => Ok(IdentityChoice::New {
                name: Some(add.identity_name.clone().unwrap_or_else(|| source_name.to_owned())),
                credentials: Credentials::new(
                    user.clone(),
                    password.clone().ok_or_else(|| {
                        Error::invalid("give the password with --password-stdin or --password-env VAR")
                    })?,
                ),
                rotation_period_days: 90,
            }),
            (None, Some(_)) => {
                Ok(IdentityChoice::Existing(add.identity_name.clone().unwrap_or_else(|| "idrac-fleet".into())))
            }
            (None, None) => {
                Err(Error::invalid("say which service identity to use: --identity NAME, or --username with a password"))
            }
        }
    };
    match &add.csv {
        None => {
            let name = add.name.clone().ok_or_else(|| Error::invalid("--name is needed"))?;
            let source = sources::add(
                db,
                &NewSource {
                    kind: add.kind,
                    name: name.clone(),
                    url: add.url.clone().ok_or_else(|| Error::invalid("--url is needed"))?,
                    identity: identity(&name, true)?,
                    tls: TlsChoice { thumbprint: add.thumbprint.clone(), insecure: add.insecure },
                    site: add.site.clone(),
                    driver: driver.clone(),
                },
            )
            .await?;
            println!(
                "Added {} source {} ({}, TLS {}, identity {}).",
                source.kind.as_str(),
                source.name,
                source.url,
                source.tls,
                source.service_identity
            );
            Ok(())
        }
        Some(path) => {
            if add.kind != SourceKind::Idrac {
                return Err(Error::invalid("--csv adds iDRACs only"));
            }
            if add.username.is_some() && add.identity_name.is_none() {
                return Err(Error::invalid("with --csv and --username, name the shared identity with --identity-name"));
            }
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_path(path)
                .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
            let mut added = 0;
            let mut failed = Vec::new();
            for (i, record) in reader.deserialize::<CsvIdrac>().enumerate() {
                let line = i + 2;
                let row = match record {
                    Ok(r) => r,
                    Err(e) => {
                        failed.push(format!("line {line}: {e}"));
                        continue;
                    }
                };
                let new = NewSource {
                    kind: SourceKind::Idrac,
                    name: row.name.clone(),
                    url: row.url,
                    identity: identity(&row.name, added == 0 && add.username.is_some())?,
                    tls: TlsChoice {
                        thumbprint: row.thumbprint.filter(|t| !t.is_empty()).or(add.thumbprint.clone()),
                        insecure: add.insecure,
                    },
                    site: row.site.filter(|s| !s.is_empty()).or(add.site.clone()),
                    driver: row.driver.filter(|d| !d.is_empty() && d != "auto").or(driver.clone()),
                };
                match sources::add(db, &new).await {
                    Ok(_) => added += 1,
                    Err(e) => failed.push(format!("line {line} ({}): {}", row.name, e.message)),
                }
            }
            println!("Added {added} iDRAC(s) from {}.", path.display());
            for f in &failed {
                println!("  not added: {f}");
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(Error::invalid(format!("{} row(s) of {} were not added", failed.len(), path.display())))
            }
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct CsvIdrac {
    name: String,
    url: String,
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    thumbprint: Option<String>,
}

/// Build this machine's worker: its key decrypts the sources' identities.
pub async fn syncer(config: &Config, db: &Database, key_file: Option<&std::path::Path>) -> Result<Syncer, Error> {
    let key = keystore::load(&keystore::locate(config, key_file)).await?;
    Ok(Syncer::new(db.clone(), key, worker_name()))
}

pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_owned()).unwrap_or_default();
    format!("{}:{}", if host.is_empty() { "eio" } else { &host }, std::process::id())
}

/// `eio sync`: a full sync of every enabled source (or those selected), as this machine's
/// worker. Fails (exit 1) when any source failed, after syncing all the others.
pub async fn sync(
    config: &Config,
    db: &Database,
    key_file: Option<&std::path::Path>,
    args: SyncArgs,
) -> Result<(), Error> {
    let syncer = syncer(config, db, key_file).await?;
    let wants = |k: SourceKind| args.kind.is_none_or(|want| want == k);
    let mut reports: Vec<RunReport> = Vec::new();
    let named = args.source.as_deref();
    let all = sources::list(db).await?;
    let has = |k: SourceKind| all.iter().any(|s| s.kind == k && named.is_none_or(|n| n == s.name));
    if named.is_some() && !all.iter().any(|s| Some(s.name.as_str()) == named && wants(s.kind)) {
        return Err(Error::not_found(format!("no source named \"{}\"", named.unwrap_or_default())));
    }
    if wants(SourceKind::Ome) && has(SourceKind::Ome) {
        reports.extend(dell::sync_omes(&syncer, named).await?);
    }
    if wants(SourceKind::Vcenter) && has(SourceKind::Vcenter) {
        reports.extend(vcenter::sync_vcenters(&syncer, named).await?);
    }
    if wants(SourceKind::Idrac) && has(SourceKind::Idrac) {
        reports.extend(dell::sync_idracs(&syncer, named).await?);
    }
    output::sync_reports(&reports, args.json)?;
    if args.watch {
        return watch(&syncer, named, args.json).await;
    }
    let failed = reports.iter().filter(|r| r.outcome == Outcome::Failed).count();
    if failed > 0 {
        Err(Error::new(
            eio_core::error::ErrorCode::Unavailable,
            format!("{failed} of {} source(s) failed to sync", reports.len()),
        ))
    } else {
        Ok(())
    }
}

/// Apply vCenter changes as they happen until Ctrl-C: one watcher per vCenter.
async fn watch(syncer: &Syncer, named: Option<&str>, json: bool) -> Result<(), Error> {
    let vcenters = eio_engine::sync::sources(&syncer.db, SourceKind::Vcenter, named).await?;
    if vcenters.is_empty() {
        return Err(Error::invalid("--watch follows vCenters, and none is selected"));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for source in vcenters {
        let (syncer, stop) = (syncer.clone(), stop_rx.clone());
        eprintln!("watching {} for changes (Ctrl-C to stop)", source.name);
        tasks.spawn(async move { vcenter::watch(&syncer, &source, stop).await });
    }
    let _ = tokio::signal::ctrl_c().await;
    let _ = stop_tx.send(true);
    while let Some(done) = tasks.join_next().await {
        if let Ok(Ok(reports)) = done {
            output::sync_reports(&reports, json)?;
        }
    }
    Ok(())
}

pub async fn server(db: &Database, cmd: ServerCommand) -> Result<(), Error> {
    match cmd {
        ServerCommand::List { json } => output::servers(&inventory::servers(db).await?, json),
        ServerCommand::Firmware { server, json } => {
            let id = inventory::find_server(db, &server).await?;
            output::firmware(&inventory::firmware(db, id).await?, json)
        }
    }
}

pub async fn mapping(db: &Database, cmd: MappingCommand) -> Result<(), Error> {
    match cmd {
        MappingCommand::List { json } => output::mappings(&inventory::mappings(db).await?, json),
        MappingCommand::Set { server, host } => {
            let m = inventory::set_manual_mapping(db, &server, &host).await?;
            println!("Mapped {} to {} by hand.", m.service_tag.as_deref().unwrap_or(&server), m.esxi_host);
            Ok(())
        }
        MappingCommand::Refresh => {
            let counts: serde_json::Value =
                sqlx::query_scalar("SELECT refresh_server_mappings()").fetch_one(db.pool()).await?;
            println!("Mappings: {counts}");
            Ok(())
        }
    }
}
