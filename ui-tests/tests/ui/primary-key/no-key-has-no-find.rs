use skelly_db::Table;

#[derive(Table)]
#[table(no_primary_key)]
pub struct Event {
    pub id: i64,
    pub name: String,
}

async fn use_it(pool: &skelly_db::Pool) {
    let _ = Event::find(pool, 1i64).await;
    let _ = Event::delete(pool, 1i64).await;
}

fn main() {
    let _ = use_it;
}
