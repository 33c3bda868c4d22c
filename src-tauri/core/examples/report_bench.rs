//! Benchmark: a 100k-VM inventory to xlsx (RVTools vInfo), query → file, against Python
//! XlsxWriter writing the same rows in constant_memory mode.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --release -p eio-core --example report_bench [-- VMS]
//! ```
//! Creates its own scratch database from `DATABASE_URL` (a login that may create
//! databases and roles), migrates and seeds it, and drops it at the end. Prints numbers,
//! asserts nothing. Python: `EIO_BENCH_PYTHON`, else `target/peers/venv/bin/python` or
//! `target/peers/xlsxwriter-venv/bin/python`, with the PyPI `XlsxWriter` package installed.
use std::path::{Path, PathBuf};
use std::time::Instant;

use eio_core::reports::{self, ReportFormat, ReportType, RunOptions, RunRequest};
use eio_core::Database;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

const SEED: &str = r#"
INSERT INTO worker_keys (public_key, label) VALUES ('age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq', 'bench');
INSERT INTO service_identities (name, system, username, encrypted_credentials, recipients)
    VALUES ('vc-svc', 'vcenter', 'svc', convert_to(E'age-encryption.org/v1\n-> X25519 bench', 'UTF8'),
            ARRAY['age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq']);
INSERT INTO vcenter_instances (name, url, service_identity_id, instance_uuid)
    SELECT 'vc-bench', 'https://vc-bench.example.test/sdk', id, 'c0ffee00-0000-4000-8000-000000000001' FROM service_identities;
INSERT INTO datacenters (vcenter_id, moid, name) SELECT id, 'datacenter-1', 'DC1' FROM vcenter_instances;
INSERT INTO clusters (vcenter_id, datacenter_id, moid, name)
    SELECT d.vcenter_id, d.id, 'domain-c' || n, 'cluster-' || lpad(n::text, 2, '0') FROM datacenters d, generate_series(1, 10) n;
INSERT INTO esxi_hosts (vcenter_id, datacenter_id, cluster_id, moid, name, cpu_cores, memory_mb, esxi_version, esxi_build)
    SELECT c.vcenter_id, c.datacenter_id, c.id, 'host-' || c.moid || '-' || n, 'esx-' || c.name || '-' || n || '.bench.test',
           48, 1048576, '8.0.2', '22380479'
    FROM clusters c, generate_series(1, 10) n;
"#;

const SEED_VMS: &str = r#"
INSERT INTO virtual_machines (vcenter_id, datacenter_id, cluster_id, host_id, moid, uuid, instance_uuid, name,
                              folder_path, vcpu, memory_mb, power_state, tools_status, guest_os, guest_hostname,
                              nics, guest_ips, notes, is_template)
SELECT h.vcenter_id, h.datacenter_id, h.cluster_id, h.id, 'vm-' || i, gen_random_uuid(), gen_random_uuid(),
       'vm-' || lpad(i::text, 7, '0'), '/DC1/vm/team-' || (i % 40), 1 + i % 16, 1024 * (1 + i % 32),
       (ARRAY['powered_on', 'powered_off', 'suspended'])[1 + i % 3]::vm_power_state,
       (ARRAY['ok', 'old', 'not_running', 'not_installed'])[1 + i % 4]::vm_tools_status,
       'Red Hat Enterprise Linux 9 (64-bit)', 'vm' || i || '.bench.test',
       jsonb_build_array(jsonb_build_object('mac', '00:50:56:' || to_hex(i), 'network', 'VLAN-' || (100 + i % 50),
                                            'connected', true, 'label', 'Network adapter 1'),
                         jsonb_build_object('mac', '00:50:57:' || to_hex(i), 'network', 'Backup',
                                            'connected', true, 'label', 'Network adapter 2')),
       jsonb_build_array(jsonb_build_object('ip', '10.' || (i / 65536) || '.' || (i / 256 % 256) || '.' || (i % 256),
                                            'confidence', 0.9, 'mac', '00:50:56:' || to_hex(i))),
       CASE WHEN i % 10 = 0 THEN 'Owner: team ' || (i % 40) END, i % 500 = 0
FROM generate_series(1, $1) i
JOIN esxi_hosts h ON h.moid = 'host-domain-c' || (1 + i % 10) || '-' || (1 + i / 10 % 10)
"#;

/// Python XlsxWriter writing the rows of our JSON rendering, constant_memory, same styling.
const PYTHON: &str = r##"
import json, sys, time
import xlsxwriter
doc = json.load(open(sys.argv[1]))
sheet = doc["sheets"][0]
cols, rows = sheet["columns"], sheet["rows"]
t0 = time.perf_counter()
wb = xlsxwriter.Workbook(sys.argv[2], {"constant_memory": True})
ws = wb.add_worksheet(sheet["name"])
head = wb.add_format({"bold": True, "bg_color": "#D9E2F3", "bottom": 2, "text_wrap": True})
for c, col in enumerate(cols):
    ws.set_column(c, c, max(len(col["name"]) * 1.1 + 3, 12))
    ws.write_string(0, c, col["name"], head)
ws.freeze_panes(1, 0)
for r, row in enumerate(rows, start=1):
    for c, v in enumerate(row):
        if v is None:
            continue
        if isinstance(v, bool):
            ws.write_boolean(r, c, v)
        elif isinstance(v, (int, float)):
            ws.write_number(r, c, v)
        else:
            ws.write_string(r, c, v)
ws.autofilter(0, 0, len(rows), len(cols) - 1)
wb.close()
print(f"{time.perf_counter() - t0:.3f} {len(rows)} {len(cols)}")
"##;

fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("EIO_BENCH_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    ["target/peers/venv/bin/python", "target/peers/xlsxwriter-venv/bin/python"].iter().map(|p| root.join(p)).find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import xlsxwriter"])
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

struct Scratch {
    admin: PgConnectOptions,
    name: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
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

async fn run(db: &Database, out: &Path, format: ReportFormat, filters: &[&str]) -> (f64, reports::ReportExecution) {
    let t = Instant::now();
    let e = reports::run(
        db,
        &RunRequest {
            report_type: ReportType::Rvtools,
            format,
            out: out.to_path_buf(),
            filters: reports::parse_filter_args(filters).expect("filters"),
            options: RunOptions::default(),
        },
    )
    .await
    .expect("report");
    (t.elapsed().as_secs_f64(), e)
}

#[tokio::main]
async fn main() {
    let vms: i32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let url = std::env::var("DATABASE_URL").expect("set DATABASE_URL to a PostgreSQL login that may create databases");
    let admin: PgConnectOptions = url.parse().expect("DATABASE_URL");
    let name = format!("eio_report_bench_{}", std::process::id());
    {
        let mut c = admin.connect().await.expect("connect");
        sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut c).await.expect("create database");
    }
    let _scratch = Scratch { admin: admin.clone(), name: name.clone() };
    let pool =
        PgPoolOptions::new().max_connections(4).connect_with(admin.clone().database(&name)).await.expect("connect");
    eio_core::db::migrate_pool(&pool).await.expect("migrate");
    let t = Instant::now();
    sqlx::raw_sql(SEED).execute(&pool).await.expect("seed");
    sqlx::query(SEED_VMS).bind(vms).execute(&pool).await.expect("seed VMs");
    sqlx::raw_sql("VACUUM ANALYZE").execute(&pool).await.expect("analyze");
    println!("seeded {vms} VMs in {:.2} s", t.elapsed().as_secs_f64());
    let db = Database::from_pool(pool);
    let dir = tempfile::tempdir().expect("tempdir");

    println!("peak RSS before any report: {}", mib(status_kib("VmHWM:")));
    let (s, e) =
        run(&db, &dir.path().join("small.xlsx"), ReportFormat::Xlsx, &["sheet=vInfo", "cluster=cluster-01"]).await;
    println!(
        "xlsx vInfo, 1 cluster:  {:>7} rows in {s:.3} s; peak RSS {}",
        e.row_count.unwrap_or(0),
        mib(status_kib("VmHWM:"))
    );
    let xlsx = dir.path().join("vinfo.xlsx");
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..3 {
        let (s, e) = run(&db, &xlsx, ReportFormat::Xlsx, &["sheet=vInfo"]).await;
        best = best.min(s);
        last = Some(e);
    }
    let e = last.expect("ran");
    println!(
        "xlsx vInfo, all:        {:>7} rows × 23 columns, query → file best of 3: {best:.3} s ({:.1} MiB); peak RSS {}",
        e.row_count.unwrap_or(0),
        e.size_bytes.unwrap_or(0) as f64 / 1048576.0,
        mib(status_kib("VmHWM:"))
    );
    for format in [ReportFormat::Csv, ReportFormat::Json, ReportFormat::Html] {
        let (s, e) = run(&db, &dir.path().join(format!("vinfo.{format}")), format, &["sheet=vInfo"]).await;
        println!(
            "{format:<5} vInfo, all:        {:>7} rows in {s:.3} s ({:.1} MiB)",
            e.row_count.unwrap_or(0),
            e.size_bytes.unwrap_or(0) as f64 / 1048576.0
        );
    }
    let (s, e) = run(&db, &dir.path().join("all.xlsx"), ReportFormat::Xlsx, &[]).await;
    println!(
        "xlsx all six sheets:    {:>7} rows in {s:.3} s ({:.1} MiB); peak RSS {}",
        e.row_count.unwrap_or(0),
        e.size_bytes.unwrap_or(0) as f64 / 1048576.0,
        mib(status_kib("VmHWM:"))
    );

    match python() {
        None => println!("Python XlsxWriter: skipped (no python with xlsxwriter; set EIO_BENCH_PYTHON)"),
        Some(py) => {
            let out = std::process::Command::new(&py)
                .args(["-c", PYTHON])
                .arg(dir.path().join("vinfo.json"))
                .arg(dir.path().join("python.xlsx"))
                .output()
                .expect("run python");
            let text = String::from_utf8_lossy(&out.stdout);
            match text.split_whitespace().next().and_then(|s| s.parse::<f64>().ok()) {
                Some(py_s) => println!(
                    "Python XlsxWriter (constant_memory), same rows, write only: {py_s:.3} s → EIO is {:.1}× faster (query → file)",
                    py_s / best
                ),
                None => println!("Python XlsxWriter failed: {}", String::from_utf8_lossy(&out.stderr)),
            }
        }
    }
}
