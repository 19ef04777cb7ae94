use skelly_db::Table;

#[derive(Table)]
#[table(no_primary_key)]
struct Event {
    #[table(primary_key)]
    code: String,
}

fn main() {}
