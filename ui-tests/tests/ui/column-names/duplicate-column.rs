use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    email: String,
    #[table(rename = "email")]
    contact: String,
}

fn main() {}
