// A natural key is a field of the insert struct: leaving it out does not compile.
use skelly_db::Table;

#[derive(Table)]
struct Country {
    #[table(primary_key)]
    code: String,
    name: String,
}

fn main() {
    let _ = NewCountry { name: "Germany".into() };
}
