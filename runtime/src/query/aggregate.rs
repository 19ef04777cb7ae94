//! Grouped aggregates: `count`, `count_distinct`, `sum`, `avg`, `min`, `max`, typed as
//! PostgreSQL returns them, grouped by typed columns, with `HAVING`, ordering by an aggregate and
//! a limit; on one table and over a join. Every value is bound; soft-delete scopes apply.

use std::marker::PhantomData;

use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

use super::columns::Selection;
use super::expr::{Column, IntoValue, Order, Value};
use super::joined::{Join, Join3};
use super::select::Select;
use crate::error::{Error, Result};
use crate::executor::{Executor, Param};
use crate::fetch::typed_rows;
use crate::op::Op;
use crate::sql::{push_ident, push_placeholder};
use crate::table::Table;

/// One aggregate, untyped.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct AggSpec {
    func: &'static str,
    /// The column, `None` for `count(*)`.
    column: Option<&'static str>,
    distinct: bool,
}

impl AggSpec {
    fn render(&self, sql: &mut String, alias: Option<&str>) {
        sql.push_str(self.func);
        sql.push('(');
        match self.column {
            None => sql.push('*'),
            Some(column) => {
                if self.distinct {
                    sql.push_str("DISTINCT ");
                }
                if let Some(alias) = alias {
                    push_ident(sql, alias);
                    sql.push('.');
                }
                push_ident(sql, column);
            }
        }
        sql.push(')');
    }
}

/// An aggregate over rows of table `T`, giving a `V`: [`count`], [`count_distinct`], [`sum`],
/// [`avg`], [`min`], [`max`]. Compare it for `HAVING` (`count().gt(5)`), order by it
/// (`count().desc()`).
pub struct Agg<T, V> {
    spec: AggSpec,
    _marker: PhantomData<fn() -> (T, V)>,
}

impl<T, V> Clone for Agg<T, V> {
    fn clone(&self) -> Self {
        Agg {
            spec: self.spec.clone(),
            _marker: PhantomData,
        }
    }
}

impl<T, V> std::fmt::Debug for Agg<T, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sql = String::new();
        self.spec.render(&mut sql, None);
        f.debug_struct("Agg").field("sql", &sql).finish()
    }
}

fn agg<T, V>(func: &'static str, column: Option<&'static str>, distinct: bool) -> Agg<T, V> {
    Agg {
        spec: AggSpec {
            func,
            column,
            distinct,
        },
        _marker: PhantomData,
    }
}

/// A column's value type without its `Option`: what `min` and `max` give (inside their own
/// `Option`, NULL for a group of NULLs), and what `sum` and `avg` are typed by.
pub trait Scalar {
    /// The type itself, or `T` for `Option<T>`.
    type Inner;
}

/// The types `sum` takes, with what PostgreSQL returns: `sum` of `smallint`/`integer` is
/// `bigint` (`i64`), of `bigint` and `numeric` is `numeric` (`rust_decimal::Decimal`, feature
/// `decimal`), of `real` is `real`, of `double precision` is `double precision`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be summed",
    label = "sum takes integer, float and numeric columns",
    note = "sum of a bigint column gives numeric: enable skelly-db's `decimal` feature"
)]
pub trait Summable {
    /// What `sum` returns.
    type Sum;
}

/// The types `avg` takes, with what PostgreSQL returns: `avg` of an integer or `numeric` is
/// `numeric` (`rust_decimal::Decimal`, feature `decimal`), of a float is `double precision`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be averaged",
    label = "avg takes integer, float and numeric columns",
    note = "avg of an integer column gives numeric: enable skelly-db's `decimal` feature"
)]
pub trait Averaged {
    /// What `avg` returns.
    type Avg;
}

macro_rules! scalars {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            type Inner = $t;
        }
        impl Scalar for Option<$t> {
            type Inner = $t;
        }
    )*};
}

scalars!(
    i16,
    i32,
    i64,
    f32,
    f64,
    bool,
    String,
    uuid::Uuid,
    chrono::DateTime<chrono::Utc>,
    chrono::NaiveDateTime,
    chrono::NaiveDate,
    chrono::NaiveTime
);
#[cfg(feature = "decimal")]
scalars!(rust_decimal::Decimal);

impl Summable for i16 {
    type Sum = i64;
}
impl Summable for i32 {
    type Sum = i64;
}
impl Summable for f32 {
    type Sum = f32;
}
impl Summable for f64 {
    type Sum = f64;
}
#[cfg(feature = "decimal")]
impl Summable for i64 {
    type Sum = rust_decimal::Decimal;
}
#[cfg(feature = "decimal")]
impl Summable for rust_decimal::Decimal {
    type Sum = rust_decimal::Decimal;
}
impl Averaged for f32 {
    type Avg = f64;
}
impl Averaged for f64 {
    type Avg = f64;
}
#[cfg(feature = "decimal")]
impl Averaged for i16 {
    type Avg = rust_decimal::Decimal;
}
#[cfg(feature = "decimal")]
impl Averaged for i32 {
    type Avg = rust_decimal::Decimal;
}
#[cfg(feature = "decimal")]
impl Averaged for i64 {
    type Avg = rust_decimal::Decimal;
}
#[cfg(feature = "decimal")]
impl Averaged for rust_decimal::Decimal {
    type Avg = rust_decimal::Decimal;
}

/// `count(*)`: the rows (of a join: the joined rows).
pub fn count<T>() -> Agg<T, i64> {
    agg("count", None, false)
}

/// `count(DISTINCT column)`: its distinct non-NULL values.
pub fn count_distinct<T: Table, V>(column: Column<T, V>) -> Agg<T, i64> {
    agg("count", Some(column.name()), true)
}

/// `sum(column)`: `None` when every value is NULL.
pub fn sum<T: Table, V: Scalar>(column: Column<T, V>) -> Agg<T, Option<<V::Inner as Summable>::Sum>>
where
    V::Inner: Summable,
{
    agg("sum", Some(column.name()), false)
}

/// `avg(column)`: `None` when every value is NULL.
pub fn avg<T: Table, V: Scalar>(column: Column<T, V>) -> Agg<T, Option<<V::Inner as Averaged>::Avg>>
where
    V::Inner: Averaged,
{
    agg("avg", Some(column.name()), false)
}

/// `min(column)`: `None` when every value is NULL.
pub fn min<T: Table, V: Scalar>(column: Column<T, V>) -> Agg<T, Option<V::Inner>> {
    agg("min", Some(column.name()), false)
}

/// `max(column)`: `None` when every value is NULL.
pub fn max<T: Table, V: Scalar>(column: Column<T, V>) -> Agg<T, Option<V::Inner>> {
    agg("max", Some(column.name()), false)
}

/// A condition on an aggregate, for `HAVING`.
pub struct Having<T> {
    spec: AggSpec,
    op: &'static str,
    value: Value,
    _marker: PhantomData<fn() -> T>,
}

/// An ordering term on an aggregate: `count().desc()`.
pub struct AggOrder<T> {
    spec: AggSpec,
    descending: bool,
    _marker: PhantomData<fn() -> T>,
}

impl<T, V> Agg<T, V> {
    fn compare(self, op: &'static str, value: impl IntoValue<V>) -> Having<T> {
        Having {
            spec: self.spec,
            op,
            value: value.into_value(),
            _marker: PhantomData,
        }
    }

    /// `aggregate = value`
    pub fn eq(self, value: impl IntoValue<V>) -> Having<T> {
        self.compare("=", value)
    }

    /// `aggregate <> value`
    pub fn ne(self, value: impl IntoValue<V>) -> Having<T> {
        self.compare("<>", value)
    }

    /// `aggregate > value`
    pub fn gt(self, value: impl IntoValue<V>) -> Having<T> {
        self.compare(">", value)
    }

    /// `aggregate >= value`
    pub fn ge(self, value: impl IntoValue<V>) -> Having<T> {
        self.compare(">=", value)
    }

    /// `aggregate < value`
    pub fn lt(self, value: impl IntoValue<V>) -> Having<T> {
        self.compare("<", value)
    }

    /// `aggregate <= value`
    pub fn le(self, value: impl IntoValue<V>) -> Having<T> {
        self.compare("<=", value)
    }

    /// Ascending order on the aggregate.
    pub fn asc(self) -> AggOrder<T> {
        AggOrder {
            spec: self.spec,
            descending: false,
            _marker: PhantomData,
        }
    }

    /// Descending order on the aggregate (most first).
    pub fn desc(self) -> AggOrder<T> {
        AggOrder {
            spec: self.spec,
            descending: true,
            _marker: PhantomData,
        }
    }
}

/// What [`Grouped::aggregate`] takes: one aggregate of `T`, or a tuple of up to six.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an aggregate of `{T}`",
    label = "expected count(), sum(..), ... of `{T}`'s columns, or a tuple of them"
)]
pub trait Aggregates<T> {
    /// What one row's aggregates decode to.
    type Output;
    #[doc(hidden)]
    fn specs(&self) -> Vec<AggSpec>;
    #[doc(hidden)]
    fn decode(row: &Row, at: usize) -> Result<Self::Output>;
}

fn get<V: for<'a> FromSql<'a>>(row: &Row, index: usize) -> Result<V> {
    row.try_get(index)
        .map_err(|e| Error::decode(&format!("aggregate {index}"), e))
}

impl<T, V: for<'a> FromSql<'a>> Aggregates<T> for Agg<T, V> {
    type Output = V;
    fn specs(&self) -> Vec<AggSpec> {
        vec![self.spec.clone()]
    }
    fn decode(row: &Row, at: usize) -> Result<V> {
        get(row, at)
    }
}

macro_rules! agg_tuples {
    ($(($($v:ident $i:tt),+))*) => {$(
        impl<T, $($v: for<'a> FromSql<'a>),+> Aggregates<T> for ($(Agg<T, $v>,)+) {
            type Output = ($($v,)+);
            fn specs(&self) -> Vec<AggSpec> {
                vec![$(self.$i.spec.clone()),+]
            }
            fn decode(row: &Row, at: usize) -> Result<Self::Output> {
                Ok(($(get::<$v>(row, at + $i)?,)+))
            }
        }
    )*};
}

agg_tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
}

/// The grouping, aggregates, `HAVING`, order and limit of a grouped query, untyped.
#[derive(Default)]
struct GroupSpec {
    keys: Vec<&'static str>,
    aggs: Vec<AggSpec>,
    having: Vec<(AggSpec, &'static str, Value)>,
    /// A group column (`Ok`) or an aggregate (`Err`), and descending.
    order: Vec<(std::result::Result<&'static str, AggSpec>, bool)>,
    limit: Option<i64>,
}

impl GroupSpec {
    // SELECT keys, aggregates <from_where> GROUP BY ... HAVING ... ORDER BY ... LIMIT.
    fn render<'a>(
        &'a self,
        alias: Option<&str>,
        from_where: impl FnOnce(&mut String, &mut Vec<Param<'a>>),
    ) -> (String, Vec<Param<'a>>) {
        let qualified = |sql: &mut String, column: &str| {
            if let Some(alias) = alias {
                push_ident(sql, alias);
                sql.push('.');
            }
            push_ident(sql, column);
        };
        let mut sql = String::from("SELECT ");
        let mut first = true;
        for key in &self.keys {
            if !first {
                sql.push_str(", ");
            }
            first = false;
            qualified(&mut sql, key);
        }
        for spec in &self.aggs {
            if !first {
                sql.push_str(", ");
            }
            first = false;
            spec.render(&mut sql, alias);
        }
        let mut params = Vec::new();
        from_where(&mut sql, &mut params);
        for (i, key) in self.keys.iter().enumerate() {
            sql.push_str(if i == 0 { " GROUP BY " } else { ", " });
            qualified(&mut sql, key);
        }
        for (i, (spec, op, value)) in self.having.iter().enumerate() {
            sql.push_str(if i == 0 { " HAVING " } else { " AND " });
            spec.render(&mut sql, alias);
            sql.push(' ');
            sql.push_str(op);
            sql.push(' ');
            params.push(&**value);
            push_placeholder(&mut sql, params.len());
        }
        for (i, (term, descending)) in self.order.iter().enumerate() {
            sql.push_str(if i == 0 { " ORDER BY " } else { ", " });
            match term {
                Ok(column) => qualified(&mut sql, column),
                Err(spec) => spec.render(&mut sql, alias),
            }
            sql.push_str(if *descending { " DESC" } else { " ASC" });
        }
        if let Some(limit) = &self.limit {
            params.push(limit);
            sql.push_str(" LIMIT ");
            push_placeholder(&mut sql, params.len());
        }
        (sql, params)
    }
}

/// What a grouped query groups and reads from: a single table's query or a join (its first
/// table's columns).
enum Source<T> {
    Select(Select<T>),
    Join(Box<dyn JoinSource + Send + Sync>),
}

/// A join a grouped query reads from, untyped.
pub(crate) trait JoinSource {
    fn render_from_where<'a>(&'a self, sql: &mut String, params: &mut Vec<Param<'a>>);
    fn first_table(&self) -> &'static str;
}

/// A query grouped by typed columns of `T`: [`Select::group_by`] (or a join's) starts one; add
/// the aggregates with [`Grouped::aggregate`].
pub struct Grouped<T, G> {
    source: Source<T>,
    keys: G,
}

/// A grouped query with its aggregates: `HAVING`, order, limit, then `fetch_all`. Rows come
/// back as `(group values, aggregate values)`.
pub struct Aggregated<T, G, A> {
    source: Source<T>,
    _keys: G,
    _aggs: PhantomData<fn() -> A>,
    spec: GroupSpec,
}

/// An ordering term of a grouped query: a group column (`Order`) or an aggregate (`AggOrder`).
pub trait GroupOrder<T> {
    #[doc(hidden)]
    fn term(self) -> (std::result::Result<&'static str, AggSpec>, bool);
}

impl<T> GroupOrder<T> for Order<T> {
    fn term(self) -> (std::result::Result<&'static str, AggSpec>, bool) {
        (Ok(self.column), self.descending)
    }
}

impl<T> GroupOrder<T> for AggOrder<T> {
    fn term(self) -> (std::result::Result<&'static str, AggSpec>, bool) {
        (Err(self.spec), self.descending)
    }
}

impl<T: Table> Select<T> {
    /// Groups the matching rows by one typed column or a tuple of up to eight (`GROUP BY`);
    /// then [`Grouped::aggregate`]. Soft-deleted rows are left out as everywhere.
    ///
    /// ```no_run
    /// # use skelly_db::{Table, TextEnum};
    /// # #[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)] enum Role { Admin, Member }
    /// # #[derive(Table)] #[table(schema = "user")]
    /// # struct User { id: uuid::Uuid, email: String, role: Role, logins: i32, created_at: chrono::DateTime<chrono::Utc> }
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// use skelly_db::query::{count, max, sum};
    ///
    /// let per_role: Vec<(Role, (i64, Option<i64>, Option<chrono::DateTime<chrono::Utc>>))> = User::query()
    ///     .group_by(User::ROLE)
    ///     .aggregate((count(), sum(User::LOGINS), max(User::CREATED_AT)))
    ///     .having(count().gt(10))
    ///     .order_by(count().desc())
    ///     .limit(5)
    ///     .fetch_all(&pool)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn group_by<G: Selection<T>>(self, keys: G) -> Grouped<T, G> {
        Grouped {
            source: Source::Select(self),
            keys,
        }
    }

    /// Aggregates over every matching row, one row of results: `(count, max, ...)`.
    ///
    /// ```no_run
    /// # use skelly_db::Table;
    /// # #[derive(Table)] #[table(schema = "user")]
    /// # struct User { id: uuid::Uuid, email: String, created_at: chrono::DateTime<chrono::Utc> }
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// use skelly_db::query::{count, min};
    ///
    /// let (users, first) = User::query().aggregate_one(&pool, (count(), min(User::CREATED_AT))).await?;
    /// # let _ = (users, first);
    /// # Ok(()) }
    /// ```
    pub async fn aggregate_one<A: Aggregates<T>>(
        self,
        db: &impl Executor,
        aggregates: A,
    ) -> Result<A::Output>
    where
        A::Output: Send + 'static,
    {
        let grouped: Aggregated<T, (), A> = Aggregated {
            source: Source::Select(self),
            _keys: (),
            _aggs: PhantomData,
            spec: GroupSpec {
                aggs: aggregates.specs(),
                ..GroupSpec::default()
            },
        };
        let (sql, params) = grouped.render();
        let rows = typed_rows(db, grouped.table(), Op::Aggregate, &sql, &params, |r| {
            A::decode(r, 0)
        })
        .await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| Error::Config("an aggregate returned no row".into()))
    }
}

impl<T: Table, G: Selection<T>> Grouped<T, G> {
    /// The aggregates of each group: one, or a tuple of up to six.
    pub fn aggregate<A: Aggregates<T>>(self, aggregates: A) -> Aggregated<T, G, A> {
        let spec = GroupSpec {
            keys: self.keys.names(),
            aggs: aggregates.specs(),
            ..GroupSpec::default()
        };
        Aggregated {
            source: self.source,
            _keys: self.keys,
            _aggs: PhantomData,
            spec,
        }
    }
}

impl<T: Table, G, A> Aggregated<T, G, A> {
    /// Keeps the groups whose aggregate matches (`HAVING`; ANDed with earlier ones).
    pub fn having(mut self, condition: Having<T>) -> Self {
        self.spec
            .having
            .push((condition.spec, condition.op, condition.value));
        self
    }

    /// Orders by a group column (`User::ROLE.asc()`) or an aggregate (`count().desc()`), after
    /// earlier terms. Without it the groups come in no particular order.
    pub fn order_by(mut self, order: impl GroupOrder<T>) -> Self {
        self.spec.order.push(order.term());
        self
    }

    /// At most `n` groups.
    pub fn limit(mut self, n: i64) -> Self {
        self.spec.limit = Some(n);
        self
    }

    fn table(&self) -> &'static str {
        match &self.source {
            Source::Select(_) => &T::statements().table,
            Source::Join(join) => join.first_table(),
        }
    }

    fn render(&self) -> (String, Vec<Param<'_>>) {
        match &self.source {
            Source::Select(select) => self.spec.render(None, |sql, params| {
                sql.push_str(" FROM ");
                sql.push_str(&T::statements().table);
                select.render_where(sql, params);
            }),
            Source::Join(join) => self
                .spec
                .render(Some("c"), |sql, params| join.render_from_where(sql, params)),
        }
    }

    /// The statement this builds, with `$n` placeholders.
    pub fn to_sql(&self) -> String {
        self.render().0
    }
}

impl<T: Table, G: Selection<T>, A: Aggregates<T>> Aggregated<T, G, A>
where
    G::Output: Send + 'static,
    A::Output: Send + 'static,
{
    /// Every group: `(group values, aggregate values)`.
    pub async fn fetch_all(&self, db: &impl Executor) -> Result<Vec<(G::Output, A::Output)>> {
        let (sql, params) = self.render();
        let width = self.spec.keys.len();
        typed_rows(db, self.table(), Op::Aggregate, &sql, &params, |r| {
            Ok((self._keys.decode(r)?, A::decode(r, width)?))
        })
        .await
    }
}

macro_rules! join_group_by {
    (impl [$($gen:tt)*] $ty:ty) => {
        impl<$($gen)*> $ty {
            /// Groups the joined rows by columns of the first table; then
            /// [`Grouped::aggregate`] with aggregates of the first table's columns (`count()`
            /// counts the joined rows). Every table's soft-delete scope and filters apply.
            pub fn group_by<G: Selection<A>>(self, keys: G) -> Grouped<A, G> {
                Grouped {
                    source: Source::Join(Box::new(self)),
                    keys,
                }
            }
        }
    };
}

join_group_by!(impl [A: Table, B: Table, K: Send + Sync + 'static] Join<A, B, K>);
join_group_by!(impl [A: Table, B: Table, C: Table, K1: Send + Sync + 'static, K2: Send + Sync + 'static] Join3<A, B, C, K1, K2>);
