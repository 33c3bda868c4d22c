//! Printing results for humans (aligned text) or scripts (`--json`, one document).
use eio_core::db::MigrationReport;
use eio_core::status::StatusPage;
use eio_core::Error;

fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::internal(e.to_string()))?;
    println!("{text}");
    Ok(())
}

pub fn migration(report: &MigrationReport, json: bool) -> Result<(), Error> {
    if json {
        return print_json(report);
    }
    if report.applied.is_empty() {
        println!(
            "{}: schema already at version {}.",
            report.target,
            report.version_after.map_or("none".into(), |v| v.to_string())
        );
    } else {
        println!("{}: applied {} migration(s):", report.target, report.applied.len());
        for m in &report.applied {
            println!("  {:>4}  {}", m.version, m.description);
        }
        println!("Schema now at version {}.", report.version_after.unwrap_or_default());
    }
    Ok(())
}

pub fn status(page: &StatusPage, json: bool) -> Result<(), Error> {
    if json {
        return print_json(page);
    }
    let c = &page.connection;
    println!("Database     {} (PostgreSQL {}, database {})", c.target, c.server_version, c.database);
    let roles = if c.roles.is_empty() { "no EIO role".to_owned() } else { c.roles.join(", ") };
    let user = match &c.user {
        Some(u) => format!(" → {} [{}]", u.email, u.role),
        None => String::new(),
    };
    println!("Login        {}{} ({roles}){user}", c.login, if c.superuser { " (superuser)" } else { "" });
    let s = &page.schema;
    println!(
        "Schema       version {} of {}{}",
        s.applied_version.map_or("none".into(), |v| v.to_string()),
        s.latest_version,
        if s.up_to_date { " (up to date)".to_owned() } else { format!(" ({} pending)", s.pending.len()) }
    );
    if let Some(n) = page.pending_approvals {
        println!("Approvals    {n} pending");
    }
    if let Some(k) = &page.kill_switch {
        println!(
            "Kill switch  {}",
            if k.engaged {
                format!("ENGAGED{}", k.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())
            } else {
                "off".into()
            }
        );
    }
    if !page.tables.is_empty() {
        let width = page.tables.keys().map(|k| k.len()).max().unwrap_or(5).max(5);
        println!("\n{:<width$}  {:>10}", "Table", "Rows");
        for (name, rows) in &page.tables {
            println!("{name:<width$}  {rows:>10}");
        }
    }
    if !page.warnings.is_empty() {
        println!();
        for w in &page.warnings {
            println!("warning: {w}");
        }
    }
    Ok(())
}
