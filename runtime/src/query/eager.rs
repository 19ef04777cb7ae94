//! Eager loading along a foreign key without N+1 queries: one statement per relation with
//! `= ANY($1)`, rows matched in memory.

use std::collections::HashMap;
use std::hash::Hash;

use tokio_postgres::types::ToSql;

use super::join::ForeignKey;
use crate::error::Result;
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
    /// The key, if not NULL.
    fn key(&self) -> Option<&Self::Key>;
}

impl<K: Key> KeyValue for K {
    type Key = K;
    fn key(&self) -> Option<&K> {
        Some(self)
    }
}

impl<K: Key> KeyValue for Option<K> {
    type Key = K;
    fn key(&self) -> Option<&K> {
        self.as_ref()
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
) -> Result<Vec<X>> {
    let statements = X::statements();
    let mut sql = format!(
        "SELECT {} FROM {} WHERE ",
        statements.columns, statements.table
    );
    push_ident(&mut sql, column);
    sql.push_str(" = ANY($1)");
    if let Some(deleted) = statements.soft_delete {
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

/// Each child with its parent (belongs to), in one statement for all of them:
/// `SELECT ... FROM parent WHERE key = ANY($1)`. A child whose key is NULL or whose parent is
/// missing or soft-deleted gets `None`.
///
/// ```no_run
/// # use skelly_db::Table;
/// # #[derive(Table, Clone)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
/// # #[derive(Table)] #[table(schema = "blog")]
/// # struct Post { id: i64, #[table(references = "user.users")] author_id: uuid::Uuid, title: String }
/// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
/// // A parent shared by several children is cloned for each: the parent type is `Clone`.
/// let posts = Post::query().limit(50).fetch_all(&pool).await?;
/// let posts: Vec<(Post, Option<User>)> =
///     skelly_db::query::load_parents(&pool, posts, Post::AUTHOR_ID_FK).await?;
/// # Ok(()) }
/// ```
pub async fn load_parents<T: Table, P: Table + Clone, R: Relation<T, P>>(
    db: &impl Executor,
    children: Vec<T>,
    key: R,
) -> Result<Vec<(T, Option<P>)>> {
    let (_, parent_column) = key.columns();
    let mut seen = std::collections::HashSet::new();
    let keys: Vec<KeyOf<R, T, P>> = children
        .iter()
        .filter_map(|c| key.value(c).key())
        .filter(|k| seen.insert(*k))
        .cloned()
        .collect();
    let parents: Vec<P> = if keys.is_empty() {
        Vec::new()
    } else {
        rows_where_in(db, parent_column, &keys).await?
    };
    let mut by_key: HashMap<KeyOf<R, T, P>, usize> = HashMap::new();
    if !parents.is_empty() {
        let column = column_index::<P>(parent_column)?;
        for (i, p) in parents.iter().enumerate() {
            if let Some(k) = key_of::<P, KeyOf<R, T, P>>(p, column)? {
                by_key.insert(k, i);
            }
        }
    }
    Ok(children
        .into_iter()
        .map(|child| {
            // A parent shared by several children is cloned for each.
            let parent = key
                .value(&child)
                .key()
                .and_then(|k| by_key.get(k))
                .map(|&i| parents[i].clone());
            (child, parent)
        })
        .collect())
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
        rows_where_in(db, child_column, &keys).await?
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
