use skelly_db::Table;

#[derive(Table)]
#[table(patch_derive = "Debug")]
struct Tag {
    id: uuid::Uuid,
}

fn main() {}
