use skelly_db::Table;

#[derive(Table)]
struct User {
    id: Option<uuid::Uuid>,
}

fn main() {}
