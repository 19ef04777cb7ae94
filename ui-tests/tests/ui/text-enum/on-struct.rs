use skelly_db::TextEnum;

#[derive(TextEnum)]
struct Role {
    name: String,
}

fn main() {}
