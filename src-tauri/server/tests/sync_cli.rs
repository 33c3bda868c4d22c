//! Sources and sync through the `eio` binary, against govmomi's vcsim and the lab's Dell
//! simulator — with a planted password checked against every byte the commands printed
//! at trace level (the secret sweep of the identity tests, extended to sync).
mod common;

use eio_lab::vcsim;

use std::io::Write;
use std::process::{Output, Stdio};

use common::{data_dir, eio, json_of, ok, url_of};
use eio_lab::dell::DellLab;
use sqlx::PgPool;

/// Run `eio` off the test's (single-threaded) runtime, which must keep serving the lab's
/// simulated BMCs while the command talks to them.
async fn run(mut cmd: std::process::Command, stdin: Option<&str>) -> Output {
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        cmd.env("EIO_LOG", "trace").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn sources_sync_and_inventory_listings_through_the_cli(pool: PgPool) {
    let sim = vcsim::Vcsim::start(&["-dc", "1", "-cluster", "2", "-host", "2", "-vm", "5"]);
    let planted = "PLANTED-bmc-pw-2b61f0-do-not-leak";
    let lab = DellLab::builder().bmcs(3).credentials("root", planted).build().await.unwrap();
    let dir = data_dir();
    let key = dir.path().join("worker.age");
    let url = url_of(&pool);
    let mut transcript: Vec<Output> = Vec::new();
    let eio_ = || {
        let mut c = eio(dir.path());
        c.env("EIO_DATABASE_URL", &url).env("EIO_WORKER_KEY_FILE", &key);
        c
    };

    let mut cmd = eio_();
    cmd.args(["identity", "init-worker-key", "--key-file"]).arg(&key);
    transcript.push(ok(&run(cmd, None).await).clone());

    let mut cmd = eio_();
    cmd.args(["source", "add", "vcenter", "--name", "vc-lab", "--url", sim.sdk_url.as_str()]).args([
        "--username",
        &sim.username,
        "--password-stdin",
        "--thumbprint",
        &sim.thumbprint.to_string(),
        "-vvv",
    ]);
    transcript.push(ok(&run(cmd, Some(&format!("{}\n", sim.password))).await).clone());

    // Three iDRACs from a CSV, sharing one identity; the planted password enters on stdin.
    let csv = dir.path().join("idracs.csv");
    let mut body = String::from("name,url,thumbprint\n");
    for (i, bmc) in lab.bmcs.iter().enumerate() {
        body.push_str(&format!("r740-{i},{},{}\n", bmc.url, bmc.thumbprint.unwrap()));
    }
    std::fs::write(&csv, body).unwrap();
    let creds = lab.credentials();
    let mut cmd = eio_();
    cmd.args(["source", "add", "idrac", "--csv"]).arg(&csv).args([
        "--username",
        &creds.username,
        "--identity-name",
        "idrac-fleet",
        "--password-stdin",
        "-vvv",
    ]);
    let out = run(cmd, Some(&format!("{}\n", creds.password.expose()))).await;
    assert!(String::from_utf8_lossy(&ok(&out).stdout).contains("Added 3 iDRAC(s)"));
    transcript.push(out);

    let mut cmd = eio_();
    cmd.args(["sync", "--json", "-vvv"]);
    let out = run(cmd, None).await;
    let reports = json_of(ok(&out));
    transcript.push(out);
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 4);
    for r in reports {
        assert_eq!(r["outcome"], "succeeded", "{r}");
    }
    let vc = reports.iter().find(|r| r["source"] == "vcenter").unwrap();
    assert_eq!(vc["counts"]["virtual_machines"]["seen"].as_u64().unwrap() as usize, sim.counts.vms);

    let mut cmd = eio_();
    cmd.args(["vm", "list", "--json"]);
    let out = run(cmd, None).await;
    let vms = json_of(ok(&out));
    transcript.push(out);
    let vms = vms.as_array().unwrap();
    assert_eq!(vms.len(), sim.counts.vms);
    for field in
        ["uuid", "name", "power_state", "vcpu", "memory_mb", "has_snapshot", "guest_ips", "nics", "folder_path"]
    {
        assert!(vms[0].get(field).is_some(), "vm rows carry {field}: {}", vms[0]);
    }
    let one = vms[0]["name"].as_str().unwrap().to_owned();
    let mut cmd = eio_();
    cmd.args(["vm", "list", "--json", "--search", &one]);
    let found = json_of(ok(&run(cmd, None).await));
    assert_eq!(found[0]["name"], one.as_str());

    let mut cmd = eio_();
    cmd.args(["host", "list", "--json"]);
    let hosts = json_of(ok(&run(cmd, None).await));
    assert_eq!(hosts.as_array().unwrap().len(), sim.counts.hosts);

    let mut cmd = eio_();
    cmd.args(["server", "list", "--json"]);
    let servers = json_of(ok(&run(cmd, None).await));
    let servers = servers.as_array().unwrap();
    assert_eq!(servers.len(), 3);
    let tag = lab.bmc(0).spec().service_tag;
    let s0 = servers.iter().find(|s| s["service_tag"] == tag.as_str()).unwrap();
    for field in ["uuid", "service_tag", "model", "generation", "power_state", "health", "idrac_firmware"] {
        assert!(!s0[field].is_null(), "server rows carry {field}: {s0}");
    }
    let mut cmd = eio_();
    cmd.args(["server", "firmware", &tag, "--json"]);
    let fw = json_of(ok(&run(cmd, None).await));
    assert_eq!(fw.as_array().unwrap().len(), lab.bmc(0).spec().firmware.len());

    let mut cmd = eio_();
    cmd.args(["source", "list", "--json"]);
    let out = run(cmd, None).await;
    let listed = json_of(ok(&out));
    transcript.push(out);
    assert_eq!(listed.as_array().unwrap().len(), 4);
    assert!(listed.as_array().unwrap().iter().all(|s| s["last_sync_status"] == "succeeded"), "{listed}");

    // A bad source URL is refused before anything is written.
    let mut cmd = eio_();
    cmd.args(["source", "add", "idrac", "--name", "plain", "--url", "http://10.0.0.9", "--identity", "idrac-fleet"]);
    let out = run(cmd, None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain http"));

    // The planted password appears in none of it, and not in the database either.
    let leaks: Vec<usize> = transcript
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            [&o.stdout, &o.stderr].iter().any(|b| b.windows(planted.len()).any(|w| w == planted.as_bytes()))
        })
        .map(|(i, _)| i)
        .collect();
    assert!(leaks.is_empty(), "the planted password leaked into the output of commands {leaks:?}");
    let o = pool.connect_options();
    let dump = std::process::Command::new("pg_dump")
        .args([
            "-h",
            o.get_host(),
            "-p",
            &o.get_port().to_string(),
            "-U",
            o.get_username(),
            "-d",
            o.get_database().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!dump.stdout.windows(planted.len()).any(|w| w == planted.as_bytes()), "pg_dump shows the password");
}
