use skelly_db::Table;

#[derive(Table)]
#[table(shema = "user", name = "bad name")]
struct User {
    #[table(uniq)]
    email: String,
    #[table(rename = "email")]
    contact: String,
    deleted_at: chrono::DateTime<chrono::Utc>,
}

fn main() {}
