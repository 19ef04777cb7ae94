//! [`Executor`]: the one trait every runtime function takes, for a pool, a pooled connection,
//! a transaction, a plain tokio-postgres client and a `MockDb`.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::Result;

pub(crate) use sealed::{with_session, Dedicated, Reach, Sealed, Session, LOST_CONNECTION_RERUNS};

/// A statement parameter, as tokio-postgres takes it.
pub type Param<'a> = &'a (dyn ToSql + Sync);

/// Something statements can run on: a [`Pool`](crate::Pool) (each call checks out a
/// connection), a pooled [`Connection`](crate::Connection), a
/// [`Transaction`](crate::Transaction), a [`DetachedConnection`](crate::DetachedConnection), a
/// plain [`tokio_postgres::Client`], or, for unit tests of your own services, a
/// `skelly_db::testing::MockDb`.
///
/// The trait is sealed: skelly-db implements it for those types, and your code takes
/// `&impl Executor` to work with all of them.
///
/// Statements are prepared once per connection and cached, so a repeated statement costs one
/// round trip. The plain `tokio_postgres::Client` has no cache to keep them in and prepares
/// each time; use a pool or [`DetachedConnection`](crate::DetachedConnection) where that
/// matters.
///
/// ```no_run
/// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
/// use futures_util::TryStreamExt;
/// use skelly_db::Executor;
///
/// async fn count_users(db: &impl Executor) -> skelly_db::Result<i64> {
///     let row = db.query_one("SELECT count(*) FROM \"user\".users", &[]).await?;
///     Ok(row.get(0))
/// }
/// let n = count_users(&pool).await?;
///
/// // Large results arrive row by row instead of as one Vec.
/// let mut rows = pool.query_stream("SELECT generate_series(1, 1000000)", &[]).await?;
/// while let Some(row) = rows.try_next().await? {
///     let _: i32 = row.get(0);
/// }
/// # Ok(()) }
/// ```
pub trait Executor: Sealed + Sync {
    /// Runs a statement and collects its rows.
    fn query(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Vec<Row>>> + Send {
        async move { with_session!(self, |s| s.query(sql, params).await) }
    }

    /// Runs a statement that returns at most one row.
    fn query_opt(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Option<Row>>> + Send {
        async move { with_session!(self, |s| s.query_opt(sql, params).await) }
    }

    /// Runs a statement that returns exactly one row; no row is
    /// [`Error::NotFound`](crate::Error::NotFound) with an empty table name (the generated
    /// functions fill it in).
    fn query_one(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Row>> + Send {
        async move {
            self.query_opt(sql, params)
                .await?
                .ok_or_else(|| crate::Error::NotFound {
                    table: String::new(),
                })
        }
    }

    /// Runs a statement and returns the number of rows it affected.
    fn execute(&self, sql: &str, params: &[Param<'_>]) -> impl Future<Output = Result<u64>> + Send {
        async move { with_session!(self, |s| s.execute(sql, params).await) }
    }

    /// Runs a statement and returns its rows as a stream, decoded as they arrive.
    /// The statement and parameters are only read during the call; the stream borrows
    /// nothing but the executor.
    fn query_stream<'s>(
        &'s self,
        sql: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<RowStream<'s>>> + Send {
        async move { with_session!(self, |s| s.query_stream(sql, params).await) }
    }

    /// Runs one or more statements separated by `;` with the simple protocol, without
    /// parameters or results (e.g. DDL).
    fn batch_execute(&self, sql: &str) -> impl Future<Output = Result<()>> + Send {
        async move { with_session!(self, |s| s.batch_execute(sql).await) }
    }
}

impl<E: Sealed + Sync + ?Sized> Executor for E {}

/// The private half of [`Executor`]: how to reach a connection. Outside this crate it can be
/// neither named nor implemented, which is what seals `Executor`.
mod impls;
mod sealed;

/// Rows arriving one at a time from [`Executor::query_stream`]. When it came from a pool it
/// holds the connection until the stream is dropped.
pub struct RowStream<'a> {
    inner: Pin<Box<tokio_postgres::RowStream>>,
    _conn: Option<crate::pool::Object>,
    _borrow: PhantomData<&'a ()>,
}

impl std::fmt::Debug for RowStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream").finish_non_exhaustive()
    }
}

impl RowStream<'_> {
    fn new(
        inner: tokio_postgres::RowStream,
        conn: Option<crate::pool::Object>,
    ) -> RowStream<'static> {
        RowStream {
            inner: Box::pin(inner),
            _conn: conn,
            _borrow: PhantomData,
        }
    }

    /// Rows affected, known once the stream has ended.
    pub fn rows_affected(&self) -> Option<u64> {
        self.inner.rows_affected()
    }
}

impl Stream for RowStream<'_> {
    type Item = Result<Row>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|r| r.map_err(crate::Error::from)))
    }
}
