use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    #[table(rename)]
    email: String,
}

fn main() {}
