//! The one place that maps driver, server and pool errors to [`Error`]: a single match on
//! SQLSTATE.

use super::{
    innermost, ConnectionKind, ConstraintKind, ConstraintViolation, Error, ServerError, TimeoutKind,
};

/// The one SQLSTATE -> variant mapping.
impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Error {
        let error = map(err);
        // A transaction closure may turn it into its own error type: what the database said
        // is kept beside, for the retry decision and the span.
        crate::pool::note_failure(&error);
        error
    }
}

fn map(err: tokio_postgres::Error) -> Error {
    {
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
            // The statement could not even be written: a NUL byte in the SQL text (or in a name
            // sent as text). The text is wrong, not the connection.
            if io == Some(std::io::ErrorKind::InvalidInput) && cause_text.contains("null") {
                return Error::Query(ServerError {
                    sqlstate: "".into(),
                    message: "the SQL text contains a NUL byte (\\0), which PostgreSQL does not \
                              accept in a statement; remove it, or pass the value as a parameter"
                        .into(),
                    detail: None,
                    hint: None,
                    source: err,
                });
            }
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
            let columns = match (db.column(), db.detail()) {
                (Some(column), _) => vec![column.to_string()],
                (None, Some(detail)) => key_columns(detail),
                (None, None) => Vec::new(),
            };
            return Error::Constraint(ConstraintViolation {
                kind,
                constraint: db.constraint().map(Into::into),
                schema: db.schema().map(Into::into),
                table: db.table().map(Into::into),
                column: db.column().map(Into::into),
                columns,
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
            // A named statement of the driver's ("s12") missing or already there: the work of a
            // transaction-mode pooler handing each transaction another server connection.
            "42P05" | "26000" if names_driver_statement(&message) => Error::Query(ServerError {
                sqlstate: state.into(),
                detail: db.detail().map(Into::into),
                hint: db.hint().map(Into::into),
                message: format!(
                    "{message}; a transaction-mode pooler (PgBouncer, Supavisor, RDS Proxy) sends \
                     each transaction to another server connection, where the prepared \
                     statements of this one are missing or taken: set \
                     DATABASE_STATEMENT_CACHE_SIZE=0 (PoolConfig::statement_cache_size(0)) for \
                     connections through it"
                )
                .into(),
                source: err,
            }),
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

/// The columns of a `Key (a, b)=(...)` detail (unique, foreign-key and exclusion violations);
/// none when the key is an expression (`Key (lower(email))=...`).
pub(crate) fn key_columns(detail: &str) -> Vec<String> {
    let Some(rest) = detail.strip_prefix("Key (") else {
        return Vec::new();
    };
    let Some((inside, _)) = rest.split_once(")=(") else {
        return Vec::new();
    };
    if inside.contains('(') {
        return Vec::new();
    }
    inside
        .split(", ")
        .map(|c| c.trim_matches('"').to_string())
        .collect()
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

/// Whether a server message is about one of tokio-postgres's named statements (`s` and digits).
fn names_driver_statement(message: &str) -> bool {
    message
        .split('"')
        .nth(1)
        .and_then(|name| name.strip_prefix('s'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && message.starts_with("prepared statement")
}
