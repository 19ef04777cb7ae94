//! A throwaway PostgreSQL server started from the installed binaries, on a free local port,
//! in a data directory of its own.
//!
//! The server runs under a small `sh` supervisor that stops it and deletes its directory as
//! soon as its standard input closes: when the [`TempServer`] is dropped, and also when the
//! process that started it exits or is killed, so no server outlives its tests. As root, the
//! server runs as the `postgres` OS user (PostgreSQL refuses to run as root), through
//! `runuser`, without `sudo`.

use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub(super) use super::supervisor::{wait_ready, Supervisor, SupervisorSlot};
use crate::error::{Error, Result};

/// How long a new server may take to accept connections.
pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A PostgreSQL server of its own for tests: `initdb` in a temporary directory, `postgres` on
/// a free port of 127.0.0.1, trust authentication for the `postgres` role. Stopped and deleted
/// when dropped (or when the process exits).
///
/// ```no_run
/// use skelly_db::testing::TempServer;
///
/// let server = TempServer::builder()
///     .setting("max_connections", "20")
///     .start()?;
/// let url = server.url("postgres"); // postgres://postgres@127.0.0.1:PORT/postgres
/// # let _ = url;
/// # Ok::<(), skelly_db::Error>(())
/// ```
pub struct TempServer {
    port: u16,
    dir: PathBuf,
    data: PathBuf,
    supervisor: SupervisorSlot,
}

impl std::fmt::Debug for TempServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempServer")
            .field("port", &self.port)
            .field("dir", &self.dir)
            .finish()
    }
}

/// Options for a [`TempServer`]: settings for `postgresql.conf`, lines for `pg_hba.conf`, files
/// in the data directory (certificates, keys).
#[derive(Debug, Default, Clone)]
pub struct TempServerBuilder {
    port: Option<u16>,
    settings: Vec<(String, String)>,
    hba: Vec<String>,
    files: Vec<(String, Vec<u8>)>,
    primary: Option<String>,
}

impl TempServerBuilder {
    /// Listens on this port instead of a free one (e.g. to bring a server back where a pool
    /// expects it).
    pub fn port(mut self, port: u16) -> TempServerBuilder {
        self.port = Some(port);
        self
    }

    /// Adds `key = 'value'` to `postgresql.conf`.
    pub fn setting(mut self, key: &str, value: &str) -> TempServerBuilder {
        self.settings.push((key.to_string(), value.to_string()));
        self
    }

    /// Replaces `pg_hba.conf` with these lines (default: trust for local and 127.0.0.1).
    pub fn hba_line(mut self, line: &str) -> TempServerBuilder {
        self.hba.push(line.to_string());
        self
    }

    /// Writes a file into the data directory before the server starts (mode 0600, owned by
    /// the server's user), e.g. `server.crt` and `server.key` for TLS.
    pub fn file(mut self, name: &str, contents: impl Into<Vec<u8>>) -> TempServerBuilder {
        self.files.push((name.to_string(), contents.into()));
        self
    }

    /// Makes the server a streaming replica of the server at `primary_url` instead of a new
    /// cluster: `pg_basebackup -R` copies the primary (which must allow replication
    /// connections from 127.0.0.1 in its `pg_hba.conf`), and the copy starts in hot standby,
    /// read-only, following the primary. The URL's user and password are used; its database
    /// is ignored.
    ///
    /// ```no_run
    /// use skelly_db::testing::TempServer;
    ///
    /// let replica = TempServer::builder()
    ///     .replica_of("postgres://postgres@127.0.0.1:5432/postgres")
    ///     .start()?;
    /// let url = replica.url("test"); // reads only: pg_is_in_recovery() is true there
    /// # let _ = url;
    /// # Ok::<(), skelly_db::Error>(())
    /// ```
    pub fn replica_of(mut self, primary_url: &str) -> TempServerBuilder {
        self.primary = Some(primary_url.to_string());
        self
    }

    /// Runs `initdb` (or `pg_basebackup`, for a replica) and starts the server; returns once
    /// it accepts connections.
    pub fn start(self) -> Result<TempServer> {
        TempServer::start(self)
    }
}

impl TempServer {
    /// Options: settings, `pg_hba.conf` lines, files.
    pub fn builder() -> TempServerBuilder {
        TempServerBuilder::default()
    }

    /// The port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// `postgres://postgres@127.0.0.1:PORT/DBNAME`.
    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{dbname}", self.port)
    }

    /// The server's log so far (for error messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn start(options: TempServerBuilder) -> Result<TempServer> {
        let bin = find_binaries()?;
        let user = ServerUser::current()?;
        let dir = unique_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| no_server(&format!("cannot create {}: {e}", dir.display())))?;
        user.own(&dir)?;
        let data = dir.join("data");
        let server = TempServer {
            port: 0,
            dir: dir.clone(),
            data: data.clone(),
            supervisor: SupervisorSlot::default(),
        };
        // From here on, dropping `server` removes the directory.
        let mut conf = String::from("\n# skelly-db test server\nfsync = off\n");
        match &options.primary {
            None => {
                run_tool(
                    user.command(&bin.join("initdb"))
                        .args(["-D", path_str(&data)?, "-U", "postgres", "--auth=trust"])
                        .args(["-E", "UTF8", "--no-locale", "--no-sync"]),
                    "initdb",
                )?;
                conf.push_str("synchronous_commit = off\nfull_page_writes = off\n");
            }
            Some(primary) => {
                // -R writes standby.signal and primary_conninfo; -X stream copies the WAL the
                // backup needs over a second connection.
                // A busy primary may recycle a WAL segment the backup still streams (its other
                // checkpoints do; seen with several replicas copied at once): copy again.
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    let copied = run_tool(
                        user.command(&bin.join("pg_basebackup"))
                            .args(["-d", primary, "-D", path_str(&data)?])
                            .args(["-R", "-X", "stream", "--no-sync", "-c", "fast"]),
                        "pg_basebackup",
                    );
                    match copied {
                        // WAL recycled under the copy, or the stream cut (seen once in a
                        // loaded run: "SSL connection has been closed unexpectedly"): the
                        // copy removed its directory, so it can start over.
                        Err(e)
                            if attempts < 3 && {
                                let e = e.to_string();
                                e.contains("has already been removed")
                                    || e.contains("closed unexpectedly")
                                    || e.contains("terminated unexpectedly")
                            } =>
                        {
                            continue
                        }
                        other => break other?,
                    }
                }
                // A packaged primary keeps its configuration outside the data directory (in
                // /etc on Debian): the copy gets files of its own, whatever it brought along.
                write_owned(&user, &data.join("postgresql.conf"), b"hot_standby = on\n")?;
                if options.hba.is_empty() {
                    write_owned(&user, &data.join("pg_hba.conf"), DEFAULT_HBA.as_bytes())?;
                }
            }
        }
        for (key, value) in &options.settings {
            conf.push_str(&format!("{key} = '{}'\n", value.replace('\'', "''")));
        }
        append(&data.join("postgresql.conf"), &conf)?;
        if !options.hba.is_empty() {
            let mut hba = options.hba.join("\n");
            hba.push('\n');
            write_owned(&user, &data.join("pg_hba.conf"), hba.as_bytes())?;
        }
        for (name, contents) in &options.files {
            write_owned(&user, &data.join(name), contents)?;
        }
        let mut server = server;
        // A port that was free a moment ago can be taken meanwhile: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            server.port = match options.port {
                Some(port) => port,
                None => free_port()?,
            };
            match server.launch(&bin, &user) {
                Ok(()) => return Ok(server),
                Err(reason) => {
                    server.stop();
                    last = reason;
                }
            }
        }
        Err(no_server(&last))
    }

    // Starts the supervisor and waits until the server answers.
    fn launch(&self, bin: &Path, user: &ServerUser) -> std::result::Result<(), String> {
        let script = r#"
            "$1/postgres" -D "$2/data" -p "$3" -h 127.0.0.1 -k "$2" >"$2/server.log" 2>&1 &
            pid=$!
            # Stop when our standard input closes: the test process dropped us or exited.
            read -r _ignored || true
            kill -INT "$pid" 2>/dev/null
            wait "$pid"
            # Paused (TempServer::pause): the data directory stays for resume().
            [ -e "$2/paused" ] || rm -rf "$2"
        "#;
        let supervisor = Supervisor::spawn(
            user,
            script,
            &[
                bin.as_os_str(),
                self.dir.as_os_str(),
                self.port.to_string().as_ref(),
            ],
        )?;
        self.supervisor.set(supervisor);
        wait_ready(
            "the server",
            || self.accepts_connections(),
            || self.supervisor.exited() || self.log().contains("could not bind"),
            || self.log(),
        )
    }

    fn accepts_connections(&self) -> bool {
        // The postmaster answers on the port before it accepts sessions; the log says when
        // ("... ready to accept read-only connections" on a hot standby).
        std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok()
            && self.log().contains("database system is ready to accept")
    }

    fn stop(&self) {
        self.supervisor.stop();
    }

    /// Stops the server (a fast shutdown: its sessions end) but keeps its data directory, so
    /// that [`TempServer::resume`] can start it again on the same port, e.g. to test what
    /// clients do while a server is down.
    pub fn pause(&self) -> Result<()> {
        let user = ServerUser::current()?;
        write_owned(&user, &self.dir.join("paused"), b"")?;
        self.stop();
        Ok(())
    }

    /// Starts a paused server again on its port, with its data; returns once it accepts
    /// connections. Does nothing to a server that runs.
    pub fn resume(&self) -> Result<()> {
        if !self.supervisor.exited() {
            return Ok(());
        }
        let user = ServerUser::current()?;
        // The log from before is kept apart, so readiness is judged on this start's lines.
        let _ = std::fs::rename(self.dir.join("server.log"), self.dir.join("server.log.1"));
        let _ = std::fs::remove_file(self.dir.join("paused"));
        self.launch(&find_binaries()?, &user).map_err(|reason| {
            let _ = std::fs::File::create(self.dir.join("paused"));
            no_server(&reason)
        })
    }
}

impl Drop for TempServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Who runs the server: the current user, or `postgres` when the current user is root.
pub(super) struct ServerUser {
    // (uid, gid) of `postgres` when running as root.
    postgres: Option<(u32, u32)>,
}

impl ServerUser {
    pub(super) fn current() -> Result<ServerUser> {
        if id(&["-u"])? != 0 {
            return Ok(ServerUser { postgres: None });
        }
        let uid = id(&["-u", "postgres"]);
        let gid = id(&["-g", "postgres"]);
        match (uid, gid) {
            (Ok(uid), Ok(gid)) => Ok(ServerUser {
                postgres: Some((uid, gid)),
            }),
            _ => Err(no_server(
                "running as root, and PostgreSQL refuses to run as root; there is no `postgres` \
                 OS user to run it as (create one, or run the tests as another user)",
            )),
        }
    }

    pub(super) fn command(&self, program: &Path) -> Command {
        match self.postgres {
            // runuser sets the supplementary groups too, which Command::uid does not.
            Some(_) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", "postgres", "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }

    pub(super) fn own(&self, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.postgres {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| {
                no_server(&format!("cannot give {} to postgres: {e}", path.display()))
            })?;
        }
        Ok(())
    }
}

/// `pg_hba.conf` of a replica when none is given: trust on the socket and 127.0.0.1.
const DEFAULT_HBA: &str = "local all all trust\nhost all all 127.0.0.1/32 trust\n";

// Runs initdb or pg_basebackup to the end; a failure says what the tool said.
fn run_tool(cmd: &mut Command, name: &str) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| no_server(&format!("cannot run {name}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let mut reason = format!("{name} failed: {}", said.trim());
    if said.contains("replication connection") && said.contains("pg_hba.conf") {
        reason.push_str(
            "; allow replication connections from 127.0.0.1 on the primary, e.g. \
             `host replication all 127.0.0.1/32 trust` in its pg_hba.conf, then reload it",
        );
    }
    Err(no_server(&reason))
}

fn id(args: &[&str]) -> Result<u32> {
    let out = Command::new("id")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| no_server(&format!("cannot run `id`: {e}")))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| no_server(&format!("`id {}` failed", args.join(" "))))
}

/// The directory holding `initdb` and `postgres`: `SKELLY_PG_BIN`, then `PATH`, then the newest
/// `/usr/lib/postgresql/*/bin` (Debian and Ubuntu keep them off `PATH`).
fn find_binaries() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SKELLY_PG_BIN") {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
            return Ok(dir);
        }
        return Err(no_server(&format!(
            "SKELLY_PG_BIN={} has no `initdb` and `postgres`",
            dir.display()
        )));
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    for dir in on_path {
        if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
            // A link on PATH (e.g. /usr/local/bin/postgres) leads to the installation's own
            // directory, which has the other tools (pg_basebackup) too.
            let real = std::fs::canonicalize(dir.join("postgres"))
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .filter(|real| real.join("initdb").is_file());
            return Ok(real.unwrap_or(dir));
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        no_server(
            "`initdb` and `postgres` are neither on PATH nor in /usr/lib/postgresql/*/bin; \
             install PostgreSQL or set SKELLY_PG_BIN",
        )
    })
}

pub(super) fn unique_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "skelly-pg-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

pub(super) fn free_port() -> Result<u16> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| no_server(&format!("no free local port: {e}")))
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| no_server(&format!("{} is not UTF-8", path.display())))
}

fn append(path: &Path, text: &str) -> Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| no_server(&format!("cannot write {}: {e}", path.display())))
}

pub(super) fn write_owned(user: &ServerUser, path: &Path, contents: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, contents)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)))
        .map_err(|e| no_server(&format!("cannot write {}: {e}", path.display())))?;
    user.own(path)
}

pub(super) fn last_lines(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

pub(super) fn no_server(reason: &str) -> Error {
    Error::Config(format!(
        "no throwaway PostgreSQL server could be started: {reason}"
    ))
}
