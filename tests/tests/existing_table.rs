//! The README's "Mapping an existing table" walkthrough: the example it shows runs, and the
//! README shows it as it is.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn example() -> PathBuf {
    common::example("existing_table")
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
    let readme =
        std::fs::read_to_string(root.join("../docs/keys-and-existing-schemas.md")).unwrap();
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
        "docs/keys-and-existing-schemas.md's walkthrough differs from examples/existing_table.rs"
    );
}
