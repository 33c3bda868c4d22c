//! Benchmark: a full vCenter sync of 10,000 VMs from vcsim into PostgreSQL, next to the
//! raw RetrievePropertiesEx exchange (request sent, body drained, nothing parsed) measured
//! in the same run. Prints wall time, the CPU this process spent, SOAP calls, peak RSS and
//! the ratio; asserts nothing. vcsim and the sync share two cores, so the wall ratio of one
//! round moves by ±20% (the simulator's garbage collector lands in either exchange);
//! `BENCH_ROUNDS=N` runs N rounds (the first sync, then N-1 no-change resyncs) and prints the
//! resyncs' median. The CPU figure is the steady one; vcsim's own CPU for each exchange is
//! printed beside it, so a round its garbage collector lands in shows as one.
//!
//! ```text
//! scripts/peers/build-vcsim
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres BENCH_ROUNDS=7 \
//!   cargo run --release -p eio-engine --example bench_sync [-- vcsim model flags]
//! ```
//! It works in a scratch database it creates and drops.
use std::time::Instant;

use eio_connectors::vcenter::Session;
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities as ids;
use eio_core::sources::{self, IdentityChoice, NewSource, SourceKind, TlsChoice};
use eio_core::Database;
use eio_engine::sync::{vcenter, Syncer};
use eio_lab::vcsim::Vcsim;
use eio_secret::Credentials;
use sqlx::postgres::PgPoolOptions;
use sqlx::Executor;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// CPU seconds (user + system) process `pid` ("self" for this one) has used: what the
/// sync itself costs, apart from the simulator and PostgreSQL it shares the machine with.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name's closing parenthesis; utime and stime are 14 and 15.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL to a PostgreSQL superuser URL")?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let default =
        ["-dc", "2", "-cluster", "5", "-host", "10", "-vm", "1000", "-standalone-host", "0"].map(String::from).to_vec();
    let flags = if args.is_empty() { default } else { args };
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();

    let t = Instant::now();
    let sim = Vcsim::start(&flags);
    println!("vcsim {flags:?}: {} VMs, ready in {:.1} s", sim.counts.vms, t.elapsed().as_secs_f64());

    let scratch = format!("eio_bench_{}", std::process::id());
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await?;
    admin.execute(format!("CREATE DATABASE {scratch}").as_str()).await?;
    let result = run(&url, &scratch, &sim).await;
    admin.execute(format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)").as_str()).await?;
    result
}

async fn run(url: &str, scratch: &str, sim: &Vcsim) -> Result<(), Box<dyn std::error::Error>> {
    let mut opts: sqlx::postgres::PgConnectOptions = url.parse()?;
    opts = opts.database(scratch);
    let pool = PgPoolOptions::new().max_connections(4).connect_with(opts).await?;
    eio_core::db::migrate_pool(&pool).await?;
    let db = Database::from_pool(pool.clone());
    let key = WorkerKey::generate();
    ids::trust_worker_key(&db, &key.public_key(), "bench").await?;
    sources::add(
        &db,
        &NewSource {
            kind: SourceKind::Vcenter,
            name: "vc".into(),
            url: sim.sdk_url.to_string(),
            identity: IdentityChoice::New {
                name: None,
                credentials: Credentials::new(sim.username.clone(), sim.password.clone()),
                rotation_period_days: 90,
            },
            tls: TlsChoice { thumbprint: Some(sim.thumbprint.to_string()), insecure: false },
            site: None,
            driver: None,
        },
    )
    .await?;
    let syncer = Syncer::new(db.clone(), key, "bench");

    // The raw exchange first (warms vcsim as much as the sync would), then the sync; round 1
    // is the first sync, every later round a resync with nothing changed. On a busy 2-core
    // machine single rounds vary by ±20%: `BENCH_ROUNDS=7` prints the resyncs' median too.
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(2).max(2);
    let mut resyncs: Vec<f64> = Vec::new();
    let session = Session::login(&sim.config()).await?;
    let sim_pid = sim.pid().to_string();
    for round in 1..=rounds {
        let t = Instant::now();
        let sim_cpu = cpu_secs(&sim_pid);
        let bytes = session.raw_inventory_exchange().await?;
        let raw = t.elapsed().as_secs_f64();
        let raw_sim_cpu = cpu_secs(&sim_pid) - sim_cpu;
        let rss_before = peak_rss_mib();
        let t = Instant::now();
        let (cpu, sim_cpu) = (cpu_secs("self"), cpu_secs(&sim_pid));
        let source = eio_engine::sync::sources(&db, eio_core::sources::SourceKind::Vcenter, None).await?.remove(0);
        let report = vcenter::full_sync(&syncer, &source).await?;
        let full = t.elapsed().as_secs_f64();
        let (cpu, sim_cpu) = (cpu_secs("self") - cpu, cpu_secs(&sim_pid) - sim_cpu);
        // What every sync ends with (site inference, the findings engine), timed apart.
        let t = Instant::now();
        eio_engine::sync::refresh_derived(&db).await;
        let derived = t.elapsed().as_secs_f64();
        let vms = report.counts.get("virtual_machines").map(|c| c.seen).unwrap_or(0);
        println!(
            "round {round}: raw RetrievePropertiesEx exchange {raw:.2} s ({:.1} MB) | full sync into PostgreSQL {full:.2} s \
             = {:.2}x raw, {cpu:.2} s of our CPU | vcsim's CPU {raw_sim_cpu:.2} s raw, {sim_cpu:.2} s sync | {:?}, {vms} VMs, {} SOAP calls (login to logout), ledger changes {} | peak RSS {:.0} MiB \
             (before the sync {:.0} MiB) | then site inference + findings {derived:.2} s",
            bytes as f64 / 1e6,
            full / raw,
            report.outcome,
            report.api_calls + 1,
            report.counts.values().map(|c| c.changed()).sum::<u64>(),
            peak_rss_mib(),
            rss_before,
        );
        if round > 1 {
            resyncs.push(full / raw);
        }
    }
    if resyncs.len() > 1 {
        resyncs.sort_by(f64::total_cmp);
        println!(
            "no-change resync over {} rounds: median {:.2}x raw (best {:.2}x, worst {:.2}x)",
            resyncs.len(),
            resyncs[resyncs.len() / 2],
            resyncs[0],
            resyncs[resyncs.len() - 1]
        );
    }
    session.logout().await?;
    pool.close().await;
    Ok(())
}
