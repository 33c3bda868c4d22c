//! `eio report …` as a user drives it: run a report into a file, define a scheduled one,
//! list definitions and the history; bad input is a clear error and writes nothing.
mod common;

use common::{data_dir, eio, json_of, ok, url_of};
use sqlx::PgPool;

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn run_define_list_and_history(pool: PgPool) {
    for cidr in ["10.1.0.0/24", "10.2.0.0/24"] {
        sqlx::query("INSERT INTO prefixes (routing_domain_id, cidr) VALUES (default_routing_domain_id(), $1::cidr)")
            .bind(cidr)
            .execute(&pool)
            .await
            .unwrap();
    }
    let dir = data_dir();
    let url = url_of(&pool);
    let run = |args: &[&str]| eio(dir.path()).env("EIO_DATABASE_URL", &url).args(args).output().unwrap();

    // Run now into a file; the file holds the rows, the execution is recorded.
    let out = dir.path().join("prefixes.csv");
    let done = run(&["report", "run", "ipam_utilization", "--format", "csv", "--out", out.to_str().unwrap(), "--json"]);
    let e = json_of(ok(&done));
    assert_eq!(e["status"], "completed");
    assert_eq!(e["storage_path"], out.display().to_string());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("10.1.0.0/24") && text.contains("10.2.0.0/24"), "{text}");
    assert_eq!(e["size_bytes"], text.len());
    assert_eq!(e["row_count"], 2);

    // A folder (to create) as --out: a file named after the report in it.
    let folder = dir.path().join("out");
    let done =
        run(&["report", "run", "ipam-utilization", "--format", "json", "--out", &format!("{}/", folder.display())]);
    ok(&done);
    let written: Vec<_> = std::fs::read_dir(&folder).unwrap().map(|f| f.unwrap().path()).collect();
    assert_eq!(written.len(), 1);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&written[0]).unwrap()).unwrap();
    assert_eq!(doc["report"], "ipam_utilization");

    // Bad input: an unknown filter, format or type says what is accepted; nothing is written.
    let bad =
        run(&["report", "run", "ipam_utilization", "--format", "csv", "--out", "x.csv", "--filter", "colour=red"]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("no filter \"colour\"") && stderr.contains("routing_domain"), "{stderr}");
    let bad = run(&["report", "run", "ipam_utilization", "--format", "pdf", "--out", "x.pdf"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("html, csv, json, xlsx"));
    let bad = run(&["report", "run", "rvtool", "--format", "csv", "--out", "x.csv"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("rvtools"));

    // Define a scheduled report; a bad schedule is refused with a sentence. Its folder
    // must first be on the admins' list.
    let reports_dir = dir.path().join("reports");
    let refused = run(&[
        "report",
        "define",
        "weekly",
        "--type",
        "ipam_utilization",
        "--format",
        "csv",
        "--out-dir",
        reports_dir.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not on the list of report folders"));
    ok(&run(&["report", "folder", "add", reports_dir.to_str().unwrap(), "--description", "team reports"]));
    let folders = json_of(ok(&run(&["report", "folder", "list", "--json"])));
    assert_eq!(folders[0]["path"], reports_dir.display().to_string());
    let bad = run(&[
        "report",
        "define",
        "weekly",
        "--type",
        "ipam_utilization",
        "--format",
        "csv",
        "--schedule",
        "every monday",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a valid cron expression"));
    ok(&run(&[
        "report",
        "define",
        "weekly",
        "--type",
        "ipam_utilization",
        "--format",
        "csv,xlsx",
        "--schedule",
        "0 6 * * 1",
        "--filter",
        "status=active",
        "--out-dir",
        reports_dir.to_str().unwrap(),
    ]));
    let list = json_of(ok(&run(&["report", "list", "--json"])));
    let defs = list.as_array().unwrap();
    assert_eq!(defs.len(), 1);
    assert_eq!(defs[0]["name"], "weekly");
    assert_eq!(defs[0]["type"], "ipam_utilization");
    assert_eq!(defs[0]["formats"], serde_json::json!(["csv", "xlsx"]));
    assert_eq!(defs[0]["schedule"], "0 6 * * 1");
    assert_eq!(defs[0]["filters"]["status"], "active");
    assert_eq!(defs[0]["output_dir"], reports_dir.display().to_string());
    assert!(defs[0]["next_run_at"].as_str().is_some());
    let table = String::from_utf8_lossy(&ok(&run(&["report", "list"])).stdout).into_owned();
    assert!(table.contains("weekly") && table.contains("0 6 * * 1"), "{table}");

    // History: newest first, both runs completed (the failed ones never ran: refused up front).
    let history = json_of(ok(&run(&["report", "history", "--json"])));
    let h = history.as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["format"], "json");
    assert_eq!(h[1]["format"], "csv");
    assert!(h.iter().all(|e| e["status"] == "completed"));
    let table = String::from_utf8_lossy(&ok(&run(&["report", "history"])).stdout).into_owned();
    assert!(table.contains("completed") && table.contains("prefixes.csv"), "{table}");
}
