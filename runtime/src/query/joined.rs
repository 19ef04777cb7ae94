//! Joins of two and three tables along declared foreign keys, both ways: a child to its parent
//! (`Post` to `User`), a parent to its children (`User` to `Post`), and chains of three
//! (`Comment` to `Article` to `User`). One non-generic core renders every join and pages it;
//! each table's rows decode with its own mapping at a column offset.

use std::future::Future;
use std::marker::PhantomData;

use futures_util::{Stream, StreamExt};
use tokio_postgres::Row;

use super::expr::{Expr, Node, Order};
use super::join::References;
use super::page::{cut_page, digest8, Cursor, Page};
use super::select::{Scope, Select};
use crate::error::{Error, Result};
use crate::executor::{with_session, Executor, Param, Reach};
use crate::fetch::{Answer, Want};
use crate::op::Op;
use crate::sql::{push_ident, push_placeholder, push_read_column};
use crate::table::{ColumnDef, ColumnRole, Table};

mod sealed {
    pub trait Sealed {}
}

/// How a table is joined: [`Inner`] (the row is there) or [`Left`] (`Option`: `None` when no
/// live row matches).
pub trait JoinKind: sealed::Sealed + Send + Sync + 'static {
    /// What a joined table's row decodes to: `P`, or `Option<P>`.
    type Out<P>;
    #[doc(hidden)]
    const LEFT: bool;
    #[doc(hidden)]
    fn wrap<P>(row: Option<P>) -> Result<Self::Out<P>>;
}

/// Marks an inner join: the joined row is always there.
#[derive(Debug, Clone, Copy)]
pub struct Inner;
/// Marks a left join: the joined row is `Option`al.
#[derive(Debug, Clone, Copy)]
pub struct Left;

impl sealed::Sealed for Inner {}
impl sealed::Sealed for Left {}

impl JoinKind for Inner {
    type Out<P> = P;
    const LEFT: bool = false;
    fn wrap<P>(row: Option<P>) -> Result<P> {
        match row {
            Some(row) => Ok(row),
            None => Err(missing_joined_row()),
        }
    }
}

impl JoinKind for Left {
    type Out<P> = Option<P>;
    const LEFT: bool = true;
    fn wrap<P>(row: Option<P>) -> Result<Option<P>> {
        Ok(row)
    }
}

fn missing_joined_row() -> Error {
    Error::Config("an inner join gave a row without its joined row".into())
}

const ALIASES: [&str; 3] = ["c", "p", "g"];

/// The tables and kinds a join is typed by, holding nothing.
type Marker<T> = PhantomData<fn() -> T>;

/// One table of a join, with no type left.
#[derive(Clone)]
struct Part {
    table: &'static str,
    columns: &'static [ColumnDef],
    soft_delete: Option<&'static str>,
    scope: Scope,
    filter: Option<Node>,
    left: bool,
    /// `(this table's column, the index of the part it meets, that part's column)`.
    on: Vec<(&'static str, usize, &'static str)>,
    /// Its rows repeat per row of the part it meets (a parent's children): its key breaks the
    /// ties of a page.
    to_many: bool,
}

impl Part {
    fn of<T: Table>(scope: Scope, filter: Option<Node>) -> Part {
        let statements = T::statements();
        Part {
            table: &statements.table,
            columns: T::COLUMNS,
            soft_delete: statements.soft_delete,
            scope,
            filter,
            left: false,
            on: Vec::new(),
            to_many: false,
        }
    }

    fn key(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns
            .iter()
            .filter(|c| c.role == ColumnRole::PrimaryKey)
            .map(|c| c.name)
    }
}

// The first table's ordering terms as the join's: not an iterator chain per table.
fn first_order(order: &[(&'static str, bool)]) -> Vec<(usize, &'static str, bool)> {
    let mut out = Vec::with_capacity(order.len());
    for (column, descending) in order {
        out.push((0, *column, *descending));
    }
    out
}

/// The untyped join: its tables, order, limit and lock.
#[derive(Clone)]
struct Core {
    parts: Vec<Part>,
    /// `(part, column, descending)`, in call order.
    order: Vec<(usize, &'static str, bool)>,
    limit: Option<i64>,
    offset: Option<i64>,
    lock: Option<&'static str>,
    wait: Option<&'static str>,
}

fn and_node(existing: Option<Node>, more: Node) -> Node {
    match existing {
        Some(existing) => Node::And(Box::new(existing), Box::new(more)),
        None => more,
    }
}

impl Core {
    fn from_select<T: Table>(select: Select<T>) -> Core {
        let order = first_order(&select.order);
        Core {
            parts: vec![Part::of::<T>(select.scope, select.filter)],
            order,
            limit: select.limit,
            offset: select.offset,
            lock: select.lock,
            wait: select.wait,
        }
    }

    // Joins `part` meeting part `to` on `(part column, to column)` pairs.
    fn push(&mut self, mut part: Part, to: usize, pairs: Vec<(&'static str, &'static str)>) {
        part.on = pairs
            .into_iter()
            .map(|(mine, theirs)| (mine, to, theirs))
            .collect();
        self.parts.push(part);
    }

    fn filter(&mut self, part: usize, node: Node) {
        let existing = self.parts[part].filter.take();
        self.parts[part].filter = Some(and_node(existing, node));
    }

    fn offsets(&self) -> Vec<usize> {
        let mut at = 0;
        self.parts
            .iter()
            .map(|p| {
                let here = at;
                at += p.columns.len();
                here
            })
            .collect()
    }

    fn live(part: &Part) -> Option<(&'static str, &'static str)> {
        part.scope.condition(part.soft_delete)
    }

    // FROM ... JOIN ... WHERE ...: the part shared by every statement.
    fn render_from_where<'a>(&'a self, sql: &mut String, params: &mut Vec<Param<'a>>) {
        sql.push_str(" FROM ");
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                sql.push_str(if part.left { " LEFT JOIN " } else { " JOIN " });
            }
            sql.push_str(part.table);
            sql.push_str(" AS ");
            push_ident(sql, ALIASES[i]);
            if i == 0 {
                continue;
            }
            sql.push_str(" ON ");
            for (k, (mine, to, theirs)) in part.on.iter().enumerate() {
                if k > 0 {
                    sql.push_str(" AND ");
                }
                push_ident(sql, ALIASES[i]);
                sql.push('.');
                push_ident(sql, mine);
                sql.push_str(" = ");
                push_ident(sql, ALIASES[*to]);
                sql.push('.');
                push_ident(sql, theirs);
            }
            // A left join keeps the row without a (live) joined row: the scope goes in ON.
            if let (true, Some((column, test))) = (part.left, Self::live(part)) {
                sql.push_str(" AND ");
                push_ident(sql, ALIASES[i]);
                sql.push('.');
                push_ident(sql, column);
                sql.push_str(test);
            }
        }
        let mut first = true;
        let mut and = |sql: &mut String| {
            sql.push_str(if first { " WHERE " } else { " AND " });
            first = false;
        };
        for (i, part) in self.parts.iter().enumerate() {
            if let Some(filter) = &part.filter {
                and(sql);
                filter.render_in(sql, params, Some(ALIASES[i]));
            }
            if let (false, Some((column, test))) = (part.left, Self::live(part)) {
                and(sql);
                push_ident(sql, ALIASES[i]);
                sql.push('.');
                push_ident(sql, column);
                sql.push_str(test);
            }
        }
    }

    fn push_columns(&self, sql: &mut String) {
        let mut any = false;
        for (i, part) in self.parts.iter().enumerate() {
            for c in part.columns {
                if any {
                    sql.push_str(", ");
                }
                any = true;
                push_read_column(sql, Some(ALIASES[i]), c.name, c.sql_type, c.check.is_some());
            }
        }
    }

    fn push_order(&self, sql: &mut String, terms: &[(usize, &'static str, bool)]) {
        for (i, (part, column, descending)) in terms.iter().enumerate() {
            sql.push_str(if i == 0 { " ORDER BY " } else { ", " });
            push_ident(sql, ALIASES[*part]);
            sql.push('.');
            push_ident(sql, column);
            sql.push_str(if *descending { " DESC" } else { " ASC" });
        }
    }

    fn push_limit<'a>(&'a self, sql: &mut String, params: &mut Vec<Param<'a>>) {
        if let Some(limit) = &self.limit {
            params.push(limit);
            sql.push_str(" LIMIT ");
            push_placeholder(sql, params.len());
        }
        if let Some(offset) = &self.offset {
            params.push(offset);
            sql.push_str(" OFFSET ");
            push_placeholder(sql, params.len());
        }
    }

    // A lock asked for on the first table's query locks its rows (PostgreSQL refuses one on
    // the nullable side of a left join).
    fn push_lock(&self, sql: &mut String) {
        if let Some(lock) = self.lock {
            sql.push_str(lock);
            sql.push_str(" OF \"c\"");
            if let Some(wait) = self.wait {
                sql.push_str(wait);
            }
        }
    }

    fn render(&self) -> (String, Vec<Param<'_>>) {
        let mut sql = String::with_capacity(256);
        sql.push_str("SELECT ");
        self.push_columns(&mut sql);
        let mut params = Vec::new();
        self.render_from_where(&mut sql, &mut params);
        self.push_order(&mut sql, &self.order);
        self.push_limit(&mut sql, &mut params);
        self.push_lock(&mut sql);
        (sql, params)
    }

    fn render_count(&self) -> (String, Vec<Param<'_>>) {
        if self.limit.is_some() || self.offset.is_some() {
            let (inner, params) = self.render();
            return (format!("SELECT count(*) FROM ({inner}) AS q"), params);
        }
        let mut sql = String::from("SELECT count(*)");
        let mut params = Vec::new();
        self.render_from_where(&mut sql, &mut params);
        (sql, params)
    }

    fn render_exists(&self) -> (String, Vec<Param<'_>>) {
        let mut sql = String::from("SELECT EXISTS (SELECT 1");
        let mut params = Vec::new();
        self.render_from_where(&mut sql, &mut params);
        self.push_limit(&mut sql, &mut params);
        sql.push(')');
        (sql, params)
    }

    // The ordering of a page: the query's, then the first table's key, then the key of each
    // table whose rows repeat per row (children).
    fn page_terms(&self) -> Result<Vec<(usize, &'static str, bool)>> {
        let mut terms = self.order.clone();
        let last = terms.last().map(|t| t.2).unwrap_or(false);
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 && !part.to_many {
                continue;
            }
            if part.left {
                return Err(Error::Config(
                    "page() over a left join to children cannot break ties by their key (it can \
                     be NULL); page an inner join, or the parents with load_children"
                        .into(),
                ));
            }
            let key: Vec<&'static str> = part.key().collect();
            if key.is_empty() {
                return Err(Error::Config(format!(
                    "page() breaks ties by the primary key, and {} has none; use limit() and \
                     offset()",
                    part.table
                )));
            }
            for k in key {
                if !terms.iter().any(|t| t.0 == i && t.1 == k) {
                    terms.push((i, k, last));
                }
            }
        }
        for (part, name, _) in &terms {
            let p = &self.parts[*part];
            let nullable = p.columns.iter().any(|c| c.name == *name && c.nullable);
            if nullable || p.left {
                return Err(Error::Config(format!(
                    "page() orders by `{}.{name}`, which can be NULL; order pages by NOT NULL \
                     columns of inner-joined tables",
                    p.table
                )));
            }
        }
        if self.offset.is_some() {
            return Err(Error::Config(
                "page() goes by cursor; remove offset()".into(),
            ));
        }
        Ok(terms)
    }

    fn shape(&self, terms: &[(usize, &'static str, bool)]) -> [u8; 8] {
        let mut parts: Vec<&[u8]> = Vec::new();
        for p in &self.parts {
            parts.push(p.table.as_bytes());
            parts.push(if p.left { b"l" } else { b"i" });
        }
        let indexes: Vec<[u8; 1]> = terms.iter().map(|t| [t.0 as u8]).collect();
        for ((_, name, desc), index) in terms.iter().zip(&indexes) {
            parts.push(index);
            parts.push(name.as_bytes());
            parts.push(if *desc { b"d" } else { b"a" });
        }
        digest8(parts)
    }

    #[allow(clippy::type_complexity)]
    fn render_page<'a>(
        &'a self,
        limit: &'a i64,
        after: Option<&'a Cursor>,
    ) -> Result<(String, Vec<Param<'a>>, Vec<(usize, &'static str, bool)>)> {
        let terms = self.page_terms()?;
        let mut sql = String::with_capacity(320);
        sql.push_str("SELECT ");
        self.push_columns(&mut sql);
        for (i, (part, name, _)) in terms.iter().enumerate() {
            sql.push_str(", ");
            push_ident(&mut sql, ALIASES[*part]);
            sql.push('.');
            push_ident(&mut sql, name);
            sql.push_str("::text AS __cursor_");
            sql.push_str(&i.to_string());
        }
        let mut params = Vec::new();
        let before = sql.len();
        self.render_from_where(&mut sql, &mut params);
        let has_where = sql[before..].contains(" WHERE ");
        if let Some(cursor) = after {
            if cursor.shape != self.shape(&terms) || cursor.values.len() != terms.len() {
                return Err(Error::InvalidCursor(
                    "it belongs to another query (another table or ordering)".into(),
                ));
            }
            sql.push_str(if has_where { " AND (" } else { " WHERE (" });
            for k in 0..terms.len() {
                if k > 0 {
                    sql.push_str(" OR ");
                }
                sql.push('(');
                for (j, (part, name, desc)) in terms.iter().enumerate().take(k + 1) {
                    if j > 0 {
                        sql.push_str(" AND ");
                    }
                    push_ident(&mut sql, ALIASES[*part]);
                    sql.push('.');
                    push_ident(&mut sql, name);
                    sql.push_str(match (j == k, desc) {
                        (false, _) => " = ",
                        (true, false) => " > ",
                        (true, true) => " < ",
                    });
                    params.push(&cursor.values[j]);
                    push_placeholder(&mut sql, params.len());
                    let ty = self.parts[*part]
                        .columns
                        .iter()
                        .find(|c| c.name == *name)
                        .map_or("text", |c| c.sql_type);
                    sql.push_str("::text::");
                    sql.push_str(ty);
                }
                sql.push(')');
            }
            sql.push(')');
        }
        self.push_order(&mut sql, &terms);
        params.push(limit);
        sql.push_str(" LIMIT ");
        push_placeholder(&mut sql, params.len());
        self.push_lock(&mut sql);
        Ok((sql, params, terms))
    }

    // Where part `i`'s columns are in a joined row, and the column that is NULL when a left
    // join found no row.
    fn map(&self, i: usize) -> (Vec<usize>, Option<usize>) {
        let offsets = self.offsets();
        let part = &self.parts[i];
        let map = (offsets[i]..offsets[i] + part.columns.len()).collect();
        let probe = part.left.then(|| {
            let first = part.on.first().map_or("", |(mine, _, _)| *mine);
            let at = part
                .columns
                .iter()
                .position(|c| c.name == first)
                .unwrap_or(0);
            offsets[i] + at
        });
        (map, probe)
    }

    fn first_table(&self) -> &'static str {
        self.parts[0].table
    }
}

fn is_null(row: &Row, index: usize) -> bool {
    matches!(
        row.try_get::<_, crate::__private::RawValue>(index),
        Ok(crate::__private::RawValue(None))
    )
}

// Part `i` of a joined row: `None` for a left join that found no row.
fn decode_part<P: Table>(row: &Row, map: &(Vec<usize>, Option<usize>)) -> Result<Option<P>> {
    match map.1 {
        Some(probe) if is_null(row, probe) => Ok(None),
        _ => P::from_row_mapped(row, &map.0).map(Some),
    }
}

/// Runs a join's statement: its rows, or a `MockDb`'s scripted answer. One copy serves every
/// join.
async fn rows_of(db: &dyn Reach, core: &Core) -> Result<Answer> {
    let (sql, params) = core.render();
    crate::fetch::run(db, core.first_table(), Op::Join, &sql, &params, Want::Rows).await
}

/// The rows of [`rows_of`] decoded (or the mock's taken as `R`).
fn decode_rows<R: 'static>(
    answer: Answer,
    core: &Core,
    decode: impl Fn(&Row) -> Result<R>,
) -> Result<Vec<R>> {
    match answer {
        Answer::Rows(rows) => crate::fetch::decode_all(&rows, decode),
        answer => crate::fetch::scripted(answer, core.first_table(), Op::Join),
    }
}

async fn count(db: &dyn Reach, core: &Core) -> Result<i64> {
    let (sql, params) = core.render_count();
    scalar(db, core, Op::Count, &sql, &params).await
}

async fn exists(db: &dyn Reach, core: &Core) -> Result<bool> {
    let (sql, params) = core.render_exists();
    scalar(db, core, Op::Exists, &sql, &params).await
}

async fn scalar<V>(
    db: &dyn Reach,
    core: &Core,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<V>
where
    V: for<'r> tokio_postgres::types::FromSql<'r> + crate::fetch::FromCount,
{
    let table = core.first_table();
    match crate::fetch::run(db, table, op, sql, params, Want::Scalar).await? {
        Answer::Row(Some(row)) => row.try_get(0).map_err(|e| Error::decode("?column?", e)),
        Answer::Count(n) => Ok(V::from_count(n)),
        _ => Err(Error::Config("a count returned no row".into())),
    }
}

/// A page's rows and the next cursor, or a `MockDb`'s scripted rows.
enum PageRows {
    Rows(Vec<Row>, Option<Cursor>),
    Scripted(Box<dyn std::any::Any + Send>),
}

/// A page's statement run: at most `size` rows and the cursor read from the last one. One copy
/// serves every join.
async fn page_rows(
    db: &dyn Reach,
    core: &Core,
    size: i64,
    after: Option<&Cursor>,
) -> Result<PageRows> {
    if size < 1 {
        return Err(Error::Config(format!(
            "page() takes a size of at least 1, not {size}"
        )));
    }
    let limit = size.saturating_add(1);
    let (sql, params, terms) = core.render_page(&limit, after)?;
    let table = core.first_table();
    let answer = crate::fetch::run(db, table, Op::Join, &sql, &params, Want::Rows)
        .await
        .map_err(|e| match (after, e.sqlstate()) {
            (Some(_), Some(state)) if state.starts_with("22") => {
                Error::InvalidCursor(format!("a value does not fit its column: {e}"))
            }
            _ => e,
        })?;
    let mut rows = match answer {
        Answer::Rows(rows) => rows,
        Answer::Scripted(any) => return Ok(PageRows::Scripted(any)),
        _ => Vec::new(),
    };
    let width: usize = core.parts.iter().map(|p| p.columns.len()).sum();
    let next = cut_page(
        &mut rows,
        size,
        width,
        &mut terms.iter().map(|(_, name, _)| *name),
    )?
    .map(|values| Cursor::new(core.shape(&terms), values));
    Ok(PageRows::Rows(rows, next))
}

async fn page<R: Send + 'static>(
    db: &dyn Reach,
    core: &Core,
    size: i64,
    after: Option<&Cursor>,
    decode: impl Fn(&Row) -> Result<R>,
) -> Result<Page<R>> {
    match page_rows(db, core, size, after).await? {
        PageRows::Rows(rows, next) => Ok(Page {
            rows: crate::fetch::decode_all(&rows, decode)?,
            next,
        }),
        // A MockDb answers a page with the rows scripted for `Op::Join`, and no next.
        PageRows::Scripted(any) => {
            let mut rows: Vec<R> =
                crate::fetch::scripted(Answer::Scripted(any), core.first_table(), Op::Join)?;
            rows.truncate(size as usize);
            Ok(Page { rows, next: None })
        }
    }
}

async fn stream<'e, R, E>(
    db: &'e E,
    core: &Core,
    decode: impl Fn(&Row) -> Result<R> + Send + 'e,
) -> Result<impl Stream<Item = Result<R>> + Send + 'e>
where
    R: Send + 'static,
    E: Executor,
{
    let (sql, params) = core.render();
    let table = core.first_table();
    let rows = with_session!(db, |session| {
        if let Some(mock) = session.as_mock() {
            let answer = mock.answer_rows(table, Op::Join, &sql, &params)?;
            let scripted: Vec<R> =
                crate::fetch::scripted(Answer::Scripted(answer), table, Op::Join)?;
            return Ok(futures_util::future::Either::Left(
                futures_util::stream::iter(scripted.into_iter().map(Ok)),
            ));
        }
        session.query_stream(&sql, &params).await
    })?;
    let decoded = rows.map(move |row| row.and_then(|r| decode(&r)));
    Ok(futures_util::future::Either::Right(decoded))
}

/// A query of table `A` joined to table `B` along a foreign key, either way:
/// [`Select::join`] (a child to its parent), [`Select::join_children`] (a parent to its
/// children) and their left forms start one. Rows come back as `(A, B)`, or `(A, Option<B>)`
/// for a left join.
pub struct Join<A, B, K> {
    core: Core,
    _marker: Marker<(A, B, K)>,
}

impl<A, B, K> Clone for Join<A, B, K> {
    fn clone(&self) -> Self {
        Join {
            core: self.core.clone(),
            _marker: PhantomData,
        }
    }
}

/// Three tables along two foreign keys: [`Join::then_join`] and friends start one. Rows come
/// back as `(A, B, C)`, each joined one `Option`al where it was left-joined.
pub struct Join3<A, B, C, K1, K2> {
    core: Core,
    _marker: Marker<(A, B, C, K1, K2)>,
}

impl<A, B, C, K1, K2> Clone for Join3<A, B, C, K1, K2> {
    fn clone(&self) -> Self {
        Join3 {
            core: self.core.clone(),
            _marker: PhantomData,
        }
    }
}

// `(joined column, earlier column)` pairs from a key's `(child, parent)` pairs.
fn towards_parent(pairs: Vec<(&'static str, &'static str)>) -> Vec<(&'static str, &'static str)> {
    pairs
        .into_iter()
        .map(|(child, parent)| (parent, child))
        .collect()
}

fn joined_part<P: Table>(left: bool, to_many: bool) -> Part {
    Part {
        left,
        to_many,
        ..Part::of::<P>(Scope::Live, None)
    }
}

impl<T: Table> Select<T> {
    /// Joins the table the foreign key references (the parent): rows come back as `(child,
    /// parent)`; soft-deleted rows of either table are left out unless the query asks
    /// ([`Join::with_deleted_parents`], [`Select::with_deleted`] before joining). The parent's
    /// struct is inferred from the key; a key of another table does not compile.
    ///
    /// ```no_run
    /// # use skelly_db::Table;
    /// # #[derive(Table)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
    /// # #[derive(Table)] #[table(schema = "blog")]
    /// # struct Post { id: uuid::Uuid, #[table(references = "user.users")] author_id: uuid::Uuid, title: String }
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// let rows: Vec<(Post, User)> = Post::query()
    ///     .filter(Post::TITLE.ilike("%rust%"))
    ///     .join(Post::AUTHOR_ID_FK)
    ///     .filter_parent(User::EMAIL.like("%@example.com"))
    ///     .fetch_all(&pool)
    ///     .await?;
    /// let one: Option<(Post, User)> = Post::query().join(Post::AUTHOR_ID_FK).fetch_optional(&pool).await?;
    /// # Ok(()) }
    /// ```
    pub fn join<P: Table>(self, key: impl References<T, P>) -> Join<T, P, Inner> {
        self.join_part(joined_part::<P>(false, false), towards_parent(key.pairs()))
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
    ///     Post::query().left_join(Post::EDITOR_ID_FK).fetch_all(&pool).await?;
    /// # Ok(()) }
    /// ```
    pub fn left_join<P: Table>(self, key: impl References<T, P>) -> Join<T, P, Left> {
        self.join_part(joined_part::<P>(true, false), towards_parent(key.pairs()))
    }

    /// Joins the rows of `C` whose foreign key `key` references this table's rows (the
    /// children): one row per (parent, child) pair, `(parent, child)`; parents without a
    /// (live) child are left out ([`Select::left_join_children`] keeps them).
    ///
    /// ```no_run
    /// # use skelly_db::Table;
    /// # #[derive(Table)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
    /// # #[derive(Table)] #[table(schema = "blog")]
    /// # struct Post { id: uuid::Uuid, #[table(references = "user.users")] author_id: uuid::Uuid, title: String }
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// let rows: Vec<(User, Option<Post>)> = User::query()
    ///     .left_join_children(Post::AUTHOR_ID_FK)
    ///     .order_by(User::EMAIL.asc())
    ///     .fetch_all(&pool)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn join_children<C: Table>(self, key: impl References<C, T>) -> Join<T, C, Inner> {
        self.join_part(joined_part::<C>(false, true), key.pairs())
    }

    /// As [`Select::join_children`], keeping parents without a (live) child: `(parent,
    /// Option<child>)`.
    pub fn left_join_children<C: Table>(self, key: impl References<C, T>) -> Join<T, C, Left> {
        self.join_part(joined_part::<C>(true, true), key.pairs())
    }

    fn join_part<B, K>(
        self,
        part: Part,
        pairs: Vec<(&'static str, &'static str)>,
    ) -> Join<T, B, K> {
        let mut core = Core::from_select(self);
        core.push(part, 0, pairs);
        Join {
            core,
            _marker: PhantomData,
        }
    }
}

macro_rules! shared_methods {
    ($name:ident < $($g:ident),* >) => {
        impl<A: Table, $($g),*> $name<A, $($g),*> {
            /// Adds a condition on the first table (ANDed with earlier ones).
            pub fn filter(mut self, expr: Expr<A>) -> Self {
                self.core.filter(0, expr.node);
                self
            }

            /// Orders by a column of the first table (after earlier terms, of any table).
            pub fn order_by(mut self, order: Order<A>) -> Self {
                self.core.order.push((0, order.column, order.descending));
                self
            }

            /// At most `n` rows.
            pub fn limit(mut self, n: i64) -> Self {
                self.core.limit = Some(n);
                self
            }

            /// Skips the first `n` rows.
            pub fn offset(mut self, n: i64) -> Self {
                self.core.offset = Some(n);
                self
            }

            /// Locks the first table's rows it returns (`FOR UPDATE OF "c"`).
            pub fn for_update(mut self) -> Self {
                self.core.lock = Some(" FOR UPDATE");
                self
            }
        }
    };
}

shared_methods!(Join<B, K>);
shared_methods!(Join3<B, C, K1, K2>);

impl<A: Table, B: Table, K> Join<A, B, K> {
    /// Adds a condition on the joined table (ANDed with earlier ones).
    pub fn filter_parent(mut self, expr: Expr<B>) -> Self {
        self.core.filter(1, expr.node);
        self
    }

    /// Adds a condition on the joined table: the same as [`Join::filter_parent`], for a join
    /// to children.
    pub fn filter_joined(self, expr: Expr<B>) -> Self {
        self.filter_parent(expr)
    }

    /// Orders by a column of the joined table (after earlier terms).
    pub fn order_by_parent(mut self, order: Order<B>) -> Self {
        self.core.order.push((1, order.column, order.descending));
        self
    }

    /// Orders by a column of the joined table: the same as [`Join::order_by_parent`].
    pub fn order_by_joined(self, order: Order<B>) -> Self {
        self.order_by_parent(order)
    }

    /// Joins soft-deleted rows of the joined table too.
    pub fn with_deleted_parents(mut self) -> Self {
        self.core.parts[1].scope = Scope::WithDeleted;
        self
    }

    /// Joins soft-deleted rows of the joined table too: the same as
    /// [`Join::with_deleted_parents`].
    pub fn with_deleted_joined(self) -> Self {
        self.with_deleted_parents()
    }

    fn third<C, K2>(
        mut self,
        part: Part,
        pairs: Vec<(&'static str, &'static str)>,
    ) -> Join3<A, B, C, K, K2> {
        self.core.push(part, 1, pairs);
        Join3 {
            core: self.core,
            _marker: PhantomData,
        }
    }

    /// Joins a third table, the one the joined table's foreign key `key` references:
    /// `Comment::query().join(Comment::ARTICLE_ID_FK).then_join(Article::AUTHOR_ID_FK)` gives
    /// `(Comment, Article, User)`.
    ///
    /// ```no_run
    /// # use skelly_db::Table;
    /// # #[derive(Table)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
    /// # #[derive(Table)] #[table(schema = "blog")]
    /// # struct Article { id: uuid::Uuid, #[table(references = "user.users")] author_id: uuid::Uuid }
    /// # #[derive(Table)] #[table(schema = "blog")]
    /// # struct Comment { id: i64, #[table(references = "blog.articles")] article_id: uuid::Uuid, body: String }
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// let rows: Vec<(Comment, Article, User)> = Comment::query()
    ///     .join(Comment::ARTICLE_ID_FK)
    ///     .then_join(Article::AUTHOR_ID_FK)
    ///     .filter_third(User::EMAIL.like("%@example.com"))
    ///     .fetch_all(&pool)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn then_join<C: Table>(self, key: impl References<B, C>) -> Join3<A, B, C, K, Inner> {
        self.third(joined_part::<C>(false, false), towards_parent(key.pairs()))
    }

    /// As [`Join::then_join`], keeping rows without a (live) third row: `Option<C>`.
    pub fn then_left_join<C: Table>(self, key: impl References<B, C>) -> Join3<A, B, C, K, Left> {
        self.third(joined_part::<C>(true, false), towards_parent(key.pairs()))
    }

    /// Joins the rows of `C` whose foreign key `key` references the joined table's rows:
    /// `User::query().join_children(Post::AUTHOR_ID_FK).then_join_children(Comment::POST_ID_FK)`.
    pub fn then_join_children<C: Table>(
        self,
        key: impl References<C, B>,
    ) -> Join3<A, B, C, K, Inner> {
        self.third(joined_part::<C>(false, true), key.pairs())
    }

    /// As [`Join::then_join_children`], keeping rows without a (live) child: `Option<C>`.
    pub fn then_left_join_children<C: Table>(
        self,
        key: impl References<C, B>,
    ) -> Join3<A, B, C, K, Left> {
        self.third(joined_part::<C>(true, true), key.pairs())
    }
}

impl<A: Table, B: Table, C: Table, K1, K2> Join3<A, B, C, K1, K2> {
    /// Adds a condition on the second table (ANDed with earlier ones).
    pub fn filter_parent(mut self, expr: Expr<B>) -> Self {
        self.core.filter(1, expr.node);
        self
    }

    /// Adds a condition on the second table: the same as [`Join3::filter_parent`].
    pub fn filter_joined(self, expr: Expr<B>) -> Self {
        self.filter_parent(expr)
    }

    /// Adds a condition on the third table (ANDed with earlier ones).
    pub fn filter_third(mut self, expr: Expr<C>) -> Self {
        self.core.filter(2, expr.node);
        self
    }

    /// Orders by a column of the second table.
    pub fn order_by_parent(mut self, order: Order<B>) -> Self {
        self.core.order.push((1, order.column, order.descending));
        self
    }

    /// Orders by a column of the second table: the same as [`Join3::order_by_parent`].
    pub fn order_by_joined(self, order: Order<B>) -> Self {
        self.order_by_parent(order)
    }

    /// Orders by a column of the third table.
    pub fn order_by_third(mut self, order: Order<C>) -> Self {
        self.core.order.push((2, order.column, order.descending));
        self
    }

    /// Joins soft-deleted rows of the second and third tables too.
    pub fn with_deleted_joined(mut self) -> Self {
        self.core.parts[1].scope = Scope::WithDeleted;
        self.core.parts[2].scope = Scope::WithDeleted;
        self
    }
}

macro_rules! terminals {
    (impl [$($gen:tt)*] $ty:ty, $row:ty, |$r:ident, $maps:ident| $decode:expr) => {
        impl<$($gen)*> $ty
        where
            $row: Send + 'static,
        {
            /// The SELECT statement this builds, with `$n` placeholders.
            pub fn to_sql(&self) -> String {
                self.core.render().0
            }

            /// Every matching row.
            pub fn fetch_all<'a>(
                &'a self,
                db: &'a impl Executor,
            ) -> impl Future<Output = Result<Vec<$row>>> + Send + 'a {
                self.fetch_all_in(db)
            }

            async fn fetch_all_in(&self, db: &dyn Reach) -> Result<Vec<$row>> {
                let answer = rows_of(db, &self.core).await?;
                let maps = self.maps();
                decode_rows(answer, &self.core, |r| Self::decode_row(r, &maps))
            }

            /// The first matching row, if any (`LIMIT 1`).
            pub fn fetch_optional<'a>(
                &'a self,
                db: &'a impl Executor,
            ) -> impl Future<Output = Result<Option<$row>>> + Send + 'a {
                self.fetch_optional_in(db)
            }

            async fn fetch_optional_in(&self, db: &dyn Reach) -> Result<Option<$row>> {
                let mut one = self.core.clone();
                one.limit = Some(one.limit.map_or(1, |n| n.min(1)));
                let answer = rows_of(db, &one).await?;
                let maps = self.maps();
                let mut rows = decode_rows(answer, &one, |r| Self::decode_row(r, &maps))?;
                rows.truncate(1);
                Ok(rows.pop())
            }

            /// The first matching row, or [`Error::NotFound`] naming the first table.
            pub async fn fetch_one(&self, db: &impl Executor) -> Result<$row> {
                self.fetch_optional_in(db).await?.ok_or_else(|| Error::NotFound {
                    table: self.core.first_table().to_string(),
                })
            }

            /// The number of matching rows (of the joined rows: a parent with three children
            /// counts three times in a join to children).
            pub fn count<'a>(
                &'a self,
                db: &'a impl Executor,
            ) -> impl Future<Output = Result<i64>> + Send + 'a {
                count(db, &self.core)
            }

            /// Whether any row matches.
            pub fn exists<'a>(
                &'a self,
                db: &'a impl Executor,
            ) -> impl Future<Output = Result<bool>> + Send + 'a {
                exists(db, &self.core)
            }

            /// One page of at most `size` rows after `after`, by keyset over the joined
            /// ordering: the `order_by` terms of any table, ties broken by the first table's
            /// key (and, in a join to children, the child's key). Ordering columns must be NOT
            /// NULL columns of inner-joined tables.
            pub fn page<'a>(
                &'a self,
                db: &'a impl Executor,
                size: i64,
                after: Option<&'a Cursor>,
            ) -> impl Future<Output = Result<Page<$row>>> + Send + 'a {
                self.page_in(db, size, after)
            }

            async fn page_in(
                &self,
                db: &dyn Reach,
                size: i64,
                after: Option<&Cursor>,
            ) -> Result<Page<$row>> {
                let maps = self.maps();
                page(db, &self.core, size, after, |r| Self::decode_row(r, &maps)).await
            }

            /// The matching rows as a stream, decoded as they arrive.
            pub async fn stream<'e, E: Executor>(
                &self,
                db: &'e E,
            ) -> Result<impl Stream<Item = Result<$row>> + Send + 'e> {
                let maps = self.maps();
                stream(db, &self.core, move |r| Self::decode_row(r, &maps)).await
            }

            fn decode_row($r: &Row, $maps: &[(Vec<usize>, Option<usize>)]) -> Result<$row> {
                $decode
            }
        }
    };
}

impl<A: Table, B: Table, K: JoinKind> Join<A, B, K> {
    fn maps(&self) -> [(Vec<usize>, Option<usize>); 2] {
        [self.core.map(0), self.core.map(1)]
    }
}

impl<A: Table, B: Table, C: Table, K1: JoinKind, K2: JoinKind> Join3<A, B, C, K1, K2> {
    fn maps(&self) -> [(Vec<usize>, Option<usize>); 3] {
        [self.core.map(0), self.core.map(1), self.core.map(2)]
    }
}

terminals!(
    impl [A: Table, B: Table, K: JoinKind] Join<A, B, K>,
    (A, K::Out<B>),
    |row, maps| Ok((
        A::from_row_mapped(row, &maps[0].0)?,
        K::wrap(decode_part::<B>(row, &maps[1])?)?,
    ))
);

terminals!(
    impl [A: Table, B: Table, C: Table, K1: JoinKind, K2: JoinKind] Join3<A, B, C, K1, K2>,
    (A, K1::Out<B>, K2::Out<C>),
    |row, maps| Ok((
        A::from_row_mapped(row, &maps[0].0)?,
        K1::wrap(decode_part::<B>(row, &maps[1])?)?,
        K2::wrap(decode_part::<C>(row, &maps[2])?)?,
    ))
);

impl<A, B, K> super::aggregate::JoinSource for Join<A, B, K> {
    fn render_from_where<'a>(&'a self, sql: &mut String, params: &mut Vec<Param<'a>>) {
        self.core.render_from_where(sql, params);
    }
    fn first_table(&self) -> &'static str {
        self.core.first_table()
    }
}

impl<A, B, C, K1, K2> super::aggregate::JoinSource for Join3<A, B, C, K1, K2> {
    fn render_from_where<'a>(&'a self, sql: &mut String, params: &mut Vec<Param<'a>>) {
        self.core.render_from_where(sql, params);
    }
    fn first_table(&self) -> &'static str {
        self.core.first_table()
    }
}
