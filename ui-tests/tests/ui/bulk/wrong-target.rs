use skelly_db::Table;

#[derive(Table)]
#[table(schema = "blog")]
pub struct Tag {
    pub id: i32,
    #[table(unique)]
    pub name: String,
}

#[derive(Table)]
#[table(schema = "blog")]
pub struct Label {
    pub id: i32,
    #[table(unique)]
    pub name: String,
}

fn main() {
    // The conflict target of another table.
    let _ = Tag::bulk_insert(vec![]).on_conflict(Label::NAME_KEY);
    // A column is not a conflict target: a declared key or unique is.
    let _ = Tag::bulk_insert(vec![]).on_conflict(Tag::NAME);
    // Updating another table's column.
    let _ = Tag::bulk_insert(vec![]).on_conflict(Tag::NAME_KEY).do_update(Label::NAME);
}
