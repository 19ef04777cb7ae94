//! Every diagnostic of the macros, as trybuild compile-fail cases. Bless with
//! `TRYBUILD=overwrite cargo test -p skelly-db-ui-tests` and read the diff.

#[test]
fn ui() {
    // trybuild colours its report unless NO_COLOR is set (termcolor does not look at
    // CARGO_TERM_COLOR or whether stderr is a terminal); follow cargo's setting.
    if std::env::var_os("CARGO_TERM_COLOR").is_some_and(|v| v == "never") {
        std::env::set_var("NO_COLOR", "1");
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
