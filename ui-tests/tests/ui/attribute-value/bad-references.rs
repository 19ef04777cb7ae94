use skelly_db::Table;

#[derive(Table)]
struct Post {
    id: uuid::Uuid,
    #[table(references = "user.users.id")]
    author_id: uuid::Uuid,
}

fn main() {}
