use skelly_db::Table;

#[derive(Table)]
#[table(index(email, using = "trigram"))]
struct User {
    id: uuid::Uuid,
    email: String,
}

fn main() {}
