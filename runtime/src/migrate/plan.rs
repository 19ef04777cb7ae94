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
    /// The time it took; -1 while a notransaction migration runs, -2 when one failed.
    pub(crate) execution_ms: i64,
    /// A notransaction migration's statements done (each committed by itself).
    pub(crate) statements_done: Option<i32>,
    /// Why a notransaction migration failed.
    pub(crate) error: Option<String>,
    /// Who holds a claim (-1): host, process and runner id.
    pub(crate) runner: Option<String>,
    /// A claim (-1) whose runner died in the middle (the staleness rule of the history).
    pub(crate) runner_gone: bool,
}

impl HistoryRow {
    /// A notransaction migration that failed half way, or whose runner died in it.
    pub(crate) fn is_failed(&self) -> bool {
        self.execution_ms == FAILED || (self.execution_ms < 0 && self.runner_gone)
    }
}

/// `execution_ms` of a notransaction migration that failed half way.
pub(crate) const FAILED: i64 = -2;

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

/// What a plan runs, and why it stops early when it does: `down N` reverts the migrations
/// before an irreversible (or file-less) one, then stops with this error.
#[derive(Debug)]
pub(crate) struct Plan<'m> {
    pub(crate) steps: Vec<Step<'m>>,
    pub(crate) stop: Option<MigrationError>,
}

/// Every migration with its state, files and history rows together, in migration order.
/// With `allow_empty_down`, an empty Down reverts as a no-op: nothing is irreversible.
pub(crate) fn statuses(
    migrations: &[Migration],
    history: &[HistoryRow],
    allow_empty_down: bool,
) -> Vec<MigrationStatus> {
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
                Some(r) if r.is_failed() => MigrationState::Failed,
                Some(r) if r.checksum != m.checksum() => MigrationState::Changed,
                Some(r) if r.execution_ms < 0 => MigrationState::InProgress,
                Some(_) => MigrationState::Applied,
            };
            MigrationStatus {
                id: m.id().to_string(),
                state,
                applied_at: row.map(|r| r.applied_at),
                execution_time: row.map(|r| ms(r.execution_ms)),
                irreversible: !allow_empty_down && m.is_irreversible(),
                no_down: !m.has_down_marker(),
                failure: row.and_then(|r| failure(r, m)),
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
                no_down: false,
                out_of_order: false,
                failure: None,
            });
        }
    }
    out.sort_by(|a, b| compare_ids(&a.id, &b.id));
    out
}

/// The steps `request` takes from here, or why it must not start: a file without a Down
/// marker (unless `allow_empty_down`), applied files that changed or disappeared (for up and
/// redo), an unknown target, or a redo of an irreversible migration. A down that meets an
/// irreversible or file-less migration plans the steps before it and the error to stop with.
pub(crate) fn plan<'m>(
    migrations: &'m [Migration],
    history: &[HistoryRow],
    request: Request<'_>,
    allow_empty_down: bool,
) -> Result<Plan<'m>, MigrationError> {
    check_failed(migrations, history)?;
    if !allow_empty_down {
        if let Some(m) = migrations.iter().find(|m| !m.has_down_marker()) {
            return Err(MigrationError::MissingDown {
                file: m.id().to_string(),
            });
        }
    }
    let step = |migration, direction| Step {
        migration,
        direction,
    };
    let all = |steps: Vec<Step<'m>>| Plan { steps, stop: None };
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
            let mut steps: Vec<Step<'m>> = migrations
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
                .collect();
            // A Go migration cannot run: the ones before it do, then up stops there.
            let stop = steps.iter().position(|s| s.migration.is_go()).map(|at| {
                let file = steps[at].migration.id().to_string();
                steps.truncate(at);
                MigrationError::GoMigration { file }
            });
            if let Some(empty) = steps
                .iter()
                .find(|s| s.migration.parsed().up.statements.is_empty())
            {
                return Err(MigrationError::EmptyUp {
                    file: empty.migration.id().to_string(),
                });
            }
            Ok(Plan { steps, stop })
        }
        Request::Down(steps) => {
            let (targets, stop) = down_targets(migrations, history, steps, allow_empty_down);
            // A Down edited since its migration was applied would run as edited: refused, as
            // up refuses (other files' changes are not down's business).
            let changed: Vec<String> = targets
                .iter()
                .filter(|m| {
                    history
                        .iter()
                        .any(|r| r.id == m.id() && r.checksum != m.checksum())
                })
                .map(|m| format!("{} was changed after it was applied", m.id()))
                .collect();
            if !changed.is_empty() {
                return Err(MigrationError::Diverged { problems: changed });
            }
            Ok(Plan {
                steps: targets
                    .into_iter()
                    .map(|m| step(m, Direction::Down))
                    .collect(),
                stop,
            })
        }
        Request::Redo => {
            check_diverged(migrations, history)?;
            match down_targets(migrations, history, 1, allow_empty_down) {
                (_, Some(stop)) => Err(stop),
                (targets, None) => Ok(all(targets
                    .into_iter()
                    .flat_map(|m| [step(m, Direction::Down), step(m, Direction::Up)])
                    .collect())),
            }
        }
    }
}

/// Nothing runs while a notransaction migration is failed half way: the error says which,
/// where it stopped and what to do.
pub(crate) fn check_failed(
    migrations: &[Migration],
    history: &[HistoryRow],
) -> Result<(), MigrationError> {
    let Some(r) = history.iter().find(|r| r.is_failed()) else {
        return Ok(());
    };
    let m = migrations.iter().find(|m| m.id() == r.id);
    let f = m.and_then(|m| failure(r, m));
    Err(MigrationError::FailedHalfWay {
        id: r.id.clone(),
        statement: f.as_ref().map_or(0, |f| f.statement),
        of: f.as_ref().map_or(0, |f| f.of),
        error: f.as_ref().map(|f| f.error.clone()).unwrap_or_default(),
    })
}

fn check_diverged(migrations: &[Migration], history: &[HistoryRow]) -> Result<(), MigrationError> {
    let problems: Vec<String> = statuses(migrations, history, true)
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

// The `steps` most recently applied migrations, the last applied first (an out-of-order
// migration applied last is reverted first); the ones before an irreversible or file-less
// migration, and the error to stop with there.
fn down_targets<'m>(
    migrations: &'m [Migration],
    history: &[HistoryRow],
    steps: usize,
    allow_empty_down: bool,
) -> (Vec<&'m Migration>, Option<MigrationError>) {
    let mut applied: Vec<&HistoryRow> = history.iter().collect();
    applied.sort_by(|a, b| {
        b.applied_at
            .cmp(&a.applied_at)
            .then_with(|| compare_ids(&b.id, &a.id))
    });
    let mut targets = Vec::new();
    for row in applied.into_iter().take(steps) {
        let Some(m) = migrations.iter().find(|m| m.id() == row.id) else {
            let stop = MigrationError::MissingFile { id: row.id.clone() };
            return (targets, Some(stop));
        };
        if m.is_go() {
            let stop = MigrationError::GoMigration {
                file: row.id.clone(),
            };
            return (targets, Some(stop));
        }
        if m.is_irreversible() && !allow_empty_down {
            let stop = MigrationError::Irreversible {
                id: row.id.clone(),
                reverted: targets.len(),
            };
            return (targets, Some(stop));
        }
        targets.push(m);
    }
    (targets, None)
}

// Where a failed notransaction migration stopped: the statement that failed (1-based) of how
// many, and the error.
fn failure(r: &HistoryRow, m: &Migration) -> Option<super::Failure> {
    let done = r.statements_done.unwrap_or(0).max(0) as usize;
    r.is_failed().then(|| super::Failure {
        statement: done + 1,
        of: m.parsed().up.statements.len(),
        error: r.error.clone().unwrap_or_else(|| {
            format!("its runner's session ended during it, after {done} statement(s)")
        }),
    })
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
            statements_done: None,
            error: None,
            runner: None,
            runner_gone: false,
        }
    }

    fn changed(id: &str) -> HistoryRow {
        HistoryRow {
            id: id.to_string(),
            checksum: "0".repeat(64),
            applied_at: DateTime::UNIX_EPOCH,
            execution_ms: 1,
            statements_done: None,
            error: None,
            runner: None,
            runner_gone: false,
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
        let s = statuses(&set, &history, false);
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
        assert!(!s[4].no_down, "an empty Down is there, only empty");
        assert_eq!(s[0].execution_time, Some(Duration::from_millis(7)));
        assert_eq!(s[2].applied_at, None);
    }

    #[test]
    fn numbers_order_before_names() {
        let set = files(&["10_b.sql", "9_a.sql"]);
        let mut set = set;
        set.sort_by(|a, b| compare_ids(a.id(), b.id()));
        let plan = plan(&set, &[], Request::Up(None), false).unwrap();
        assert_eq!(steps(&plan.steps), ups(&["9_a.sql", "10_b.sql"]));
    }

    #[test]
    fn up_applies_every_pending_migration_in_order_out_of_order_ones_included() {
        let set = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let history = vec![applied(&set[0]), applied(&set[2])];
        let plan = plan(&set, &history, Request::Up(None), false).unwrap();
        assert_eq!(steps(&plan.steps), ups(&["2_b.sql"]));
        assert!(
            super::plan(&set, &[], Request::Up(None), false)
                .unwrap()
                .steps
                .len()
                == 3
        );
        let all: Vec<_> = set.iter().map(applied).collect();
        assert!(super::plan(&set, &all, Request::Up(None), false)
            .unwrap()
            .steps
            .is_empty());
    }

    #[test]
    fn up_to_stops_at_the_target_and_rejects_an_unknown_one() {
        let set = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let plan = plan(&set, &[], Request::Up(Some("2_b.sql")), false).unwrap();
        assert_eq!(steps(&plan.steps), ups(&["1_a.sql", "2_b.sql"]));
        let err = super::plan(&set, &[], Request::Up(Some("2_x.sql")), false).unwrap_err();
        assert!(matches!(err, MigrationError::UnknownTarget { ref target } if target == "2_x.sql"));
    }

    #[test]
    fn up_and_redo_refuse_changed_or_missing_files_and_down_only_its_own() {
        let set = files(&["1_a.sql", "2_b.sql"]);
        let history = vec![changed("1_a.sql"), applied(&set[1]), changed("0_gone.sql")];
        for request in [Request::Up(None), Request::Redo] {
            match plan(&set, &history, request, false).unwrap_err() {
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
        let planned = plan(&set, &history, Request::Down(1), false).unwrap();
        assert_eq!(
            steps(&planned.steps),
            [("2_b.sql".to_string(), Direction::Down)]
        );
        // Down of both would run 1_a's edited Down: refused, naming it.
        match plan(&set, &history, Request::Down(2), false).unwrap_err() {
            MigrationError::Diverged { problems } => {
                assert_eq!(problems, ["1_a.sql was changed after it was applied"])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn up_refuses_a_pending_migration_with_an_empty_up() {
        let mut set = files(&["1_a.sql"]);
        set.push(
            Migration::new(
                "2_new.sql",
                "-- +migrate Up\n-- write the migration here\n\n-- +migrate Down\nSELECT 1;\n",
            )
            .unwrap(),
        );
        match plan(&set, &[], Request::Up(None), false).unwrap_err() {
            MigrationError::EmptyUp { file } => assert_eq!(file, "2_new.sql"),
            other => panic!("{other:?}"),
        }
        // Applied already (an old empty file): nothing to refuse.
        let history = vec![applied(&set[0]), applied(&set[1])];
        assert!(plan(&set, &history, Request::Up(None), false)
            .unwrap()
            .steps
            .is_empty());
    }

    #[test]
    fn down_reverts_the_newest_first_and_stops_at_what_is_applied() {
        let set = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let history: Vec<_> = set.iter().map(applied).collect();
        let plan = plan(&set, &history, Request::Down(2), false).unwrap();
        let down = |id: &str| (id.to_string(), Direction::Down);
        assert_eq!(steps(&plan.steps), [down("3_c.sql"), down("2_b.sql")]);
        let plan = super::plan(&set, &history, Request::Down(10), false).unwrap();
        assert_eq!(plan.steps.len(), 3);
        assert!(super::plan(&set, &[], Request::Down(1), false)
            .unwrap()
            .steps
            .is_empty());
        assert!(super::plan(&set, &history, Request::Down(0), false)
            .unwrap()
            .steps
            .is_empty());
    }

    #[test]
    fn down_reverts_up_to_an_irreversible_or_missing_file_then_stops() {
        let set = vec![
            file("1_a.sql", "SELECT 1;\n"),
            file("2_b.sql", ""),
            file("3_c.sql", "SELECT 1;\n"),
        ];
        let history: Vec<_> = set.iter().map(applied).collect();
        // Two steps would pass the irreversible 2_b: 3_c is reverted, then it stops.
        let planned = plan(&set, &history, Request::Down(2), false).unwrap();
        assert_eq!(
            steps(&planned.steps),
            [("3_c.sql".to_string(), Direction::Down)]
        );
        assert!(matches!(
            planned.stop,
            Some(MigrationError::Irreversible { ref id, reverted: 1 }) if id == "2_b.sql"
        ));
        // Allowed, an empty Down reverts as a no-op.
        let planned = plan(&set, &history, Request::Down(3), true).unwrap();
        assert_eq!(planned.steps.len(), 3);
        assert!(planned.stop.is_none());

        let mut history = history;
        history.push(changed("4_gone.sql"));
        let planned = plan(&set, &history, Request::Down(1), false).unwrap();
        assert!(planned.steps.is_empty());
        assert!(
            matches!(planned.stop, Some(MigrationError::MissingFile { ref id }) if id == "4_gone.sql")
        );
    }

    #[test]
    fn down_reverts_in_the_order_of_application() {
        let set = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let at = |id: &str, secs: i64| HistoryRow {
            applied_at: DateTime::from_timestamp(secs, 0).unwrap(),
            ..applied(set.iter().find(|m| m.id() == id).unwrap())
        };
        // 2_b was applied out of order, after 3_c: it is reverted first.
        let history = vec![at("1_a.sql", 10), at("3_c.sql", 20), at("2_b.sql", 30)];
        let planned = plan(&set, &history, Request::Down(2), false).unwrap();
        let down = |id: &str| (id.to_string(), Direction::Down);
        assert_eq!(steps(&planned.steps), [down("2_b.sql"), down("3_c.sql")]);
    }

    #[test]
    fn a_file_without_down_is_refused_unless_allowed() {
        let set = vec![
            file("1_a.sql", "SELECT 1;\n"),
            Migration::new("2_b.sql", "-- +migrate Up\nSELECT 2;\n").unwrap(),
        ];
        for request in [Request::Up(None), Request::Down(1), Request::Redo] {
            let err = plan(&set, &[], request, false).unwrap_err();
            assert!(matches!(err, MigrationError::MissingDown { ref file } if file == "2_b.sql"));
        }
        let planned = plan(&set, &[], Request::Up(None), true).unwrap();
        assert_eq!(planned.steps.len(), 2);
        let history: Vec<_> = set.iter().map(applied).collect();
        assert_eq!(
            plan(&set, &history, Request::Down(2), true)
                .unwrap()
                .steps
                .len(),
            2
        );
        assert!(!statuses(&set, &history, true)[1].irreversible);
        assert!(statuses(&set, &history, false)[1].irreversible);
    }

    #[test]
    fn a_claimed_migration_is_in_progress_and_up_still_plans_it() {
        let set = files(&["1_a.sql", "2_b.sql"]);
        let mut claim = applied(&set[1]);
        claim.execution_ms = -1;
        let history = vec![applied(&set[0]), claim];
        let s = statuses(&set, &history, false);
        assert_eq!(s[1].state, MigrationState::InProgress);
        let plan = plan(&set, &history, Request::Up(None), false).unwrap();
        assert_eq!(steps(&plan.steps), ups(&["2_b.sql"]));
    }

    #[test]
    fn redo_reverts_and_reapplies_the_newest() {
        let set = files(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let history = vec![applied(&set[0]), applied(&set[1])];
        let plan = plan(&set, &history, Request::Redo, false).unwrap();
        assert_eq!(
            steps(&plan.steps),
            [
                ("2_b.sql".to_string(), Direction::Down),
                ("2_b.sql".to_string(), Direction::Up)
            ]
        );
        assert!(super::plan(&set, &[], Request::Redo, false)
            .unwrap()
            .steps
            .is_empty());
        let set = vec![file("1_a.sql", "")];
        let history = vec![applied(&set[0])];
        let err = super::plan(&set, &history, Request::Redo, false).unwrap_err();
        assert!(matches!(err, MigrationError::Irreversible { .. }));
    }
}
