//! A throwaway PgBouncer in front of a server, for testing against a transaction-mode pooler
//! as production meets one.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::server::{
    free_port, no_server, unique_dir, wait_ready, write_owned, ServerUser, Supervisor,
    SupervisorSlot,
};
use crate::error::Result;

/// PgBouncer (from `PATH` or `/usr/sbin`) on a free port of 127.0.0.1, in front of the server
/// at `host:port`, run as the `postgres` OS user when root; stopped and deleted when dropped
/// or when the process exits.
///
/// ```no_run
/// use skelly_db::testing::TempPgBouncer;
///
/// let bouncer = TempPgBouncer::builder("127.0.0.1", 5432)
///     .pool_mode("transaction")
///     .default_pool_size(2)
///     .start()?;
/// let url = bouncer.url("app"); // postgres://postgres@127.0.0.1:PORT/app
/// # let _ = url;
/// # Ok::<(), skelly_db::Error>(())
/// ```
pub struct TempPgBouncer {
    port: u16,
    dir: PathBuf,
    supervisor: SupervisorSlot,
}

impl std::fmt::Debug for TempPgBouncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempPgBouncer")
            .field("port", &self.port)
            .finish()
    }
}

/// Options for a [`TempPgBouncer`].
#[derive(Debug, Clone)]
pub struct TempPgBouncerBuilder {
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    pool_mode: String,
    default_pool_size: u32,
    settings: Vec<(String, String)>,
}

impl TempPgBouncerBuilder {
    /// The role PgBouncer logs in to the server as (default `postgres`), and its password.
    pub fn server_login(mut self, user: &str, password: Option<&str>) -> TempPgBouncerBuilder {
        self.user = user.to_string();
        self.password = password.map(str::to_string);
        self
    }

    /// `session`, `transaction` (the default) or `statement`.
    pub fn pool_mode(mut self, mode: &str) -> TempPgBouncerBuilder {
        self.pool_mode = mode.to_string();
        self
    }

    /// Any other `[pgbouncer]` setting, e.g. `("server_lifetime", "1")` to have it close server
    /// connections older than a second as they are released.
    pub fn setting(mut self, key: &str, value: &str) -> TempPgBouncerBuilder {
        self.settings.push((key.to_string(), value.to_string()));
        self
    }

    /// Server connections per database and user (default 2).
    pub fn default_pool_size(mut self, size: u32) -> TempPgBouncerBuilder {
        self.default_pool_size = size;
        self
    }

    /// Writes the configuration and starts PgBouncer; returns once it accepts connections.
    pub fn start(self) -> Result<TempPgBouncer> {
        let program = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .map(PathBuf::from)
            .chain(
                std::env::var_os("PATH")
                    .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| d.join("pgbouncer")),
            )
            .find(|p| p.is_file())
            .ok_or_else(|| no_server("`pgbouncer` is not installed (apt-get install pgbouncer)"))?;
        let user = ServerUser::current()?;
        let dir = unique_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| no_server(&format!("cannot create {}: {e}", dir.display())))?;
        user.own(&dir)?;
        let mut bouncer = TempPgBouncer {
            port: 0,
            dir,
            supervisor: SupervisorSlot::default(),
        };
        let mut last = String::new();
        for _ in 0..5 {
            bouncer.port = free_port()?;
            let mut server = format!("host={} port={} user={}", self.host, self.port, self.user);
            if let Some(password) = &self.password {
                server.push_str(&format!(" password={password}"));
            }
            let ini = format!(
                "[databases]\n* = {server}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
                 listen_port = {port}\nunix_socket_dir = {dir}\nauth_type = any\n\
                 pool_mode = {mode}\ndefault_pool_size = {size}\nmax_client_conn = 1000\n\
                 ignore_startup_parameters = extra_float_digits,options,statement_timeout\n\
                 logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
                port = bouncer.port,
                dir = bouncer.dir.display(),
                mode = self.pool_mode,
                size = self.default_pool_size,
            );
            let ini = self
                .settings
                .iter()
                .fold(ini, |ini, (key, value)| format!("{ini}{key} = {value}\n"));
            write_owned(&user, &bouncer.dir.join("pgbouncer.ini"), ini.as_bytes())?;
            match bouncer.launch(&program, &user) {
                Ok(()) => return Ok(bouncer),
                Err(reason) => {
                    bouncer.stop();
                    last = reason;
                }
            }
        }
        Err(no_server(&last))
    }
}

impl TempPgBouncer {
    /// Options for a PgBouncer in front of the server at `host:port`.
    pub fn builder(host: &str, port: u16) -> TempPgBouncerBuilder {
        TempPgBouncerBuilder {
            host: host.to_string(),
            port,
            user: "postgres".to_string(),
            password: None,
            pool_mode: "transaction".to_string(),
            default_pool_size: 2,
            settings: Vec::new(),
        }
    }

    /// Options for a PgBouncer in front of the server `pg` names (its first host, which must be
    /// reachable over TCP), logging in as `pg`'s user with its password.
    ///
    /// ```no_run
    /// # async fn run() -> skelly_db::Result<()> {
    /// let db = skelly_db::testing::TestDb::new().await?;
    /// let bouncer = skelly_db::testing::TempPgBouncer::in_front_of(&db.pg_config())?
    ///     .pool_mode("transaction")
    ///     .start()?;
    /// let url = bouncer.url(db.name());
    /// # let _ = url; Ok(()) }
    /// ```
    pub fn in_front_of(pg: &tokio_postgres::Config) -> Result<TempPgBouncerBuilder> {
        let host = match pg.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            other => {
                return Err(no_server(&format!(
                    "PgBouncer needs a server reachable over TCP, not {other:?}"
                )))
            }
        };
        let password = pg
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        Ok(
            TempPgBouncer::builder(&host, pg.get_ports().first().copied().unwrap_or(5432))
                .server_login(pg.get_user().unwrap_or("postgres"), password.as_deref()),
        )
    }

    /// The port PgBouncer listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/DBNAME` (PgBouncer logs in to the server itself).
    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{dbname}", self.port)
    }

    /// PgBouncer's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    fn launch(
        &self,
        program: &std::path::Path,
        user: &ServerUser,
    ) -> std::result::Result<(), String> {
        let script = r#"
            "$1" "$2/pgbouncer.ini" >>"$2/pgbouncer.log" 2>&1 &
            pid=$!
            # Stop when our standard input closes: the test process dropped us or exited.
            read -r _ignored || true
            kill -INT "$pid" 2>/dev/null
            wait "$pid"
            rm -rf "$2"
        "#;
        let supervisor =
            Supervisor::spawn(user, script, &[program.as_os_str(), self.dir.as_os_str()])?;
        self.supervisor.set(supervisor);
        wait_ready(
            "pgbouncer",
            || {
                std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok()
                    && self.log().contains("process up")
            },
            || self.supervisor.exited(),
            || self.log(),
        )
    }

    fn stop(&self) {
        self.supervisor.stop();
    }
}

impl Drop for TempPgBouncer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
