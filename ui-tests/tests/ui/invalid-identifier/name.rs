use skelly_db::Table;

#[derive(Table)]
#[table(name = "1users")]
struct User {
    id: uuid::Uuid,
}

fn main() {}
