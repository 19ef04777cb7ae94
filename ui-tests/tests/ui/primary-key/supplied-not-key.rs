use skelly_db::Table;

#[derive(Table)]
struct Ticket {
    id: i64,
    #[table(supplied)]
    number: i32,
}

fn main() {}
