//! Transactions run by the pool: a closure in a transaction with chosen isolation, committed
//! on `Ok`, rolled back on `Err`, and run again on serialization failures and deadlocks.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::time::Duration;

use super::{Conn, Pool, Transaction};
use crate::error::{Error, Result};

/// The future a [`Pool::transaction`] closure returns (box it: `Box::pin(async move { .. })`).
pub type TxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The isolation level of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// PostgreSQL's default.
    #[default]
    ReadCommitted,
    /// One snapshot for the whole transaction.
    RepeatableRead,
    /// As if the transactions ran one after another; conflicts fail with 40001, to be retried.
    Serializable,
}

/// How [`Pool::transaction`] runs: isolation, read-only, and how many attempts.
///
/// ```
/// use skelly_db::pool::{Isolation, TxOptions};
///
/// let options = TxOptions::new().isolation(Isolation::Serializable).max_attempts(5);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxOptions {
    isolation: Isolation,
    read_only: bool,
    max_attempts: u32,
}

impl Default for TxOptions {
    fn default() -> TxOptions {
        TxOptions {
            isolation: Isolation::ReadCommitted,
            read_only: false,
            max_attempts: 10,
        }
    }
}

impl TxOptions {
    /// Read committed, read-write, at most 10 attempts.
    pub fn new() -> TxOptions {
        TxOptions::default()
    }

    /// `SERIALIZABLE`, the common reason to retry.
    pub fn serializable() -> TxOptions {
        TxOptions::new().isolation(Isolation::Serializable)
    }

    /// The isolation level.
    pub fn isolation(mut self, isolation: Isolation) -> TxOptions {
        self.isolation = isolation;
        self
    }

    /// `READ ONLY`: writes fail (SQLSTATE 25006).
    pub fn read_only(mut self, read_only: bool) -> TxOptions {
        self.read_only = read_only;
        self
    }

    /// How many times the closure may run in all (at least 1; default 10).
    pub fn max_attempts(mut self, attempts: u32) -> TxOptions {
        self.max_attempts = attempts.max(1);
        self
    }
}

impl<'a> Transaction<'a> {
    pub(crate) async fn begin_with(
        conn: &'a mut Conn,
        options: &TxOptions,
    ) -> Result<Transaction<'a>> {
        let Conn {
            client,
            cache,
            peer,
            ..
        } = conn;
        let level = match options.isolation {
            Isolation::ReadCommitted => tokio_postgres::IsolationLevel::ReadCommitted,
            Isolation::RepeatableRead => tokio_postgres::IsolationLevel::RepeatableRead,
            Isolation::Serializable => tokio_postgres::IsolationLevel::Serializable,
        };
        let inner = client
            .build_transaction()
            .isolation_level(level)
            .read_only(options.read_only)
            .start()
            .await?;
        Ok(Transaction { inner, cache, peer })
    }
}

impl Pool {
    /// Runs `f` in a transaction on a pooled connection: commits when it returns `Ok`, rolls
    /// back when it returns `Err`. On a serialization failure (40001) or a deadlock (40P01) —
    /// from a statement or from the commit — the whole closure runs again on a fresh
    /// transaction after a short jittered back-off, up to `options.max_attempts` times in all;
    /// nothing else is retried. When the attempts run out the error is
    /// [`Error::Retried`] with the count and the last failure.
    ///
    /// The closure may run more than once: keep side effects outside the database out of it.
    ///
    /// ```no_run
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// use skelly_db::pool::TxOptions;
    /// use skelly_db::Executor;
    ///
    /// let balance: i64 = pool
    ///     .transaction(TxOptions::serializable(), |tx| {
    ///         Box::pin(async move {
    ///             tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1", &[]).await?;
    ///             let row = tx.query_one("SELECT balance FROM accounts WHERE id = 1", &[]).await?;
    ///             Ok(row.get(0))
    ///         })
    ///     })
    ///     .await?;
    /// # let _ = balance;
    /// # Ok(()) }
    /// ```
    pub async fn transaction<T, F>(&self, options: TxOptions, f: F) -> Result<T>
    where
        F: for<'t> FnMut(&'t Transaction<'t>) -> TxFuture<'t, T>,
    {
        let isolation = match options.isolation {
            Isolation::ReadCommitted => "read committed",
            Isolation::RepeatableRead => "repeatable read",
            Isolation::Serializable => "serializable",
        };
        let attempts = self.attempts(options, f);
        crate::trace::transaction(isolation, options.read_only, attempts).await
    }

    // The attempts of `transaction`, and how many were made.
    async fn attempts<T, F>(&self, options: TxOptions, mut f: F) -> (Result<T>, u32)
    where
        F: for<'t> FnMut(&'t Transaction<'t>) -> TxFuture<'t, T>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = async {
                let mut conn = self.get().await?;
                let tx = Transaction::begin_with(&mut conn.inner, &options).await?;
                match f(&tx).await {
                    Ok(value) => tx.commit().await.map(|()| value),
                    // Dropping the transaction rolls it back; the connection goes back too.
                    Err(e) => Err(e),
                }
            }
            .await;
            match outcome {
                Ok(value) => return (Ok(value), attempt),
                Err(e) if e.is_retryable() && attempt < options.max_attempts => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) if e.is_retryable() => {
                    let retried = Error::Retried {
                        attempts: attempt,
                        source: Box::new(e),
                    };
                    return (Err(retried), attempt);
                }
                Err(e) => return (Err(e), attempt),
            }
        }
    }
}

// 5 ms doubling to at most 320 ms, each wait a random fraction to full, so that the
// transactions that collided do not collide again in step.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 5u64 << attempt.min(6);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_millis(ceiling / 2 + random % (ceiling / 2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 1..20 {
            let wait = backoff(attempt);
            let ceiling = 5u64 << attempt.min(6);
            assert!(wait >= Duration::from_millis(ceiling / 2), "{wait:?}");
            assert!(wait <= Duration::from_millis(ceiling), "{wait:?}");
        }
    }
}
