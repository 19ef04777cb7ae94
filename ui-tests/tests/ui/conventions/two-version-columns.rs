use skelly_db::Table;

#[derive(Table)]
struct Doc {
    id: uuid::Uuid,
    #[table(version)]
    version: i32,
    #[table(version)]
    revision: i64,
}

fn main() {}
