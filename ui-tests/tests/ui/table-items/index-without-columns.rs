use skelly_db::Table;

#[derive(Table)]
#[table(index(name = "users_idx", where = "email <> ''"))]
struct User {
    id: uuid::Uuid,
    email: String,
}

fn main() {}
