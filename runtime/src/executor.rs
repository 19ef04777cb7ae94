//! [`Executor`]: the one trait every runtime function takes, for a pool, a pooled connection,
//! a transaction or a plain tokio-postgres client.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use deadpool_postgres::StatementCache;
use futures_util::Stream;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use crate::error::{Error, Result};
use crate::pool::{Connection, DetachedConnection, Pool, Transaction};

/// A statement parameter, as tokio-postgres takes it.
pub type Param<'a> = &'a (dyn ToSql + Sync);

/// Something statements can run on: a [`Pool`] (each call checks out a connection), a pooled
/// [`Connection`], a [`Transaction`], a [`DetachedConnection`] or a plain
/// [`tokio_postgres::Client`].
///
/// Statements are prepared once per connection and cached, so a repeated statement costs one
/// round trip. The plain `tokio_postgres::Client` has no cache to keep them in and prepares
/// each time; use a pool or [`DetachedConnection`] where that matters.
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
pub trait Executor: Sync {
    /// Gives the connection statements run on; for a pool, a checkout.
    #[doc(hidden)]
    fn session(&self) -> impl Future<Output = Result<Session<'_>>> + Send;

    /// Runs a statement and collects its rows.
    fn query(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Vec<Row>>> + Send {
        async move {
            let session = self.session().await?;
            let client = session.client();
            session
                .run(sql, |stmt| async move { client.query(&stmt, params).await })
                .await
        }
    }

    /// Runs a statement that returns at most one row.
    fn query_opt(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Option<Row>>> + Send {
        async move {
            let session = self.session().await?;
            let client = session.client();
            session
                .run(
                    sql,
                    |stmt| async move { client.query_opt(&stmt, params).await },
                )
                .await
        }
    }

    /// Runs a statement that returns exactly one row; no row is [`Error::NotFound`] with an
    /// empty table name (the generated functions fill it in).
    fn query_one(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Row>> + Send {
        async move {
            self.query_opt(sql, params)
                .await?
                .ok_or_else(|| Error::NotFound {
                    table: String::new(),
                })
        }
    }

    /// Runs a statement and returns the number of rows it affected.
    fn execute(&self, sql: &str, params: &[Param<'_>]) -> impl Future<Output = Result<u64>> + Send {
        async move {
            let session = self.session().await?;
            let client = session.client();
            session
                .run(
                    sql,
                    |stmt| async move { client.execute(&stmt, params).await },
                )
                .await
        }
    }

    /// Runs a statement and returns its rows as a stream, decoded as they arrive.
    /// The statement and parameters are only read during the call; the stream borrows
    /// nothing but the executor.
    fn query_stream<'s>(
        &'s self,
        sql: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<RowStream<'s>>> + Send {
        async move {
            let session = self.session().await?;
            let client = session.client();
            let inner = session
                .run(sql, |stmt| async move {
                    client.query_raw(&stmt, params.iter().copied()).await
                })
                .await?;
            Ok(RowStream {
                inner: Box::pin(inner),
                _conn: session.into_owned(),
                _borrow: PhantomData,
            })
        }
    }

    /// Runs one or more statements separated by `;` with the simple protocol, without
    /// parameters or results (e.g. DDL).
    fn batch_execute(&self, sql: &str) -> impl Future<Output = Result<()>> + Send {
        async move {
            let session = self.session().await?;
            Ok(session.client().batch_execute(sql).await?)
        }
    }
}

/// The connection a statement runs on. Public only for the [`Executor`] trait.
#[doc(hidden)]
// Pooled is the large variant and the common one; boxing it would cost an allocation per call.
#[allow(clippy::large_enum_variant)]
pub enum Session<'a> {
    Borrowed {
        client: &'a Client,
        cache: Option<&'a StatementCache>,
        in_transaction: bool,
    },
    Pooled(deadpool_postgres::Object),
}

impl Session<'_> {
    pub(crate) fn in_transaction(&self) -> bool {
        matches!(
            self,
            Session::Borrowed {
                in_transaction: true,
                ..
            }
        )
    }

    pub(crate) fn client(&self) -> &Client {
        match self {
            Session::Borrowed { client, .. } => client,
            Session::Pooled(obj) => obj,
        }
    }

    async fn prepare(&self, sql: &str) -> Result<Statement> {
        let stmt = match self {
            Session::Borrowed {
                client,
                cache: Some(cache),
                ..
            } => cache.prepare(client, sql).await,
            Session::Borrowed {
                client,
                cache: None,
                ..
            } => client.prepare(sql).await,
            Session::Pooled(obj) => obj.statement_cache.prepare(obj, sql).await,
        };
        Ok(stmt?)
    }

    /// Runs `op` on the cached statement for `sql`. When the server says the cached plan no
    /// longer fits (a column changed type since it was prepared, e.g. by a migration), the
    /// statement is dropped from the cache and, outside a transaction, prepared again and run
    /// once more; inside one the error stands (the transaction is aborted), but the next
    /// attempt prepares afresh.
    async fn run<T, F, Fut>(&self, sql: &str, op: F) -> Result<T>
    where
        F: Fn(Statement) -> Fut,
        Fut: Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    {
        let stmt = self.prepare(sql).await?;
        match op(stmt).await {
            Err(e) if is_stale_plan(&e) => {
                self.forget(sql);
                if self.in_transaction() {
                    return Err(e.into());
                }
                let stmt = self.prepare(sql).await?;
                Ok(op(stmt).await?)
            }
            other => Ok(other?),
        }
    }

    fn forget(&self, sql: &str) {
        match self {
            Session::Borrowed {
                cache: Some(cache), ..
            } => drop(cache.remove(sql, &[])),
            Session::Pooled(obj) => drop(obj.statement_cache.remove(sql, &[])),
            Session::Borrowed { cache: None, .. } => {}
        }
    }

    fn into_owned(self) -> Option<deadpool_postgres::Object> {
        match self {
            Session::Pooled(obj) => Some(obj),
            Session::Borrowed { .. } => None,
        }
    }
}

impl Executor for Pool {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::Pooled(self.inner.get().await?))
    }
}

impl Executor for Connection {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::Borrowed {
            client: &self.inner,
            cache: Some(&self.inner.statement_cache),
            in_transaction: false,
        })
    }
}

impl Executor for DetachedConnection {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::Borrowed {
            client: &self.inner,
            cache: Some(&self.inner.statement_cache),
            in_transaction: false,
        })
    }
}

impl Executor for Transaction<'_> {
    async fn session(&self) -> Result<Session<'_>> {
        // Statements on the transaction's client run inside the transaction: it is server state.
        Ok(Session::Borrowed {
            client: self.inner.client(),
            cache: Some(&self.inner.statement_cache),
            in_transaction: true,
        })
    }
}

impl Executor for Client {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::Borrowed {
            client: self,
            cache: None,
            in_transaction: false,
        })
    }
}

impl<E: Executor + ?Sized> Executor for &E {
    fn session(&self) -> impl Future<Output = Result<Session<'_>>> + Send {
        (**self).session()
    }
}

fn is_stale_plan(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        *db.code() == tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED
            && db
                .message()
                .contains("cached plan must not change result type")
    })
}

/// Rows arriving one at a time from [`Executor::query_stream`]. When it came from a pool it
/// holds the connection until the stream is dropped.
pub struct RowStream<'a> {
    inner: Pin<Box<tokio_postgres::RowStream>>,
    _conn: Option<deadpool_postgres::Object>,
    _borrow: PhantomData<&'a ()>,
}

impl std::fmt::Debug for RowStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream").finish_non_exhaustive()
    }
}

impl RowStream<'_> {
    /// The driver's stream, for hot loops that convert errors only when one occurs.
    pub(crate) fn raw(&mut self) -> Pin<&mut tokio_postgres::RowStream> {
        self.inner.as_mut()
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
            .map(|item| item.map(|r| r.map_err(Error::from)))
    }
}
