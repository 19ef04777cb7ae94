use skelly_db::TextEnum;

#[derive(TextEnum, Debug)]
#[text_enum(pg_enum = "app.order status")]
enum Status {
    Open,
}

#[derive(TextEnum, Debug)]
#[text_enum(pg_enum = "a.b.c")]
enum Kind {
    One,
}

fn main() {}
