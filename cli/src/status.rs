//! `migrate status`: one line per migration (or JSON), and for CI an exit code that fails on
//! anything not applied as the files say.

use std::path::Path;

use skelly_db::migrate::{MigrationState, MigrationStatus};

/// Prints the states; with `exit_code`, an error (exit 1) when any migration is pending,
/// changed, missing or in progress.
pub(crate) fn print(
    statuses: &[MigrationStatus],
    dir: &Path,
    json: bool,
    exit_code: bool,
) -> Result<(), String> {
    if json {
        let list: Vec<serde_json::Value> = statuses.iter().map(to_json).collect();
        println!("{}", serde_json::Value::Array(list));
    } else if statuses.is_empty() {
        println!("no migrations in {}", dir.display());
    } else {
        for s in statuses {
            println!("{}", line(s));
        }
    }
    let unsettled: Vec<String> = [
        (MigrationState::Pending, "pending"),
        (MigrationState::Changed, "changed"),
        (MigrationState::Missing, "missing"),
        (MigrationState::InProgress, "in progress"),
    ]
    .iter()
    .filter_map(|(state, name)| {
        let n = statuses.iter().filter(|s| s.state == *state).count();
        (n > 0).then(|| format!("{n} {name}"))
    })
    .collect();
    if exit_code && !unsettled.is_empty() {
        return Err(format!(
            "migrations are not as the files say: {}",
            unsettled.join(", ")
        ));
    }
    Ok(())
}

fn state_name(s: &MigrationStatus) -> &'static str {
    match s.state {
        MigrationState::Applied => "applied",
        MigrationState::Pending if s.out_of_order => "pending (out of order)",
        MigrationState::Pending => "pending",
        MigrationState::Changed => "CHANGED since applied",
        MigrationState::Missing => "MISSING file",
        MigrationState::InProgress => "IN PROGRESS elsewhere",
    }
}

fn line(s: &MigrationStatus) -> String {
    let mut line = format!("{:<24} {}", state_name(s), s.id);
    if let (Some(at), Some(took)) = (s.applied_at, s.execution_time) {
        line.push_str(&format!(
            "  applied {} in {} ms",
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            took.as_millis()
        ));
    }
    if s.irreversible {
        line.push_str("  (irreversible)");
    }
    line
}

fn to_json(s: &MigrationStatus) -> serde_json::Value {
    let state = match s.state {
        MigrationState::Applied => "applied",
        MigrationState::Pending => "pending",
        MigrationState::Changed => "changed",
        MigrationState::Missing => "missing",
        MigrationState::InProgress => "in_progress",
    };
    serde_json::json!({
        "id": s.id,
        "state": state,
        "applied_at": s.applied_at.map(|t| t.to_rfc3339()),
        "execution_ms": s.execution_time.map(|d| d.as_millis() as u64),
        "irreversible": s.irreversible,
        "out_of_order": s.out_of_order,
    })
}
