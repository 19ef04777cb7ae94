use skelly_db::TextEnum;

#[derive(TextEnum, Clone, Copy)]
#[text_enum(rename_all = "Kebab")]
enum Role {
    Admin,
}

fn main() {}
