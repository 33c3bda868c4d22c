//! Every PostgreSQL enum is declared once in Rust through `db_enum!`, with the same labels in
//! the same order: a new enum type in a migration without its declaration, or a label added
//! on one side only, fails here (issue 19: "every enum uses db_enum!").
use std::collections::BTreeMap;

use eio_core::identity::service_identities::ExternalSystem;
use eio_core::identity::users::UserRole;
use eio_core::inventory::states::*;
use eio_core::ipam::findings::{FindingType, Severity};
use eio_core::ipam::prefixes::PrefixStatus;
use eio_core::ipam::space::{AssignmentStatus, ObservationSource};
use eio_core::jobs::{ApprovalDecision, EventLevel, JobStatus, JobType, StepStatus};
use eio_core::reports::{ExecutionStatus, ReportFormat, ReportType};
use eio_core::sites::{EntityKind, InferenceMethod, SiteStatus};
use eio_core::sources::SourceKind;
use sqlx::PgPool;

macro_rules! declared {
    ($($ty:ty),+ $(,)?) => {{
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        $(
            let labels: Vec<String> = <$ty>::ALL.iter().map(|v| v.as_str().to_owned()).collect();
            assert!(m.insert(<$ty>::PG_TYPE.to_owned(), labels).is_none(), "{} declared twice", <$ty>::PG_TYPE);
        )+
        m
    }};
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn every_postgres_enum_is_declared_once_with_its_labels(pool: PgPool) {
    let rows: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT t.typname::text, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
         JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE n.nspname = 'public' GROUP BY t.typname ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let in_database: BTreeMap<String, Vec<String>> = rows.into_iter().collect();
    assert!(in_database.len() >= 30, "expected the schema's enums, found {in_database:?}");

    let in_rust = declared!(
        UserRole,
        ExternalSystem,
        JobType,
        JobStatus,
        StepStatus,
        EventLevel,
        ApprovalDecision,
        FindingType,
        Severity,
        PrefixStatus,
        AssignmentStatus,
        ObservationSource,
        SiteStatus,
        InferenceMethod,
        EntityKind,
        VmPowerState,
        VmToolsStatus,
        HostConnectionState,
        HostPowerState,
        IdracGeneration,
        IdracDriver,
        ServerPowerState,
        HealthState,
        MappingMethod,
        MappingStatus,
        ComplianceStatus,
        SyncOutcome,
        SyncKind,
        ChangeKind,
        SourceKind,
        ReportType,
        ReportFormat,
        ExecutionStatus,
    );

    let undeclared: Vec<&String> = in_database.keys().filter(|k| !in_rust.contains_key(*k)).collect();
    assert!(undeclared.is_empty(), "PostgreSQL enums with no db_enum! declaration: {undeclared:?}");
    for (name, labels) in &in_rust {
        assert_eq!(in_database.get(name), Some(labels), "{name}: the database's labels and db_enum!'s differ");
    }
}

/// Each declaration reads back what the database stores, spelling included (iDRAC7).
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_declared_value_round_trips_through_its_type(pool: PgPool) {
    let g: IdracGeneration = sqlx::query_scalar("SELECT 'iDRAC8'::idrac_generation").fetch_one(&pool).await.unwrap();
    assert_eq!(g, IdracGeneration::Idrac8);
    assert_eq!(serde_json::to_value(g).unwrap(), serde_json::json!("iDRAC8"));
    assert_eq!("iDRAC9".parse::<IdracGeneration>().unwrap(), IdracGeneration::Idrac9);
    let s: ServerPowerState = sqlx::query_scalar("SELECT $1::server_power_state")
        .bind(ServerPowerState::PoweringOff)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(s, ServerPowerState::PoweringOff);
    let e = "sideways".parse::<MappingMethod>().unwrap_err();
    assert_eq!(e.to_string(), "unknown mapping method \"sideways\" (service_tag, uuid, naming, attribute, manual)");
}
