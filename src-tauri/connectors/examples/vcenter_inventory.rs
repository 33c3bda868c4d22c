//! Measure a full vCenter inventory against vcsim: wall time, SOAP calls, bytes and peak
//! RSS of `Session::inventory()`, next to the raw RetrievePropertiesEx exchange (request
//! sent, body drained, nothing parsed) in the same run.
//!
//! ```text
//! scripts/peers/build-vcsim
//! cargo run --release -p eio-connectors --example vcenter_inventory            # 10,000 VMs
//! cargo run --release -p eio-connectors --example vcenter_inventory -- -dc 1 -cluster 1 -host 2 -vm 50
//! ```
//! Arguments, if any, replace the vcsim model flags (default `-dc 2 -cluster 5 -host 10 -vm 1000 -standalone-host 0`:
//! exactly 10,000 VMs; vcsim adds a standalone host with its own VMs per datacenter otherwise).
use eio_lab::vcsim;

use std::time::Instant;

use eio_connectors::vcenter::Session;

/// Peak resident set size of this process, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// CPU seconds (user + system) this process has used so far (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let default =
        ["-dc", "2", "-cluster", "5", "-host", "10", "-vm", "1000", "-standalone-host", "0"].map(String::from).to_vec();
    let flags = if args.is_empty() { default } else { args };
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let started = Instant::now();
    let sim = vcsim::Vcsim::start(&flags);
    println!("vcsim {flags:?} ready in {:.1} s ({} VMs)", started.elapsed().as_secs_f64(), sim.counts.vms);

    let session = Session::login(&sim.config()).await?;
    let rss_before = peak_rss_mib();
    for round in 1..=4 {
        // Alternate which goes first, so neither always meets a warmer (or busier) vcsim.
        let (mut raw, mut raw_cpu, mut bytes) = (0.0, 0.0, 0);
        if round % 2 == 0 {
            let (t, c) = (Instant::now(), cpu_seconds());
            bytes = session.raw_inventory_exchange().await?;
            (raw, raw_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
        }
        let (t, c) = (Instant::now(), cpu_seconds());
        let inv = session.inventory().await?;
        let (full, full_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
        if round % 2 == 1 {
            let (t, c) = (Instant::now(), cpu_seconds());
            bytes = session.raw_inventory_exchange().await?;
            (raw, raw_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
        }
        println!(
            "round {round}: raw exchange {raw:.2} s (our CPU {raw_cpu:.2} s, {:.1} MB) | inventory() {full:.2} s \
             (our CPU {full_cpu:.2} s) = {:.2}x raw, {} SOAP calls, \
             {:.1} MB, {} datacenters, {} clusters, {} hosts, {} VMs | peak RSS {:.0} MiB (before syncing {:.0} MiB)",
            bytes as f64 / 1e6,
            full / raw,
            inv.soap_calls,
            inv.bytes as f64 / 1e6,
            inv.datacenters.len(),
            inv.clusters.len(),
            inv.hosts.len(),
            inv.vms.len(),
            peak_rss_mib(),
            rss_before,
        );
    }
    println!("session total: {} SOAP calls (login and logout included)", session.soap_calls() + 1);
    session.logout().await?;
    Ok(())
}
