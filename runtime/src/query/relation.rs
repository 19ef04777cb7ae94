//! Filters along relations, in one statement: rows that have (or have no) child rows matching a
//! condition (`EXISTS`), rows whose parent matches one, and `IN (SELECT ...)` from another typed
//! query. Soft-delete scopes apply inside the subquery unless its query asks otherwise.

use std::marker::PhantomData;

use super::expr::{Column, Expr, Node};
use super::join::References;
use super::select::{Scope, Select};
use crate::sql::push_ident;
use crate::table::Table;

/// The other table's rows a relation filter looks at: an [`Expr`] on that table (its live rows
/// that match), or a whole [`Select`] (its filter and its soft-delete scope:
/// `Favorite::query().with_deleted()`; order and limit do not apply).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a condition on `{C}`, the table along the foreign key",
    label = "expected an `Expr<{C}>` or a `{C}::query()`"
)]
pub trait Related<C> {
    /// The condition and the soft-delete scope.
    #[doc(hidden)]
    fn into_parts(self) -> RelatedRows;
}

/// What a [`Related`] gives: a condition and a soft-delete scope.
#[doc(hidden)]
pub struct RelatedRows {
    filter: Option<Node>,
    scope: Scope,
}

impl<C> Related<C> for Expr<C> {
    fn into_parts(self) -> RelatedRows {
        RelatedRows {
            filter: Some(self.node),
            scope: Scope::Live,
        }
    }
}

impl<C> Related<C> for Select<C> {
    fn into_parts(self) -> RelatedRows {
        RelatedRows {
            filter: self.filter,
            scope: self.scope,
        }
    }
}

/// The subquery of a relation filter, with no type left: one copy of the rendering serves every
/// table.
#[derive(Clone)]
pub(crate) struct Subquery {
    /// The outer table, `"schema"."table"`: what `on`'s outer columns are qualified by when the
    /// outer query has no alias.
    outer: &'static str,
    /// The subquery's table.
    inner: &'static str,
    /// `(inner column, outer column)` pairs it is correlated by.
    on: Vec<(&'static str, &'static str)>,
    /// The inner table's soft-delete column and its test, when the scope applies.
    scope: Option<(&'static str, &'static str)>,
    filter: Option<Box<Node>>,
}

fn scope_of<C: Table>(scope: Scope) -> Option<(&'static str, &'static str)> {
    scope.condition(C::statements().soft_delete)
}

fn subquery<O: Table, I: Table>(
    on: Vec<(&'static str, &'static str)>,
    related: RelatedRows,
) -> Subquery {
    Subquery {
        outer: &O::statements().table,
        inner: &I::statements().table,
        on,
        scope: scope_of::<I>(related.scope),
        filter: related.filter.map(Box::new),
    }
}

/// `EXISTS (SELECT 1 FROM child ...)`: rows of `T` that have at least one row of `C` along
/// `key` matching `children`. The same as [`Select::having_child`], as an expression to combine
/// with `and`, `or` and `not`.
pub fn has_child<T: Table, C: Table>(
    key: impl References<C, T>,
    children: impl Related<C>,
) -> Expr<T> {
    // The child's foreign-key columns are the subquery's, the parent's key the outer query's.
    Expr::new(Node::Exists {
        negated: false,
        sub: subquery::<T, C>(key.pairs(), children.into_parts()),
    })
}

/// `NOT EXISTS (...)`: rows of `T` with no row of `C` along `key` matching `children`.
pub fn has_no_child<T: Table, C: Table>(
    key: impl References<C, T>,
    children: impl Related<C>,
) -> Expr<T> {
    Expr::new(Node::Exists {
        negated: true,
        sub: subquery::<T, C>(key.pairs(), children.into_parts()),
    })
}

/// `EXISTS (SELECT 1 FROM parent ...)`: rows of `T` whose parent along `key` matches `parent`
/// (a NULL foreign key never does). The parent is not returned.
pub fn parent_matches<T: Table, P: Table>(
    key: impl References<T, P>,
    parent: impl Related<P>,
) -> Expr<T> {
    let on = key.pairs().into_iter().map(|(c, p)| (p, c)).collect();
    Expr::new(Node::Exists {
        negated: false,
        sub: subquery::<T, P>(on, parent.into_parts()),
    })
}

/// One column of another query, for [`Column::in_subquery`]: made by [`Select::subquery`].
pub struct SubSelect<V> {
    pub(crate) table: &'static str,
    pub(crate) column: &'static str,
    pub(crate) scope: Option<(&'static str, &'static str)>,
    pub(crate) filter: Option<Box<Node>>,
    _marker: PhantomData<fn() -> V>,
}

impl<V> Clone for SubSelect<V> {
    fn clone(&self) -> Self {
        SubSelect {
            table: self.table,
            column: self.column,
            scope: self.scope,
            filter: self.filter.clone(),
            _marker: PhantomData,
        }
    }
}

/// The value types an `IN (SELECT ...)` may compare: the same type, or one side nullable.
#[diagnostic::on_unimplemented(
    message = "a subquery of `{Self}` values cannot be compared with a column of type `{V}`",
    label = "the subquery selects another type than the column's"
)]
pub trait SubqueryOf<V> {}

impl<V> SubqueryOf<V> for V {}
impl<V> SubqueryOf<Option<V>> for V {}

impl<U: Table> Select<U> {
    /// This query's `column` as a subquery, for [`Column::in_subquery`]: its filter and
    /// soft-delete scope apply (order, limit and locks do not).
    ///
    /// ```no_run
    /// # use skelly_db::Table;
    /// # #[derive(Table)] #[table(schema = "blog")] struct Article { id: uuid::Uuid, title: String }
    /// # #[derive(Table)] #[table(schema = "blog")]
    /// # struct Favorite { id: uuid::Uuid, #[table(references = "blog.articles")] article_id: uuid::Uuid, user_id: uuid::Uuid }
    /// # async fn run(pool: skelly_db::Pool, me: uuid::Uuid) -> skelly_db::Result<()> {
    /// let mine = Article::query()
    ///     .filter(Article::ID.in_subquery(
    ///         Favorite::query().filter(Favorite::USER_ID.eq(me)).subquery(Favorite::ARTICLE_ID),
    ///     ))
    ///     .fetch_all(&pool)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn subquery<V>(self, column: Column<U, V>) -> SubSelect<V> {
        SubSelect {
            table: &U::statements().table,
            column: column.name(),
            scope: scope_of::<U>(self.scope),
            filter: self.filter.map(Box::new),
            _marker: PhantomData,
        }
    }

    /// Keeps rows that have at least one row of `C` along `key` (a foreign key of `C` to this
    /// table) matching `children`: an [`Expr`] on `C`, or a whole `C::query()` (its filter and
    /// soft-delete scope). One statement, `EXISTS (SELECT 1 ...)`; soft-deleted children do not
    /// count unless the child query asks. A key of another table does not compile.
    ///
    /// ```no_run
    /// # use skelly_db::Table;
    /// # #[derive(Table)] #[table(schema = "blog")] struct Article { id: uuid::Uuid, title: String }
    /// # #[derive(Table)] #[table(schema = "blog")]
    /// # struct Favorite { id: uuid::Uuid, #[table(references = "blog.articles")] article_id: uuid::Uuid, user_id: uuid::Uuid }
    /// # async fn run(pool: skelly_db::Pool, me: uuid::Uuid) -> skelly_db::Result<()> {
    /// let favorited = Article::query()
    ///     .having_child(Favorite::ARTICLE_ID_FK, Favorite::USER_ID.eq(me))
    ///     .fetch_all(&pool)
    ///     .await?;
    /// let never_favorited = Article::query()
    ///     .having_no_child(Favorite::ARTICLE_ID_FK, Favorite::query())
    ///     .count(&pool)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn having_child<C: Table>(
        self,
        key: impl References<C, U>,
        children: impl Related<C>,
    ) -> Select<U> {
        self.filter(has_child(key, children))
    }

    /// Keeps rows with no row of `C` along `key` matching `children` (`NOT EXISTS`).
    pub fn having_no_child<C: Table>(
        self,
        key: impl References<C, U>,
        children: impl Related<C>,
    ) -> Select<U> {
        self.filter(has_no_child(key, children))
    }

    /// Keeps rows whose parent along `key` (a foreign key of this table to `P`) matches
    /// `parent`, without returning the parent; a soft-deleted parent does not match unless the
    /// parent query asks.
    ///
    /// ```no_run
    /// # use skelly_db::Table;
    /// # #[derive(Table)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
    /// # #[derive(Table)] #[table(schema = "blog")]
    /// # struct Post { id: uuid::Uuid, #[table(references = "user.users")] author_id: uuid::Uuid, title: String }
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// let by_staff = Post::query()
    ///     .where_parent(Post::AUTHOR_ID_FK, User::EMAIL.like("%@example.com"))
    ///     .fetch_all(&pool)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn where_parent<P: Table>(
        self,
        key: impl References<U, P>,
        parent: impl Related<P>,
    ) -> Select<U> {
        self.filter(parent_matches(key, parent))
    }
}

impl<T: Table, V> Column<T, V> {
    /// `column IN (SELECT ...)`: the column's value is among another query's column (made by
    /// [`Select::subquery`]) of the same type, or of the same type on one nullable side. A
    /// subquery of another type does not compile.
    pub fn in_subquery<W: SubqueryOf<V>>(self, sub: SubSelect<W>) -> Expr<T> {
        Expr::new(Node::InSubquery {
            column: self.name(),
            table: sub.table,
            inner_column: sub.column,
            scope: sub.scope,
            filter: sub.filter,
        })
    }
}

impl Subquery {
    /// `(SELECT 1 FROM inner AS "sN" WHERE "sN".a = outer.b AND ...)`, for `EXISTS`.
    pub(crate) fn render_in<'a>(
        &'a self,
        sql: &mut String,
        params: &mut Vec<crate::executor::Param<'a>>,
        alias: Option<&str>,
    ) {
        let inner = next_alias(alias);
        sql.push_str("(SELECT 1 FROM ");
        sql.push_str(self.inner);
        sql.push_str(" AS ");
        push_ident(sql, &inner);
        sql.push_str(" WHERE ");
        for (i, (inner_column, outer_column)) in self.on.iter().enumerate() {
            if i > 0 {
                sql.push_str(" AND ");
            }
            push_ident(sql, &inner);
            sql.push('.');
            push_ident(sql, inner_column);
            sql.push_str(" = ");
            match alias {
                Some(a) => push_ident(sql, a),
                None => sql.push_str(self.outer),
            }
            sql.push('.');
            push_ident(sql, outer_column);
        }
        render_conditions(
            sql,
            params,
            &inner,
            false,
            self.scope,
            self.filter.as_deref(),
        );
        sql.push(')');
    }
}

/// `(SELECT "sN"."column" FROM table AS "sN" WHERE ...)`, for `IN`.
pub(crate) fn render_column_subquery<'a>(
    sql: &mut String,
    params: &mut Vec<crate::executor::Param<'a>>,
    alias: Option<&str>,
    (table, column): (&'static str, &'static str),
    scope: Option<(&'static str, &'static str)>,
    filter: Option<&'a Node>,
) {
    let inner = next_alias(alias);
    sql.push_str("(SELECT ");
    push_ident(sql, &inner);
    sql.push('.');
    push_ident(sql, column);
    sql.push_str(" FROM ");
    sql.push_str(table);
    sql.push_str(" AS ");
    push_ident(sql, &inner);
    render_conditions(sql, params, &inner, true, scope, filter);
    sql.push(')');
}

// The soft-delete scope and the filter, after ` WHERE ` when `first`, else after ` AND `.
fn render_conditions<'a>(
    sql: &mut String,
    params: &mut Vec<crate::executor::Param<'a>>,
    alias: &str,
    mut first: bool,
    scope: Option<(&'static str, &'static str)>,
    filter: Option<&'a Node>,
) {
    let mut and = |sql: &mut String| {
        sql.push_str(if first { " WHERE " } else { " AND " });
        first = false;
    };
    if let Some((column, test)) = scope {
        and(sql);
        push_ident(sql, alias);
        sql.push('.');
        push_ident(sql, column);
        sql.push_str(test);
    }
    if let Some(filter) = filter {
        and(sql);
        filter.render_in(sql, params, Some(alias));
    }
}

/// The alias of a subquery's table: `s1` inside the outer query, `s2` inside that, ...
fn next_alias(outer: Option<&str>) -> String {
    let depth = outer
        .and_then(|a| a.strip_prefix('s'))
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    format!("s{}", depth + 1)
}
