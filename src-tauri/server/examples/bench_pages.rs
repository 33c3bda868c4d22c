//! Benchmark: every page model the UI asks for (the `*_page` operations, plus the inventory
//! page searched and filtered, and one VM's, host's and server's detail), with a lab estate of
//! 10,000 VMs and 100 Dell servers synced into PostgreSQL. Each page is loaded `--rounds`
//! times through the operation registry, as the desktop and `eio serve` do, signed in as an
//! admin login; prints p50 / p95 / max per page and the process's peak RSS. Asserts nothing
//! (the target is p95 ≤ 50 ms per page). The estate is vacuumed and analysed after the
//! syncs, as autovacuum leaves it a minute after a bulk load.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --release -p eio-server --example bench_pages [-- --hosts 100 --vms-per-host 100 --rounds 50]
//! ```
//! `--servers N` syncs N iDRACs (default: one per ESXi host); the first `--hosts` of them
//! are the hosts' servers, the rest servers no host runs on. `--reuse DATABASE` times the
//! pages again on an estate an earlier `--keep` left, without syncing (migrated to this
//! build's schema first; its own login, dropped after; the database stays).
//! It works in a scratch database (and login) it creates and drops — unless `--keep`, which
//! leaves both and prints `kept: {"database", "login", "password"}` for the desktop's
//! startup benchmark (tests/ui/bench/first-data.mjs), which drops them itself.
use std::time::{Duration, Instant};

use eio_core::api::{self, Session, OPERATIONS};
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities as ids;
use eio_core::sources::{self, IdentityChoice, NewSource, SourceKind, TlsChoice};
use eio_core::Database;
use eio_engine::sync::{dell, vcenter, Syncer};
use eio_lab::dell::DellLab;
use eio_lab::vcenter::model::service_tag;
use eio_lab::vcenter::{LabModel, LabVcenter};
use eio_secret::Credentials;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Executor;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL to a PostgreSQL superuser URL")?;
    let tag = std::process::id();
    let login = format!("eio_bench_admin_{tag}");
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await?;
    if let Some(estate) = std::env::args().skip_while(|a| a != "--reuse").nth(1) {
        let opts = url.parse::<PgConnectOptions>()?.database(&estate);
        let pool = PgPoolOptions::new().max_connections(4).connect_with(opts.clone()).await?;
        // An estate kept by an earlier build: this build's schema first.
        let migrated = eio_core::db::migrate_pool(&pool).await?;
        if !migrated.applied.is_empty() {
            println!("migrated {estate}: {} migration(s)", migrated.applied.len());
        }
        // As autovacuum would have by now: the last run's rule previews, rolled back,
        // left dead rows behind.
        let t = Instant::now();
        pool.execute("VACUUM (ANALYZE)").await?;
        println!("VACUUM (ANALYZE) of {estate}: {:.1} s", secs(t));
        // Its user stays: the jobs it submitted name it.
        let result = time_pages(&pool, &opts, &login).await;
        pool.close().await;
        admin.execute(format!("DROP ROLE IF EXISTS {login}").as_str()).await?;
        return result.map(|_| ());
    }
    let scratch = format!("eio_bench_pages_{tag}");
    admin.execute(format!("CREATE DATABASE {scratch}").as_str()).await?;
    let keep = std::env::args().any(|a| a == "--keep");
    let result = run(&url, &scratch, &login).await;
    if let (true, Ok(password)) = (keep, &result) {
        println!("kept: {}", json!({"database": scratch, "login": login, "password": password}));
        return Ok(());
    }
    admin.execute(format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)").as_str()).await?;
    admin.execute(format!("DROP ROLE IF EXISTS {login}").as_str()).await?;
    result.map(|_| ())
}

/// Sync the lab estate into `scratch`, time every page; returns the admin login's password.
async fn run(url: &str, scratch: &str, login: &str) -> Result<String, Box<dyn std::error::Error>> {
    let hosts = arg("--hosts", 100).max(1);
    let vms_per_host = arg("--vms-per-host", 100);
    let servers = arg("--servers", 0);
    let clusters = hosts.div_ceil(20);
    let model = LabModel {
        datacenters: 1,
        clusters_per_datacenter: clusters,
        hosts_per_cluster: hosts.div_ceil(clusters),
        standalone_hosts_per_datacenter: 0,
        vms_per_host,
    };

    let opts: PgConnectOptions = url.parse::<PgConnectOptions>()?.database(scratch);
    let pool = PgPoolOptions::new().max_connections(4).connect_with(opts.clone()).await?;
    eio_core::db::migrate_pool(&pool).await?;
    let db = Database::from_pool(pool.clone());

    // The lab: a vCenter and one iDRAC per ESXi host (matching service tags, so hosts map).
    let t = Instant::now();
    let vc = LabVcenter::start(model).await?;
    let mut lab = DellLab::builder().bmcs(model.hosts().max(servers)).outdated_every(3);
    for i in 0..model.hosts() {
        lab = lab.customize(i, move |spec| {
            spec.service_tag = service_tag(i);
            spec.hostname = format!("esx-{i:03}.lab.local");
        });
    }
    let dell_lab = lab.build().await?;
    println!(
        "lab: {} hosts, {} VMs, {} iDRACs, up in {:.1} s",
        model.hosts(),
        model.vms(),
        dell_lab.bmcs.len(),
        secs(t)
    );

    let key = WorkerKey::generate();
    ids::trust_worker_key(&db, &key.public_key(), "bench").await?;
    let source = |kind, name: String, url: String, identity, thumbprint: Option<String>| NewSource {
        kind,
        name,
        url,
        identity,
        tls: TlsChoice { thumbprint, insecure: false },
        site: None,
        driver: None,
    };
    sources::add(
        &db,
        &source(
            SourceKind::Vcenter,
            "vc-lab".into(),
            vc.sdk_url.to_string(),
            IdentityChoice::New {
                name: None,
                credentials: Credentials::new(vc.username().to_owned(), vc.password().to_owned()),
                rotation_period_days: 90,
            },
            Some(vc.thumbprint.to_string()),
        ),
    )
    .await?;
    for (i, b) in dell_lab.bmcs.iter().enumerate() {
        let identity = if i == 0 {
            IdentityChoice::New {
                name: Some("idrac-fleet".into()),
                credentials: dell_lab.credentials(),
                rotation_period_days: 90,
            }
        } else {
            IdentityChoice::Existing("idrac-fleet".into())
        };
        let name = format!("idrac-{:03}", b.index);
        let thumbprint = b.thumbprint.map(|t| t.to_string());
        sources::add(&db, &source(SourceKind::Idrac, name, b.url.to_string(), identity, thumbprint)).await?;
    }
    let syncer = Syncer::new(db.clone(), key, "bench");
    let t = Instant::now();
    let reports = vcenter::sync_vcenters(&syncer, None).await?;
    println!("vCenter sync: {:?} in {:.1} s", reports.iter().map(|r| &r.outcome).collect::<Vec<_>>(), secs(t));
    let t = Instant::now();
    let reports = dell::sync_idracs(&syncer, None).await?;
    println!("iDRAC sync: {} endpoints in {:.1} s", reports.len(), secs(t));
    eio_engine::sync::refresh_derived(&db).await;
    // What autovacuum does within a minute of a bulk load (visibility map, statistics):
    // pages are measured in that steady state. Said, because this machine's PostgreSQL
    // runs with autovacuum off, and without it every count reads the heap.
    let t = Instant::now();
    let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')").fetch_one(&pool).await?;
    pool.execute("VACUUM (ANALYZE)").await?;
    println!("VACUUM (ANALYZE) after the syncs: {:.1} s (this server's autovacuum: {autovacuum})", secs(t));
    let password = time_pages(&pool, &opts, login).await;
    pool.close().await;
    password
}

/// Time every page of the estate in `pool` as a new admin login `login`; returns its password.
async fn time_pages(pool: &PgPool, opts: &PgConnectOptions, login: &str) -> Result<String, Box<dyn std::error::Error>> {
    let rounds = arg("--rounds", 50).max(2);
    // Pages as an admin sees them: a real login, mapped to a user.
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    pool.execute(format!("CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE eio_admin").as_str()).await?;
    sqlx::query("INSERT INTO users (email, role, login_role) VALUES ('bench-' || $1 || '@example.test', 'admin', $1)")
        .bind(login)
        .execute(pool)
        .await?;
    let as_admin =
        PgPoolOptions::new().max_connections(4).connect_with(opts.clone().username(login).password(&password)).await?;
    // The first search of a session that has no search index yet: it waits for the build.
    let cold = Session::new(Database::from_pool(as_admin.clone()));
    let t = Instant::now();
    api::dispatch(&cold, "inventory_page", json!({"q": "lab-vm-0424"})).await.map_err(|e| e.message)?;
    println!("the first search of a session with no search index yet (it builds it): {:.1} ms", ms(t.elapsed()));
    // As the desktop and `eio serve` do at start: the index builds while the first pages load.
    let db = Database::from_pool(as_admin);
    eio_core::search::warm_in_background(&db);
    let session = Session::new(db);

    let first = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, String>(sql).fetch_one(&pool).await }
    };
    // A site for the rule preview to place things at.
    sqlx::raw_sql(
        "INSERT INTO regions (code, name) SELECT 'BENCH', 'Bench'
             WHERE NOT EXISTS (SELECT 1 FROM regions WHERE code = 'BENCH');
         INSERT INTO countries (region_id, iso_code, name) SELECT id, 'BE', 'Bench' FROM regions
             WHERE code = 'BENCH' AND NOT EXISTS (SELECT 1 FROM countries WHERE iso_code = 'BE');
         INSERT INTO sites (country_id, code) SELECT id, 'BENCH-01' FROM countries
             WHERE iso_code = 'BE' AND NOT EXISTS (SELECT 1 FROM sites WHERE code = 'BENCH-01');",
    )
    .execute(pool)
    .await?;
    let vm = first("SELECT id::text FROM virtual_machines ORDER BY name LIMIT 1").await?;
    let host = first("SELECT id::text FROM esxi_hosts ORDER BY name LIMIT 1").await?;
    // The address page and the prefix page: the first VM's address, in a /22 around it.
    let address = first(
        "SELECT guest_ips -> 0 ->> 'ip' FROM virtual_machines WHERE jsonb_array_length(guest_ips) > 0 ORDER BY name LIMIT 1",
    )
    .await?;
    let prefix = first(
        "SELECT network(set_masklen((guest_ips -> 0 ->> 'ip')::inet, 22))::text FROM virtual_machines
         WHERE jsonb_array_length(guest_ips) > 0 ORDER BY name LIMIT 1",
    )
    .await?;
    if api::dispatch(&session, "ipam_prefix", json!({"cidr": prefix})).await.is_err() {
        api::dispatch(&session, "ipam_prefix_add", json!({"cidr": prefix})).await.map_err(|e| e.message)?;
    }
    // A job's page: a maintenance job awaiting approval, with its plan.
    let host_name = first("SELECT name FROM esxi_hosts ORDER BY name LIMIT 1").await?;
    let submitted =
        api::dispatch(&session, "job_submit", json!({"spec": {"type": "maintenance_mode", "hosts": [host_name]}}))
            .await
            .map_err(|e| e.message)?;
    let job = submitted["job"]["id"].as_str().ok_or("the submitted job has no id")?.to_owned();
    let mut cases: Vec<(String, &'static str, Value)> = OPERATIONS
        .iter()
        .filter(|op| op.name.ends_with("_page"))
        .map(|op| (op.name.to_owned(), op.name, json!({})))
        .collect();
    cases.extend([
        ("inventory_page (search \"lab-vm-0424\")".into(), "inventory_page", json!({"q": "lab-vm-0424"})),
        ("inventory_page (hosts)".into(), "inventory_page", json!({"kind": "hosts"})),
        (
            "inventory_page (powered on, offset 5000)".into(),
            "inventory_page",
            json!({"power": "powered_on", "offset": 5000}),
        ),
        (
            "inventory_page (powered off, offset 5000)".into(),
            "inventory_page",
            json!({"power": "powered_off", "offset": 5000}),
        ),
        ("servers_page (search \"idrac-04\")".into(), "servers_page", json!({"q": "idrac-04"})),
        ("servers_page (not mapped, offset 2000)".into(), "servers_page", json!({"show": "unmapped", "offset": 2000})),
        ("sources_page (iDRACs, page at 3000)".into(), "sources_page", json!({"kind": "idrac", "offset": 3000})),
        ("vm_detail".into(), "vm_detail", json!({"id": vm})),
        ("host_detail".into(), "host_detail", json!({"id": host})),
        ("server_detail".into(), "server_detail", json!({"server": service_tag(0)})),
        ("site_placement (a VM)".into(), "site_placement", json!({"kind": "vm", "id": vm})),
        ("job_policies".into(), "job_policies", json!({})),
        ("concurrency_limits".into(), "concurrency_limits", json!({})),
        ("sources".into(), "sources", json!({})),
        (format!("ipam_prefix ({prefix})"), "ipam_prefix", json!({"cidr": prefix})),
        ("ipam_lookup (who uses an address)".into(), "ipam_lookup", json!({"address": address})),
        ("job_detail (maintenance, awaiting approval)".into(), "job_detail", json!({"id": job})),
        // A form action, not a page: inference over the whole estate with the rule, rolled back.
        (
            "site_rule_preview (every VM)".into(),
            "site_rule_preview",
            json!({"site": "BENCH-01", "method": "dns", "pattern": "^lab-vm"}),
        ),
    ]);

    println!("\npage model (rounds: {rounds})                      p50 ms   p95 ms   max ms   bytes");
    for (label, op, input) in cases {
        // The rule preview takes seconds a round: three say enough.
        let rounds = if op == "site_rule_preview" { rounds.min(3) } else { rounds };
        let mut times = Vec::with_capacity(rounds);
        let mut bytes = 0;
        let mut failed = None;
        for _ in 0..rounds {
            let t = Instant::now();
            match api::dispatch(&session, op, input.clone()).await {
                Ok(v) => bytes = serde_json::to_vec(&v).map(|b| b.len()).unwrap_or(0),
                Err(e) => {
                    failed = Some(e.message);
                    break;
                }
            }
            times.push(t.elapsed());
        }
        if let Some(message) = failed {
            println!("{label:<50} failed: {message}");
            continue;
        }
        times.sort();
        let at = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
        // Pages are judged by p95 ≤ 50 ms (the rule preview is a form action, not a page).
        let verdict = if op != "site_rule_preview" && at(0.95) > 50.0 { "  over the 50 ms target" } else { "" };
        println!("{label:<50} {:>7.1}  {:>7.1}  {:>7.1}  {bytes:>7}{verdict}", at(0.5), at(0.95), at(1.0));
    }
    println!("\npeak RSS of this process (lab simulators + client): {:.0} MiB", peak_rss_mib());
    Ok(password)
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
