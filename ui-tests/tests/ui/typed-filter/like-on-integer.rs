use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    age: i32,
}

fn main() {
    let _ = User::AGE.like("4%");
}
