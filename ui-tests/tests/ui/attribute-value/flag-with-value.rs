use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    #[table(unique = true)]
    email: String,
}

fn main() {}
