use skelly_db::TextEnum;

#[derive(TextEnum, Clone, Copy)]
#[text_enum(rename_al = "kebab-case")]
enum Role {
    Admin,
}

fn main() {}
