use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    email: String,
}

fn main() {
    let _ = User::EMAIL.is_null();
}
