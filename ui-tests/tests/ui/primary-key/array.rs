use skelly_db::Table;

#[derive(Table)]
struct Path {
    #[table(primary_key)]
    steps: Vec<i32>,
}

fn main() {}
