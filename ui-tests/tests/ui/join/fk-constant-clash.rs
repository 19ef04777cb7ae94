use skelly_db::Table;

#[derive(Table)]
pub struct Post {
    pub id: uuid::Uuid,
    #[table(references = "user.users")]
    pub owner: uuid::Uuid,
    pub owner_fk: bool,
}

fn main() {}
