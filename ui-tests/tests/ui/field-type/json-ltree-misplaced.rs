use skelly_db::Table;

#[derive(Table)]
struct Category {
    id: i64,
    // `json` is for a serde_json::Value, `ltree` for a String.
    #[table(json)]
    meta: String,
    #[table(ltree)]
    depth: i32,
}

fn main() {}
