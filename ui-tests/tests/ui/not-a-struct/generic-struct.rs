use skelly_db::Table;

#[derive(Table)]
struct User<T> {
    id: uuid::Uuid,
    value: T,
}

fn main() {}
