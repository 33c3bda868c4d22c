//! Fleet inventory benchmark: 200 simulated iDRACs (one process, one loopback port each;
//! iDRAC7 over WSMan, iDRAC8/9 over Redfish), full inventory + firmware + log tail through
//! `eio_connectors::idrac::inventory`, with bounded concurrency vs one after another.
//!
//! The simulator runs in a child process (this example re-executed with `--serve`), so the
//! RSS measured is the client's alone. Prints numbers; asserts nothing about time.
//!
//!     cargo run -p eio-lab --example dell_fleet_bench [-- BMCS [IN_FLIGHT [LATENCY_MS [SEQUENTIAL]]]]
//!
//! The one-after-another comparison syncs the first SEQUENTIAL (default 200); the speed-up
//! is per BMC.
//!
//! LATENCY_MS (default 20) is each simulated BMC's service time per request; real iDRACs
//! take 100 ms to seconds, so the default understates what concurrency buys in production.
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eio_connectors::http::{HttpConfig, TlsPolicy};
use eio_connectors::idrac::{self, Generation, IdracEndpoint, SyncOptions};
use eio_connectors::Credentials;
use eio_lab::dell::DellLab;
use futures::StreamExt;

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn serve(n: usize, latency: Duration) {
    let lab = DellLab::builder()
        .bmcs(n)
        .latency(latency)
        .generation_mix(&[(Generation::Idrac7, 1), (Generation::Idrac8, 1), (Generation::Idrac9, 2)])
        .build()
        .await
        .unwrap_or_else(|e| panic!("cannot start the Dell lab: {e}"));
    let mut out = std::io::stdout().lock();
    for b in &lab.bmcs {
        let t = b.thumbprint.map(|t| t.to_hex()).unwrap_or_default();
        let _ = writeln!(out, "{} {}", b.url, t);
    }
    let _ = writeln!(out, "READY");
    let _ = out.flush();
    drop(out);
    // Serve until the parent closes our stdin.
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            line.clear();
        }
    })
    .await;
    drop(lab);
}

struct Run {
    wall: Duration,
    ok: usize,
    firmware_rows: usize,
    api_calls: u64,
    peak_growth_kib: u64,
}

async fn run(endpoints: &[IdracEndpoint], in_flight: usize, baseline_kib: u64) -> Run {
    let peak = Arc::new(AtomicU64::new(rss_kib("VmRSS:")));
    let stop = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while stop.load(Ordering::Relaxed) == 0 {
                peak.fetch_max(rss_kib("VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let options = SyncOptions::default();
    let start = Instant::now();
    let results: Vec<_> = futures::stream::iter(endpoints.iter())
        .map(|e| idrac::inventory(e, None, &options))
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let wall = start.elapsed();
    stop.store(1, Ordering::Relaxed);
    let _ = sampler.await;
    peak.fetch_max(rss_kib("VmRSS:"), Ordering::Relaxed);
    let mut r = Run { wall, ok: 0, firmware_rows: 0, api_calls: 0, peak_growth_kib: 0 };
    for inv in results.iter().flatten() {
        r.ok += 1;
        r.firmware_rows += inv.firmware.len();
        r.api_calls += u64::from(inv.api_calls);
    }
    if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
        eprintln!("first failure: {e}");
    }
    r.peak_growth_kib = peak.load(Ordering::Relaxed).saturating_sub(baseline_kib);
    r
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        let latency = Duration::from_millis(args.get(3).and_then(|n| n.parse().ok()).unwrap_or(0));
        serve(args.get(2).and_then(|n| n.parse().ok()).unwrap_or(200), latency).await;
        return;
    }
    let n: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(200);
    let in_flight: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(32);
    let latency_ms: u64 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(20);

    let exe = std::env::current_exe().expect("own path");
    let mut child = std::process::Command::new(exe)
        .args(["--serve", &n.to_string(), &latency_ms.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the simulator process");
    let mut endpoints = Vec::new();
    let credentials = Credentials::new("root", "calvin");
    for line in std::io::BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.expect("simulator output");
        if line == "READY" {
            break;
        }
        let (url, thumb) = line.split_once(' ').expect("url thumbprint");
        let tls = match thumb.parse() {
            Ok(t) => TlsPolicy::Pinned(t),
            Err(_) => TlsPolicy::Insecure,
        };
        let http = HttpConfig { tls, request_timeout: Duration::from_secs(60), ..Default::default() };
        endpoints.push(IdracEndpoint::new(url.parse().expect("url"), credentials.clone(), http));
    }
    assert_eq!(endpoints.len(), n, "the simulator did not start");

    let baseline = rss_kib("VmRSS:");
    let concurrent = run(&endpoints, in_flight, baseline).await;
    // One after another is the comparison, not a target: 2,000 BMCs would take an hour at
    // 100 ms per request, so only the first SEQUENTIAL (default 200) go one by one.
    let one: usize = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(200).clamp(1, n);
    let sequential = run(&endpoints[..one], 1, baseline).await;
    drop(child.stdin.take());
    let _ = child.wait();

    println!(
        "Dell fleet inventory benchmark ({n} simulated iDRACs: 1/4 iDRAC7 WSMan, 1/4 iDRAC8 + 1/2 iDRAC9 Redfish; \
         {latency_ms} ms service time per BMC request)"
    );
    println!("client RSS before: {:.1} MiB", baseline as f64 / 1024.0);
    let one_by_one = format!("sequential (first {one})");
    for (name, r) in [(format!("concurrent ({in_flight} in flight)"), &concurrent), (one_by_one, &sequential)] {
        println!(
            "{name:<26} wall {:>8.2} s  ok {:>3}/{n}  firmware rows {:>5}  requests {:>6}  {:>6.1} inventories/s  peak client RSS growth {:>6.1} MiB",
            r.wall.as_secs_f64(),
            r.ok,
            r.firmware_rows,
            r.api_calls,
            r.ok as f64 / r.wall.as_secs_f64(),
            r.peak_growth_kib as f64 / 1024.0
        );
    }
    let per_bmc = |r: &Run, count: usize| r.wall.as_secs_f64() / count.max(1) as f64;
    println!("speed-up: {:.1}x", per_bmc(&sequential, one) / per_bmc(&concurrent, n));
}
