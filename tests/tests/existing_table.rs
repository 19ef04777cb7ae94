//! The README's "Mapping an existing table" walkthrough: the example it shows runs, and the
//! README shows it as it is.

use std::path::{Path, PathBuf};
use std::process::Command;

fn example() -> PathBuf {
    // cargo test builds the examples next to the test binaries: target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join("existing_table");
    assert!(
        path.exists(),
        "{} was not built; run cargo test --workspace",
        path.display()
    );
    path
}

#[test]
fn the_walkthrough_runs() {
    let out = Command::new(example()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("duplicate: unique_violation"), "{stdout}");
    assert!(stdout.ends_with("done\n"), "{stdout}");
}

#[test]
fn the_readme_shows_the_example_as_it_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/existing_table.rs")).unwrap();
    // The example from its first `use` on, between the README's markers.
    let code = &example[example.find("use ").unwrap()..];
    let start = readme
        .find("<!-- existing-table:start -->\n```rust\n")
        .expect("the README's walkthrough markers");
    let block = &readme[start..];
    let block = &block[block.find("```rust\n").unwrap() + 8..];
    let block = &block[..block.find("```\n<!-- existing-table:end -->").unwrap()];
    assert_eq!(
        block, code,
        "README.md's walkthrough differs from examples/existing_table.rs"
    );
}
