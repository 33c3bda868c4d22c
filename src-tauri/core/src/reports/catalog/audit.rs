//! The accountability reports: job history with its events and (for admins only) the
//! security audit trail of a time range, and credential rotation of service identities.
//!
//! Owns these reports' sheets and SQL. The audit sheet is shown only to logins that may
//! read `audit_events`. It must never select a secret: for service identities names and
//! dates only, never the username, the ciphertext or the last error text.
use super::{flag, int, num, text, time, Chart, Filter, FilterKind, Report, Sheet};
use crate::reports::ReportType;

// $1 from, $2 to (default: the last 30 days), $3 type, $4 status.
pub static JOB_HISTORY: Report = Report {
    report_type: ReportType::JobHistory,
    title: "Job history and audit trail",
    description: "Jobs created in a time range, their events, and (for admins) the security audit of the range",
    filters: &[
        Filter { key: "from", kind: FilterKind::Time, help: "start of the range (default: 30 days ago)" },
        Filter { key: "to", kind: FilterKind::Time, help: "end of the range (default: now)" },
        Filter {
            key: "type",
            kind: FilterKind::Choice(&["firmware_update", "maintenance_mode", "power", "sync", "report"]),
            help: "job type",
        },
        Filter {
            key: "status",
            kind: FilterKind::Choice(&[
                "pending",
                "awaiting_approval",
                "scheduled",
                "running",
                "paused",
                "succeeded",
                "failed",
                "cancelled",
            ]),
            help: "job status",
        },
    ],
    sheets: &[
        Sheet {
            name: "Jobs",
            columns: &[
                text("Job ID", 36.0),
                text("Type", 16.0),
                text("Title", 36.0),
                text("Status", 12.0),
                text("Initiated by", 22.0),
                text("Approved by", 22.0),
                time("Created at"),
                time("Started at"),
                time("Finished at"),
                num("Duration s"),
                int("Attempts"),
                text("Error", 36.0),
            ],
            sql: r#"
            SELECT j.id::text, j.type::text, j.title, j.status::text, ui.email, ua.email,
                   j.created_at, j.started_at, j.finished_at,
                   extract(epoch FROM j.finished_at - j.started_at)::float8, j.attempts::int8, j.error
            FROM jobs j
            LEFT JOIN users ui ON ui.id = j.initiated_by_user
            LEFT JOIN users ua ON ua.id = j.approved_by_user
            WHERE j.created_at >= coalesce($1::timestamptz, now() - interval '30 days')
              AND j.created_at < coalesce($2::timestamptz, now())
              AND ($3::text IS NULL OR j.type::text = $3) AND ($4::text IS NULL OR j.status::text = $4)
            ORDER BY j.created_at, j.id
            "#,
            needs_select_on: None,
        },
        Sheet {
            name: "Job events",
            columns: &[
                time("At"),
                text("Job ID", 36.0),
                text("Job", 30.0),
                text("Level", 8.0),
                text("Message", 48.0),
                text("Login", 16.0),
                text("User", 22.0),
            ],
            sql: r#"
            SELECT e.at, j.id::text, j.title, e.level::text, e.message, e.actor_login::text, u.email
            FROM job_events e
            JOIN jobs j ON j.id = e.job_id
            LEFT JOIN users u ON u.id = e.actor_user
            WHERE e.at >= coalesce($1::timestamptz, now() - interval '30 days')
              AND e.at < coalesce($2::timestamptz, now())
              AND ($3::text IS NULL OR j.type::text = $3) AND ($4::text IS NULL OR j.status::text = $4)
            ORDER BY e.at, e.id
            "#,
            needs_select_on: None,
        },
        // Issue 20: what each maintenance gate found live against what the approved plan
        // predicted for that host (`gate_check` events, written by the engine's gate).
        Sheet {
            name: "Plan vs gate",
            columns: &[
                time("At"),
                text("Job ID", 36.0),
                text("Job", 30.0),
                text("Host", 24.0),
                int("Predicted"),
                int("Found"),
                flag("Agreed"),
                text("Found, not predicted", 36.0),
                text("Predicted, not found", 36.0),
            ],
            sql: r#"
            SELECT e.at, j.id::text, j.title, coalesce(h.name, e.data ->> 'host'),
                   (e.data ->> 'predicted')::int8, (e.data ->> 'found')::int8, (e.data ->> 'agreed')::boolean,
                   (SELECT string_agg(x ->> 0 || ' ' || (x ->> 1), ', ') FROM jsonb_array_elements(e.data -> 'missed') x),
                   (SELECT string_agg(x ->> 0 || ' ' || (x ->> 1), ', ') FROM jsonb_array_elements(e.data -> 'unexpected') x)
            FROM job_events e
            JOIN jobs j ON j.id = e.job_id
            LEFT JOIN LATERAL (SELECT h.name FROM esxi_hosts h JOIN vcenter_instances v ON v.id = h.vcenter_id
                               WHERE h.moid = e.data ->> 'host' AND h.removed_at IS NULL
                                 AND (e.data ->> 'vcenter' IS NULL OR v.name = e.data ->> 'vcenter')
                               ORDER BY h.name LIMIT 1) h ON true
            WHERE e.data ->> 'kind' = 'gate_check'
              AND e.at >= coalesce($1::timestamptz, now() - interval '30 days')
              AND e.at < coalesce($2::timestamptz, now())
              AND ($3::text IS NULL OR j.type::text = $3) AND ($4::text IS NULL OR j.status::text = $4)
            ORDER BY e.at, e.id
            "#,
            needs_select_on: None,
        },
        Sheet {
            name: "Audit events",
            columns: &[
                time("At"),
                text("Login", 16.0),
                text("User", 22.0),
                text("Action", 22.0),
                text("Target type", 16.0),
                text("Target", 28.0),
                text("Details", 40.0),
            ],
            sql: r#"
            SELECT a.at, a.actor_login::text, u.email, a.action, a.target_type, a.target_id, a.data::text
            FROM audit_events a
            LEFT JOIN users u ON u.id = a.actor_user
            WHERE a.at >= coalesce($1::timestamptz, now() - interval '30 days')
              AND a.at < coalesce($2::timestamptz, now())
              AND ($3::text IS NULL OR true) AND ($4::text IS NULL OR true)
            ORDER BY a.at, a.id
            "#,
            needs_select_on: Some("audit_events"),
        },
    ],
    chart: Some(Chart {
        title: "Jobs by status",
        sql: r#"
        SELECT j.status::text, count(*)::float8
        FROM jobs j
        WHERE j.created_at >= coalesce($1::timestamptz, now() - interval '30 days')
          AND j.created_at < coalesce($2::timestamptz, now())
          AND ($3::text IS NULL OR j.type::text = $3) AND ($4::text IS NULL OR j.status::text = $4)
        GROUP BY 1 ORDER BY 2 DESC, 1
        "#,
    }),
};

// ---------------------------------------------------------------------------------
// Names and dates only: never the username, the ciphertext or the last error text.
pub static CREDENTIAL_ROTATION: Report = Report {
    report_type: ReportType::CredentialRotation,
    title: "Credential rotation",
    description: "Service identities: when their credentials were rotated, when they are due, and who uses them",
    filters: &[
        Filter {
            key: "system",
            kind: FilterKind::Choice(&["vcenter", "idrac", "ome", "other"]),
            help: "external system",
        },
        Filter { key: "overdue", kind: FilterKind::Bool, help: "true: only identities past their rotation date" },
    ],
    sheets: &[Sheet {
        name: "Service identities",
        columns: &[
            text("Name", 22.0),
            text("System", 10.0),
            time("Rotated at"),
            time("Rotation due"),
            int("Rotation period days"),
            flag("Overdue"),
            int("Days until due"),
            time("Last success"),
            time("Last failure"),
            text("Used by", 36.0),
        ],
        sql: r#"
        SELECT si.name, si.system::text, si.rotated_at, si.rotation_due, si.rotation_period_days::int8,
               coalesce(si.rotation_due < now(), false),
               floor(extract(epoch FROM si.rotation_due - now()) / 86400)::int8,
               si.last_success, si.last_failure, used.names
        FROM service_identities si
        LEFT JOIN LATERAL (
            SELECT string_agg(n, ', ' ORDER BY n) AS names FROM (
                SELECT 'vcenter ' || name AS n FROM vcenter_instances WHERE service_identity_id = si.id
                UNION ALL SELECT 'idrac ' || name FROM idrac_endpoints WHERE service_identity_id = si.id
                UNION ALL SELECT 'ome ' || name FROM ome_instances WHERE service_identity_id = si.id
            ) x
        ) used ON true
        WHERE ($1::text IS NULL OR si.system::text = $1)
          AND ($2::boolean IS NULL OR coalesce(si.rotation_due < now(), false) = $2)
        ORDER BY si.rotation_due NULLS LAST, si.name
        "#,
        needs_select_on: None,
    }],
    chart: Some(Chart {
        title: "Service identities by rotation state",
        sql: r#"
        SELECT CASE WHEN si.rotation_due IS NULL THEN 'no due date'
                    WHEN si.rotation_due < now() THEN 'overdue'
                    WHEN si.rotation_due < now() + interval '14 days' THEN 'due within 14 days'
                    ELSE 'on schedule' END, count(*)::float8
        FROM service_identities si
        WHERE ($1::text IS NULL OR si.system::text = $1)
          AND ($2::boolean IS NULL OR coalesce(si.rotation_due < now(), false) = $2)
        GROUP BY 1 ORDER BY 2 DESC, 1
        "#,
    }),
};
