use skelly_db::Table;

#[derive(Table)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
}

#[derive(Table)]
pub struct Post {
    pub id: uuid::Uuid,
    pub title: String,
}

async fn f(pool: &skelly_db::Pool) {
    let _ = User::query().columns((User::EMAIL, Post::TITLE)).fetch_all(pool).await;
}

fn main() {
    let _ = f;
}
