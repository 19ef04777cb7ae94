//! Chosen columns into tuples, `DISTINCT`, and grouped counts: typed by the columns, every
//! value bound.

use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

use super::expr::Column;
use super::select::Select;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::fetch::typed_rows;
use crate::op::Op;
use crate::sql::push_ident;
use crate::table::Table;

/// What [`Select::columns`] takes: one typed column, or a tuple of up to eight, of table `T`.
#[diagnostic::on_unimplemented(
    message = "only columns of `{T}` can be selected from `{T}::query()`",
    label = "a column of another table, or not a column",
    note = "select one column, or a tuple of up to eight columns of the same table"
)]
pub trait Selection<T> {
    /// What one row decodes to: the column's type, or a tuple of them.
    type Output;
    /// The SQL names of the columns, in order.
    fn names(&self) -> Vec<&'static str>;
    /// Decodes one row selected with [`Selection::names`].
    fn decode(&self, row: &Row) -> Result<Self::Output>;
}

fn get<V: for<'a> FromSql<'a>>(row: &Row, index: usize, name: &str) -> Result<V> {
    row.try_get(index).map_err(|e| Error::decode(name, e))
}

impl<T: Table, V: for<'a> FromSql<'a>> Selection<T> for Column<T, V> {
    type Output = V;

    fn names(&self) -> Vec<&'static str> {
        vec![self.name()]
    }

    fn decode(&self, row: &Row) -> Result<V> {
        get(row, 0, self.name())
    }
}

macro_rules! tuples {
    ($(($($v:ident $i:tt),+))*) => {$(
        impl<T: Table, $($v: for<'a> FromSql<'a>),+> Selection<T> for ($(Column<T, $v>,)+) {
            type Output = ($($v,)+);

            fn names(&self) -> Vec<&'static str> {
                vec![$(self.$i.name()),+]
            }

            fn decode(&self, row: &Row) -> Result<Self::Output> {
                Ok(($(get::<$v>(row, $i, self.$i.name())?,)+))
            }
        }
    )*};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

/// A query that returns chosen columns instead of whole rows; [`Select::columns`] starts one.
pub struct SelectColumns<T, S> {
    query: Select<T>,
    selection: S,
    distinct: bool,
}

impl<T: Table, S: Selection<T>> SelectColumns<T, S> {
    pub(crate) fn new(query: Select<T>, selection: S) -> SelectColumns<T, S> {
        SelectColumns {
            query,
            selection,
            distinct: false,
        }
    }

    /// Each combination of values once (`SELECT DISTINCT`).
    pub fn distinct(mut self) -> SelectColumns<T, S> {
        self.distinct = true;
        self
    }

    /// The SELECT statement this builds, with `$n` placeholders.
    pub fn to_sql(&self) -> String {
        self.render().0
    }

    fn render(&self) -> (String, Vec<crate::Param<'_>>) {
        let mut head = String::from(if self.distinct {
            "SELECT DISTINCT "
        } else {
            "SELECT "
        });
        for (i, name) in self.selection.names().iter().enumerate() {
            if i > 0 {
                head.push_str(", ");
            }
            push_ident(&mut head, name);
        }
        self.query.render_with_head(&[&head])
    }

    /// Every matching row's values.
    pub async fn fetch_all(&self, db: &impl Executor) -> Result<Vec<S::Output>>
    where
        S::Output: Send + 'static,
    {
        let (sql, params) = self.render();
        let table = &T::statements().table;
        typed_rows(db, table, Op::Columns, &sql, &params, |r| {
            self.selection.decode(r)
        })
        .await
    }

    /// The first matching row's values, if any.
    pub async fn fetch_optional(&self, db: &impl Executor) -> Result<Option<S::Output>>
    where
        S::Output: Send + 'static,
    {
        Ok(self.fetch_all(db).await?.into_iter().next())
    }

    /// The first matching row's values, or [`Error::NotFound`].
    pub async fn fetch_one(&self, db: &impl Executor) -> Result<S::Output>
    where
        S::Output: Send + 'static,
    {
        self.fetch_optional(db)
            .await?
            .ok_or_else(|| T::statements().not_found())
    }
}
