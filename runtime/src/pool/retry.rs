//! Transactions run by the pool: a closure in a transaction with chosen isolation, committed
//! on `Ok`, rolled back on `Err`, and run again on serialization failures and deadlocks.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::time::Duration;

use super::{Conn, Pool, Transaction};
use crate::error::{Error, Result};

/// The future a [`Pool::transaction`] closure returns (box it: `Box::pin(async move { .. })`),
/// with the closure's error type `E`: `skelly_db::Error` or the application's own.
pub type TxFuture<'a, T, E = Error> =
    Pin<Box<dyn Future<Output = std::result::Result<T, E>> + Send + 'a>>;

tokio::task_local! {
    // While a transaction closure runs: the last database failure it met (its code, and
    // whether it is a serialization failure or a deadlock), whatever error type the closure
    // turned it into.
    static FAILURE: std::cell::Cell<Option<(&'static str, bool)>>;
}

/// Called for every error made from a server's answer: inside a transaction closure, notes it.
pub(crate) fn note_failure(error: &Error) {
    let _ = FAILURE.try_with(|f| f.set(Some((error.code(), error.is_retryable()))));
}

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
    /// The closure's error type is yours: any `E: From<skelly_db::Error>` (name it once, e.g.
    /// `Ok::<_, AppError>(..)`). A domain check that returns `Err(AppError::..)` rolls the
    /// transaction back and comes back as that error. Retrying still looks only at what the
    /// database said: an `E` made from a serialization failure or deadlock met during the
    /// attempt runs the closure again (the last such `E` is returned when the attempts run out),
    /// any other `E` is returned at once. Out of attempts, a `skelly_db::Error` closure error
    /// becomes [`Error::Retried`]; an application error is returned as the closure gave it.
    ///
    /// The closure is `FnMut` and may run more than once: it borrows or clones what it captures
    /// for each attempt (`let name = name.clone();` before `async move`), and side effects
    /// outside the database belong after the call, not in it.
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
    ///             Ok::<_, skelly_db::Error>(row.get(0))
    ///         })
    ///     })
    ///     .await?;
    /// # let _ = balance;
    /// # Ok(()) }
    /// ```
    ///
    /// With the application's error, a domain check rolls back:
    ///
    /// ```no_run
    /// # async fn run(pool: skelly_db::Pool) {
    /// use skelly_db::pool::TxOptions;
    /// use skelly_db::Executor;
    ///
    /// #[derive(Debug)]
    /// enum AppError {
    ///     Overdrawn,
    ///     Db(skelly_db::Error),
    /// }
    /// impl From<skelly_db::Error> for AppError {
    ///     fn from(e: skelly_db::Error) -> Self {
    ///         AppError::Db(e)
    ///     }
    /// }
    ///
    /// let amount = 10_i64;
    /// let result = pool
    ///     .transaction(TxOptions::serializable(), |tx| {
    ///         Box::pin(async move {
    ///             let row = tx
    ///                 .query_one("UPDATE accounts SET balance = balance - $1 WHERE id = 1 RETURNING balance", &[&amount])
    ///                 .await?;
    ///             if row.get::<_, i64>(0) < 0 {
    ///                 return Err(AppError::Overdrawn); // rolled back
    ///             }
    ///             Ok(())
    ///         })
    ///     })
    ///     .await;
    /// # let _ = result;
    /// # }
    /// ```
    pub async fn transaction<T, E, F>(&self, options: TxOptions, f: F) -> std::result::Result<T, E>
    where
        E: From<Error> + 'static,
        F: for<'t> FnMut(&'t Transaction<'t>) -> TxFuture<'t, T, E>,
    {
        let isolation = match options.isolation {
            Isolation::ReadCommitted => "read committed",
            Isolation::RepeatableRead => "repeatable read",
            Isolation::Serializable => "serializable",
        };
        let attempts = self.attempts(options, f);
        crate::trace::transaction(isolation, options.read_only, attempts).await
    }

    // The attempts of `transaction`: the outcome, how many were made, and the error's code.
    async fn attempts<T, E, F>(
        &self,
        options: TxOptions,
        mut f: F,
    ) -> (std::result::Result<T, E>, u32, Option<&'static str>)
    where
        E: From<Error> + 'static,
        F: for<'t> FnMut(&'t Transaction<'t>) -> TxFuture<'t, T, E>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome: Attempt<T, E> = async {
                let mut conn = match self.get().await {
                    Ok(conn) => conn,
                    Err(e) => return Attempt::Database(e),
                };
                let tx = match Transaction::begin_with(&mut conn.inner, &options).await {
                    Ok(tx) => tx,
                    Err(e) => return Attempt::Database(e),
                };
                let run = async {
                    let result = f(&tx).await;
                    (result, FAILURE.with(std::cell::Cell::get))
                };
                match FAILURE.scope(std::cell::Cell::new(None), run).await {
                    (Ok(value), _) => match tx.commit().await {
                        Ok(()) => Attempt::Done(value),
                        Err(e) => Attempt::Database(e),
                    },
                    // Dropping the transaction rolls it back; the connection goes back too.
                    (Err(e), failure) => Attempt::Closure(e, failure),
                }
            }
            .await;
            let left = attempt < options.max_attempts;
            match outcome {
                Attempt::Done(value) => return (Ok(value), attempt, None),
                Attempt::Database(e) if e.is_retryable() && left => {}
                Attempt::Closure(_, Some((_, true))) if left => {}
                Attempt::Database(e) if e.is_retryable() => {
                    let retried = Error::Retried {
                        attempts: attempt,
                        source: Box::new(e),
                    };
                    let code = retried.code();
                    return (Err(retried.into()), attempt, Some(code));
                }
                Attempt::Database(e) => {
                    let code = e.code();
                    return (Err(e.into()), attempt, Some(code));
                }
                // The closure's own error: a database failure it passed on keeps its code.
                Attempt::Closure(e, failure) => {
                    let code = failure.map_or("application", |(code, _)| code);
                    let e = match failure {
                        Some((_, true)) => retried(e, attempt),
                        _ => e,
                    };
                    return (Err(e), attempt, Some(code));
                }
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
}

// Out of attempts on a retryable failure the closure passed on: `Error::Retried` when the
// closure's error type is skelly-db's own, the application's last error otherwise.
fn retried<E: 'static>(e: E, attempts: u32) -> E {
    let mut slot = Some(e);
    if let Some(own) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Error>>() {
        if let Some(source) = own.take() {
            *own = Some(Error::Retried {
                attempts,
                source: Box::new(source),
            });
        }
    }
    slot.expect("put back above")
}

/// How one attempt of a transaction ended.
enum Attempt<T, E> {
    Done(T),
    /// Connecting, beginning or committing failed.
    Database(Error),
    /// The closure returned its error, with the last database failure it met.
    Closure(E, Option<(&'static str, bool)>),
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
