use skelly_db::Table;

#[derive(Table)]
struct Post {
    id: uuid::Uuid,
    #[table(on_delete = "cascade", deferrable)]
    author_id: uuid::Uuid,
}

fn main() {}
