//! Read replicas: one pool per replica, and [`Replica`], the executor that spreads reads over
//! the replicas that answer and falls back to the primary when none does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Object, Pool, PoolStatus};
use crate::error::Result;

/// The replicas' pools of a primary pool, and whose turn it is.
#[derive(Debug, Default)]
pub(crate) struct Replicas {
    pub(crate) pools: Vec<Pool>,
    next: AtomicUsize,
}

impl Replicas {
    pub(crate) fn new(pools: Vec<Pool>) -> Replicas {
        Replicas {
            pools,
            next: AtomicUsize::new(0),
        }
    }
}

/// An [`Executor`](crate::Executor) for reads on the read replicas of a [`Pool`] (from
/// [`Pool::replica`]): each call checks out a connection from the next replica in turn,
/// skips a replica that does not answer (within the connect timeout, then at once while its
/// pool backs off), and runs on the primary when no replica answers, or when none is
/// configured. Replicas are read-only and may lag behind the primary: writes, transactions
/// and reads that must see a write just made go to the pool itself.
///
/// ```no_run
/// # async fn run() -> skelly_db::Result<()> {
/// use skelly_db::{Executor, PoolConfig};
///
/// let pool = PoolConfig::new("postgres://app@primary:5432/app")?
///     .replica("postgres://app@replica-1:5432/app")
///     .replica("postgres://app@replica-2:5432/app")
///     .build()?;
/// let reads = pool.replica(); // cheap to clone; keep one around
/// let row = reads.query_one("SELECT pg_is_in_recovery()", &[]).await?;
/// let on_replica: bool = row.get(0); // false only when every replica was down
/// # let _ = on_replica;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Replica {
    primary: Pool,
}

impl Pool {
    /// An executor for reads spread over the replicas (see [`Replica`]); the primary when
    /// there are none.
    pub fn replica(&self) -> Replica {
        Replica {
            primary: self.clone(),
        }
    }

    /// Each replica's pool, in the order configured (empty without replicas). For reads that
    /// must go to one replica, and for its status.
    pub fn replicas(&self) -> &[Pool] {
        &self.replicas.pools
    }
}

impl Replica {
    /// The primary's pool this executor falls back to.
    pub fn primary(&self) -> &Pool {
        &self.primary
    }

    /// A connection from the next replica that answers, or from the primary.
    pub(crate) async fn checkout(&self) -> Result<Object> {
        let replicas = &self.primary.replicas;
        let n = replicas.pools.len();
        if n > 0 {
            let start = replicas.next.fetch_add(1, Ordering::Relaxed);
            for i in 0..n {
                let pool = &replicas.pools[(start + i) % n];
                match pool.checkout().await {
                    Ok(object) => return Ok(object),
                    Err(_error) => {
                        #[cfg(feature = "tracing")]
                        tracing::debug!(
                            target: "skelly_db::pool",
                            replica = %pool.target(),
                            error = %_error,
                            "replica unavailable, trying the next"
                        );
                    }
                }
            }
        }
        self.primary.checkout().await
    }
}

/// One replica in [`Health`](super::Health): whether it answered, how far behind it is, its
/// pool's counts.
#[derive(Debug, Clone)]
pub struct ReplicaHealth {
    /// `host:port` of the replica.
    pub target: String,
    /// Checkout plus the status query; `None` when the replica did not answer.
    pub latency: Option<Duration>,
    /// `now() - pg_last_xact_replay_timestamp()`: how long ago the last transaction it
    /// replayed committed on the primary. It grows while the primary is idle, so read it
    /// together with [`ReplicaHealth::caught_up`]. `None` when it did not answer or has
    /// replayed nothing yet.
    pub replay_lag: Option<Duration>,
    /// Whether it has replayed all the WAL it received.
    pub caught_up: Option<bool>,
    /// `pg_is_in_recovery()`: `Some(false)` means the server is no replica (promoted, or
    /// misconfigured).
    pub in_recovery: Option<bool>,
    /// Why it did not answer.
    pub error: Option<String>,
    /// Its pool's counts.
    pub status: PoolStatus,
}

const REPLICA_STATUS: &str = "SELECT pg_is_in_recovery(), \
     (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000000)::int8, \
     pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()";

impl Pool {
    pub(crate) async fn replica_health(&self) -> Vec<ReplicaHealth> {
        futures_util::future::join_all(self.replicas.pools.iter().map(check)).await
    }
}

async fn check(pool: &Pool) -> ReplicaHealth {
    let start = Instant::now();
    let answer = async {
        let conn = pool.checkout().await?;
        Ok::<_, crate::Error>(conn.client.query_one(REPLICA_STATUS, &[]).await?)
    }
    .await;
    let mut health = ReplicaHealth {
        target: pool.target(),
        latency: None,
        replay_lag: None,
        caught_up: None,
        in_recovery: None,
        error: None,
        status: pool.status(),
    };
    match answer {
        Ok(row) => {
            health.latency = Some(start.elapsed());
            health.in_recovery = row.get(0);
            health.replay_lag = row
                .get::<_, Option<i64>>(1)
                .map(|us| Duration::from_micros(us.max(0) as u64));
            health.caught_up = row.get(2);
        }
        Err(e) => health.error = Some(e.to_string()),
    }
    health
}
