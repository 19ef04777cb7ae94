// Typed columns come from the derive only; an index past the table's columns cannot be made.
use skelly_db::Table;

#[derive(Table)]
struct User {
    id: uuid::Uuid,
}

const BAD: skelly_db::Column<User, String> = skelly_db::Column::new(99);

fn main() {}
