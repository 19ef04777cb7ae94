use skelly_db::TextEnum;

#[derive(TextEnum, Clone, Copy)]
enum Role {
    #[text_enum(renam = "a")]
    Admin,
}

fn main() {}
