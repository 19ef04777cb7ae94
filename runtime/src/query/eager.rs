//! Eager loading along a foreign key without N+1 queries: one statement per relation with
//! `= ANY($1)`, rows matched in memory.

use std::collections::HashMap;
use std::hash::Hash;

use tokio_postgres::types::ToSql;

use super::join::ForeignKey;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::sql::{push_ident, quote_ident};
use crate::table::Table;

/// A key type eager loading can match rows by: integers, `Uuid`, `String`.
pub trait Key: ToSql + Eq + Hash + Clone + Send + Sync + 'static {}

impl Key for i16 {}
impl Key for i32 {}
impl Key for i64 {}
impl Key for uuid::Uuid {}
impl Key for String {}
impl Key for Vec<u8> {}

/// A foreign-key field's value: a key, or an optional one (a nullable foreign key).
pub trait KeyValue: Send + Sync + 'static {
    /// The key type of the referenced column.
    type Key: Key;
    /// What a child gets: the parent itself for a NOT NULL foreign key, `Option` for a
    /// nullable one.
    type Parent<P>;
    /// What [`Parents::of`] gives: `&P`, or `Option<&P>`.
    type ParentRef<'a, P: 'a>;
    /// Whether the foreign key can be NULL.
    const NULLABLE: bool;
    /// The key, if not NULL.
    fn key(&self) -> Option<&Self::Key>;
    #[doc(hidden)]
    fn parent<P>(found: Option<P>, missing: impl FnOnce() -> Error) -> Result<Self::Parent<P>>;
    #[doc(hidden)]
    fn parent_ref<'a, P>(
        found: Option<&'a P>,
        missing: impl FnOnce() -> String,
    ) -> Self::ParentRef<'a, P>;
}

impl<K: Key> KeyValue for K {
    type Key = K;
    type Parent<P> = P;
    type ParentRef<'a, P: 'a> = &'a P;
    const NULLABLE: bool = false;
    fn key(&self) -> Option<&K> {
        Some(self)
    }
    fn parent<P>(found: Option<P>, missing: impl FnOnce() -> Error) -> Result<P> {
        found.ok_or_else(missing)
    }
    fn parent_ref<P>(found: Option<&P>, missing: impl FnOnce() -> String) -> &P {
        match found {
            Some(p) => p,
            None => panic!("{}", missing()),
        }
    }
}

impl<K: Key> KeyValue for Option<K> {
    type Key = K;
    type Parent<P> = Option<P>;
    type ParentRef<'a, P: 'a> = Option<&'a P>;
    const NULLABLE: bool = true;
    fn key(&self) -> Option<&K> {
        self.as_ref()
    }
    fn parent<P>(found: Option<P>, _: impl FnOnce() -> Error) -> Result<Option<P>> {
        Ok(found)
    }
    fn parent_ref<P>(found: Option<&P>, _: impl FnOnce() -> String) -> Option<&P> {
        found
    }
}

/// What eager loading takes: a foreign key of the child `T` to the parent `P`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a foreign key of `{T}` that references `{P}`",
    label = "not a foreign key to `{P}`'s table",
    note = "load along a `..._FK` constant of a column declared `#[table(references = \"schema.table\")]`"
)]
pub trait Relation<T, P> {
    /// The child's foreign-key field type.
    type Value: KeyValue;
    /// `(child column, parent column)`.
    #[doc(hidden)]
    fn columns(&self) -> (&'static str, &'static str);
    /// The child's foreign-key value.
    #[doc(hidden)]
    fn value<'r>(&self, child: &'r T) -> &'r Self::Value;
}

impl<T: Table, V: KeyValue, P: Table, const TARGET: u64> Relation<T, P> for ForeignKey<T, V, TARGET>
where
    super::join::TableRef<TARGET>: super::join::TableOf<P>,
{
    type Value = V;

    fn columns(&self) -> (&'static str, &'static str) {
        (
            self.column.name(),
            super::join::target_column::<P>(self.target_column),
        )
    }

    fn value<'r>(&self, child: &'r T) -> &'r V {
        self.column.get(child)
    }
}

type KeyOf<R, T, P> = <<R as Relation<T, P>>::Value as KeyValue>::Key;

// The live rows of `X` whose `column` is one of `keys`, in one statement.
async fn rows_where_in<X: Table, K: Key>(
    db: &impl Executor,
    column: &str,
    keys: &[K],
    with_deleted: bool,
) -> Result<Vec<X>> {
    let statements = X::statements();
    let mut sql = format!(
        "SELECT {} FROM {} WHERE ",
        statements.columns, statements.table
    );
    push_ident(&mut sql, column);
    sql.push_str(" = ANY($1)");
    if let (false, Some(deleted)) = (with_deleted, statements.soft_delete) {
        sql.push_str(" AND ");
        sql.push_str(&quote_ident(deleted));
        sql.push_str(" IS NULL");
    }
    // On a MockDb: the rows scripted for `Op::Select` on `X`.
    crate::fetch::rows::<X>(db, crate::op::Op::Select, &sql, &[&keys]).await
}

// Where column `name` is in `X::COLUMNS`; an error when the struct has no field for it.
fn column_index<X: Table>(name: &str) -> Result<usize> {
    X::COLUMNS
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| {
            crate::Error::Config(format!(
                "{} has no field for `{name}`, the column the foreign key references",
                X::qualified_name()
            ))
        })
}

// The value of column `index` of `row`, as `K` (`None` for NULL); an error when its type is
// not the foreign key's.
fn key_of<X: Table, K: Key>(row: &X, index: usize) -> Result<Option<K>> {
    let config = |what: String| Err(crate::Error::Config(what));
    let name = X::COLUMNS[index].name;
    let Some(value) = row.column_value(index) else {
        return config(format!(
            "{} does not expose its values (a Table impl not made by the derive)",
            X::qualified_name()
        ));
    };
    if let Some(k) = value.downcast_ref::<K>() {
        return Ok(Some(k.clone()));
    }
    if let Some(k) = value.downcast_ref::<Option<K>>() {
        return Ok(k.clone());
    }
    config(format!(
        "{}.{name} is not of the foreign key's type `{}`; eager loading matches keys of one type",
        X::qualified_name(),
        std::any::type_name::<K>()
    ))
}

/// The parents of `children` along `key`, in one statement, keyed by the foreign key's value:
/// a NOT NULL foreign key's parent is always there (soft-deleted ones too: the constraint keeps
/// them), a nullable one's is missing when NULL or soft-deleted.
async fn load_parent_map<T: Table, P: Table, R: Relation<T, P>>(
    db: &impl Executor,
    children: &[T],
    key: &R,
) -> Result<HashMap<KeyOf<R, T, P>, P>> {
    let (_, parent_column) = key.columns();
    let mut seen = std::collections::HashSet::new();
    let keys: Vec<KeyOf<R, T, P>> = children
        .iter()
        .filter_map(|c| key.value(c).key())
        .filter(|k| seen.insert(*k))
        .cloned()
        .collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let with_deleted = !<R::Value as KeyValue>::NULLABLE;
    let parents: Vec<P> = rows_where_in(db, parent_column, &keys, with_deleted).await?;
    let column = column_index::<P>(parent_column)?;
    let mut by_key = HashMap::with_capacity(parents.len());
    for p in parents {
        if let Some(k) = key_of::<P, KeyOf<R, T, P>>(&p, column)? {
            by_key.insert(k, p);
        }
    }
    Ok(by_key)
}

fn missing_parent<P: Table>() -> Error {
    Error::Config(format!(
        "a NOT NULL foreign key to {} names a row that is not there (or that this executor did not return)",
        P::qualified_name()
    ))
}

/// Each child with its parent (belongs to), in one statement for all of them:
/// `SELECT ... FROM parent WHERE key = ANY($1)`. Along a NOT NULL foreign key the child gets
/// the parent itself (`(Post, User)`; soft-deleted parents too, as the constraint keeps them);
/// along a nullable one `Option` (`None` for NULL or a soft-deleted parent). The parent type is
/// inferred from the key. To load several relations of one list, see [`parents_of`] and
/// [`children_of`].
///
/// ```no_run
/// # use skelly_db::Table;
/// # #[derive(Table, Clone)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
/// # #[derive(Table)] #[table(schema = "blog")]
/// # struct Post { id: i64, #[table(references = "user.users")] author_id: uuid::Uuid,
/// #   #[table(references = "user.users")] editor_id: Option<uuid::Uuid>, title: String }
/// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
/// // A parent shared by several children is cloned for each: the parent type is `Clone`.
/// let posts = Post::query().limit(50).fetch_all(&pool).await?;
/// let posts: Vec<(Post, User)> =
///     skelly_db::query::load_parents(&pool, posts, Post::AUTHOR_ID_FK).await?;
/// let posts: Vec<(Post, Option<User>)> = skelly_db::query::load_parents(
///     &pool,
///     posts.into_iter().map(|(p, _)| p).collect(),
///     Post::EDITOR_ID_FK,
/// )
/// .await?;
/// # Ok(()) }
/// ```
pub async fn load_parents<T: Table, P: Table + Clone, R: Relation<T, P>>(
    db: &impl Executor,
    children: Vec<T>,
    key: R,
) -> Result<Vec<(T, <R::Value as KeyValue>::Parent<P>)>> {
    let by_key = load_parent_map(db, &children, &key).await?;
    children
        .into_iter()
        .map(|child| {
            // A parent shared by several children is cloned for each.
            let parent = key.value(&child).key().and_then(|k| by_key.get(k)).cloned();
            let parent = <R::Value as KeyValue>::parent(parent, missing_parent::<P>)?;
            Ok((child, parent))
        })
        .collect()
}

/// The parents of a list, loaded in one statement and looked up by child: what
/// [`parents_of`] gives. Borrow them while iterating the list; load as many relations of one
/// list as needed, no zip.
pub struct Parents<T, P, R: Relation<T, P>> {
    by_key: HashMap<KeyOf<R, T, P>, P>,
    key: R,
}

impl<T: Table, P: Table, R: Relation<T, P>> Parents<T, P, R> {
    /// The child's parent: `&P` along a NOT NULL foreign key, `Option<&P>` along a nullable
    /// one.
    ///
    /// # Panics
    ///
    /// Along a NOT NULL foreign key, when `child` was not among the children loaded (as a
    /// map's index does); [`Parents::get`] returns `None` instead.
    pub fn of(&self, child: &T) -> <R::Value as KeyValue>::ParentRef<'_, P> {
        <R::Value as KeyValue>::parent_ref(self.get(child), || {
            format!(
                "Parents::of: this {} was not among the children loaded",
                T::qualified_name()
            )
        })
    }

    /// The child's parent, if it was loaded.
    pub fn get(&self, child: &T) -> Option<&P> {
        self.key.value(child).key().and_then(|k| self.by_key.get(k))
    }

    /// The parents loaded, each once.
    pub fn into_values(self) -> Vec<P> {
        self.by_key.into_values().collect()
    }
}

/// The parents of `children` along `key`, in one statement, to look up by child with
/// [`Parents::of`]: load several relations of one list and use them together.
///
/// ```no_run
/// # use skelly_db::Table;
/// # #[derive(Table)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
/// # #[derive(Table)] #[table(schema = "blog")]
/// # struct Post { id: i64, #[table(references = "user.users")] author_id: uuid::Uuid, title: String }
/// # #[derive(Table)] #[table(schema = "blog")]
/// # struct Comment { id: i64, #[table(references = "blog.posts")] post_id: i64, body: String }
/// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
/// use skelly_db::query::{children_of, parents_of};
///
/// let posts = Post::query().limit(50).fetch_all(&pool).await?;
/// let authors = parents_of(&pool, &posts, Post::AUTHOR_ID_FK).await?;
/// let comments = children_of(&pool, &posts, Comment::POST_ID_FK).await?;
/// for post in &posts {
///     let author: &User = authors.of(post);
///     let comments: &[Comment] = comments.of(post);
///     println!("{} by {}: {} comments", post.title, author.email, comments.len());
/// }
/// # Ok(()) }
/// ```
pub async fn parents_of<T: Table, P: Table, R: Relation<T, P>>(
    db: &impl Executor,
    children: &[T],
    key: R,
) -> Result<Parents<T, P, R>> {
    let by_key = load_parent_map(db, children, &key).await?;
    // Along a NOT NULL key every child's parent is there, or the load fails here.
    if !<R::Value as KeyValue>::NULLABLE {
        for child in children {
            if key
                .value(child)
                .key()
                .is_some_and(|k| !by_key.contains_key(k))
            {
                return Err(missing_parent::<P>());
            }
        }
    }
    Ok(Parents { by_key, key })
}

/// The children of a list, loaded in one statement and looked up by parent: what
/// [`children_of`] gives.
pub struct Children<P, T, R: Relation<T, P>> {
    by_key: HashMap<KeyOf<R, T, P>, Vec<T>>,
    column: usize,
    _marker: std::marker::PhantomData<fn() -> (P, R)>,
}

impl<P: Table, T: Table, R: Relation<T, P>> Children<P, T, R> {
    /// The parent's children (none when it has none or was not loaded), in the order the
    /// database returned them.
    pub fn of(&self, parent: &P) -> &[T] {
        key_of::<P, KeyOf<R, T, P>>(parent, self.column)
            .ok()
            .flatten()
            .and_then(|k| self.by_key.get(&k))
            .map_or(&[], Vec::as_slice)
    }
}

/// The children of `parents` along `key` (a foreign key of the child table), in one
/// statement, soft-deleted ones left out, to look up by parent with [`Children::of`].
pub async fn children_of<P: Table, T: Table, R: Relation<T, P>>(
    db: &impl Executor,
    parents: &[P],
    key: R,
) -> Result<Children<P, T, R>> {
    let (child_column, parent_column) = key.columns();
    let column = column_index::<P>(parent_column)?;
    let mut keys: Vec<KeyOf<R, T, P>> = Vec::with_capacity(parents.len());
    let mut seen = std::collections::HashSet::new();
    for p in parents {
        if let Some(k) = key_of::<P, KeyOf<R, T, P>>(p, column)? {
            if seen.insert(k.clone()) {
                keys.push(k);
            }
        }
    }
    let mut by_key: HashMap<KeyOf<R, T, P>, Vec<T>> = HashMap::new();
    if !keys.is_empty() {
        for child in rows_where_in::<T, _>(db, child_column, &keys, false).await? {
            if let Some(k) = key.value(&child).key().cloned() {
                by_key.entry(k).or_default().push(child);
            }
        }
    }
    Ok(Children {
        by_key,
        column,
        _marker: std::marker::PhantomData,
    })
}

/// Each parent with its children (has many), in one statement for all of them:
/// `SELECT ... FROM child WHERE foreign_key = ANY($1)`; soft-deleted children left out,
/// children in the order the database returns them. The child type is `Clone`: a parent
/// listed twice gets its children twice.
///
/// ```no_run
/// # use skelly_db::Table;
/// # #[derive(Table)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
/// # #[derive(Table, Clone)] #[table(schema = "blog")]
/// # struct Post { id: i64, #[table(references = "user.users")] author_id: uuid::Uuid, title: String }
/// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
/// let users = User::query().limit(100).fetch_all(&pool).await?;
/// let users: Vec<(User, Vec<Post>)> =
///     skelly_db::query::load_children(&pool, users, Post::AUTHOR_ID_FK).await?;
/// # Ok(()) }
/// ```
pub async fn load_children<P: Table, T: Table + Clone, R: Relation<T, P>>(
    db: &impl Executor,
    parents: Vec<P>,
    key: R,
) -> Result<Vec<(P, Vec<T>)>> {
    let (child_column, parent_column) = key.columns();
    let parent_keys: Vec<Option<KeyOf<R, T, P>>> = if parents.is_empty() {
        Vec::new()
    } else {
        let column = column_index::<P>(parent_column)?;
        parents
            .iter()
            .map(|p| key_of::<P, KeyOf<R, T, P>>(p, column))
            .collect::<Result<_>>()?
    };
    // How often each key occurs: a parent listed twice gets its children twice (cloned).
    let mut remaining: HashMap<&KeyOf<R, T, P>, usize> = HashMap::new();
    for k in parent_keys.iter().flatten() {
        *remaining.entry(k).or_default() += 1;
    }
    let keys: Vec<KeyOf<R, T, P>> = remaining.keys().map(|k| (*k).clone()).collect();
    let children: Vec<T> = if keys.is_empty() {
        Vec::new()
    } else {
        rows_where_in(db, child_column, &keys, false).await?
    };
    let mut by_key: HashMap<KeyOf<R, T, P>, Vec<T>> = HashMap::new();
    for child in children {
        if let Some(k) = key.value(&child).key().cloned() {
            by_key.entry(k).or_default().push(child);
        }
    }
    let mut out = Vec::with_capacity(parents.len());
    for (parent, k) in parents.into_iter().zip(&parent_keys) {
        let children = match k {
            Some(k) => {
                let left = remaining.get_mut(k).map(|n| {
                    *n -= 1;
                    *n
                });
                match left {
                    Some(0) => by_key.remove(k).unwrap_or_default(),
                    _ => by_key.get(k).cloned().unwrap_or_default(),
                }
            }
            None => Vec::new(),
        };
        out.push((parent, children));
    }
    Ok(out)
}
