use skelly_db::Table;

#[derive(Table)]
struct User {
    #[table(skip_patch)]
    id: uuid::Uuid,
}

fn main() {}
