// A composite key is passed as a tuple in field order.
use skelly_db::Table;

#[derive(Table)]
struct Membership {
    #[table(primary_key)]
    team: String,
    #[table(primary_key)]
    user_id: i64,
}

async fn run(pool: &skelly_db::Pool) {
    let _ = Membership::find(pool, "red").await;
}

fn main() {}
