//! Typed joins along declared foreign keys: a child's query joined to the table its key
//! references, rows decoded by each table's own mapping at a column offset.

use std::marker::PhantomData;

use tokio_postgres::Row;

use super::expr::{Column, Expr, Node, Order};
use super::select::{Scope, Select};
use crate::error::Result;
use crate::executor::{Executor, Param};
use crate::sql::{push_ident, push_placeholder, push_read_column};
use crate::table::Table;

/// A foreign key of table `T` (a column declared `#[table(references = "...")]`), typed by
/// the table it references: `TARGET` identifies that table. The derive makes one per such
/// column, named after it with `_FK`: `Post::AUTHOR_ID_FK`.
pub struct ForeignKey<T, V, const TARGET: u64> {
    pub(super) column: Column<T, V>,
    pub(super) target_column: &'static str,
    /// The constraint's name, for [`Error::violates`](crate::Error::violates).
    pub(super) constraint: &'static str,
}

impl<T, V, const TARGET: u64> Clone for ForeignKey<T, V, TARGET> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, V, const TARGET: u64> Copy for ForeignKey<T, V, TARGET> {}

/// The column a foreign key references in `P`: the one it names, or (`references =
/// "schema.table"`, no column) `P`'s primary key, whatever its name.
pub(super) fn target_column<P: Table>(named: &'static str) -> &'static str {
    if !named.is_empty() {
        return named;
    }
    P::COLUMNS
        .iter()
        .find(|c| c.role == crate::table::ColumnRole::PrimaryKey)
        .map_or("id", |c| c.name)
}

impl<T, V, const TARGET: u64> ForeignKey<T, V, TARGET> {
    /// Made by the derive; `target_column` is empty for the referenced table's key.
    #[doc(hidden)]
    pub const fn new(
        column: Column<T, V>,
        target_column: &'static str,
        constraint: &'static str,
    ) -> Self {
        ForeignKey {
            column,
            target_column,
            constraint,
        }
    }
}

/// Implemented by the derive for every table: `ID` identifies it (a hash of `schema.table`),
/// which is what lets a join check at compile time that a foreign key references it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the table this foreign key references",
    label = "the foreign key references another table",
    note = "join along a column declared `#[table(references = \"schema.table\")]`, to the struct of that table"
)]
pub trait TableId<const ID: u64>: Table {}

/// The table whose id is `ID`, as a type: the derive implements [`TableOf<User>`] for
/// `TableRef<{id of user.users}>`, which is how a foreign key names its parent's struct, so
/// that `where_parent`, eager loading and joins infer it.
pub struct TableRef<const ID: u64>;

/// Implemented by the derive: `TableRef<ID>` is the table `T`.
#[diagnostic::on_unimplemented(
    message = "`{T}` is not the table this foreign key references",
    label = "the foreign key references another table",
    note = "use the struct of the table the foreign key names"
)]
pub trait TableOf<T> {}

/// A foreign key of table `T` over several columns (`#[table(foreign_key(columns(a, b),
/// references = "..."))]`), typed by the table it references (`TARGET`) and by the tuple of
/// its fields' types (`V`). The derive makes one per such key, named after its fields with
/// `_FK`: `columns(watcher_id, watcher_kind)` is `WATCHER_ID_WATCHER_KIND_FK`.
pub struct CompositeForeignKey<T, V, const TARGET: u64> {
    columns: &'static [&'static str],
    target_columns: &'static [&'static str],
    constraint: &'static str,
    _marker: PhantomData<fn() -> (T, V)>,
}

impl<T, V, const TARGET: u64> Clone for CompositeForeignKey<T, V, TARGET> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, V, const TARGET: u64> Copy for CompositeForeignKey<T, V, TARGET> {}

impl<T, V, const TARGET: u64> CompositeForeignKey<T, V, TARGET> {
    /// Made by the derive; `target_columns` is empty for the referenced table's key.
    #[doc(hidden)]
    pub const fn new(
        columns: &'static [&'static str],
        target_columns: &'static [&'static str],
        constraint: &'static str,
    ) -> Self {
        CompositeForeignKey {
            columns,
            target_columns,
            constraint,
            _marker: PhantomData,
        }
    }
}

impl<T: Table, V, const TARGET: u64> crate::table::ConstraintRef for ForeignKey<T, V, TARGET> {
    fn constraint_name(&self) -> &'static str {
        self.constraint
    }
    fn table_name(&self) -> &'static str {
        T::NAME
    }
}

impl<T: Table, V, const TARGET: u64> crate::table::ConstraintRef
    for CompositeForeignKey<T, V, TARGET>
{
    fn constraint_name(&self) -> &'static str {
        self.constraint
    }
    fn table_name(&self) -> &'static str {
        T::NAME
    }
}

/// What [`Select::join`] takes: a foreign key of `T` (one column or several) that references
/// `P`'s table.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a foreign key of `{T}` that references `{P}`",
    label = "not a foreign key to `{P}`'s table",
    note = "join along a `..._FK` constant of a column declared `#[table(references = \"schema.table\")]` (or of a `foreign_key(columns(...), ...)`), to the struct of that table"
)]
pub trait References<T, P> {
    /// `(child column, parent column)` pairs, in key order.
    #[doc(hidden)]
    fn pairs(&self) -> Vec<(&'static str, &'static str)>;
}

impl<T: Table, V, P: Table, const TARGET: u64> References<T, P> for ForeignKey<T, V, TARGET>
where
    TableRef<TARGET>: TableOf<P>,
{
    fn pairs(&self) -> Vec<(&'static str, &'static str)> {
        vec![(self.column.name(), target_column::<P>(self.target_column))]
    }
}

impl<T: Table, V, P: Table, const TARGET: u64> References<T, P>
    for CompositeForeignKey<T, V, TARGET>
where
    TableRef<TARGET>: TableOf<P>,
{
    fn pairs(&self) -> Vec<(&'static str, &'static str)> {
        composite_pairs(self.columns, self.target_columns, P::COLUMNS)
    }
}

// The referenced columns are the ones named, or the parent's key columns in field order (the
// order of its PRIMARY KEY).
fn composite_pairs(
    columns: &'static [&'static str],
    named: &'static [&'static str],
    parent: &'static [crate::table::ColumnDef],
) -> Vec<(&'static str, &'static str)> {
    let key: Vec<&'static str> = match named.is_empty() {
        false => named.to_vec(),
        true => parent
            .iter()
            .filter(|c| c.role == crate::table::ColumnRole::PrimaryKey)
            .map(|c| c.name)
            .collect(),
    };
    columns.iter().copied().zip(key).collect()
}

/// Marks an inner join: rows come as `(child, parent)`.
#[derive(Debug, Clone, Copy)]
pub struct Inner;
/// Marks a left join: rows come as `(child, Option<parent>)`.
#[derive(Debug, Clone, Copy)]
pub struct Left;

/// A child table's query joined to its parent along a foreign key;
/// [`Select::join`] and [`Select::left_join`] start one.
pub struct Join<T, P, K> {
    child: Select<T>,
    /// `(child column, parent column)` pairs of the foreign key.
    on: Vec<(&'static str, &'static str)>,
    parent_filter: Option<Node>,
    /// Ordering terms in call order: `(alias, column, descending)`.
    order: Vec<(&'static str, &'static str, bool)>,
    parent_scope: Scope,
    _marker: PhantomData<fn() -> (P, K)>,
}

impl<T: Table> Select<T> {
    /// Joins the table the foreign key references: rows come back as `(child, parent)`;
    /// soft-deleted rows of either table are left out unless the query asks
    /// ([`Join::with_deleted_parents`], [`Select::with_deleted`] before joining). A column that
    /// is not a foreign key to `P` does not compile.
    ///
    /// ```no_run
    /// # use skelly_db::Table;
    /// # #[derive(Table)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
    /// # #[derive(Table)] #[table(schema = "blog")]
    /// # struct Post { id: uuid::Uuid, #[table(references = "user.users")] author_id: uuid::Uuid, title: String }
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// let rows: Vec<(Post, User)> = Post::query()
    ///     .filter(Post::TITLE.ilike("%rust%"))
    ///     .join::<User>(Post::AUTHOR_ID_FK)
    ///     .filter_parent(User::EMAIL.like("%@example.com"))
    ///     .fetch_all(&pool)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn join<P: Table>(self, key: impl References<T, P>) -> Join<T, P, Inner> {
        Join::new(self, key.pairs())
    }

    /// As [`Select::join`], keeping children without a (live) parent: rows come back as
    /// `(child, Option<parent>)`. A parent filter still leaves out the children whose parent
    /// does not match.
    ///
    /// ```no_run
    /// # use skelly_db::Table;
    /// # #[derive(Table)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
    /// # #[derive(Table)] #[table(schema = "blog")]
    /// # struct Post { id: i64, #[table(references = "user.users")] editor_id: Option<uuid::Uuid> }
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// let rows: Vec<(Post, Option<User>)> =
    ///     Post::query().left_join::<User>(Post::EDITOR_ID_FK).fetch_all(&pool).await?;
    /// # Ok(()) }
    /// ```
    pub fn left_join<P: Table>(self, key: impl References<T, P>) -> Join<T, P, Left> {
        Join::new(self, key.pairs())
    }
}

impl<T: Table, P: Table, K> Join<T, P, K> {
    fn new(child: Select<T>, on: Vec<(&'static str, &'static str)>) -> Self {
        let order = child.order.iter().map(|(c, d)| ("c", *c, *d)).collect();
        Join {
            child,
            on,
            parent_filter: None,
            order,
            parent_scope: Scope::Live,
            _marker: PhantomData,
        }
    }

    /// Adds a condition on the child table (ANDed with earlier ones).
    pub fn filter(mut self, expr: Expr<T>) -> Self {
        self.child = self.child.filter(expr);
        self
    }

    /// Adds a condition on the parent table (ANDed with earlier ones).
    pub fn filter_parent(mut self, expr: Expr<P>) -> Self {
        self.parent_filter = Some(match self.parent_filter.take() {
            Some(existing) => Node::And(Box::new(existing), Box::new(expr.node)),
            None => expr.node,
        });
        self
    }

    /// Orders by a child column (after earlier terms, child or parent).
    pub fn order_by(mut self, order: Order<T>) -> Self {
        self.order.push(("c", order.column, order.descending));
        self
    }

    /// Orders by a parent column (after earlier terms, child or parent).
    pub fn order_by_parent(mut self, order: Order<P>) -> Self {
        self.order.push(("p", order.column, order.descending));
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: i64) -> Self {
        self.child = self.child.limit(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: i64) -> Self {
        self.child = self.child.offset(n);
        self
    }

    /// Joins soft-deleted parents too.
    pub fn with_deleted_parents(mut self) -> Self {
        self.parent_scope = Scope::WithDeleted;
        self
    }

    fn render(&self, left: bool) -> (String, Vec<Param<'_>>) {
        let (child, parent) = (T::statements(), P::statements());
        let mut sql = String::with_capacity(
            2 * (child.columns.len() + parent.columns.len()) + child.table.len() + 192,
        );
        sql.push_str("SELECT ");
        for (alias, columns) in [("c", T::COLUMNS), ("p", P::COLUMNS)] {
            for c in columns {
                if sql.len() > "SELECT ".len() {
                    sql.push_str(", ");
                }
                push_read_column(&mut sql, Some(alias), c.name, c.sql_type, c.check.is_some());
            }
        }
        sql.push_str(" FROM ");
        sql.push_str(&child.table);
        sql.push_str(" AS \"c\" ");
        sql.push_str(if left { "LEFT JOIN " } else { "JOIN " });
        sql.push_str(&parent.table);
        sql.push_str(" AS \"p\" ON ");
        for (i, (child_column, parent_column)) in self.on.iter().enumerate() {
            if i > 0 {
                sql.push_str(" AND ");
            }
            sql.push_str("\"p\".");
            push_ident(&mut sql, parent_column);
            sql.push_str(" = \"c\".");
            push_ident(&mut sql, child_column);
        }
        let parent_live = match (self.parent_scope, parent.soft_delete) {
            (Scope::Live, Some(column)) => Some(column),
            _ => None,
        };
        // A left join keeps the child of a soft-deleted parent, with no parent.
        if let (true, Some(column)) = (left, parent_live) {
            sql.push_str(" AND \"p\".");
            push_ident(&mut sql, column);
            sql.push_str(" IS NULL");
        }
        let mut params: Vec<Param<'_>> = Vec::new();
        let mut conditions = 0;
        let mut and = |sql: &mut String| {
            sql.push_str(if conditions == 0 { " WHERE " } else { " AND " });
            conditions += 1;
        };
        if let Some(filter) = &self.child.filter {
            and(&mut sql);
            filter.render_in(&mut sql, &mut params, Some("c"));
        }
        let child_scope = child.soft_delete.and_then(|c| match self.child.scope {
            Scope::Live => Some((c, " IS NULL")),
            Scope::OnlyDeleted => Some((c, " IS NOT NULL")),
            Scope::WithDeleted => None,
        });
        if let Some((column, test)) = child_scope {
            and(&mut sql);
            sql.push_str("\"c\".");
            push_ident(&mut sql, column);
            sql.push_str(test);
        }
        if let Some(filter) = &self.parent_filter {
            and(&mut sql);
            filter.render_in(&mut sql, &mut params, Some("p"));
        }
        if let (false, Some(column)) = (left, parent_live) {
            and(&mut sql);
            sql.push_str("\"p\".");
            push_ident(&mut sql, column);
            sql.push_str(" IS NULL");
        }
        for (i, (alias, column, descending)) in self.order.iter().enumerate() {
            sql.push_str(if i == 0 { " ORDER BY " } else { ", " });
            push_ident(&mut sql, alias);
            sql.push('.');
            push_ident(&mut sql, column);
            sql.push_str(if *descending { " DESC" } else { " ASC" });
        }
        if let Some(limit) = &self.child.limit {
            params.push(limit);
            sql.push_str(" LIMIT ");
            push_placeholder(&mut sql, params.len());
        }
        if let Some(offset) = &self.child.offset {
            params.push(offset);
            sql.push_str(" OFFSET ");
            push_placeholder(&mut sql, params.len());
        }
        // A lock asked for on the child's query locks the child rows (PostgreSQL refuses one
        // on the nullable side of a left join).
        if let Some(lock) = self.child.lock {
            sql.push_str(lock);
            sql.push_str(" OF \"c\"");
            if let Some(wait) = self.child.wait {
                sql.push_str(wait);
            }
        }
        (sql, params)
    }

    // Where the parent's columns are in a joined row.
    fn parent_map() -> Vec<usize> {
        let n = T::COLUMNS.len();
        (n..n + P::COLUMNS.len()).collect()
    }
}

impl<T: Table, P: Table> Join<T, P, Inner> {
    /// The SELECT statement this builds, with `$n` placeholders.
    pub fn to_sql(&self) -> String {
        self.render(false).0
    }

    /// Every matching pair.
    pub async fn fetch_all(&self, db: &impl Executor) -> Result<Vec<(T, P)>> {
        let (sql, params) = self.render(false);
        let map = Self::parent_map();
        let rows = db.query(&sql, &params).await?;
        rows.iter()
            .map(|row| Ok((T::from_row(row)?, P::from_row_mapped(row, &map)?)))
            .collect()
    }
}

impl<T: Table, P: Table> Join<T, P, Left> {
    /// The SELECT statement this builds, with `$n` placeholders.
    pub fn to_sql(&self) -> String {
        self.render(true).0
    }

    /// Every matching child, with its parent when it has a live one.
    pub async fn fetch_all(&self, db: &impl Executor) -> Result<Vec<(T, Option<P>)>> {
        let (sql, params) = self.render(true);
        let map = Self::parent_map();
        // The parent's (first) referenced column: NULL when there is no parent.
        let target = self.on.first().map_or("", |(_, parent)| *parent);
        let Some(position) = P::COLUMNS.iter().position(|c| c.name == target) else {
            return Err(crate::Error::Config(format!(
                "{} has no field for `{target}`, the column the foreign key references; the left join cannot tell a missing parent",
                P::qualified_name(),
            )));
        };
        let key = T::COLUMNS.len() + position;
        let rows = db.query(&sql, &params).await?;
        rows.iter()
            .map(|row| {
                let parent = match is_null(row, key) {
                    true => None,
                    false => Some(P::from_row_mapped(row, &map)?),
                };
                Ok((T::from_row(row)?, parent))
            })
            .collect()
    }
}

fn is_null(row: &Row, index: usize) -> bool {
    matches!(
        row.try_get::<_, crate::__private::RawValue>(index),
        Ok(crate::__private::RawValue(None))
    )
}
