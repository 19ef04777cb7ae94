use skelly_db::Table;

#[derive(Table)]
union User {
    id: u64,
}

fn main() {}
