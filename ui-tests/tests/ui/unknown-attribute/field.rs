use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    #[table(uniq)]
    email: String,
}

fn main() {}
