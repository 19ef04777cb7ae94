use skelly_db::TextEnum;

#[derive(TextEnum, Clone, Copy)]
enum Role {
    Admin,
    #[text_enum(rename = "admin")]
    Root,
}

fn main() {}
