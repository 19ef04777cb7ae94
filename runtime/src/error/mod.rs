//! The one error type of skelly-db, and the one place that maps SQLSTATE codes to it.

use std::fmt;

mod connection;
mod map;
mod migration;
mod server;
mod web;

pub use connection::ConnectionKind;
pub use migration::MigrationError;
pub use server::{ConstraintKind, ConstraintViolation, ServerError};
pub use web::Problem;

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
/// use skelly_db::{ConstraintKind, ConstraintViolation, Error, Table};
///
/// #[derive(Table)]
/// #[table(schema = "user")]
/// pub struct User {
///     pub id: uuid::Uuid,
///     #[table(unique)]
///     pub email: String,
/// }
///
/// fn to_response(err: &Error) -> (u16, String) {
///     match err {
///         // A constraint of the struct, by its constant.
///         e if e.violates(User::EMAIL_KEY) => (409, "this email is taken".into()),
///         // Any other unique: the columns it covers (from the struct, or the server's detail).
///         Error::Constraint(v) if v.kind == ConstraintKind::Unique => {
///             (409, format!("{} is taken", v.columns.join(", ")))
///         }
///         other => (other.status(), other.code().to_string()),
///     }
/// }
/// let taken = Error::Constraint(ConstraintViolation::new(ConstraintKind::Unique, "users_email_key"));
/// assert_eq!(to_response(&taken), (409, "this email is taken".to_string()));
/// let mut other = ConstraintViolation::new(ConstraintKind::Unique, "users_handle_key");
/// other.columns = vec!["handle".into()];
/// assert_eq!(to_response(&Error::Constraint(other)), (409, "handle is taken".to_string()));
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
    /// [`Pool::transaction`](crate::Pool::transaction) ran out of attempts: every one failed
    /// with a serialization failure or a deadlock. `code()` and `status()` are the last
    /// failure's.
    #[error("transaction failed after {attempts} attempts: {source}")]
    Retried {
        /// How many times the transaction ran.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        source: Box<Error>,
    },
    /// An update by key on a versioned table (`#[table(version)]`) found the row at another
    /// version than the caller read: another update came first. Read the row again.
    #[error("stale version: {table} row {key} is at version {found}, not {expected}; another update came first, read the row again")]
    StaleVersion {
        /// The qualified table name.
        table: String,
        /// The row's key, as written in Rust.
        key: String,
        /// The version the caller gave.
        expected: String,
        /// The version the row has.
        found: i64,
    },
    /// A `MockDb` was asked for something its script does not answer; the
    /// message names the operation, the table and the statement.
    #[error("mock: {0}")]
    Mock(String),
    /// A page cursor that is not one this query gave out: edited, cut, or from another query.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
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
            Error::StaleVersion { .. } => "stale_version",
            Error::InvalidCursor(_) => "invalid_cursor",
            Error::Seed { source, .. } | Error::Retried { source, .. } => source.code(),
        }
    }

    /// An HTTP-style status: 409 unique, foreign key or exclusion (all three are conflicts with
    /// other rows), 404 not found, 400 check or not-null or an invalid cursor, 503 connection, 504 timeout, 500
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
            Error::StaleVersion { .. } => 409,
            Error::InvalidCursor(_) => 400,
            Error::Connection { .. } => 503,
            Error::Timeout { .. } => 504,
            Error::Seed { source, .. } | Error::Retried { source, .. } => source.status(),
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

    /// Whether the connection was lost under the call (closed, or the server shut down).
    pub(crate) fn is_lost_connection(&self) -> bool {
        matches!(
            self,
            Error::Connection {
                kind: ConnectionKind::Closed | ConnectionKind::ServerShutdown,
                ..
            }
        )
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
        // The server asked for a password and the configuration has none.
        let says = |text: &str| {
            err.to_string().contains(text)
                || std::error::Error::source(&err).is_some_and(|s| s.to_string().contains(text))
        };
        if err.as_db_error().is_none() && says("password missing") {
            return Error::Connection {
                kind: ConnectionKind::AuthFailed,
                message: format!(
                    "cannot connect to {target}: the server asks for a password and none was \
                     given; put it in the connection string (postgres://user:password@host/db), \
                     in PGPASSWORD, or in the password file (~/.pgpass, or the file PGPASSFILE \
                     names)"
                ),
                source: Some(Box::new(err)),
            };
        }
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

#[cfg(test)]
mod tests;
