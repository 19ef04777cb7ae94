use skelly_db::Table;

#[derive(Table)]
#[table(check(name = "users_email_check"))]
struct User {
    id: uuid::Uuid,
    email: String,
}

fn main() {}
