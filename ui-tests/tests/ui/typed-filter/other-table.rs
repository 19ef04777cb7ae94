use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    email: String,
}

#[derive(Table)]
struct Team {
    id: uuid::Uuid,
    name: String,
}

fn main() {
    let _ = User::query().filter(Team::NAME.eq("core"));
}
