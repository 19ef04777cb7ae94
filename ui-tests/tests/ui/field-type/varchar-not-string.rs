use skelly_db::Table;

#[derive(Table)]
struct Post {
    id: uuid::Uuid,
    #[table(varchar = 10)]
    views: i64,
    #[table(varchar = 0)]
    title: String,
    #[table(char = 2, sql_type = "text")]
    lang: String,
}

fn main() {}
