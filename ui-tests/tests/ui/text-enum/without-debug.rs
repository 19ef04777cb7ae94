use skelly_db::TextEnum;

#[derive(TextEnum, Clone, Copy)]
pub enum Role {
    Admin,
    Member,
}

fn main() {}
