fn main() {
    let _ = skelly_db::embed_migrations!("fixtures/no-down");
}
