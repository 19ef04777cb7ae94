// On a versioned table, an update names the version it read.
use skelly_db::Table;

#[derive(Table)]
struct Doc {
    id: uuid::Uuid,
    title: String,
    #[table(version)]
    version: i32,
}

async fn run(pool: &skelly_db::Pool, id: uuid::Uuid) {
    let _ = Doc::update(pool, id, DocPatch::default()).await;
}

fn main() {}
