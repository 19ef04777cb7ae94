use skelly_db::Row;

#[derive(Row)]
#[row(krate = "x")]
struct Report {
    #[row(column = "n")]
    total: i64,
}

#[derive(Row)]
struct Pair(i64, String);

fn main() {}
