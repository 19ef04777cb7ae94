//! [`ConnectionKind`]: why a connection failed.

/// Why a connection failed: [`Error::Connection`](super::Error::Connection)'s `kind`.
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
