use skelly_db::Row;

struct Money(u64);

#[derive(Row)]
struct Report {
    total: Money,
}

fn main() {}
