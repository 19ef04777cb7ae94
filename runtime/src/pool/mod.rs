//! The connection pool: deadpool over tokio-postgres, with TLS, a bounded statement cache per
//! connection, finite timeouts and back-off while the server is down.

mod cache;
mod config;
mod connection;
mod libpq;
mod manager;
mod metrics;
mod replica;
mod retry;
mod tls;

pub use cache::DEFAULT_STATEMENT_CACHE_SIZE;
pub(crate) use cache::{server_type, StatementCache};
pub use config::{
    PoolConfig, DEFAULT_CLOSE_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_SIZE,
    DEFAULT_SLOW_STATEMENT, DEFAULT_WAIT_TIMEOUT,
};
pub use connection::{Connection, DetachedConnection, Transaction};
pub(crate) use manager::Conn;
pub use metrics::{PoolMetrics, ReplicaMetrics};
pub use replica::{Replica, ReplicaHealth};
pub(crate) use retry::note_failure;
pub use retry::{Isolation, TxFuture, TxOptions};
pub use tls::{RootCert, SslMode};

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::error::Result;

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
    pub(crate) inner: deadpool::managed::Pool<manager::Manager>,
    pub(crate) config: std::sync::Arc<PoolConfig>,
    registry: std::sync::Arc<manager::Registry>,
    replicas: std::sync::Arc<replica::Replicas>,
}

/// A connection checked out of the pool.
pub(crate) type Object = deadpool::managed::Object<manager::Manager>;

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .field("status", &self.status())
            .finish()
    }
}

/// Connection counts of a [`Pool`] now, and what it did since it was built.
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
    /// Connections the pool tried to open since it was built (attempts skipped while backing
    /// off from an unreachable server are not counted).
    pub connect_attempts: u64,
    /// Of those, the ones that failed.
    pub connect_failures: u64,
    /// Connections opened since the pool was built.
    pub connections_opened: u64,
    /// Connections closed since the pool was built (the server closed them, the pool was
    /// closed, or they were detached from it).
    pub connections_closed: u64,
    /// Checkouts that got a connection.
    pub checkouts: u64,
    /// The time those checkouts waited, in all (divide by `checkouts` for the mean).
    pub checkout_wait: Duration,
    /// Checkouts that found the pool full for the whole wait timeout.
    pub checkout_timeouts: u64,
}

/// The result of [`Pool::health`].
#[derive(Debug, Clone)]
pub struct Health {
    /// Checkout plus one `SELECT 1` round trip on the primary.
    pub latency: Duration,
    /// The primary pool's counts right after the check.
    pub status: PoolStatus,
    /// Each replica, in the order configured: whether it answered and how far behind it is.
    pub replicas: Vec<ReplicaHealth>,
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
            inner: self.checkout().await?,
        })
    }

    /// Connection counts (size, available, waiting) and cumulative counters (connections
    /// opened and closed, checkouts, their wait, timeouts) of this pool; the replicas' are in
    /// [`Pool::metrics`].
    pub fn status(&self) -> PoolStatus {
        let s = self.inner.status();
        let c = &self.registry.counters;
        PoolStatus {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
            waiting: s.waiting,
            connect_attempts: c.attempts.load(Ordering::Relaxed),
            connect_failures: c.failures.load(Ordering::Relaxed),
            connections_opened: c.opened.load(Ordering::Relaxed),
            connections_closed: c.closed.load(Ordering::Relaxed),
            checkouts: c.checkouts.load(Ordering::Relaxed),
            checkout_wait: Duration::from_nanos(c.checkout_wait_ns.load(Ordering::Relaxed)),
            checkout_timeouts: c.checkout_timeouts.load(Ordering::Relaxed),
        }
    }

    /// Checks out a connection and runs `SELECT 1` on the primary, returning the round-trip
    /// latency and the pool counts, and checks every replica (concurrently): whether it
    /// answers, and its replay lag. When the primary is down this fails within the connect
    /// timeout; a replica that is down is reported in [`Health::replicas`].
    pub async fn health(&self) -> Result<Health> {
        let start = Instant::now();
        let conn = self.get().await?;
        conn.inner.client.simple_query("SELECT 1").await?;
        let latency = start.elapsed();
        drop(conn);
        Ok(Health {
            latency,
            status: self.status(),
            replicas: self.replica_health().await,
        })
    }

    /// Stops new checkouts (they fail with [`Error::Connection`](crate::Error::Connection)),
    /// closes idle connections, and waits until every checked-out connection has come back and
    /// been closed, or until the close timeout ([`PoolConfig::close_timeout`], 30 s by
    /// default): then the connections still out are closed under their users.
    pub async fn close(&self) {
        // The primary and every replica refuse checkouts at once, then drain together within
        // one close_timeout.
        let pools: Vec<&Pool> = std::iter::once(self)
            .chain(self.replicas.pools.iter())
            .collect();
        for pool in &pools {
            pool.inner.close();
        }
        let deadline = Instant::now() + self.config.close_timeout;
        loop {
            let busy: Vec<&&Pool> = pools.iter().filter(|p| p.inner.status().size > 0).collect();
            if busy.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                // Stragglers: their connections end now, their statements fail as closed,
                // and the closed pool drops them when they come back.
                for pool in busy {
                    pool.registry.abort_all();
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Whether [`Pool::close`] has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl Pool {
    fn with_manager(
        config: PoolConfig,
        manager: manager::Manager,
        replicas: Vec<Pool>,
    ) -> Result<Pool> {
        let registry = manager.registry.clone();
        let inner = deadpool::managed::Pool::builder(manager)
            .max_size(config.max_size)
            .wait_timeout(Some(config.wait_timeout))
            // The manager bounds each connect itself (startup and login included), so that a
            // silent host is reported by name and backed off; this is only a backstop.
            .create_timeout(Some(config.connect_timeout + Duration::from_secs(1)))
            .recycle_timeout(Some(config.connect_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| crate::Error::Config(format!("cannot build the pool: {e}")))?;
        Ok(Pool {
            inner,
            config: std::sync::Arc::new(config),
            registry,
            replicas: std::sync::Arc::new(replica::Replicas::new(replicas)),
        })
    }

    // A checkout, counted; a failure to open a new connection names the server.
    async fn checkout_counted(&self) -> Result<Object> {
        let start = Instant::now();
        let got = self.inner.get().await;
        let c = &self.registry.counters;
        match &got {
            Ok(_) => {
                c.checkouts.fetch_add(1, Ordering::Relaxed);
                let waited = start.elapsed().as_nanos().min(u64::MAX as u128) as u64;
                c.checkout_wait_ns.fetch_add(waited, Ordering::Relaxed);
            }
            Err(deadpool::managed::PoolError::Timeout(deadpool::managed::TimeoutType::Wait)) => {
                c.checkout_timeouts.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
        Ok(got?)
    }

    // A checkout inside its tracing span.
    pub(crate) async fn checkout(&self) -> Result<Object> {
        // One await of the (large) checkout future, whether traced or not.
        let span = crate::trace::checkout_span(|| self.target());
        let got = self.checkout_counted().await;
        if let Some(span) = span {
            crate::trace::checkout_done(span, &got);
        }
        got
    }

    /// `host:port` of the server (the first, for a multi-host connection string).
    pub(crate) fn target(&self) -> String {
        target(self.config.pg_config())
    }
}

/// `host:port` of every host in `config`, comma-separated (what error messages name).
pub(crate) fn target(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                tokio_postgres::config::Host::Unix(dir) => {
                    format!("{}/.s.PGSQL.{port}", dir.display())
                }
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}
