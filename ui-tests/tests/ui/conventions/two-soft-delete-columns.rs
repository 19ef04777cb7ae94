use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
    #[table(deleted_at)]
    removed_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn main() {}
