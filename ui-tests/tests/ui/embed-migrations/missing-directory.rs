fn main() {
    let _ = skelly_db::embed_migrations!("no/such/migrations");
}
