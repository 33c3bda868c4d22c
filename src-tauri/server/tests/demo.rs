//! `eio demo` as a newcomer runs it: the real binary against a fresh database, waited for by
//! its ready line (never by sleeping), then checked only through the public CLI — the
//! estate's counts, the findings it must raise, exactly one job awaiting approval — started
//! again to prove the remembered lab brings the same sources back, and its job approved to
//! meet the maintenance gate the blocked VM closes.
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use common::{data_dir, eio, json_of, ok, url_as, url_of, DropRoles};
use serde_json::Value;
use sqlx::PgPool;

/// Start `eio demo --json` and read its stdout until the ready line; returns the child and
/// the ready report. Fails (with the demo's stderr) if it exits first.
fn start_demo(mut cmd: Command) -> (Child, Value) {
    cmd.args(["demo", "--json"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("eio demo starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if v["ready"] == true {
                        break v;
                    }
                }
            }
            _ => {
                let out = child.wait_with_output().unwrap();
                panic!(
                    "eio demo ended before it was ready ({:?}):\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    };
    // Keep draining stdout so the demo never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, ready)
}

/// Ctrl-C, as a user stops it; the demo must stop cleanly.
fn stop_demo(child: Child) -> Output {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "eio demo did not stop cleanly:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn list(mut cmd: Command, args: &[&str]) -> Vec<Value> {
    cmd.args(args);
    json_of(ok(&cmd.output().unwrap())).as_array().cloned().unwrap_or_else(|| panic!("{args:?} lists"))
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_demo_sets_up_a_working_estate_and_comes_back_the_same(pool: PgPool) {
    let _roles = DropRoles(pool.clone(), vec!["eio_demo_operator".into(), "eio_demo_approver".into()]);
    let dir = data_dir();
    let (path, url) = (dir.path().to_path_buf(), url_of(&pool));
    let key = path.join("worker.age");
    let eio_ = move || {
        let mut c = eio(&path);
        c.env("EIO_DATABASE_URL", &url).env("EIO_WORKER_KEY_FILE", &key);
        c
    };

    // Run the demo off the test's runtime: it is a separate process that must keep serving.
    let (child, ready) = tokio::task::spawn_blocking({
        let cmd = eio_();
        move || start_demo(cmd)
    })
    .await
    .unwrap();
    assert_eq!(ready["counts"]["hosts"], 60, "{ready}");
    assert_eq!(ready["counts"]["vms"], 800, "{ready}");
    assert!(ready["sync_failures"].as_array().unwrap().is_empty(), "{ready}");
    let job = ready["job_awaiting_approval"].as_str().expect("a job awaits approval").to_owned();

    let checks = tokio::task::spawn_blocking({
        let eio_ = eio_.clone();
        let job = job.clone();
        move || {
            let vms = list(eio_(), &["vm", "list", "--json", "--limit", "100000"]);
            assert_eq!(vms.len(), 800);
            assert!(vms.iter().all(|v| v["guest_ips"].as_array().is_some_and(|ips| !ips.is_empty())), "VMs have IPs");
            assert_eq!(list(eio_(), &["host", "list", "--json"]).len(), 60);

            let servers = list(eio_(), &["server", "list", "--json"]);
            assert_eq!(servers.len(), 60);
            let mut generations: Vec<&str> = servers.iter().filter_map(|s| s["generation"].as_str()).collect();
            generations.sort();
            generations.dedup();
            assert_eq!(generations.len(), 3, "iDRAC7, 8 and 9: {generations:?}");
            assert!(
                servers.iter().any(|s| s["driver"] == "wsman") && servers.iter().any(|s| s["driver"] == "redfish"),
                "iDRAC7 speaks WSMan, iDRAC8/9 Redfish"
            );
            let noncompliant = servers.iter().filter(|s| s["noncompliant_components"].as_i64() > Some(0)).count();
            assert!(noncompliant > 0 && noncompliant < 60, "some servers violate the OME baseline: {noncompliant}");
            assert!(servers.iter().all(|s| !s["esxi_host"].is_null()), "every server maps to its ESXi host");

            let sources = list(eio_(), &["source", "list", "--json"]);
            assert_eq!(sources.len(), 2 + 60 + 1);
            assert!(
                sources.iter().all(|s| s["tls"] == "pinned" && s["last_sync_status"] == "succeeded"),
                "{sources:?}"
            );
            assert!(sources.iter().all(|s| s["demo_lab"] == true && s["enabled"] == true), "{sources:?}");

            let findings = list(eio_(), &["ipam", "findings", "--json"]);
            for kind in ["duplicate_usage", "outside_any_prefix"] {
                assert!(findings.iter().any(|f| f["type"] == kind), "a {kind} finding");
            }

            let waiting = list(eio_(), &["job", "list", "--status", "awaiting_approval", "--json"]);
            assert_eq!(waiting.len(), 1, "{waiting:?}");
            assert_eq!(waiting[0]["id"], job.as_str());
            assert_eq!(waiting[0]["type"], "maintenance_mode");
            assert_eq!(waiting[0]["initiated_by"], "operator@demo.eio.example");
            sources
        }
    })
    .await
    .unwrap();
    stop_demo(child);
    // Stopped, the lab pauses its sources: syncs skip them instead of failing on all 63.
    let paused = tokio::task::spawn_blocking({
        let eio_ = eio_.clone();
        move || list(eio_(), &["source", "list", "--json"])
    })
    .await
    .unwrap();
    assert_eq!(paused.len(), 63);
    assert!(paused.iter().all(|s| s["enabled"] == false), "{paused:?}");

    // Again: the remembered lab comes back at the same addresses, so the same sources sync.
    let (child, again) = tokio::task::spawn_blocking({
        let cmd = eio_();
        move || start_demo(cmd)
    })
    .await
    .unwrap();
    assert!(again["sync_failures"].as_array().unwrap().is_empty(), "{again}");
    assert_eq!(again["job_awaiting_approval"], job.as_str(), "still the one job waiting");
    let after = tokio::task::spawn_blocking({
        let eio_ = eio_.clone();
        move || {
            assert_eq!(list(eio_(), &["job", "list", "--status", "awaiting_approval", "--json"]).len(), 1);
            let sources = list(eio_(), &["source", "list", "--json"]);
            assert!(sources.iter().all(|s| s["enabled"] == true), "resumed: {sources:?}");
            sources
        }
    })
    .await
    .unwrap();
    let ids = |v: &[Value]| {
        let mut ids: Vec<String> = v.iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&after), ids(&checks), "the same sources, not new ones");

    // The gate: the demo approver approves; the demo's own worker runs the job, and the
    // blocked VM stops the evacuation, so the job pauses and names it.
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await.unwrap();
    listener.listen("eio_jobs").await.unwrap();
    // Its plan predicts the blocked VM (from the sync): approving needs that acknowledged,
    // and the refusal says how.
    let approve = |ack: bool| {
        let mut cmd = eio_();
        cmd.env("EIO_DATABASE_URL", url_as(&pool, Some("eio_demo_approver"))).args(["job", "approve", &job]);
        if ack {
            cmd.arg("--acknowledge-blockers");
        }
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let refused = approve(false).await.unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains(&format!(
            "the plan predicts 1 blocker(s): approving it needs their acknowledgement: read them with `eio job show {job}`, then approve with --acknowledge-blockers"
        )),
        "{said}"
    );
    let show = tokio::task::spawn_blocking({
        let mut cmd = eio_();
        cmd.env("EIO_DATABASE_URL", url_as(&pool, Some("eio_demo_approver"))).args(["job", "show", &job]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    ok(&show);
    let shown = String::from_utf8_lossy(&show.stdout);
    let first = shown.lines().skip_while(|l| !l.starts_with("Plan: ")).nth(1).unwrap_or_default();
    assert_eq!(first, "PREDICTED BLOCKERS (1): approving needs --acknowledge-blockers", "{shown}");
    assert!(shown.contains("[local_storage]"), "{shown}");
    let approve = approve(true).await.unwrap();
    ok(&approve);
    let paused = tokio::time::timeout(std::time::Duration::from_secs(300), async {
        loop {
            // A notification names the job (ids only); its status is read from the row.
            let n = listener.recv().await.unwrap();
            let v: Value = serde_json::from_str(n.payload()).unwrap();
            if v["id"] != job.as_str() {
                continue;
            }
            let status: String = sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1::uuid")
                .bind(&job)
                .fetch_one(&pool)
                .await
                .unwrap();
            if matches!(status.as_str(), "paused" | "succeeded" | "failed") {
                return status;
            }
        }
    })
    .await
    .expect("the approved job reaches the gate");
    assert_eq!(paused, "paused");
    let detail = tokio::task::spawn_blocking({
        let mut cmd = eio_();
        cmd.args(["job", "show", &job, "--json"]);
        move || json_of(ok(&cmd.output().unwrap()))
    })
    .await
    .unwrap();
    let blocking = detail["pause_reason"]["blocking_vms"].as_array().cloned().unwrap_or_default();
    assert!(blocking.iter().any(|b| b["vm_name"] == ready["blocked_vm"]), "{}", detail["pause_reason"]);
    stop_demo(child);
}
