fn main() {
    let _ = skelly_db::embed_migrations!("../../../../ui-tests/tests/ui/embed-migrations/fixtures/goose-unnumbered");
}
