//! `GET /metrics`: the instance and its database in the Prometheus text exposition format
//! 0.0.4, and the in-process HTTP request histogram behind it.
//!
//! It owns the families (names prefixed `eio_`, units in the names):
//! * from the database, read at scrape time through `eio_metrics()` (migration 0057, a
//!   `SECURITY DEFINER` function returning aggregates only, so a server running as a worker
//!   login reports what one running as an admin does): `eio_sync_runs_total`,
//!   `eio_sync_duration_seconds` (histogram), `eio_sync_last_success_timestamp_seconds`,
//!   `eio_jobs`, `eio_job_queue_depth`, `eio_job_leases_lost_total`, `eio_workers_alive`,
//!   `eio_findings_open`;
//! * from this process: `eio_http_request_duration_seconds{operation,method,status_class}`
//!   (recorded by [`track`]) and `eio_database_up` (0 when the scrape's query failed: the
//!   process-local families are still answered).
//!
//! `/metrics` needs no sign-in: Prometheus scrapes without cookies or tokens, and what it
//! returns is what an operator's dashboard shows anyone on the network anyway — counts,
//! sums, histogram buckets and timestamps, labelled only by enum values (job types and
//! statuses, finding types, sync kinds and outcomes), source names (which an admin chose
//! under a strict pattern) and registry operation names. It must never carry a row, an id,
//! a raw request path, a login, an email, a host of a user, an error text or a secret: the
//! SQL function returns only aggregates, the HTTP labels come from the matched route (an
//! unknown path is `other`), a method outside the usual few is `OTHER`, and every label
//! value is escaped per the format. A failed database query is logged without its details
//! and shows as `eio_database_up 0`.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use eio_core::api::{HttpMethod, OPERATIONS};

use super::http::AppState;

/// Upper bounds (seconds) of the HTTP request histogram's buckets.
const HTTP_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How long a scrape waits for the database before answering without it.
const DB_TIMEOUT: Duration = Duration::from_secs(5);

/// The database families, in output order: (name, type, help). A row of `eio_metrics()`
/// naming another family is dropped, so the function can't add an undocumented one.
const DB_FAMILIES: [(&str, &str, &str); 8] = [
    ("eio_sync_runs_total", "counter", "Finished sync runs by source, sync kind and outcome."),
    ("eio_sync_duration_seconds", "histogram", "How long finished sync runs took, by source and sync kind."),
    (
        "eio_sync_last_success_timestamp_seconds",
        "gauge",
        "When the last successful sync of a source finished (Unix time), by sync kind.",
    ),
    ("eio_jobs", "gauge", "Jobs by type and status."),
    ("eio_job_queue_depth", "gauge", "Jobs ready to run that no worker holds yet."),
    ("eio_job_leases_lost_total", "counter", "Job leases that lapsed and another worker took over."),
    ("eio_workers_alive", "gauge", "Workers with a heartbeat in the last 90 seconds."),
    ("eio_findings_open", "gauge", "Open IPAM findings by type."),
];

/// A database read this recent answers a scrape (Prometheus scrapes every 15–60 s; several
/// servers or a loop of `curl` must not turn into as many aggregate queries).
const DB_FRESH: Duration = Duration::from_secs(5);

/// This process's HTTP request durations, by (operation, method, status class), and the
/// last database read.
#[derive(Default)]
pub struct HttpMetrics {
    series: Mutex<BTreeMap<(&'static str, &'static str, &'static str), Histogram>>,
    /// One database read at a time (scrapes arriving meanwhile wait for it and share it),
    /// kept for [`DB_FRESH`]. `/metrics` needs no sign-in: without this, anyone could keep
    /// the server's own connections busy with aggregate queries.
    db: tokio::sync::Mutex<Option<(Instant, Arc<Vec<Row>>)>>,
}

#[derive(Default, Clone)]
struct Histogram {
    /// Per bucket of [`HTTP_BUCKETS`], not cumulative (summed when rendered).
    buckets: [u64; HTTP_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl HttpMetrics {
    fn observe(&self, operation: &'static str, method: &'static str, status: StatusCode, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let h = series.entry((operation, method, status_class(status))).or_default();
        if let Some(i) = HTTP_BUCKETS.iter().position(|le| seconds <= *le) {
            h.buckets[i] += 1;
        }
        h.count += 1;
        h.sum += seconds;
    }

    fn render(&self, out: &mut String) {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner()).clone();
        family_header(
            out,
            "eio_http_request_duration_seconds",
            "histogram",
            "HTTP request durations of this instance, by API operation, method and status class.",
        );
        for ((operation, method, class), h) in series {
            let labels = [("operation", operation), ("method", method), ("status_class", class)];
            let mut cumulative = 0;
            for (le, n) in HTTP_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let le = number(*le);
                sample(out, "eio_http_request_duration_seconds_bucket", &with_le(&labels, &le), cumulative as f64);
            }
            sample(out, "eio_http_request_duration_seconds_bucket", &with_le(&labels, "+Inf"), h.count as f64);
            sample(out, "eio_http_request_duration_seconds_sum", &labels, h.sum);
            sample(out, "eio_http_request_duration_seconds_count", &labels, h.count as f64);
        }
    }
}

fn with_le<'a>(labels: &[(&'a str, &'a str)], le: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut all = labels.to_vec();
    all.push(("le", le));
    all
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The operation a request reached, from its matched route: the registry's operation name,
/// a fixed name for the server's own routes, `ui` for the UI (no route matched: the UI's
/// fallback serves it), `other` for anything else. Never a raw path.
fn operation_of(matched: Option<&str>, method: &Method) -> &'static str {
    let Some(path) = matched else { return "ui" };
    let registered = OPERATIONS.iter().find(|op| {
        op.path == path
            && match op.method {
                HttpMethod::Get => method == Method::GET || method == Method::HEAD,
                HttpMethod::Post => method == Method::POST,
            }
    });
    if let Some(op) = registered {
        return op.name;
    }
    match path {
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        "/api/openapi.json" => "openapi",
        "/api/session" => "session",
        "/api/events" => "events",
        "/api/report-files/{execution}/{file}" => "report_file",
        _ => "other",
    }
}

/// Middleware: time each request and record it under its operation.
pub async fn track(State(st): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let operation = operation_of(request.extensions().get::<MatchedPath>().map(MatchedPath::as_str), request.method());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    st.metrics.observe(operation, method, response.status(), started.elapsed());
    response
}

#[derive(sqlx::FromRow)]
struct Row {
    family: String,
    sample: String,
    labels: serde_json::Value,
    value: f64,
}

/// The database's aggregates under a statement timeout, so a slow read is cancelled in
/// PostgreSQL too, not only abandoned here.
async fn read_db(pool: &sqlx::PgPool) -> Result<Vec<Row>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("SET LOCAL statement_timeout = {}", DB_TIMEOUT.as_millis())).execute(&mut *tx).await?;
    let rows =
        sqlx::query_as::<_, Row>("SELECT family, sample, labels, value FROM eio_metrics()").fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// `GET /metrics`.
pub async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    let mut cached = st.metrics.db.lock().await;
    let fresh = cached.as_ref().filter(|(at, _)| at.elapsed() < DB_FRESH).map(|(_, rows)| rows.clone());
    let rows = match fresh {
        Some(rows) => Ok(Ok(rows)),
        None => {
            let read = tokio::time::timeout(DB_TIMEOUT + Duration::from_secs(1), read_db(st.health.db.pool()))
                .await
                .map(|r| r.map(Arc::new));
            *cached = match &read {
                Ok(Ok(rows)) => Some((Instant::now(), rows.clone())),
                _ => None,
            };
            read
        }
    };
    drop(cached);
    let rows = match rows {
        Ok(Ok(rows)) => Some(rows),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: the database query failed; answering without its families");
            None
        }
        Err(_) => {
            tracing::warn!(
                "metrics: no answer from the database within {DB_TIMEOUT:?}; answering without its families"
            );
            None
        }
    };
    let mut out = String::new();
    if let Some(rows) = &rows {
        render_db(&mut out, rows);
    }
    st.metrics.render(&mut out);
    family_header(&mut out, "eio_database_up", "gauge", "1 when this scrape read the database, else 0.");
    sample(&mut out, "eio_database_up", &[], if rows.is_some() { 1.0 } else { 0.0 });
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

fn render_db(out: &mut String, rows: &[Row]) {
    for (name, kind, help) in DB_FAMILIES {
        family_header(out, name, kind, help);
        for row in rows.iter().filter(|r| r.family == name) {
            let suffix_ok = match kind {
                "histogram" => ["_bucket", "_sum", "_count"].iter().any(|s| row.sample == format!("{name}{s}")),
                _ => row.sample == name,
            };
            let Some(map) = row.labels.as_object() else { continue };
            let labels: Vec<(&str, &str)> =
                map.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v))).collect();
            if !suffix_ok || labels.len() != map.len() || !labels.iter().all(|(k, _)| is_label_name(k)) {
                continue;
            }
            sample(out, &row.sample, &labels, row.value);
        }
    }
}

fn family_header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", number(value));
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

/// A sample value as the format spells it (`+Inf`, `-Inf`, `NaN`, else Rust's shortest form).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// A label value per the format: backslash, double quote and line feed escaped.
pub(crate) fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// HELP text per the format: backslash and line feed escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("line1\nline2"), "line1\\nline2");
        assert_eq!(escape_label("plain-name_1.x"), "plain-name_1.x");
        let mut out = String::new();
        sample(&mut out, "eio_x", &[("source", "vc\"1\\\n")], 2.0);
        assert_eq!(out, "eio_x{source=\"vc\\\"1\\\\\\n\"} 2\n");
    }

    #[test]
    fn an_operation_comes_from_the_matched_route_never_the_raw_path() {
        assert_eq!(operation_of(Some("/api/jobs"), &Method::GET), "jobs");
        assert_eq!(operation_of(Some("/api/jobs"), &Method::POST), "job_submit");
        assert_eq!(operation_of(Some("/api/{*rest}"), &Method::GET), "other");
        assert_eq!(operation_of(Some("/metrics"), &Method::GET), "metrics");
        assert_eq!(operation_of(None, &Method::GET), "ui");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
    }

    #[test]
    fn the_histogram_is_cumulative_and_counts_everything() {
        let m = HttpMetrics::default();
        m.observe("status", "GET", StatusCode::OK, Duration::from_millis(1));
        m.observe("status", "GET", StatusCode::OK, Duration::from_millis(300));
        m.observe("status", "GET", StatusCode::OK, Duration::from_secs(60));
        let mut out = String::new();
        m.render(&mut out);
        let line = |le: &str| {
            format!(
                "eio_http_request_duration_seconds_bucket{{operation=\"status\",method=\"GET\",status_class=\"2xx\",le=\"{le}\"}}"
            )
        };
        assert!(out.contains(&format!("{} 1\n", line("0.005"))), "{out}");
        assert!(out.contains(&format!("{} 2\n", line("0.5"))), "{out}");
        assert!(out.contains(&format!("{} 2\n", line("10"))), "{out}");
        assert!(out.contains(&format!("{} 3\n", line("+Inf"))), "{out}");
        assert!(out.contains(
            "eio_http_request_duration_seconds_count{operation=\"status\",method=\"GET\",status_class=\"2xx\"} 3\n"
        ));
    }
}
