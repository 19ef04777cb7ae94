use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    email: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

fn main() {
    let _ = NewUser {
        id: uuid::Uuid::nil(),
        email: String::new(),
    };
}
