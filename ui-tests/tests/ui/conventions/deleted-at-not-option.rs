use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    deleted_at: chrono::DateTime<chrono::Utc>,
}

fn main() {}
