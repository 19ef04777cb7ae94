use skelly_db::Table;

#[derive(Table)]
#[table(unique(email, tenant))]
#[table(index(email, include(nickname)))]
struct User {
    id: uuid::Uuid,
    email: String,
}

fn main() {}
