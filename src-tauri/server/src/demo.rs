//! `eio demo`: the command-line face of [`eio_demo`] — sets the demo lab up, prints what it
//! set up (or, with `--json`, one JSON object) and the ready line, then keeps the lab living
//! until Ctrl-C or SIGTERM. Progress and the lab's events go to stderr.
use std::path::Path;
use std::time::Duration;

use clap::Args;
use eio_core::config::Config;
use eio_core::Error;
use eio_demo::{Demo, DemoOptions, DemoReport, READY};

use crate::job_cmds;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Cancel the demo's open jobs, drop its sites and prefixes, and set everything up again
    /// on a fresh lab (its sources are kept and resynced)
    #[arg(long)]
    pub reset: bool,
    /// Print what was set up as one JSON object with "ready": true (for scripts)
    #[arg(long)]
    pub json: bool,
    /// The lab powers a random VM on or off every N to 2N seconds
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub churn_every: u64,
}

fn print_report(r: &DemoReport) {
    let c = &r.counts;
    println!("The EIO demo lab is up ({:.1} s), on {}.", r.startup_ms as f64 / 1000.0, r.database);
    println!(
        "  estate: {} regions, {} sites, {} prefixes; {} vCenters, {} clusters, {} ESXi hosts, {} VMs; {} Dell servers \
         ({} not compliant with the OME baseline)",
        c.regions, c.sites, c.prefixes, c.vcenters, c.clusters, c.hosts, c.vms, c.servers, c.noncompliant_servers
    );
    for v in &r.vcenters {
        println!("  vCenter {:<8} {}", v.name, v.url);
    }
    println!("  OME     {:<8} {}", r.ome.name, r.ome.url);
    println!("  iDRACs: {} on loopback (iDRAC7 via WSMan, iDRAC8/9 via Redfish)", r.idracs);
    let findings: Vec<String> = r.findings.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!("  open findings: {}", if findings.is_empty() { "none".into() } else { findings.join(", ") });
    for f in &r.sync_failures {
        println!("  sync failed: {f}");
    }
    if let Some(id) = r.job_awaiting_approval {
        println!(
            "  job {id} (maintenance mode for {}) was submitted by {} and awaits approval;",
            r.blocked_host, r.operator
        );
        println!(
            "    its plan predicts VM {} blocks the evacuation: approve it acknowledging that, and watch the gate pause it.",
            r.blocked_vm
        );
    }
    let data = if r.database.starts_with("embedded") {
        format!("--data-dir {}", r.data_dir.display())
    } else {
        format!("--database-url {}", r.database)
    };
    println!("Try, in another terminal:");
    println!("  eio {data} status");
    println!("  eio {data} vm list --search web");
    println!("  eio {data} server list");
    if let Some(id) = r.job_awaiting_approval {
        println!("  eio {data} job show {id}");
        println!("  eio {data} job approve {id} --acknowledge-blockers");
    }
    println!("  eio {data} serve          (the web UI: open the link with the token it prints)");
    println!("A VM powers on or off every 20-40 s (the live watcher picks it up). Ctrl-C stops the lab.");
}

/// `eio demo`.
pub async fn run(config: &Config, key_file: Option<&Path>, args: DemoArgs) -> Result<(), Error> {
    let options = DemoOptions {
        reset: args.reset,
        key_file: key_file.map(Path::to_path_buf),
        run_worker: true,
        worker_mode: "worker",
        churn_every: Duration::from_secs(args.churn_every.max(1)),
    };
    let demo = Demo::start(config, options, |step| eprintln!("eio demo: {step}")).await?;
    if args.json {
        println!("{}", serde_json::to_string(&demo.report).map_err(|e| Error::internal(e.to_string()))?);
    } else {
        print_report(&demo.report);
        println!("{READY} (Ctrl-C to stop)");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    demo.run_until(job_cmds::shutdown_signal(), |what| eprintln!("eio demo: {what}")).await?;
    eprintln!("eio demo: stopped (the data stays; `eio demo` starts the lab again)");
    Ok(())
}
