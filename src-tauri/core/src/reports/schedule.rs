//! Report schedules: cron expressions, and turning due definitions into `report` jobs.
//!
//! Owns parsing and validating schedules (standard five-field cron — minute, hour, day of
//! month, month, day of week — or `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly`, with
//! `L`, `W` and `#` as croner offers them; evaluated in UTC) and [`enqueue_due`], which the
//! job engine calls on every instance. It must never create a second job for the same
//! due time of a definition, however many instances call it at once: the definition row
//! is claimed with `FOR UPDATE SKIP LOCKED` and advanced in the same transaction, and the
//! job's idempotency key (`report:<definition id>:<due time>`) makes a duplicate insert a
//! no-op. It never runs a report itself: the job engine does, through
//! [`super::run_job`].
use chrono::{DateTime, SecondsFormat, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use uuid::Uuid;

use super::ReportType;
use crate::error::{Error, Result};
use crate::jobs::{JobSpec, ReportTarget};
use crate::Database;

/// A validated cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    text: String,
}

/// Parse and validate a cron expression.
pub fn parse(expression: &str) -> Result<Schedule> {
    let text = expression.trim();
    let cron =
        CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build().parse(text).map_err(|e| {
            Error::invalid(format!(
                "schedule \"{text}\" is not a valid cron expression ({e}); use five fields \
                 (minute hour day-of-month month day-of-week, e.g. \"0 6 * * 1\" for Mondays at 06:00 UTC) or @daily"
            ))
        })?;
    let schedule = Schedule { cron, text: text.to_owned() };
    // A pattern that never fires (30 February) is as wrong as a syntax error.
    schedule.next_after(Utc::now())?;
    Ok(schedule)
}

impl Schedule {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first time strictly after `t` (UTC) the schedule fires.
    pub fn next_after(&self, t: DateTime<Utc>) -> Result<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t, false)
            .map_err(|e| Error::invalid(format!("schedule \"{}\" never fires after {t}: {e}", self.text)))
    }

    /// In words ("At 06:00 on Monday"), for listings.
    pub fn describe(&self) -> String {
        self.cron.describe()
    }
}

/// The idempotency key of the job for one due time of one definition.
pub fn job_key(definition: Uuid, due: DateTime<Utc>) -> String {
    format!("report:{definition}:{}", due.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// A definition [`enqueue_due`] found due, as it claimed it.
#[derive(sqlx::FromRow)]
struct DueDefinition {
    id: Uuid,
    name: String,
    schedule: String,
    #[sqlx(rename = "type")]
    report_type: ReportType,
    next_run_at: DateTime<Utc>,
}

/// For every enabled definition whose `next_run_at` is due: advance `next_run_at` to the
/// next cron time after now (missed runs collapse into one) and create exactly one
/// `report` job for the due time: its target is the [`JobSpec::Report`] naming the
/// definition (what `eio job submit` writes too), its params `{"definition_id", "due_at"}`
/// pin the definition and name the files after the due time. Returns the ids of the jobs
/// this call created (empty when another instance got there first). Runs as a worker
/// login (it inserts into `jobs`).
pub async fn enqueue_due(db: &Database) -> Result<Vec<Uuid>> {
    let mut tx = db.pool().begin().await?;
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()").fetch_one(&mut *tx).await?;
    let due = sqlx::query_as::<_, DueDefinition>(
        r#"
        SELECT id, name, schedule, type, next_run_at
        FROM report_definitions
        WHERE enabled AND schedule IS NOT NULL AND next_run_at <= now()
        ORDER BY next_run_at, id
        FOR UPDATE SKIP LOCKED
        "#,
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| Error::from(e).context("claiming due report definitions"))?;

    let mut created = Vec::new();
    for DueDefinition { id, name, schedule: expression, report_type, next_run_at: due_at } in due {
        let next = match parse(&expression).and_then(|s| s.next_after(now)) {
            Ok(next) => Some(next),
            Err(e) => {
                // Written past the application (psql): stop retrying it every tick.
                tracing::warn!(definition = %name, error = %e, "report schedule is invalid; not scheduling it again");
                None
            }
        };
        sqlx::query("UPDATE report_definitions SET next_run_at = $2 WHERE id = $1")
            .bind(id)
            .bind(next)
            .execute(&mut *tx)
            .await?;
        if next.is_none() {
            continue;
        }
        let due_text = due_at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let job: Option<Uuid> = sqlx::query_scalar("SELECT enqueue_system_job('report', $1, $2, $3, $4)")
            .bind(format!("Report {name} ({report_type}) due {due_text}"))
            .bind(JobSpec::Report(ReportTarget { definition: name.clone() }).to_target())
            .bind(serde_json::json!({ "definition_id": id, "due_at": due_text }))
            .bind(job_key(id, due_at))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| Error::from(e).context(format!("creating the job for report {name}")))?;
        created.extend(job);
    }
    tx.commit().await?;
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn five_fields_and_aliases_are_accepted() {
        let s = parse("0 6 * * 1").unwrap();
        let monday = Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 0).unwrap();
        assert_eq!(s.next_after(Utc.with_ymd_and_hms(2026, 2, 27, 12, 0, 0).unwrap()).unwrap(), monday);
        // Strictly after: the due time itself is not due again.
        assert_eq!(s.next_after(monday).unwrap(), monday + chrono::Duration::days(7));
        let daily = parse("@daily").unwrap();
        assert_eq!(
            daily.next_after(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn bad_schedules_are_refused_with_a_sentence() {
        for bad in ["", "every day", "61 * * * *", "0 0 6 * * 1", "* * *", "0 0 30 2 *"] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, crate::error::ErrorCode::InvalidInput, "{bad}: {}", e.message);
            assert!(e.message.contains("schedule"), "{}", e.message);
        }
    }

    #[test]
    fn the_job_key_names_definition_and_due_time() {
        let id = Uuid::nil();
        let due = Utc.with_ymd_and_hms(2026, 1, 31, 6, 0, 0).unwrap();
        assert_eq!(job_key(id, due), "report:00000000-0000-0000-0000-000000000000:2026-01-31T06:00:00Z");
    }
}
