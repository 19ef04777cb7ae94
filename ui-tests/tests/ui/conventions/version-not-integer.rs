use skelly_db::Table;

#[derive(Table)]
struct Doc {
    id: uuid::Uuid,
    #[table(version)]
    revision: String,
}

fn main() {}
