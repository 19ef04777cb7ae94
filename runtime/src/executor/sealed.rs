//! The private half of [`Executor`](super::Executor): how a call reaches its connection.
//! Outside this crate it can be neither named nor implemented, which is what seals `Executor`.
use std::future::Future;
use std::pin::Pin;

use tokio_postgres::types::{Type, WrongType};
use tokio_postgres::{Client, Row, Statement};

use super::{Param, RowStream};
use crate::error::{Error, Result};
use crate::pool::{Conn, Object, StatementCache};
use crate::trace::{self, Peer, Rows};

pub trait Sealed {
    /// The connection statements run on; for a pool, a checkout.
    fn session(&self) -> impl Future<Output = Result<Session<'_>>> + Send;

    /// Whether a call that finds its connection lost may run again on a fresh session: only
    /// for reads on replicas, where nothing can have been written.
    fn reruns_on_lost_connection(&self) -> bool {
        false
    }
}

impl<E: Sealed + Sync + ?Sized> Sealed for &E {
    fn session(&self) -> impl Future<Output = Result<Session<'_>>> + Send {
        (**self).session()
    }

    fn reruns_on_lost_connection(&self) -> bool {
        (**self).reruns_on_lost_connection()
    }
}

/// An executor with its type erased: what the typed operations' cores take, so that one copy of
/// each serves every executor (and every table), instead of one per executor type each table
/// is used with. `&impl Executor` turns into `&dyn Reach` at a call; `dyn Reach` is an
/// [`Executor`](super::Executor) itself. Reaching a session costs one boxed future.
pub trait Reach: Sync {
    /// [`Sealed::session`], boxed.
    fn reach(&self) -> Pin<Box<dyn Future<Output = Result<Session<'_>>> + Send + '_>>;

    /// [`Sealed::reruns_on_lost_connection`].
    fn reruns(&self) -> bool;
}

impl<E: Sealed + Sync> Reach for E {
    fn reach(&self) -> Pin<Box<dyn Future<Output = Result<Session<'_>>> + Send + '_>> {
        Box::pin(self.session())
    }

    fn reruns(&self) -> bool {
        self.reruns_on_lost_connection()
    }
}

impl Sealed for dyn Reach + '_ {
    fn session(&self) -> impl Future<Output = Result<Session<'_>>> + Send {
        self.reach()
    }

    fn reruns_on_lost_connection(&self) -> bool {
        self.reruns()
    }
}

/// How many times a call may run again after finding its connection lost (the other idle
/// connections to a server that went away are discarded at checkout once their tasks have
/// seen the end, which the failed call gives them time to).
pub(crate) const LOST_CONNECTION_RERUNS: u32 = 2;

/// Runs `$body` with `$session` bound to a session of `$db`; an executor that allows it (a
/// replica) runs the body again on a fresh session when the connection turned out lost.
macro_rules! with_session {
    ($db:expr, |$session:ident| $body:expr) => {{
        let mut reruns = 0;
        loop {
            let $session = $crate::executor::Sealed::session($db).await?;
            match $body {
                Err(e)
                    if reruns < $crate::executor::LOST_CONNECTION_RERUNS
                        && e.is_lost_connection()
                        && $crate::executor::Sealed::reruns_on_lost_connection($db) =>
                {
                    reruns += 1;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use with_session;

/// The connection one call runs on. Opaque outside this crate.
pub struct Session<'a>(pub(crate) Kind<'a>);

// Pooled is the large variant and the common one; boxing it would cost an allocation per
// call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Kind<'a> {
    Borrowed {
        client: &'a Client,
        cache: Option<&'a StatementCache>,
        peer: Option<&'a Peer>,
        in_transaction: bool,
    },
    Pooled(Object),
    Mock(&'a dyn crate::op::Scripted),
}

/// A client for work that must keep one connection to itself (the migration lock): a
/// pooled connection is taken out of the pool for good, so whatever happens (even a
/// cancelled future) it is closed instead of going back with a lock held.
// Made once per migration run; boxing the owned connection would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Dedicated<'a> {
    Owned(Conn),
    /// The caller's connection, and whether its statement cache names statements.
    Borrowed(&'a Client, bool),
}

impl Dedicated<'_> {
    /// Whether session settings stay on this connection: not when its pool is set up for a
    /// transaction-mode pooler (statement cache size 0), where a `SET` outside a transaction
    /// lands on whichever server connection the pooler picks, and stays there for others.
    pub(crate) fn keeps_session_settings(&self) -> bool {
        match self {
            Dedicated::Owned(c) => c.cache.names_statements(),
            Dedicated::Borrowed(_, names) => *names,
        }
    }
}

impl std::ops::Deref for Dedicated<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        match self {
            Dedicated::Owned(c) => &c.client,
            Dedicated::Borrowed(c, _) => c,
        }
    }
}

/// How one statement goes out: a cached named statement, or the unnamed statement with the
/// parameter types (statement cache size 0, for transaction-mode poolers).
pub(crate) enum Plan<'p> {
    Named(Statement),
    Unnamed(Vec<(Param<'p>, Type)>),
}

impl<'a> Session<'a> {
    pub(crate) fn borrowed(
        client: &'a Client,
        cache: Option<&'a StatementCache>,
        peer: Option<&'a Peer>,
        in_transaction: bool,
    ) -> Session<'a> {
        Session(Kind::Borrowed {
            client,
            cache,
            peer,
            in_transaction,
        })
    }

    /// A session on a connection of the pool's kind (its cache and peer with it).
    pub(crate) fn on_conn(conn: &'a Conn, in_transaction: bool) -> Session<'a> {
        Session::borrowed(
            &conn.client,
            Some(&conn.cache),
            Some(&conn.peer),
            in_transaction,
        )
    }

    pub(crate) fn pooled(object: Object) -> Session<'a> {
        Session(Kind::Pooled(object))
    }

    pub(crate) fn mock(mock: &'a dyn crate::op::Scripted) -> Session<'a> {
        Session(Kind::Mock(mock))
    }

    pub(crate) fn in_transaction(&self) -> bool {
        matches!(
            self.0,
            Kind::Borrowed {
                in_transaction: true,
                ..
            }
        )
    }

    /// The mock this session answers from, if it is one.
    pub(crate) fn as_mock(&self) -> Option<&'a dyn crate::op::Scripted> {
        match self.0 {
            Kind::Mock(mock) => Some(mock),
            _ => None,
        }
    }

    /// The same connection, borrowed, as seen from inside a transaction on it.
    pub(crate) fn in_transaction_view(&self) -> Session<'_> {
        match &self.0 {
            Kind::Borrowed {
                client,
                cache,
                peer,
                ..
            } => Session::borrowed(client, *cache, *peer, true),
            Kind::Pooled(object) => Session::on_conn(object, true),
            Kind::Mock(mock) => Session(Kind::Mock(*mock)),
        }
    }

    /// A client of its own for the migration runner and test support; an error naming
    /// `what` on a mock.
    // `what` names the caller in the mock's error.
    pub(crate) fn dedicated(self, what: &str) -> Result<Dedicated<'a>> {
        let names = self.names_statements();
        match self.0 {
            Kind::Pooled(object) => Ok(Dedicated::Owned(Object::take(object))),
            Kind::Borrowed { client, .. } => Ok(Dedicated::Borrowed(client, names)),
            Kind::Mock(_) => Err(needs_database(what)),
        }
    }

    /// Whether statements are prepared by name on this connection (not at statement cache size
    /// 0, the transaction-mode pooler setting).
    pub(crate) fn names_statements(&self) -> bool {
        self.cache().is_none_or(StatementCache::names_statements)
    }

    /// The connection's client; an error naming `what` on a mock.
    pub(crate) fn real_client(&self, what: &str) -> Result<&Client> {
        self.client().ok_or_else(|| needs_database(what))
    }

    fn client(&self) -> Option<&Client> {
        match &self.0 {
            Kind::Borrowed { client, .. } => Some(client),
            Kind::Pooled(object) => Some(&object.client),
            Kind::Mock(_) => None,
        }
    }

    fn peer(&self) -> Option<&Peer> {
        match &self.0 {
            Kind::Borrowed { peer, .. } => *peer,
            Kind::Pooled(object) => Some(&object.peer),
            Kind::Mock(_) => None,
        }
    }

    fn cache(&self) -> Option<&StatementCache> {
        match &self.0 {
            Kind::Borrowed { cache, .. } => *cache,
            Kind::Pooled(object) => Some(&object.cache),
            Kind::Mock(_) => None,
        }
    }

    async fn prepare(&self, client: &Client, sql: &str) -> Result<Statement> {
        match self.cache() {
            Some(cache) => match cache.get(sql) {
                Some(stmt) => Ok(stmt),
                None => {
                    let stmt = client.prepare(sql).await?;
                    cache.insert(sql, stmt.clone());
                    Ok(stmt)
                }
            },
            None => Ok(client.prepare(sql).await?),
        }
    }

    /// The parameters with the types they go out as on the unnamed-statement path: those the
    /// values name (built-in types), and for the others the type the SQL text casts them to,
    /// looked up on the server once per text (`$1::hstore`, `$2::"app"."state"`).
    async fn typed<'p>(
        client: &Client,
        cache: &StatementCache,
        sql: &str,
        params: &[Param<'p>],
    ) -> Result<Vec<(Param<'p>, Type)>> {
        let types = match cache.param_types(sql, params) {
            Ok(types) => types,
            Err(partial) => {
                let mut types = Vec::with_capacity(partial.len());
                for (i, ty) in partial.into_iter().enumerate() {
                    types.push(match ty {
                        Some(ty) => ty,
                        None => crate::pool::server_type(client, sql, i + 1, params[i]).await?,
                    });
                }
                let types: std::sync::Arc<[Type]> = types.into();
                cache.remember_types(sql, types.clone());
                types
            }
        };
        Ok(params.iter().copied().zip(types.iter().cloned()).collect())
    }

    /// Runs `op` on the cached statement for `sql` (or, at cache size 0, on the unnamed
    /// statement with the parameters' types). When the server says the cached plan no longer
    /// fits (a column changed type since it was prepared, e.g. by a migration), the statement
    /// is dropped from the cache and, outside a transaction, prepared again and run once more;
    /// inside one the error stands (the transaction is aborted), but the next attempt prepares
    /// afresh.
    async fn run<'c, 'p, T, F, Fut>(&'c self, sql: &str, params: &[Param<'p>], op: F) -> Result<T>
    where
        F: Fn(&'c Client, Plan<'p>) -> Fut,
        Fut: Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    {
        let Some(client) = self.client() else {
            return Err(self.raw_on_mock(sql, params));
        };
        if let Some(cache) = self.cache().filter(|c| !c.names_statements()) {
            let typed = Session::typed(client, cache, sql, params).await?;
            return match op(client, Plan::Unnamed(typed)).await {
                // The values' types changed since this text's types were remembered.
                Err(e) if std::error::Error::source(&e).is_some_and(|s| s.is::<WrongType>()) => {
                    cache.forget_types(sql);
                    let typed = Session::typed(client, cache, sql, params).await?;
                    Ok(op(client, Plan::Unnamed(typed)).await?)
                }
                other => Ok(other?),
            };
        }
        let stmt = self.prepare(client, sql).await?;
        match op(client, Plan::Named(stmt)).await {
            Err(e) if is_stale_plan(&e) => {
                self.forget(sql);
                if self.in_transaction() {
                    return Err(e.into());
                }
                let stmt = self.prepare(client, sql).await?;
                Ok(op(client, Plan::Named(stmt)).await?)
            }
            other => Ok(other?),
        }
    }

    fn raw_on_mock(&self, sql: &str, params: &[Param<'_>]) -> Error {
        if let Kind::Mock(mock) = &self.0 {
            return mock.raw_statement(sql, params);
        }
        let _ = (sql, params);
        Error::Config("no connection".into())
    }

    fn forget(&self, sql: &str) {
        if let Some(cache) = self.cache() {
            cache.remove(sql);
        }
    }

    pub(crate) async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let run = self.run(sql, params, |client, plan| async move {
            match plan {
                Plan::Named(stmt) => client.query(&stmt, params).await,
                Plan::Unnamed(typed) => client.query_typed(sql, &typed).await,
            }
        });
        trace::statement(self.peer(), sql, run, |rows| Rows::Returned(rows.len())).await
    }

    pub(crate) async fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        let run = self.run(sql, params, |client, plan| async move {
            match plan {
                Plan::Named(stmt) => client.query_opt(&stmt, params).await,
                Plan::Unnamed(typed) => client.query_typed_opt(sql, &typed).await,
            }
        });
        trace::statement(self.peer(), sql, run, |row| {
            Rows::Returned(usize::from(row.is_some()))
        })
        .await
    }

    pub(crate) async fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        if let Kind::Mock(mock) = &self.0 {
            return mock.answer_count("", crate::op::Op::Execute, sql, params);
        }
        let run = self.run(sql, params, |client, plan| async move {
            match plan {
                Plan::Named(stmt) => client.execute(&stmt, params).await,
                Plan::Unnamed(typed) => client.execute_typed(sql, &typed).await,
            }
        });
        trace::statement(self.peer(), sql, run, |n| Rows::Affected(*n)).await
    }

    pub(crate) async fn query_stream<'s>(
        self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<RowStream<'s>>
    where
        'a: 's,
    {
        let run = self.raw_stream(sql, params);
        let inner = trace::statement(self.peer(), sql, run, |_| Rows::Unknown).await?;
        let conn = match self.0 {
            Kind::Pooled(object) => Some(object),
            _ => None,
        };
        Ok(RowStream::new(inner, conn))
    }

    async fn raw_stream(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<tokio_postgres::RowStream> {
        self.run(sql, params, |client, plan| async move {
            match plan {
                Plan::Named(stmt) => client.query_raw(&stmt, params.iter().copied()).await,
                Plan::Unnamed(typed) => client.query_typed_raw(sql, typed).await,
            }
        })
        .await
    }

    /// Runs a row-returning statement and hands each row to `each` as it arrives (no `Vec` of
    /// rows in between); the statement's span covers the whole read. Returns the row count.
    pub(crate) async fn query_each(
        &self,
        sql: &str,
        params: &[Param<'_>],
        mut each: impl FnMut(Row) -> Result<()> + Send,
    ) -> Result<usize> {
        let run = async {
            let mut stream = std::pin::pin!(self.raw_stream(sql, params).await?);
            let mut n = 0;
            while let Some(row) = futures_util::TryStreamExt::try_next(&mut stream).await? {
                each(row)?;
                n += 1;
            }
            Ok(n)
        };
        trace::statement(self.peer(), sql, run, |n| Rows::Returned(*n)).await
    }

    pub(crate) async fn batch_execute(&self, sql: &str) -> Result<()> {
        match self.client() {
            Some(client) => {
                let run = async { Ok(client.batch_execute(sql).await?) };
                trace::statement(self.peer(), sql, run, |_| Rows::Unknown).await
            }
            None => self.execute(sql, &[]).await.map(drop),
        }
    }
}

/// A transaction for work that runs through other code (seeds): `BEGIN` ... `COMMIT`, or a
/// savepoint when the session is in a transaction already, or nothing on a mock. A pooled
/// connection whose scope is dropped unfinished (an error, a cancelled future) is closed
/// instead of going back to the pool mid-transaction.
pub(crate) struct TxScope<'a> {
    session: Option<Session<'a>>,
    commit: &'static str,
    rollback: &'static str,
}

impl<'a> Session<'a> {
    pub(crate) async fn begin(self) -> Result<TxScope<'a>> {
        let (begin, commit, rollback) = if self.in_transaction() {
            (
                "SAVEPOINT skelly_scope",
                "RELEASE SAVEPOINT skelly_scope",
                "ROLLBACK TO SAVEPOINT skelly_scope",
            )
        } else {
            ("BEGIN", "COMMIT", "ROLLBACK")
        };
        let scope = TxScope {
            session: Some(self),
            commit,
            rollback,
        };
        scope.control(begin).await?;
        Ok(scope)
    }
}

impl TxScope<'_> {
    /// The session to run the work on, as seen inside the transaction.
    pub(crate) fn view(&self) -> Session<'_> {
        match &self.session {
            Some(session) => session.in_transaction_view(),
            // Only commit and rollback take the session, and they consume the scope.
            None => unreachable!("a finished scope is not used"),
        }
    }

    async fn control(&self, sql: &str) -> Result<()> {
        match self.session.as_ref().and_then(|s| s.client()) {
            Some(client) => Ok(client.batch_execute(sql).await?),
            // A mock has no transaction to control.
            None => Ok(()),
        }
    }

    pub(crate) async fn commit(mut self) -> Result<()> {
        self.control(self.commit).await?;
        self.session = None;
        Ok(())
    }

    pub(crate) async fn rollback(mut self) -> Result<()> {
        self.control(self.rollback).await?;
        self.session = None;
        Ok(())
    }
}

impl Drop for TxScope<'_> {
    fn drop(&mut self) {
        if let Some(Session(Kind::Pooled(object))) = self.session.take() {
            drop(Object::take(object));
        }
    }
}

fn needs_database(what: &str) -> Error {
    Error::Mock(format!(
        "{what} needs a real database; MockDb only answers typed table operations"
    ))
}

fn is_stale_plan(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        *db.code() == tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED
            && db
                .message()
                .contains("cached plan must not change result type")
    })
}
