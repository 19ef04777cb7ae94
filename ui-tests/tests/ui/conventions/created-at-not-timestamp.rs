use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    created_at: String,
}

fn main() {}
