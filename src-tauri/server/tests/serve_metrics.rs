//! `/metrics` as Prometheus scrapes it: no sign-in, the text format 0.0.4 read by a real
//! parser (`prometheus-parse`), every family with its type, and the numbers moving when
//! things happen — a sync job submitted over the API runs on the server's own worker (the
//! sync counter, its duration histogram, the last success time and the jobs gauge move by
//! one), a lapsed lease taken over counts as a lost lease, and an API call counts in the
//! HTTP histogram under its operation name. No label value carries the user's login or
//! email.
mod common;
mod serve_support;

use std::io::Write;
use std::process::Output;
use std::process::Stdio;
use std::time::{Duration, Instant};

use eio_lab::vcenter::{LabModel, LabVcenter};
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;
use serve_support::{browser, data_dir, url_of, Server, TestLogin};
use sqlx::PgPool;

const SOURCE: &str = "vc-metrics";

/// Run `eio` off the test's runtime, which keeps serving the lab's simulated vCenter.
async fn run(mut cmd: std::process::Command, stdin: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
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

struct Scraped {
    text: String,
    scrape: Scrape,
}

impl Scraped {
    fn samples(&self, metric: &str) -> impl Iterator<Item = &Sample> {
        let metric = metric.to_owned();
        self.scrape.samples.iter().filter(move |s| s.metric == metric)
    }

    /// The one sample of `metric` whose labels are exactly `labels` (a histogram's `le`
    /// aside), if any.
    fn find(&self, metric: &str, labels: &[(&str, &str)]) -> Option<&Sample> {
        let found: Vec<&Sample> = self
            .samples(metric)
            .filter(|s| s.labels.len() == labels.len() && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .collect();
        assert!(found.len() <= 1, "{metric} {labels:?} appears {} times:\n{}", found.len(), self.text);
        found.into_iter().next()
    }

    /// A counter's or gauge's value; 0 when the series is absent.
    fn value(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        match self.find(metric, labels).map(|s| &s.value) {
            None => 0.0,
            Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
            Some(other) => panic!("{metric} {labels:?} is not a number: {other:?}"),
        }
    }

    /// A histogram's `_count`; 0 when the series is absent.
    fn histogram_count(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        let count = self.value(&format!("{family}_count"), labels);
        // Its `+Inf` bucket says the same.
        let inf = match self.find(family, labels).map(|s| &s.value) {
            None => 0.0,
            Some(Value::Histogram(buckets)) => {
                buckets.iter().find(|b| b.less_than.is_infinite()).map(|b| b.count).expect("a +Inf bucket")
            }
            Some(other) => panic!("{family} {labels:?} is not a histogram: {other:?}"),
        };
        assert_eq!(count, inf, "{family} {labels:?}: _count and the +Inf bucket differ:\n{}", self.text);
        count
    }
}

/// `GET /metrics` without any credentials, parsed.
async fn scrape(server: &Server) -> Scraped {
    let r = reqwest::Client::new().get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = r.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    Scraped { text, scrape }
}

/// Scrape until `done` holds (at most two minutes: the worker runs the job meanwhile).
async fn scrape_until(server: &Server, what: &str, done: impl Fn(&Scraped) -> bool) -> Scraped {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = scrape(server).await;
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: not seen within two minutes:\n{}", s.text);
        // Polling a condition with a deadline: the pause only spaces the scrapes.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const FAMILIES: [(&str, &str); 10] = [
    ("eio_sync_runs_total", "counter"),
    ("eio_sync_duration_seconds", "histogram"),
    ("eio_sync_last_success_timestamp_seconds", "gauge"),
    ("eio_jobs", "gauge"),
    ("eio_job_queue_depth", "gauge"),
    ("eio_job_leases_lost_total", "counter"),
    ("eio_workers_alive", "gauge"),
    ("eio_findings_open", "gauge"),
    ("eio_http_request_duration_seconds", "histogram"),
    ("eio_database_up", "gauge"),
];

/// Every family documented, typed as the format says, with at least one sample of that type.
fn assert_families(s: &Scraped) {
    for (family, kind) in FAMILIES {
        assert!(s.scrape.docs.contains_key(family), "no HELP for {family}:\n{}", s.text);
        assert!(s.text.contains(&format!("\n# TYPE {family} {kind}\n")), "{family} is not a {kind}:\n{}", s.text);
        let samples: Vec<&Sample> = s.samples(family).collect();
        assert!(!samples.is_empty(), "no sample of {family}:\n{}", s.text);
        for sample in samples {
            let typed = matches!(
                (kind, &sample.value),
                ("counter", Value::Counter(_)) | ("gauge", Value::Gauge(_)) | ("histogram", Value::Histogram(_))
            );
            assert!(typed, "{family} parsed as {:?}, not a {kind}", sample.value);
        }
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn metrics_families_move_with_a_sync_a_job_a_lost_lease_and_an_api_call(pool: PgPool) {
    let started = chrono::Utc::now().timestamp() as f64;
    let vc = LabVcenter::start(LabModel::one_cluster(2, 3)).await.unwrap();
    let dir = data_dir();
    let key = dir.path().join("worker.age");
    let url = url_of(&pool);
    let admin = || {
        let mut c = common::eio(dir.path());
        c.env("EIO_DATABASE_URL", &url).env("EIO_WORKER_KEY_FILE", &key);
        c
    };
    let mut c = admin();
    c.args(["identity", "init-worker-key", "--key-file"]).arg(&key);
    common::ok(&run(c, None).await);
    let mut c = admin();
    c.args(["source", "add", "vcenter", "--name", SOURCE, "--url", vc.sdk_url.as_str(), "--username", vc.username()])
        .args(["--password-stdin", "--thumbprint", &vc.thumbprint.to_string()]);
    common::ok(&run(c, Some(format!("{}\n", vc.password()))).await);

    // With its worker (scheduled syncs off: only the job below syncs).
    let server = Server::start(
        dir.path(),
        &[("EIO_DATABASE_URL", &url), ("EIO_WORKER_KEY_FILE", key.to_str().unwrap())],
        &["--sync-every-minutes", "0"],
    );
    let operator = TestLogin::new(&pool, "eio_operator", "operator", &[]).await;

    let sync_run = [("source_type", "vcenter"), ("source", SOURCE), ("kind", "full"), ("outcome", "succeeded")];
    let sync_series = [("source_type", "vcenter"), ("source", SOURCE), ("kind", "full")];
    let submit_ok = [("operation", "job_submit"), ("method", "POST"), ("status_class", "2xx")];
    let succeeded_syncs = [("type", "sync"), ("status", "succeeded")];

    let before = scrape_until(&server, "the worker's heartbeat", |s| s.value("eio_workers_alive", &[]) == 1.0).await;
    assert_eq!(before.value("eio_database_up", &[]), 1.0);
    assert_eq!(before.value("eio_sync_runs_total", &sync_run), 0.0);
    assert_eq!(before.histogram_count("eio_sync_duration_seconds", &sync_series), 0.0);
    assert!(before.find("eio_sync_last_success_timestamp_seconds", &sync_series).is_none());
    assert_eq!(before.value("eio_jobs", &succeeded_syncs), 0.0);
    assert!(before.find("eio_jobs", &succeeded_syncs).is_some(), "every type × status is listed, zero included");
    assert_eq!(before.value("eio_job_leases_lost_total", &[]), 0.0);
    assert_eq!(before.histogram_count("eio_http_request_duration_seconds", &submit_ok), 0.0);
    let jobs_total: f64 = before.samples("eio_jobs").map(|s| before.value("eio_jobs", &pairs(s))).sum();
    assert_eq!(jobs_total, 0.0, "no job yet:\n{}", before.text);

    // A sync job over the API, run by the server's worker.
    let b = browser();
    assert_eq!(operator.sign_in(&server, &b).await.status().as_u16(), 200);
    let r = b
        .post(server.url("/api/jobs"))
        .json(&json!({"spec": {"type": "sync", "source": SOURCE}, "policy": {"require_approval": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());

    let after =
        scrape_until(&server, "the sync job succeeding", |s| s.value("eio_jobs", &succeeded_syncs) == 1.0).await;
    assert_families(&after);
    assert_eq!(after.value("eio_sync_runs_total", &sync_run), 1.0, "{}", after.text);
    assert_eq!(after.histogram_count("eio_sync_duration_seconds", &sync_series), 1.0);
    let last = after.value("eio_sync_last_success_timestamp_seconds", &sync_series);
    assert!(last >= started - 1.0 && last <= chrono::Utc::now().timestamp() as f64 + 1.0, "{last} vs {started}");
    let jobs_total: f64 = after.samples("eio_jobs").map(|s| after.value("eio_jobs", &pairs(s))).sum();
    assert_eq!(jobs_total, 1.0, "one job, succeeded:\n{}", after.text);
    assert_eq!(after.value("eio_job_queue_depth", &[]), 0.0);
    assert_eq!(after.histogram_count("eio_http_request_duration_seconds", &submit_ok), 1.0);
    assert!(
        after.histogram_count(
            "eio_http_request_duration_seconds",
            &[("operation", "metrics"), ("method", "GET"), ("status_class", "2xx")]
        ) >= 1.0
    );
    assert!(
        after.histogram_count(
            "eio_http_request_duration_seconds",
            &[("operation", "session"), ("method", "POST"), ("status_class", "2xx")]
        ) == 1.0
    );

    // A job whose lease lapsed while running (its worker "died"): the server's worker takes
    // it over, and that counts as a lost lease; a no-op sync, so it then succeeds.
    // One transaction: the worker never sees it pending.
    let mut tx = pool.begin().await.unwrap();
    let orphan: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO jobs (type, status, title, target, policy)
         VALUES ('sync', 'pending', 'orphan', '{\"type\": \"sync\", \"benchmark_noop\": true}',
                 '{\"require_approval\": false}') RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let lapsed = sqlx::query(
        "UPDATE jobs SET status = 'running', lease_owner = 'a-worker-that-died', lease_login = session_user,
                         lease_expires_at = now() - interval '1 minute', heartbeat_at = now() - interval '91 seconds',
                         attempts = 1
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(orphan)
    .execute(&mut *tx)
    .await
    .unwrap();
    assert_eq!(lapsed.rows_affected(), 1);
    tx.commit().await.unwrap();
    let taken = scrape_until(&server, "the lapsed lease taken over", |s| {
        s.value("eio_job_leases_lost_total", &[]) == 1.0 && s.value("eio_jobs", &succeeded_syncs) == 2.0
    })
    .await;
    assert_eq!(taken.value("eio_sync_runs_total", &sync_run), 1.0, "a no-op sync records no run");

    // Unknown paths collapse to `other`; the UI is `ui`; never a raw path or an id.
    let anon = reqwest::Client::new();
    anon.get(server.url("/api/no/such/thing/4711")).send().await.unwrap();
    let last = scrape(&server).await;
    assert!(
        last.histogram_count(
            "eio_http_request_duration_seconds",
            &[("operation", "other"), ("method", "GET"), ("status_class", "4xx")]
        ) == 1.0
    );
    assert!(!last.text.contains("4711") && !last.text.contains("/api/"), "{}", last.text);
    for s in &last.scrape.samples {
        for (k, v) in s.labels.iter() {
            assert!(
                !v.contains(&operator.login) && !v.contains(&operator.email) && !v.contains('@'),
                "{}: label {k}={v} carries a user",
                s.metric
            );
        }
    }
    assert!(!last.text.contains(&operator.login) && !last.text.contains(&operator.email));

    let (status, output) = server.stop();
    assert!(status.success(), "{status:?}\n{}", String::from_utf8_lossy(&output));
}

fn pairs(s: &Sample) -> Vec<(&str, &str)> {
    s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn without_the_database_metrics_still_answer_with_database_up_zero(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let up = scrape(&server).await;
    assert_eq!(up.value("eio_database_up", &[]), 1.0);
    assert!(up.find("eio_jobs", &[("type", "sync"), ("status", "pending")]).is_some());

    // The scrape's query fails (the function is gone): the process-local families remain.
    sqlx::raw_sql("ALTER FUNCTION eio_metrics() RENAME TO eio_metrics_away").execute(&pool).await.unwrap();
    // (A read of the last few seconds may still answer: scrape until it is redone.)
    let down = scrape_until(&server, "database_up 0", |s| s.value("eio_database_up", &[]) == 0.0).await;
    assert_eq!(down.samples("eio_jobs").count(), 0, "{}", down.text);
    let metrics_ok = [("operation", "metrics"), ("method", "GET"), ("status_class", "2xx")];
    assert!(down.histogram_count("eio_http_request_duration_seconds", &metrics_ok) >= 1.0, "{}", down.text);
    assert!(!down.text.contains("eio_metrics_away") && !down.text.contains("postgres://"), "{}", down.text);

    sqlx::raw_sql("ALTER FUNCTION eio_metrics_away() RENAME TO eio_metrics").execute(&pool).await.unwrap();
    scrape_until(&server, "database_up 1 again", |s| s.value("eio_database_up", &[]) == 1.0).await;

    // Any application login may read the aggregates (a server may run as a worker login).
    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let opts = pool.connect_options().as_ref().clone().username(&viewer.login).password(&viewer.password);
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect_with(&opts).await.unwrap();
    let families: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT family) FROM eio_metrics()").fetch_one(&mut c).await.unwrap();
    assert_eq!(families, 5, "jobs, queue depth, leases lost, workers alive, findings (no sync run yet)");
    drop(c);
}
