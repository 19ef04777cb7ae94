use skelly_db::Table;

#[derive(Table)]
struct Post {
    id: uuid::Uuid,
    #[table(references = "public.users", on_delete = "delete")]
    author_id: uuid::Uuid,
}

fn main() {}
