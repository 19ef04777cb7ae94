// The derive fails (deleted_at is not an Option), yet the code that uses what it generates
// reports nothing more: only the real error shows.
use skelly_db::Table;

#[derive(Table)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub deleted_at: chrono::DateTime<chrono::Utc>,
}

fn new_user() -> NewUser {
    NewUser {
        email: "ada@example.com".into(),
    }
}

async fn service(pool: &skelly_db::Pool) -> skelly_db::Result<()> {
    let user = User::insert(pool, new_user()).await?;
    let patch = UserPatch {
        email: Some("grace@example.com".into()),
    };
    User::update(pool, user.id, patch).await?;
    let _ = User::query().filter(User::EMAIL.eq("x")).fetch_all(pool).await?;
    let _ = User::create_table_sql();
    Ok(())
}

fn main() {}
