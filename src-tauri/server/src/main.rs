//! `eio` — the headless EIO: the command line, the REST API and the UI served to browsers
//! (`eio serve`), this machine's share of the worker pool (`eio worker`), sync, and the
//! demo lab. The commands are a thin adapter over the operation registry
//! (`eio_core::api`): each parses its arguments, runs the registry operations
//! [`CLI_OPERATIONS`] names for it through `api::call`, and prints the result for a human
//! or, with `--json`, for a script. Only the process commands ([`PROCESS_COMMANDS`]:
//! migrating, the embedded database, sync, the worker, serve, the demo and `report run`)
//! drive services directly, because they are processes or write to this machine rather
//! than answer one call.
//!
//! Errors go to stderr as one sentence (and, with `--json`, also to stdout as
//! `{"error": {"code", "message"}}`); the exit code is 1 for a failed command and 2 for
//! a command line clap rejects.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use eio_core::config::{Config, Overrides, ENV_CONFIG, ENV_DATABASE_URL, ENV_DATA_DIR};
use eio_core::error::ApiError;
use eio_core::Error;

mod demo;
mod identity_cmds;
mod ipam_cmds;
mod job_cmds;
mod output;
mod report_cmds;
mod serve;
mod site_cmds;
mod source_cmds;

#[derive(Debug, Parser)]
#[command(
    name = "eio",
    version,
    about = "EIO: inventory, IPAM and safe orchestration for vCenter and Dell estates",
    long_about = "EIO syncs VMware vCenter and Dell iDRAC/OpenManage inventory into a shared PostgreSQL, \
                  does IPAM on what it observes, and runs approved orchestration jobs.\n\n\
                  With no database configured, EIO uses its embedded default: a private PostgreSQL \
                  under the data directory, created and started on demand."
)]
struct Cli {
    /// PostgreSQL URL of the shared database (default: the config file's, else the embedded default)
    #[arg(long, global = true, env = ENV_DATABASE_URL, hide_env_values = true, value_name = "URL")]
    database_url: Option<String>,

    /// Where EIO keeps its files, including the embedded database
    #[arg(long, global = true, env = ENV_DATA_DIR, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Configuration file (default: <config dir>/eio/config.toml)
    #[arg(long, global = true, env = ENV_CONFIG, value_name = "FILE")]
    config: Option<PathBuf>,

    /// This worker's private key file (default: <data dir>/worker-key.age if present, else the OS keyring)
    #[arg(long, global = true, env = eio_core::identity::keystore::ENV_WORKER_KEY_FILE, value_name = "PATH")]
    key_file: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace); EIO_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Log lines as text for people, or as one JSON object a line (the same fields) for
    /// Loki, ELK and the like
    #[arg(long, global = true, env = "EIO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bring the database schema up to date (needs an admin login that may create roles)
    Migrate {
        /// Only say whether the schema is behind, current or ahead of this build, changing
        /// nothing (any login): exit 0 current, 2 behind (run `eio migrate`), 3 ahead (a newer
        /// EIO migrated it: install that release or newer), 1 when it can't be read
        #[arg(long)]
        check: bool,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show the connection, schema version, row counts, pending approvals and kill switch
    Status {
        /// Print the status page model as JSON
        #[arg(long)]
        json: bool,
    },
    /// Manage the embedded default database
    #[command(subcommand)]
    Embedded(EmbeddedCommand),
    /// Humans: PostgreSQL logins mapped to EIO users with a role and capabilities
    #[command(subcommand)]
    User(identity_cmds::UserCommand),
    /// Service identities (sealed credentials for vCenter, iDRAC, OME) and worker keys
    #[command(subcommand)]
    Identity(identity_cmds::IdentityCommand),
    /// The vCenters, iDRACs and OpenManage Enterprise instances EIO syncs from
    #[command(subcommand)]
    Source(source_cmds::SourceCommand),
    /// Full sync of every enabled source (or one), as this machine's worker
    Sync(source_cmds::SyncArgs),
    /// Physical servers and their firmware
    #[command(subcommand)]
    Server(source_cmds::ServerCommand),
    /// Which ESXi host runs on which physical server
    #[command(subcommand)]
    Mapping(source_cmds::MappingCommand),
    /// Virtual machines
    #[command(subcommand)]
    Vm(source_cmds::VmCommand),
    /// ESXi hosts
    #[command(subcommand)]
    Host(source_cmds::HostCommand),
    /// Jobs: submit (with a dry-run plan), approve, decide, cancel, follow
    #[command(subcommand)]
    Job(job_cmds::JobCommand),
    /// The global emergency stop for every job's external calls
    #[command(subcommand)]
    KillSwitch(job_cmds::KillSwitchCommand),
    /// Run this machine's share of the worker pool until stopped
    Worker(job_cmds::WorkerArgs),
    /// Sites: regions, countries, sites, inference rules, where things are
    #[command(subcommand)]
    Site(site_cmds::SiteCommand),
    /// IPAM: routing domains, prefixes, free space, allocation, findings
    #[command(subcommand)]
    Ipam(ipam_cmds::IpamCommand),
    /// Fuzzy search over VMs, hosts, servers, service tags, addresses, prefixes and MACs
    Search(ipam_cmds::SearchArgs),
    /// Reports: run one into a file now, define (scheduled) reports, list them, their history
    #[command(subcommand)]
    Report(report_cmds::ReportCommand),
    /// Start the demo lab (simulated vCenters, iDRACs, OME) and set EIO up on it; runs until Ctrl-C
    Demo(demo::DemoArgs),
    /// Serve the REST API (/api, /api/openapi.json) and the UI, and run the worker pool
    Serve(serve::ServeArgs),
}

#[derive(Debug, Subcommand)]
enum EmbeddedCommand {
    /// Create (if needed), start and migrate the embedded PostgreSQL
    Start,
    /// Stop the embedded PostgreSQL (fast shutdown)
    Stop,
    /// Say whether the embedded PostgreSQL exists and runs
    Status {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    fn json(&self) -> bool {
        match self {
            Command::Migrate { json, .. } | Command::Status { json } => *json,
            Command::Embedded(EmbeddedCommand::Status { json }) => *json,
            Command::Embedded(_) => false,
            Command::User(identity_cmds::UserCommand::List { json }) => *json,
            Command::Identity(
                identity_cmds::IdentityCommand::List { json }
                | identity_cmds::IdentityCommand::Keys { json }
                | identity_cmds::IdentityCommand::Test { json, .. },
            ) => *json,
            Command::Source(
                source_cmds::SourceCommand::List { json }
                | source_cmds::SourceCommand::Probe { json, .. }
                | source_cmds::SourceCommand::Remove { json, .. },
            )
            | Command::Server(
                source_cmds::ServerCommand::List { json }
                | source_cmds::ServerCommand::Firmware { json, .. }
                | source_cmds::ServerCommand::Baseline(
                    source_cmds::BaselineCommand::List { json }
                    | source_cmds::BaselineCommand::Define { json, .. }
                    | source_cmds::BaselineCommand::Remove { json, .. },
                ),
            )
            | Command::Mapping(source_cmds::MappingCommand::List { json })
            | Command::Vm(source_cmds::VmCommand::List { json, .. })
            | Command::Host(source_cmds::HostCommand::List { json })
            | Command::KillSwitch(job_cmds::KillSwitchCommand::Status { json }) => *json,
            Command::Source(source_cmds::SourceCommand::Add(add)) => add.json,
            Command::Sync(args) => args.json,
            Command::Demo(args) => args.json,
            Command::Site(cmd) => cmd.json(),
            Command::Ipam(cmd) => cmd.json(),
            Command::Search(args) => args.json,
            Command::Report(cmd) => cmd.json(),
            Command::Job(cmd) => cmd.json(),
            Command::User(_)
            | Command::Identity(_)
            | Command::Source(_)
            | Command::Mapping(_)
            | Command::KillSwitch(_)
            | Command::Worker(_)
            | Command::Serve(_) => false,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.log_format);
    let json = cli.command.json();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // An answer, not a failure: said on stdout already.
        Err(e) if std::error::Error::source(&e).is_some_and(|s| s.is::<output::ExitWith>()) => {
            let code =
                std::error::Error::source(&e).and_then(|s| s.downcast_ref::<output::ExitWith>()).map_or(1, |x| x.0);
            ExitCode::from(code)
        }
        Err(e) => {
            let api = ApiError::from(&e);
            let reported = std::error::Error::source(&e).is_some_and(|s| s.is::<output::AlreadyPrinted>());
            if json && !reported {
                let _ = writeln!(std::io::stdout(), "{}", serde_json::json!({ "error": api }));
            }
            eprintln!("error: {}", api.message);
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("EIO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs.json().flatten_event(true).try_init(),
    };
}

async fn run(cli: Cli) -> Result<(), Error> {
    let config = Config::load(Overrides {
        database_url: cli.database_url.filter(|u| !u.trim().is_empty()),
        data_dir: cli.data_dir,
        config_file: cli.config,
    })?;
    match cli.command {
        Command::Migrate { check: true, json } => {
            let db = eio_core::Database::open(&config).await?;
            let state = eio_core::db::schema_state(db.pool()).await?;
            output::schema_check(&state, json)
        }
        Command::Migrate { check: false, json } => {
            let report = eio_core::db::migrate(&config).await?;
            output::migration(&report, json)
        }
        Command::Status { json } => {
            let session = eio_core::api::Session::new(open(&config).await?);
            let page = eio_core::api::call::<eio_core::api::op::status>(&session, eio_core::api::NoInput {}).await?;
            output::status(&page, json)
        }
        Command::Embedded(cmd) => embedded(&config, cmd).await,
        Command::User(cmd) => identity_cmds::user(&open_current(&config).await?, cmd).await,
        Command::Identity(cmd) => {
            let db = open_current(&config).await?;
            identity_cmds::identity(&config, &db, cli.key_file.as_deref(), cmd).await
        }
        Command::Source(cmd) => source_cmds::source(&open_current(&config).await?, cmd).await,
        Command::Sync(args) => {
            let db = open_current(&config).await?;
            source_cmds::sync(&config, &db, cli.key_file.as_deref(), args).await
        }
        Command::Server(cmd) => source_cmds::server(&open_current(&config).await?, cmd).await,
        Command::Mapping(cmd) => source_cmds::mapping(&open_current(&config).await?, cmd).await,
        Command::Vm(cmd) => source_cmds::vm(&open_current(&config).await?, cmd).await,
        Command::Host(cmd) => source_cmds::host(&open_current(&config).await?, cmd).await,
        Command::Job(cmd) => job_cmds::job(&open_current(&config).await?, cmd).await,
        Command::KillSwitch(cmd) => job_cmds::kill_switch(&open_current(&config).await?, cmd).await,
        Command::Worker(args) => {
            let db = open_current(&config).await?;
            job_cmds::worker(&config, &db, cli.key_file.as_deref(), args).await
        }
        Command::Site(cmd) => site_cmds::site(&open_current(&config).await?, cmd).await,
        Command::Ipam(cmd) => ipam_cmds::ipam(&open_current(&config).await?, cmd).await,
        Command::Search(args) => ipam_cmds::search(&open_current(&config).await?, args).await,
        Command::Report(cmd) => report_cmds::report(&config, &open_current(&config).await?, cmd).await,
        Command::Demo(args) => demo::run(&config, cli.key_file.as_deref(), args).await,
        Command::Serve(args) => serve::run(&config, cli.key_file.as_deref(), args).await,
    }
}

/// Connect as the application and record the login in the audit trail.
async fn open(config: &Config) -> Result<eio_core::Database, Error> {
    let db = eio_core::Database::open(config).await?;
    eio_core::identity::record_login(&db, "eio-cli").await;
    Ok(db)
}

/// As [`open`], for commands that need the schema to match this build.
async fn open_current(config: &Config) -> Result<eio_core::Database, Error> {
    let db = open(config).await?;
    db.require_current_schema().await?;
    Ok(db)
}

async fn embedded(config: &Config, cmd: EmbeddedCommand) -> Result<(), Error> {
    use eio_core::db::embedded::EmbeddedCluster;
    match cmd {
        EmbeddedCommand::Start => {
            let report = eio_core::db::migrate(&Config {
                database: eio_core::config::DatabaseChoice::Embedded,
                ..config.clone()
            })
            .await?;
            println!("The embedded PostgreSQL runs: {}", report.target);
            Ok(())
        }
        EmbeddedCommand::Stop => {
            let was_running = eio_core::db::stop_embedded(config).await?;
            println!(
                "{}",
                if was_running {
                    "Stopped the embedded PostgreSQL."
                } else {
                    "The embedded PostgreSQL was not running."
                }
            );
            Ok(())
        }
        EmbeddedCommand::Status { json } => {
            let cluster = EmbeddedCluster::new(config.embedded_dir())?;
            let exists = cluster.exists();
            let running = if exists {
                let c = cluster.clone();
                tokio::task::spawn_blocking(move || c.is_running())
                    .await
                    .map_err(|e| Error::internal(e.to_string()))??
            } else {
                false
            };
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "dir": cluster.root(),
                        "exists": exists,
                        "running": running,
                        "socket_dir": cluster.socket_dir(),
                        "in_use": matches!(config.database, eio_core::config::DatabaseChoice::Embedded),
                    })
                );
            } else {
                println!(
                    "Embedded PostgreSQL in {}: {}",
                    cluster.root().display(),
                    match (exists, running) {
                        (false, _) => "not created yet (it is created on first use)",
                        (true, false) => "created, not running (it starts on demand)",
                        (true, true) => "running",
                    }
                );
            }
            Ok(())
        }
    }
}

/// The registry operations each command runs, through `api::call`: the command parses
/// flags and prints, the operation holds every rule. `cli_commands_run_registry_operations`
/// keeps this table complete.
pub const CLI_OPERATIONS: &[(&str, &[&str])] = &[
    ("status", &["status"]),
    ("source add", &["source_add", "source_import_idracs"]),
    ("source list", &["sources"]),
    ("source edit", &["source_update"]),
    ("source enable", &["source_update"]),
    ("source disable", &["source_update"]),
    ("source trust", &["source_update"]),
    ("source probe", &["source_probe"]),
    ("source remove", &["source_remove"]),
    ("user add", &["user_add"]),
    ("user list", &["users"]),
    ("user disable", &["user_disable"]),
    ("user enable", &["user_enable"]),
    ("user set-role", &["user_set_role"]),
    ("user set-capabilities", &["user_set_capabilities"]),
    ("user password", &["user_set_password"]),
    ("identity trust-worker-key", &["worker_key_trust"]),
    ("identity revoke-worker-key", &["worker_key_revoke"]),
    ("identity keys", &["worker_keys"]),
    ("identity add", &["service_identity_add"]),
    ("identity rotate", &["service_identity_rotate"]),
    ("identity list", &["service_identities"]),
    ("identity test", &["service_identity_test"]),
    ("identity reseal", &["service_identities_reseal"]),
    // The key itself is made and kept on this machine; trusting it is the operation.
    ("identity init-worker-key", &["me", "worker_key_trust"]),
    ("ipam domain add", &["ipam_domain_add"]),
    ("ipam domain list", &["ipam_domains"]),
    ("ipam prefix set", &["ipam_prefix_update"]),
    ("ipam prefix remove", &["ipam_prefix_remove"]),
    ("ipam lookup", &["ipam_lookup"]),
    ("ipam assign", &["ipam_assign"]),
    ("ipam edit", &["ipam_assignment_update"]),
    ("ipam release", &["ipam_release"]),
    ("site add", &["site_add"]),
    ("site list", &["sites"]),
    ("site set", &["site_update"]),
    ("site remove", &["site_remove"]),
    ("site region add", &["region_add"]),
    ("site region list", &["regions"]),
    ("site country add", &["country_add"]),
    ("site country list", &["countries"]),
    ("site rule add", &["site_rule_add", "site_rule_preview"]),
    ("site rule list", &["site_rules"]),
    ("site rule remove", &["site_rule_remove"]),
    ("site infer", &["site_infer"]),
    ("site conflicts", &["site_conflicts"]),
    ("site where", &["site_placement"]),
    ("site pin", &["site_pin"]),
    ("site unpin", &["site_unpin"]),
    ("server baseline list", &["firmware_baselines"]),
    ("server baseline define", &["firmware_baseline_define"]),
    ("server baseline remove", &["firmware_baseline_remove"]),
    ("job submit maintenance-mode", &["job_submit"]),
    ("job submit firmware-update", &["job_submit"]),
    ("job submit power", &["job_submit"]),
    ("job submit sync", &["job_submit"]),
    ("job submit report", &["job_submit"]),
    ("job list", &["jobs"]),
    ("job show", &["job_detail"]),
    ("job approve", &["job_approve"]),
    ("job deny", &["job_deny"]),
    ("job cancel", &["job_cancel"]),
    ("job decide", &["job_decide"]),
    ("job policy list", &["job_policies"]),
    ("job policy save", &["job_policy_change"]),
    ("job policy remove", &["job_policy_remove"]),
    ("job limit list", &["concurrency_limits"]),
    ("job limit set", &["concurrency_limit_set"]),
    ("kill-switch on", &["kill_switch_set"]),
    ("kill-switch off", &["kill_switch_set"]),
    ("kill-switch status", &["kill_switch"]),
    ("ipam prefix add", &["ipam_prefix_add"]),
    ("ipam prefix list", &["ipam_prefixes"]),
    ("ipam prefix show", &["ipam_prefix"]),
    ("ipam available", &["ipam_available"]),
    ("ipam allocate", &["ipam_allocate"]),
    ("ipam findings run", &["findings_run"]),
    ("ipam findings acknowledge", &["finding_acknowledge"]),
    ("search", &["search"]),
    ("ipam findings", &["findings"]),
    ("server list", &["servers"]),
    ("server firmware", &["server_firmware"]),
    ("mapping list", &["mappings"]),
    ("mapping set", &["mapping_set"]),
    ("mapping refresh", &["mappings_refresh"]),
    ("vm list", &["vms"]),
    ("host list", &["hosts"]),
    ("report define", &["report_define"]),
    ("report list", &["report_definitions"]),
    ("report history", &["report_history"]),
    ("report folder add", &["report_folder_add"]),
    ("report folder remove", &["report_folder_remove"]),
    ("report folder list", &["report_folders"]),
];

/// Commands that run a process (this machine's worker, the server, the demo lab) or act
/// before any session exists (migrating, the embedded database): not operations.
///
/// `report run` writes a file where the person at this terminal says, with their own file
/// rights: no operation may do that on a server, so it stays a command of this machine (the
/// `report_run` operation writes into the reports folder instead).
pub const PROCESS_COMMANDS: &[&str] =
    &["migrate", "embedded start", "embedded stop", "embedded status", "sync", "worker", "serve", "demo", "report run"];

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn leaves(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|c| c.get_name() != "help").collect();
        // A command runs by itself when it has no subcommands, or when they are optional
        // (`eio ipam findings` lists, `eio ipam findings run` runs).
        if subs.is_empty() || (!prefix.is_empty() && !cmd.is_subcommand_required_set()) {
            out.push(prefix.trim().to_owned());
        }
        for sub in subs {
            leaves(sub, &format!("{prefix} {}", sub.get_name()), out);
        }
    }

    /// Every command either runs registry operations (named in `CLI_OPERATIONS`, which
    /// must exist) or is one of the few process commands.
    #[test]
    fn cli_commands_run_registry_operations() {
        let mut all = Vec::new();
        leaves(&Cli::command(), "", &mut all);
        assert!(all.len() > 50, "{all:?}");
        let mut unaccounted = Vec::new();
        for command in &all {
            let listed =
                [CLI_OPERATIONS.iter().any(|(c, _)| c == command), PROCESS_COMMANDS.contains(&command.as_str())];
            match listed.iter().filter(|l| **l).count() {
                0 => unaccounted.push(command.clone()),
                1 => {}
                _ => panic!("`eio {command}` is listed twice"),
            }
        }
        assert!(unaccounted.is_empty(), "commands with no registry operation behind them: {unaccounted:?}");
        for (command, ops) in CLI_OPERATIONS {
            assert!(all.contains(&command.to_string()), "`eio {command}` is not a command");
            for op in *ops {
                assert!(eio_core::api::find(op).is_some(), "`eio {command}` names no operation {op}");
            }
        }
        for command in PROCESS_COMMANDS {
            assert!(all.contains(&command.to_string()), "`eio {command}` is listed but is not a command");
        }
    }
}
