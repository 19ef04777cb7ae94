//! Test support: a fresh database per test, a rollback-only transaction,
//! and a throwaway server when `DATABASE_URL` is unset.
//!
//! ```no_run
//! use skelly_db::testing::TestDb;
//! use skelly_db::Executor;
//!
//! #[tokio::test]
//! async fn counts_users() -> skelly_db::Result<()> {
//!     // A new database with the migrations applied, dropped when `db` goes out of scope,
//!     // also when the test fails.
//!     let db = TestDb::builder().migrations("../migrations").build().await?;
//!     let n: i64 = db.pool().query_one("SELECT count(*) FROM \"user\".users", &[]).await?.get(0);
//!     assert_eq!(n, 0);
//!     Ok(())
//! }
//! ```
//!
//! With migrations, the first test builds a template database (named after the migrations'
//! fingerprint) and every test clones it, which is much faster than migrating each time. The
//! template is dropped when the last process using it exits (the next template build drops
//! those of killed processes). Set
//! `SKELLY_KEEP_TEST_DB=1` (or call [`TestDbBuilder::keep`]) to keep the databases for
//! debugging; their names are printed.

mod mock;
mod pgbouncer;
mod server;
mod supervisor;
mod template;

pub use crate::op::Op;
pub use mock::{Call, Expect, MockDb};
pub use pgbouncer::{TempPgBouncer, TempPgBouncerBuilder};
pub use server::{TempServer, TempServerBuilder};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::executor::{Executor, Sealed, Session};
use crate::migrate::Migrator;
use crate::pool::{DetachedConnection, Pool, PoolConfig};
use crate::sql::quote_ident;

/// A database created for one test and dropped when this value is dropped.
pub struct TestDb {
    pool: Pool,
    name: String,
    server: Server,
    keep: bool,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("name", &self.name).finish()
    }
}

/// Options for a [`TestDb`].
#[derive(Debug, Default)]
pub struct TestDbBuilder {
    migrations: Option<Migrations>,
    keep: bool,
    max_size: Option<usize>,
}

/// Where a test database's migrations come from.
#[derive(Debug)]
enum Migrations {
    Dir(PathBuf),
    Set(Box<Migrator>),
}

impl TestDbBuilder {
    /// Applies the migrations of this directory (through a cached template database).
    pub fn migrations(mut self, dir: impl AsRef<Path>) -> TestDbBuilder {
        self.migrations = Some(Migrations::Dir(dir.as_ref().to_path_buf()));
        self
    }

    /// Applies the migrations of `migrator`, e.g. the `embed_migrations!` set the application
    /// runs at start-up (through a cached template database, as for a directory).
    ///
    /// ```no_run
    /// # async fn run() -> skelly_db::Result<()> {
    /// use skelly_db::testing::TestDb;
    ///
    /// let migrator = skelly_db::embed_migrations!("../migrations");
    /// let db = TestDb::builder().migrator(migrator).build().await?;
    /// # let _ = db; Ok(()) }
    /// ```
    pub fn migrator(mut self, migrator: Migrator) -> TestDbBuilder {
        self.migrations = Some(Migrations::Set(Box::new(migrator)));
        self
    }

    /// Keeps the database after the test, for debugging; its name is printed.
    pub fn keep(mut self, keep: bool) -> TestDbBuilder {
        self.keep = keep;
        self
    }

    /// The size of the test database's pool (default 4).
    pub fn max_size(mut self, max_size: usize) -> TestDbBuilder {
        self.max_size = Some(max_size);
        self
    }

    /// Creates the database.
    pub async fn build(self) -> Result<TestDb> {
        let server = Server::get().await?;
        let admin = DetachedConnection::connect_with(&server.config).await?;
        let name = format!(
            "skelly_test_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        );
        match self.migrations {
            Some(migrations) => {
                let migrator = match migrations {
                    Migrations::Dir(dir) => Migrator::from_dir(dir)?,
                    Migrations::Set(migrator) => *migrator,
                };
                // Leased by this process until it exits: no other process drops it meanwhile.
                let template = template::lease(&server, &admin, &migrator).await?;
                admin
                    .batch_execute(&format!(
                        "CREATE DATABASE {} TEMPLATE {}",
                        quote_ident(&name),
                        quote_ident(&template)
                    ))
                    .await?;
            }
            None => {
                admin
                    .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
                    .await?;
            }
        }
        drop(admin);
        let pool = match through_pgbouncer(&server).await? {
            // The suite's pooler run: statements as an application behind a transaction-mode
            // pooler sends them (no named statements).
            Some(bouncer) => PoolConfig::new(&bouncer.url(&name))?
                .statement_cache_size(0)
                .max_size(self.max_size.unwrap_or(4))
                .build()?,
            None => server
                .config
                .with_dbname(&name)
                .max_size(self.max_size.unwrap_or(4))
                .build()?,
        };
        let keep = self.keep || std::env::var_os("SKELLY_KEEP_TEST_DB").is_some_and(|v| v != "0");
        Ok(TestDb {
            pool,
            name,
            server,
            keep,
        })
    }
}

impl TestDb {
    /// An empty database.
    pub async fn new() -> Result<TestDb> {
        TestDb::builder().build().await
    }

    /// Options: migrations, keep, pool size.
    pub fn builder() -> TestDbBuilder {
        TestDbBuilder::default()
    }

    /// The pool of this database.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tokio-postgres configuration of this database.
    pub fn pg_config(&self) -> tokio_postgres::Config {
        self.pool_config().pg_config().clone()
    }

    /// The pool configuration of this database (TLS settings included), to build pools of
    /// other shapes on it.
    pub fn pool_config(&self) -> PoolConfig {
        self.server.config.with_dbname(&self.name)
    }

    /// A connection string for this database, e.g. to hand to the CLI.
    pub fn url(&self) -> String {
        with_dbname(&self.server.url, &self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.pool.inner.close();
        if self.keep {
            eprintln!("skelly-db: kept test database {}", self.name);
            return;
        }
        let config = self.server.config.clone();
        let name = self.name.clone();
        // Drop cannot await; a thread with its own runtime works inside and outside tokio.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let admin = DetachedConnection::connect_with(&config)
                    .await
                    .map_err(|e| e.to_string())?;
                admin
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        quote_ident(&name)
                    ))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("skelly-db: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("skelly-db: could not drop test database {}", self.name),
        }
    }
}

/// A transaction on a connection of its own that is never committed: everything the test does
/// through it is rolled back when it is dropped (the connection is closed, and the server rolls
/// back). For tests that share one database.
///
/// ```no_run
/// # async fn run(pool: &skelly_db::Pool) -> skelly_db::Result<()> {
/// use skelly_db::{testing::RollbackTransaction, Executor};
///
/// let tx = RollbackTransaction::begin(pool).await?;
/// tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
/// drop(tx); // the insert is gone
/// # Ok(()) }
/// ```
pub struct RollbackTransaction {
    conn: DetachedConnection,
}

impl std::fmt::Debug for RollbackTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RollbackTransaction")
            .finish_non_exhaustive()
    }
}

impl RollbackTransaction {
    /// Takes a connection out of `pool` (the pool opens another in its place) and begins.
    pub async fn begin(pool: &Pool) -> Result<RollbackTransaction> {
        let conn = pool.get().await?.detach();
        conn.batch_execute("BEGIN").await?;
        Ok(RollbackTransaction { conn })
    }

    /// Rolls back now and closes the connection (dropping does the same).
    pub async fn rollback(self) -> Result<()> {
        self.conn.batch_execute("ROLLBACK").await
    }
}

// A TestDb runs statements on its pool, so that `assert_schema!(db, User)` and the like take
// it as it is.
impl Sealed for TestDb {
    async fn session(&self) -> Result<Session<'_>> {
        self.pool.session().await
    }
}

/// Asserts that the database has the tables the structs describe: runs
/// [`schema::check`](crate::schema::check) and panics with the report when it finds an error
/// (warnings are printed). `db` is a [`TestDb`] or any [`Executor`].
///
/// ```no_run
/// # use skelly_db::Table;
/// # #[derive(Table)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
/// # #[derive(Table)] #[table(schema = "user")] struct Post { id: uuid::Uuid, title: String }
/// use skelly_db::testing::TestDb;
///
/// #[tokio::test]
/// async fn the_migrations_match_the_structs() -> skelly_db::Result<()> {
///     let db = TestDb::builder().migrations("migrations").build().await?;
///     skelly_db::assert_schema!(db, User, Post);
///     Ok(())
/// }
/// ```
#[macro_export]
macro_rules! assert_schema {
    ($db:expr, $($table:ty),+ $(,)?) => {
        $crate::testing::assert_schema(
            &$db,
            &[$($crate::schema::TableShape::of::<$table>()),+],
        )
        .await
    };
}

/// What [`assert_schema!`](crate::assert_schema) runs: the check, a panic with the report on
/// an error, the warnings printed.
pub async fn assert_schema(db: &impl Executor, tables: &[crate::schema::TableShape]) {
    match crate::schema::check(db, tables).await {
        Ok(report) if report.is_ok() => {
            if report.warnings().next().is_some() {
                eprintln!("{report}");
            }
        }
        Ok(report) => panic!("the database does not match the structs:\n{report}"),
        Err(e) => panic!("schema check failed: {e}"),
    }
}

impl Sealed for RollbackTransaction {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::on_conn(&self.conn.inner, true))
    }
}

/// The server test databases are created on: `DATABASE_URL`, or a throwaway local server
/// shared by every test of the process.
#[derive(Clone)]
struct Server {
    url: String,
    config: PoolConfig,
}

impl Server {
    async fn get() -> Result<Server> {
        let (url, what) = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => (url, "DATABASE_URL"),
            _ => (
                shared_server().await?.url("postgres"),
                "the throwaway server",
            ),
        };
        // PoolConfig's connect timeout (5 s by default) applies to the admin connections too:
        // an unreachable server fails the test instead of hanging it.
        let config = PoolConfig::new(&url).map_err(|e| Error::Config(format!("{what}: {e}")))?;
        Ok(Server { url, config })
    }
}

static SHARED_BOUNCER: OnceLock<std::result::Result<TempPgBouncer, String>> = OnceLock::new();

/// With `SKELLY_TEST_PGBOUNCER=1`, the PgBouncer (transaction mode, started once per process
/// in front of the test server) that every [`TestDb`] pool goes through, at statement cache
/// size 0: the way to run a whole test suite as it runs behind a transaction-mode pooler.
/// Databases are still created and dropped on the server directly.
async fn through_pgbouncer(server: &Server) -> Result<Option<&'static TempPgBouncer>> {
    if !std::env::var_os("SKELLY_TEST_PGBOUNCER").is_some_and(|v| v != "0" && !v.is_empty()) {
        return Ok(None);
    }
    let pg = server.config.pg_config().clone();
    let started = tokio::task::spawn_blocking(move || {
        SHARED_BOUNCER.get_or_init(|| {
            TempPgBouncer::in_front_of(&pg)
                .and_then(|b| b.pool_mode("transaction").default_pool_size(4).start())
                .map_err(|e| e.to_string())
        })
    })
    .await
    .map_err(|e| Error::Config(format!("starting PgBouncer: {e}")))?;
    match started {
        Ok(bouncer) => Ok(Some(bouncer)),
        Err(reason) => Err(Error::Config(format!(
            "SKELLY_TEST_PGBOUNCER is set: {reason}"
        ))),
    }
}

static SHARED_SERVER: OnceLock<std::result::Result<TempServer, String>> = OnceLock::new();

/// The throwaway server of this process, started on first use. It lives as long as the
/// process: its supervisor stops it and deletes its directory when the process exits.
async fn shared_server() -> Result<&'static TempServer> {
    let started = tokio::task::spawn_blocking(|| {
        SHARED_SERVER.get_or_init(|| TempServer::builder().start().map_err(|e| e.to_string()))
    })
    .await
    .map_err(|e| Error::Config(format!("starting the throwaway server: {e}")))?;
    started.as_ref().map_err(|reason| {
        Error::Config(format!(
            "DATABASE_URL is not set and {}; set DATABASE_URL=postgres://user:password@host:port/database",
            reason.trim_start_matches("configuration error: ")
        ))
    })
}

/// `url` with its database replaced by `dbname` (URL or `key=value` form).
fn with_dbname(url: &str, dbname: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let authority = before_query.split('/').next().unwrap_or(before_query);
        let mut out = format!("{scheme}://{authority}/{dbname}");
        if let Some(q) = query {
            let kept: Vec<&str> = q
                .split('&')
                .filter(|kv| !kv.starts_with("dbname="))
                .collect();
            if !kept.is_empty() {
                out.push('?');
                out.push_str(&kept.join("&"));
            }
        }
        out
    } else {
        format!("{url} dbname={dbname}")
    }
}

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_dbname("postgres://u:p@h:5432/test", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(with_dbname("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            with_dbname("postgresql://h/db?sslmode=disable&dbname=y", "x"),
            "postgresql://h/x?sslmode=disable"
        );
        assert_eq!(with_dbname("host=h user=u", "x"), "host=h user=u dbname=x");
    }
}
