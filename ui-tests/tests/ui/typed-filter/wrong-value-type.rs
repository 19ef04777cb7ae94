use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    email: String,
    age: i32,
}

fn main() {
    let _ = User::EMAIL.eq(42);
    let _ = User::AGE.eq("forty-two");
}
