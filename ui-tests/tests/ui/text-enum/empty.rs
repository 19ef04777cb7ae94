use skelly_db::TextEnum;

#[derive(TextEnum)]
enum Role {}

fn main() {}
