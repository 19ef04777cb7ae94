use skelly_db::Table;

#[derive(Table)]
#[table(shema = "user")]
struct User {
    id: uuid::Uuid,
}

fn main() {}
