// The generic CRUD functions are not public: a key of the wrong type cannot slip past the
// typed `User::find(db, id: Uuid)`.
use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
    email: String,
}

async fn run(pool: &skelly_db::Pool) {
    let _ = skelly_db::query::find::<User>(pool, &"not-a-uuid").await;
}

fn main() {}
