use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    #[table(unique)]
    #[table(unique)]
    email: String,
}

fn main() {}
