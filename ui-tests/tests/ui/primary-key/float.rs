use skelly_db::Table;

#[derive(Table)]
struct Reading {
    #[table(primary_key)]
    value: f64,
}

fn main() {}
