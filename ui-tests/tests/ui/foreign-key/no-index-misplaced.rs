use skelly_db::Table;

#[derive(Table)]
struct Post {
    id: uuid::Uuid,
    // No foreign key: there is no index to leave out.
    #[table(no_index)]
    title: String,
    // Both asked for.
    #[table(references = "public.users", index, no_index)]
    author_id: uuid::Uuid,
}

fn main() {}
