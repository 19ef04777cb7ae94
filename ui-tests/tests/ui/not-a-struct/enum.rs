use skelly_db::Table;

#[derive(Table)]
enum User {
    Admin,
}

fn main() {}
