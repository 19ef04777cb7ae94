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

#[cfg(feature = "tracing")]
use futures_util::future::Either;

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

    // The fields known before it runs, computed (the text parsed) only when a subscriber wants
    // the span, and given at creation: one call into the subscriber instead of one per field.
    let span = if tracing::span_enabled!(target: "skelly_db::statement", tracing::Level::INFO) {
        let (operation, table) = summarize(sql);
        let otel_name = match &table {
            Some(table) => format!("{operation} {table}"),
            None => operation.clone(),
        };
        tracing::info_span!(
            target: "skelly_db::statement",
            "db.statement",
            otel.name = otel_name,
            otel.kind = "client",
            db.system.name = "postgresql",
            db.namespace = peer.map(|p| p.database.as_str()),
            db.collection.name = table.as_deref(),
            db.operation.name = operation.as_str(),
            db.query.text = sql,
            server.address = peer.map(|p| p.address.as_str()),
            server.port = peer.map(|p| p.port),
            db.response.returned_rows = Empty,
            db.response.affected_rows = Empty,
            db.response.status_code = Empty,
            error.type = Empty,
        )
    } else {
        tracing::Span::none()
    };
    let traced = !span.is_disabled();
    // Timed only when a subscriber would take the warning: two clock reads saved otherwise.
    let slow = peer
        .and_then(|p| p.slow)
        .filter(|_| tracing::enabled!(target: "skelly_db::slow", tracing::Level::WARN));
    if !traced && slow.is_none() {
        // Nobody listens: the statement as it is, not even entering a disabled span per poll.
        return Either::Right(run);
    }
    let start = slow.map(|_| std::time::Instant::now());
    Either::Left(run.instrument(span.clone()).map(move |result| {
        if traced {
            record(&span, &result, rows);
        }
        if let (Some(start), Some(slow)) = (start, slow) {
            warn_if_slow(&span, sql, start.elapsed(), slow);
        }
        result
    }))
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

/// A checkout's span and when it started, when a subscriber wants it.
#[cfg(feature = "tracing")]
pub(crate) struct CheckoutSpan {
    span: tracing::Span,
    start: std::time::Instant,
}

/// Without the `tracing` feature there is none.
#[cfg(not(feature = "tracing"))]
pub(crate) enum CheckoutSpan {}

/// The DEBUG span of a pool checkout, if a subscriber wants it: made before the checkout and
/// closed after it, not wrapped around its (large) future, which is awaited as it is.
#[cfg(feature = "tracing")]
pub(crate) fn checkout_span(server: impl FnOnce() -> String) -> Option<CheckoutSpan> {
    use tracing::field::Empty;

    let span = tracing::debug_span!(
        target: "skelly_db::pool",
        "db.pool.checkout",
        db.client.connection.pool.name = Empty,
        wait_us = Empty,
        error.type = Empty,
    );
    if span.is_disabled() {
        return None;
    }
    span.record("db.client.connection.pool.name", server());
    Some(CheckoutSpan {
        span,
        start: std::time::Instant::now(),
    })
}

/// Without the `tracing` feature: no span.
#[cfg(not(feature = "tracing"))]
pub(crate) fn checkout_span(_server: impl FnOnce() -> String) -> Option<CheckoutSpan> {
    None
}

/// Records how long a checkout waited, and its error, on its span (then closed).
pub(crate) fn checkout_done<T>(span: CheckoutSpan, got: &crate::Result<T>) {
    #[cfg(feature = "tracing")]
    {
        span.span
            .record("wait_us", span.start.elapsed().as_micros() as u64);
        if let Err(e) = got {
            span.span.record("error.type", e.code());
        }
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = got;
        match span {}
    }
}

/// Runs a [`Pool::transaction`](crate::Pool::transaction) (all its attempts) inside an INFO
/// span that records the attempts made.
#[cfg(feature = "tracing")]
pub(crate) async fn transaction<T, E>(
    isolation: &'static str,
    read_only: bool,
    work: impl Future<Output = (Result<T, E>, u32, Option<&'static str>)>,
) -> Result<T, E> {
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
    let (result, attempts, code) = work.instrument(span.clone()).await;
    span.record("db.transaction.attempts", attempts);
    if let (Err(_), Some(code)) = (&result, code) {
        span.record("error.type", code);
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

/// Without the `tracing` feature: the transaction alone.
#[cfg(not(feature = "tracing"))]
pub(crate) async fn transaction<T, E>(
    _isolation: &'static str,
    _read_only: bool,
    work: impl Future<Output = (Result<T, E>, u32, Option<&'static str>)>,
) -> Result<T, E> {
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
