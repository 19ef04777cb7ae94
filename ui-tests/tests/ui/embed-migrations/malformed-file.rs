// Relative to the crate trybuild builds, in target/tests/trybuild/skelly-db-ui-tests.
fn main() {
    let _ = skelly_db::embed_migrations!("../../../../ui-tests/tests/ui/embed-migrations/fixtures/malformed");
}
