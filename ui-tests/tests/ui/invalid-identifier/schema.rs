use skelly_db::Table;

#[derive(Table)]
#[table(schema = "my schema")]
struct User {
    id: uuid::Uuid,
}

fn main() {}
