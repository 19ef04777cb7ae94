use skelly_db::Table;

struct Money(u64);

#[derive(Table)]
struct Account {
    id: uuid::Uuid,
    balance: Money,
}

fn main() {}
