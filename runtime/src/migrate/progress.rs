//! What a running [`Migrator`](super::Migrator) reports as it goes: each migration's start and
//! end, and waiting for another runner's lock (with who holds it, when the server says).

use std::fmt;
use std::sync::Arc;

use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::{Applied, Direction};

/// One event of a migration run, given to the callback of
/// [`Migrator::on_progress`](super::Migrator::on_progress) as it happens, so that what was
/// committed is known even when a later migration fails.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// A migration starts (its lock is taken).
    Started {
        /// The migration's identity.
        id: String,
        /// Up or down.
        direction: Direction,
    },
    /// A migration is done and recorded (committed, for one in a transaction).
    Finished(Applied),
    /// Another runner holds the migration lock; this one polls until the lock timeout.
    WaitingForLock {
        /// Who holds it (`pid 4242, application "deploy", from 10.0.0.7, since 12:00:01
        /// UTC`), when `pg_locks` and `pg_stat_activity` show it to this role.
        holder: Option<String>,
    },
    /// Another runner is applying this notransaction migration (its claim is in the history
    /// and its heartbeat is fresh); this one waits until it is done, or until the claim goes
    /// stale (the runner died: then the failed migration's error), or the lock timeout.
    WaitingForRunner {
        /// The migration.
        id: String,
        /// Who runs it: host, process id and runner id (`build-7 pid 4242 (runner 3f2a9c1d)`).
        runner: Option<String>,
    },
}

/// The callback, shareable and printable (for `Migrator`'s `Debug`).
#[derive(Clone)]
pub(crate) struct ProgressFn(pub(crate) Arc<dyn Fn(&Progress) + Send + Sync>);

impl fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressFn")
    }
}

/// The session holding the transaction-level advisory lock `key`, described for an operator;
/// `None` when it cannot be seen (another role's session, without `pg_read_all_stats`) or is
/// gone already.
pub(crate) async fn lock_holder(client: &Client, key: i64) -> Option<String> {
    // An int8 advisory lock shows as classid = high 32 bits, objid = low 32 bits, objsubid 1.
    let classid = (key >> 32) as u32;
    let objid = key as u32;
    let row = client
        .query_typed_opt(
            "SELECT a.pid, coalesce(a.application_name, ''), \
                    coalesce(host(a.client_addr), 'a local socket'), \
                    to_char(a.xact_start AT TIME ZONE 'UTC', 'HH24:MI:SS') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1",
            &[(&classid, Type::OID), (&objid, Type::OID)],
        )
        .await
        .ok()??;
    let pid: i32 = row.try_get(0).ok()?;
    let application: String = row.try_get(1).ok()?;
    let from: String = row.try_get(2).ok()?;
    let since: Option<String> = row.try_get(3).ok()?;
    let mut holder = format!("pid {pid}");
    if !application.is_empty() {
        holder.push_str(&format!(", application \"{application}\""));
    }
    holder.push_str(&format!(", from {from}"));
    if let Some(since) = since {
        holder.push_str(&format!(", since {since} UTC"));
    }
    Some(holder)
}
