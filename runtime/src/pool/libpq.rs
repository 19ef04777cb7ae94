//! libpq's connection conventions for what a connection string leaves out: the `PG*`
//! environment variables, then the password file (`~/.pgpass`, or `PGPASSFILE`), with libpq's
//! precedence (the string first). Pure but for reading the password file: the environment
//! comes in as a lookup function, so every rule is unit-tested without touching the process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::tls::{RootCert, SslMode};
use crate::error::{Error, Result};

/// What the environment adds to a parsed connection string.
pub(crate) struct Filled {
    /// `PGSSLMODE`, when the string gave no `sslmode`.
    pub(crate) ssl_mode: Option<SslMode>,
    /// `PGSSLROOTCERT`, when the string gave no `sslrootcert`.
    pub(crate) root: Option<RootCert>,
}

/// Fills the parts of `pg` the connection string left out from `env` (`PGHOST`, `PGPORT`,
/// `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`, `PGSSLMODE`,
/// `PGSSLROOTCERT`) and the password from the password file (`PGPASSFILE`, else
/// `$HOME/.pgpass`). A malformed variable is an [`Error::Config`] naming it.
pub(crate) fn fill(
    pg: &mut tokio_postgres::Config,
    has_ssl_mode: bool,
    has_root: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Filled> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if pg.get_hosts().is_empty() {
        if let Some(hosts) = var("PGHOST") {
            for host in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
                if host.starts_with('/') {
                    pg.host_path(host);
                } else {
                    pg.host(host);
                }
            }
        }
    }
    // tokio-postgres gives a host named without a port 5432; PGPORT fills a string without
    // any host or port.
    if pg.get_ports().is_empty() {
        if let Some(port) = var("PGPORT") {
            let port = port.trim().parse::<u16>().map_err(|_| {
                Error::Config(format!("PGPORT must be a port number, got `{port}`"))
            })?;
            pg.port(port);
        }
    }
    if pg.get_user().is_none() {
        if let Some(user) = var("PGUSER") {
            pg.user(&user);
        }
    }
    if pg.get_dbname().is_none() {
        if let Some(dbname) = var("PGDATABASE") {
            pg.dbname(&dbname);
        }
    }
    if pg.get_application_name().is_none() {
        if let Some(name) = var("PGAPPNAME") {
            pg.application_name(&name);
        }
    }
    if pg.get_connect_timeout().is_none() {
        if let Some(secs) = var("PGCONNECT_TIMEOUT") {
            let secs = secs.trim().parse::<u64>().map_err(|_| {
                Error::Config(format!(
                    "PGCONNECT_TIMEOUT must be a whole number of seconds, got `{secs}`"
                ))
            })?;
            // libpq: 0 (or none) waits for ever; below 2 s is taken as 2 s.
            if secs > 0 {
                pg.connect_timeout(Duration::from_secs(secs.max(2)));
            }
        }
    }
    if pg.get_password().is_none() {
        if let Some(password) = env("PGPASSWORD") {
            pg.password(password);
        } else if let Some(file) = password_file(env) {
            if let Some(password) = lookup_password(&file, pg) {
                pg.password(password);
            }
        }
    }
    let ssl_mode = match (has_ssl_mode, var("PGSSLMODE")) {
        (false, Some(mode)) => Some(
            mode.trim()
                .parse::<SslMode>()
                .map_err(|e| Error::Config(format!("PGSSLMODE: {e}")))?,
        ),
        _ => None,
    };
    let root = match (has_root, var("PGSSLROOTCERT")) {
        (false, Some(root)) => Some(RootCert::parse(&root)),
        _ => None,
    };
    Ok(Filled { ssl_mode, root })
}

/// `PGPASSFILE`, else `$HOME/.pgpass`; `None` when neither names a file that exists.
fn password_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let path = env("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    path.is_file().then_some(path)
}

/// The password file's password for `pg`'s first host, port, database and user. libpq ignores
/// a file that others can read; so does this (a password there is a password shared).
fn lookup_password(file: &Path, pg: &tokio_postgres::Config) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(file).ok()?;
    let host = match pg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        // libpq matches a socket connection as `localhost`.
        _ => "localhost".to_string(),
    };
    let port = pg.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = pg.get_user()?.to_string();
    let dbname = pg.get_dbname().unwrap_or(&user).to_string();
    find_password(&text, [&host, &port, &dbname, &user])
}

/// The first line of a password file (`host:port:database:user:password`, `*` matches
/// anything, `\:` and `\\` escaped) that matches `wanted`.
pub(crate) fn find_password(text: &str, wanted: [&str; 4]) -> Option<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = split_fields(line);
            if fields.len() != 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want);
            matches.then(|| fields[4].clone())
        })
}

fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("one field at least").push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field at least").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::str::FromStr;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn the_environment_fills_only_what_the_string_leaves_out() {
        let vars = env(&[
            ("PGHOST", "db.internal"),
            ("PGPORT", "6432"),
            ("PGUSER", "app"),
            ("PGPASSWORD", "from-env"),
            ("PGDATABASE", "appdb"),
            ("PGAPPNAME", "worker"),
            ("PGCONNECT_TIMEOUT", "7"),
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", "/etc/ca.pem"),
        ]);
        let mut pg = tokio_postgres::Config::from_str("postgres://").unwrap();
        let filled = fill(&mut pg, false, false, &vars).unwrap();
        assert_eq!(
            pg.get_hosts(),
            [tokio_postgres::config::Host::Tcp("db.internal".into())]
        );
        assert_eq!(pg.get_ports(), [6432]);
        assert_eq!(pg.get_user(), Some("app"));
        assert_eq!(pg.get_password(), Some(&b"from-env"[..]));
        assert_eq!(pg.get_dbname(), Some("appdb"));
        assert_eq!(pg.get_application_name(), Some("worker"));
        assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_secs(7)));
        assert_eq!(filled.ssl_mode, Some(SslMode::VerifyFull));
        assert!(filled.root.is_some());

        // What the string says wins.
        let mut pg =
            tokio_postgres::Config::from_str("postgres://me:pw@here:5433/mine?application_name=x")
                .unwrap();
        let filled = fill(&mut pg, true, true, &vars).unwrap();
        assert_eq!(
            pg.get_hosts(),
            [tokio_postgres::config::Host::Tcp("here".into())]
        );
        assert_eq!(pg.get_ports(), [5433]);
        assert_eq!(pg.get_user(), Some("me"));
        assert_eq!(pg.get_password(), Some(&b"pw"[..]));
        assert_eq!(pg.get_dbname(), Some("mine"));
        assert_eq!(pg.get_application_name(), Some("x"));
        assert!(filled.ssl_mode.is_none() && filled.root.is_none());

        let mut pg = tokio_postgres::Config::from_str("postgres://").unwrap();
        let err = fill(&mut pg, false, false, &env(&[("PGPORT", "five")]))
            .err()
            .unwrap();
        assert!(err
            .to_string()
            .contains("PGPORT must be a port number, got `five`"));
    }

    #[test]
    fn password_file_lines_match_as_libpq_matches_them() {
        let text = "# comment\n\
                    other:5432:*:app:wrong\n\
                    db.internal:5432:appdb:app:first\\:part\n\
                    *:*:*:app:fallback\n";
        assert_eq!(
            find_password(text, ["db.internal", "5432", "appdb", "app"]).as_deref(),
            Some("first:part")
        );
        assert_eq!(
            find_password(text, ["db.internal", "6432", "appdb", "app"]).as_deref(),
            Some("fallback")
        );
        assert_eq!(
            find_password(text, ["db.internal", "5432", "appdb", "ops"]),
            None
        );
    }
}
