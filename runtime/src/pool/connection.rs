//! A pooled [`Connection`], a [`DetachedConnection`] outside any pool, and a [`Transaction`]
//! on either; each is an [`Executor`](crate::Executor).

use std::fmt;

use super::PoolConfig;
use crate::error::Result;
use crate::executor::{Sealed, Session};

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
    pub(crate) inner: deadpool_postgres::Object,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("closed", &self.inner.is_closed())
            .finish()
    }
}

impl Connection {
    /// Starts a transaction. It rolls back when dropped without [`Transaction::commit`].
    pub async fn begin(&mut self) -> Result<Transaction<'_>> {
        Ok(Transaction {
            inner: self.inner.transaction().await?,
        })
    }

    /// The underlying tokio-postgres client, for anything skelly-db does not wrap.
    pub fn client(&self) -> &tokio_postgres::Client {
        &self.inner
    }

    /// How many prepared statements this connection holds in its cache.
    pub fn cached_statements(&self) -> usize {
        self.inner.statement_cache.size()
    }

    /// Takes the connection out of the pool for good: it is closed when dropped, and the pool
    /// opens another in its place.
    pub fn detach(self) -> DetachedConnection {
        DetachedConnection {
            inner: deadpool_postgres::Object::take(self.inner),
        }
    }
}

/// A connection no longer owned by a pool (see [`Connection::detach`]); closed when dropped.
pub struct DetachedConnection {
    pub(crate) inner: deadpool_postgres::ClientWrapper,
}

impl fmt::Debug for DetachedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetachedConnection")
            .field("closed", &self.inner.is_closed())
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

    /// Opens one connection outside any pool with a pool's settings: TLS, connect timeout.
    pub async fn connect_with(config: &PoolConfig) -> Result<DetachedConnection> {
        let (pg, connector) = config.connect_parts()?;
        let (client, connection) = pg
            .connect(connector)
            .await
            .map_err(|e| crate::Error::connect_failed(&super::target(&pg), e))?;
        let task = tokio::spawn(async move {
            // The error, if any, reaches the client as a closed connection.
            let _ = connection.await;
        });
        Ok(DetachedConnection {
            inner: deadpool_postgres::ClientWrapper::new(client, task),
        })
    }

    /// The underlying tokio-postgres client.
    pub fn client(&self) -> &tokio_postgres::Client {
        &self.inner
    }
}

/// A transaction on a [`Connection`]; rolls back when dropped without [`Transaction::commit`].
pub struct Transaction<'a> {
    pub(crate) inner: deadpool_postgres::Transaction<'a>,
}

impl fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction").finish_non_exhaustive()
    }
}

impl Transaction<'_> {
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
        })
    }

    /// The underlying tokio-postgres client.
    pub fn client(&self) -> &tokio_postgres::Client {
        self.inner.client()
    }
}

impl Sealed for Connection {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::borrowed(
            &self.inner,
            Some(&self.inner.statement_cache),
            false,
        ))
    }
}

impl Sealed for DetachedConnection {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::borrowed(
            &self.inner,
            Some(&self.inner.statement_cache),
            false,
        ))
    }
}

impl Sealed for Transaction<'_> {
    async fn session(&self) -> Result<Session<'_>> {
        // Statements on the transaction's client run inside the transaction: it is server state.
        Ok(Session::borrowed(
            self.inner.client(),
            Some(&self.inner.statement_cache),
            true,
        ))
    }
}
