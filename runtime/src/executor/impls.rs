//! `Executor` for the pool's types and the plain tokio-postgres client. Here rather than in
//! `pool`, so that the pool does not depend on the executor (the executor runs on the pool's
//! connections).

use super::{Sealed, Session};
use crate::error::Result;
use crate::pool::{Connection, DetachedConnection, Pool, Replica, Transaction};

impl Sealed for Pool {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::pooled(self.checkout().await?))
    }
}

impl Sealed for Replica {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::pooled(self.checkout().await?))
    }

    fn reruns_on_lost_connection(&self) -> bool {
        true
    }
}

impl Sealed for Connection {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::on_conn(&self.inner, false))
    }
}

impl Sealed for DetachedConnection {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::on_conn(&self.inner, false))
    }
}

impl Sealed for Transaction<'_> {
    async fn session(&self) -> Result<Session<'_>> {
        // Statements on the transaction's client run inside the transaction: it is server state.
        Ok(Session::borrowed(
            self.inner.client(),
            Some(self.cache),
            Some(self.peer),
            true,
        ))
    }
}

impl Sealed for tokio_postgres::Client {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::borrowed(self, None, None, false))
    }
}
