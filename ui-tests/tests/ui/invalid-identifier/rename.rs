use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    #[table(rename = "e-mail")]
    email: String,
}

fn main() {}
