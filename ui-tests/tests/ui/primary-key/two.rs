use skelly_db::Table;

#[derive(Table)]
struct User {
    #[table(primary_key)]
    id: uuid::Uuid,
    #[table(primary_key)]
    email: String,
}

fn main() {}
