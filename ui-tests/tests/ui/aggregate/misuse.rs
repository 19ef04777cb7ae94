use skelly_db::query::{count, sum};
use skelly_db::Table;

#[derive(Table)]
#[table(schema = "blog")]
pub struct Article {
    pub id: uuid::Uuid,
    pub title: String,
    pub words: i32,
}

#[derive(Table)]
#[table(schema = "blog")]
pub struct Tag {
    pub id: i32,
}

fn main() {
    // A text column cannot be summed.
    let _ = Article::query().group_by(Article::ID).aggregate(sum(Article::TITLE));
    // An aggregate of another table's column.
    let _ = Article::query().group_by(Article::ID).aggregate(sum(Tag::ID));
    // HAVING compares with the aggregate's type: sum(integer) is bigint, not text.
    let _ = Article::query()
        .group_by(Article::ID)
        .aggregate(count())
        .having(sum(Article::WORDS).gt("many"));
}
