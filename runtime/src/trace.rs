//! Tracing (feature `tracing`, on by default): a span per statement with OpenTelemetry's
//! database attributes, a warning for slow statements, spans for pool checkouts,
//! transactions and migrations. Without a subscriber interested in them the spans are never
//! built: one atomic load per statement.
//!
//! Targets, for filters: `skelly_db::statement` (statement spans, INFO), `skelly_db::slow`
//! (slow statement warnings, WARN), `skelly_db::pool` (checkout spans and replica fallbacks,
//! DEBUG), `skelly_db::transaction` and `skelly_db::migrate` (INFO).

use std::future::Future;
use std::time::Duration;

/// What a statement's span says about where it ran: the server, the database, and the
/// slow-statement threshold. One per connection.
#[derive(Debug, Clone, Default)]
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) struct Peer {
    pub(crate) database: String,
    pub(crate) address: String,
    pub(crate) port: u16,
    pub(crate) slow: Option<Duration>,
}

impl Peer {
    pub(crate) fn new(pg: &tokio_postgres::Config, slow: Option<Duration>) -> Peer {
        let address = match pg.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(name)) => name.clone(),
            Some(tokio_postgres::config::Host::Unix(dir)) => dir.display().to_string(),
            None => String::new(),
        };
        Peer {
            database: pg
                .get_dbname()
                .or(pg.get_user())
                .unwrap_or_default()
                .to_string(),
            address,
            port: pg.get_ports().first().copied().unwrap_or(5432),
            slow,
        }
    }
}

/// How many rows a statement returned or affected, for its span.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) enum Rows {
    Returned(usize),
    Affected(u64),
    /// A stream: known only when it has been read.
    Unknown,
}

/// The operation (`SELECT`, `INSERT`, ...) and the first table a statement names, as
/// OpenTelemetry's `db.operation.name` and `db.collection.name` want them (`user.users`,
/// quotes removed). Read from the text only when a subscriber wants the span.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) fn summarize(sql: &str) -> (String, Option<String>) {
    let words = || sql.split_ascii_whitespace();
    let Some(first) = words().next() else {
        return (String::new(), None);
    };
    let operation = first.trim_end_matches(';').to_ascii_uppercase();
    // The word after which the table comes, per operation.
    let after = match operation.as_str() {
        "SELECT" | "DELETE" => "FROM",
        "INSERT" => "INTO",
        "UPDATE" | "COPY" | "TRUNCATE" => first,
        _ => return (operation, None),
    };
    let mut words = words()
        .skip_while(|w| !w.eq_ignore_ascii_case(after))
        .skip(1);
    let mut table = words.next();
    if table.is_some_and(|t| t.eq_ignore_ascii_case("ONLY") || t.eq_ignore_ascii_case("TABLE")) {
        table = words.next();
    }
    (operation, table.and_then(table_name))
}

// `"user"."users"(a, b)` -> `user.users`; None for a subquery or a function call.
fn table_name(word: &str) -> Option<String> {
    let end = word.find(['(', ',', ';', ')']).unwrap_or(word.len());
    let name: String = word[..end].chars().filter(|c| *c != '"').collect();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$');
    valid.then_some(name)
}

/// Runs one statement inside its span; records the rows or the error, and warns when it was
/// slower than the connection's threshold. A combinator rather than an `async fn`, so that the
/// statement's future is stored once, not twice, in the caller's.
#[cfg(feature = "tracing")]
pub(crate) fn statement<'a, T, F>(
    peer: Option<&'a Peer>,
    sql: &'a str,
    run: F,
    rows: impl FnOnce(&T) -> Rows + 'a,
) -> impl Future<Output = crate::Result<T>> + 'a
where
    F: Future<Output = crate::Result<T>> + 'a,
{
    use futures_util::FutureExt as _;
    use tracing::field::Empty;
    use tracing::Instrument as _;

    let span = tracing::info_span!(
        target: "skelly_db::statement",
        "db.statement",
        otel.name = Empty,
        otel.kind = "client",
        db.system.name = "postgresql",
        db.namespace = Empty,
        db.collection.name = Empty,
        db.operation.name = Empty,
        db.query.text = sql,
        server.address = Empty,
        server.port = Empty,
        db.response.returned_rows = Empty,
        db.response.affected_rows = Empty,
        db.response.status_code = Empty,
        error.type = Empty,
    );
    let traced = !span.is_disabled();
    if traced {
        describe(&span, peer, sql);
    }
    let slow = peer.and_then(|p| p.slow);
    let start = slow.map(|_| std::time::Instant::now());
    run.instrument(span.clone()).map(move |result| {
        if traced {
            record(&span, &result, rows);
        }
        if let (Some(start), Some(slow)) = (start, slow) {
            warn_if_slow(&span, sql, start.elapsed(), slow);
        }
        result
    })
}

// The fields of a statement's span that are known before it runs.
#[cfg(feature = "tracing")]
fn describe(span: &tracing::Span, peer: Option<&Peer>, sql: &str) {
    let (operation, table) = summarize(sql);
    match &table {
        Some(table) => span.record("otel.name", format!("{operation} {table}")),
        None => span.record("otel.name", operation.as_str()),
    };
    span.record("db.operation.name", operation.as_str());
    if let Some(table) = &table {
        span.record("db.collection.name", table.as_str());
    }
    if let Some(peer) = peer {
        span.record("db.namespace", peer.database.as_str());
        span.record("server.address", peer.address.as_str());
        span.record("server.port", peer.port);
    }
}

// The fields known once it ran: rows, or the error.
#[cfg(feature = "tracing")]
fn record<T>(span: &tracing::Span, result: &crate::Result<T>, rows: impl FnOnce(&T) -> Rows) {
    match result {
        Ok(value) => match rows(value) {
            Rows::Returned(n) => {
                span.record("db.response.returned_rows", n);
            }
            Rows::Affected(n) => {
                span.record("db.response.affected_rows", n);
            }
            Rows::Unknown => {}
        },
        Err(e) => {
            span.record("error.type", e.code());
            if let Some(state) = e.sqlstate() {
                span.record("db.response.status_code", state);
            }
        }
    }
}

#[cfg(feature = "tracing")]
fn warn_if_slow(span: &tracing::Span, sql: &str, took: Duration, slow: Duration) {
    if took >= slow {
        tracing::warn!(
            target: "skelly_db::slow",
            parent: span,
            statement = sql,
            duration_ms = took.as_millis() as u64,
            threshold_ms = slow.as_millis() as u64,
            "slow statement: {} ms (threshold {} ms)",
            took.as_millis(),
            slow.as_millis(),
        );
    }
}

/// Runs a pool checkout inside a DEBUG span that records how long it waited.
#[cfg(feature = "tracing")]
pub(crate) fn checkout<'a, T>(
    server: impl FnOnce() -> String,
    get: impl Future<Output = crate::Result<T>> + 'a,
) -> impl Future<Output = crate::Result<T>> + 'a {
    use futures_util::FutureExt as _;
    use tracing::field::Empty;
    use tracing::Instrument as _;

    let span = tracing::debug_span!(
        target: "skelly_db::pool",
        "db.pool.checkout",
        db.client.connection.pool.name = Empty,
        wait_us = Empty,
        error.type = Empty,
    );
    let start = (!span.is_disabled()).then(|| {
        span.record("db.client.connection.pool.name", server());
        std::time::Instant::now()
    });
    get.instrument(span.clone()).map(move |got| {
        if let Some(start) = start {
            span.record("wait_us", start.elapsed().as_micros() as u64);
            if let Err(e) = &got {
                span.record("error.type", e.code());
            }
        }
        got
    })
}

/// Runs a [`Pool::transaction`](crate::Pool::transaction) (all its attempts) inside an INFO
/// span that records the attempts made.
#[cfg(feature = "tracing")]
pub(crate) async fn transaction<T>(
    isolation: &'static str,
    read_only: bool,
    work: impl Future<Output = (crate::Result<T>, u32)>,
) -> crate::Result<T> {
    use tracing::field::Empty;
    use tracing::Instrument as _;

    let span = tracing::info_span!(
        target: "skelly_db::transaction",
        "db.transaction",
        db.transaction.isolation = isolation,
        db.transaction.read_only = read_only,
        db.transaction.attempts = Empty,
        error.type = Empty,
    );
    let (result, attempts) = work.instrument(span.clone()).await;
    span.record("db.transaction.attempts", attempts);
    if let Err(e) = &result {
        span.record("error.type", e.code());
    }
    result
}

/// Runs one migration inside an INFO span naming it and its direction.
#[cfg(feature = "tracing")]
pub(crate) async fn migration<T>(
    id: &str,
    direction: &'static str,
    work: impl Future<Output = crate::Result<T>>,
) -> crate::Result<T> {
    use tracing::field::Empty;
    use tracing::Instrument as _;

    let span = tracing::info_span!(
        target: "skelly_db::migrate",
        "db.migration",
        migration.id = id,
        migration.direction = direction,
        error.type = Empty,
    );
    let result = work.instrument(span.clone()).await;
    if let Err(e) = &result {
        span.record("error.type", e.code());
    }
    result
}

/// Without the `tracing` feature: the checkout alone.
#[cfg(not(feature = "tracing"))]
pub(crate) fn checkout<F: Future>(_server: impl FnOnce() -> String, get: F) -> F {
    get
}

/// Without the `tracing` feature: the transaction alone.
#[cfg(not(feature = "tracing"))]
pub(crate) async fn transaction<T>(
    _isolation: &'static str,
    _read_only: bool,
    work: impl Future<Output = (crate::Result<T>, u32)>,
) -> crate::Result<T> {
    work.await.0
}

/// Without the `tracing` feature: the migration alone.
#[cfg(not(feature = "tracing"))]
pub(crate) async fn migration<T>(
    _id: &str,
    _direction: &'static str,
    work: impl Future<Output = crate::Result<T>>,
) -> crate::Result<T> {
    work.await
}

/// Without the `tracing` feature: the statement alone.
#[cfg(not(feature = "tracing"))]
pub(crate) fn statement<T, F: Future<Output = crate::Result<T>>>(
    _peer: Option<&Peer>,
    _sql: &str,
    run: F,
    _rows: impl FnOnce(&T) -> Rows,
) -> F {
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_and_table_come_from_the_text() {
        let cases = [
            (
                r#"SELECT "id", "email" FROM "user"."users" WHERE "id" = $1"#,
                ("SELECT", Some("user.users")),
            ),
            (
                r#"INSERT INTO "user"."users"("email") VALUES ($1) RETURNING *"#,
                ("INSERT", Some("user.users")),
            ),
            (
                r#"UPDATE "user"."users" SET "bio" = $2 WHERE "id" = $1"#,
                ("UPDATE", Some("user.users")),
            ),
            (
                r#"delete from public.t where x = $1"#,
                ("DELETE", Some("public.t")),
            ),
            ("SELECT 1", ("SELECT", None)),
            ("SELECT count(*) FROM (SELECT 1) s", ("SELECT", None)),
            (
                "COPY \"a\".\"b\" (x) FROM STDIN BINARY",
                ("COPY", Some("a.b")),
            ),
            ("TRUNCATE TABLE a.b", ("TRUNCATE", Some("a.b"))),
            ("BEGIN", ("BEGIN", None)),
            ("", ("", None)),
        ];
        for (sql, (operation, table)) in cases {
            let (op, t) = summarize(sql);
            assert_eq!((op.as_str(), t.as_deref()), (operation, table), "{sql}");
        }
    }
}
