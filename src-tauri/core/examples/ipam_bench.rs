//! Benchmark: IPAM, findings and search at estate scale, through the service API.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --release -p eio-core --example ipam_bench [-- VMS OBSERVATIONS BATCH]
//! ```
//! Creates its own scratch database from `DATABASE_URL` (a login that may create
//! databases), migrates and seeds it, and drops it at the end (kept with
//! `EIO_BENCH_KEEP=1`, to look at its plans in psql). Prints p50/p95, asserts
//! nothing except that concurrent allocations never hand out an address twice. Seeds:
//! 100k VMs; 100k prefixes (10.0.0.0/8 with 256 /16s and ~50k /24s; 11.0.0.0/8 with 50k
//! scattered /26 children); 1M observations in 10/8 (1% of addresses seen with two
//! MACs); 50k planned addresses in 10.1.0.0/16.
//!
//! Findings (issue 21: a full run over 1M observations in 3 s, the run after a watcher
//! batch in 200 ms): the full run first (it opens everything) and in steady state, then
//! runs after batches of BATCH (default 500) changed observations, the way a watcher
//! writes them (addresses gone, MACs changed, new addresses, last seen), each followed by
//! the incremental run; the full run after them must find nothing left to change.
use std::collections::HashSet;
use std::time::{Duration, Instant};

use eio_core::ipam::findings;
use eio_core::ipam::prefixes::{self, NewPrefix, PrefixStatus};
use eio_core::ipam::space::{self, IpRequest};
use eio_core::{search, Database};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

const SEED_INVENTORY: &str = r#"
INSERT INTO worker_keys (public_key, label) VALUES ('age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq', 'bench');
INSERT INTO service_identities (name, system, username, encrypted_credentials, recipients)
    VALUES ('vc-svc', 'vcenter', 'svc', convert_to(E'age-encryption.org/v1\n-> X25519 bench', 'UTF8'),
            ARRAY['age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq']);
INSERT INTO vcenter_instances (name, url, service_identity_id)
    SELECT 'vc-bench', 'https://vc-bench.example.test/sdk', id FROM service_identities;
INSERT INTO datacenters (vcenter_id, moid, name) SELECT id, 'datacenter-1', 'DC1' FROM vcenter_instances;
INSERT INTO clusters (vcenter_id, datacenter_id, moid, name)
    SELECT d.vcenter_id, d.id, 'domain-c' || n, 'cluster-' || lpad(n::text, 2, '0') FROM datacenters d, generate_series(1, 10) n;
INSERT INTO esxi_hosts (vcenter_id, datacenter_id, cluster_id, moid, name)
    SELECT c.vcenter_id, c.datacenter_id, c.id, 'host-' || c.moid || '-' || n, 'esx-' || c.name || '-' || n || '.bench.test'
    FROM clusters c, generate_series(1, 10) n;
"#;

const SEED_VMS: &str = r#"
INSERT INTO virtual_machines (vcenter_id, datacenter_id, cluster_id, host_id, moid, uuid, instance_uuid, name,
                              power_state, guest_hostname)
SELECT h.vcenter_id, h.datacenter_id, h.cluster_id, h.id, 'vm-' || i, gen_random_uuid(), gen_random_uuid(),
       (ARRAY['web', 'db', 'app', 'cache', 'mq', 'ldap', 'proxy', 'batch', 'build', 'mail'])[1 + i % 10] || '-' ||
       (ARRAY['prod', 'test', 'dev', 'stage'])[1 + i / 10 % 4] || '-' ||
       (ARRAY['fra', 'ams', 'nyc', 'sfo', 'sin'])[1 + i / 40 % 5] || '-' || lpad(i::text, 6, '0'),
       (ARRAY['powered_on', 'powered_off'])[1 + i % 2]::vm_power_state,
       'host' || i || '.' || (ARRAY['shop', 'corp', 'lab'])[1 + i % 3] || '.example.com'
FROM generate_series(1, $1) i
JOIN esxi_hosts h ON h.moid = 'host-domain-c' || (1 + i % 10) || '-' || (1 + i / 10 % 10)
"#;

/// 10.0.0.0/8 with 256 /16s and (n - 50k - 258) /24s; 11.0.0.0/8 with 50k /26 children,
/// one in every five /26 (scattered: the gaps are odd-sized and unaligned).
const SEED_PREFIXES: &str = r#"
INSERT INTO prefixes (routing_domain_id, cidr)
SELECT default_routing_domain_id(), c FROM (
    SELECT '10.0.0.0/8'::cidr AS c
    UNION ALL SELECT set_masklen('10.0.0.0'::inet + (i::int8 << 16), 16)::cidr FROM generate_series(0, 255) i
    UNION ALL SELECT set_masklen('10.0.0.0'::inet + (i::int8 << 8), 24)::cidr FROM generate_series(0, $1 - 50000 - 259) i
    UNION ALL SELECT '11.0.0.0/8'::cidr
    UNION ALL SELECT set_masklen('11.0.0.0'::inet + ((i::int8 * 5 + i % 3) << 6), 26)::cidr FROM generate_series(0, 49999) i
) x
"#;

/// Observations in 10/8: 99% of the addresses once, 1% seen by a second MAC.
const SEED_OBSERVATIONS: &str = r#"
INSERT INTO ip_observations (routing_domain_id, address, source, mac_address, confidence, entity_type, entity_id,
                             hostname)
SELECT default_routing_domain_id(), '10.0.0.1'::inet + ((i % ($1 * 99 / 100)) * 7 % 16000000),
       'vcenter_vm', lpad(to_hex(i), 12, '0')::macaddr, 0.9, 'virtual_machine', gen_random_uuid(), 'h' || i
FROM generate_series(0, $1 - 1) i
"#;

/// A watcher batch of $1 observation changes (seed $2): a quarter gone, a quarter seen with
/// another MAC, a quarter new (half of them in the managed 10.1.0.0/16), a quarter seen
/// again (last_seen), each statement as the sync writes it. The rows changed are the next
/// ones in address order from a point the seed picks.
const WATCHER_BATCH: &str = r#"
WITH g AS (SELECT id FROM ip_observations
           WHERE gone_at IS NULL AND routing_domain_id = default_routing_domain_id()
             AND address >= '10.0.0.0'::inet + ($2::int8 * 2654435 % 16000000)
           ORDER BY routing_domain_id, address LIMIT $1 / 4)
UPDATE ip_observations o SET gone_at = now() FROM g WHERE o.id = g.id;
WITH g AS (SELECT id, row_number() OVER () AS n FROM ip_observations
           WHERE gone_at IS NULL AND routing_domain_id = default_routing_domain_id()
             AND address >= '10.0.0.0'::inet + ($2::int8 * 7654321 % 16000000)
           ORDER BY routing_domain_id, address LIMIT $1 / 4)
UPDATE ip_observations o
SET mac_address = ('02' || lpad(to_hex(($2::int * 4096 + g.n::int) % 16777216), 6, '0') || '0001')::macaddr,
    last_seen = now()
FROM g WHERE o.id = g.id;
INSERT INTO ip_observations (routing_domain_id, address, source, mac_address, confidence, entity_type, entity_id, hostname)
SELECT default_routing_domain_id(),
       CASE WHEN i % 2 = 0 THEN '10.1.0.1'::inet + ((i * 7919 + $2::int * 104729) % 65534)
            ELSE '10.0.0.1'::inet + ((i * 7919 + $2::int * 104729) % 16000000) END,
       'vcenter_vm', ('02' || lpad(to_hex(($2::int * 4096 + i) % 16777216), 6, '0') || '0002')::macaddr, 0.9,
       'virtual_machine', gen_random_uuid(), 'batch-' || $2 || '-' || i
FROM generate_series(1, $1 / 4) i
ON CONFLICT DO NOTHING;
WITH g AS (SELECT id FROM ip_observations
           WHERE gone_at IS NULL AND routing_domain_id = default_routing_domain_id()
             AND address >= '10.0.0.0'::inet + ($2::int8 * 1234577 % 16000000)
           ORDER BY routing_domain_id, address LIMIT $1 / 4)
UPDATE ip_observations o SET last_seen = now() FROM g WHERE o.id = g.id;
"#;

/// 50k planned addresses in 10.1.0.0/16 (its 256 /24s are the managed part of the plan):
/// some are seen, most are not yet; what is seen there unplanned is "seen, not planned".
const SEED_ASSIGNMENTS: &str = r#"
INSERT INTO ip_assignments (routing_domain_id, address, hostname)
SELECT default_routing_domain_id(), '10.1.0.1'::inet + (i * 5 % 65534), 'planned-' || i
FROM generate_series(0, 49999) i
ON CONFLICT DO NOTHING
"#;

struct Scratch {
    admin: PgConnectOptions,
    name: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("EIO_BENCH_KEEP").is_some() {
            println!("kept scratch database {} (EIO_BENCH_KEEP)", self.name);
            return;
        }
        let (opts, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                let mut c = opts.connect().await.ok()?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await.ok()?;
                c.close().await.ok()
            })
        })
        .join();
        println!("dropped scratch database {}", self.name);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// p50 / p95 / max of the samples, in milliseconds.
fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| ms(samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1]);
    println!(
        "{what:<58} n={:<5} p50 {:>8.2} ms   p95 {:>8.2} ms   max {:>8.2} ms",
        samples.len(),
        at(0.5),
        at(0.95),
        at(1.0)
    );
}

async fn seed(pool: &sqlx::PgPool, vms: i32, prefixes: i64, observations: i64) {
    let step = |what: &str, t: Instant| println!("  seeded {what} in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    sqlx::raw_sql(SEED_INVENTORY).execute(pool).await.expect("seed inventory");
    sqlx::query(SEED_VMS).bind(vms).execute(pool).await.expect("seed VMs");
    step(&format!("{vms} VMs"), t);
    let t = Instant::now();
    sqlx::query(SEED_PREFIXES).bind(prefixes).execute(pool).await.expect("seed prefixes");
    step(&format!("{prefixes} prefixes"), t);
    let t = Instant::now();
    sqlx::query(SEED_OBSERVATIONS).bind(observations).execute(pool).await.expect("seed observations");
    step(&format!("{observations} observations"), t);
    // Statistics first: placing each assignment looks up its prefix.
    sqlx::raw_sql("ANALYZE prefixes").execute(pool).await.expect("analyze");
    let t = Instant::now();
    sqlx::raw_sql(SEED_ASSIGNMENTS).execute(pool).await.expect("seed assignments");
    step("50000 planned addresses", t);
    let t = Instant::now();
    sqlx::raw_sql("VACUUM ANALYZE").execute(pool).await.expect("analyze");
    step("(vacuum analyze)", t);
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let vms: i32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let observations: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let batch: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let url = std::env::var("DATABASE_URL").expect("set DATABASE_URL to a PostgreSQL login that may create databases");
    let admin: PgConnectOptions = url.parse().expect("DATABASE_URL");
    let name = format!("eio_ipam_bench_{}", std::process::id());
    {
        let mut c = admin.connect().await.expect("connect");
        sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut c).await.expect("create database");
        c.close().await.ok();
    }
    let _scratch = Scratch { admin: admin.clone(), name: name.clone() };
    let pool =
        PgPoolOptions::new().max_connections(24).connect_with(admin.clone().database(&name)).await.expect("connect");
    eio_core::db::migrate_pool(&pool).await.expect("migrate");
    println!("seeding {name}:");
    seed(&pool, vms, 100_000, observations).await;
    let db = Database::from_pool(pool.clone());
    let total_prefixes: i64 = sqlx::query_scalar("SELECT count(*) FROM prefixes").fetch_one(&pool).await.unwrap();
    let children_of_11: i64 =
        sqlx::query_scalar("SELECT count(*) FROM prefixes WHERE cidr << '11.0.0.0/8'").fetch_one(&pool).await.unwrap();
    println!(
        "{total_prefixes} prefixes ({children_of_11} inside 11.0.0.0/8), {observations} observations, {vms} VMs\n"
    );

    // Fuzzy search: typos and fragments of names, host names, and exact lookups.
    let texts: Vec<String> = (0..200)
        .map(|i| {
            let n = 1 + (i * 487) % vms.max(1);
            match i % 4 {
                0 => format!("web-prod-fra-{n:06}"),
                1 => format!("db-prdo-ams-{n:06}"), // a typo
                2 => format!("host{n}.shop"),
                _ => ["cache-test", "ldap prod", "mail-stage-sin", "proxy"][(i / 4) as usize % 4].to_owned(),
            }
        })
        .collect();
    for q in texts.iter().take(5) {
        search::search(&db, q, None).await.expect("warm up");
    }
    let mut samples = Vec::new();
    for q in &texts {
        let t = Instant::now();
        let r = search::search(&db, q, None).await.expect("search");
        samples.push(t.elapsed());
        std::hint::black_box(r);
    }
    report(&format!("search: fuzzy text over {vms} VMs (top 20)"), samples);
    let mut samples = Vec::new();
    for i in 0..200u32 {
        let q = match i % 3 {
            0 => format!("10.{}.{}.{}", i % 200, (i * 7) % 256, 1 + i % 250),
            1 => format!("{:012x}", i * 4099),
            _ => format!("10.{}.{}", i % 200, (i * 3) % 256),
        };
        let t = Instant::now();
        std::hint::black_box(search::search(&db, &q, None).await.expect("search"));
        samples.push(t.elapsed());
    }
    report("search: addresses, MACs and partial IPv4 blocks (exact)", samples);

    // Containment lookup: which prefixes hold an address, its plans and its carriers.
    let mut samples = Vec::new();
    for i in 0..500u32 {
        let addr = format!("10.{}.{}.{}", (i * 37) % 200, (i * 101) % 256, (i * 13) % 256);
        let t = Instant::now();
        let info = space::lookup(&db, None, &addr).await.expect("lookup");
        samples.push(t.elapsed());
        std::hint::black_box(info);
    }
    report(&format!("lookup: address in {total_prefixes} prefixes, {observations} obs."), samples);
    let explain: Vec<String> = sqlx::query_scalar(
        "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) SELECT id FROM prefixes
         WHERE routing_domain_id = default_routing_domain_id() AND cidr >>= '10.77.3.9'::inet
         ORDER BY masklen(cidr) DESC LIMIT 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    println!("  (plain GiST containment in SQL: {})", explain.last().map(String::as_str).unwrap_or("").trim());

    // Free space of a /8 with 50k scattered children.
    let big: eio_core::ipam::Cidr = "11.0.0.0/8".parse().unwrap();
    let mut samples = Vec::new();
    let mut blocks = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let a = space::available(&db, None, &big, None, None).await.expect("available");
        samples.push(t.elapsed());
        blocks = a.blocks_total;
    }
    report(&format!("available_ranges: 11.0.0.0/8, {children_of_11} children ({blocks} blocks)"), samples);
    let mut samples = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        std::hint::black_box(space::available(&db, None, &big, Some(24), Some(100)).await.expect("available"));
        samples.push(t.elapsed());
    }
    report("available_ranges: 11.0.0.0/8 holding a /24, first 100", samples);
    let ten: eio_core::ipam::Cidr = "10.0.0.0/8".parse().unwrap();
    let mut samples = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        std::hint::black_box(space::available(&db, None, &ten, None, Some(1000)).await.expect("available"));
        samples.push(t.elapsed());
    }
    report("available_ranges: 10.0.0.0/8 (children + 1M obs), first 1000", samples);

    // Findings over everything: the first full run opens, the second finds nothing new.
    let print_run = |label: &str, wall: Duration, target: &str, run: &findings::FindingRun| {
        println!(
            "{label:<58} {:>8.0} ms wall ({} ms in SQL; target {target}): opened {}, reopened {}, resolved {}, open {}{}",
            ms(wall),
            run.duration_ms,
            run.opened,
            run.reopened,
            run.resolved,
            run.open_total,
            run.examined.map(|n| format!(", {n} subjects examined")).unwrap_or_default()
        );
    };
    for label in ["findings: full run, first (opens everything)", "findings: full run, steady state"] {
        let t = Instant::now();
        let run = findings::run_full(&db, Some(Duration::ZERO)).await.expect("findings");
        print_run(label, t.elapsed(), "<= 3 s", &run);
        for (k, v) in &run.open_by_type {
            println!("    {k:<28} {v}");
        }
    }
    // Watcher batches, each followed by the run over what changed.
    let mut samples = Vec::new();
    for i in 0..5 {
        sqlx::raw_sql(&WATCHER_BATCH.replace("$1", &batch.to_string()).replace("$2", &(i + 1).to_string()))
            .execute(&pool)
            .await
            .expect("watcher batch");
        let t = Instant::now();
        let run = findings::run(&db, Some(Duration::ZERO)).await.expect("findings");
        let wall = t.elapsed();
        samples.push(wall);
        let scope = if run.incremental { "changes" } else { "FULL" };
        print_run(
            &format!("findings: after a batch of {batch} changed observations ({scope})"),
            wall,
            "<= 200 ms",
            &run,
        );
    }
    report(&format!("findings: incremental run after {batch} changed observations (target <= 200 ms)"), samples);
    let t = Instant::now();
    let run = findings::run_full(&db, Some(Duration::ZERO)).await.expect("findings");
    print_run("findings: full run after the batches (nothing to change)", t.elapsed(), "<= 3 s", &run);

    // Concurrent allocation: 200 tasks at once, each on its own connection slot.
    let target: eio_core::ipam::Cidr = "172.16.0.0/23".parse().unwrap();
    prefixes::add(
        &db,
        &NewPrefix {
            domain: None,
            cidr: target,
            site: None,
            vlan_id: None,
            status: PrefixStatus::Active,
            description: None,
            utilization_threshold: None,
        },
    )
    .await
    .expect("prefix");
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let db = db.clone();
        tasks.spawn(async move {
            let t = Instant::now();
            let a = space::allocate_ip(
                &db,
                None,
                &target,
                &IpRequest { hostname: Some(format!("bench-{i}")), ..IpRequest::default() },
            )
            .await
            .expect("allocate");
            (a.address, t.elapsed())
        });
    }
    let mut seen = HashSet::new();
    let mut samples = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (addr, took) = r.expect("task");
        assert!(seen.insert(addr.clone()), "{addr} handed out twice");
        samples.push(took);
    }
    let wall = t.elapsed();
    report("allocate_ip: 200 concurrent on one /23 (24 connections)", samples);
    println!(
        "  {} distinct addresses of 200 in {:.0} ms wall ({:.0} allocations/s)",
        seen.len(),
        ms(wall),
        200.0 / wall.as_secs_f64()
    );
    pool.close().await;
}
