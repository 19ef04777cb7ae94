use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    email: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

fn main() {
    let _ = UserPatch {
        id: Some(uuid::Uuid::nil()),
        ..Default::default()
    };
    let _ = UserPatch {
        created_at: Some(chrono::Utc::now()),
        ..Default::default()
    };
}
