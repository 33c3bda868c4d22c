//! Rolling upgrades need additive migrations (expand/contract): while instances are
//! upgraded one at a time, the previous release runs its queries against the new schema.
//! So everything the previous release's code can name must still be there, as it was:
//! every table and view column with its type (and no new NOT NULL without a default on a
//! table it inserts into), every function signature with its result, every enum label,
//! and every privilege its logins were granted.
//!
//! And its queries still prepare: `migrations/released-queries.sql` holds every literal
//! statement of the previous release's code (`scripts/snapshot-release-queries`, run when
//! a release is cut); each one that PostgreSQL prepares against the previous release's
//! schema must still prepare against the new one (tables, columns, functions and types
//! resolved by the server itself, not by this test's reading of the catalog).
//!
//! "The previous release" is the schema of the migrations up to `migrations/RELEASED`
//! (bumped when a release is cut). This test builds that schema in a fresh database,
//! records what it offers, applies the rest, and lists everything the newer migrations
//! took away or tightened. A deliberate contraction (a security fix that revokes a grant,
//! a column dropped two releases after its last reader) goes in [`CONTRACTIONS`] with its
//! reason, so it is a decision someone wrote down, never an accident.
use std::collections::{BTreeMap, BTreeSet};

use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// Contractions made on purpose since `RELEASED`: `(what the report line says, why)`.
const CONTRACTIONS: &[(&str, &str)] = &[];

/// What the schema offers a client, each item keyed so two snapshots compare.
#[derive(Debug, Default)]
struct Surface {
    /// `table.column` → (type, not null, has default)
    columns: BTreeMap<String, (String, bool, bool)>,
    /// `function(identity args)` → result type
    functions: BTreeMap<String, String>,
    /// `type: label`
    enum_labels: BTreeSet<String>,
    /// `grantee privilege ON object`
    grants: BTreeSet<String>,
}

async fn surface(pool: &PgPool) -> Surface {
    let mut s = Surface::default();
    let columns: Vec<(String, String, String, bool, bool)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
           AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (table, column, ty, not_null, default) in columns {
        s.columns.insert(format!("{table}.{column}"), (ty, not_null, default));
    }
    let functions: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                coalesce(pg_get_function_result(p.oid), '')
         FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    s.functions.extend(functions);
    let labels: Vec<String> = sqlx::query_scalar(
        "SELECT t.typname || ': ' || e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
         WHERE t.typnamespace = 'public'::regnamespace",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    s.enum_labels.extend(labels);
    // Grants to the application's group roles (the logins the previous release uses).
    let grants: Vec<String> = sqlx::query_scalar(
        "WITH acl AS (
             SELECT 'table ' || c.relname AS object, (aclexplode(c.relacl)).* FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relacl IS NOT NULL
             UNION ALL
             SELECT 'column ' || c.relname || '.' || a.attname, (aclexplode(a.attacl)).*
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = 'public'::regnamespace AND a.attacl IS NOT NULL
             UNION ALL
             SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                    (aclexplode(p.proacl)).*
             FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.proacl IS NOT NULL)
         SELECT r.rolname || ' ' || acl.privilege_type || ' ON ' || acl.object
         FROM acl JOIN pg_roles r ON r.oid = acl.grantee
         WHERE r.rolname LIKE 'eio\\_%' AND r.rolname <> 'eio_owner'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    s.grants.extend(grants);
    s
}

/// What `new` took away from `old` or tightened, one line each.
fn contractions(old: &Surface, new: &Surface) -> Vec<String> {
    let mut out = Vec::new();
    let old_tables: BTreeSet<&str> = old.columns.keys().filter_map(|k| k.split_once('.')).map(|(t, _)| t).collect();
    for (column, (ty, not_null, default)) in &old.columns {
        match new.columns.get(column) {
            None => out.push(format!("column {column} was dropped")),
            Some((new_ty, _, _)) if new_ty != ty => out.push(format!("column {column} changed type {ty} → {new_ty}")),
            Some((_, new_not_null, _)) if *new_not_null && !not_null => {
                out.push(format!("column {column} became NOT NULL"))
            }
            Some((_, _, new_default)) if *default && !new_default => {
                out.push(format!("column {column} lost its default"))
            }
            Some(_) => {}
        }
    }
    for (column, (_, not_null, default)) in &new.columns {
        let table = column.split_once('.').map_or("", |(t, _)| t);
        if !old.columns.contains_key(column) && old_tables.contains(table) && *not_null && !default {
            out.push(format!(
                "column {column} was added NOT NULL without a default (the previous release's inserts fail)"
            ));
        }
    }
    for (function, result) in &old.functions {
        match new.functions.get(function) {
            None => out.push(format!("function {function} was dropped or its arguments changed")),
            Some(r) if r != result => out.push(format!("function {function} now returns {r}, not {result}")),
            Some(_) => {}
        }
    }
    out.extend(old.enum_labels.difference(&new.enum_labels).map(|l| format!("enum label {l} was removed")));
    out.extend(old.grants.difference(&new.grants).map(|g| format!("grant {g} was revoked")));
    out
}

fn released() -> i64 {
    let text = include_str!("../../../migrations/RELEASED");
    text.trim().parse().unwrap_or_else(|_| panic!("migrations/RELEASED is not a version number: {text:?}"))
}

/// The migrations up to `RELEASED`, as the previous release shipped them.
async fn previous_release() -> (Migrator, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut copied = Vec::new();
    for m in eio_core::db::MIGRATOR.iter().filter(|m| m.version <= released()) {
        let name = format!("{:04}_{}.sql", m.version, m.description.replace(' ', "_"));
        std::fs::copy(source.join(&name), dir.path().join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        copied.push(m.version);
    }
    assert_eq!(copied.last(), Some(&released()), "RELEASED names a migration of this build");
    (Migrator::new(dir.path()).await.unwrap(), dir)
}

/// The previous release's literal statements, each with where it came from.
fn released_queries() -> Vec<(String, String)> {
    let text = include_str!("../../../migrations/released-queries.sql");
    let mut out: Vec<(String, String)> = Vec::new();
    for block in text.split("\n-- ").skip(1) {
        let (origin, sql) = block.split_once('\n').unwrap_or((block, ""));
        if origin.starts_with("src-tauri/") {
            out.push((origin.trim().to_owned(), sql.trim().trim_end_matches(';').to_owned()));
        }
    }
    out
}

/// Which of `queries` PostgreSQL prepares here (by origin), and why the others failed.
async fn prepared(pool: &PgPool, queries: &[(String, String)]) -> BTreeMap<String, Result<(), String>> {
    let mut conn = pool.acquire().await.unwrap();
    let mut out = BTreeMap::new();
    for (origin, sql) in queries {
        let result = sqlx::Executor::prepare(&mut *conn, sql.as_str()).await.map(|_| ()).map_err(|e| e.to_string());
        out.insert(origin.clone(), result);
    }
    out
}

#[sqlx::test(migrations = false)]
async fn the_previous_release_finds_everything_it_uses_in_the_new_schema(pool: PgPool) {
    let (previous, _dir) = previous_release().await;
    previous.run(&pool).await.unwrap();
    let old = surface(&pool).await;
    let queries = released_queries();
    let before = prepared(&pool, &queries).await;
    let usable: Vec<&String> = before.iter().filter(|(_, r)| r.is_ok()).map(|(o, _)| o).collect();
    assert!(
        usable.len() > 200,
        "the previous release's queries were read and prepared ({} of {})",
        usable.len(),
        queries.len()
    );
    assert!(
        old.columns.len() > 300 && old.functions.len() > 50 && old.grants.len() > 100,
        "the previous release's schema was read: {} columns, {} functions, {} grants",
        old.columns.len(),
        old.functions.len(),
        old.grants.len()
    );
    eio_core::db::migrate_pool(&pool).await.unwrap();
    let new = surface(&pool).await;
    let mut found = contractions(&old, &new);
    let after = prepared(&pool, &queries).await;
    for origin in usable {
        if let Some(Err(e)) = after.get(origin) {
            found.push(format!("the previous release's query at {origin} no longer prepares: {e}"));
        }
    }
    let unexplained: Vec<&String> =
        found.iter().filter(|f| !CONTRACTIONS.iter().any(|(what, _)| f.as_str() == *what)).collect();
    assert!(
        unexplained.is_empty(),
        "migrations after {:04} take away what the previous release uses (make them additive, or list a deliberate \
         contraction in CONTRACTIONS with its reason):\n{}",
        released(),
        unexplained.iter().map(|s| format!("  - {s}")).collect::<Vec<_>>().join("\n")
    );
    let stale: Vec<&str> = CONTRACTIONS.iter().map(|(w, _)| *w).filter(|w| !found.iter().any(|f| f == w)).collect();
    assert!(stale.is_empty(), "CONTRACTIONS lists what no migration does any more: {stale:?}");
}

/// The check itself catches each kind of contraction (a test that can fail).
#[test]
fn every_kind_of_contraction_is_reported() {
    let mut old = Surface::default();
    old.columns.insert("jobs.title".into(), ("text".into(), false, false));
    old.columns.insert("jobs.kind".into(), ("text".into(), false, false));
    old.columns.insert("jobs.note".into(), ("text".into(), false, false));
    old.columns.insert("jobs.attempts".into(), ("integer".into(), true, true));
    old.functions.insert("lease_jobs(text, integer)".into(), "SETOF jobs".into());
    old.enum_labels.insert("job_status: pending".into());
    old.grants.insert("eio_worker SELECT ON table jobs".into());
    let mut new = Surface::default();
    new.columns.insert("jobs.kind".into(), ("integer".into(), false, false));
    new.columns.insert("jobs.note".into(), ("text".into(), true, false));
    new.columns.insert("jobs.attempts".into(), ("integer".into(), true, false));
    new.columns.insert("jobs.owner".into(), ("text".into(), true, false));
    new.columns.insert("jobs.site".into(), ("text".into(), true, true));
    new.columns.insert("audits.who".into(), ("text".into(), true, false));
    new.functions.insert("lease_jobs(text, integer)".into(), "SETOF uuid".into());
    assert_eq!(
        contractions(&old, &new),
        vec![
            "column jobs.attempts lost its default",
            "column jobs.kind changed type text → integer",
            "column jobs.note became NOT NULL",
            "column jobs.title was dropped",
            "column jobs.owner was added NOT NULL without a default (the previous release's inserts fail)",
            "function lease_jobs(text, integer) now returns SETOF uuid, not SETOF jobs",
            "enum label job_status: pending was removed",
            "grant eio_worker SELECT ON table jobs was revoked",
        ]
    );
}
