//! Every diagnostic of the macros, as trybuild compile-fail cases. Bless with
//! `TRYBUILD=overwrite cargo test -p skelly-db-ui-tests` and read the diff.

#[test]
fn ui() {
    // trybuild colours its report unless NO_COLOR is set (termcolor does not look at
    // CARGO_TERM_COLOR or whether stderr is a terminal); follow cargo's setting.
    if std::env::var_os("CARGO_TERM_COLOR").is_some_and(|v| v == "never") {
        std::env::set_var("NO_COLOR", "1");
    }
    link_fixtures();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}

/// The `embed_migrations!` cases read migration files relative to the crate trybuild generates
/// under the target directory (`<target>/tests/trybuild/skelly-db-ui-tests`), which may be
/// anywhere (`CARGO_TARGET_DIR`, `build.target-dir`): a `fixtures` link there points at this
/// crate's fixtures, so the cases name `fixtures/...` wherever the build folder is.
fn link_fixtures() {
    let target = target_directory();
    let project = target.join("tests/trybuild/skelly-db-ui-tests");
    std::fs::create_dir_all(&project).expect("create trybuild's project directory");
    let link = project.join("fixtures");
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/embed-migrations/fixtures");
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    std::os::unix::fs::symlink(&fixtures, &link).expect("link the fixtures");
    #[cfg(windows)]
    std::os::windows::fs::symlink_dir(&fixtures, &link).expect("link the fixtures");
}

/// The target directory as trybuild finds it: `cargo metadata`'s `target_directory`.
fn target_directory() -> std::path::PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = String::from_utf8_lossy(&out.stdout);
    let key = "\"target_directory\":\"";
    let start = json
        .find(key)
        .expect("cargo metadata names the target directory")
        + key.len();
    let mut path = String::new();
    let mut chars = json[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => path.extend(chars.next()),
            c => path.push(c),
        }
    }
    std::path::PathBuf::from(path)
}
