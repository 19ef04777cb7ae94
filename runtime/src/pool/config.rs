//! [`PoolConfig`]: the server, the pool size and the timeouts, from code or the environment.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::cache::DEFAULT_STATEMENT_CACHE_SIZE;
use super::manager::Manager;
use super::tls::{split_tls_params, RootCert, SslMode, TlsSettings};
use super::Pool;
use crate::error::{Error, Result};

/// Default for [`PoolConfig::max_size`].
pub const DEFAULT_MAX_SIZE: usize = 10;
/// Default for [`PoolConfig::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`PoolConfig::wait_timeout`].
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`PoolConfig::slow_statement`]: statements slower than this are logged as a
/// warning (with the `tracing` feature).
pub const DEFAULT_SLOW_STATEMENT: Duration = Duration::from_secs(1);
/// Default for [`PoolConfig::close_timeout`].
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// How to build a [`Pool`]: the server, the pool size and the timeouts.
///
/// Every timeout is finite by default, so a full pool or an unreachable server ends in an
/// error instead of a hang.
///
/// ```
/// use std::time::Duration;
/// use skelly_db::PoolConfig;
///
/// let pool = PoolConfig::new("postgres://app@127.0.0.1:5432/app")?
///     .max_size(20)
///     .connect_timeout(Duration::from_secs(2))
///     .statement_timeout(Duration::from_secs(10))
///     .build()?; // no connection is made until the pool is used
/// # Ok::<(), skelly_db::Error>(())
/// ```
#[derive(Clone)]
pub struct PoolConfig {
    pg: tokio_postgres::Config,
    pub(crate) max_size: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) wait_timeout: Duration,
    statement_timeout: Option<Duration>,
    pub(crate) statement_cache_size: usize,
    pub(crate) close_timeout: Duration,
    pub(crate) slow_statement: Option<Duration>,
    tls: TlsSettings,
    replicas: Vec<String>,
}

impl fmt::Debug for PoolConfig {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolConfig")
            .field("hosts", &self.pg.get_hosts())
            .field("ports", &self.pg.get_ports())
            .field("user", &self.pg.get_user())
            .field("dbname", &self.pg.get_dbname())
            .field("max_size", &self.max_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("wait_timeout", &self.wait_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("statement_cache_size", &self.statement_cache_size)
            .field("close_timeout", &self.close_timeout)
            .field("slow_statement", &self.slow_statement)
            .field("tls", &self.tls)
            .field("replicas", &self.replicas.len())
            .finish()
    }
}

impl PoolConfig {
    /// A configuration for the server at `url` (`postgres://user:password@host:port/db` or
    /// the `key=value` form), with the default size and timeouts.
    ///
    /// `sslmode` (`disable`, `prefer` — the default —, `require`, `verify-ca`, `verify-full`)
    /// and `sslrootcert` (a PEM file, or `system`) have libpq's meanings.
    pub fn new(url: &str) -> Result<PoolConfig> {
        PoolConfig::parse("the connection string", url)
    }

    fn parse(what: &str, url: &str) -> Result<PoolConfig> {
        let (rest, mode, root) = split_tls_params(url)?;
        let mut pg = parse_url(what, &rest)?;
        // What the string leaves out comes from the PG* variables and the password file, as
        // for psql and every libpq tool.
        let env = |name: &str| std::env::var(name).ok();
        let filled = super::libpq::fill(&mut pg, mode.is_some(), root.is_some(), &env)?;
        let mut config = PoolConfig::from_pg_config(pg);
        if let Some(mode) = mode.or(filled.ssl_mode) {
            config.tls.mode = mode;
        }
        config.tls.root = root.or(filled.root);
        Ok(config)
    }

    /// A configuration from an already built tokio-postgres configuration.
    pub fn from_pg_config(pg: tokio_postgres::Config) -> PoolConfig {
        let mode = match pg.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => SslMode::Disable,
            tokio_postgres::config::SslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        };
        PoolConfig {
            tls: TlsSettings {
                mode,
                ..TlsSettings::default()
            },
            pg,
            max_size: DEFAULT_MAX_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            statement_timeout: None,
            statement_cache_size: DEFAULT_STATEMENT_CACHE_SIZE,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            slow_statement: Some(DEFAULT_SLOW_STATEMENT),
            replicas: Vec::new(),
        }
    }

    /// Reads `DATABASE_URL` (required) and the optional `DATABASE_POOL_MAX_SIZE`,
    /// `DATABASE_CONNECT_TIMEOUT_MS`, `DATABASE_POOL_WAIT_TIMEOUT_MS`,
    /// `DATABASE_STATEMENT_TIMEOUT_MS`, `DATABASE_STATEMENT_CACHE_SIZE`,
    /// `DATABASE_SLOW_STATEMENT_MS` (`0` turns the warning off) and `DATABASE_REPLICA_URLS` (comma-separated; see [`PoolConfig::replica`]). A missing or
    /// malformed variable is [`Error::Config`] naming it.
    pub fn from_env() -> Result<PoolConfig> {
        let url = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            Ok(_) => return Err(Error::Config("DATABASE_URL is set but empty".into())),
            Err(std::env::VarError::NotPresent) => return Err(Error::Config(
                "DATABASE_URL is not set; set it to postgres://user:password@host:port/database"
                    .into(),
            )),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::Config("DATABASE_URL is not valid UTF-8".into()))
            }
        };
        PoolConfig::parse("DATABASE_URL", &url)?.with_env()
    }

    /// This configuration with the optional variables [`PoolConfig::from_env`] reads applied
    /// (all but `DATABASE_URL`): for a URL that came from elsewhere, such as a command-line
    /// flag. A malformed variable is [`Error::Config`] naming it.
    ///
    /// ```no_run
    /// # fn run() -> skelly_db::Result<()> {
    /// // DATABASE_STATEMENT_CACHE_SIZE=0 behind a transaction-mode pooler, and so on.
    /// let pool = skelly_db::PoolConfig::new("postgres://app@pgbouncer:6432/app")?
    ///     .with_env()?
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn with_env(self) -> Result<PoolConfig> {
        let mut config = self;
        if let Some(n) = env_number("DATABASE_POOL_MAX_SIZE")? {
            if n == 0 {
                return Err(Error::Config(
                    "DATABASE_POOL_MAX_SIZE must be at least 1, got 0".into(),
                ));
            }
            config.max_size = n as usize;
        }
        if let Some(ms) = env_number("DATABASE_CONNECT_TIMEOUT_MS")? {
            config.connect_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = env_number("DATABASE_POOL_WAIT_TIMEOUT_MS")? {
            config.wait_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = env_number("DATABASE_STATEMENT_TIMEOUT_MS")? {
            config.statement_timeout = Some(Duration::from_millis(ms));
        }
        if let Some(n) = env_number("DATABASE_STATEMENT_CACHE_SIZE")? {
            config.statement_cache_size = usize::try_from(n).map_err(|_| {
                Error::Config(format!("DATABASE_STATEMENT_CACHE_SIZE is too large: {n}"))
            })?;
        }
        if let Some(ms) = env_number("DATABASE_SLOW_STATEMENT_MS")? {
            config.slow_statement = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Ok(urls) = std::env::var("DATABASE_REPLICA_URLS") {
            config.replicas = split_urls(&urls);
        }
        Ok(config)
    }

    /// The most connections the pool holds at once (default 10).
    pub fn max_size(mut self, max_size: usize) -> PoolConfig {
        self.max_size = max_size.max(1);
        self
    }

    /// How long establishing one connection may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> PoolConfig {
        self.connect_timeout = timeout;
        self
    }

    /// How long a checkout may wait for a free connection when the pool is full (default 30 s).
    pub fn wait_timeout(mut self, timeout: Duration) -> PoolConfig {
        self.wait_timeout = timeout;
        self
    }

    /// The server-side `statement_timeout` of every pooled connection (default: the server's).
    pub fn statement_timeout(mut self, timeout: Duration) -> PoolConfig {
        self.statement_timeout = Some(timeout);
        self
    }

    /// How connections use TLS (default [`SslMode::Prefer`]); the same as `sslmode` in the
    /// connection string.
    pub fn ssl_mode(mut self, mode: SslMode) -> PoolConfig {
        self.tls.mode = mode;
        self
    }

    /// The trusted roots for [`SslMode::VerifyCa`] and [`SslMode::VerifyFull`]; the same as
    /// `sslrootcert`.
    pub fn ssl_root_cert(mut self, root: RootCert) -> PoolConfig {
        self.tls.root = Some(root);
        self
    }

    /// (Feature `tls`.) A rustls client configuration of your own (client certificates, pinned keys, another
    /// verifier): used as it is for every TLS connection; `sslmode` still decides whether TLS
    /// is tried (`disable`), optional (`prefer`) or required.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> PoolConfig {
        self.tls.custom = Some(config);
        self
    }

    /// Adds a read replica (a connection string as in [`PoolConfig::new`]): it gets a pool of
    /// its own with this configuration's size and timeouts, and [`Pool::replica`] spreads
    /// reads over the replicas. `sslmode` and `sslrootcert` come from the replica's string,
    /// the root certificate from this configuration when its string names none. A malformed
    /// string is an error of [`PoolConfig::build`] naming the replica.
    pub fn replica(mut self, url: &str) -> PoolConfig {
        self.replicas.push(url.to_string());
        self
    }

    /// The `sslmode` in force.
    pub fn get_ssl_mode(&self) -> SslMode {
        self.tls.mode
    }

    /// The same configuration for another database on the same server (user, password, TLS
    /// and pool settings kept).
    ///
    /// ```
    /// let config = skelly_db::PoolConfig::new("postgres://app@db.internal/app")?;
    /// let scratch = config.with_dbname("app_scratch");
    /// assert_eq!(scratch.pg_config().get_dbname(), Some("app_scratch"));
    /// # Ok::<(), skelly_db::Error>(())
    /// ```
    pub fn with_dbname(&self, dbname: &str) -> PoolConfig {
        let mut config = self.clone();
        config.pg.dbname(dbname);
        config
    }

    /// The driver's configuration and the TLS connector for one connection.
    pub(crate) fn connect_parts(&self) -> Result<(tokio_postgres::Config, super::tls::Connector)> {
        let mut pg = self.pg.clone();
        pg.ssl_mode(self.tls.driver_mode());
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(self.connect_timeout);
        }
        Ok((pg, self.tls.connector()?))
    }

    /// How many prepared statements each connection keeps, least recently used first out
    /// (default 100; evicted ones are closed on the server). `0` names no statement at all:
    /// each one goes out as the unnamed statement with its parameter types, in one round trip
    /// — the setting for transaction-mode poolers (PgBouncer, Supavisor, RDS Proxy, Neon).
    pub fn statement_cache_size(mut self, size: usize) -> PoolConfig {
        self.statement_cache_size = size;
        self
    }

    /// Statements that take longer than this are logged as a `tracing` warning (target
    /// `skelly_db::slow`) with their SQL (never their values) and duration; `None` turns it
    /// off. Default 1 s; `DATABASE_SLOW_STATEMENT_MS` in the environment.
    pub fn slow_statement(mut self, threshold: Option<Duration>) -> PoolConfig {
        self.slow_statement = threshold;
        self
    }

    /// How long [`Pool::close`] waits for checked-out connections before closing them under
    /// their users (default 30 s).
    pub fn close_timeout(mut self, timeout: Duration) -> PoolConfig {
        self.close_timeout = timeout;
        self
    }

    /// The tokio-postgres configuration the connections are made from.
    pub fn pg_config(&self) -> &tokio_postgres::Config {
        &self.pg
    }

    /// Builds the pool (and one per replica). No connection is made until the first checkout.
    pub fn build(self) -> Result<Pool> {
        let replicas = self
            .replicas
            .iter()
            .enumerate()
            .map(|(i, url)| self.for_replica(i, url)?.build())
            .collect::<Result<Vec<Pool>>>()?;
        self.build_one(replicas)
    }

    // The configuration of replica `i`: its server and TLS mode, our sizes and timeouts.
    fn for_replica(&self, i: usize, url: &str) -> Result<PoolConfig> {
        let parsed = PoolConfig::parse(
            &format!("replica {} of {}", i + 1, self.replicas.len()),
            url,
        )?;
        Ok(PoolConfig {
            pg: parsed.pg,
            tls: TlsSettings {
                mode: parsed.tls.mode,
                root: parsed.tls.root.or_else(|| self.tls.root.clone()),
                #[cfg(feature = "tls")]
                custom: self.tls.custom.clone(),
            },
            replicas: Vec::new(),
            ..self.clone()
        })
    }

    fn build_one(self, replicas: Vec<Pool>) -> Result<Pool> {
        if self.pg.get_hosts().is_empty() {
            return Err(Error::Config(
                "the connection string names no host; add one, e.g. postgres://user@127.0.0.1:5432/db"
                    .into(),
            ));
        }
        let (mut pg, connector) = self.connect_parts()?;
        pg.connect_timeout(self.connect_timeout);
        if let Some(timeout) = self.statement_timeout {
            let mut options = pg.get_options().unwrap_or_default().to_string();
            if !options.is_empty() {
                options.push(' ');
            }
            options.push_str(&format!("-c statement_timeout={}", timeout.as_millis()));
            pg.options(&options);
        }
        let manager = Manager::new(
            pg,
            connector,
            self.statement_cache_size,
            self.slow_statement,
            self.connect_timeout,
        );
        Pool::with_manager(self, manager, replicas)
    }
}

// `DATABASE_REPLICA_URLS`: split at the commas that start another `postgres://` URL, so that a
// multi-host URL (`postgres://h1,h2/db`) stays whole; key=value strings split at every comma.
fn split_urls(list: &str) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for piece in list.split(',') {
        let piece = piece.trim();
        let starts_url = piece.starts_with("postgres://") || piece.starts_with("postgresql://");
        match urls.last_mut() {
            Some(last) if !starts_url && last.contains("://") => {
                last.push(',');
                last.push_str(piece);
            }
            _ if piece.is_empty() => {}
            _ => urls.push(piece.to_string()),
        }
    }
    urls
}

fn parse_url(what: &str, url: &str) -> Result<tokio_postgres::Config> {
    // `user:p@ss@host`: tokio-postgres splits at the first `@`, so the password's tail would
    // become the host, and from there reach errors, Debug output and metrics labels. Refused,
    // showing no part of the string.
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if authority.matches('@').count() > 1 {
            return Err(Error::Config(format!(
                "{what}: the user or password contains an unencoded `@`; percent-encode it as \
                 %40 (postgres://user:p%40ss@host:port/database)"
            )));
        }
    }
    tokio_postgres::Config::from_str(url).map_err(|e| {
        // The driver's own words name the part ("unknown option `foo`", "invalid value for
        // option `port`"); its top line only says "invalid connection string".
        let mut reason = match std::error::Error::source(&e) {
            Some(cause) => cause.to_string(),
            None => e.to_string(),
        };
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme)
            .filter(|scheme| {
                !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            });
        if let Some(scheme) = scheme.filter(|s| !matches!(*s, "postgres" | "postgresql")) {
            reason = format!("the scheme `{scheme}://` is not PostgreSQL's; use postgres://");
        }
        if let Some(password) = password_in(url) {
            reason = reason.replace(password, "***");
        }
        Error::Config(format!(
            "{what} is not a valid PostgreSQL connection string ({reason}); expected \
             postgres://user:password@host:port/database"
        ))
    })
}

// The password of a `scheme://user:password@host` string, found without a full parse.
fn password_in(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.rsplit_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then_some(password)
}

fn env_number(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Config(format!("{name} is not valid UTF-8")))
        }
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Error::Config(format!("{name} must be a whole number, got `{v}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unencoded_at_in_the_password_is_refused_without_showing_it() {
        for url in [
            "postgres://app:p@ss@db.internal:5432/app",
            "postgresql://app:@@db.internal/app?sslmode=require",
        ] {
            let err = PoolConfig::new(url).unwrap_err();
            let text = format!("{err} {err:?}");
            assert_eq!(err.code(), "config", "{text}");
            assert!(text.contains("%40"), "{text}");
            for part in ["ss@db", "db.internal", "p@ss"] {
                assert!(!text.contains(part), "{part} shown: {text}");
            }
        }
        // Encoded, it is the password.
        let config = PoolConfig::new("postgres://app:p%40ss@db.internal:5432/app").unwrap();
        assert_eq!(config.pg_config().get_password(), Some(&b"p@ss"[..]));
    }

    #[test]
    fn a_malformed_connection_string_names_the_part() {
        for (url, says) in [
            ("postgres://u@h/db?foo=bar", "unknown option `foo`"),
            (
                "postgres://u:s3cret@h:notaport/db",
                "invalid value for option `port`",
            ),
            (
                "mysql://u@h/db",
                "the scheme `mysql://` is not PostgreSQL's",
            ),
            ("host=h foo=bar", "unknown option `foo`"),
        ] {
            let text = PoolConfig::new(url).unwrap_err().to_string();
            assert!(text.contains(says), "{url}: {text}");
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    #[test]
    fn password_is_found_and_never_printed() {
        assert_eq!(password_in("postgres://u:s3cret@h/db"), Some("s3cret"));
        assert_eq!(password_in("postgres://u@h/db"), None);
        let err = PoolConfig::new("postgres://u:s3cret@h:notaport/db").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("not a valid PostgreSQL connection string"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
        let debug = format!("{:?}", PoolConfig::new("postgres://u:s3cret@h/db").unwrap());
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn replica_urls_split_between_urls_only() {
        assert_eq!(
            split_urls("postgres://a/db, postgresql://b,c:5433/db,postgres://d/db"),
            [
                "postgres://a/db",
                "postgresql://b,c:5433/db",
                "postgres://d/db"
            ]
        );
        assert_eq!(
            split_urls("host=a dbname=x,host=b dbname=x"),
            ["host=a dbname=x", "host=b dbname=x"]
        );
        assert!(split_urls(" ").is_empty());
    }

    #[test]
    fn a_malformed_replica_url_names_the_replica() {
        let err = PoolConfig::new("postgres://u@h/db")
            .unwrap()
            .replica("postgres://u@r1/db")
            .replica("postgres://u:pw@r2:notaport/db")
            .build()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("replica 2 of 2"), "{text}");
        assert!(!text.contains("pw"), "{text}");
    }

    #[test]
    fn a_url_without_host_is_a_config_error() {
        let err = PoolConfig::new("postgres:///db")
            .unwrap()
            .build()
            .unwrap_err();
        assert!(
            matches!(err, Error::Config(ref m) if m.contains("no host")),
            "{err}"
        );
    }
}
