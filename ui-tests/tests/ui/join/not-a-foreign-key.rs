use skelly_db::Table;

#[derive(Table)]
#[table(schema = "user")]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
}

#[derive(Table)]
pub struct Tag {
    pub id: uuid::Uuid,
}

#[derive(Table)]
pub struct Post {
    pub id: uuid::Uuid,
    #[table(references = "user.users")]
    pub author_id: uuid::Uuid,
    pub title: String,
}

async fn f(pool: &skelly_db::Pool) {
    // A column that is not a foreign key.
    let _ = Post::query().join::<User>(Post::TITLE).fetch_all(pool).await;
    // A foreign key to another table than the one joined.
    let _ = Post::query().join::<Tag>(Post::AUTHOR_ID_FK).fetch_all(pool).await;
}

fn main() {
    let _ = f;
}
