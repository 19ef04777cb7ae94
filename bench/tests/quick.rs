//! Keeps the benchmark compiling and working: runs every workload twice (`--smoke`) against
//! the real server and checks that each was measured. No timing is asserted.

use std::process::Command;

#[test]
fn quick_mode_measures_every_workload() {
    let out = Command::new(env!("CARGO_BIN_EXE_skelly-db-bench"))
        .arg("--smoke")
        .output()
        .expect("run the benchmark");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for workload in [
        "find by id",
        "list 1 rows",
        "list 100 rows",
        "list 10000 rows",
        "insert 1 rows",
        "insert 10000 rows",
        "update by id (2 fields)",
        "filtered query (3 conds, limit 20)",
        "find by id, cache size 0",
        "list 10000 rows, cache size 0",
        "find by id via pool",
        "update by id via pool",
        "throughput, 200 tasks on 10 connections",
        "insert_many_count 100 rows",
        "insert_many_count 10000 rows",
        "copy_in 100 rows",
        "find by id (i64 identity key)",
        "insert 1 row (i64 identity key)",
        "find by id, subscriber reading every span",
        "join 1 rows",
        "join 100 rows",
        "join 10000 rows",
        "eager: 100 parents, 11 children each",
        "favorited by (20 of 10,000)",
        "users LEFT JOIN articles (100 users)",
        "comment, article, author (100)",
        "comments per author, top 20 (join)",
        "insert or ignore 1,000 (half conflict)",
    ] {
        assert!(
            stdout.contains(workload),
            "missing {workload:?} in:\n{stdout}"
        );
    }
    assert!(stdout.contains("38 workloads measured"), "{stdout}");
    assert!(
        stdout.contains("allocations, list 10000 rows: skelly-db "),
        "{stdout}"
    );
}
