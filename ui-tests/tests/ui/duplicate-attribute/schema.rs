use skelly_db::Table;

#[derive(Table)]
#[table(schema = "a", schema = "b")]
struct User {
    id: uuid::Uuid,
}

fn main() {}
