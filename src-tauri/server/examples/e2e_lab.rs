//! The lab the UI's end-to-end tests (tests/ui) and the benchmark run against: a simulated
//! vCenter and a fleet of simulated iDRACs (plus OpenManage) whose service tags match the
//! vCenter's ESXi hosts, so a sync maps every host to its server. Prints one JSON line with
//! every URL, thumbprint and credential, then serves until stdin closes or SIGTERM.
//!
//! ```sh
//! cargo run -p eio-server --example e2e_lab -- --hosts 4 --vms-per-host 5 --block-host 1
//! ```
//! `--block-host N`: the first VM on host N is pinned there by a mandatory VM/Host rule, so
//! evacuating that host for maintenance mode is blocked (the decision panel's case).
//! A lab only: its passwords are fixed and printed.
use eio_lab::dell::DellLab;
use eio_lab::vcenter::model::service_tag;
use eio_lab::vcenter::{LabBlock, LabModel, LabVcenter};
use serde_json::json;
use tokio::io::AsyncReadExt;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hosts = arg("--hosts", 4).max(1);
    let vms_per_host = arg("--vms-per-host", 5);
    let clusters = arg("--clusters", 1).max(1);
    let model = LabModel {
        datacenters: 1,
        clusters_per_datacenter: clusters,
        hosts_per_cluster: hosts.div_ceil(clusters),
        standalone_hosts_per_datacenter: 0,
        vms_per_host,
    };
    let vcenter = LabVcenter::start(model).await?;
    // One datacenter, no standalone hosts: host N's VMs are numbered from N × vms_per_host.
    let blocked = match arg("--block-host", usize::MAX) {
        h if h < model.hosts() && vms_per_host > 0 => {
            let n = h * vms_per_host;
            let moid = format!("vm-{}", 5000 + n);
            let reason = "pinned to its host by the licensing VM/Host rule";
            if !vcenter.block_vm(&moid, LabBlock::AffinityRule, reason) {
                return Err(format!("the lab has no VM {moid} to block").into());
            }
            json!({"host": format!("esx-{h:03}.lab.local"), "vm": format!("lab-vm-{n:05}"), "moid": moid, "reason": reason})
        }
        _ => serde_json::Value::Null,
    };
    let servers = model.hosts();
    let mut dell = DellLab::builder().bmcs(servers).outdated_every(2).with_ome();
    for i in 0..servers {
        dell = dell.customize(i, move |spec| {
            spec.service_tag = service_tag(i);
            spec.hostname = format!("esx-{i:03}.lab.local");
        });
    }
    let dell = dell.build().await?;
    let creds = dell.credentials();
    let line = json!({
        "vcenter": {
            "url": vcenter.sdk_url,
            "thumbprint": vcenter.thumbprint.to_string(),
            "username": vcenter.username(),
            "password": vcenter.password(),
            "hosts": model.hosts(),
            "vms": model.vms(),
        },
        "idracs": dell.bmcs.iter().map(|b| json!({
            "name": format!("idrac-{:03}", b.index),
            "url": b.url.to_string(),
            "thumbprint": b.thumbprint.map(|t| t.to_string()),
            "service_tag": b.spec().service_tag,
        })).collect::<Vec<_>>(),
        "blocked": blocked,
        "ome": dell.ome.as_ref().map(|o| json!({"url": o.url.to_string(), "thumbprint": o.thumbprint.to_string()})),
        "dell_username": creds.username,
        "dell_password": creds.password.expose(),
    });
    println!("{line}");

    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            n = stdin.read(&mut buf) => if n.unwrap_or(0) == 0 { break },
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    drop(dell);
    drop(vcenter);
    // Exit now: the runtime would otherwise wait, on shutdown, for the blocking stdin read.
    std::process::exit(0)
}
