//! `migrate status`: one line per migration (or JSON), and for CI an exit code that fails on
//! anything not applied as the files say.

use std::path::Path;

use skelly_db::migrate::{MigrationError, MigrationState, MigrationStatus};

/// Prints the states, with the files that do not parse as invalid; with `exit_code`, an error
/// (exit 1) when any migration is invalid, pending, changed, missing or in progress.
pub(crate) fn print(
    statuses: &[MigrationStatus],
    invalid: &[MigrationError],
    dir: &Path,
    json: bool,
    exit_code: bool,
) -> Result<(), String> {
    let invalid: Vec<(String, String)> = invalid
        .iter()
        .map(|e| match e {
            MigrationError::Parse {
                file: Some(file), ..
            } => (file.clone(), e.to_string()),
            other => (String::new(), other.to_string()),
        })
        .collect();
    // An applied file that no longer parses is invalid, not missing.
    let statuses: Vec<&MigrationStatus> = statuses
        .iter()
        .filter(|s| !invalid.iter().any(|(id, _)| *id == s.id))
        .collect();
    if json {
        let mut list: Vec<serde_json::Value> = statuses.iter().map(|s| to_json(s)).collect();
        list.extend(invalid.iter().map(
            |(id, error)| serde_json::json!({ "id": id, "state": "invalid", "error": error }),
        ));
        println!("{}", serde_json::Value::Array(list));
    } else if statuses.is_empty() && invalid.is_empty() {
        println!("no migrations in {}", dir.display());
    } else {
        let mut lines: Vec<(&str, String)> =
            statuses.iter().map(|s| (s.id.as_str(), line(s))).collect();
        lines.extend(
            invalid
                .iter()
                .map(|(id, error)| (id.as_str(), format!("{:<24} {error}", "INVALID"))),
        );
        lines.sort_by(|a, b| skelly_db::migrate::compare_ids(a.0, b.0));
        for (_, line) in lines {
            println!("{line}");
        }
    }
    let mut unsettled: Vec<String> = Vec::new();
    if !invalid.is_empty() {
        unsettled.push(format!("{} invalid", invalid.len()));
    }
    unsettled.extend(
        [
            (MigrationState::Pending, "pending"),
            (MigrationState::Changed, "changed"),
            (MigrationState::Missing, "missing"),
            (MigrationState::InProgress, "in progress"),
            (MigrationState::Failed, "failed"),
        ]
        .iter()
        .filter_map(|(state, name)| {
            let n = statuses.iter().filter(|s| s.state == *state).count();
            (n > 0).then(|| format!("{n} {name}"))
        }),
    );
    // A file that does not parse is an error whatever was asked: nothing can run until it is
    // fixed.
    if !invalid.is_empty() && !exit_code {
        return Err(format!(
            "{} migration file(s) invalid; fix them (each is listed above)",
            invalid.len()
        ));
    }
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
        MigrationState::Failed => "FAILED",
    }
}

fn line(s: &MigrationStatus) -> String {
    let mut line = format!("{:<24} {}", state_name(s), s.id);
    if let Some(f) = &s.failure {
        line.push_str(&format!(
            "  failed at statement {} of {}: {}",
            f.statement, f.of, f.error
        ));
        return line;
    }
    if let (Some(at), Some(took)) = (s.applied_at, s.execution_time) {
        line.push_str(&format!(
            "  applied {} in {} ms",
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            took.as_millis()
        ));
    }
    if s.no_down {
        line.push_str("  (no Down section)");
    } else if s.irreversible {
        line.push_str("  (irreversible: empty Down)");
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
        MigrationState::Failed => "failed",
    };
    serde_json::json!({
        "id": s.id,
        "state": state,
        "applied_at": s.applied_at.map(|t| t.to_rfc3339()),
        "execution_ms": s.execution_time.map(|d| d.as_millis() as u64),
        "irreversible": s.irreversible,
        "no_down": s.no_down,
        "out_of_order": s.out_of_order,
        "failed_at_statement": s.failure.as_ref().map(|f| f.statement),
        "error": s.failure.as_ref().map(|f| f.error.clone()),
    })
}
