//! Crash safety with real processes: three `eio worker` processes run rolling firmware
//! updates across five lab hosts (vCenter and iDRAC simulators over HTTPS) while a random
//! worker is SIGKILLed at a random moment, a hundred times, and replaced — as a supervisor
//! would. Every job must end succeeded, the simulators must have received every external
//! action exactly once per job (updates, resets, maintenance mode in and out — counting the
//! calls they refused, so a duplicate turned away is still seen), and every external
//! task a step started must be in the job's events. How long a lost worker's job waited for
//! another worker (lease recovery) is printed.
mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::{data_dir, eio, ok, url_of};
use eio_connectors::idrac::Generation;
use eio_lab::dell::{lab_image, DellLab};
use eio_lab::vcenter::model::service_tag;
use eio_lab::vcenter::{LabModel, LabVcenter};
use serde_json::json;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use uuid::Uuid;

const HOSTS: usize = 5;
const KILLS: usize = 100;
const BIOS: &str = "BIOS.Setup.1-1";
const TTL_SECONDS: u64 = 3;

/// A tiny deterministic PRNG (the seed is printed, so a failing run can be replayed).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Workers {
    cmd: Box<dyn Fn() -> std::process::Command>,
    live: Vec<Child>,
    started: usize,
}

impl Workers {
    fn spawn(&mut self) {
        let mut cmd = (self.cmd)();
        cmd.args(["worker", "--slots", "2", "--lease-ttl", &TTL_SECONDS.to_string(), "--task-poll-ms", "20"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.live.push(cmd.spawn().unwrap());
        self.started += 1;
    }

    /// SIGKILL one worker (`Child::kill` sends SIGKILL) and start a replacement.
    fn kill(&mut self, i: usize) {
        let mut victim = self.live.swap_remove(i);
        victim.kill().unwrap();
        victim.wait().unwrap();
        self.spawn();
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.live {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn insert_firmware_job(pool: &PgPool, hosts: &[String], version: &str, dir: &std::path::Path) -> Uuid {
    let image = dir.join(format!("BIOS_{version}.EXE"));
    std::fs::write(&image, lab_image(BIOS, version, 2048)).unwrap();
    sqlx::query_scalar(
        "INSERT INTO jobs (type, status, title, target, policy) VALUES ('firmware_update', 'pending', $1, $2, $3) RETURNING id",
    )
    .bind(format!("BIOS {version}"))
    .bind(json!({"type": "firmware_update", "hosts": hosts, "component": BIOS, "version": version,
                 "image": image.to_string_lossy()}))
    .bind(json!({"allow_vm_shutdown": false, "allow_hard_poweroff": false, "vm_limit": 5,
                 "shutdown_timeout_seconds": 300, "require_approval": false}))
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn status(pool: &PgPool, job: Uuid) -> String {
    sqlx::query_scalar("SELECT status::text FROM jobs WHERE id = $1").bind(job).fetch_one(pool).await.unwrap()
}

/// The job's status, after answering the one pause a kill may rightly cause: a worker died
/// between recording its intent to restart a server and sending the restart, so its
/// successor asks. The operator checks the server (here: the lab's ledger proves the restart
/// for this round never went out) and chooses Retry. Returns whether it answered.
async fn answer_unconfirmed_restart(pool: &PgPool, lab: &DellLab, job: Uuid, round: usize) -> bool {
    let reason: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT pause_reason FROM jobs WHERE id = $1 AND status = 'paused'")
            .bind(job)
            .fetch_one(pool)
            .await
            .unwrap();
    let Some(reason) = reason.filter(|r| r["details"]["reason"] == "reset_unconfirmed") else { return false };
    let idrac = reason["details"]["idrac"].as_str().unwrap_or_default();
    let i: usize = idrac.strip_prefix("bmc-").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{reason}"));
    assert_eq!(lab.bmc(i).call_count("ComputerSystem.Reset"), round - 1, "{idrac}: the restart was sent: {reason}");
    sqlx::query("SELECT decide_job($1, 'retry', '{}', 'checked the server: it did not restart')")
        .bind(job)
        .execute(pool)
        .await
        .unwrap();
    true
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn rolling_updates_survive_a_hundred_sigkills_without_repeating_an_action(pool: PgPool) {
    let seed = std::env::var("EIO_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    println!("crash harness seed {seed} (EIO_CRASH_SEED={seed} replays the kill schedule)");
    let mut rng = Rng(seed);

    let vc = LabVcenter::start(LabModel::one_cluster(HOSTS, 2)).await.unwrap();
    let mut builder = DellLab::builder().bmcs(HOSTS).generation(Generation::Idrac9);
    for i in 0..HOSTS {
        builder = builder.customize(i, move |s| s.service_tag = service_tag(i));
    }
    let lab = builder.build().await.unwrap();

    let dir = data_dir();
    let key = dir.path().join("worker.age");
    let url = url_of(&pool);
    let (u, k, d) = (url.clone(), key.clone(), dir.path().to_owned());
    let base = move || {
        let mut c = eio(&d);
        // A resumed worker that can't confirm a restart its predecessor may have sent watches
        // for 2 s, not 15 min, before it asks (answered below, as an operator would).
        c.env("EIO_DATABASE_URL", &u).env("EIO_WORKER_KEY_FILE", &k).env("EIO_RESET_CONFIRM_SECONDS", "2");
        c
    };
    // Blocking waits go to a blocking thread: the simulators serve from this runtime.
    let run = |mut cmd: std::process::Command, stdin: Option<String>| async move {
        tokio::task::spawn_blocking(move || {
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            if let Some(s) = stdin {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
            }
            drop(child.stdin.take());
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    };
    let mut cmd = base();
    cmd.args(["identity", "init-worker-key", "--key-file"]).arg(&key);
    ok(&run(cmd, None).await);
    let mut cmd = base();
    cmd.args(["source", "add", "vcenter", "--name", "vc", "--url", vc.sdk_url.as_str(), "--username", vc.username()])
        .args(["--password-stdin", "--thumbprint", &vc.thumbprint.to_string()]);
    ok(&run(cmd, Some(format!("{}\n", vc.password()))).await);
    let creds = lab.credentials();
    for (i, bmc) in lab.bmcs.iter().enumerate() {
        let mut cmd = base();
        cmd.args(["source", "add", "idrac", "--name", &format!("bmc-{i}"), "--url", bmc.url.as_str()])
            .args(["--thumbprint", &bmc.thumbprint.unwrap().to_string()]);
        if i == 0 {
            cmd.args(["--username", &creds.username, "--password-stdin", "--identity-name", "bmcs"]);
            ok(&run(cmd, Some(format!("{}\n", creds.password.expose()))).await);
        } else {
            cmd.args(["--identity", "bmcs"]);
            ok(&run(cmd, None).await);
        }
    }
    // The operator who answers a pause (decisions are taken by a user).
    sqlx::query("INSERT INTO users (email, role, login_role) VALUES ('operator@lab.test', 'admin', current_user)")
        .execute(&pool)
        .await
        .unwrap();
    let mut cmd = base();
    cmd.args(["sync"]);
    ok(&run(cmd, None).await);
    let hosts: Vec<String> = sqlx::query_scalar("SELECT moid FROM esxi_hosts WHERE removed_at IS NULL ORDER BY name")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mapped: i64 = sqlx::query_scalar("SELECT count(*) FROM server_mappings WHERE status = 'active'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((hosts.len(), mapped as usize), (HOSTS, HOSTS));

    let mut initially_in_mm = Vec::new();
    for h in &hosts {
        initially_in_mm.push(vc.host(h).unwrap().in_maintenance_mode);
    }
    let mut workers = Workers { cmd: Box::new(base), live: Vec::new(), started: 0 };
    for _ in 0..3 {
        workers.spawn();
    }
    let images = tempfile::tempdir().unwrap();
    let mut jobs: Vec<(Uuid, String)> = Vec::new();
    let mut kills = 0;
    let mut round = 0;
    while kills < KILLS {
        round += 1;
        let version = format!("3.0.{round}");
        let job = insert_firmware_job(&pool, &hosts, &version, images.path()).await;
        jobs.push((job, version));
        // Kill at random moments until the job ends or the hundred kills are spent.
        while kills < KILLS {
            let s = status(&pool, job).await;
            if matches!(s.as_str(), "succeeded" | "failed" | "paused" | "cancelled") {
                break;
            }
            // The chaos schedule (when to kill), not a wait for a result.
            tokio::time::sleep(Duration::from_millis(20 + rng.below(400))).await;
            let victim = rng.below(workers.live.len() as u64) as usize;
            workers.kill(victim);
            kills += 1;
        }
        let mut listener = PgListener::connect_with(&pool).await.unwrap();
        listener.listen_all(["eio_jobs", "eio_job_events"]).await.unwrap();
        loop {
            let s = status(&pool, job).await;
            if s == "paused" && answer_unconfirmed_restart(&pool, &lab, job, round).await {
                continue;
            }
            if matches!(s.as_str(), "succeeded" | "failed" | "paused" | "cancelled") {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), listener.recv()).await;
        }
    }
    println!("{kills} SIGKILLs over {round} rolling update(s); {} worker processes started", workers.started);
    drop(workers);

    for (round, (job, version)) in jobs.iter().enumerate() {
        let row = sqlx::query("SELECT status::text AS status, error, pause_reason FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&pool)
            .await
            .unwrap();
        let s: String = row.get("status");
        assert_eq!(
            s,
            "succeeded",
            "job {job} ({version}): error {:?}, pause {:?}",
            row.get::<Option<String>, _>("error"),
            row.get::<Option<serde_json::Value>, _>("pause_reason")
        );
        // Every external task a step recorded is in the job's events.
        let orphans: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM job_steps s WHERE s.job_id = $1 AND s.external_task_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM job_events e WHERE e.job_id = s.job_id
                               AND e.data ->> 'external_task_id' = s.external_task_id)",
        )
        .bind(job)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(orphans, 0, "job {job}: a recorded task has no event");
        let _ = round;
    }
    let rounds = jobs.len();
    for (i, host) in hosts.iter().enumerate() {
        let bmc = lab.bmc(i);
        let (last_version, _) = &jobs[rounds - 1];
        let _ = last_version;
        assert_eq!(bmc.firmware_version(BIOS).as_deref(), Some(jobs[rounds - 1].1.as_str()), "bmc {i}");
        // Every call the simulators received counts, refused or not: a duplicate they turned
        // away (RAC0679, a host already in maintenance mode) is still a duplicate.
        let updates = bmc.call_count("MultipartUpdate") + bmc.call_count("HttpPushUpload");
        assert_eq!(updates, rounds, "bmc {i}: one update per job: {:?}", bmc.actions());
        assert_eq!(bmc.call_count("ComputerSystem.Reset"), rounds, "bmc {i}: one reset per job: {:?}", bmc.actions());
        // A host found in maintenance mode is updated there and left there.
        let windows = if initially_in_mm[i] { 0 } else { rounds };
        assert_eq!(vc.call_count("EnterMaintenanceMode_Task", host), windows, "host {host}: {:?}", vc.actions());
        assert_eq!(vc.call_count("ExitMaintenanceMode_Task", host), windows, "host {host}: {:?}", vc.actions());
        assert_eq!(vc.host(host).unwrap().in_maintenance_mode, initially_in_mm[i], "host {host}");
    }
    let recoveries: Vec<f64> = sqlx::query_scalar(
        "WITH l AS (SELECT job_id, at, lag(at) OVER (PARTITION BY job_id ORDER BY id) AS prev
                    FROM job_events WHERE message LIKE 'leased by %')
         SELECT extract(epoch FROM at - prev)::float8 FROM l WHERE prev IS NOT NULL ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    if let Some(max) = recoveries.last() {
        println!(
            "{} re-leases after a lost worker; median gap {:.2} s, longest {:.2} s (lease TTL {TTL_SECONDS} s)",
            recoveries.len(),
            recoveries[recoveries.len() / 2],
            max
        );
    }
}
