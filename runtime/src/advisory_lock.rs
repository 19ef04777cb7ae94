//! PostgreSQL advisory locks, taken by polling: session-level for the test support's template
//! builder (a direct connection), transaction-level for the migration runner (it must hold
//! behind transaction-mode poolers, where a session lock lands on whichever server connection
//! the pooler picks, and may never be released).

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::error::Result;

/// How often a waiting runner asks again.
const POLL: Duration = Duration::from_millis(50);

/// Takes the session-level advisory lock `key`, polling `pg_try_advisory_lock` until
/// `timeout`; false when it timed out. Polling, not a blocking wait: a waiting
/// `pg_advisory_lock` is an open transaction that a notransaction `CREATE INDEX CONCURRENTLY`
/// in the lock holder would wait for forever.
pub(crate) async fn lock(client: &Client, key: i64, timeout: Duration) -> Result<bool> {
    let start = Instant::now();
    loop {
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?;
        if row.try_get::<_, bool>(0)? {
            return Ok(true);
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Releases the session-level advisory lock `key`.
pub(crate) async fn unlock(client: &Client, key: i64) -> Result<()> {
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await?;
    Ok(())
}

/// Tries the transaction-level advisory lock `key` once, inside the caller's transaction; it is
/// released at COMMIT or ROLLBACK. Sent as the unnamed statement, so it works behind poolers.
pub(crate) async fn try_xact(client: &Client, key: i64) -> Result<bool> {
    let row = client
        .query_typed_one(
            "SELECT pg_try_advisory_xact_lock($1)",
            &[(&key, tokio_postgres::types::Type::INT8)],
        )
        .await?;
    Ok(row.try_get::<_, bool>(0)?)
}
