//! Template databases: one per migration set, built once and cloned for each test, held by a
//! lease for as long as a process uses it and dropped when the last process that used it ends.
//!
//! A lease is a shared advisory lock on the template's OID, taken on a connection this process
//! keeps open on a runtime of its own (a test's runtime ends with the test; the lease must not).
//! When the process ends normally, an `atexit` hook releases its leases and drops each template
//! nobody else holds. When it is killed, the server ends its connection and so its leases; the
//! next template build drops every template that nobody holds (and any half-built one).

use std::sync::OnceLock;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::migrate::Migrator;
use crate::pool::DetachedConnection;
use crate::sql::quote_ident;

use super::Server;

/// Serialises building, leasing and dropping templates across processes (session-level, on the
/// admin connection).
const TEMPLATE_LOCK_KEY: i64 = 0x736b_656c_6c79_7470; // "skellytp"
/// The first key of a lease (the template's OID is the second): `pg_advisory_lock_shared(int,
/// int)`, which shares no key space with the one-`bigint` locks.
const LEASE_KEY: i32 = 0x736b_7470; // "sktp"
/// How long a build waits for another process's build of the same template.
const BUILD_WAIT: Duration = Duration::from_secs(300);
/// How long the exit hook waits for the template lock before leaving the templates to the next
/// build's cleanup.
const EXIT_WAIT: Duration = Duration::from_secs(10);

/// The template for `migrator` on the server of `server`, built if missing, leased by this
/// process; templates nobody holds any more are dropped on the way.
pub(super) async fn lease(
    server: &Server,
    admin: &DetachedConnection,
    migrator: &Migrator,
) -> Result<String> {
    let name = format!("skelly_tpl_{}", &migrator.fingerprint()[..24]);
    if !crate::advisory_lock::lock(admin.client(), TEMPLATE_LOCK_KEY, BUILD_WAIT).await? {
        return Err(Error::Config(format!(
            "another test process has been building template database {name} for more than \
             {BUILD_WAIT:?}"
        )));
    }
    let leased = async {
        drop_unheld(admin, &name).await;
        build(server, admin, migrator, &name).await?;
        keeper()?.hold(server, &name).await
    }
    .await;
    crate::advisory_lock::unlock(admin.client(), TEMPLATE_LOCK_KEY).await?;
    leased.map(|()| name)
}

/// Builds template `name` unless it exists: under a temporary name, renamed when complete, so a
/// crash never leaves a half-migrated template behind under the real name.
async fn build(
    server: &Server,
    admin: &DetachedConnection,
    migrator: &Migrator,
    name: &str,
) -> Result<()> {
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if exists {
        return Ok(());
    }
    let building = format!("{name}_building");
    let building_ident = quote_ident(&building);
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {building_ident} WITH (FORCE)"
        ))
        .await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {building_ident}"))
        .await?;
    {
        let conn = DetachedConnection::connect_with(&server.config.with_dbname(&building)).await?;
        migrator.up(&conn).await?;
    }
    // Closed client sockets may still be seen by the server for a moment; rename needs none.
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&building],
        )
        .await?;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {building_ident} RENAME TO {}",
            quote_ident(name)
        ))
        .await?;
    Ok(())
}

/// Drops every template but `keep` that no process holds a lease on and nobody is connected
/// to, and every half-built one (the caller holds the template lock, so nobody is building).
/// Best effort: a template that cannot be dropped now is tried again by the next build.
async fn drop_unheld(admin: &DetachedConnection, keep: &str) {
    let Ok(rows) = admin
        .query(
            "SELECT d.datname::text, d.oid::int4 FROM pg_database d \
             WHERE d.datname LIKE 'skelly\\_tpl\\_%' AND d.datname <> $1 \
               AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)",
            &[&keep],
        )
        .await
    else {
        return;
    };
    for row in rows {
        let (name, oid): (String, i32) = (row.get(0), row.get(1));
        if name.ends_with("_building") {
            let _ = drop_database(admin, &name).await;
            continue;
        }
        let _ = drop_if_unheld(admin, &name, oid).await;
    }
}

/// Drops template `name` (OID `oid`) if no process holds a lease on it.
async fn drop_if_unheld(admin: &DetachedConnection, name: &str, oid: i32) -> Result<bool> {
    let free: bool = admin
        .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LEASE_KEY, &oid])
        .await?
        .get(0);
    if !free {
        return Ok(false);
    }
    let dropped = drop_database(admin, name).await;
    admin
        .execute("SELECT pg_advisory_unlock($1, $2)", &[&LEASE_KEY, &oid])
        .await?;
    dropped.map(|()| true)
}

async fn drop_database(admin: &DetachedConnection, name: &str) -> Result<()> {
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(name)))
        .await
}

/// This process's leases: one connection per server, on a runtime of its own.
struct Keeper {
    runtime: tokio::runtime::Runtime,
    holders: tokio::sync::Mutex<Vec<Holder>>,
}

/// The lease connection to one server and the templates it holds.
struct Holder {
    server: Server,
    conn: std::sync::Arc<DetachedConnection>,
    templates: Vec<(String, i32)>,
}

static KEEPER: OnceLock<std::result::Result<Keeper, String>> = OnceLock::new();

fn keeper() -> Result<&'static Keeper> {
    KEEPER
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("skelly-db-template-leases")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the template lease runtime: {e}"))?;
            register_exit_hook();
            Ok(Keeper {
                runtime,
                holders: tokio::sync::Mutex::new(Vec::new()),
            })
        })
        .as_ref()
        .map_err(|e| Error::Config(e.clone()))
}

impl Keeper {
    /// Takes this process's lease on template `name` (once per process and template).
    async fn hold(&self, server: &Server, name: &str) -> Result<()> {
        let mut holders = self.holders.lock().await;
        let index = match holders.iter().position(|h| h.server.url == server.url) {
            Some(i) => i,
            None => {
                let config = server.config.clone();
                // Connected from the keeper's runtime, so the connection outlives every test's.
                let conn = self
                    .runtime
                    .spawn(async move { DetachedConnection::connect_with(&config).await })
                    .await
                    .map_err(|e| Error::Config(format!("template lease connection: {e}")))??;
                holders.push(Holder {
                    server: server.clone(),
                    conn: std::sync::Arc::new(conn),
                    templates: Vec::new(),
                });
                holders.len() - 1
            }
        };
        let holder = &mut holders[index];
        if holder.templates.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        let oid: i32 = holder
            .conn
            .query_one(
                "SELECT pg_advisory_lock_shared($1, oid::int4), oid::int4 \
                 FROM pg_database WHERE datname = $2",
                &[&LEASE_KEY, &name],
            )
            .await?
            .get(1);
        holder.templates.push((name.to_owned(), oid));
        Ok(())
    }

    /// At exit: gives up every lease and drops each template no other process holds.
    fn release_all(&self) {
        self.runtime.block_on(async {
            let holders = std::mem::take(&mut *self.holders.lock().await);
            for holder in holders {
                let client = holder.conn.client();
                let Ok(true) =
                    crate::advisory_lock::lock(client, TEMPLATE_LOCK_KEY, EXIT_WAIT).await
                else {
                    continue;
                };
                for (name, oid) in &holder.templates {
                    let _ = holder
                        .conn
                        .execute(
                            "SELECT pg_advisory_unlock_shared($1, $2)",
                            &[&LEASE_KEY, oid],
                        )
                        .await;
                    let _ = drop_if_unheld(&holder.conn, name, *oid).await;
                }
                let _ = crate::advisory_lock::unlock(client, TEMPLATE_LOCK_KEY).await;
            }
        });
    }
}

/// Registers [`release_at_exit`] with the C runtime's `atexit`: it runs when the process ends
/// normally (the test harness returning from `main`, or `std::process::exit`).
fn register_exit_hook() {
    extern "C" {
        fn atexit(hook: extern "C" fn()) -> std::os::raw::c_int;
    }
    // SAFETY: `atexit` takes a function pointer with no arguments and the C ABI, which
    // `release_at_exit` is; it is called at most once, at exit.
    unsafe {
        atexit(release_at_exit);
    }
}

extern "C" fn release_at_exit() {
    let Some(Ok(keeper)) = KEEPER.get() else {
        return;
    };
    // On a thread of its own: the exiting thread may be inside a runtime (where `block_on`
    // panics), and a panic must not cross the C boundary.
    let _ = std::thread::spawn(move || keeper.release_all()).join();
}
