//! The connection pool: deadpool-postgres over tokio-postgres, with finite timeouts.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use deadpool_postgres::{ManagerConfig, RecyclingMethod, Runtime};

use crate::error::{Error, Result};

/// Default for [`PoolConfig::max_size`].
pub const DEFAULT_MAX_SIZE: usize = 10;
/// Default for [`PoolConfig::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`PoolConfig::wait_timeout`].
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to build a [`Pool`]: the server, the pool size and the timeouts.
///
/// Every timeout is finite by default, so a full pool or an unreachable server ends in an
/// error instead of a hang.
///
/// ```
/// use std::time::Duration;
/// use skelly_db::PoolConfig;
///
/// let pool = PoolConfig::new("postgres://app@127.0.0.1:5432/app")?
///     .max_size(20)
///     .connect_timeout(Duration::from_secs(2))
///     .statement_timeout(Duration::from_secs(10))
///     .build()?; // no connection is made until the pool is used
/// # Ok::<(), skelly_db::Error>(())
/// ```
#[derive(Clone)]
pub struct PoolConfig {
    pg: tokio_postgres::Config,
    max_size: usize,
    connect_timeout: Duration,
    wait_timeout: Duration,
    statement_timeout: Option<Duration>,
}

impl fmt::Debug for PoolConfig {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolConfig")
            .field("hosts", &self.pg.get_hosts())
            .field("ports", &self.pg.get_ports())
            .field("user", &self.pg.get_user())
            .field("dbname", &self.pg.get_dbname())
            .field("max_size", &self.max_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("wait_timeout", &self.wait_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

impl PoolConfig {
    /// A configuration for the server at `url` (`postgres://user:password@host:port/db` or
    /// the `key=value` form), with the default size and timeouts.
    pub fn new(url: &str) -> Result<PoolConfig> {
        Ok(PoolConfig::from_pg_config(parse_url(
            "the connection string",
            url,
        )?))
    }

    /// A configuration from an already built tokio-postgres configuration.
    pub fn from_pg_config(pg: tokio_postgres::Config) -> PoolConfig {
        PoolConfig {
            pg,
            max_size: DEFAULT_MAX_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            statement_timeout: None,
        }
    }

    /// Reads `DATABASE_URL` (required) and the optional `DATABASE_POOL_MAX_SIZE`,
    /// `DATABASE_CONNECT_TIMEOUT_MS`, `DATABASE_POOL_WAIT_TIMEOUT_MS` and
    /// `DATABASE_STATEMENT_TIMEOUT_MS`. A missing or malformed variable is [`Error::Config`]
    /// naming it.
    pub fn from_env() -> Result<PoolConfig> {
        let url = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            Ok(_) => return Err(Error::Config("DATABASE_URL is set but empty".into())),
            Err(std::env::VarError::NotPresent) => return Err(Error::Config(
                "DATABASE_URL is not set; set it to postgres://user:password@host:port/database"
                    .into(),
            )),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::Config("DATABASE_URL is not valid UTF-8".into()))
            }
        };
        let mut config = PoolConfig::from_pg_config(parse_url("DATABASE_URL", &url)?);
        if let Some(n) = env_number("DATABASE_POOL_MAX_SIZE")? {
            if n == 0 {
                return Err(Error::Config(
                    "DATABASE_POOL_MAX_SIZE must be at least 1, got 0".into(),
                ));
            }
            config.max_size = n as usize;
        }
        if let Some(ms) = env_number("DATABASE_CONNECT_TIMEOUT_MS")? {
            config.connect_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = env_number("DATABASE_POOL_WAIT_TIMEOUT_MS")? {
            config.wait_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = env_number("DATABASE_STATEMENT_TIMEOUT_MS")? {
            config.statement_timeout = Some(Duration::from_millis(ms));
        }
        Ok(config)
    }

    /// The most connections the pool holds at once (default 10).
    pub fn max_size(mut self, max_size: usize) -> PoolConfig {
        self.max_size = max_size.max(1);
        self
    }

    /// How long establishing one connection may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> PoolConfig {
        self.connect_timeout = timeout;
        self
    }

    /// How long a checkout may wait for a free connection when the pool is full (default 30 s).
    pub fn wait_timeout(mut self, timeout: Duration) -> PoolConfig {
        self.wait_timeout = timeout;
        self
    }

    /// The server-side `statement_timeout` of every pooled connection (default: the server's).
    pub fn statement_timeout(mut self, timeout: Duration) -> PoolConfig {
        self.statement_timeout = Some(timeout);
        self
    }

    /// The tokio-postgres configuration the connections are made from.
    pub fn pg_config(&self) -> &tokio_postgres::Config {
        &self.pg
    }

    /// Builds the pool. No connection is made until the first checkout.
    pub fn build(self) -> Result<Pool> {
        if self.pg.get_hosts().is_empty() {
            return Err(Error::Config(
                "the connection string names no host; add one, e.g. postgres://user@127.0.0.1:5432/db"
                    .into(),
            ));
        }
        let mut pg = self.pg.clone();
        pg.connect_timeout(self.connect_timeout);
        if let Some(timeout) = self.statement_timeout {
            let mut options = pg.get_options().unwrap_or_default().to_string();
            if !options.is_empty() {
                options.push(' ');
            }
            options.push_str(&format!("-c statement_timeout={}", timeout.as_millis()));
            pg.options(&options);
        }
        let manager = deadpool_postgres::Manager::from_config(
            pg,
            tokio_postgres::NoTls,
            // Fast: a checkout costs no round trip; closed connections are still discarded.
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let inner = deadpool_postgres::Pool::builder(manager)
            .max_size(self.max_size)
            .wait_timeout(Some(self.wait_timeout))
            .create_timeout(Some(self.connect_timeout))
            .recycle_timeout(Some(self.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the pool: {e}")))?;
        Ok(Pool {
            inner,
            config: std::sync::Arc::new(self),
        })
    }
}

fn parse_url(what: &str, url: &str) -> Result<tokio_postgres::Config> {
    tokio_postgres::Config::from_str(url).map_err(|e| {
        let mut reason = e.to_string();
        if let Some(password) = password_in(url) {
            reason = reason.replace(password, "***");
        }
        Error::Config(format!(
            "{what} is not a valid PostgreSQL connection string ({reason}); expected \
             postgres://user:password@host:port/database"
        ))
    })
}

// The password of a `scheme://user:password@host` string, found without a full parse.
fn password_in(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.rsplit_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then_some(password)
}

fn env_number(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Config(format!("{name} is not valid UTF-8")))
        }
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Error::Config(format!("{name} must be a whole number, got `{v}`"))),
    }
}

/// A pool of PostgreSQL connections; cheap to clone, one per process.
///
/// Each connection caches its prepared statements, so a repeated statement costs one round
/// trip. A connection the server closed (restart, `pg_terminate_backend`) is discarded when it
/// comes back, and the pool opens a fresh one.
///
/// ```no_run
/// # async fn run() -> skelly_db::Result<()> {
/// use skelly_db::{Executor, Pool};
///
/// let pool = Pool::from_env()?;
/// let row = pool.query_opt("SELECT 1 + 1", &[]).await?.expect("one row");
/// assert_eq!(row.get::<_, i32>(0), 2);
/// pool.close().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pool {
    pub(crate) inner: deadpool_postgres::Pool,
    config: std::sync::Arc<PoolConfig>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .field("status", &self.status())
            .finish()
    }
}

/// Connection counts of a [`Pool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most connections the pool may hold.
    pub max_size: usize,
    /// Connections currently open (idle and in use).
    pub size: usize,
    /// Open connections that are idle.
    pub available: usize,
    /// Tasks waiting for a connection.
    pub waiting: usize,
}

/// The result of [`Pool::health`].
#[derive(Debug, Clone, Copy)]
pub struct Health {
    /// Checkout plus one `SELECT 1` round trip.
    pub latency: Duration,
    /// The pool's counts right after the check.
    pub status: PoolStatus,
}

impl Pool {
    /// A pool configured from the environment; see [`PoolConfig::from_env`].
    pub fn from_env() -> Result<Pool> {
        PoolConfig::from_env()?.build()
    }

    /// A pool with default settings for the server at `url`.
    pub fn connect(url: &str) -> Result<Pool> {
        PoolConfig::new(url)?.build()
    }

    /// The configuration this pool was built from.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Checks out a connection, waiting at most the wait timeout.
    pub async fn get(&self) -> Result<Connection> {
        Ok(Connection {
            inner: self.inner.get().await?,
        })
    }

    /// Connection counts: size, available, waiting.
    pub fn status(&self) -> PoolStatus {
        let s = self.inner.status();
        PoolStatus {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
            waiting: s.waiting,
        }
    }

    /// Checks out a connection and runs `SELECT 1`, returning the round-trip latency and the
    /// pool counts. When the server is down this fails within the connect timeout.
    pub async fn health(&self) -> Result<Health> {
        let start = Instant::now();
        let conn = self.get().await?;
        conn.inner.simple_query("SELECT 1").await?;
        let latency = start.elapsed();
        drop(conn);
        Ok(Health {
            latency,
            status: self.status(),
        })
    }

    /// Stops new checkouts (they fail with [`Error::Connection`]), closes idle connections,
    /// and waits until every checked-out connection has come back and been closed.
    pub async fn close(&self) {
        self.inner.close();
        while self.inner.status().size > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Whether [`Pool::close`] has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

/// A connection checked out of a [`Pool`]; it goes back when dropped.
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
    /// Opens one connection outside any pool, with a statement cache of its own.
    pub async fn connect(config: &tokio_postgres::Config) -> Result<DetachedConnection> {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_found_and_never_printed() {
        assert_eq!(password_in("postgres://u:s3cret@h/db"), Some("s3cret"));
        assert_eq!(password_in("postgres://u@h/db"), None);
        let err = PoolConfig::new("postgres://u:s3cret@h:notaport/db").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("not a valid PostgreSQL connection string"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
        let debug = format!("{:?}", PoolConfig::new("postgres://u:s3cret@h/db").unwrap());
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn a_url_without_host_is_a_config_error() {
        let err = PoolConfig::new("postgres:///db")
            .unwrap()
            .build()
            .unwrap_err();
        assert!(
            matches!(err, Error::Config(ref m) if m.contains("no host")),
            "{err}"
        );
    }
}
