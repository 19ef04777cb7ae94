use skelly_db::Table;

#[derive(Table)]
struct User {
    email: String,
}

fn main() {}
