use skelly_db::Table;

#[derive(Table)]
#[table(index(email, sort = "desc"))]
#[table(unique(email, using = "btree"))]
#[table(check(expr = "email <> ''", valid = false))]
struct User {
    id: uuid::Uuid,
    email: String,
}

fn main() {}
