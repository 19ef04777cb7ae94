//! How the pool makes and checks connections (a `deadpool::managed::Manager`): TLS through
//! the configured connector, a bounded statement cache per connection, and back-off while the
//! server is unreachable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use tokio::task::AbortHandle;
use tokio_postgres::Client;

use super::cache::StatementCache;
use super::target;
use crate::error::{Error, Result};

/// The first wait after a failed connect; it doubles with each failure in a row.
const BACKOFF_START: Duration = Duration::from_millis(50);
/// The longest wait between connect attempts while the server stays unreachable.
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// One pooled connection: the client, its statement cache, and the task that drives it.
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) cache: StatementCache,
    /// The server and database, for statement spans.
    pub(crate) peer: std::sync::Arc<crate::trace::Peer>,
    id: u64,
    task: AbortHandle,
    registry: Option<std::sync::Weak<Registry>>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("closed", &self.client.is_closed())
            .field("cached_statements", &self.cache.len())
            .finish()
    }
}

impl Conn {
    /// Connects with `config` and `connector`, outside any pool.
    pub(crate) async fn connect(
        pg: &tokio_postgres::Config,
        connector: super::tls::Connector,
        cache_size: usize,
        peer: std::sync::Arc<crate::trace::Peer>,
    ) -> Result<Conn> {
        let (client, connection) = pg
            .connect(connector)
            .await
            .map_err(|e| Error::connect_failed(&target(pg), e))?;
        let task = tokio::spawn(async move {
            // The error, if any, reaches the client as a closed connection.
            let _ = connection.await;
        });
        Ok(Conn {
            client,
            cache: StatementCache::new(cache_size),
            peer,
            id: 0,
            task: task.abort_handle(),
            registry: None,
        })
    }

    /// Leaves the pool's registry (the pool will not close it at its deadline any more).
    pub(crate) fn unregister(&mut self) {
        if let Some(registry) = self.registry.take().and_then(|r| r.upgrade()) {
            registry.remove(self.id);
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.unregister();
        // Dropping the client ends the connection; the task would end by itself soon after.
        self.task.abort();
    }
}

/// The driving tasks of every connection the pool made and still has out, so that
/// `Pool::close` can end the ones that do not come back by its deadline.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    tasks: Mutex<HashMap<u64, AbortHandle>>,
    /// What the pool's metrics count.
    pub(crate) counters: Counters,
}

impl Registry {
    fn add(&self, id: u64, task: AbortHandle) {
        self.lock().insert(id, task);
    }

    fn remove(&self, id: u64) {
        if self.lock().remove(&id).is_some() {
            self.counters.closed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Ends every registered connection (their clients then report a closed connection).
    pub(crate) fn abort_all(&self) -> usize {
        let tasks: Vec<AbortHandle> = self.lock().drain().map(|(_, t)| t).collect();
        let n = tasks.len() as u64;
        self.counters.closed.fetch_add(n, Ordering::Relaxed);
        for task in &tasks {
            task.abort();
        }
        tasks.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, AbortHandle>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What happened in the pool since it was built (the cumulative half of `PoolStatus`).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) attempts: AtomicU64,
    pub(crate) failures: AtomicU64,
    /// Connections opened, and closed or taken out of the pool (detached).
    pub(crate) opened: AtomicU64,
    pub(crate) closed: AtomicU64,
    /// Checkouts that succeeded, the time they waited in all, and the ones that timed out.
    pub(crate) checkouts: AtomicU64,
    pub(crate) checkout_wait_ns: AtomicU64,
    pub(crate) checkout_timeouts: AtomicU64,
}

pub(crate) struct Manager {
    pub(crate) pg: tokio_postgres::Config,
    pub(crate) connector: super::tls::Connector,
    pub(crate) cache_size: usize,
    /// How long one connection may take to be ready, startup and login included (the
    /// driver's own timeout covers only the TCP connect, so a host that accepts and never
    /// answers would hold every checkout).
    connect_timeout: Duration,
    peer: std::sync::Arc<crate::trace::Peer>,
    pub(crate) registry: std::sync::Arc<Registry>,
    next_id: AtomicU64,
    // While the server is unreachable: when the next attempt may go out, and the error to
    // give until then.
    backoff: Mutex<Option<Backoff>>,
}

struct Backoff {
    until: Instant,
    wait: Duration,
    error: String,
    kind: crate::error::ConnectionKind,
    /// The last failure was the connect timeout (a silent host): the fast failures are
    /// timeouts too.
    timed_out: bool,
    /// One attempt is probing the server after the window passed.
    probing: bool,
}

/// Clears the probing flag of a probe that was dropped before it knew (a checkout that timed
/// out), so that the next attempt may probe.
struct ProbeGuard<'m> {
    manager: &'m Manager,
}

impl ProbeGuard<'_> {
    fn defuse(self) {
        std::mem::forget(self);
    }
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.manager.backoff().as_mut() {
            b.probing = false;
        }
    }
}

impl Manager {
    pub(crate) fn new(
        pg: tokio_postgres::Config,
        connector: super::tls::Connector,
        cache_size: usize,
        slow: Option<Duration>,
        connect_timeout: Duration,
    ) -> Manager {
        Manager {
            connect_timeout,
            peer: std::sync::Arc::new(crate::trace::Peer::new(&pg, slow)),
            pg,
            connector,
            cache_size,
            registry: Default::default(),
            next_id: AtomicU64::new(1),
            backoff: Mutex::new(None),
        }
    }

    fn backoff(&self) -> std::sync::MutexGuard<'_, Option<Backoff>> {
        self.backoff.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl deadpool::managed::Manager for Manager {
    type Type = Conn;
    type Error = Error;

    async fn create(&self) -> Result<Conn> {
        // While backing off, fail at once with the last error instead of hammering a server
        // that is down (and every waiting checkout with it). When the window has passed, one
        // attempt probes the server; the others fail fast until it knows.
        let probe = {
            let mut backoff = self.backoff();
            match backoff.as_mut() {
                Some(b) => {
                    let now = Instant::now();
                    if now < b.until || b.probing {
                        let next = if b.probing {
                            "a probe connection is under way".to_string()
                        } else {
                            format!("next attempt in {} ms", (b.until - now).as_millis())
                        };
                        let message = format!("{} ({next})", b.error);
                        return Err(if b.timed_out {
                            Error::Timeout {
                                kind: crate::error::TimeoutKind::Connect,
                                message,
                                source: None,
                            }
                        } else {
                            Error::Connection {
                                kind: b.kind,
                                message,
                                source: None,
                            }
                        });
                    }
                    b.probing = true;
                    Some(ProbeGuard { manager: self })
                }
                None => None,
            }
        };
        self.registry
            .counters
            .attempts
            .fetch_add(1, Ordering::Relaxed);
        // A rustls connector is shared by reference count; without TLS it is `NoTls` (Copy).
        #[allow(clippy::clone_on_copy)]
        let connector = self.connector.clone();
        let connect = Conn::connect(&self.pg, connector, self.cache_size, self.peer.clone());
        let connected = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(connected) => connected,
            Err(_) => Err(Error::Timeout {
                kind: crate::error::TimeoutKind::Connect,
                message: format!(
                    "{}: no answer within the connect timeout ({} ms): the host accepts \
                     connections but the server does not respond",
                    super::target(&self.pg),
                    self.connect_timeout.as_millis()
                ),
                source: None,
            }),
        };
        // The outcome decides the back-off from here; the guard only covers a probe dropped
        // half way (a checkout that timed out).
        let probed = probe.is_some();
        if let Some(guard) = probe {
            guard.defuse();
        }
        match connected {
            Ok(mut conn) => {
                *self.backoff() = None;
                self.registry
                    .counters
                    .opened
                    .fetch_add(1, Ordering::Relaxed);
                conn.id = self.next_id.fetch_add(1, Ordering::Relaxed);
                self.registry.add(conn.id, conn.task.clone());
                conn.registry = Some(std::sync::Arc::downgrade(&self.registry));
                Ok(conn)
            }
            Err(e) => {
                self.registry
                    .counters
                    .failures
                    .fetch_add(1, Ordering::Relaxed);
                let mut backoff = self.backoff();
                // The server away, refusing or silent: what back-off is for.
                let away = match &e {
                    Error::Connection { kind, message, .. } => Some((*kind, message, false)),
                    Error::Timeout {
                        kind: crate::error::TimeoutKind::Connect,
                        message,
                        ..
                    } => Some((crate::error::ConnectionKind::Other, message, true)),
                    _ => None,
                };
                match (away, backoff.as_mut()) {
                    // The probe failed: the outage goes on, the window doubles.
                    (Some((kind, message, timed_out)), Some(b)) if probed => {
                        b.wait = (b.wait * 2).min(BACKOFF_MAX);
                        b.until = Instant::now() + b.wait;
                        b.error = message.clone();
                        b.kind = kind;
                        b.timed_out = timed_out;
                        b.probing = false;
                    }
                    // An attempt that started before the outage was noticed: the window set by
                    // the first failure stands (it grows per outage, not per failure).
                    (Some((_, message, _)), Some(b)) => b.error = message.clone(),
                    (Some((kind, message, timed_out)), None) => {
                        *backoff = Some(Backoff {
                            until: Instant::now() + BACKOFF_START,
                            wait: BACKOFF_START,
                            error: message.clone(),
                            kind,
                            timed_out,
                            probing: false,
                        });
                    }
                    // Not the server being away (a refused login, ...): no back-off.
                    (None, Some(b)) if probed => b.probing = false,
                    _ => {}
                }
                Err(e)
            }
        }
    }

    async fn recycle(&self, conn: &mut Conn, _: &Metrics) -> RecycleResult<Error> {
        // No round trip per checkout: a connection the server closed is discarded here, and
        // the pool opens a fresh one.
        if conn.client.is_closed() {
            return Err(RecycleError::message("the connection was closed"));
        }
        Ok(())
    }

    fn detach(&self, conn: &mut Conn) {
        conn.unregister();
    }
}
