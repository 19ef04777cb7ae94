//! Every diagnostic of the macros, as trybuild compile-fail cases. Bless with
//! `TRYBUILD=overwrite cargo test -p skelly-db-ui-tests` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
