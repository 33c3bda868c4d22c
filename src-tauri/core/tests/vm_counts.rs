//! The VM counts the database keeps as VMs change (migration 0064), against a real
//! PostgreSQL: after every kind of change that moves a count, the dashboard, the
//! inventory's facets and its totals (read as a viewer) equal a count of the VMs
//! themselves; a power change racing a placement loses nothing; and no application login
//! can write a count.
mod common;
mod ipam_support;

use std::collections::BTreeMap;

use common::{sqlstate, Login};
use eio_core::pages::dashboard;
use eio_core::pages::inventory::{self as inventory_page, InventoryQuery};
use eio_core::Database;
use ipam_support::db;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgPool, Postgres};
use uuid::Uuid;

const DENIED: &str = "42501";

struct Estate {
    vc_fra: Uuid,
    vc_two: Uuid,
    prod_two: Uuid,
}

/// Two sites; vCenter vc-fra at FRA-01 with clusters prod and dev, vc-two without a site
/// with another cluster named prod; 300 VMs across them in every power and tools state,
/// a few tags, some templates and some removed.
async fn estate(admin: &PgPool) -> Estate {
    ipam_support::sites(admin, &["FRA-01", "MUC-01"]).await;
    let vc_fra = ipam_support::vcenter(admin, "vc-fra").await;
    let vc_two = ipam_support::vcenter(admin, "vc-two").await;
    sqlx::query("UPDATE vcenter_instances SET site_id = (SELECT id FROM sites WHERE code = 'FRA-01') WHERE id = $1")
        .bind(vc_fra)
        .execute(admin)
        .await
        .unwrap();
    let dc_fra = ipam_support::datacenter(admin, vc_fra, "Frankfurt").await;
    let dc_two = ipam_support::datacenter(admin, vc_two, "Elsewhere").await;
    let prod_fra = ipam_support::cluster(admin, vc_fra, dc_fra, "prod").await;
    let dev_fra = ipam_support::cluster(admin, vc_fra, dc_fra, "dev").await;
    let prod_two = ipam_support::cluster(admin, vc_two, dc_two, "prod").await;
    sqlx::query(
        "INSERT INTO virtual_machines (vcenter_id, cluster_id, moid, name, power_state, tools_status, tags,
                                       is_template, removed_at)
         SELECT CASE WHEN g % 2 = 0 THEN $1 ELSE $2 END,
                CASE WHEN g % 2 = 1 THEN $5 WHEN g % 4 = 0 THEN $3 WHEN g % 10 = 2 THEN NULL ELSE $4 END,
                'vm-' || g, 'vm' || lpad(g::text, 3, '0'),
                (ARRAY['powered_on', 'powered_off', 'suspended'])[1 + g % 3]::vm_power_state,
                CASE WHEN g % 7 = 0 THEN NULL
                     ELSE (ARRAY['ok', 'old', 'not_running', 'not_installed'])[1 + g % 4]::vm_tools_status END,
                CASE WHEN g % 5 = 0 THEN ARRAY['backup', 'gold'] WHEN g % 5 = 1 THEN ARRAY['backup'] ELSE '{}' END,
                g % 37 = 0, CASE WHEN g % 41 = 0 THEN now() END
         FROM generate_series(1, 300) g",
    )
    .bind(vc_fra)
    .bind(vc_two)
    .bind(prod_fra)
    .bind(dev_fra)
    .bind(prod_two)
    .execute(admin)
    .await
    .unwrap();
    Estate { vc_fra, vc_two, prod_two }
}

/// One counted VM as the pages describe it: site code, cluster name, power, tools, tags.
type Vm = (Option<String>, Option<String>, Option<String>, Option<String>, Vec<String>);

/// Every counted VM, placed the way the pages place them, read from the VMs themselves.
async fn live(admin: &PgPool) -> Vec<Vm> {
    sqlx::query_as(
        "SELECT s.code, c.name, v.power_state::text, v.tools_status::text, v.tags
         FROM virtual_machines v JOIN vcenter_instances vc ON vc.id = v.vcenter_id
         LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
         LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
         LEFT JOIN clusters c ON c.id = v.cluster_id
         WHERE v.removed_at IS NULL AND NOT v.is_template",
    )
    .fetch_all(admin)
    .await
    .unwrap()
}

/// A list's filters: (site, cluster, power, tools, tag).
type Filter =
    (Option<&'static str>, Option<&'static str>, Option<&'static str>, Option<&'static str>, Option<&'static str>);

/// The filters whose totals and rows are compared.
const FILTERS: [Filter; 9] = [
    (None, None, None, None, None),
    (Some("FRA-01"), None, None, None, None),
    (Some("MUC-01"), None, Some("powered_on"), None, None),
    (None, Some("prod"), None, None, None),
    (None, Some("dev"), Some("powered_off"), Some("ok"), None),
    (None, None, Some("suspended"), Some("not_installed"), None),
    (None, None, None, None, Some("gold")),
    (Some("FRA-01"), None, None, None, Some("backup")),
    (None, Some("prod"), Some("powered_on"), None, Some("backup")),
];

/// What the dashboard and the inventory page should say, counted from `vms`.
fn expected(vms: &[Vm]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    let mut add = |k: String| *m.entry(k).or_insert(0) += 1;
    for (site, cluster, power, tools, tags) in vms {
        let site_key = site.clone().unwrap_or_else(|| "-".into());
        add(format!("site {site_key}"));
        add("total".into());
        if power.as_deref() == Some("powered_on") {
            add(format!("on {site_key}"));
            add("total on".into());
        }
        if let Some(s) = site {
            add(format!("facet site {s}"));
        }
        if let Some(c) = cluster {
            add(format!("facet cluster {c}"));
        }
        if let Some(p) = power {
            add(format!("facet power {p}"));
        }
        if let Some(t) = tools {
            add(format!("facet tools {t}"));
        }
        for t in tags {
            add(format!("facet tag {t}"));
        }
        for (i, (fs, fc, fp, ft, tag)) in FILTERS.iter().enumerate() {
            let keeps = |f: &Option<&str>, v: &Option<String>| f.is_none() || f.as_deref() == v.as_deref();
            let tagged = tag.is_none_or(|t| tags.iter().any(|x| x == t));
            if keeps(fs, site) && keeps(fc, cluster) && keeps(fp, power) && keeps(ft, tools) && tagged {
                add(format!("list {i}"));
                add(format!("list {i} rows"));
            }
        }
    }
    m
}

/// What the dashboard and the inventory page say, read as a viewer.
async fn shown(viewer: &Database) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    let dash = dashboard::load(viewer).await.unwrap();
    for s in &dash.sites {
        let key = s.site.clone().unwrap_or_else(|| "-".into());
        if s.vms != 0 {
            m.insert(format!("site {key}"), s.vms);
        }
        if s.vms_powered_on != 0 {
            m.insert(format!("on {key}"), s.vms_powered_on);
        }
    }
    for (key, n) in [("total", dash.totals.vms), ("total on", dash.totals.vms_powered_on)] {
        if n != 0 {
            m.insert(key.into(), n);
        }
    }
    let page = inventory_page::load(viewer, &InventoryQuery::default()).await.unwrap();
    let facets = page.facets.expect("the first unsearched window carries the facets");
    for (name, list) in
        [("site", facets.sites), ("cluster", facets.clusters), ("power", facets.power), ("tools", facets.tools)]
            .into_iter()
            .chain([("tag", facets.tags)])
    {
        for c in list {
            m.insert(format!("facet {name} {}", c.value), c.count);
        }
    }
    for (i, (site, cluster, power, tools, tag)) in FILTERS.iter().enumerate() {
        let q = InventoryQuery {
            site: site.map(Into::into),
            cluster: cluster.map(Into::into),
            power: power.map(Into::into),
            tools: tools.map(Into::into),
            tag: tag.map(Into::into),
            limit: Some(1000),
            ..Default::default()
        };
        let page = inventory_page::load(viewer, &q).await.unwrap();
        // Every row the window lists matches the filters, as the page says it does.
        for vm in &page.vms {
            let keeps = |f: &Option<&str>, v: Option<&str>| f.is_none() || *f == v;
            let on = |x: Option<String>| x.map(|s| s.trim_matches('"').to_string());
            let power_text = on(vm.power_state.map(|p| serde_json::to_string(&p).unwrap()));
            let tools_text = on(vm.tools_status.map(|t| serde_json::to_string(&t).unwrap()));
            assert!(
                keeps(site, vm.site.as_deref())
                    && keeps(cluster, vm.cluster.as_deref())
                    && keeps(power, power_text.as_deref())
                    && keeps(tools, tools_text.as_deref())
                    && tag.is_none_or(|t| vm.tags.iter().any(|x| x == t)),
                "filter {i} listed {} ({:?}, {:?}, {power_text:?}, {tools_text:?}, {:?})",
                vm.name,
                vm.site,
                vm.cluster,
                vm.tags
            );
        }
        if page.total != 0 {
            m.insert(format!("list {i}"), page.total);
        }
        if !page.vms.is_empty() {
            m.insert(format!("list {i} rows"), page.vms.len() as i64);
        }
    }
    m
}

/// The pages agree with the VMs; returns what they show.
async fn agree(admin: &PgPool, viewer: &Database, after: &str) -> BTreeMap<String, i64> {
    let want = expected(&live(admin).await);
    let got = shown(viewer).await;
    assert_eq!(got, want, "after {after}: the kept counts (left) differ from the VMs (right)");
    got
}

async fn exec(admin: &PgPool, sql: &str) {
    sqlx::raw_sql(sql).execute(admin).await.unwrap();
}

/// Site opinions on the VMs named `vms`, at `site`: a pin (`manual`, by the login that
/// writes it) or a name rule's, as an inference run writes it (`dns`).
fn placing(vms: &[&str], site: &str, method: &'static str) -> Query<'static, Postgres, PgArguments> {
    sqlx::query(
        "INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence)
         SELECT 'virtual_machine', v.id, s.id, $3::text::inference_method,
                CASE WHEN $3::text = 'manual' THEN 1 ELSE 0.7 END
         FROM virtual_machines v, sites s WHERE v.name = ANY ($1) AND s.code = $2",
    )
    .bind(vms.iter().map(|v| v.to_string()).collect::<Vec<_>>())
    .bind(site.to_string())
    .bind(method)
}

/// Place `vm` at `site` (a name rule's opinion, as an inference run writes it).
async fn place(admin: &PgPool, vm: &str, site: &str) {
    placing(&[vm], site, "dns").execute(admin).await.unwrap();
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_kept_counts_follow_every_change_that_moves_one(admin: PgPool) {
    let e = estate(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let v = db(&viewer.pool);

    let first = agree(&admin, &v, "the first insert").await;
    // The estate is what the fixture made, so the comparison above compared something.
    assert_eq!(first["total"], 300 - 8 - 7, "less the templates (g % 37) and the removed (g % 41)");
    assert_eq!(first["site FRA-01"], first["list 1"]);
    assert!(first["site -"] > 100 && first["facet cluster prod"] > 100 && first["facet tag gold"] > 50, "{first:?}");

    let steps: &[(&str, &str)] = &[
        ("a power change", "UPDATE virtual_machines SET power_state = 'powered_on' WHERE name IN ('vm002', 'vm003')"),
        ("a tools change", "UPDATE virtual_machines SET tools_status = NULL WHERE name < 'vm020'"),
        ("turning into templates", "UPDATE virtual_machines SET is_template = true WHERE name LIKE 'vm1%'"),
        ("templates turned back", "UPDATE virtual_machines SET is_template = false WHERE name LIKE 'vm11%'"),
        ("a removal", "UPDATE virtual_machines SET removed_at = now() WHERE name LIKE 'vm2_4'"),
        ("a VM coming back", "UPDATE virtual_machines SET removed_at = NULL WHERE name = 'vm041'"),
        ("tags added and taken away", "UPDATE virtual_machines SET tags = array_remove(tags, 'gold') || '{web}' WHERE name < 'vm050'"),
        ("a change of cluster", "UPDATE virtual_machines SET cluster_id = NULL WHERE name BETWEEN 'vm200' AND 'vm230'"),
        ("a change no count sees", "UPDATE virtual_machines SET notes = 'seen', last_sync = now()"),
        ("a VM's id changed", "UPDATE virtual_machines SET id = gen_random_uuid() WHERE name IN ('vm050', 'vm051')"),
        ("a cluster renamed", "UPDATE clusters SET name = 'production' WHERE name = 'prod' AND datacenter_id IN (SELECT id FROM datacenters WHERE name = 'Frankfurt')"),
        ("a vCenter's site set", "UPDATE vcenter_instances SET site_id = (SELECT id FROM sites WHERE code = 'MUC-01') WHERE name = 'vc-two'"),
        ("a site renamed", "UPDATE sites SET code = 'FRA-02' WHERE code = 'FRA-01'"),
        ("new VMs", "INSERT INTO virtual_machines (vcenter_id, moid, name, power_state, tags)
                     SELECT vcenter_id, moid || '-copy', name || '-copy', 'powered_on', '{copy}' FROM virtual_machines WHERE name < 'vm030'"),
        ("VMs deleted", "DELETE FROM virtual_machines WHERE name LIKE '%-copy' AND name > 'vm015'"),
    ];
    for (what, sql) in steps {
        exec(&admin, sql).await;
        agree(&admin, &v, what).await;
    }
    let c = sqlx::query("DELETE FROM clusters WHERE id = $1").bind(e.prod_two).execute(&admin).await.unwrap();
    assert_eq!(c.rows_affected(), 1);
    agree(&admin, &v, "a cluster deleted (its VMs' cluster set to NULL)").await;

    // Placements: made, moved, taken back, and a site deleted under its VMs.
    place(&admin, "vm004", "MUC-01").await;
    place(&admin, "vm006", "MUC-01").await;
    place(&admin, "vm009", "FRA-02").await;
    agree(&admin, &v, "placements").await;
    exec(&admin, "UPDATE site_inferences SET site_id = (SELECT id FROM sites WHERE code = 'FRA-02') WHERE entity_id = (SELECT id FROM virtual_machines WHERE name = 'vm004')").await;
    agree(&admin, &v, "a placement moved").await;
    exec(
        &admin,
        "DELETE FROM site_inferences WHERE entity_id = (SELECT id FROM virtual_machines WHERE name = 'vm006')",
    )
    .await;
    agree(&admin, &v, "a placement taken back").await;
    exec(&admin, "UPDATE virtual_machines SET power_state = 'suspended' WHERE name IN ('vm004', 'vm009')").await;
    agree(&admin, &v, "a placed VM's power").await;
    exec(&admin, "DELETE FROM site_inferences; DELETE FROM sites WHERE code = 'FRA-02'").await;
    agree(&admin, &v, "a site deleted").await;

    // Enough statements to cross the fold mark: each counted VM gets a tag of its own, which
    // is then taken back, four times: 8 statements appending one row per counted VM each,
    // more than 1000 rows. The log folds (at least one statement's rows are gone) and
    // still agrees.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM vm_tag_counts").fetch_one(&admin).await.unwrap();
    let counted = live(&admin).await.len() as i64;
    assert!(counted > 200, "{counted}");
    for round in 0..4 {
        exec(&admin, &format!("UPDATE virtual_machines SET tags = tags || ('once-{round}-' || name)")).await;
        exec(&admin, &format!("UPDATE virtual_machines SET tags = array_remove(tags, 'once-{round}-' || name)")).await;
    }
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM vm_tag_counts").fetch_one(&admin).await.unwrap();
    assert!(after <= before + 7 * counted, "folded: {before} rows before, {after} after {} appended", 8 * counted);
    agree(&admin, &v, "folding").await;

    // A vCenter deleted with its VMs, then TRUNCATE (a restore): nothing left to count.
    let n = sqlx::query("DELETE FROM vcenter_instances WHERE id = $1").bind(e.vc_two).execute(&admin).await.unwrap();
    assert_eq!(n.rows_affected(), 1);
    let left = agree(&admin, &v, "a vCenter deleted").await;
    assert!(left["total"] > 50, "vc-fra's VMs are still counted: {left:?}");
    exec(&admin, "TRUNCATE virtual_machines CASCADE").await;
    let none = agree(&admin, &v, "TRUNCATE").await;
    assert_eq!(none.get("total"), None, "{none:?}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM vm_counts").fetch_one(&admin).await.unwrap();
    assert_eq!(rows, 0);
    let _ = e.vc_fra;
}

/// A VM powered on in one transaction while a pin moves it to another site in another: the
/// pin's count waits for the power change (its vCenter's count lock) and moves the VM as it
/// now is. Without the wait, the move carried the old power state, and the old site kept a
/// powered-on VM it no longer held.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_power_change_racing_a_move_loses_nothing(admin: PgPool) {
    estate(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let v = db(&viewer.pool);
    let before = agree(&admin, &v, "the first insert").await;
    // vm004 is at FRA-01 (its vCenter's site), powered off.
    let state: (String, String) = sqlx::query_as(
        "SELECT s.code, v.power_state::text FROM virtual_machines v JOIN vcenter_instances vc ON vc.id = v.vcenter_id
         JOIN sites s ON s.id = vc.site_id WHERE v.name = 'vm004'",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(state, ("FRA-01".to_string(), "powered_off".to_string()));

    let mut power = admin.begin().await.unwrap();
    sqlx::query("UPDATE virtual_machines SET power_state = 'powered_on' WHERE name = 'vm004'")
        .execute(&mut *power)
        .await
        .unwrap();
    let moving = {
        let pool = op.pool.clone();
        tokio::spawn(
            async move { placing(&["vm004"], "MUC-01", "manual").execute(&pool).await.map(|r| r.rows_affected()) },
        )
    };
    // The pin waits for the power change (the database says so), or has finished without
    // waiting, which is the bug.
    common::until_waiting_or_done(&admin, &op.role, || moving.is_finished()).await;
    power.commit().await.unwrap();
    assert_eq!(moving.await.unwrap().unwrap(), 1);

    let after = agree(&admin, &v, "the race").await;
    let on = |m: &BTreeMap<String, i64>, site: &str| m.get(&format!("on {site}")).copied().unwrap_or(0);
    assert_eq!(on(&after, "MUC-01"), on(&before, "MUC-01") + 1, "vm004 is on, at MUC-01");
    assert_eq!(on(&after, "FRA-01"), on(&before, "FRA-01"), "FRA-01 keeps no trace of vm004");
}

/// The other order: a move not yet committed, then a power change of the same VM. The
/// power change waits for the move and counts the VM where it now is.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_move_racing_a_power_change_loses_nothing(admin: PgPool) {
    estate(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let v = db(&viewer.pool);
    let before = agree(&admin, &v, "the first insert").await;

    let mut moving = admin.begin().await.unwrap();
    placing(&["vm004"], "MUC-01", "dns").execute(&mut *moving).await.unwrap();
    let power = {
        let pool = worker.pool.clone();
        tokio::spawn(async move {
            sqlx::query("UPDATE virtual_machines SET power_state = 'powered_on' WHERE name = 'vm004'")
                .execute(&pool)
                .await
                .map(|r| r.rows_affected())
        })
    };
    common::until_waiting_or_done(&admin, &worker.role, || power.is_finished()).await;
    moving.commit().await.unwrap();
    assert_eq!(power.await.unwrap().unwrap(), 1);
    let after = agree(&admin, &v, "the race").await;
    let on = |m: &BTreeMap<String, i64>, site: &str| m.get(&format!("on {site}")).copied().unwrap_or(0);
    assert_eq!(on(&after, "MUC-01"), on(&before, "MUC-01") + 1, "vm004 is on, at MUC-01");
    assert_eq!(on(&after, "FRA-01"), on(&before, "FRA-01"));
}

/// A writer holding one VM while a move of two waits for it, then writing the second: no
/// deadlock (the move waits for the writer's vCenter, never for a VM's row), and the counts
/// agree. When the move locked the VMs' rows in id order, a writer going the other way
/// deadlocked with it (40P01), and one of the two was rolled back.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_writer_and_a_move_of_the_same_vms_do_not_deadlock(admin: PgPool) {
    estate(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let op = Login::new(&admin, "eio_operator", Some(("op@example.com", "operator", &[]))).await;
    let v = db(&viewer.pool);
    // Two VMs of vc-fra: `low` has the lower id, and the writer takes `high` first.
    let (low, high): (String, String) = sqlx::query_as(
        "SELECT min(name) FILTER (WHERE rk = 1), min(name) FILTER (WHERE rk = 2)
         FROM (SELECT name, row_number() OVER (ORDER BY id) AS rk FROM virtual_machines
               WHERE name IN ('vm004', 'vm008')) x",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    let mut writer = admin.begin().await.unwrap();
    sqlx::query("UPDATE virtual_machines SET power_state = 'powered_on' WHERE name = $1")
        .bind(&high)
        .execute(&mut *writer)
        .await
        .unwrap();
    let moving = {
        let pool = op.pool.clone();
        tokio::spawn(async move {
            placing(&["vm004", "vm008"], "MUC-01", "manual").execute(&pool).await.map(|r| r.rows_affected())
        })
    };
    common::until_waiting_or_done(&admin, &op.role, || moving.is_finished()).await;
    let second = sqlx::query("UPDATE virtual_machines SET power_state = 'powered_on' WHERE name = $1")
        .bind(&low)
        .execute(&mut *writer)
        .await
        .map(|r| r.rows_affected());
    assert_eq!(second.unwrap(), 1, "the writer goes on");
    writer.commit().await.unwrap();
    assert_eq!(moving.await.unwrap().unwrap(), 2, "and so does the move");
    let after = agree(&admin, &v, "a writer and a move of the same VMs").await;
    assert!(after["on MUC-01"] >= 2, "{after:?}");
}

/// What would make the counts wrong is refused, by its SQLSTATE, and changes nothing: one
/// statement that writes the VMs and moves placements at once, and a VM writer that is not
/// READ COMMITTED.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn writes_the_counts_cannot_follow_are_refused(admin: PgPool) {
    estate(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let v = db(&viewer.pool);
    let before = agree(&admin, &v, "the first insert").await;

    let both = sqlx::query(
        "WITH i AS (INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence)
                    SELECT 'virtual_machine', v.id, s.id, 'dns', 0.7 FROM virtual_machines v, sites s
                    WHERE v.name = 'vm004' AND s.code = 'MUC-01' RETURNING entity_id)
         UPDATE virtual_machines SET power_state = 'powered_on' WHERE id IN (SELECT entity_id FROM i)",
    )
    .execute(&admin)
    .await;
    assert_eq!(sqlstate(both), "0A000");

    let mut rr = admin.begin().await.unwrap();
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *rr).await.unwrap();
    let write = sqlx::query("UPDATE virtual_machines SET power_state = 'powered_on' WHERE name = 'vm004'")
        .execute(&mut *rr)
        .await;
    assert_eq!(sqlstate(write), "55000");
    rr.rollback().await.unwrap();

    assert_eq!(agree(&admin, &v, "the refusals").await, before);
    // The same changes, one statement each, are counted.
    place(&admin, "vm004", "MUC-01").await;
    exec(&admin, "UPDATE virtual_machines SET power_state = 'powered_on' WHERE name = 'vm004'").await;
    let after = agree(&admin, &v, "the same in two statements").await;
    assert_eq!(after.get("on MUC-01").copied().unwrap_or(0), before.get("on MUC-01").copied().unwrap_or(0) + 1);
}

/// Nobody but the triggers writes a count: not a worker (which writes the VMs), not an
/// admin. Neither can call the functions that append or fold.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn no_login_writes_a_count(admin: PgPool) {
    let e = estate(&admin).await;
    let worker = Login::new(&admin, "eio_worker", None).await;
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.com", "admin", &[]))).await;
    for who in [&worker.pool, &carol.pool] {
        let insert =
            sqlx::query("INSERT INTO vm_counts (vcenter_id, n) VALUES ($1, 1000)").bind(e.vc_fra).execute(who).await;
        assert_eq!(sqlstate(insert), DENIED);
        assert_eq!(sqlstate(sqlx::query("UPDATE vm_counts SET n = n + 1").execute(who).await), DENIED);
        assert_eq!(sqlstate(sqlx::query("DELETE FROM vm_tag_counts").execute(who).await), DENIED);
        assert_eq!(
            sqlstate(sqlx::query("INSERT INTO vm_tag_counts (tag, n) VALUES ('x', 1)").execute(who).await),
            DENIED
        );
        assert_eq!(sqlstate(sqlx::query("SELECT vm_counts_fold()").execute(who).await), DENIED);
        let append = sqlx::query(
            "SELECT vm_counts_append(ARRAY[(1, $1, NULL, NULL, 'powered_on', NULL, '{}')::vm_count_delta])",
        )
        .bind(e.vc_fra)
        .execute(who)
        .await;
        assert_eq!(sqlstate(append), DENIED);
    }
    // The worker's own writes to the VMs are counted, through the triggers.
    let n = sqlx::query("UPDATE virtual_machines SET power_state = 'powered_on' WHERE name = 'vm002'")
        .execute(&worker.pool)
        .await
        .unwrap();
    assert_eq!(n.rows_affected(), 1);
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    agree(&admin, &db(&viewer.pool), "a worker's write").await;
}

/// Writes the triggers never saw (here a session at `session_replication_role = replica`,
/// as a data-only restore runs) leave the counts wrong until `eio migrate` recounts them, as
/// a migration login that is not a superuser; a second recount finds nothing wrong. No
/// application login may recount, and a recount at REPEATABLE READ is refused.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn counts_that_drifted_unseen_are_recounted_by_migrate(admin: PgPool) {
    estate(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let migrator = Login::new(&admin, "eio_owner", None).await;
    let v = db(&viewer.pool);
    let before = agree(&admin, &v, "the first insert").await;

    let mut unseen = admin.begin().await.unwrap();
    sqlx::raw_sql(
        "SET LOCAL session_replication_role = replica;
         UPDATE virtual_machines SET power_state = 'powered_on', tags = array_append(tags, 'restored') WHERE name < 'vm050';
         DELETE FROM virtual_machines WHERE name > 'vm280';",
    )
    .execute(&mut *unseen)
    .await
    .unwrap();
    unseen.commit().await.unwrap();
    let want = expected(&live(&admin).await);
    assert_ne!(want, before, "the unseen writes changed what the pages should say");
    // The lists' rows, and their totals under a tag filter, are read from the VMs; the
    // dashboard's and the facets' are kept counts.
    let kept = |m: BTreeMap<String, i64>| m.into_iter().filter(|(k, _)| !k.starts_with("list")).collect::<Vec<_>>();
    assert_eq!(kept(shown(&v).await), kept(before), "and the kept counts did not follow them");

    let wrong = eio_core::db::recount_vm_counts(&migrator.pool).await.unwrap();
    // Per site, cluster, power and tools groups, and the new tag.
    assert!(wrong >= 3, "{wrong} groups recounted");
    assert_eq!(agree(&admin, &v, "the recount").await, want);
    assert_eq!(eio_core::db::recount_vm_counts(&migrator.pool).await.unwrap(), 0, "nothing left to correct");

    let worker = Login::new(&admin, "eio_worker", None).await;
    let carol = Login::new(&admin, "eio_admin", Some(("carol@example.com", "admin", &[]))).await;
    for who in [&viewer.pool, &worker.pool, &carol.pool] {
        assert_eq!(sqlstate(sqlx::query("SELECT vm_counts_rebuild()").execute(who).await), DENIED);
    }
    let mut rr = migrator.pool.begin().await.unwrap();
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *rr).await.unwrap();
    assert_eq!(sqlstate(sqlx::query("SELECT vm_counts_rebuild()").execute(&mut *rr).await), "55000");
}

/// A recount beside writers loses nothing: a writer not yet committed when the recount
/// runs keeps its deltas on top of the new count, and a fold under way is waited for.
/// Without the wait, the recount deleted the rows the fold had already taken and kept the
/// folded rows it could not see, so every VM was counted twice.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_recount_beside_writers_and_a_fold_loses_nothing(admin: PgPool) {
    estate(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let migrator = Login::new(&admin, "eio_owner", None).await;
    let v = db(&viewer.pool);
    agree(&admin, &v, "the first insert").await;

    let mut writer = admin.begin().await.unwrap();
    sqlx::query("UPDATE virtual_machines SET power_state = 'powered_on', tags = '{late}' WHERE name < 'vm100'")
        .execute(&mut *writer)
        .await
        .unwrap();
    assert_eq!(eio_core::db::recount_vm_counts(&migrator.pool).await.unwrap(), 0);
    writer.commit().await.unwrap();
    agree(&admin, &v, "a writer committing after a recount").await;

    let mut folding = admin.begin().await.unwrap();
    sqlx::raw_sql(
        "UPDATE virtual_machines SET power_state = 'suspended' WHERE name < 'vm050';
         SELECT vm_counts_fold();",
    )
    .execute(&mut *folding)
    .await
    .unwrap();
    let recount = {
        let pool = migrator.pool.clone();
        tokio::spawn(async move { eio_core::db::recount_vm_counts(&pool).await })
    };
    common::until_waiting_or_done(&admin, &migrator.role, || recount.is_finished()).await;
    folding.commit().await.unwrap();
    assert_eq!(recount.await.unwrap().unwrap(), 0, "nothing had drifted");
    agree(&admin, &v, "a recount beside a fold").await;
}

/// The hosts list counts each listed host's VMs (removed ones not, templates too), in the
/// window's order, and the total the filters keep.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_hosts_list_counts_each_hosts_vms(admin: PgPool) {
    let e = estate(&admin).await;
    let mut hosts = Vec::new();
    for name in ["esx-a", "esx-b", "esx-c"] {
        hosts.push(ipam_support::host(&admin, e.vc_fra, None, name, None).await);
    }
    // esx-a: vm001..vm030 less the removed; esx-b: vm031..vm040; esx-c none.
    for (host, range) in [(hosts[0], "'vm001' AND 'vm030'"), (hosts[1], "'vm031' AND 'vm040'")] {
        sqlx::query(&format!("UPDATE virtual_machines SET host_id = $1 WHERE name BETWEEN {range}"))
            .bind(host)
            .execute(&admin)
            .await
            .unwrap();
    }
    exec(&admin, "UPDATE virtual_machines SET removed_at = now() WHERE name IN ('vm002', 'vm003')").await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let q = |offset| InventoryQuery {
        kind: Some(inventory_page::InventoryKind::Hosts),
        offset: Some(offset),
        limit: Some(2),
        ..Default::default()
    };
    let first = inventory_page::load(&db(&viewer.pool), &q(0)).await.unwrap();
    let rest = inventory_page::load(&db(&viewer.pool), &q(2)).await.unwrap();
    let seen: Vec<(String, i64)> = first.hosts.iter().chain(&rest.hosts).map(|h| (h.name.clone(), h.vms)).collect();
    assert_eq!(seen, vec![("esx-a".to_string(), 28), ("esx-b".to_string(), 10), ("esx-c".to_string(), 0)]);
    assert_eq!((first.total, rest.total), (3, 3));
}

/// A power or tools filter names a state the VMs can be in: an unknown one is refused by
/// name (it is compared as the enum), and a known one keeps the same VMs searched or
/// not, at any offset of the window.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn power_and_tools_filters_are_states_and_windows_deep_in_them_agree(admin: PgPool) {
    estate(&admin).await;
    let viewer = Login::new(&admin, "eio_viewer", Some(("v@example.com", "viewer", &[]))).await;
    let v = db(&viewer.pool);
    for (power, tools, named) in
        [(Some("on"), None, "VM power state \"on\""), (None, Some("fine"), "VMware Tools status \"fine\"")]
    {
        let q = InventoryQuery { power: power.map(Into::into), tools: tools.map(Into::into), ..Default::default() };
        let e = inventory_page::load(&v, &q).await.unwrap_err();
        assert_eq!(e.code, eio_core::error::ErrorCode::InvalidInput, "{e}");
        assert!(e.message.contains(named), "{}", e.message);
    }
    // Powered on with tools ok, read from the VMs, in the list's order.
    let want: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM virtual_machines WHERE removed_at IS NULL AND NOT is_template
           AND power_state = 'powered_on' AND tools_status = 'ok' ORDER BY name, id",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(want.len() > 10, "{want:?}");
    let window = |offset: i64, q: Option<&str>| InventoryQuery {
        q: q.map(Into::into),
        power: Some(" powered_on ".into()),
        tools: Some("ok".into()),
        offset: Some(offset),
        limit: Some(4),
        ..Default::default()
    };
    let mut listed = Vec::new();
    let mut offset = 0;
    while offset < want.len() as i64 {
        let page = inventory_page::load(&v, &window(offset, None)).await.unwrap();
        assert_eq!(page.total, want.len() as i64);
        listed.extend(page.vms.into_iter().map(|vm| vm.name));
        offset += 4;
    }
    assert_eq!(listed, want);
    // Searched: every VM is named vm…, so the search keeps the same VMs.
    let searched =
        inventory_page::load(&v, &InventoryQuery { limit: Some(1000), ..window(0, Some("vm")) }).await.unwrap();
    let mut names: Vec<String> = searched.vms.into_iter().map(|vm| vm.name).collect();
    names.sort();
    assert_eq!((searched.total, names), (want.len() as i64, want));
}
