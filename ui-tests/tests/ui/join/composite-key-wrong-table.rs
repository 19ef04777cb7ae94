use skelly_db::Table;

#[derive(Table)]
#[table(schema = "docs", name = "watchers")]
pub struct Watcher {
    #[table(primary_key)]
    pub document_id: uuid::Uuid,
    #[table(primary_key)]
    pub customer: String,
}

#[derive(Table)]
#[table(schema = "docs")]
pub struct Document {
    pub id: uuid::Uuid,
}

#[derive(Table)]
#[table(schema = "docs", name = "watch_events")]
#[table(foreign_key(columns(document_id, customer), references = "docs.watchers"))]
pub struct WatchEvent {
    pub id: i64,
    pub document_id: uuid::Uuid,
    pub customer: String,
}

async fn f(pool: &skelly_db::Pool) {
    // A composite key joined to another table than the one it references.
    let _ = WatchEvent::query()
        .join::<Document>(WatchEvent::DOCUMENT_ID_CUSTOMER_FK)
        .fetch_all(pool)
        .await;
    // A composite key of another table.
    let _ = Document::query()
        .join::<Watcher>(WatchEvent::DOCUMENT_ID_CUSTOMER_FK)
        .fetch_all(pool)
        .await;
}

fn main() {
    let _ = f;
}
