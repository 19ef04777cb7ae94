use skelly_db::Table;

// `nulls_not_distinct` on a column that is not unique.
#[derive(Table)]
struct Account {
    id: uuid::Uuid,
    #[table(nulls_not_distinct)]
    tax_id: Option<String>,
}

// `all_rows` on a table without soft delete; `nulls_not_distinct` on an index that is not
// unique.
#[derive(Table)]
#[table(index(label, nulls_not_distinct))]
struct Token {
    id: uuid::Uuid,
    #[table(unique, all_rows)]
    value: String,
    label: Option<String>,
}

fn main() {}
