use skelly_db::Table;

#[derive(Table)]
struct User(uuid::Uuid, String);

fn main() {}
