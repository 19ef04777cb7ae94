//! What to run, computed from the files and the history rows alone: no I/O, so every case is
//! unit-tested without a database. The runner only executes the plan.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use skelly_db_migrate_format::compare_ids;

use super::source::Migration;
use super::{Direction, MigrationError, MigrationState, MigrationStatus};

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HistoryRow {
    pub(crate) id: String,
    pub(crate) checksum: String,
    pub(crate) applied_at: DateTime<Utc>,
    pub(crate) execution_ms: i64,
}

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request<'a> {
    /// Every pending migration, or those up to and including this one.
    Up(Option<&'a str>),
    /// Revert this many of the newest applied migrations.
    Down(usize),
    /// Revert the newest applied migration and apply it again.
    Redo,
}

/// One migration to run, one way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step<'m> {
    pub(crate) migration: &'m Migration,
    pub(crate) direction: Direction,
}

/// Every migration with its state, files and history rows together, in migration order.
pub(crate) fn statuses(migrations: &[Migration], history: &[HistoryRow]) -> Vec<MigrationStatus> {
    let by_id: HashMap<&str, &HistoryRow> = history.iter().map(|r| (r.id.as_str(), r)).collect();
    let newest_applied = history
        .iter()
        .map(|r| r.id.as_str())
        .max_by(|a, b| compare_ids(a, b));
    let mut out: Vec<MigrationStatus> = migrations
        .iter()
        .map(|m| {
            let row = by_id.get(m.id()).copied();
            let state = match row {
                None => MigrationState::Pending,
                Some(r) if r.checksum != m.checksum() => MigrationState::Changed,
                Some(r) if r.execution_ms < 0 => MigrationState::InProgress,
                Some(_) => MigrationState::Applied,
            };
            MigrationStatus {
                id: m.id().to_string(),
                state,
                applied_at: row.map(|r| r.applied_at),
                execution_time: row.map(|r| ms(r.execution_ms)),
                irreversible: m.is_irreversible(),
                out_of_order: row.is_none()
                    && newest_applied.is_some_and(|n| compare_ids(m.id(), n) == Ordering::Less),
            }
        })
        .collect();
    for row in history {
        if !migrations.iter().any(|m| m.id() == row.id) {
            out.push(MigrationStatus {
                id: row.id.clone(),
                state: MigrationState::Missing,
                applied_at: Some(row.applied_at),
                execution_time: Some(ms(row.execution_ms)),
                irreversible: false,
                out_of_order: false,
            });
        }
    }
    out.sort_by(|a, b| compare_ids(&a.id, &b.id));
    out
}

/// The steps `request` takes from here, or why it must not start: applied files that changed
/// or disappeared (for up and redo), an unknown target, or a down that would pass an
/// irreversible or file-less migration. Nothing is planned half: an error means no step.
pub(crate) fn plan<'m>(
    migrations: &'m [Migration],
    history: &[HistoryRow],
    request: Request<'_>,
) -> Result<Vec<Step<'m>>, MigrationError> {
    let step = |migration, direction| Step {
        migration,
        direction,
    };
    match request {
        Request::Up(target) => {
            if let Some(target) = target {
                if !migrations.iter().any(|m| m.id() == target) {
                    return Err(MigrationError::UnknownTarget {
                        target: target.to_string(),
                    });
                }
            }
            check_diverged(migrations, history)?;
            Ok(migrations
                .iter()
                .take_while(|m| target.is_none_or(|t| compare_ids(m.id(), t) != Ordering::Greater))
                // Not applied, or claimed by a runner that has not finished: the step waits
                // for that runner (or reports it) instead of passing it by.
                .filter(|m| {
                    !history
                        .iter()
                        .any(|r| r.id == m.id() && r.execution_ms >= 0)
                })
                .map(|m| step(m, Direction::Up))
                .collect())
        }
        Request::Down(steps) => Ok(down_targets(migrations, history, steps)?
            .into_iter()
            .map(|m| step(m, Direction::Down))
            .collect()),
        Request::Redo => {
            check_diverged(migrations, history)?;
            Ok(down_targets(migrations, history, 1)?
                .into_iter()
                .flat_map(|m| [step(m, Direction::Down), step(m, Direction::Up)])
                .collect())
        }
    }
}

fn check_diverged(migrations: &[Migration], history: &[HistoryRow]) -> Result<(), MigrationError> {
    let problems: Vec<String> = statuses(migrations, history)
        .iter()
        .filter_map(|s| match s.state {
            MigrationState::Changed => Some(format!("{} was changed after it was applied", s.id)),
            MigrationState::Missing => {
                Some(format!("{} was applied but its file is missing", s.id))
            }
            _ => None,
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(MigrationError::Diverged { problems })
    }
}

// The `steps` newest applied migrations, newest first; refuses when one is irreversible or has
// no file.
fn down_targets<'m>(
    migrations: &'m [Migration],
    history: &[HistoryRow],
    steps: usize,
) -> Result<Vec<&'m Migration>, MigrationError> {
    let mut applied: Vec<&str> = history.iter().map(|r| r.id.as_str()).collect();
    applied.sort_by(|a, b| compare_ids(b, a));
    applied
        .into_iter()
        .take(steps)
        .map(|id| {
            let m = migrations
                .iter()
                .find(|m| m.id() == id)
                .ok_or_else(|| MigrationError::MissingFile { id: id.to_string() })?;
            if m.is_irreversible() {
                return Err(MigrationError::Irreversible { id: id.to_string() });
            }
            Ok(m)
        })
        .collect()
}

fn ms(n: i64) -> Duration {
    Duration::from_millis(n.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(id: &str, down: &str) -> Migration {
        let source = format!("-- +migrate Up\nSELECT '{id}';\n-- +migrate Down\n{down}");
        Migration::new(id, &source).unwrap()
    }

    fn files(ids: &[&str]) -> Vec<Migration> {
        ids.iter().map(|id| file(id, "SELECT 1;\n")).collect()
    }

    fn applied(m: &Migration) -> HistoryRow {
        HistoryRow {
            id: m.id().to_string(),
            checksum: m.checksum().to_string(),
            applied_at: DateTime::UNIX_EPOCH,
            execution_ms: 7,
        }
    }

    fn changed(id: &str) -> HistoryRow {
        HistoryRow {
            id: id.to_string(),
            checksum: "0".repeat(64),
            applied_at: DateTime::UNIX_EPOCH,
            execution_ms: 1,
        }
    }

    fn steps(plan: &[Step<'_>]) -> Vec<(String, Direction)> {
        plan.iter()
            .map(|s| (s.migration.id().to_string(), s.direction))
            .collect()
    }

    fn ups(ids: &[&str]) -> Vec<(String, Direction)> {
        ids.iter()
            .map(|id| (id.to_string(), Direction::Up))
            .collect()
    }

    #[test]
    fn statuses_cover_applied_pending_changed_missing_out_of_order_irreversible() {
        let mut set = files(&["1_a.sql", "2_b.sql", "3_c.sql", "4_d.sql"]);
        set.push(file("5_e.sql", ""));
        let history = vec![
            applied(&set[0]),
            changed("2_b.sql"),
            applied(&set[3]),
            changed("9_gone.sql"),
        ];
        let s = statuses(&set, &history);
        let states: Vec<_> = s.iter().map(|s| (s.id.as_str(), s.state)).collect();
        assert_eq!(
            states,
            [
                ("1_a.sql", MigrationState::Applied),
                ("2_b.sql", MigrationState::Changed),
                ("3_c.sql", MigrationState::Pending),
                ("4_d.sql", MigrationState::Applied),
                ("5_e.sql", MigrationState::Pending),
                ("9_gone.sql", MigrationState::Missing),
            ]
        );
        // 3 is pending below the newest applied (9): out of order; so is 5, below 9.
        assert!(s[2].out_of_order && s[4].out_of_order && !s[0].out_of_order);
        assert!(s[4].irreversible && !s[0].irreversible);
        assert_eq!(s[0].execution_time, Some(Duration::from_millis(7)));
        assert_eq!(s[2].applied_at, None);
    }

    #[test]
    fn numbers_order_before_names() {
        let set = files(&["10_b.sql", "9_a.sql"]);
        let mut set = set;
        set.sort_by(|a, b| compare_ids(a.id(), b.id()));
        let plan = plan(&set, &[], Request::Up(None)).unwrap();
        assert_eq!(steps(&plan), ups(&["9_a.sql", "10_b.sql"]));
    }

    #[test]
    fn up_applies_every_pending_migration_in_order_out_of_order_ones_included() {
        let set = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let history = vec![applied(&set[0]), applied(&set[2])];
        let plan = plan(&set, &history, Request::Up(None)).unwrap();
        assert_eq!(steps(&plan), ups(&["2_b.sql"]));
        assert!(super::plan(&set, &[], Request::Up(None)).unwrap().len() == 3);
        let all: Vec<_> = set.iter().map(applied).collect();
        assert!(super::plan(&set, &all, Request::Up(None))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn up_to_stops_at_the_target_and_rejects_an_unknown_one() {
        let set = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let plan = plan(&set, &[], Request::Up(Some("2_b.sql"))).unwrap();
        assert_eq!(steps(&plan), ups(&["1_a.sql", "2_b.sql"]));
        let err = super::plan(&set, &[], Request::Up(Some("2_x.sql"))).unwrap_err();
        assert!(matches!(err, MigrationError::UnknownTarget { ref target } if target == "2_x.sql"));
    }

    #[test]
    fn up_and_redo_refuse_changed_or_missing_files_and_down_does_not() {
        let set = files(&["1_a.sql", "2_b.sql"]);
        let history = vec![changed("1_a.sql"), applied(&set[1]), changed("0_gone.sql")];
        for request in [Request::Up(None), Request::Redo] {
            match plan(&set, &history, request).unwrap_err() {
                MigrationError::Diverged { problems } => assert_eq!(
                    problems,
                    [
                        "0_gone.sql was applied but its file is missing",
                        "1_a.sql was changed after it was applied"
                    ]
                ),
                other => panic!("{other:?}"),
            }
        }
        // Down of the newest (2_b) is fine: its file is as applied.
        let plan = plan(&set, &history, Request::Down(1)).unwrap();
        assert_eq!(steps(&plan), [("2_b.sql".to_string(), Direction::Down)]);
    }

    #[test]
    fn down_reverts_the_newest_first_and_stops_at_what_is_applied() {
        let set = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let history: Vec<_> = set.iter().map(applied).collect();
        let plan = plan(&set, &history, Request::Down(2)).unwrap();
        let down = |id: &str| (id.to_string(), Direction::Down);
        assert_eq!(steps(&plan), [down("3_c.sql"), down("2_b.sql")]);
        let plan = super::plan(&set, &history, Request::Down(10)).unwrap();
        assert_eq!(plan.len(), 3);
        assert!(super::plan(&set, &[], Request::Down(1)).unwrap().is_empty());
        assert!(super::plan(&set, &history, Request::Down(0))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn down_refuses_before_reverting_anything_past_an_irreversible_or_missing_file() {
        let set = vec![
            file("1_a.sql", "SELECT 1;\n"),
            file("2_b.sql", ""),
            file("3_c.sql", "SELECT 1;\n"),
        ];
        let history: Vec<_> = set.iter().map(applied).collect();
        // One step is fine; two would pass the irreversible 2_b: nothing is planned.
        assert_eq!(plan(&set, &history, Request::Down(1)).unwrap().len(), 1);
        let err = plan(&set, &history, Request::Down(2)).unwrap_err();
        assert!(matches!(err, MigrationError::Irreversible { ref id } if id == "2_b.sql"));

        let mut history = history;
        history.push(changed("4_gone.sql"));
        let err = plan(&set, &history, Request::Down(1)).unwrap_err();
        assert!(matches!(err, MigrationError::MissingFile { ref id } if id == "4_gone.sql"));
    }

    #[test]
    fn a_claimed_migration_is_in_progress_and_up_still_plans_it() {
        let set = files(&["1_a.sql", "2_b.sql"]);
        let mut claim = applied(&set[1]);
        claim.execution_ms = -1;
        let history = vec![applied(&set[0]), claim];
        let s = statuses(&set, &history);
        assert_eq!(s[1].state, MigrationState::InProgress);
        let plan = plan(&set, &history, Request::Up(None)).unwrap();
        assert_eq!(steps(&plan), ups(&["2_b.sql"]));
    }

    #[test]
    fn redo_reverts_and_reapplies_the_newest() {
        let set = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let history = vec![applied(&set[0]), applied(&set[1])];
        let plan = plan(&set, &history, Request::Redo).unwrap();
        assert_eq!(
            steps(&plan),
            [
                ("2_b.sql".to_string(), Direction::Down),
                ("2_b.sql".to_string(), Direction::Up)
            ]
        );
        assert!(super::plan(&set, &[], Request::Redo).unwrap().is_empty());
        let set = vec![file("1_a.sql", "")];
        let history = vec![applied(&set[0])];
        let err = super::plan(&set, &history, Request::Redo).unwrap_err();
        assert!(matches!(err, MigrationError::Irreversible { .. }));
    }
}
