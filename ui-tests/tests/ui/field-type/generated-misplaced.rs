use skelly_db::Table;

#[derive(Table)]
struct Account {
    id: uuid::Uuid,
    email: String,
    // A generated column has its expression, not a default.
    #[table(generated = "lower(email)", default = "''")]
    email_key: String,
    // A convention column cannot be generated.
    #[table(generated = "now()")]
    created_at: chrono::DateTime<chrono::Utc>,
}

fn main() {}
