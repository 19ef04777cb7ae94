use std::marker::PhantomData;
use std::sync::Arc;

use tokio_postgres::types::ToSql;

use super::array::ValueArray;
use crate::executor::Param;
use crate::sql::{casts_param, push_ident, push_param, push_placeholder};
use crate::table::{ColumnDef, Table};

/// A bound value, owned by the expression until the statement runs.
pub(crate) type Value = Arc<dyn ToSql + Sync + Send>;

/// A typed column of table `T` holding values of type `V`: `User::EMAIL: Column<User, String>`.
/// Comparisons only accept values that convert to `V`, so `User::EMAIL.eq(42)` does not
/// compile.
pub struct Column<T, V> {
    index: usize,
    // Variance and auto traits of a `fn(&T) -> &V`; the value is read through
    // `Table::column_value`, so no table carries a getter per column.
    _marker: PhantomData<fn(&T) -> &V>,
}

impl<T, V> Clone for Column<T, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, V> Copy for Column<T, V> {}

impl<T, V> std::fmt::Debug for Column<T, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Column")
            .field("index", &self.index)
            .finish()
    }
}

/// Values a column of type `V` can be compared with: `V` itself, `&V`, `&str` for `String`,
/// and `T` or `Option<T>` for an `Option<T>` column.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` cannot be compared with a column of type `{V}`",
    label = "expected a value of the column's type `{V}`"
)]
pub trait IntoValue<V> {
    /// The value, owned, ready to bind.
    #[doc(hidden)]
    fn into_value(self) -> Value;
}

// The error names the column's type; the list of these impls would only add noise.
#[diagnostic::do_not_recommend]
impl<V: ToSql + Sync + Send + 'static> IntoValue<V> for V {
    fn into_value(self) -> Value {
        Arc::new(self)
    }
}

// The error names the column's type; the list of these impls would only add noise.
#[diagnostic::do_not_recommend]
impl<V: ToSql + Clone + Sync + Send + 'static> IntoValue<V> for &V {
    fn into_value(self) -> Value {
        Arc::new(self.clone())
    }
}

// The error names the column's type; the list of these impls would only add noise.
#[diagnostic::do_not_recommend]
impl<V: ToSql + Sync + Send + 'static> IntoValue<Option<V>> for V {
    fn into_value(self) -> Value {
        Arc::new(Some(self))
    }
}

// The error names the column's type; the list of these impls would only add noise.
#[diagnostic::do_not_recommend]
impl IntoValue<String> for &str {
    fn into_value(self) -> Value {
        Arc::new(self.to_owned())
    }
}

// The error names the column's type; the list of these impls would only add noise.
#[diagnostic::do_not_recommend]
impl IntoValue<Option<String>> for &str {
    fn into_value(self) -> Value {
        Arc::new(Some(self.to_owned()))
    }
}

// The error names the column's type; the list of these impls would only add noise.
#[diagnostic::do_not_recommend]
impl IntoValue<Option<String>> for Option<&str> {
    fn into_value(self) -> Value {
        Arc::new(self.map(str::to_owned))
    }
}

impl<T, V> Column<T, V> {
    /// The column at `index` of `T::COLUMNS`. Only the derive makes columns (through
    /// `__private`), so the index is always in range and the field there is of type `V`.
    pub(crate) const fn new(index: usize) -> Column<T, V> {
        Column {
            index,
            _marker: PhantomData,
        }
    }

    /// The column's position in `T::COLUMNS`.
    pub(crate) fn index(&self) -> usize {
        self.index
    }
}

impl<T: Table, V: Send + Sync + 'static> Column<T, V> {
    /// This column's value in `row`: `User::EMAIL.get(&user)`.
    pub fn get<'r>(&self, row: &'r T) -> &'r V {
        match row
            .column_value(self.index)
            .and_then(|v| v.downcast_ref::<V>())
        {
            Some(value) => value,
            // The derive makes both the column and `column_value` from the same field.
            None => unreachable!(
                "column {} of {} is not a {}",
                self.index,
                T::NAME,
                std::any::type_name::<V>()
            ),
        }
    }
}

impl<T: Table, V> Column<T, V> {
    /// The column's metadata.
    pub fn def(&self) -> &'static ColumnDef {
        &T::COLUMNS[self.index]
    }

    /// The column's SQL name.
    pub fn name(&self) -> &'static str {
        self.def().name
    }

    fn compare(self, op: &'static str, value: impl IntoValue<V>) -> Expr<T> {
        Expr::new(Node::Compare {
            column: self.def(),
            op,
            value: value.into_value(),
        })
    }

    /// `column = value`
    pub fn eq(self, value: impl IntoValue<V>) -> Expr<T> {
        self.compare("=", value)
    }

    /// `column <> value`
    pub fn ne(self, value: impl IntoValue<V>) -> Expr<T> {
        self.compare("<>", value)
    }

    /// `column < value`
    pub fn lt(self, value: impl IntoValue<V>) -> Expr<T> {
        self.compare("<", value)
    }

    /// `column <= value`
    pub fn le(self, value: impl IntoValue<V>) -> Expr<T> {
        self.compare("<=", value)
    }

    /// `column > value`
    pub fn gt(self, value: impl IntoValue<V>) -> Expr<T> {
        self.compare(">", value)
    }

    /// `column >= value`
    pub fn ge(self, value: impl IntoValue<V>) -> Expr<T> {
        self.compare(">=", value)
    }

    /// `column = ANY($1)`: the values travel as one array parameter, so every list length is
    /// the same statement (one cached plan) and there is no limit on the number of values. An
    /// empty list matches nothing.
    pub fn is_in<I>(self, values: I) -> Expr<T>
    where
        I: IntoIterator,
        I::Item: IntoValue<V>,
    {
        let values: Vec<Value> = values.into_iter().map(IntoValue::into_value).collect();
        if values.is_empty() {
            return Expr::new(Node::Const(false));
        }
        Expr::new(Node::In {
            column: self.def(),
            values: Arc::new(ValueArray(values)),
        })
    }

    /// Ascending order on this column.
    pub fn asc(self) -> Order<T> {
        Order::new(self.name(), false)
    }

    /// Descending order on this column.
    pub fn desc(self) -> Order<T> {
        Order::new(self.name(), true)
    }
}

impl<T: Table, V> Column<T, Option<V>> {
    /// `column IS NULL`; only nullable columns have it.
    pub fn is_null(self) -> Expr<T> {
        Expr::new(Node::Null {
            column: self.name(),
            negated: false,
        })
    }

    /// `column IS NOT NULL`; only nullable columns have it.
    pub fn is_not_null(self) -> Expr<T> {
        Expr::new(Node::Null {
            column: self.name(),
            negated: true,
        })
    }
}

macro_rules! text_ops {
    ($v:ty) => {
        impl<T: Table> Column<T, $v> {
            /// `column LIKE pattern`
            pub fn like(self, pattern: impl Into<String>) -> Expr<T> {
                self.pattern("LIKE", pattern.into())
            }

            /// `column ILIKE pattern` (case-insensitive)
            pub fn ilike(self, pattern: impl Into<String>) -> Expr<T> {
                self.pattern("ILIKE", pattern.into())
            }

            fn pattern(self, op: &'static str, pattern: String) -> Expr<T> {
                Expr::new(Node::Compare {
                    column: self.def(),
                    op,
                    value: Arc::new(pattern),
                })
            }
        }
    };
}

text_ops!(String);
text_ops!(Option<String>);

/// An ordering term: `User::CREATED_AT.desc()`.
pub struct Order<T> {
    pub(crate) column: &'static str,
    pub(crate) descending: bool,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Order<T> {
    fn new(column: &'static str, descending: bool) -> Order<T> {
        Order {
            column,
            descending,
            _marker: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Order<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Order")
            .field("column", &self.column)
            .field("descending", &self.descending)
            .finish()
    }
}

/// A typed condition on table `T`: build it from columns, combine with `and`, `or`, `not`.
pub struct Expr<T> {
    pub(crate) node: Node,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Clone for Expr<T> {
    fn clone(&self) -> Self {
        Expr::new(self.node.clone())
    }
}

impl<T> std::fmt::Debug for Expr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sql = String::new();
        let mut params = Vec::new();
        self.node.render(&mut sql, &mut params);
        f.debug_struct("Expr").field("sql", &sql).finish()
    }
}

#[derive(Clone)]
pub(crate) enum Node {
    Compare {
        column: &'static ColumnDef,
        op: &'static str,
        value: Value,
    },
    Null {
        column: &'static str,
        negated: bool,
    },
    In {
        column: &'static ColumnDef,
        values: Value,
    },
    /// `[NOT] EXISTS (SELECT 1 FROM ...)` along a relation.
    Exists {
        negated: bool,
        sub: super::relation::Subquery,
    },
    /// `column IN (SELECT ...)`.
    InSubquery {
        column: &'static str,
        table: &'static str,
        inner_column: &'static str,
        scope: Option<(&'static str, &'static str)>,
        filter: Option<Box<Node>>,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Const(bool),
}

impl<T> Expr<T> {
    pub(crate) fn new(node: Node) -> Expr<T> {
        Expr {
            node,
            _marker: PhantomData,
        }
    }

    /// Both conditions.
    pub fn and(self, other: Expr<T>) -> Expr<T> {
        Expr::new(Node::And(Box::new(self.node), Box::new(other.node)))
    }

    /// Either condition.
    pub fn or(self, other: Expr<T>) -> Expr<T> {
        Expr::new(Node::Or(Box::new(self.node), Box::new(other.node)))
    }

    /// The negation.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr<T> {
        Expr::new(Node::Not(Box::new(self.node)))
    }
}

impl<T> std::ops::Not for Expr<T> {
    type Output = Expr<T>;

    fn not(self) -> Expr<T> {
        Expr::not(self)
    }
}

// `"alias"."column"`, or `"column"` without an alias.
fn push_column(sql: &mut String, alias: Option<&str>, column: &str) {
    if let Some(alias) = alias {
        push_ident(sql, alias);
        sql.push('.');
    }
    push_ident(sql, column);
}

impl Node {
    /// Appends the SQL, numbering placeholders after those already in `params`.
    pub(crate) fn render<'a>(&'a self, sql: &mut String, params: &mut Vec<Param<'a>>) {
        self.render_in(sql, params, None);
    }

    /// As [`Node::render`], each column qualified with `alias` (a joined table).
    pub(crate) fn render_in<'a>(
        &'a self,
        sql: &mut String,
        params: &mut Vec<Param<'a>>,
        alias: Option<&str>,
    ) {
        match self {
            Node::Compare { column, op, value } => {
                params.push(&**value);
                push_column(sql, alias, column.name);
                sql.push(' ');
                sql.push_str(op);
                sql.push(' ');
                push_param(sql, params.len(), column.sql_type);
            }
            Node::Null { column, negated } => {
                push_column(sql, alias, column);
                sql.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Node::In { column, values } => {
                push_column(sql, alias, column.name);
                sql.push_str(" = ANY(");
                params.push(&**values);
                push_placeholder(sql, params.len());
                // An array of the column's type, when the values cannot name it.
                if !column.sql_type.ends_with("[]") && casts_param(column.sql_type) {
                    sql.push_str("::");
                    sql.push_str(column.sql_type);
                    sql.push_str("[]");
                }
                sql.push(')');
            }
            Node::Exists { negated, sub } => {
                sql.push_str(if *negated { "NOT EXISTS " } else { "EXISTS " });
                sub.render_in(sql, params, alias);
            }
            Node::InSubquery {
                column,
                table,
                inner_column,
                scope,
                filter,
            } => {
                push_column(sql, alias, column);
                sql.push_str(" IN ");
                super::relation::render_column_subquery(
                    sql,
                    params,
                    alias,
                    (table, inner_column),
                    *scope,
                    filter.as_deref(),
                );
            }
            Node::And(a, b) | Node::Or(a, b) => {
                let op = if matches!(self, Node::And(..)) {
                    " AND "
                } else {
                    " OR "
                };
                sql.push('(');
                a.render_in(sql, params, alias);
                sql.push_str(op);
                b.render_in(sql, params, alias);
                sql.push(')');
            }
            Node::Not(a) => {
                sql.push_str("NOT (");
                a.render_in(sql, params, alias);
                sql.push(')');
            }
            Node::Const(b) => sql.push_str(if *b { "TRUE" } else { "FALSE" }),
        }
    }
}
