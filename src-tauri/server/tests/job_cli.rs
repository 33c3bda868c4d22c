//! Jobs through the `eio` CLI as an operator and an approver would use it, against a lab
//! vCenter synced by the real connector: policy refusals before anything is created,
//! idempotency keys, four eyes, and the kill switch's rights.
mod common;

use std::process::Output;

use common::{data_dir, eio, json_of, ok, url_as, url_of, DropRoles};
use eio_lab::vcenter::{LabModel, LabVcenter};
use sqlx::PgPool;
use uuid::Uuid;

async fn run(cmd: std::process::Command, stdin: Option<String>) -> Output {
    common::run_with(cmd, stdin).await
}

fn failed<'a>(out: &'a Output, words: &str) -> &'a Output {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected a refusal, got success: {}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains(words), "stderr lacks {words:?}: {err}");
    out
}

async fn jobs(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs").fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn operators_submit_approvers_approve_and_policy_refuses_before_anything_exists(pool: PgPool) {
    let vc = LabVcenter::start(LabModel::one_cluster(2, 3)).await.unwrap();
    let dir = data_dir();
    let key = dir.path().join("worker.age");
    let s = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (op, ap) = (format!("eio_t_op_{s}"), format!("eio_t_ap_{s}"));
    let _cleanup = DropRoles(pool.clone(), vec![op.clone(), ap.clone()]);
    let as_ = |url: String| {
        let mut c = eio(dir.path());
        c.env("EIO_DATABASE_URL", url).env("EIO_WORKER_KEY_FILE", &key);
        c
    };
    let admin = || as_(url_of(&pool));
    let operator = || as_(url_as(&pool, Some(&op)));
    let approver = || as_(url_as(&pool, Some(&ap)));

    let mut c = admin();
    c.args(["identity", "init-worker-key", "--key-file"]).arg(&key);
    ok(&run(c, None).await);
    let mut c = admin();
    c.args(["source", "add", "vcenter", "--name", "vc", "--url", vc.sdk_url.as_str(), "--username", vc.username()])
        .args(["--password-stdin", "--thumbprint", &vc.thumbprint.to_string()]);
    ok(&run(c, Some(format!("{}\n", vc.password()))).await);
    let mut c = admin();
    c.arg("sync");
    ok(&run(c, None).await);
    for (email, role, login) in [("op@lab.test", "operator", &op), ("ap@lab.test", "approver", &ap)] {
        let mut c = admin();
        c.args(["user", "add", email, "--role", role, "--login", login])
            .args(["--capability", "power", "--capability", "maintenance_mode", "--password-env", "PW"])
            .env("PW", "pw-1");
        ok(&run(c, None).await);
    }
    let vms: Vec<String> =
        sqlx::query_scalar("SELECT name FROM virtual_machines WHERE removed_at IS NULL ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    let host: String =
        sqlx::query_scalar("SELECT name FROM esxi_hosts ORDER BY name LIMIT 1").fetch_one(&pool).await.unwrap();

    // The default policy never shuts a VM down: refused, and no job exists.
    let mut c = operator();
    c.args(["job", "submit", "power", "--action", "shutdown", "--vm", &vms[0], "--vm", &vms[1]]);
    failed(&run(c, None).await, "allow_vm_shutdown");
    // Nor can the operator loosen the policy with an override: only tighten it.
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, r#"{"allow_vm_shutdown": true, "vm_limit": 1}"#).unwrap();
    let mut c = operator();
    c.args(["job", "submit", "power", "--action", "shutdown", "--vm", &vms[0], "--vm", &vms[1], "--policy-file"])
        .arg(&policy);
    failed(&run(c, None).await, "may only tighten");
    // A misspelt override is refused by the same operation the UI and the API use, with the
    // same clear sentence (not "Something went wrong").
    std::fs::write(&policy, r#"{"require_aproval": true}"#).unwrap();
    let mut c = operator();
    c.args(["job", "submit", "maintenance-mode", "--host", &host, "--policy-file"]).arg(&policy);
    failed(&run(c, None).await, "unknown field `require_aproval`");
    // A policy that allows shutdowns is a named one an admin made. Under it, more VMs than
    // the (tightened) vm_limit: refused before touching anything.
    sqlx::query("INSERT INTO job_policies (name, allow_vm_shutdown, vm_limit) VALUES ('shutdown-ok', true, 5)")
        .execute(&pool)
        .await
        .unwrap();
    std::fs::write(&policy, r#"{"vm_limit": 1}"#).unwrap();
    let mut c = operator();
    c.args(["job", "submit", "power", "--action", "shutdown", "--vm", &vms[0], "--vm", &vms[1], "--policy"])
        .args(["shutdown-ok", "--policy-file"])
        .arg(&policy);
    failed(&run(c, None).await, "vm_limit");
    // VMs outside the policy's folder filter are off limits.
    std::fs::write(&policy, r#"{"folder_filters": ["/dc/vm/never-here"]}"#).unwrap();
    let mut c = operator();
    c.args(["job", "submit", "power", "--action", "shutdown", "--vm", &vms[0], "--policy", "shutdown-ok"])
        .arg("--policy-file")
        .arg(&policy);
    failed(&run(c, None).await, "filters");
    // A dry run shows the plan and submits nothing.
    let mut c = operator();
    c.args(["job", "submit", "maintenance-mode", "--host", &host, "--dry-run", "--json"]);
    let plan = json_of(ok(&run(c, None).await));
    assert_eq!(plan["plan"]["hosts"][0]["name"], host.as_str(), "{plan}");
    assert!(plan["job"].is_null(), "{plan}");
    assert_eq!(jobs(&pool).await, 0);

    // The same idempotency key gives the same single job.
    let submit = || {
        let mut c = operator();
        c.args(["job", "submit", "maintenance-mode", "--host", &host, "--idempotency-key", "mm-1", "--json"]);
        c
    };
    let first = json_of(ok(&run(submit(), None).await)).clone();
    let second = json_of(ok(&run(submit(), None).await)).clone();
    let id = first["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(second["job"]["id"].as_str(), Some(id.as_str()));
    assert_eq!(jobs(&pool).await, 1);
    assert_eq!(first["job"]["status"], "awaiting_approval", "{first}");

    // Four eyes: the initiator can't approve; an operator can't approve at all; the approver can.
    let mut c = operator();
    c.args(["job", "approve", &id]);
    failed(&run(c, None).await, "permission denied");
    // The approver approves the plan they read: `job show` names it, and an approval bound
    // to another plan is refused before anything is recorded.
    let mut c = approver();
    c.args(["job", "show", &id]);
    let said = String::from_utf8_lossy(&ok(&run(c, None).await).stdout).into_owned();
    let hash: String =
        sqlx::query_scalar("SELECT plan_hash FROM jobs WHERE id = $1::uuid").bind(&id).fetch_one(&pool).await.unwrap();
    let read = &hash[..12];
    assert!(said.contains(&format!("`eio job approve {id} --plan {read}`")), "{said}");
    let mut c = approver();
    c.args(["job", "approve", &id, "--plan", "0123456789ab"]);
    failed(&run(c, None).await, &format!("is now {read}, not the 0123456789ab you read"));
    let approvals: i64 = sqlx::query_scalar("SELECT count(*) FROM approvals").fetch_one(&pool).await.unwrap();
    assert_eq!(approvals, 0);
    let mut c = approver();
    c.args(["job", "approve", &id, "--comment", "window agreed", "--plan", read]);
    ok(&run(c, None).await);
    let mut c = approver();
    c.args(["job", "show", &id, "--json"]);
    let shown = json_of(ok(&run(c, None).await)).clone();
    let text = shown.to_string();
    assert!(text.contains("ap@lab.test"), "the approver is recorded: {text}");
    assert!(text.contains("window agreed"), "the comment is an event: {text}");
    // For people: the plan in order, the VMs that move by name, not JSON.
    let mut c = approver();
    c.args(["job", "show", &id]);
    let out = run(c, None).await;
    let said = String::from_utf8_lossy(&ok(&out).stdout).into_owned();
    let moving: Vec<&str> = shown["plan"]["hosts"][0]["vms_to_move"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(!moving.is_empty(), "the lab's host runs VMs: {shown}");
    assert!(said.contains(&format!("1. {host}")), "{said}");
    assert!(said.contains(&format!("moves {} VM(s): {}", moving.len(), moving.join(", "))), "{said}");
    assert!(!said.contains("\"vms_to_move\""), "not JSON: {said}");

    // A job on a cron schedule: a definition; each due time a run that waits for an approver.
    let mut c = operator();
    c.args(["job", "submit", "maintenance-mode", "--host", &host, "--schedule", "0 3 1 1 *", "--json"]);
    let def = json_of(ok(&run(c, None).await)).clone();
    assert_eq!(def["job"]["status"], "scheduled", "{def}");
    assert_eq!(def["job"]["schedule"], "0 3 1 1 *", "{def}");
    assert!(def["job"]["next_run_at"].as_str().is_some_and(|t| t.contains("-01-01T03:00:00")), "{def}");
    let def_id = Uuid::parse_str(def["job"]["id"].as_str().unwrap()).unwrap();
    let mut c = operator();
    c.args(["job", "submit", "maintenance-mode", "--host", &host, "--schedule", "0 3 1 1 *", "--run-at"])
        .arg("2030-01-01T00:00:00Z");
    failed(&run(c, None).await, "--run-at");
    // Its due time comes (the schedule reads the database's clock): one run, awaiting approval.
    sqlx::query("UPDATE jobs SET next_run_at = now() - interval '1 minute' WHERE id = $1")
        .bind(def_id)
        .execute(&pool)
        .await
        .unwrap();
    let runs =
        eio_engine::jobs::schedule::enqueue_due_runs(&eio_core::Database::from_pool(pool.clone())).await.unwrap();
    assert_eq!(runs.len(), 1);
    let run_id = runs[0].to_string();
    let mut c = operator();
    c.args(["job", "approve", &run_id]);
    failed(&run(c, None).await, "permission denied");
    let mut c = approver();
    c.args(["job", "approve", &run_id, "--comment", "this run too"]);
    ok(&run(c, None).await);
    let mut c = operator();
    c.args(["job", "show", &run_id, "--json"]);
    let shown = json_of(ok(&run(c, None).await)).clone();
    assert_eq!(shown["job"]["parent_job_id"], def_id.to_string(), "{shown}");
    assert_eq!(shown["job"]["status"], "pending", "{shown}");
    let mut c = operator();
    c.args(["job", "cancel", &def_id.to_string()]);
    ok(&run(c, None).await);

    // Any operator stops everything; only an admin lets it go again.
    let mut c = operator();
    c.args(["kill-switch", "on", "--reason", "storage incident"]);
    ok(&run(c, None).await);
    let mut c = approver();
    c.args(["kill-switch", "off", "--reason", "fixed"]);
    failed(&run(c, None).await, "permission denied");
    let mut c = operator();
    c.args(["kill-switch", "status", "--json"]);
    let ks = json_of(ok(&run(c, None).await)).clone();
    assert_eq!(ks["engaged"], true, "{ks}");
    let mut c = admin();
    c.args(["kill-switch", "off", "--reason", "fixed"]);
    ok(&run(c, None).await);
}

/// What the desktop's Settings pages do, from the command line: a rule previewed before it is
/// saved (nothing kept), named policies changed field by field, limits set and removed — and
/// an operator refused each change by the database.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn admins_preview_rules_and_manage_policies_and_limits_from_the_cli(pool: PgPool) {
    let vc = LabVcenter::start(LabModel::one_cluster(2, 3)).await.unwrap();
    let dir = data_dir();
    let key = dir.path().join("worker.age");
    let s = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let op = format!("eio_t_pop_{s}");
    let _cleanup = DropRoles(pool.clone(), vec![op.clone()]);
    let as_ = |url: String| {
        let mut c = eio(dir.path());
        c.env("EIO_DATABASE_URL", url).env("EIO_WORKER_KEY_FILE", &key);
        c
    };
    let admin = |args: &[&str]| {
        let mut c = as_(url_of(&pool));
        c.args(args);
        c
    };
    let operator = |args: &[&str]| {
        let mut c = as_(url_as(&pool, Some(&op)));
        c.args(args);
        c
    };
    ok(&run(admin(&["identity", "init-worker-key", "--key-file", key.to_str().unwrap()]), None).await);
    let mut c = admin(&["source", "add", "vcenter", "--name", "vc", "--url", vc.sdk_url.as_str()]);
    c.args(["--username", vc.username(), "--password-stdin", "--thumbprint", &vc.thumbprint.to_string()]);
    ok(&run(c, Some(format!("{}\n", vc.password()))).await);
    ok(&run(admin(&["sync"]), None).await);
    let mut c = admin(&["user", "add", "pop@lab.test", "--role", "operator", "--login", &op, "--password-env", "PW"]);
    c.env("PW", "pw-1");
    ok(&run(c, None).await);

    // A rule previewed: every VM of the vCenter would be placed at the site; nothing is kept.
    ok(&run(admin(&["site", "region", "add", "emea", "--name", "EMEA"]), None).await);
    ok(&run(admin(&["site", "country", "add", "de", "--region", "EMEA", "--name", "Germany"]), None).await);
    ok(&run(admin(&["site", "add", "fra-01", "--country", "DE"]), None).await);
    let vms: i64 = sqlx::query_scalar("SELECT count(*) FROM virtual_machines WHERE removed_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(vms >= 6, "the lab has VMs: {vms}");
    let preview =
        json_of(ok(
            &run(admin(&["site", "rule", "add", "FRA-01", "--vcenter", ".", "--dry-run", "--json"]), None).await
        ))
        .clone();
    let matched = preview["matched"].as_array().unwrap();
    let vm_count = matched.iter().find(|k| k["kind"] == "virtual_machine").map(|k| k["count"].clone());
    assert_eq!(vm_count, Some(serde_json::json!(vms)), "{preview}");
    assert!(preview["moved"].as_i64().unwrap() >= vms, "{preview}");
    let human = run(admin(&["site", "rule", "add", "FRA-01", "--vcenter", ".", "--dry-run"]), None).await;
    let said = String::from_utf8_lossy(&ok(&human).stdout).into_owned();
    assert!(said.contains(&format!("{vms} virtual machine(s)")) && said.contains("Nothing was saved"), "{said}");
    let kept: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM site_rules), (SELECT count(*) FROM entity_sites es JOIN sites s ON s.id = es.site_id
                                                     WHERE s.code = 'FRA-01')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(kept, (0, 0), "a preview keeps no rule and places nothing");
    // An operator may not preview (it is for those who may add rules).
    let out = run(operator(&["site", "rule", "add", "FRA-01", "--vcenter", ".", "--dry-run", "--json"]), None).await;
    assert_eq!(json_of(&out)["error"]["code"], "forbidden", "{}", String::from_utf8_lossy(&out.stderr));

    // A named policy: a new one starts safe (never from `default`, which an admin may have
    // loosened), then changes one field at a time; a padded name is the same policy.
    sqlx::query(
        "UPDATE job_policies SET require_approval = false, shutdown_timeout_seconds = 60 WHERE name = 'default'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let args = ["job", "policy", "save", "lab-shutdown", "--allow-vm-shutdown", "true", "--vm-limit", "3"];
    ok(&run(admin(&[&args[..], &["--description", "lab only", "--tag", "lab"]].concat()), None).await);
    ok(&run(admin(&["job", "policy", "save", " lab-shutdown ", "--vm-limit", "5", "--json"]), None).await);
    type Row = (bool, bool, i32, i32, Option<String>, Vec<String>);
    let row: Row = sqlx::query_as(
        "SELECT require_approval, allow_vm_shutdown, vm_limit, shutdown_timeout_seconds, description, tag_filters
         FROM job_policies WHERE name = 'lab-shutdown'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row, (true, true, 5, 300, Some("lab only".into()), vec!["lab".to_string()]));
    let listed = json_of(ok(&run(admin(&["job", "policy", "list", "--json"]), None).await)).clone();
    let mine = listed.as_array().unwrap().iter().find(|p| p["name"] == "lab-shutdown").cloned();
    assert_eq!(mine.map(|p| p["vm_limit"].clone()), Some(serde_json::json!(5)), "{listed}");
    let out = run(operator(&["job", "policy", "save", "lab-shutdown", "--vm-limit", "50", "--json"]), None).await;
    assert_eq!(json_of(&out)["error"]["code"], "forbidden");
    let out = run(operator(&["job", "policy", "remove", "lab-shutdown", "--json"]), None).await;
    assert_eq!(json_of(&out)["error"]["code"], "forbidden");
    ok(&run(admin(&["job", "policy", "remove", "lab-shutdown"]), None).await);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM job_policies WHERE name = 'lab-shutdown'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);

    // Limits: a cluster's own, then removed (the default applies again).
    let cluster: String = sqlx::query_scalar("SELECT name FROM clusters LIMIT 1").fetch_one(&pool).await.unwrap();
    let set =
        json_of(ok(&run(admin(&["job", "limit", "set", "cluster", &cluster, "--max", "1", "--json"]), None).await))
            .clone();
    let own = set.as_array().unwrap().iter().find(|l| l["name"] == cluster.as_str()).cloned();
    assert_eq!(own.map(|l| l["max_running"].clone()), Some(serde_json::json!(1)), "{set}");
    let out = run(operator(&["job", "limit", "set", "cluster", &cluster, "--max", "9", "--json"]), None).await;
    assert_eq!(json_of(&out)["error"]["code"], "forbidden");
    let limits: Vec<(Option<String>, i32)> = sqlx::query_as(
        "SELECT c.name, l.max_running FROM concurrency_limits l LEFT JOIN clusters c ON c.id = l.scope_id
         WHERE l.scope_type = 'cluster' AND l.scope_id IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(limits, vec![(Some(cluster.clone()), 1)], "the operator's attempt changed nothing");
    ok(&run(admin(&["job", "limit", "set", "cluster", &cluster, "--remove"]), None).await);
    let listed = json_of(ok(&run(admin(&["job", "limit", "list", "--json"]), None).await)).clone();
    assert!(listed.as_array().unwrap().iter().all(|l| l["name"] != cluster.as_str()), "removed: {listed}");
    assert!(!listed.as_array().unwrap().is_empty(), "the defaults stay: {listed}");
}

/// A cluster to a baseline from the CLI: an admin defines the baseline from a file (an
/// operator may not), everyone lists it, and the dry run prints, per host in order, each
/// component behind with installed → target, its package and whether it waits for the one
/// restart; a baseline with --component is refused with what to leave out.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_baseline_is_defined_listed_and_planned_from_the_cli(pool: PgPool) {
    use eio_lab::dell::DellLab;
    use eio_lab::vcenter::model::service_tag;
    let vc = LabVcenter::start(LabModel::one_cluster(2, 3)).await.unwrap();
    let mut builder = DellLab::builder().bmcs(2);
    for i in 0..2 {
        builder = builder.customize(i, move |s| s.service_tag = service_tag(i));
    }
    let lab = builder.build().await.unwrap();
    let dir = data_dir();
    let key = dir.path().join("worker.age");
    let s = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let op = format!("eio_t_bop_{s}");
    let _cleanup = DropRoles(pool.clone(), vec![op.clone()]);
    let as_ = |url: String, args: &[&str]| {
        let mut c = eio(dir.path());
        c.env("EIO_DATABASE_URL", url).env("EIO_WORKER_KEY_FILE", &key).args(args);
        c
    };
    let admin = |args: &[&str]| as_(url_of(&pool), args);
    let operator = |args: &[&str]| as_(url_as(&pool, Some(&op)), args);
    ok(&run(admin(&["identity", "init-worker-key", "--key-file", key.to_str().unwrap()]), None).await);
    let mut c = admin(&["source", "add", "vcenter", "--name", "vc", "--url", vc.sdk_url.as_str()]);
    c.args(["--username", vc.username(), "--password-stdin", "--thumbprint", &vc.thumbprint.to_string()]);
    ok(&run(c, Some(format!("{}\n", vc.password()))).await);
    let creds = lab.credentials();
    for (i, bmc) in lab.bmcs.iter().enumerate() {
        let (name, url) = (format!("bmc-{i}"), bmc.url.to_string());
        let mut c = admin(&["source", "add", "idrac", "--name", &name, "--url", &url]);
        c.args(["--thumbprint", &bmc.thumbprint.unwrap().to_string()]);
        if i == 0 {
            c.args(["--username", creds.username.as_str(), "--password-stdin", "--identity-name", "bmcs"]);
        } else {
            c.args(["--identity", "bmcs"]);
        }
        ok(&run(c, (i == 0).then(|| format!("{}\n", creds.password.expose()))).await);
    }
    ok(&run(admin(&["sync"]), None).await);
    let mut c = admin(&["user", "add", "bop@lab.test", "--role", "operator", "--login", &op, "--password-env", "PW"]);
    c.env("PW", "pw-1").args(["--capability", "firmware_update"]);
    ok(&run(c, None).await);

    let file = dir.path().join("june.json");
    std::fs::write(
        &file,
        r#"{"name": "June", "repository": "/srv/dups", "components": [
              {"component": "BIOS.Setup", "version": "2.99.1", "package": "BIOS_2.99.1.EXE"},
              {"component": "iDRAC.Embedded", "version": "7.20.10.50", "package": "iDRAC.EXE", "reboot_required": false}]}"#,
    )
    .unwrap();
    let out = run(operator(&["server", "baseline", "define", "--file", file.to_str().unwrap(), "--json"]), None).await;
    assert_eq!(json_of(&out)["error"]["code"], "forbidden", "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(
        &ok(&run(admin(&["server", "baseline", "define", "--file", file.to_str().unwrap()]), None).await).stdout,
    )
    .into_owned();
    assert!(said.contains("Baseline June defined: 2 component(s)."), "{said}");
    let listed = json_of(ok(&run(operator(&["server", "baseline", "list", "--json"]), None).await)).clone();
    assert_eq!(listed[0]["name"], "June");
    assert_eq!(listed[0]["source"], "eio");
    assert_eq!(listed[0]["servers_behind"], 2, "{listed}");

    let cluster: String = sqlx::query_scalar("SELECT name FROM clusters").fetch_one(&pool).await.unwrap();
    let plan =
        run(operator(&["job", "submit", "firmware-update", "--cluster", &cluster, "--baseline", "--dry-run"]), None)
            .await;
    let plan = String::from_utf8_lossy(&ok(&plan).stdout).into_owned();
    let bios = lab.bmc(0).firmware_version("BIOS.Setup.1-1").unwrap();
    let idrac = lab.bmc(0).firmware_version("iDRAC.Embedded.1-1").unwrap();
    let lines: Vec<&str> = plan.lines().map(str::trim).collect();
    let first = lines.iter().position(|l| l.starts_with("1. ")).unwrap_or_else(|| panic!("{plan}"));
    assert!(lines[first].ends_with(&format!("(server {})", service_tag(0))), "{plan}");
    assert!(lines[first + 1].starts_with("moves 3 VM(s)"), "{plan}");
    assert_eq!(
        &lines[first + 2..first + 5],
        [
            format!("iDRAC.Embedded.1-1: {idrac} → 7.20.10.50, package /srv/dups/iDRAC.EXE (applies at once)").as_str(),
            format!("BIOS.Setup.1-1: {bios} → 2.99.1, package /srv/dups/BIOS_2.99.1.EXE (staged for the restart)")
                .as_str(),
            "then one restart of the server",
        ],
        "{plan}"
    );
    assert_eq!(jobs(&pool).await, 0, "a dry run submits nothing");
    let args = ["job", "submit", "firmware-update", "--cluster", &cluster, "--baseline", "June", "--component", "BIOS"];
    let both = run(operator(&[&args[..], &["--dry-run"]].concat()), None).await;
    failed(&both, "leave out --component, --version and --image");
    ok(&run(admin(&["server", "baseline", "remove", "June"]), None).await);
    let listed = json_of(ok(&run(operator(&["server", "baseline", "list", "--json"]), None).await)).clone();
    assert_eq!(listed, serde_json::json!([]));
}
