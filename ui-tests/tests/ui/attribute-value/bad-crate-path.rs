use skelly_db::Table;

#[derive(Table)]
#[table(crate = "not a path")]
struct User {
    id: uuid::Uuid,
}

fn main() {}
