//! Reports end to end against a real PostgreSQL: every report type in every format, read
//! back (xlsx with calamine, csv, json, html with scraper) and compared with each other and
//! with the rows in the database; RVTools names; failures that leave no partial file;
//! who may record executions (plain SQL); schedules racing on two instances; job re-runs.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use common::{fake_ciphertext, sqlstate, trust_test_key, Login, TEST_RECIPIENT};
use eio_core::jobs::{JobSpec, ReportTarget};
use eio_core::reports::{
    self, schedule, ExecutionStatus, NewDefinition, ReportFormat, ReportType, RunOptions, RunRequest,
};
use eio_core::Database;
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// The RVTools sheets and, per sheet, the columns we write: RVTools 4.x's own names.
const RVTOOLS_COLUMNS: &[(&str, &[&str])] = &[
    (
        "vInfo",
        &[
            "VM",
            "Powerstate",
            "Template",
            "DNS Name",
            "CPUs",
            "Memory",
            "NICs",
            "Primary IP Address",
            "Network #1",
            "Network #2",
            "Network #3",
            "Network #4",
            "Folder",
            "Annotation",
            "Datacenter",
            "Cluster",
            "Host",
            "OS according to the configuration file",
            "VM ID",
            "SMBIOS UUID",
            "VM UUID",
            "VI SDK Server",
            "VI SDK UUID",
        ],
    ),
    (
        "vHost",
        &[
            "Host",
            "Datacenter",
            "Cluster",
            "in Maintenance Mode",
            "CPU Model",
            "# Cores",
            "# Memory",
            "# VMs total",
            "# VMs",
            "# vCPUs",
            "ESX Version",
            "Vendor",
            "Model",
            "Serial number",
            "Service tag",
            "Object ID",
            "UUID",
            "VI SDK Server",
            "VI SDK UUID",
        ],
    ),
    (
        "vCluster",
        &[
            "Name",
            "NumHosts",
            "NumCpuCores",
            "TotalMemory",
            "HA enabled",
            "DRS enabled",
            "DRS default VM behavior",
            "Object ID",
            "VI SDK Server",
            "VI SDK UUID",
        ],
    ),
    (
        "vNetwork",
        &[
            "VM",
            "Powerstate",
            "Template",
            "NIC label",
            "Network",
            "Connected",
            "Mac Address",
            "IPv4 Address",
            "IPv6 Address",
            "Datacenter",
            "Cluster",
            "Host",
            "Folder",
            "OS according to the configuration file",
            "VM ID",
            "VM UUID",
            "VI SDK Server",
            "VI SDK UUID",
        ],
    ),
    (
        "vSnapshot",
        &[
            "VM",
            "Powerstate",
            "Datacenter",
            "Cluster",
            "Host",
            "Folder",
            "OS according to the configuration file",
            "VM ID",
            "VM UUID",
            "VI SDK Server",
            "VI SDK UUID",
        ],
    ),
    (
        "vTools",
        &[
            "VM",
            "Powerstate",
            "Template",
            "Tools",
            "Datacenter",
            "Cluster",
            "Host",
            "Folder",
            "OS according to the configuration file",
            "VM ID",
            "VM UUID",
            "VI SDK Server",
            "VI SDK UUID",
        ],
    ),
];

// ---------------------------------------------------------------------------------
// A small estate of every kind the reports read.

async fn seed(admin: &PgPool, vms: i32) {
    trust_test_key(admin).await;
    let si: Uuid = sqlx::query_scalar(
        "INSERT INTO service_identities (name, system, username, encrypted_credentials, recipients, rotation_due)
         VALUES ('vc-svc', 'vcenter', 'svc-eio@vsphere.local', $1, ARRAY[$2], now() - interval '3 days') RETURNING id",
    )
    .bind(fake_ciphertext())
    .bind(TEST_RECIPIENT)
    .fetch_one(admin)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO service_identities (name, system, username, encrypted_credentials, recipients, rotation_due)
         VALUES ('bmc-svc', 'idrac', 'root', $1, ARRAY[$2], now() + interval '40 days')",
    )
    .bind(fake_ciphertext())
    .bind(TEST_RECIPIENT)
    .execute(admin)
    .await
    .unwrap();
    sqlx::raw_sql(&format!(
        r#"
        INSERT INTO regions (code, name) VALUES ('EU', 'Europe');
        INSERT INTO countries (region_id, iso_code, name) SELECT id, 'DE', 'Germany' FROM regions;
        INSERT INTO sites (country_id, code, name) SELECT id, 'DE-FRA-01', 'Frankfurt' FROM countries;
        INSERT INTO vcenter_instances (name, url, service_identity_id, site_id, instance_uuid)
            SELECT 'vc-lab', 'https://vc.example.test/sdk', '{si}', s.id, 'c0ffee00-0000-4000-8000-000000000001' FROM sites s;
        INSERT INTO datacenters (vcenter_id, moid, name) SELECT id, 'datacenter-1', 'DC1' FROM vcenter_instances;
        INSERT INTO clusters (vcenter_id, datacenter_id, moid, name, drs_enabled, drs_behavior, ha_enabled)
            SELECT vc.id, d.id, 'domain-c' || n, 'prod-' || chr(96 + n), true, 'fullyAutomated', n = 1
            FROM vcenter_instances vc, datacenters d, generate_series(1, 2) n;
        INSERT INTO esxi_hosts (vcenter_id, datacenter_id, cluster_id, moid, name, hardware_uuid, vendor, model,
                                serial_number, service_tag, esxi_version, esxi_build, connection_state, power_state,
                                in_maintenance_mode, cpu_model, cpu_cores, cpu_threads, memory_mb, tags)
            SELECT c.vcenter_id, c.datacenter_id, c.id, 'host-' || n, 'esx0' || n || '.lab.test', gen_random_uuid(),
                   'Dell Inc.', 'PowerEdge R740', 'SN' || n, 'TAG000' || n, '8.0.2', '22380479', 'connected', 'powered_on',
                   n = 3, 'Intel(R) Xeon(R) Gold 6230', 40, 80, 786432, ARRAY['rack-' || n]
            FROM generate_series(1, 3) n JOIN clusters c ON c.name = CASE WHEN n < 3 THEN 'prod-a' ELSE 'prod-b' END;
        INSERT INTO virtual_machines (vcenter_id, datacenter_id, cluster_id, host_id, moid, uuid, instance_uuid, name,
                                      folder_path, vcpu, memory_mb, power_state, tools_status, guest_os, guest_hostname,
                                      nics, guest_ips, tags, notes, has_snapshot, snapshot_count, is_template)
            SELECT h.vcenter_id, h.datacenter_id, h.cluster_id, h.id, 'vm-' || i, gen_random_uuid(), gen_random_uuid(),
                   'vm-' || lpad(i::text, 6, '0'),
                   CASE WHEN i % 2 = 0 THEN '/DC1/vm/apps' ELSE '/DC1/vm/apps/web' END,
                   1 + i % 8, 1024 * (1 + i % 16),
                   (ARRAY['powered_on', 'powered_off', 'suspended'])[1 + i % 3]::vm_power_state,
                   (ARRAY['ok', 'old', 'not_running', 'not_installed'])[1 + i % 4]::vm_tools_status,
                   'Ubuntu Linux (64-bit)', 'vm' || i || '.lab.test',
                   jsonb_build_array(jsonb_build_object('mac', format('00:50:56:00:%s:%s', lpad(to_hex(i / 256 % 256), 2, '0'), lpad(to_hex(i % 256), 2, '0')),
                                                        'network', 'VM Network', 'connected', true, 'label', 'Network adapter 1'))
                     || CASE WHEN i % 5 = 0 THEN jsonb_build_array(jsonb_build_object('mac', '00:50:56:ff:00:' || lpad(to_hex(i % 256), 2, '0'),
                                                        'network', 'Backup', 'connected', false, 'label', 'Network adapter 2'))
                        ELSE '[]'::jsonb END,
                   jsonb_build_array(jsonb_build_object('ip', '10.0.' || (i / 250) || '.' || (1 + i % 250), 'confidence', 0.9,
                                     'mac', format('00:50:56:00:%s:%s', lpad(to_hex(i / 256 % 256), 2, '0'), lpad(to_hex(i % 256), 2, '0')))),
                   CASE WHEN i % 4 = 0 THEN ARRAY['backup'] ELSE ARRAY[]::text[] END,
                   CASE WHEN i % 7 = 0 THEN 'Owner: "ops", <b>team</b> & co' END,
                   i % 6 = 0, CASE WHEN i % 6 = 0 THEN 2 ELSE 0 END, i % 50 = 0
            FROM generate_series(1, {vms}) i JOIN esxi_hosts h ON h.moid = 'host-' || (1 + i % 3);
        -- A VM the source no longer reports: in no report.
        UPDATE virtual_machines SET removed_at = now() WHERE moid = 'vm-1';

        INSERT INTO ome_instances (name, url, service_identity_id) VALUES ('ome-lab', 'https://ome.example.test', '{si}');
        INSERT INTO idrac_endpoints (name, url, service_identity_id, generation, site_id)
            SELECT 'idrac-' || n, 'https://idrac-' || n || '.example.test', '{si}', 'iDRAC9', s.id FROM sites s, generate_series(1, 3) n;
        INSERT INTO physical_servers (idrac_id, service_tag, model, health, hostname, power_state)
            SELECT e.id, 'TAG000' || right(e.name, 1), 'PowerEdge R740', (ARRAY['ok', 'warning', 'critical'])[right(e.name, 1)::int]::health_state,
                   'esx0' || right(e.name, 1) || '.lab.test', 'on'
            FROM idrac_endpoints e;
        INSERT INTO server_mappings (idrac_id, physical_server_id, esxi_host_id, confidence, method, verified_at)
            SELECT p.idrac_id, p.id, h.id, 0.95, 'service_tag', now() FROM physical_servers p JOIN esxi_hosts h ON h.service_tag = p.service_tag;
        INSERT INTO firmware_baselines (ome_instance_id, ome_baseline_id, name) SELECT id, '11', 'R740 2026-Q1' FROM ome_instances;
        INSERT INTO firmware_compliance (baseline_id, key, service_tag, physical_server_id, component, fqdd, current_version,
                                         baseline_version, status, criticality, reboot_required)
            SELECT b.id, p.service_tag || '/' || c.name, p.service_tag, p.id, c.name, c.fqdd, c.cur, c.want, c.st::compliance_status, c.crit, c.reboot
            FROM firmware_baselines b, physical_servers p,
                 (VALUES ('BIOS', 'BIOS.Setup.1-1', '2.19.1', '2.21.2', 'upgrade', 'Urgent', true),
                         ('iDRAC', 'iDRAC.Embedded.1-1', '7.00.00.172', '7.00.00.172', 'compliant', 'Recommended', false)) c(name, fqdd, cur, want, st, crit, reboot);

        INSERT INTO prefixes (routing_domain_id, cidr, site_id, vlan_id, description)
            SELECT default_routing_domain_id(), '10.0.0.0/24', id, 100, 'VM network' FROM sites;
        INSERT INTO prefixes (routing_domain_id, cidr, status) VALUES (default_routing_domain_id(), '10.9.0.0/16', 'reserved');
        INSERT INTO ip_assignments (routing_domain_id, address, hostname) VALUES (default_routing_domain_id(), '10.0.0.5', 'planned-5');
        INSERT INTO ip_observations (routing_domain_id, address, source, confidence, entity_type, entity_id)
            SELECT default_routing_domain_id(), ('10.0.0.' || n)::inet, 'vcenter_vm', 0.9, 'virtual_machine', gen_random_uuid()
            FROM generate_series(1, 12) n;
        INSERT INTO ipam_findings (type, severity, subject_key, address, message)
            VALUES ('duplicate_usage', 'error', 'default/10.0.0.7', '10.0.0.7', '10.0.0.7 is used by two VMs'),
                   ('seen_not_planned', 'warning', 'default/10.0.0.8', '10.0.0.8', '10.0.0.8 is in use but not planned');
        INSERT INTO ipam_findings (type, severity, subject_key, message, resolved_at)
            VALUES ('mac_conflict', 'info', 'mac/00:50:56:00:00:01', 'old conflict', now());

        INSERT INTO jobs (type, status, title, policy) VALUES ('sync', 'pending', 'Sync vc-lab', '{{}}');
        INSERT INTO job_events (job_id, message) SELECT id, 'submitted' FROM jobs;
        INSERT INTO audit_events (action, target_type, target_id) VALUES ('report.seed', 'test', 'seed');
        "#
    ))
    .execute(admin)
    .await
    .unwrap();
}

async fn operator(admin: &PgPool) -> (Login, Database) {
    let login = Login::new(admin, "eio_operator", Some(("op@example.test", "operator", &[]))).await;
    let db = Database::from_pool(login.pool.clone());
    (login, db)
}

// ---------------------------------------------------------------------------------
// Reading the files back into one shape: sheet name → (header, rows of text).

type Table = (Vec<String>, Vec<Vec<String>>);
type Sheets = Vec<(String, Table)>;

/// Numbers compare by value, times as RFC 3339 UTC to the second, booleans as True/False.
fn num_text(f: f64) -> String {
    format!("{f}")
}

fn read_xlsx(path: &Path) -> Sheets {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let mut out = Vec::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).unwrap();
        let mut rows = range.rows();
        let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
        let width = header.len();
        let body = rows
            .map(|r| {
                (0..width)
                    .map(|i| match r.get(i).unwrap_or(&Data::Empty) {
                        Data::Empty => String::new(),
                        Data::String(s) => s.clone(),
                        Data::Float(f) => num_text(*f),
                        Data::Int(i) => num_text(*i as f64),
                        Data::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                        Data::DateTime(d) => {
                            let secs = ((d.as_f64() - 25_569.0) * 86_400.0).round() as i64;
                            chrono::DateTime::from_timestamp(secs, 0)
                                .unwrap()
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        }
                        other => panic!("unexpected cell {other:?}"),
                    })
                    .collect()
            })
            .collect();
        out.push((name, (header, body)));
    }
    out
}

fn csv_table(path: &Path) -> Table {
    let mut r = csv::ReaderBuilder::new().has_headers(true).from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r.records().map(|rec| rec.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

fn read_csv(files: &[String], sheet_names: &[String]) -> Sheets {
    assert_eq!(files.len(), sheet_names.len(), "one csv file per sheet: {files:?}");
    files.iter().zip(sheet_names).map(|(f, name)| (name.clone(), csv_table(Path::new(f)))).collect()
}

fn read_json(path: &Path) -> (serde_json::Value, Sheets) {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(doc["schema"], "eio.report/v1");
    let sheets = doc["sheets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let header: Vec<String> =
                s["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect();
            let rows: Vec<Vec<String>> = s["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|v| match v {
                            serde_json::Value::Null => String::new(),
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Number(n) => num_text(n.as_f64().unwrap()),
                            serde_json::Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                            other => panic!("unexpected json cell {other}"),
                        })
                        .collect()
                })
                .collect();
            assert_eq!(s["row_count"].as_u64().unwrap(), rows.len() as u64);
            (s["name"].as_str().unwrap().to_owned(), (header, rows))
        })
        .collect();
    (doc, sheets)
}

fn read_html(path: &Path) -> Sheets {
    use scraper::{Html, Selector};
    let text = std::fs::read_to_string(path).unwrap();
    // Self-contained: no script, no external stylesheet or image.
    assert!(!text.contains("<script") && !text.contains("<link") && !text.contains("src="), "not self-contained");
    assert!(text.contains("<style>") && text.contains("@media print"), "inline, printable CSS");
    let doc = Html::parse_document(&text);
    let sel = |s: &str| Selector::parse(s).unwrap();
    let cell_text = |e: scraper::ElementRef| e.text().collect::<String>();
    doc.select(&sel("section"))
        .map(|section| {
            let name = section.select(&sel("h2")).next().map(cell_text).unwrap();
            let header = section.select(&sel("thead th")).map(cell_text).collect();
            let rows = section
                .select(&sel("tbody tr"))
                .map(|tr| {
                    tr.select(&sel("td"))
                        .map(|td| {
                            let t = cell_text(td);
                            // Numbers as csv prints them re-read as values.
                            if td.value().attr("class") == Some("n") && !t.is_empty() {
                                num_text(t.parse::<f64>().unwrap())
                            } else {
                                t
                            }
                        })
                        .collect()
                })
                .collect();
            (name, (header, rows))
        })
        .collect()
}

/// csv and html print integers as integers; bring them to the same text as xlsx/json.
fn normalize_numbers(sheets: Sheets, like: &Sheets) -> Sheets {
    sheets
        .into_iter()
        .zip(like)
        .map(|((name, (h, rows)), (_, (_, like_rows)))| {
            let rows = rows
                .into_iter()
                .zip(like_rows)
                .map(|(r, lr)| {
                    r.into_iter()
                        .zip(lr)
                        .map(|(c, l)| match (c.parse::<f64>(), l.parse::<f64>()) {
                            (Ok(a), Ok(b)) if a == b => l.clone(),
                            _ => c,
                        })
                        .collect()
                })
                .collect();
            (name, (h, rows))
        })
        .collect()
}

/// Run `t` in every format as `db`, read every file back, check they hold the same rows,
/// and return them (as the JSON rendering holds them).
async fn run_all_formats(db: &Database, dir: &Path, t: ReportType, filters: &[&str]) -> Sheets {
    let filters = reports::parse_filter_args(filters).unwrap();
    let mut got: BTreeMap<ReportFormat, Sheets> = BTreeMap::new();
    let mut csv_files = Vec::new();
    for &format in ReportFormat::ALL {
        let out = dir.join(format!("{t}.{format}"));
        let done = reports::run(
            db,
            &RunRequest {
                report_type: t,
                format,
                out: out.clone(),
                filters: filters.clone(),
                options: RunOptions::default(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{t} {format}: {e}"));
        assert_eq!(done.status, ExecutionStatus::Completed);
        assert_eq!(done.storage_path.as_deref(), done.files.first().map(String::as_str));
        let total: u64 = done.files.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();
        assert_eq!(done.size_bytes.unwrap() as u64, total, "size_bytes is what is on disk");
        let sheets = match format {
            ReportFormat::Xlsx => read_xlsx(&out),
            ReportFormat::Json => {
                let (doc, sheets) = read_json(&out);
                assert_eq!(doc["report"], t.as_str());
                sheets
            }
            ReportFormat::Html => read_html(&out),
            ReportFormat::Csv => {
                csv_files = done.files.clone();
                let rows: usize = done.files.iter().map(|f| csv_table(Path::new(f)).1.len()).sum();
                assert_eq!(done.row_count.unwrap() as usize, rows, "{t} csv: row_count");
                continue;
            }
        };
        let rows: usize = sheets.iter().map(|(_, (_, r))| r.len()).sum();
        assert_eq!(done.row_count.unwrap() as usize, rows, "{t} {format}: row_count");
        got.insert(format, sheets);
    }
    let json = got.remove(&ReportFormat::Json).unwrap();
    let json_sheets: Vec<String> = json.iter().map(|(n, _)| n.clone()).collect();
    let csv = normalize_numbers(read_csv(&csv_files, &json_sheets), &json);
    let html = normalize_numbers(got.remove(&ReportFormat::Html).unwrap(), &json);
    let xlsx = got.remove(&ReportFormat::Xlsx).unwrap();
    for (name, other) in [("xlsx", &xlsx), ("csv", &csv), ("html", &html)] {
        assert_eq!(other.len(), json.len(), "{t}: {name} has other sheets");
        for ((n1, t1), (n2, t2)) in json.iter().zip(other.iter()) {
            assert_eq!(n1, n2, "{t}: sheet names of json and {name}");
            assert_eq!(t1.0, t2.0, "{t}/{n1}: headers of json and {name}");
            assert_eq!(t1.1.len(), t2.1.len(), "{t}/{n1}: row counts of json and {name}");
            for (i, (a, b)) in t1.1.iter().zip(&t2.1).enumerate() {
                assert_eq!(a, b, "{t}/{n1} row {i}: json vs {name}");
            }
        }
    }
    json
}

fn column<'a>(sheets: &'a Sheets, sheet: &str, col: &str) -> Vec<&'a str> {
    let (_, (header, rows)) = sheets.iter().find(|(n, _)| n == sheet).unwrap_or_else(|| panic!("no sheet {sheet}"));
    let i = header.iter().position(|h| h == col).unwrap_or_else(|| panic!("no column {col} in {sheet}"));
    rows.iter().map(|r| r[i].as_str()).collect()
}

// ---------------------------------------------------------------------------------

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn rvtools_in_every_format_holds_the_database_rows_under_rvtools_names(admin: PgPool) {
    seed(&admin, 120).await;
    let (_op, db) = operator(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let sheets = run_all_formats(&db, dir.path(), ReportType::Rvtools, &[]).await;

    // Sheet and column names exactly as RVTools writes them.
    let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, RVTOOLS_COLUMNS.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    for ((name, (header, _)), (want_name, want)) in sheets.iter().zip(RVTOOLS_COLUMNS) {
        assert_eq!(name, want_name);
        assert_eq!(header, want, "{name} columns");
    }

    // vInfo against the table, row for row.
    let want = sqlx::query(
        "SELECT name, vcpu, memory_mb, is_template, power_state::text AS p, notes FROM virtual_machines
         WHERE removed_at IS NULL ORDER BY name, id",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(want.len(), 119);
    let vm = column(&sheets, "vInfo", "VM");
    let cpus = column(&sheets, "vInfo", "CPUs");
    let mem = column(&sheets, "vInfo", "Memory");
    let template = column(&sheets, "vInfo", "Template");
    let power = column(&sheets, "vInfo", "Powerstate");
    let notes = column(&sheets, "vInfo", "Annotation");
    for (i, r) in want.iter().enumerate() {
        assert_eq!(vm[i], r.get::<String, _>("name"));
        assert_eq!(cpus[i], r.get::<i32, _>("vcpu").to_string());
        assert_eq!(mem[i], r.get::<i32, _>("memory_mb").to_string());
        assert_eq!(template[i], if r.get::<bool, _>("is_template") { "True" } else { "False" });
        let p = match r.get::<String, _>("p").as_str() {
            "powered_on" => "poweredOn",
            "powered_off" => "poweredOff",
            other => other,
        }
        .to_string();
        assert_eq!(power[i], p);
        assert_eq!(notes[i], r.get::<Option<String>, _>("notes").unwrap_or_default());
    }
    assert!(notes.contains(&"Owner: \"ops\", <b>team</b> & co"), "quotes, commas and markup survive every format");
    assert!(column(&sheets, "vInfo", "VI SDK Server").iter().all(|s| *s == "vc.example.test"));

    let hosts: i64 = sqlx::query_scalar("SELECT count(*) FROM esxi_hosts").fetch_one(&admin).await.unwrap();
    assert_eq!(column(&sheets, "vHost", "Host").len() as i64, hosts);
    assert_eq!(column(&sheets, "vHost", "ESX Version")[0], "VMware ESXi 8.0.2 build-22380479");
    let vms_on_hosts: i64 = column(&sheets, "vHost", "# VMs total").iter().map(|n| n.parse::<i64>().unwrap()).sum();
    assert_eq!(vms_on_hosts, 119);
    assert_eq!(column(&sheets, "vCluster", "Name"), ["prod-a", "prod-b"]);
    let nics: i64 =
        sqlx::query_scalar("SELECT sum(jsonb_array_length(nics)) FROM virtual_machines WHERE removed_at IS NULL")
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(column(&sheets, "vNetwork", "VM").len() as i64, nics);
    let snap: i64 =
        sqlx::query_scalar("SELECT count(*) FROM virtual_machines WHERE removed_at IS NULL AND has_snapshot")
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(column(&sheets, "vSnapshot", "VM").len() as i64, snap);
    assert!(column(&sheets, "vTools", "Tools").iter().all(|t| t.starts_with("tools")));

    // Typed cells in xlsx: numbers, booleans.
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = open_workbook(dir.path().join("rvtools.xlsx")).unwrap();
    let range = wb.worksheet_range("vInfo").unwrap();
    assert!(matches!(range.get((1, 4)), Some(Data::Float(_))), "CPUs is a number: {:?}", range.get((1, 4)));
    assert!(matches!(range.get((1, 2)), Some(Data::Bool(_))), "Template is a boolean");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn every_report_type_holds_the_same_rows_in_every_format(admin: PgPool) {
    seed(&admin, 30).await;
    let (_op, db) = operator(&admin).await;
    let admin_login = Login::new(&admin, "eio_admin", Some(("admin@example.test", "admin", &[]))).await;
    let admin_db = Database::from_pool(admin_login.pool.clone());
    let dir = tempfile::tempdir().unwrap();
    let count = |sql: &'static str| {
        let admin = admin.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&admin).await.unwrap() as usize }
    };

    let s = run_all_formats(&db, dir.path(), ReportType::InventorySummary, &[]).await;
    assert_eq!(column(&s, "Clusters", "Cluster"), ["prod-a", "prod-b"]);
    let vms: usize = column(&s, "Clusters", "VMs").iter().map(|n| n.parse::<usize>().unwrap()).sum();
    assert_eq!(vms, count("SELECT count(*) FROM virtual_machines WHERE removed_at IS NULL").await);
    assert_eq!(column(&s, "Servers", "Servers"), ["3"]);
    let html = std::fs::read_to_string(dir.path().join("inventory_summary.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("VMs per cluster"), "the chart is inline SVG");

    let s = run_all_formats(&db, dir.path(), ReportType::FirmwareCompliance, &[]).await;
    assert_eq!(column(&s, "Compliance", "Component").len(), count("SELECT count(*) FROM firmware_compliance").await);
    assert!(column(&s, "Compliance", "Criticality").contains(&"Urgent"));
    let s = run_all_formats(&db, dir.path(), ReportType::FirmwareCompliance, &["status=upgrade"]).await;
    assert_eq!(column(&s, "Compliance", "Installed version"), ["2.19.1"; 3]);
    assert_eq!(column(&s, "Compliance", "Baseline version"), ["2.21.2"; 3]);

    let s = run_all_formats(&db, dir.path(), ReportType::ServerMapping, &[]).await;
    assert_eq!(column(&s, "Mappings", "Method"), ["service_tag"; 3]);
    assert_eq!(column(&s, "Mappings", "ESXi host"), ["esx01.lab.test", "esx02.lab.test", "esx03.lab.test"]);

    let s = run_all_formats(&db, dir.path(), ReportType::IpamUtilization, &[]).await;
    assert_eq!(column(&s, "Prefixes", "Prefix"), ["10.0.0.0/24", "10.9.0.0/16"]);
    assert_eq!(column(&s, "Prefixes", "Used")[0], "12", "12 observed, the planned 10.0.0.5 among them");
    assert_eq!(column(&s, "Prefixes", "Addresses")[0], "256");

    let s = run_all_formats(&db, dir.path(), ReportType::IpamFindings, &[]).await;
    assert_eq!(column(&s, "Findings", "Severity"), ["error", "warning"], "open findings, worst first");
    let s = run_all_formats(&db, dir.path(), ReportType::IpamFindings, &["state=all"]).await;
    assert_eq!(column(&s, "Findings", "Type").len(), 3);

    // What a maintenance gate found against the plan's prediction (as the engine records it).
    sqlx::query(
        r#"INSERT INTO job_events (job_id, level, message, data)
           SELECT id, 'warning', 'esx01: the gate found 1 blocker(s) the plan did not predict and not 0 it did',
                  '{"kind": "gate_check", "host": "host-1", "predicted": 1, "found": 2, "agreed": false,
                    "missed": [["vm-7", "usb_device"]], "unexpected": []}'
           FROM jobs WHERE title = 'Sync vc-lab'"#,
    )
    .execute(&admin)
    .await
    .unwrap();
    // The audit trail is for admins: an operator's report leaves that sheet out.
    let s = run_all_formats(&db, dir.path(), ReportType::JobHistory, &[]).await;
    assert_eq!(s.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["Jobs", "Job events", "Plan vs gate"]);
    assert_eq!(column(&s, "Plan vs gate", "Agreed"), ["False"]);
    assert_eq!(column(&s, "Plan vs gate", "Found, not predicted"), ["vm-7 usb_device"]);
    assert_eq!(column(&s, "Plan vs gate", "Predicted"), ["1"]);
    assert_eq!(column(&s, "Jobs", "Title"), ["Sync vc-lab"]);
    let s = run_all_formats(&admin_db, dir.path(), ReportType::JobHistory, &[]).await;
    assert_eq!(
        s.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["Jobs", "Job events", "Plan vs gate", "Audit events"]
    );
    assert!(column(&s, "Audit events", "Action").contains(&"report.seed"));
    let s = run_all_formats(&db, dir.path(), ReportType::JobHistory, &["from=2000-01-01", "to=2000-02-01"]).await;
    assert!(column(&s, "Jobs", "Title").is_empty(), "nothing in that range");

    // Names and dates only: no username, no ciphertext.
    let s = run_all_formats(&db, dir.path(), ReportType::CredentialRotation, &[]).await;
    assert_eq!(column(&s, "Service identities", "Name"), ["vc-svc", "bmc-svc"]);
    assert_eq!(column(&s, "Service identities", "Overdue"), ["True", "False"]);
    assert_eq!(
        column(&s, "Service identities", "Used by")[0],
        "idrac idrac-1, idrac idrac-2, idrac idrac-3, ome ome-lab, vcenter vc-lab"
    );
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let path = f.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("credential_rotation") {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("svc-eio@vsphere.local") && !text.contains("ciphertext"), "{}", path.display());
        }
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn filters_narrow_the_rows_and_unknown_ones_are_refused(admin: PgPool) {
    seed(&admin, 60).await;
    let (_op, db) = operator(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let s =
        run_all_formats(&db, dir.path(), ReportType::Rvtools, &["cluster=prod-b", "tag=backup", "sheet=vInfo"]).await;
    assert_eq!(s.len(), 1);
    let want: Vec<String> = sqlx::query_scalar(
        "SELECT v.name FROM virtual_machines v JOIN clusters c ON c.id = v.cluster_id
         WHERE v.removed_at IS NULL AND c.name = 'prod-b' AND 'backup' = ANY (v.tags) ORDER BY v.name, v.id",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(!want.is_empty());
    assert_eq!(column(&s, "vInfo", "VM"), want);
    let s = run_all_formats(&db, dir.path(), ReportType::Rvtools, &["folder=/DC1/vm/apps/web", "sheet=vInfo"]).await;
    assert!(column(&s, "vInfo", "Folder").iter().all(|f| *f == "/DC1/vm/apps/web"));

    let e = reports::run(
        &db,
        &RunRequest {
            report_type: ReportType::Rvtools,
            format: ReportFormat::Csv,
            out: dir.path().join("x.csv"),
            filters: reports::parse_filter_args(&["colour=red"]).unwrap(),
            options: RunOptions::default(),
        },
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("colour") && e.message.contains("site"), "{}", e.message);
}

// ---------------------------------------------------------------------------------
// Failures leave nothing half-written.

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".partial"))
        .collect()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_full_disk_fails_the_run_and_keeps_the_good_file(admin: PgPool) {
    seed(&admin, 400).await;
    let (_op, db) = operator(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    for &format in ReportFormat::ALL {
        let out = dir.path().join(format!("inventory.{format}"));
        // A good file from an earlier run (a small one: one cluster's VMs).
        let good = reports::run(
            &db,
            &RunRequest {
                report_type: ReportType::Rvtools,
                format,
                out: out.clone(),
                filters: reports::parse_filter_args(&["sheet=vInfo", "tag=backup"]).unwrap(),
                options: RunOptions::default(),
            },
        )
        .await
        .unwrap();
        let before = std::fs::read(&out).unwrap();
        let e = reports::run(
            &db,
            &RunRequest {
                report_type: ReportType::Rvtools,
                format,
                out: out.clone(),
                filters: reports::parse_filter_args(&["sheet=vInfo"]).unwrap(),
                options: RunOptions { max_bytes: Some(before.len() as u64 + 100), progress: None },
            },
        )
        .await
        .unwrap_err();
        assert!(e.message.contains("disk is full") && e.message.contains("unchanged"), "{format}: {}", e.message);
        assert_eq!(std::fs::read(&out).unwrap(), before, "{format}: the earlier file is intact");
        assert!(leftovers(dir.path()).is_empty(), "{format}: temporary files left: {:?}", leftovers(dir.path()));
        let failed = reports::history(&db, None, 1).await.unwrap().remove(0);
        assert_ne!(failed.id, good.id);
        assert_eq!(failed.status, ExecutionStatus::Failed);
        assert!(failed.error.as_deref().unwrap().contains("disk is full"), "{:?}", failed.error);
        assert!(failed.storage_path.is_none() && failed.finished_at.is_some());
    }
}

/// A real small filesystem (tmpfs), where this machine allows mounting one.
struct Tmpfs(PathBuf);
impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_really_full_filesystem_fails_the_run_too(admin: PgPool) {
    seed(&admin, 3000).await;
    let (_op, db) = operator(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let Some(_fs) = Tmpfs::mount(dir.path(), "256k") else {
        // Mounting needs root; the size-limit test above covers the same path everywhere.
        eprintln!("cannot mount a tmpfs here; the injected full disk covers this");
        return;
    };
    for format in [ReportFormat::Xlsx, ReportFormat::Csv] {
        let out = dir.path().join(format!("small.{format}"));
        std::fs::write(&out, b"an earlier good report").unwrap();
        let e = reports::run(
            &db,
            &RunRequest {
                report_type: ReportType::Rvtools,
                format,
                out: out.clone(),
                filters: reports::parse_filter_args(&["sheet=vInfo,vNetwork"]).unwrap(),
                options: RunOptions::default(),
            },
        )
        .await
        .unwrap_err();
        assert!(e.message.contains("full") || e.message.contains("space"), "{format}: {}", e.message);
        assert_eq!(std::fs::read(&out).unwrap(), b"an earlier good report");
        assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
        let failed = reports::history(&db, None, 1).await.unwrap().remove(0);
        assert_eq!(failed.status, ExecutionStatus::Failed);
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_database_error_mid_stream_fails_the_run_and_writes_nothing(admin: PgPool) {
    seed(&admin, 20_000).await;
    let (op, db) = operator(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("vinfo.csv");
    std::fs::write(&out, "earlier good report\n").unwrap();
    // When the first rows have arrived, the database ends the session streaming them.
    let admin_opts = admin.connect_options().as_ref().clone();
    let role = op.role.clone();
    let fired = AtomicBool::new(false);
    let kill = move |_rows: u64| {
        if fired.swap(true, Ordering::SeqCst) {
            return;
        }
        let (opts, role) = (admin_opts.clone(), role.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect_with(&opts).await.unwrap();
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE usename = $1 AND query LIKE '%FROM virtual_machines v%' AND state = 'active') x",
                )
                .bind(&role)
                .fetch_one(&mut c)
                .await
                .unwrap();
                assert_eq!(n, 1, "the streaming session was found");
            })
        })
        .join()
        .unwrap();
    };
    let e = reports::run(
        &db,
        &RunRequest {
            report_type: ReportType::Rvtools,
            format: ReportFormat::Csv,
            out: out.clone(),
            filters: reports::parse_filter_args(&["sheet=vInfo"]).unwrap(),
            options: RunOptions { max_bytes: None, progress: Some(&kill) },
        },
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("reading the rows of sheet vInfo"), "{}", e.message);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "earlier good report\n");
    assert!(leftovers(dir.path()).is_empty());
    let failed = reports::history(&db, None, 1).await.unwrap().remove(0);
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert!(failed.error.unwrap().contains("vInfo"));
}

// ---------------------------------------------------------------------------------
// Who may record executions: plain SQL, as the database enforces it.

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn viewers_cannot_record_executions_and_operators_only_as_themselves(admin: PgPool) {
    let viewer = Login::new(&admin, "eio_viewer", Some(("viewer@example.test", "viewer", &[]))).await;
    let alice = Login::new(&admin, "eio_operator", Some(("alice@example.test", "operator", &[]))).await;
    let bob = Login::new(&admin, "eio_operator", Some(("bob@example.test", "operator", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let insert = |who: Option<Uuid>| {
        sqlx::query_scalar::<_, Uuid>(
            "INSERT INTO report_executions (type, format, requested_by) VALUES ('rvtools', 'csv', $1) RETURNING id",
        )
        .bind(who)
    };

    assert_eq!(sqlstate(insert(viewer.user_id).fetch_one(&viewer.pool).await), "42501");
    // Not as someone else, nor as nobody: the database records the real requester.
    for claimed in [bob.user_id, None] {
        let id = insert(claimed).fetch_one(&alice.pool).await.unwrap();
        let by: Option<Uuid> = sqlx::query_scalar("SELECT requested_by FROM report_executions WHERE id = $1")
            .bind(id)
            .fetch_one(&admin)
            .await
            .unwrap();
        assert_eq!(by, alice.user_id, "claimed {claimed:?}");
    }
    let alices = insert(alice.user_id).fetch_one(&alice.pool).await.unwrap();
    // Bob can neither see-to-update nor take over Alice's execution.
    let r = sqlx::query("UPDATE report_executions SET error = 'x', status = 'failed' WHERE id = $1")
        .bind(alices)
        .execute(&bob.pool)
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), 0);
    // Nor can Alice hand hers to Bob: the requester never changes.
    sqlx::query("UPDATE report_executions SET requested_by = $2 WHERE id = $1")
        .bind(alices)
        .bind(bob.user_id)
        .execute(&alice.pool)
        .await
        .unwrap();
    let by: Option<Uuid> = sqlx::query_scalar("SELECT requested_by FROM report_executions WHERE id = $1")
        .bind(alices)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(by, alice.user_id);
    // Everyone reads the history; the engine records scheduled runs as nobody.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM report_executions").fetch_one(&viewer.pool).await.unwrap();
    assert_eq!(n, 3);
    insert(None).fetch_one(&worker.pool).await.unwrap();

    // Through the service: a sentence, not a SQLSTATE.
    let e = reports::run(
        &Database::from_pool(viewer.pool.clone()),
        &RunRequest {
            report_type: ReportType::IpamFindings,
            format: ReportFormat::Json,
            out: tempfile::tempdir().unwrap().path().join("f.json"),
            filters: Default::default(),
            options: RunOptions::default(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, eio_core::error::ErrorCode::Forbidden);
    assert!(e.message.contains("operator role"), "{}", e.message);
}

// ---------------------------------------------------------------------------------
// Definitions, schedules and report jobs.

/// Put `dir` on the admins' list of report folders (as the test's superuser).
async fn allow_folder(admin: &PgPool, dir: &Path) {
    sqlx::query("INSERT INTO report_output_folders (path) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(dir.display().to_string())
        .execute(admin)
        .await
        .unwrap();
}

async fn define(db: &Database, name: &str, schedule: Option<&str>, dir: &Path) -> eio_core::reports::ReportDefinition {
    reports::define(
        db,
        &NewDefinition {
            name: name.into(),
            report_type: ReportType::IpamFindings,
            formats: vec![ReportFormat::Csv, ReportFormat::Json, ReportFormat::Xlsx],
            schedule: schedule.map(str::to_owned),
            filters: reports::parse_filter_args(&["state=all"]).unwrap(),
            output_dir: Some(dir.display().to_string()),
            enabled: true,
        },
    )
    .await
    .unwrap()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn definitions_are_validated_listed_and_run_now(admin: PgPool) {
    seed(&admin, 10).await;
    let (_op, db) = operator(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    allow_folder(&admin, dir.path()).await;
    let d = define(&db, "weekly-findings", Some("0 6 * * 1"), dir.path()).await;
    assert_eq!(d.created_by.as_deref(), Some("op@example.test"));
    let next = d.next_run_at.unwrap();
    assert!(next > chrono::Utc::now());
    assert_eq!(next.format("%a %H:%M").to_string(), "Mon 06:00");
    assert!(d.schedule_description.is_some());

    let bad = |schedule: Option<&str>, filters: &[&str], name: &str| {
        let db = db.clone();
        let filters = reports::parse_filter_args(filters).unwrap();
        let (schedule, name) = (schedule.map(str::to_owned), name.to_owned());
        async move {
            reports::define(
                &db,
                &NewDefinition {
                    name,
                    report_type: ReportType::Rvtools,
                    formats: vec![ReportFormat::Html],
                    schedule,
                    filters,
                    output_dir: None,
                    enabled: true,
                },
            )
            .await
            .unwrap_err()
            .message
        }
    };
    assert!(bad(Some("every monday"), &[], "x").await.contains("cron"));
    assert!(bad(None, &["severity=error"], "x").await.contains("no filter \"severity\""));
    assert!(bad(None, &[], "../etc").await.contains("report name"));

    let runs = reports::run_definition(&db, "weekly-findings", Path::new("/nonexistent")).await.unwrap();
    assert_eq!(runs.len(), 3);
    for r in &runs {
        assert_eq!(r.definition.as_deref(), Some("weekly-findings"));
        assert_eq!(r.requested_by.as_deref(), Some("op@example.test"));
        assert!(Path::new(r.storage_path.as_deref().unwrap()).starts_with(dir.path()));
        assert_eq!(r.row_count, Some(3));
    }
    let list = reports::definitions(&db).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].last_status, Some(ExecutionStatus::Completed));
    assert_eq!(reports::history(&db, Some("weekly-findings"), 10).await.unwrap().len(), 3);

    // Someone else's definition is not theirs to change.
    let other = Login::new(&admin, "eio_operator", Some(("other@example.test", "operator", &[]))).await;
    let e = reports::define(
        &Database::from_pool(other.pool.clone()),
        &NewDefinition {
            name: "weekly-findings".into(),
            report_type: ReportType::Rvtools,
            formats: vec![ReportFormat::Html],
            schedule: None,
            filters: Default::default(),
            output_dir: None,
            enabled: true,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, eio_core::error::ErrorCode::Forbidden, "{}", e.message);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_due_schedule_racing_on_two_instances_makes_one_job(admin: PgPool) {
    seed(&admin, 10).await;
    let (_op, db) = operator(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    allow_folder(&admin, dir.path()).await;
    let d = define(&db, "hourly-findings", Some("0 * * * *"), dir.path()).await;
    let on_demand = define(&db, "on-demand", None, dir.path()).await;
    assert!(on_demand.next_run_at.is_none());
    let due: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("UPDATE report_definitions SET next_run_at = date_trunc('hour', now()) - interval '1 hour' WHERE id = $1 RETURNING next_run_at")
            .bind(d.id)
            .fetch_one(&admin)
            .await
            .unwrap();

    let w1 = Login::new(&admin, "eio_worker", None).await;
    let w2 = Login::new(&admin, "eio_worker", None).await;
    let (db1, db2) = (Database::from_pool(w1.pool.clone()), Database::from_pool(w2.pool.clone()));
    let (a, b) = tokio::join!(schedule::enqueue_due(&db1), schedule::enqueue_due(&db2));
    let created: Vec<Uuid> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(created.len(), 1, "exactly one of the two instances created the job");
    let jobs = sqlx::query(
        "SELECT id, type::text AS t, status::text AS s, target, params, idempotency_key FROM jobs WHERE type = 'report'",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.get::<Uuid, _>("id"), created[0]);
    assert_eq!(job.get::<String, _>("s"), "pending");
    assert_eq!(job.get::<String, _>("idempotency_key"), schedule::job_key(d.id, due));
    let params: serde_json::Value = job.get("params");
    assert_eq!(params["definition_id"], d.id.to_string());
    // The target is the job spec the engine dispatches on, as `eio job submit` writes it.
    assert_eq!(
        JobSpec::from_target(&job.get("target")).unwrap(),
        JobSpec::Report(ReportTarget { definition: "hourly-findings".into() })
    );

    // The schedule moved on to its next time after now.
    let next: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT next_run_at FROM report_definitions WHERE id = $1")
            .bind(d.id)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(next > chrono::Utc::now() && next <= chrono::Utc::now() + chrono::Duration::hours(1));
    // Nothing is due now: a later tick creates nothing.
    assert!(schedule::enqueue_due(&db1).await.unwrap().is_empty());
    // Even a caller that saw the same due time (a stale read) can't make a second job.
    sqlx::query("UPDATE report_definitions SET next_run_at = $2 WHERE id = $1")
        .bind(d.id)
        .bind(due)
        .execute(&admin)
        .await
        .unwrap();
    assert!(schedule::enqueue_due(&db2).await.unwrap().is_empty());
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE type = 'report'").fetch_one(&admin).await.unwrap();
    assert_eq!(n, 1);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn running_a_report_job_twice_makes_one_set_of_executions(admin: PgPool) {
    seed(&admin, 10).await;
    let (_op, db) = operator(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    allow_folder(&admin, dir.path()).await;
    let d = define(&db, "nightly-findings", Some("@daily"), dir.path()).await;
    sqlx::query("UPDATE report_definitions SET next_run_at = now() - interval '1 minute' WHERE id = $1")
        .bind(d.id)
        .execute(&admin)
        .await
        .unwrap();
    let w = Login::new(&admin, "eio_worker", None).await;
    let wdb = Database::from_pool(w.pool.clone());
    let job = schedule::enqueue_due(&wdb).await.unwrap().remove(0);
    let params: serde_json::Value =
        sqlx::query_scalar("SELECT params FROM jobs WHERE id = $1").bind(job).fetch_one(&admin).await.unwrap();

    let first = reports::run_job_in(&wdb, Path::new("/nonexistent"), job, &params).await.unwrap();
    assert_eq!(first.len(), 3);
    for e in &first {
        assert_eq!(e.job_id, Some(job));
        assert_eq!(e.status, ExecutionStatus::Completed);
        assert!(e.requested_by.is_none(), "a worker runs as nobody");
        assert!(Path::new(e.storage_path.as_deref().unwrap()).exists());
    }
    let again = reports::run_job_in(&wdb, Path::new("/nonexistent"), job, &params).await.unwrap();
    let ids = |v: &[reports::ReportExecution]| {
        let mut ids: Vec<Uuid> = v.iter().map(|e| e.id).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&again), ids(&first), "the re-run reports the same executions");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM report_executions WHERE job_id = $1")
        .bind(job)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(n, 3);

    // A format that failed is generated again into the same execution.
    sqlx::query(
        "UPDATE report_executions SET status = 'failed', error = 'worker died' WHERE job_id = $1 AND format = 'csv'",
    )
    .bind(job)
    .execute(&admin)
    .await
    .unwrap();
    let third = reports::run_job_in(&wdb, Path::new("/nonexistent"), job, &params).await.unwrap();
    assert_eq!(ids(&third), ids(&first));
    assert!(third.iter().all(|e| e.status == ExecutionStatus::Completed && e.error.is_none()));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM report_executions WHERE job_id = $1")
        .bind(job)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(n, 3);
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_reports_page_defines_runs_and_lists_through_the_operation_registry(admin: PgPool) {
    use eio_core::api::{dispatch, Session};
    seed(&admin, 10).await;
    let (_op, db) = operator(&admin).await;
    let data = tempfile::tempdir().unwrap();
    // Each nextest test is its own process: the default folder follows the data directory.
    std::env::set_var("EIO_DATA_DIR", data.path());
    let session = Session::new(db.clone());
    let folder = tempfile::tempdir().unwrap();
    allow_folder(&admin, folder.path()).await;

    let d = dispatch(
        &session,
        "report_define",
        serde_json::json!({
            "name": "weekly-findings", "type": "ipam_findings", "formats": ["csv", "json"],
            "schedule": "0 6 * * 1", "filters": {"state": "all"},
            "output_dir": folder.path().display().to_string(), "enabled": true,
        }),
    )
    .await
    .unwrap();
    assert_eq!(d["name"], "weekly-findings");
    assert!(d["next_run_at"].is_string());
    let e = dispatch(
        &session,
        "report_define",
        serde_json::json!({"name": "x", "type": "rvtools", "formats": ["xlsx"], "filters": {"colour": "red"}}),
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("no filter \"colour\""), "{}", e.message);

    // Run the definition now: every format into its folder.
    let done = dispatch(&session, "report_run", serde_json::json!({"definition": "weekly-findings"})).await.unwrap();
    let done = done.as_array().unwrap();
    assert_eq!(done.len(), 2);
    for e in done {
        assert_eq!(e["status"], "completed");
        let path = PathBuf::from(e["storage_path"].as_str().unwrap());
        assert!(path.starts_with(folder.path()) && path.is_file(), "{path:?}");
    }
    // One type in one format: into the reports folder of the data directory.
    let adhoc = dispatch(&session, "report_run", serde_json::json!({"type": "ipam_utilization", "format": "xlsx"}))
        .await
        .unwrap();
    let path = PathBuf::from(adhoc[0]["storage_path"].as_str().unwrap());
    assert!(path.starts_with(data.path().join("reports")) && path.is_file(), "{path:?}");
    // Neither, or both: refused with a sentence.
    let e = dispatch(&session, "report_run", serde_json::json!({})).await.unwrap_err();
    assert!(e.message.contains("name a definition"), "{}", e.message);
    let e = dispatch(&session, "report_run", serde_json::json!({"definition": "weekly-findings", "format": "csv"}))
        .await
        .unwrap_err();
    assert!(e.message.contains("by its name alone"), "{}", e.message);

    let page = dispatch(&session, "reports_page", serde_json::json!({})).await.unwrap();
    assert_eq!(page["types"].as_array().unwrap().len(), ReportType::ALL.len());
    assert_eq!(page["definitions"][0]["name"], "weekly-findings");
    assert_eq!(page["definitions"][0]["last_status"], "completed");
    assert_eq!(page["schedules"][0]["definition"], "weekly-findings");
    assert_eq!(page["schedules"][0]["schedule"], "0 6 * * 1");
    assert_eq!(page["history"].as_array().unwrap().len(), 3);
    assert_eq!(page["history"][0]["type"], "ipam_utilization", "newest first");
    assert_eq!(page["default_folder"], data.path().join("reports").display().to_string());

    // Opening: only a recorded file this login can see, and only while it is there.
    let id: Uuid = adhoc[0]["id"].as_str().unwrap().parse().unwrap();
    let open = |folder| eio_core::reports::ops::OpenReportInput { execution_id: id, folder, file: None };
    assert_eq!(eio_core::reports::ops::openable_path(&session, &open(false)).await.unwrap(), path);
    assert_eq!(
        eio_core::reports::ops::openable_path(&session, &open(true)).await.unwrap(),
        data.path().join("reports")
    );
    let second = eio_core::reports::ops::OpenReportInput { execution_id: id, folder: false, file: Some(1) };
    let e = eio_core::reports::ops::openable_path(&session, &second).await.unwrap_err();
    assert_eq!(e.code, eio_core::error::ErrorCode::NotFound);
    assert_eq!(e.message, "this ipam_utilization report wrote 1 file(s), not a file 2");
    std::fs::remove_file(&path).unwrap();
    let e = eio_core::reports::ops::openable_path(&session, &open(false)).await.unwrap_err();
    assert_eq!(e.code, eio_core::error::ErrorCode::NotFound);
    assert!(e.message.contains("is not on this machine: it was moved or deleted"), "{}", e.message);

    // Viewers read the page but can't run or define.
    let viewer = Login::new(&admin, "eio_viewer", Some(("view@example.test", "viewer", &[]))).await;
    let vs = Session::new(Database::from_pool(viewer.pool.clone()));
    let page = dispatch(&vs, "reports_page", serde_json::json!({})).await.unwrap();
    assert_eq!(page["definitions"].as_array().unwrap().len(), 1);
    let e = dispatch(&vs, "report_run", serde_json::json!({"type": "ipam_utilization", "format": "csv"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, eio_core::error::ErrorCode::Forbidden, "{}", e.message);
}

/// A VM renamed to a spreadsheet formula by whoever may edit vCenter reaches the CSV as
/// text: the cell starts with `'`, and no cell of any CSV file starts a formula.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn csv_cells_that_look_like_formulas_are_written_as_text(admin: PgPool) {
    seed(&admin, 6).await;
    let evil = r#"=HYPERLINK("http://evil.example","click")"#;
    sqlx::query(
        "UPDATE virtual_machines SET name = $1, notes = '@SUM(1+1)'
         WHERE id = (SELECT id FROM virtual_machines WHERE removed_at IS NULL ORDER BY name LIMIT 1)",
    )
    .bind(evil)
    .execute(&admin)
    .await
    .unwrap();
    let (_op, db) = operator(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let done = reports::run(
        &db,
        &RunRequest {
            report_type: ReportType::Rvtools,
            format: ReportFormat::Csv,
            out: dir.path().join("rvtools.csv"),
            filters: Default::default(),
            options: RunOptions::default(),
        },
    )
    .await
    .unwrap();
    assert!(done.files.len() > 1, "{:?}", done.files);
    let mut cells = 0;
    let mut neutralized = Vec::new();
    for f in &done.files {
        let (_, rows) = csv_table(Path::new(f));
        for cell in rows.iter().flatten() {
            cells += 1;
            assert!(!matches!(cell.chars().next(), Some('=' | '+' | '@' | '\t' | '\r')), "{f}: formula cell {cell:?}");
            if cell.starts_with('\'') {
                neutralized.push(cell.clone());
            }
        }
    }
    assert!(cells > 50, "only {cells} cells read");
    assert!(neutralized.contains(&format!("'{evil}")), "{neutralized:?}");
    assert!(neutralized.contains(&"'@SUM(1+1)".to_string()), "{neutralized:?}");
}
