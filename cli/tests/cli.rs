//! The `skelly-db` binary end to end: spawned as a process against a real server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use skelly_db::testing::TestDb;
use skelly_db::Executor;

fn skelly(args: &[&str], url: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skelly-db"));
    cmd.args(args).env_remove("DATABASE_URL");
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().expect("run skelly-db")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skelly-cli-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

#[tokio::test]
async fn migrate_up_status_down_redo() {
    let db = TestDb::new().await.unwrap();
    let url = db.url();
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    write(
        &dir,
        "1_a.sql",
        "-- +migrate Up\nCREATE TABLE a (n int);\n-- +migrate Down\nDROP TABLE a;\n",
    );
    write(
        &dir,
        "2_b.sql",
        "-- +migrate Up\nCREATE TABLE b (n int);\n-- +migrate Down\n",
    );

    let out = skelly(&["migrate", "status", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("pending") && stdout.contains("1_a.sql"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("2_b.sql") && l.contains("(irreversible: empty Down)")),
        "{stdout}"
    );

    let out = skelly(&["migrate", "up", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    // A line as each migration starts and as it ends.
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(lines[0], "applying 1_a.sql ...");
    assert!(
        lines[1].starts_with("applied  1_a.sql (") && lines[1].ends_with(" ms)"),
        "{stdout}"
    );
    assert_eq!(lines[2], "applying 2_b.sql ...");
    assert!(lines[3].starts_with("applied  2_b.sql ("), "{stdout}");

    let out = skelly(&["migrate", "up", "--dir", d], Some(&url));
    assert_eq!(text(&out.stdout).trim(), "up to date");

    let out = skelly(&["migrate", "status", "--dir", d], Some(&url));
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().all(|l| l.starts_with("applied ")),
        "{stdout}"
    );
    assert!(stdout.contains(" UTC in "), "{stdout}");

    // The newest is irreversible: down refuses, with the reason on stderr and a failing exit.
    let out = skelly(&["migrate", "down", "--dir", d], Some(&url));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: migration 2_b.sql is irreversible"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Make it reversible; then down 2 and redo work.
    write(
        &dir,
        "2_b.sql",
        "-- +migrate Up\nCREATE TABLE b (n int);\n-- +migrate Down\nDROP TABLE b;\n",
    );
    let out = skelly(&["--help"], None);
    assert!(text(&out.stdout).contains("migrate"));
    // The file changed after it was applied: down refuses to run the edited Down (issue 24)
    // until the new checksum is recorded.
    let out = skelly(&["migrate", "down", "--dir", d], Some(&url));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("2_b.sql was changed after it was applied")
            && text(&out.stderr).contains("repair-checksums --yes"),
        "{}",
        text(&out.stderr)
    );
    let out = skelly(
        &["migrate", "repair-checksums", "--yes", "--dir", d],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = skelly(&["migrate", "down", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("reverting 2_b.sql ...\nreverted 2_b.sql ("),
        "{}",
        text(&out.stdout)
    );
    let out = skelly(&["migrate", "up", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = skelly(&["migrate", "redo", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("reverted 2_b.sql") && stdout.contains("applied  2_b.sql"),
        "{stdout}"
    );
    let out = skelly(&["migrate", "down", "2", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 4);

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn new_writes_a_timestamped_file_with_both_markers() {
    let dir = temp_dir();
    let out = skelly(
        &[
            "migrate",
            "new",
            "add_user_bio",
            "--dir",
            dir.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 1);
    let name = &names[0];
    assert!(name.ends_with("_add_user_bio.sql"), "{name}");
    let stamp = &name[..14];
    assert!(stamp.bytes().all(|b| b.is_ascii_digit()), "{name}");
    assert!(
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S").is_ok(),
        "{name}"
    );
    let body = std::fs::read_to_string(dir.join(name)).unwrap();
    let parsed = skelly_db::migrate::parse_migration(&body).unwrap();
    assert!(parsed.up.present && parsed.down.present);

    let out = skelly(
        &[
            "migrate",
            "new",
            "bad name!",
            "--dir",
            dir.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("invalid migration name `bad name!`"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 24: `migrate new` then `up` used to apply the empty file and record it as done; up
/// refuses until its Up has a statement, and applies it once written.
#[tokio::test]
async fn up_refuses_a_new_file_until_its_up_is_written() {
    let db = TestDb::new().await.unwrap();
    let url = db.url();
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    let out = skelly(&["migrate", "new", "add_t", "--dir", d], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = skelly(&["migrate", "up", "--dir", d], Some(&url));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the Up section has no statement"),
        "{}",
        text(&out.stderr)
    );
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let body = std::fs::read_to_string(&name).unwrap();
    let body = body.replacen(
        "-- +migrate Up\n",
        "-- +migrate Up\nCREATE TABLE t (n int);\n",
        1,
    );
    std::fs::write(&name, body).unwrap();
    let out = skelly(
        &["migrate", "up", "--allow-empty-down", "--dir", d],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    db.pool().batch_execute("SELECT n FROM t").await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn user_mistakes_are_errors_not_panics() {
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    write(
        &dir,
        "1_a.sql",
        "-- +migrate Up\nSELECT 1;\n-- +migrate DOWN\n",
    );

    let out = skelly(
        &["migrate", "up", "--dir", d],
        Some("postgres://postgres@127.0.0.1:1/x"),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: 1_a.sql: line 3: unknown migrate command `DOWN`; did you mean `Down`?"
    );

    write(
        &dir,
        "1_a.sql",
        "-- +migrate Up\nSELECT 1;\n-- +migrate Down\n",
    );
    let out = skelly(&["migrate", "up", "--dir", d], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("pass --database-url, or set DATABASE_URL or PGHOST"));

    let out = skelly(
        &[
            "migrate",
            "up",
            "--dir",
            d,
            "--database-url",
            "postgres://postgres@127.0.0.1:1/x",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: connection error"),
        "{}",
        text(&out.stderr)
    );

    let out = skelly(
        &["migrate", "up", "--dir", "/nonexistent/dir"],
        Some("postgres://x@127.0.0.1:1/x"),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("/nonexistent/dir"), "{stderr}");
    assert!(stderr.contains("set with --dir"), "{stderr}");

    for bad in ["10", "5 parsecs", "x"] {
        let out = skelly(&["migrate", "up", "--lock-timeout", bad, "--dir", d], None);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            text(&out.stderr).contains("500ms, 30s, 5m or 1h")
                || text(&out.stderr).contains("unit"),
            "{}",
            text(&out.stderr)
        );
    }

    let out = skelly(&["migrate", "sideways"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("panicked"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What operators and CI use: status exit codes and JSON, an empty directory, sql-migrate
/// sets with missing Downs under --allow-empty-down, adopting sql-migrate's history, and how
/// many migrations were committed when a later one fails.
#[tokio::test]
async fn operator_commands() {
    let db = TestDb::new().await.unwrap();
    let url = db.url();
    let dir = temp_dir();
    let d = dir.to_str().unwrap();

    let out = skelly(
        &["migrate", "status", "--exit-code", "--dir", d],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), format!("no migrations in {d}"));

    write(
        &dir,
        "1_a.sql",
        "-- +migrate Up\nCREATE TABLE a (n int);\n-- +migrate Down\nDROP TABLE a;\n",
    );
    write(
        &dir,
        "2_nodown.sql",
        "-- +migrate Up\nINSERT INTO a VALUES (1);\n",
    );
    // A file that does not parse: status lists it as invalid among the rest (and fails with
    // --exit-code); running is refused.
    write(
        &dir,
        "0_bad.sql",
        "-- +migrate Up\nSELECT 1\n-- +migrate Down\n",
    );
    let out = skelly(
        &["migrate", "status", "--exit-code", "--dir", d],
        Some(&url),
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("INVALID") && lines[0].contains("0_bad.sql: line 2:"),
        "{stdout}"
    );
    assert!(
        lines[1].contains("1_a.sql") && lines[2].contains("2_nodown.sql"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("1 invalid, 2 pending"),
        "{}",
        text(&out.stderr)
    );
    // Without --exit-code too, an invalid file fails status (issue 24); a file without a Down
    // marker is told from an empty Down.
    let out = skelly(&["migrate", "status", "--dir", d], Some(&url));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("1 migration file(s) invalid"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l.contains("2_nodown.sql") && l.contains("(no Down section)")),
        "{}",
        text(&out.stdout)
    );
    let out = skelly(&["migrate", "up", "--dir", d], Some(&url));
    assert!(
        text(&out.stderr).contains("0_bad.sql: line 2"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(dir.join("0_bad.sql")).unwrap();
    let out = skelly(&["migrate", "up", "--dir", d], Some(&url));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--allow-empty-down"),
        "{}",
        text(&out.stderr)
    );

    // sql-migrate made this history; adopting it records 1_a as applied.
    db.pool()
        .batch_execute(
            r#"create table if not exists "gorp_migrations" ("id" text not null primary key, "applied_at" timestamp with time zone);
               CREATE TABLE a (n int);
               INSERT INTO gorp_migrations VALUES ('1_a.sql', now());"#,
        )
        .await
        .unwrap();
    let out = skelly(&["migrate", "adopt", "sql-migrate", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("adopted  1_a.sql"),
        "{}",
        text(&out.stdout)
    );

    let out = skelly(
        &["migrate", "status", "--exit-code", "--dir", d],
        Some(&url),
    );
    assert_eq!(out.status.code(), Some(1), "2_nodown is pending");
    assert!(
        text(&out.stderr).contains("1 pending"),
        "{}",
        text(&out.stderr)
    );
    let out = skelly(&["migrate", "status", "--json", "--dir", d], Some(&url));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], "1_a.sql");
    assert_eq!(list[0]["state"], "applied");
    assert_eq!(list[1]["state"], "pending");
    assert_eq!(list[1]["irreversible"], true);

    let args = ["migrate", "up", "--allow-empty-down", "--dir", d];
    let out = skelly(&args, Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = skelly(
        &["migrate", "status", "--exit-code", "--dir", d],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = skelly(
        &["migrate", "down", "2", "--allow-empty-down", "--dir", d],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("reverted 2_nodown.sql"),
        "{}",
        text(&out.stdout)
    );

    // Dry runs print the statements and write nothing; baseline and unmark from the CLI.
    let args = [
        "migrate",
        "up",
        "--dry-run",
        "--allow-empty-down",
        "--dir",
        d,
    ];
    let out = skelly(&args, Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "-- would apply 1_a.sql (in a transaction)\nCREATE TABLE a (n int);\n\
         -- would apply 2_nodown.sql (in a transaction)\nINSERT INTO a VALUES (1);\n"
    );
    let out = skelly(&["migrate", "baseline", "1", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("recorded 1_a.sql"),
        "{}",
        text(&out.stdout)
    );
    // A path names the migration as well as its bare name (issue 24).
    let path = dir.join("1_a.sql");
    let out = skelly(
        &["migrate", "unmark", path.to_str().unwrap(), "--dir", d],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "forgot 1_a.sql\n");
    let out = skelly(&["migrate", "baseline", "1", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));

    // An edited applied file: up names both ways out; repair-checksums lists the difference
    // and fails until --yes records it (issue 24).
    write(
        &dir,
        "1_a.sql",
        "-- +migrate Up\n-- a comment\nCREATE TABLE a (n int);\n-- +migrate Down\nDROP TABLE a;\n",
    );
    let out = skelly(
        &["migrate", "up", "--allow-empty-down", "--dir", d],
        Some(&url),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("1_a.sql was changed after it was applied")
            && stderr.contains("migrate repair-checksums --yes")
            && stderr.contains("migrate unmark FILE"),
        "{stderr}"
    );
    let out = skelly(
        &[
            "migrate",
            "repair-checksums",
            "--allow-empty-down",
            "--dir",
            d,
        ],
        Some(&url),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("1_a.sql: "),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("run with --yes"),
        "{}",
        text(&out.stderr)
    );
    let out = skelly(
        &[
            "migrate",
            "repair-checksums",
            "--yes",
            "--allow-empty-down",
            "--dir",
            d,
        ],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = skelly(
        &[
            "migrate",
            "repair-checksums",
            "--allow-empty-down",
            "--dir",
            d,
        ],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = skelly(&["migrate", "unmark", "1_a.sql", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "forgot 1_a.sql\n");

    // The third fails: the output shows the two before it committed, and the error counts them.
    write(
        &dir,
        "3_bad.sql",
        "-- +migrate Up\nSELECT * FROM nowhere;\n-- +migrate Down\n",
    );
    let out = skelly(
        &["migrate", "up", "--allow-empty-down", "--dir", d],
        Some(&url),
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("applied  1_a.sql") && stdout.contains("applied  2_nodown.sql"),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("3_bad.sql:2: migration failed in `SELECT * FROM nowhere"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 migration(s) finished (committed) before the failure"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A notransaction migration that fails half way: status shows where and why, up refuses,
/// resume runs the rest once the database is put right.
#[tokio::test]
async fn a_failed_notransaction_migration_shows_and_resumes() {
    let db = TestDb::new().await.unwrap();
    let url = db.url();
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    write(
        &dir,
        "1_idx.sql",
        "-- +migrate Up notransaction\nCREATE TABLE a (n int);\nCREATE INDEX CONCURRENTLY b_n ON b (n);\n\
         -- +migrate Down notransaction\nDROP INDEX CONCURRENTLY b_n;\nDROP TABLE a;\n",
    );
    let out = skelly(&["migrate", "up", "--dir", d], Some(&url));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("migrate resume 1_idx.sql"),
        "{}",
        text(&out.stderr)
    );
    let out = skelly(&["migrate", "status", "--dir", d], Some(&url));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("FAILED") && stdout.contains("failed at statement 2 of 2: "),
        "{stdout}"
    );
    let out = skelly(&["migrate", "up", "--dir", d], Some(&url));
    assert!(
        text(&out.stderr).contains("failed at statement 2 of 2"),
        "{}",
        text(&out.stderr)
    );

    // Issue 22, N7: resume of an edited file would run by statement number in the new text and
    // record the old checksum; it refuses, naming both checksums.
    let original = std::fs::read_to_string(dir.join("1_idx.sql")).unwrap();
    write(
        &dir,
        "1_idx.sql",
        &original.replace(
            "CREATE TABLE a (n int);\n",
            "CREATE TABLE a (n int);\nSELECT 1;\n",
        ),
    );
    let out = skelly(&["migrate", "resume", "1_idx.sql", "--dir", d], Some(&url));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("was changed after its run started"),
        "{}",
        text(&out.stderr)
    );
    write(&dir, "1_idx.sql", &original);

    db.pool()
        .batch_execute("CREATE TABLE b (n int)")
        .await
        .unwrap();
    let out = skelly(&["migrate", "resume", "1_idx.sql", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("applied  1_idx.sql"),
        "{}",
        text(&out.stdout)
    );
    let out = skelly(
        &["migrate", "status", "--exit-code", "--dir", d],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stdout));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `migrate adopt goose` reads goose_db_version; goose files run with goose's rules.
#[tokio::test]
async fn adopt_goose_then_up() {
    let db = TestDb::new().await.unwrap();
    let url = db.url();
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    write(
        &dir,
        "00001_a.sql",
        "-- +goose Up\nCREATE TABLE a (n int);\n-- +goose Down\nDROP TABLE a;\n",
    );
    write(
        &dir,
        "00002_b.sql",
        "-- +goose Up\nCREATE TABLE b (n int);\n-- +goose Down\nDROP TABLE b;\n",
    );
    db.pool()
        .batch_execute(
            "CREATE TABLE goose_db_version (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, \
             version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now());
             INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true);
             CREATE TABLE a (n int);",
        )
        .await
        .unwrap();
    let out = skelly(&["migrate", "adopt", "goose", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("adopted  00001_a.sql"),
        "{}",
        text(&out.stdout)
    );
    let out = skelly(&["migrate", "up", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("applied  00002_b.sql"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !text(&out.stdout).contains("00001"),
        "{}",
        text(&out.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `migrate lint` needs no database: each finding with file, line, rule and the safer way,
/// exit 1; silenced with a reason, exit 0.
#[test]
fn lint_reports_and_exits_for_ci() {
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    write(&dir, "1_t.sql", "-- +migrate Up\nCREATE TABLE t (n int);\nCREATE INDEX t_n ON t (n);\n-- +migrate Down\nDROP TABLE t;\n");
    write(
        &dir,
        "2_i.sql",
        "-- +migrate Up\nCREATE INDEX t_n2 ON t (n);\n-- +migrate Down\nDROP INDEX t_n2;\n",
    );
    let out = skelly(&["migrate", "lint", "--dir", d], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("2_i.sql:2: index-not-concurrently: "),
        "{stdout}"
    );
    assert!(
        stdout.contains("safer: CREATE INDEX CONCURRENTLY"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("1 lint finding(s)"),
        "{}",
        text(&out.stderr)
    );

    write(&dir, "2_i.sql", "-- +migrate Up\n-- lint: allow index-not-concurrently t holds a few rows\nCREATE INDEX t_n2 ON t (n);\n-- +migrate Down\nDROP INDEX t_n2;\n");
    let out = skelly(&["migrate", "lint", "--dir", d], None);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert_eq!(text(&out.stdout).trim(), "no findings in 2 migration(s)");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn schema_check_compares_the_sources_with_the_migrations() {
    // The scratch database is created on this database's server.
    let db = TestDb::new().await.unwrap();
    let url = db.url();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let migrations = root.join("migrations");
    let migrations = migrations.to_str().unwrap();
    let reference = root.join("tests/src");

    let out = skelly(
        &[
            "schema",
            "check",
            "--src",
            reference.to_str().unwrap(),
            "--dir",
            migrations,
        ],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("User user.users ("), "{stdout}");
    assert!(
        stdout.contains("schema check: 1 table, 0 errors, 0 warnings"),
        "{stdout}"
    );

    // The struct gains a field and changes another; the migrations do not follow.
    let src = temp_dir();
    let lib = std::fs::read_to_string(reference.join("lib.rs")).unwrap();
    let drifted = lib
        .replace(
            "pub bio: Option<String>,",
            "pub bio: String,\n    pub age: i32,",
        )
        .replace("#[table(unique)]\n    pub email", "pub email");
    assert_ne!(drifted, lib);
    write(&src, "lib.rs", &drifted);
    let out = skelly(
        &[
            "schema",
            "check",
            "--src",
            src.to_str().unwrap(),
            "--dir",
            migrations,
        ],
        Some(&url),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("error: user.users.age: the column does not exist\n    fix: ALTER TABLE \"user\".\"users\" ADD COLUMN \"age\" integer NOT NULL;"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("user.users.bio: the database has NOT NULL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("error: user.users.bio: the database allows NULL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning: user.users: unique index `users_email_key` on (email) WHERE (deleted_at IS NULL) is not declared by the struct"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("disagree (2 error(s))"),
        "{}",
        text(&out.stderr)
    );

    // A source the derive would refuse: the same error, with file, line and column.
    let bad = temp_dir();
    write(
        &bad,
        "model.rs",
        "#[derive(Table)]\n#[table(shema = \"app\")]\nstruct Thing { id: i64 }\n",
    );
    let out = skelly(
        &[
            "schema",
            "check",
            "--src",
            bad.to_str().unwrap(),
            "--dir",
            migrations,
        ],
        Some(&url),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("model.rs:2:9: unknown table attribute `shema`; expected one of"),
        "{stderr}"
    );

    // No scratch database is left behind: none marked by a process of this host that has ended
    // (other tests' runs may be under way; 4194304 is another test's fixture).
    let ours = format!("skelly-db scratch: host {}, pid ", this_host());
    let left: Vec<(String, Option<String>)> = scratch_databases(&db)
        .await
        .into_iter()
        .filter(|(_, comment)| {
            comment
                .as_deref()
                .and_then(|c| c.strip_prefix(&ours))
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(|pid| {
                    pid != 4_194_304 && !Path::new("/proc").join(pid.to_string()).exists()
                })
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn generate_drafts_a_migration_that_makes_the_check_pass() {
    let db = TestDb::new().await.unwrap();
    let url = db.url();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let project = temp_dir();
    let migrations = project.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    for entry in std::fs::read_dir(root.join("migrations")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), migrations.join(entry.file_name())).unwrap();
    }
    let src = project.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let lib = std::fs::read_to_string(root.join("tests/src/lib.rs")).unwrap();
    let edited = lib
        .replace(
            "pub bio: Option<String>,",
            "pub bio: Option<String>,\n    #[table(index)]\n    pub age: i32,",
        )
        .replace("pub display_name: String,", "pub full_name: String,");
    write(&src, "lib.rs", &edited);
    let dir = migrations.to_str().unwrap();
    let src = src.to_str().unwrap();
    let generate = |extra: &[&str]| {
        let mut args = vec![
            "migrate",
            "generate",
            "edit_users",
            "--dir",
            dir,
            "--src",
            src,
        ];
        args.extend_from_slice(extra);
        skelly(&args, Some(&url))
    };

    // A column that looks renamed is a question, and nothing is written.
    let out = generate(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--rename user.users.display_name=full_name"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&migrations).unwrap().count(), 1);

    let out = generate(&["--rename", "users.display_name=full_name"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.matches("created ").count(),
        2,
        "a transactional file and a concurrent one: {stdout}"
    );
    assert!(
        stdout.contains("note: user.users.age: NOT NULL without a default"),
        "{stdout}"
    );
    // The draft passes its own lints.
    assert!(!stdout.contains("lint:"), "{stdout}");

    // Applied, the structs and the schema agree; reverted, the check fails again.
    let out = skelly(&["migrate", "up", "--dir", dir], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let check = || skelly(&["schema", "check", "--dir", dir, "--src", src], Some(&url));
    let out = check();
    assert!(out.status.success(), "{}", text(&out.stdout));
    let out = skelly(&["migrate", "down", "2", "--dir", dir], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let columns: Vec<String> = db
        .query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = 'user' AND table_name = 'users' ORDER BY ordinal_position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        columns.contains(&"display_name".to_string()) && !columns.contains(&"age".to_string()),
        "{columns:?}"
    );

    // Once the files are there, there is nothing more to draft.
    let out = generate(&["--rename", "users.display_name=full_name"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("nothing written"),
        "{}",
        text(&out.stdout)
    );
}

/// A PgBouncer in transaction mode in front of the test server, with `settings` added.
fn bouncer(db: &TestDb, settings: &[(&str, &str)]) -> skelly_db::testing::TempPgBouncer {
    skelly_db::testing::TempPgBouncer::in_front_of(&db.pg_config())
        .and_then(|builder| {
            settings
                .iter()
                .fold(builder, |b, (k, v)| b.setting(k, v))
                .pool_mode("transaction")
                .default_pool_size(2)
                .start()
        })
        .unwrap_or_else(|e| panic!("PgBouncer must start for this test (.ci/run installs it): {e}"))
}

/// The CLI behind a pooler, as documented: statement cache size 0.
fn skelly_pooled(args: &[&str], url: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skelly-db"));
    cmd.args(args)
        .env("DATABASE_URL", url)
        .env("DATABASE_STATEMENT_CACHE_SIZE", "0");
    cmd.output().expect("run skelly-db")
}

/// `statement_timeout` and `lock_timeout` of every server connection PgBouncer holds (two):
/// two client transactions at once take both.
async fn server_settings(url: &str) -> Vec<(String, String)> {
    let pool = skelly_db::PoolConfig::new(url)
        .unwrap()
        .statement_cache_size(0)
        .max_size(2)
        .build()
        .unwrap();
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    let mut out = Vec::new();
    for conn in [&a, &b] {
        conn.batch_execute("BEGIN").await.unwrap();
    }
    for conn in [&a, &b] {
        let row = conn
            .query_one(
                "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')",
                &[],
            )
            .await
            .unwrap();
        out.push((row.get(0), row.get(1)));
    }
    for conn in [&a, &b] {
        conn.batch_execute("ROLLBACK").await.unwrap();
    }
    out
}

/// Issue 22, N1a: a migration run through PgBouncer used to leave `statement_timeout = 0` (and
/// the `--lock-timeout`) on the server connection for every other client. After each command,
/// and a failed run, every pooled server connection has the database's own settings.
#[tokio::test]
async fn migrations_through_pgbouncer_leave_no_session_setting_behind() {
    let db = TestDb::new().await.unwrap();
    db.pool()
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET statement_timeout = '3s'",
            db.name()
        ))
        .await
        .unwrap();
    let bouncer = bouncer(&db, &[]);
    let url = bouncer.url(db.name());
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    write(
        &dir,
        "1_t.sql",
        "-- +migrate Up\nCREATE TABLE t (n int);\nINSERT INTO t VALUES (1);\n\
         -- +migrate Down\nDROP TABLE t;\n",
    );
    write(
        &dir,
        "2_idx.sql",
        "-- +migrate Up notransaction\nCREATE INDEX CONCURRENTLY t_n ON t (n);\nINSERT INTO t VALUES (2);\n\
         -- +migrate Down notransaction\nDROP INDEX CONCURRENTLY t_n;\nDELETE FROM t WHERE n = 2;\n",
    );
    let database = || (String::from("3s"), String::from("0"));
    let flags = [
        "--dir",
        d,
        "--lock-timeout",
        "4s",
        "--statement-timeout",
        "10m",
    ];
    let run = |cmd: &[&str]| {
        let args: Vec<&str> = ["migrate"]
            .iter()
            .chain(cmd)
            .chain(flags.iter())
            .copied()
            .collect();
        skelly_pooled(&args, &url)
    };
    for cmd in [&["up"][..], &["down"], &["status"], &["up"]] {
        let out = run(cmd);
        assert!(out.status.success(), "{cmd:?}: {}", text(&out.stderr));
        assert_eq!(
            server_settings(&url).await,
            vec![database(), database()],
            "after migrate {cmd:?}"
        );
    }
    // A failed notransaction run, then resumed after the fix.
    write(
        &dir,
        "3_bad.sql",
        "-- +migrate Up notransaction\nINSERT INTO t VALUES (3);\nCREATE INDEX CONCURRENTLY u_n ON u (n);\n\
         -- +migrate Down notransaction\nDROP INDEX CONCURRENTLY u_n;\n",
    );
    let out = run(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(server_settings(&url).await, vec![database(), database()]);
    db.pool()
        .batch_execute("CREATE TABLE u (n int)")
        .await
        .unwrap();
    let out = run(&["resume", "3_bad.sql"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(server_settings(&url).await, vec![database(), database()]);
    let rows: Vec<i32> = db
        .pool()
        .query("SELECT n FROM t ORDER BY n", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, [1, 2, 3]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A notransaction migration of many statements, each inserting its number into `log` after a
/// pause: long enough to look at while it runs.
fn slow_migration(dir: &Path, name: &str, statements: usize, pause: f64) {
    let mut up = String::from("-- +migrate Up notransaction\n");
    for i in 1..=statements {
        up.push_str(&format!(
            "SELECT pg_sleep({pause});\nINSERT INTO log VALUES ({i});\n"
        ));
    }
    write(
        dir,
        name,
        &format!("{up}-- +migrate Down notransaction\nDELETE FROM log;\n"),
    );
}

async fn logged(db: &TestDb) -> Vec<i32> {
    db.pool()
        .query("SELECT n FROM log ORDER BY n", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Issue 22, N1b: behind PgBouncer with `server_lifetime = 1` the connection a claim was made
/// on is closed while the runner lives. `status` used to call the run FAILED and `resume` ran
/// its statements a second time alongside it. Now status says in progress throughout, resume
/// refuses, and every statement runs exactly once.
#[tokio::test]
async fn a_live_runner_behind_a_rotating_pooler_is_never_called_failed() {
    let db = TestDb::new().await.unwrap();
    db.pool()
        .batch_execute("CREATE TABLE log (n int)")
        .await
        .unwrap();
    let bouncer = bouncer(
        &db,
        &[("server_lifetime", "1"), ("server_idle_timeout", "1")],
    );
    let url = bouncer.url(db.name());
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    // One statement sleeps longer than the staleness window status uses: only the statement's
    // tag says its runner is alive then.
    let mut up = String::from(
        "-- +migrate Up notransaction\nINSERT INTO log VALUES (1);\nSELECT pg_sleep(3);\n",
    );
    for i in 2..=8 {
        up.push_str(&format!(
            "SELECT pg_sleep(0.3);\nINSERT INTO log VALUES ({i});\n"
        ));
    }
    write(
        &dir,
        "1_slow.sql",
        &format!("{up}-- +migrate Down notransaction\nDELETE FROM log;\n"),
    );
    let mut runner = Command::new(env!("CARGO_BIN_EXE_skelly-db"))
        .args(["migrate", "up", "--dir", d])
        .env("DATABASE_URL", &url)
        .env("DATABASE_STATEMENT_CACHE_SIZE", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut looks = 0;
    while runner.try_wait().unwrap().is_none() {
        let out = skelly_pooled(
            &["migrate", "status", "--dir", d, "--claim-stale-after", "1s"],
            &url,
        );
        let status = text(&out.stdout);
        assert!(
            !status.contains("FAILED"),
            "a live runner shown as: {status}"
        );
        if status.contains("IN PROGRESS") {
            let out = skelly_pooled(
                &[
                    "migrate",
                    "resume",
                    "1_slow.sql",
                    "--dir",
                    d,
                    "--claim-stale-after",
                    "1s",
                ],
                &url,
            );
            assert_eq!(
                out.status.code(),
                Some(1),
                "resume ran beside a live runner"
            );
            let stderr = text(&out.stderr);
            if stderr.contains("is not recorded as failed or in progress") {
                // The runner finished between status and resume: then it is applied.
                let out = skelly_pooled(&["migrate", "status", "--dir", d], &url);
                assert!(
                    text(&out.stdout).contains("applied"),
                    "{stderr}\n{}",
                    text(&out.stdout)
                );
            } else {
                assert!(stderr.contains("live runner"), "{stderr}");
                looks += 1;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let out = runner.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        looks >= 5,
        "status looked at the running migration only {looks} times"
    );
    assert_eq!(logged(&db).await, (1..=8).collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 22, N1b and N3: a runner killed between statements is reported failed once its
/// heartbeat is older than the staleness window; a runner that was waiting for it stops with
/// the failed migration's error instead of waiting out the lock timeout; resume finishes the
/// rest, every statement once.
#[tokio::test]
async fn a_killed_runner_is_failed_within_the_window_and_resumed() {
    let db = TestDb::new().await.unwrap();
    db.pool()
        .batch_execute("CREATE TABLE log (n int)")
        .await
        .unwrap();
    let url = db.url();
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    slow_migration(&dir, "1_slow.sql", 12, 0.25);
    let spawn = |stale: &str| {
        Command::new(env!("CARGO_BIN_EXE_skelly-db"))
            .args(["migrate", "up", "--dir", d, "--claim-stale-after", stale])
            .env("DATABASE_URL", &url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = spawn("30s");
    let start = std::time::Instant::now();
    while logged(&db).await.len() < 2 {
        assert!(start.elapsed().as_secs() < 20, "the runner never got going");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let waiter = spawn("1s");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let killed_at = std::time::Instant::now();
    let out = waiter.wait_with_output().unwrap();
    let waited = killed_at.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("waiting for 1_slow.sql, which ")
            && text(&out.stdout).contains(" pid "),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("1_slow.sql") && text(&out.stderr).contains("resume"),
        "{}",
        text(&out.stderr)
    );
    eprintln!("the waiting runner stopped {waited:?} after the first was killed");
    assert!(waited.as_secs() < 60, "waited {waited:?}");
    let out = skelly(
        &["migrate", "status", "--dir", d, "--claim-stale-after", "1s"],
        Some(&url),
    );
    assert!(
        text(&out.stdout).starts_with("FAILED"),
        "{}",
        text(&out.stdout)
    );
    let done_before = logged(&db).await;
    let out = skelly(
        &[
            "migrate",
            "resume",
            "1_slow.sql",
            "--dir",
            d,
            "--claim-stale-after",
            "1s",
        ],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        logged(&db).await,
        (1..=12).collect::<Vec<_>>(),
        "statements done before the kill: {done_before:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn this_host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

async fn scratch_databases(db: &TestDb) -> Vec<(String, Option<String>)> {
    db.pool()
        .query(
            "SELECT datname::text, shobj_description(oid, 'pg_database') FROM pg_database \
             WHERE datname LIKE 'skelly\\_scratch\\_%' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Issue 22, N8: a `schema check` stopped by SIGTERM drops its scratch database; one left by a
/// killed run (its process gone) is removed by the next run.
#[tokio::test]
async fn scratch_databases_are_dropped_on_sigterm_and_stale_ones_removed() {
    let db = TestDb::new().await.unwrap();
    let url = db.url();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let reference = root.join("tests/src");
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    for entry in std::fs::read_dir(root.join("migrations")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    // A slow last migration: time to stop the run while the scratch database exists.
    write(
        &dir,
        "99999999999999_slow.sql",
        "-- +migrate Up\nSELECT pg_sleep(30);\n-- +migrate Down\nSELECT 1;\n",
    );
    // A scratch database a killed run on this host left behind (pid 4194304 is above Linux's
    // largest), and one of another host, which is not ours to judge.
    let stale = "skelly_scratch_00000000dead0001";
    let foreign = "skelly_scratch_00000000dead0002";
    for (name, host) in [(stale, this_host()), (foreign, "elsewhere".to_string())] {
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
            format!("COMMENT ON DATABASE {name} IS 'skelly-db scratch: host {host}, pid 4194304'"),
        ] {
            db.pool().batch_execute(&sql).await.unwrap();
        }
    }
    let child = Command::new(env!("CARGO_BIN_EXE_skelly-db"))
        .args([
            "schema",
            "check",
            "--src",
            reference.to_str().unwrap(),
            "--dir",
            d,
        ])
        .env("DATABASE_URL", &url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mark = format!(
        "skelly-db scratch: host {}, pid {}",
        this_host(),
        child.id()
    );
    let start = std::time::Instant::now();
    let scratch = loop {
        let found = scratch_databases(&db).await;
        if let Some((name, _)) = found.iter().find(|(_, c)| c.as_deref() == Some(&mark)) {
            break name.clone();
        }
        assert!(
            start.elapsed().as_secs() < 20,
            "no scratch database: {found:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // Let it reach the slow migration, then stop it.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    // The stale one is removed by the first scratch run on this host: this one, or another
    // CLI test's running beside it (checked below: it is gone either way).
    let left: Vec<String> = scratch_databases(&db)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(!left.contains(&scratch), "{scratch} was left: {left:?}");
    assert!(!left.contains(&stale.to_string()), "{left:?}");
    assert!(left.contains(&foreign.to_string()), "{left:?}");
    db.pool()
        .batch_execute(&format!("DROP DATABASE {foreign}"))
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 24: the CLI reads `.env` in the working directory without overriding the environment,
/// and the PG* variables fill what the connection string leaves out.
#[tokio::test]
async fn dot_env_and_pg_variables_fill_the_connection() {
    let db = TestDb::new().await.unwrap();
    let dir = temp_dir();
    write(
        &dir,
        "1_a.sql",
        "-- +migrate Up\nCREATE TABLE a (n int);\n-- +migrate Down\nDROP TABLE a;\n",
    );
    let pg = db.pg_config();
    let host = match &pg.get_hosts()[0] {
        skelly_db::tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("the test server must be reachable over TCP, not {other:?}"),
    };
    let port = pg.get_ports()[0].to_string();
    // The URL names only the scheme; host, port, user, database come from .env's PG* lines.
    let mut env_file = format!(
        "DATABASE_URL=postgres://\nPGHOST={host}\nPGPORT={port}\nPGUSER={}\nPGDATABASE={}\n",
        pg.get_user().unwrap_or("postgres"),
        db.name()
    );
    if let Some(password) = pg.get_password() {
        env_file.push_str(&format!(
            "PGPASSWORD='{}'\n",
            String::from_utf8_lossy(password)
        ));
    }
    write(&dir, ".env", &env_file);
    let run = |extra: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_skelly-db"));
        cmd.args(["migrate", "up", "--dir", "."])
            .current_dir(&dir)
            .env_remove("DATABASE_URL");
        for var in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"] {
            cmd.env_remove(var);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // The environment wins over .env: a database that does not exist is refused by name.
    let out = run(&[("PGDATABASE", "no_such_database_here")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no_such_database_here"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("applied  1_a.sql"),
        "{}",
        text(&out.stdout)
    );
    db.pool().batch_execute("SELECT n FROM a").await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `schema pull` on an existing schema writes structs that `schema check` then finds matching
/// the same schema built by a migration: the way in for a team with tables already.
#[tokio::test]
async fn schema_pull_writes_structs_that_schema_check_finds_matching() {
    let db = TestDb::new().await.unwrap();
    let sql = "CREATE SCHEMA shop;
CREATE TYPE shop.order_state AS ENUM ('open', 'paid', 'shipped');
CREATE TABLE shop.customers (
    code varchar(32) PRIMARY KEY,
    email text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE shop.orders (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    customer_code varchar(32) NOT NULL REFERENCES shop.customers ON DELETE CASCADE,
    state shop.order_state NOT NULL,
    channel text NOT NULL CHECK (channel IN ('web', 'in-store')),
    total numeric(12, 2) NOT NULL CHECK (total >= 0),
    note text,
    \"type\" text
);
CREATE INDEX orders_recent ON shop.orders (customer_code, id DESC) WHERE note IS NOT NULL;";
    db.batch_execute(sql).await.unwrap();
    let pulled = skelly(&["schema", "pull", "--schema", "shop"], Some(&db.url()));
    let structs = text(&pulled.stdout);
    assert!(pulled.status.success(), "{}", text(&pulled.stderr));
    for expected in [
        "pub struct Customer {",
        "pub struct Order {",
        "#[text_enum(pg_enum = \"shop.order_state\")]",
        "pub enum OrderChannel {",
        "no_index",
        "pub r#type: Option<String>,",
    ] {
        assert!(structs.contains(expected), "{expected}:\n{structs}");
    }
    // The same schema as a migration; the pulled structs as the sources: the check agrees.
    let dir = temp_dir();
    let (migrations, src) = (dir.join("migrations"), dir.join("src"));
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::create_dir_all(&src).unwrap();
    write(
        &migrations,
        "1_shop.sql",
        &format!("-- +migrate Up\n{sql}\n-- +migrate Down\nDROP SCHEMA shop CASCADE;\n"),
    );
    write(&src, "models.rs", &structs);
    let check = skelly(
        &[
            "schema",
            "check",
            "--dir",
            migrations.to_str().unwrap(),
            "--src",
            src.to_str().unwrap(),
        ],
        Some(&db.url()),
    );
    assert!(
        check.status.success(),
        "{}\n{}\n{structs}",
        text(&check.stdout),
        text(&check.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn verify_proves_each_down_and_names_what_one_leaves() {
    let db = TestDb::new().await.unwrap();
    let url = db.url();
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    write(
        &dir,
        "1_t.sql",
        "-- +migrate Up\nCREATE TABLE t (n int);\n-- +migrate Down\nDROP TABLE t;\n",
    );
    write(
        &dir,
        "2_i.sql",
        "-- +migrate Up\nALTER TABLE t ADD COLUMN s text;\nCREATE INDEX t_s ON t (s);\n-- +migrate Down\nDROP INDEX t_s;\n",
    );
    write(
        &dir,
        "3_u.sql",
        "-- +migrate Up\nCREATE TABLE u (n int);\n-- +migrate Down\nDROP TABLE u;\n",
    );
    let out = skelly(&["migrate", "verify", "--dir", d], Some(&url));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("2_i.sql: Down does not restore the schema\n  public.t.s: text left behind by Down (not there before Up)"),
        "{stderr}"
    );
    // Progress as `up` shows it: the first migration applied, reverted and applied again.
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("applied  1_t.sql").count(), 2, "{stdout}");
    assert_eq!(stdout.matches("reverted 1_t.sql").count(), 1, "{stdout}");

    // From the third on, the second is applied unchecked.
    let out = skelly(
        &["migrate", "verify", "--dir", d, "--from", "3"],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("every Down restores the schema: 1 migration(s) verified"),
        "{}",
        text(&out.stdout)
    );

    write(
        &dir,
        "2_i.sql",
        "-- +migrate Up\nALTER TABLE t ADD COLUMN s text;\nCREATE INDEX t_s ON t (s);\n-- +migrate Down\nALTER TABLE t DROP COLUMN s;\n",
    );
    let out = skelly(&["migrate", "verify", "--dir", d], Some(&url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("3 migration(s) verified, 0 irreversible"),
        "{}",
        text(&out.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// goose as it reads files today (v3.19.1 on): annotations in any case, `ENVSUB ON` expanded
/// from the runner's environment (the child process's here), a missing required variable an
/// error naming the file and line.
#[tokio::test]
async fn goose_annotations_in_any_case_and_envsub() {
    let db = TestDb::new().await.unwrap();
    let url = db.url();
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    write(
        &dir,
        "00001_tenant.sql",
        "--+goose up\n-- +goose ENVSUB ON\nCREATE SCHEMA ${SKELLY_TENANT?name the tenant};\n\
         CREATE TABLE ${SKELLY_TENANT}.t (n int DEFAULT ${SKELLY_START:-5}, s text DEFAULT '$$x');\n\
         -- +goose envsub off\nCOMMENT ON SCHEMA \"${SKELLY_TENANT_RAW}\" IS 'kept';\n\
         -- +goose down\n-- +goose envsub on\nDROP SCHEMA ${SKELLY_TENANT} CASCADE;\n",
    );
    let run = |args: &[&str], tenant: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_skelly-db"));
        cmd.args(args)
            .env("DATABASE_URL", &url)
            .env_remove("SKELLY_TENANT")
            .env_remove("SKELLY_START");
        if let Some(t) = tenant {
            cmd.env("SKELLY_TENANT", t);
        }
        cmd.output().unwrap()
    };
    // Outside ENVSUB nothing is expanded: the COMMENT names a schema literally called so.
    db.pool()
        .batch_execute("CREATE SCHEMA \"${SKELLY_TENANT_RAW}\"")
        .await
        .unwrap();
    let out = run(&["migrate", "up", "--dir", d], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("00001_tenant.sql: line 3: variable substitution failed: $SKELLY_TENANT: name the tenant"),
        "{stderr}"
    );
    let out = run(&["migrate", "up", "--dir", d], Some("acme"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let row = db
        .pool()
        .query_one(
            "SELECT column_default FROM information_schema.columns \
             WHERE table_schema = 'acme' AND table_name = 't' AND column_name = 'n'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("5"));
    let s: Option<String> = db
        .pool()
        .query_one(
            "SELECT column_default FROM information_schema.columns \
             WHERE table_schema = 'acme' AND column_name = 's'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(s.as_deref(), Some("'$x'::text"));
    let comment: Option<String> = db
        .pool()
        .query_one(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace \
             WHERE nspname = '${SKELLY_TENANT_RAW}'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(comment.as_deref(), Some("kept"));
    let out = run(&["migrate", "down", "--dir", d], Some("acme"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let left: i64 = db
        .pool()
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'acme'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A goose history with a Go migration: adoption lists it and writes nothing unless asked to
/// record it; up and down stop before it, saying how to go on.
#[tokio::test]
async fn goose_go_migrations_are_listed_recorded_on_request_and_never_run() {
    let db = TestDb::new().await.unwrap();
    let url = db.url();
    let dir = temp_dir();
    let d = dir.to_str().unwrap();
    write(
        &dir,
        "00001_a.sql",
        "-- +goose Up\nCREATE TABLE a (n int);\n-- +goose Down\nDROP TABLE a;\n",
    );
    let go = "package migrations\n\nfunc init() { goose.AddMigrationContext(up, down) }\n";
    write(&dir, "00002_backfill.go", go);
    write(&dir, "00002_backfill_test.go", "package migrations\n");
    write(
        &dir,
        "00003_c.sql",
        "-- +goose Up\nCREATE TABLE c (n int);\n-- +goose Down\nDROP TABLE c;\n",
    );
    // A new database: up applies what comes before the Go migration and stops there.
    let fresh = TestDb::new().await.unwrap();
    let out = skelly(&["migrate", "up", "--dir", d], Some(&fresh.url()));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("00002_backfill.go is a goose Go migration, and skelly-db runs SQL only")
            && stderr.contains("skelly-db migrate mark-applied 00002_backfill.go"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("applied  00001_a.sql"));
    let out = skelly(
        &["migrate", "mark-applied", "00002_backfill.go", "--dir", d],
        Some(&fresh.url()),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = skelly(&["migrate", "up", "--dir", d], Some(&fresh.url()));
    assert!(
        text(&out.stdout).contains("applied  00003_c.sql"),
        "{}",
        text(&out.stderr)
    );

    // A database goose migrated, Go migration included.
    db.pool()
        .batch_execute(
            "CREATE TABLE goose_db_version (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, \
             version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now());
             INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true);
             CREATE TABLE a (n int);",
        )
        .await
        .unwrap();
    let out = skelly(&["migrate", "adopt", "goose", "--dir", d], Some(&url));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("version 2 is a Go migration (00002_backfill.go)")
            && stderr.contains("--go-applied"),
        "{stderr}"
    );
    let written: i64 = db
        .pool()
        .query_one(
            "SELECT count(*) FROM skelly_migrations WHERE to_regclass('skelly_migrations') IS NOT NULL",
            &[],
        )
        .await
        .map(|r| r.get(0))
        .unwrap_or(0);
    assert_eq!(
        written, 0,
        "nothing is written when a Go migration is listed"
    );
    let out = skelly(
        &["migrate", "adopt", "goose", "--go-applied", "--dir", d],
        Some(&url),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("adopted  00001_a.sql") && stdout.contains("adopted  00002_backfill.go"),
        "{stdout}"
    );
    let out = skelly(&["migrate", "up", "--dir", d], Some(&url));
    assert!(
        text(&out.stdout).contains("applied  00003_c.sql"),
        "{}",
        text(&out.stderr)
    );
    // down reverts the SQL migration, then stops before the Go one.
    let out = skelly(&["migrate", "down", "2", "--dir", d], Some(&url));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("reverted 00003_c.sql"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("00002_backfill.go is a goose Go migration"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `schema diagram` from the structs and from a live database, in both formats.
#[tokio::test]
async fn schema_diagram_from_structs_and_from_a_database() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let src = root.join("tests/src");
    let out = skelly(&["schema", "diagram", "--src", src.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "erDiagram\n    user_users {\n        uuid id PK\n        text email UK\n"
        ),
        "{stdout}"
    );
    // The guide shows the reference schema's diagram as the command prints it.
    let guide = std::fs::read_to_string(root.join("docs/schema-check.md")).unwrap();
    assert!(
        guide.contains(&format!("```mermaid\n{stdout}```")),
        "docs/schema-check.md's diagram differs from:\n{stdout}"
    );

    let db = TestDb::new().await.unwrap();
    db.pool()
        .batch_execute(
            "CREATE SCHEMA hr;
             CREATE TABLE hr.employees (id bigint PRIMARY KEY, manager_id bigint REFERENCES hr.employees);
             CREATE TABLE hr.teams (org text, code text, PRIMARY KEY (org, code));
             CREATE TABLE hr.members (id bigint PRIMARY KEY, org text NOT NULL, code text NOT NULL,
                 employee_id bigint NOT NULL UNIQUE REFERENCES hr.employees,
                 FOREIGN KEY (org, code) REFERENCES hr.teams);",
        )
        .await
        .unwrap();
    let out = skelly(
        &["schema", "diagram", "--from-database", "--schema", "hr"],
        Some(&db.url()),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mermaid = text(&out.stdout);
    for line in [
        r#"hr_employees |o--o{ hr_employees : "manager_id""#,
        r#"hr_employees ||--o| hr_members : "employee_id""#,
        r#"hr_teams ||--o{ hr_members : "org, code""#,
    ] {
        assert!(mermaid.contains(line), "missing {line} in:\n{mermaid}");
    }
    let out = skelly(
        &["schema", "diagram", "--from-database", "--format", "dot"],
        Some(&db.url()),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dot = text(&out.stdout);
    assert!(
        dot.contains(r#""hr.members":"org" -> "hr.teams":"org" [label="org, code", taillabel="*", headlabel="1"];"#),
        "{dot}"
    );
    let out = skelly(&["schema", "diagram", "--format", "svg"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
