use skelly_db::TextEnum;

#[derive(TextEnum, Clone)]
enum Role {
    Admin,
    Custom(String),
}

fn main() {}
