//! Sites, IPAM, findings and search through the `eio` binary against a per-test database:
//! an admin sets up geography and prefixes, an operator allocates and acknowledges, and
//! every listing is checked in both its human and its `--json` form.
mod common;

use std::process::Output;

use common::{data_dir, eio, json_of, ok, url_as, url_of, DropRoles};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// Run `eio` with `args` against `url`.
fn run(dir: &std::path::Path, url: &str, args: &[&str]) -> Output {
    eio(dir).args(args).env("EIO_DATABASE_URL", url).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn sites_prefixes_allocation_findings_and_search(pool: PgPool) {
    let dir = data_dir();
    let d = dir.path();
    let su = url_of(&pool);
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let (admin, operator) = (format!("eio_t_ia_{suffix}"), format!("eio_t_io_{suffix}"));
    let _cleanup = DropRoles(pool.clone(), vec![admin.clone(), operator.clone()]);
    for (email, role, login) in [("admin@example.com", "admin", &admin), ("op@example.com", "operator", &operator)] {
        let out = eio(d)
            .args(["user", "add", email, "--role", role, "--login", login, "--password-env", "PW"])
            .env("EIO_DATABASE_URL", &su)
            .env("PW", "a-password-for-tests-1")
            .output()
            .unwrap();
        ok(&out);
    }
    let (as_admin, as_op) = (url_as(&pool, Some(&admin)), url_as(&pool, Some(&operator)));

    // Geography, as an admin: region → country → site.
    ok(&run(d, &as_admin, &["site", "region", "add", "emea", "--name", "Europe, Middle East, Africa"]));
    ok(&run(d, &as_admin, &["site", "country", "add", "de", "--region", "EMEA", "--name", "Germany"]));
    let out = run(d, &as_admin, &["site", "add", "fra-01", "--country", "DE", "--timezone", "Europe/Berlin"]);
    assert!(stdout(ok(&out)).contains("Added site FRA-01"), "{}", stdout(&out));
    let sites = json_of(ok(&run(d, &as_op, &["site", "list", "--json"])));
    assert_eq!(sites.as_array().unwrap().len(), 1);
    assert_eq!(
        (&sites[0]["code"], &sites[0]["region"], &sites[0]["timezone"], &sites[0]["status"]),
        (&Value::from("FRA-01"), &Value::from("EMEA"), &Value::from("Europe/Berlin"), &Value::from("active"))
    );
    // Operators may not add sites: the database refuses, the CLI says so and exits 1.
    let out = run(d, &as_op, &["site", "add", "ber-01", "--country", "DE"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = run(d, &as_admin, &["site", "add", "par-01", "--country", "FR"]);
    assert!(stderr(&out).contains("no country FR"), "{}", stderr(&out));

    // Prefixes: a tree in the default domain, the same block in a second domain.
    ok(&run(d, &as_admin, &["ipam", "domain", "add", "blue"]));
    ok(&run(d, &as_op, &["ipam", "prefix", "add", "10.20.0.0/16", "--site", "FRA-01"]));
    ok(&run(d, &as_op, &["ipam", "prefix", "add", "10.20.1.0/24", "--vlan", "120"]));
    ok(&run(d, &as_op, &["ipam", "prefix", "add", "10.20.1.0/26"]));
    ok(&run(d, &as_op, &["ipam", "prefix", "add", "10.20.0.0/16", "--domain", "blue"]));
    ok(&run(d, &as_op, &["ipam", "prefix", "add", "2001:db8:20::/48"]));
    let out = run(d, &as_op, &["ipam", "prefix", "add", "10.20.1.0/24"]);
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = run(d, &as_op, &["ipam", "prefix", "add", "10.20.1.7/24"]);
    assert_eq!(out.status.code(), Some(2), "host bits are refused before anything runs");
    assert!(stderr(&out).contains("the network is 10.20.1.0/24"), "{}", stderr(&out));

    let tree = stdout(ok(&run(d, &as_op, &["ipam", "prefix", "list", "--tree"])));
    let lines: Vec<&str> = tree.lines().collect();
    assert!(lines[0].starts_with("DOMAIN") && lines[0].contains("PLANNED") && lines[0].contains("OBSERVED"), "{tree}");
    // Indented by depth under its parent; the default domain first, IPv4 before IPv6.
    let rows = &lines[1..];
    assert_eq!(rows.len(), 5, "{tree}");
    assert!(rows[0].starts_with("default  10.20.0.0/16 "), "{tree}");
    assert!(rows[1].starts_with("default    10.20.1.0/24 "), "{tree}");
    assert!(rows[2].starts_with("default      10.20.1.0/26 "), "{tree}");
    assert!(rows[3].starts_with("default  2001:db8:20::/48 "), "{tree}");
    assert!(rows[4].starts_with("blue     10.20.0.0/16 "), "{tree}");

    let listed = json_of(ok(&run(d, &as_op, &["ipam", "prefix", "list", "--json", "--domain", "default"])));
    let by_cidr = |c: &str| listed.as_array().unwrap().iter().find(|p| p["cidr"] == c).cloned().unwrap();
    assert_eq!(by_cidr("10.20.1.0/26")["parent"], "10.20.1.0/24");
    assert_eq!(by_cidr("10.20.1.0/24")["depth"], 1);
    assert_eq!(by_cidr("10.20.0.0/16")["site"], "FRA-01");
    assert_eq!(by_cidr("2001:db8:20::/48")["utilization"]["addresses"], "1208925819614629174706176");

    // Free space of the /24: the /26 child takes the first quarter.
    let free = json_of(ok(&run(d, &as_op, &["ipam", "available", "10.20.1.0/24", "--json"])));
    let blocks: Vec<&str> = free["blocks"].as_array().unwrap().iter().map(|b| b["cidr"].as_str().unwrap()).collect();
    assert_eq!(blocks, ["10.20.1.64/26", "10.20.1.128/25"]);
    assert_eq!(free["free_addresses"], "192");
    let free = json_of(ok(&run(d, &as_op, &["ipam", "available", "10.20.1.0/24", "--length", "27", "--json"])));
    let fits: Vec<&str> = free["blocks"].as_array().unwrap().iter().map(|b| b["fits"].as_str().unwrap()).collect();
    assert_eq!(fits, ["2", "4"]);
    let out = run(d, &as_op, &["ipam", "available", "10.20.1.0/24", "--length", "20", "--json"]);
    assert_eq!(json_of(&out)["error"]["code"], "invalid_input");

    // Two allocations hand out two different addresses, lowest first, skipping the child.
    let a = json_of(ok(&run(d, &as_op, &["ipam", "allocate", "10.20.1.0/24", "--ip", "--hostname", "web1", "--json"])));
    let b = json_of(ok(&run(d, &as_op, &["ipam", "allocate", "10.20.1.0/24", "--ip", "--json"])));
    assert_eq!((a["address"].as_str(), b["address"].as_str()), (Some("10.20.1.64"), Some("10.20.1.65")));
    assert_eq!(a["created_by"], "op@example.com");
    assert_eq!(a["hostname"], "web1");
    let p = json_of(ok(&run(d, &as_op, &["ipam", "allocate", "10.20.0.0/16", "--length", "24", "--json"])));
    assert_eq!((p["cidr"].as_str(), p["parent"].as_str()), (Some("10.20.0.0/24"), Some("10.20.0.0/16")));
    // The same block in the blue domain is untouched by all of that.
    let blue = json_of(ok(&run(d, &as_op, &["ipam", "available", "10.20.0.0/16", "--domain", "blue", "--json"])));
    assert_eq!(blue["blocks"][0]["cidr"], "10.20.0.0/16");

    // Findings: one address seen by two MACs, one address seen outside every prefix.
    for (addr, mac) in
        [("10.20.1.70", "00:50:56:00:00:01"), ("10.20.1.70", "00:50:56:00:00:02"), ("192.0.2.9", "00:50:56:00:00:03")]
    {
        sqlx::query(
            "INSERT INTO ip_observations (routing_domain_id, address, source, mac_address, confidence, entity_type, entity_id)
             VALUES (default_routing_domain_id(), $1::inet, 'vcenter_vm', $2::macaddr, 0.9, 'virtual_machine', $3)",
        )
        .bind(addr)
        .bind(mac)
        .bind(Uuid::new_v4())
        .execute(&pool)
        .await
        .unwrap();
    }
    let run_out = stdout(ok(&run(d, &as_op, &["ipam", "findings", "run"])));
    assert!(run_out.contains("opened"), "{run_out}");
    let findings = json_of(ok(&run(d, &as_op, &["ipam", "findings", "--json"])));
    let of_type =
        |t: &str| -> Vec<Value> { findings.as_array().unwrap().iter().filter(|f| f["type"] == t).cloned().collect() };
    let dup = of_type("duplicate_usage");
    assert_eq!(dup.len(), 1, "{findings}");
    assert_eq!((dup[0]["address"].as_str(), dup[0]["severity"].as_str()), (Some("10.20.1.70"), Some("error")));
    assert_eq!(of_type("outside_any_prefix").len(), 1, "{findings}");
    assert_eq!(of_type("outside_any_prefix")[0]["address"], "192.0.2.9");
    let only = json_of(ok(&run(d, &as_op, &["ipam", "findings", "--type", "duplicate_usage", "--json"])));
    assert_eq!(only.as_array().unwrap().len(), 1);
    let table = stdout(ok(&run(d, &as_op, &["ipam", "findings"])));
    assert!(table.contains("duplicate_usage") && table.contains("10.20.1.70"), "{table}");

    // Acknowledging needs a note, and an EIO user: the superuser login is none.
    let id = dup[0]["id"].as_str().unwrap();
    let out = run(d, &as_op, &["ipam", "findings", "acknowledge", id, "--note", " "]);
    assert!(stderr(&out).contains("needs a note"), "{}", stderr(&out));
    let out = run(d, &su, &["ipam", "findings", "acknowledge", id, "--note", "known"]);
    assert!(stderr(&out).contains("needs an EIO user"), "{}", stderr(&out));
    let acked =
        json_of(ok(&run(d, &as_op, &["ipam", "findings", "acknowledge", id, "--note", "VM clone, fixing", "--json"])));
    assert_eq!(
        (acked["acknowledged_by"].as_str(), acked["acknowledge_note"].as_str()),
        (Some("op@example.com"), Some("VM clone, fixing"))
    );

    // Search: a planned host name, an address, a block.
    let hits = json_of(ok(&run(d, &as_op, &["search", "web1", "--json"])));
    assert_eq!(hits["interpreted_as"], "text");
    assert_eq!(hits["hits"][0]["label"], "10.20.1.64", "{hits}");
    let hits = json_of(ok(&run(d, &as_op, &["search", "10.20.1.70", "--json"])));
    assert_eq!(hits["interpreted_as"], "address");
    assert_eq!(hits["hits"].as_array().unwrap().len(), 2, "both carriers: {hits}");
    let hits = json_of(ok(&run(d, &as_op, &["search", "10.20.1.0/24", "--json"])));
    assert_eq!(hits["hits"][0]["label"], "10.20.1.0/24", "{hits}");
    let out = stdout(ok(&run(d, &as_op, &["search", "zzqqxx"])));
    assert!(out.contains("Nothing matches"), "{out}");
}
