//! The README's first command: the quickstart example runs, prints each feature, exits 0.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn example() -> PathBuf {
    common::example("quickstart")
}

#[test]
fn quickstart_runs_and_shows_every_feature() {
    let out = Command::new(example()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for expected in [
        "migrated   20240101000000_create_user_schema.sql",
        "seeded     dev users",
        "inserted   ",
        "found      Margaret Hamilton",
        "query      admins and members: Ada Lovelace, Grace Hopper, Margaret Hamilton",
        "updated    role admin bio \"Apollo flight software\"",
        "deleted    hidden from find: true; soft-deleted rows: 1",
        "restored   live users: 4",
        "caught     unique_violation on users_email_key -> HTTP 409 (Key (email)=(ada@example.com) already exists.)",
        "done",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
}
