// Relative to the crate trybuild builds, in target/tests/trybuild/skelly-db-ui-tests.
fn main() {
    let _ = skelly_db::embed_migrations!("fixtures/malformed");
}
