use skelly_db::Table;

#[derive(Table)]
#[table(schema = "blog")]
pub struct Article {
    pub id: uuid::Uuid,
    pub title: String,
}

#[derive(Table)]
#[table(schema = "blog")]
pub struct Tag {
    pub id: i32,
}

#[derive(Table)]
#[table(schema = "blog")]
pub struct Favorite {
    pub id: i64,
    #[table(references = "blog.articles")]
    pub article_id: uuid::Uuid,
    #[table(references = "blog.tags")]
    pub tag_id: i32,
}

fn main() {
    // A foreign key to another table than the one filtered.
    let _ = Article::query().having_child(Favorite::TAG_ID_FK, Favorite::ID.eq(1));
    // A condition on another table than the key's.
    let _ = Article::query().having_child(Favorite::ARTICLE_ID_FK, Tag::ID.eq(1));
    // A subquery selecting another type than the column's.
    let _ = Article::query()
        .filter(Article::ID.in_subquery(Favorite::query().subquery(Favorite::TAG_ID)));
}
