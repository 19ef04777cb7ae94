use skelly_db::Table;

#[derive(Table)]
struct Tag {
    id: uuid::Uuid,
    name: String,
}

async fn run(pool: &skelly_db::Pool) {
    let _ = Tag::restore(pool, uuid::Uuid::nil()).await;
}

fn main() {}
