//! The one error type of skelly-db, and the one place that maps SQLSTATE codes to it.

use std::fmt;

mod migration;
mod server;

pub use migration::MigrationError;
pub use server::{ConstraintKind, ConstraintViolation, ServerError};

/// The boxed source of an error, kept so that nothing the server or driver said is lost.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A `Result` whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to PostgreSQL through skelly-db.
///
/// Match on the variant, or use [`Error::code`] (a stable string) and [`Error::status`] (an
/// HTTP-style status) to turn it into a response:
///
/// ```
/// use skelly_db::{ConstraintKind, Error};
///
/// fn to_response(err: &Error) -> (u16, String) {
///     match err {
///         Error::Constraint(v) if v.kind == ConstraintKind::Unique => {
///             (409, format!("{} is taken", v.column.as_deref().unwrap_or("value")))
///         }
///         other => (other.status(), other.code().to_string()),
///     }
/// }
/// # let e = Error::NotFound { table: "users".into() };
/// # assert_eq!(to_response(&e), (404, "not_found".to_string()));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server could not be reached, refused the login, the connection broke, or the server
    /// is shutting down. [`ConnectionKind`] says which; each has its own [`Error::code`], and all
    /// are status 503.
    #[error("connection error ({}): {message}", kind.code())]
    Connection {
        /// Why.
        kind: ConnectionKind,
        /// What happened, naming host:port where known, without credentials.
        message: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The server rejected a statement for a reason other than a constraint or a timeout.
    #[error("query failed: {0}")]
    Query(#[source] ServerError),
    /// A constraint stopped the statement (unique, foreign key, check, not null, exclusion).
    #[error("{0}")]
    Constraint(#[source] ConstraintViolation),
    /// A statement, lock or pool wait took longer than allowed.
    #[error("timeout ({kind}): {message}")]
    Timeout {
        /// Which limit was hit.
        kind: TimeoutKind,
        /// What happened.
        message: String,
        /// The driver's or pool's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A row that was asked for by key does not exist (or is soft-deleted).
    #[error("no row found{}", if table.is_empty() { String::new() } else { format!(" in {table}") })]
    NotFound {
        /// The qualified table name, e.g. `"user".users`.
        table: String,
    },
    /// A migration could not be loaded, parsed or applied.
    #[error(transparent)]
    Migration(#[from] MigrationError),
    /// The configuration is missing or malformed (never contains a password).
    #[error("configuration error: {0}")]
    Config(String),
    /// A seed failed; everything the seeds wrote was rolled back.
    #[error("seed `{seed}` failed: {source}")]
    Seed {
        /// The seed's name.
        seed: String,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// A `MockDb` (feature `testing`) was asked for something its script does not answer; the
    /// message names the operation, the table and the statement.
    #[error("mock: {0}")]
    Mock(String),
    /// A value read from the database could not be turned into the Rust type asked for.
    #[error("cannot decode column `{column}`: {message}")]
    Decode {
        /// The column that could not be decoded.
        column: String,
        /// What was wrong.
        message: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

/// Which limit a [`Error::Timeout`] hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// `statement_timeout` cancelled the statement (SQLSTATE 57014).
    Statement,
    /// A lock could not be taken in time (`lock_timeout`, `NOWAIT`; SQLSTATE 55P03).
    Lock,
    /// No pooled connection became free within the pool's wait timeout.
    PoolWait,
    /// A new connection was not established within the connect timeout.
    Connect,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Statement => "statement",
            TimeoutKind::Lock => "lock",
            TimeoutKind::PoolWait => "pool wait",
            TimeoutKind::Connect => "connect",
        })
    }
}

impl Error {
    /// A stable, machine-readable name for the error, e.g. `unique_violation`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Connection { kind, .. } => kind.code(),
            Error::Query(e) if &*e.sqlstate == "40001" => "serialization_failure",
            Error::Query(e) if &*e.sqlstate == "40P01" => "deadlock_detected",
            Error::Query(_) => "query",
            Error::Constraint(v) => match v.kind {
                ConstraintKind::Unique => "unique_violation",
                ConstraintKind::ForeignKey => "foreign_key_violation",
                ConstraintKind::Check => "check_violation",
                ConstraintKind::NotNull => "not_null_violation",
                ConstraintKind::Exclusion => "exclusion_violation",
            },
            Error::Timeout { kind, .. } => match kind {
                TimeoutKind::Statement => "statement_timeout",
                TimeoutKind::Lock => "lock_timeout",
                TimeoutKind::PoolWait => "pool_timeout",
                TimeoutKind::Connect => "connect_timeout",
            },
            Error::NotFound { .. } => "not_found",
            Error::Migration(_) => "migration",
            Error::Config(_) => "config",
            Error::Decode { .. } => "decode",
            Error::Mock(_) => "mock",
            Error::Seed { source, .. } => source.code(),
        }
    }

    /// An HTTP-style status: 409 unique, foreign key or exclusion (all three are conflicts with
    /// other rows), 404 not found, 400 check or not-null, 503 connection, 504 timeout, 500
    /// everything else.
    pub fn status(&self) -> u16 {
        match self {
            Error::Constraint(v) => match v.kind {
                ConstraintKind::Unique | ConstraintKind::ForeignKey | ConstraintKind::Exclusion => {
                    409
                }
                ConstraintKind::Check | ConstraintKind::NotNull => 400,
            },
            Error::NotFound { .. } => 404,
            Error::Connection { .. } => 503,
            Error::Timeout { .. } => 504,
            Error::Seed { source, .. } => source.status(),
            _ => 500,
        }
    }

    /// The SQLSTATE the server sent, if this error came from the server.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            // A client-side failure (serializing a parameter) has no SQLSTATE.
            Error::Query(e) if e.sqlstate.is_empty() => None,
            Error::Query(e) => Some(&e.sqlstate),
            Error::Constraint(v) => match &v.source {
                Some(source) => source.code().map(|c| c.code()),
                None => Some(v.kind.sqlstate()),
            },
            Error::Timeout {
                source: Some(s), ..
            }
            | Error::Connection {
                source: Some(s), ..
            } => s
                .downcast_ref::<tokio_postgres::Error>()
                .and_then(|e| e.code())
                .map(|c| c.code()),
            _ => None,
        }
    }

    /// Whether running the same transaction again may succeed: serialization failures
    /// (40001) and deadlocks (40P01).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Query(e) if is_retryable_state(&e.sqlstate))
    }

    /// The constraint violation, if this is one.
    pub fn as_constraint(&self) -> Option<&ConstraintViolation> {
        match self {
            Error::Constraint(v) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn decode(column: &str, source: tokio_postgres::Error) -> Error {
        let message = match std::error::Error::source(&source) {
            Some(inner) => inner.to_string(),
            None => source.to_string(),
        };
        Error::Decode {
            column: column.to_string(),
            message,
            source: Some(Box::new(source)),
        }
    }

    /// A value of `column` that its Rust type could not take.
    pub(crate) fn decode_value(column: &str, source: BoxError) -> Error {
        Error::Decode {
            column: column.to_string(),
            message: source.to_string(),
            source: Some(source),
        }
    }

    pub(crate) fn connection(message: impl Into<String>, source: Option<BoxError>) -> Error {
        Error::Connection {
            kind: ConnectionKind::Other,
            message: message.into(),
            source,
        }
    }

    /// A failure to open a connection to `target` (`host:port`): the driver's error, classified,
    /// with the target and the innermost cause in the message.
    pub(crate) fn connect_failed(target: &str, err: tokio_postgres::Error) -> Error {
        match Error::from(err) {
            Error::Connection {
                kind,
                message,
                source,
            } => {
                let cause = source
                    .as_deref()
                    .map(|e| innermost(e))
                    .filter(|c| !message.contains(c.as_str()))
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                Error::Connection {
                    kind,
                    message: format!("cannot connect to {target}: {message}{cause}"),
                    source,
                }
            }
            Error::Timeout {
                kind,
                message,
                source,
            } => Error::Timeout {
                kind,
                message: format!("cannot connect to {target}: {message}"),
                source,
            },
            other => other,
        }
    }
}

/// Why a connection failed: [`Error::Connection`]'s `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionKind {
    /// Nothing listens on the host and port (`connection_refused`).
    Refused,
    /// The host name does not resolve (`host_not_found`).
    HostNotFound,
    /// TLS could not be set up: the server does not offer it, or its certificate was not
    /// trusted (`tls`).
    Tls,
    /// Wrong password or no such role (SQLSTATE 28P01, 28000; `auth_failed`).
    AuthFailed,
    /// No such database (3D000; `database_not_found`).
    DatabaseNotFound,
    /// The server has no free connection slots (53300; `too_many_connections`).
    TooManyConnections,
    /// The server is shutting down or restarting (57P01–57P03; `server_shutdown`).
    ServerShutdown,
    /// The connection was closed under a statement (`connection_closed`).
    Closed,
    /// Anything else: a broken socket, a protocol error, a closed pool (`connection`).
    Other,
}

impl ConnectionKind {
    /// The stable code: `connection_refused`, `host_not_found`, `tls`, `auth_failed`,
    /// `database_not_found`, `too_many_connections`, `server_shutdown`, `connection_closed`,
    /// `connection`.
    pub fn code(self) -> &'static str {
        match self {
            ConnectionKind::Refused => "connection_refused",
            ConnectionKind::HostNotFound => "host_not_found",
            ConnectionKind::Tls => "tls",
            ConnectionKind::AuthFailed => "auth_failed",
            ConnectionKind::DatabaseNotFound => "database_not_found",
            ConnectionKind::TooManyConnections => "too_many_connections",
            ConnectionKind::ServerShutdown => "server_shutdown",
            ConnectionKind::Closed => "connection_closed",
            ConnectionKind::Other => "connection",
        }
    }
}

// The deepest source's text: the OS's or the TLS library's own words.
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn is_retryable_state(state: &str) -> bool {
    state == "40001" || state == "40P01"
}

/// The one SQLSTATE -> variant mapping.
impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Error {
        let Some(db) = err.as_db_error() else {
            if err.is_closed() {
                return Error::Connection {
                    kind: ConnectionKind::Closed,
                    message: "the connection is closed".into(),
                    source: Some(Box::new(err)),
                };
            }
            // Errors without SQLSTATE are I/O, TLS, protocol, or client-side conversion failures.
            let text = err.to_string();
            let cause = std::error::Error::source(&err);
            let io = cause
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .map(|e| e.kind());
            let cause_text = cause.map(innermost).unwrap_or_default();
            let kind = if text.contains("TLS") || text.contains("tls") {
                Some(ConnectionKind::Tls)
            } else if io == Some(std::io::ErrorKind::ConnectionRefused) {
                Some(ConnectionKind::Refused)
            } else if cause_text.contains("lookup address")
                || cause_text.contains("Name or service not known")
                || cause_text.contains("nodename nor servname")
                || cause_text.contains("No address associated")
            {
                Some(ConnectionKind::HostNotFound)
            } else if io.is_some()
                || text.starts_with("error connecting")
                || text.starts_with("timeout")
                || text.contains("connection")
            {
                Some(ConnectionKind::Other)
            } else {
                None
            };
            return match (io, kind) {
                (Some(std::io::ErrorKind::TimedOut), _) => Error::Timeout {
                    kind: TimeoutKind::Connect,
                    message: text,
                    source: Some(Box::new(err)),
                },
                (_, Some(kind)) => Error::Connection {
                    kind,
                    message: text,
                    source: Some(Box::new(err)),
                },
                // Client side: a parameter that would not serialize, a wrong parameter count.
                (_, None) => Error::Query(ServerError {
                    sqlstate: "".into(),
                    message: text.into(),
                    detail: None,
                    hint: None,
                    source: err,
                }),
            };
        };
        let state = db.code().code();
        let kind = match state {
            "23505" => Some(ConstraintKind::Unique),
            "23503" => Some(ConstraintKind::ForeignKey),
            "23514" => Some(ConstraintKind::Check),
            "23502" => Some(ConstraintKind::NotNull),
            "23P01" => Some(ConstraintKind::Exclusion),
            _ => None,
        };
        if let Some(kind) = kind {
            return Error::Constraint(ConstraintViolation {
                kind,
                constraint: db.constraint().map(Into::into),
                schema: db.schema().map(Into::into),
                table: db.table().map(Into::into),
                column: db.column().map(Into::into),
                detail: db.detail().map(Into::into),
                source: Some(err),
            });
        }
        let message = db.message().to_string();
        match state {
            "57014" => Error::Timeout {
                kind: TimeoutKind::Statement,
                message,
                source: Some(Box::new(err)),
            },
            "55P03" => Error::Timeout {
                kind: TimeoutKind::Lock,
                message,
                source: Some(Box::new(err)),
            },
            "57P01" | "57P02" | "57P03" => Error::Connection {
                kind: ConnectionKind::ServerShutdown,
                message,
                source: Some(Box::new(err)),
            },
            "28P01" | "28000" => Error::Connection {
                kind: ConnectionKind::AuthFailed,
                message,
                source: Some(Box::new(err)),
            },
            "3D000" => Error::Connection {
                kind: ConnectionKind::DatabaseNotFound,
                message,
                source: Some(Box::new(err)),
            },
            "53300" => Error::Connection {
                kind: ConnectionKind::TooManyConnections,
                message,
                source: Some(Box::new(err)),
            },
            s if s.starts_with("08") => Error::connection(message, Some(Box::new(err))),
            _ => Error::Query(ServerError {
                sqlstate: state.into(),
                detail: db.detail().map(Into::into),
                hint: db.hint().map(Into::into),
                message: message.into(),
                source: err,
            }),
        }
    }
}

impl From<deadpool::managed::PoolError<Error>> for Error {
    fn from(err: deadpool::managed::PoolError<Error>) -> Error {
        use deadpool::managed::{PoolError, TimeoutType};
        match err {
            // Connect failures are classified and name the server already.
            PoolError::Backend(e) => e,
            PoolError::Timeout(TimeoutType::Wait) => Error::Timeout {
                kind: TimeoutKind::PoolWait,
                message: "no pooled connection became free within the wait timeout".into(),
                source: None,
            },
            PoolError::Timeout(TimeoutType::Create) => Error::Timeout {
                kind: TimeoutKind::Connect,
                message: "could not connect within the connect timeout".into(),
                source: None,
            },
            PoolError::Timeout(TimeoutType::Recycle) => Error::Timeout {
                kind: TimeoutKind::Connect,
                message: "checking a pooled connection took longer than the connect timeout".into(),
                source: None,
            },
            PoolError::Closed => Error::connection("the pool is closed", None),
            other => Error::connection(other.to_string(), None),
        }
    }
}
