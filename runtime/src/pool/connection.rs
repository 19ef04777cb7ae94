//! A pooled [`Connection`], a [`DetachedConnection`] outside any pool, and a [`Transaction`]
//! on either; each is an [`Executor`](crate::Executor).

use std::fmt;

use super::{Conn, Object, PoolConfig, StatementCache};
use crate::error::Result;

/// A connection checked out of a [`Pool`](crate::Pool); it goes back when dropped.
///
/// ```no_run
/// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
/// use skelly_db::Executor;
///
/// let mut conn = pool.get().await?;
/// let tx = conn.begin().await?;
/// tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1", &[]).await?;
/// tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 2", &[]).await?;
/// tx.commit().await?; // dropped without commit, it would roll back
/// # Ok(()) }
/// ```
pub struct Connection {
    pub(crate) inner: Object,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("closed", &self.inner.client.is_closed())
            .finish()
    }
}

impl Connection {
    /// Starts a transaction. It rolls back when dropped without [`Transaction::commit`].
    pub async fn begin(&mut self) -> Result<Transaction<'_>> {
        Transaction::begin(&mut self.inner).await
    }

    /// The underlying tokio-postgres client, for anything skelly-db does not wrap.
    pub fn client(&self) -> &tokio_postgres::Client {
        &self.inner.client
    }

    /// How many prepared statements this connection holds in its cache.
    pub fn cached_statements(&self) -> usize {
        self.inner.cache.len()
    }

    /// Takes the connection out of the pool for good: it is closed when dropped, and the pool
    /// opens another in its place.
    pub fn detach(self) -> DetachedConnection {
        DetachedConnection {
            inner: Object::take(self.inner),
        }
    }
}

/// A connection no longer owned by a pool (see [`Connection::detach`]); closed when dropped.
pub struct DetachedConnection {
    pub(crate) inner: Conn,
}

impl fmt::Debug for DetachedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetachedConnection")
            .field("closed", &self.inner.client.is_closed())
            .finish()
    }
}

impl DetachedConnection {
    /// Opens one connection outside any pool, with a statement cache of its own. TLS follows
    /// the configuration's `ssl_mode` (prefer by default), unverified; use
    /// [`DetachedConnection::connect_with`] for verified TLS.
    pub async fn connect(config: &tokio_postgres::Config) -> Result<DetachedConnection> {
        DetachedConnection::connect_with(&PoolConfig::from_pg_config(config.clone())).await
    }

    /// Opens one connection outside any pool with a pool's settings: TLS, connect timeout,
    /// statement cache size.
    pub async fn connect_with(config: &PoolConfig) -> Result<DetachedConnection> {
        let (pg, connector) = config.connect_parts()?;
        let peer = std::sync::Arc::new(crate::trace::Peer::new(&pg, config.slow_statement));
        Ok(DetachedConnection {
            inner: Conn::connect(&pg, connector, config.statement_cache_size, peer).await?,
        })
    }

    /// The underlying tokio-postgres client.
    pub fn client(&self) -> &tokio_postgres::Client {
        &self.inner.client
    }

    /// Starts a transaction. It rolls back when dropped without [`Transaction::commit`].
    pub async fn begin(&mut self) -> Result<Transaction<'_>> {
        Transaction::begin(&mut self.inner).await
    }
}

/// A transaction on a [`Connection`]; rolls back when dropped without [`Transaction::commit`].
pub struct Transaction<'a> {
    pub(crate) inner: tokio_postgres::Transaction<'a>,
    pub(crate) cache: &'a StatementCache,
    pub(crate) peer: &'a crate::trace::Peer,
}

impl fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction").finish_non_exhaustive()
    }
}

impl<'a> Transaction<'a> {
    async fn begin(conn: &'a mut Conn) -> Result<Transaction<'a>> {
        let Conn {
            client,
            cache,
            peer,
            ..
        } = conn;
        Ok(Transaction {
            inner: client.transaction().await?,
            cache,
            peer,
        })
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<()> {
        Ok(self.inner.commit().await?)
    }

    /// Rolls the transaction back.
    pub async fn rollback(self) -> Result<()> {
        Ok(self.inner.rollback().await?)
    }

    /// A nested transaction (a savepoint); rolls back to the savepoint when dropped.
    pub async fn savepoint(&mut self) -> Result<Transaction<'_>> {
        Ok(Transaction {
            inner: self.inner.transaction().await?,
            cache: self.cache,
            peer: self.peer,
        })
    }

    /// The underlying tokio-postgres client.
    pub fn client(&self) -> &tokio_postgres::Client {
        self.inner.client()
    }
}
