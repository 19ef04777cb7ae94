//! Tracing: the spans and events skelly-db emits, captured by a subscriber of the test's own,
//! with OpenTelemetry's attribute names, and never a bound value.
#![cfg(feature = "tracing")]

mod common;

use skelly_db::Table;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skelly_db::migrate::Migrator;
use skelly_db::pool::TxOptions;
use skelly_db::Executor;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use common::models::{User, UserPatch};

/// A span or event as the subscriber saw it: name, target, level and every field's value.
#[derive(Debug, Clone, Default)]
struct Captured {
    name: String,
    target: String,
    level: String,
    fields: BTreeMap<String, String>,
    parent: Option<u64>,
    id: Option<u64>,
}

impl Captured {
    fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<Captured>>>,
    events: Arc<Mutex<Vec<Captured>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut captured = Captured {
            name: attrs.metadata().name().to_string(),
            target: attrs.metadata().target().to_string(),
            level: attrs.metadata().level().to_string(),
            id: Some(id.into_u64()),
            parent: ctx.current_span().id().map(Id::into_u64),
            ..Default::default()
        };
        attrs.record(&mut Fields(&mut captured.fields));
        self.spans.lock().unwrap().push(captured);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.spans.lock().unwrap();
        if let Some(span) = spans.iter_mut().rev().find(|s| s.id == Some(id.into_u64())) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut captured = Captured {
            name: event.metadata().name().to_string(),
            target: event.metadata().target().to_string(),
            level: event.metadata().level().to_string(),
            parent: ctx.event_span(event).map(|s| s.id().into_u64()),
            ..Default::default()
        };
        event.record(&mut Fields(&mut captured.fields));
        self.events.lock().unwrap().push(captured);
    }
}

impl Capture {
    fn spans(&self) -> Vec<Captured> {
        self.spans.lock().unwrap().clone()
    }

    fn events(&self) -> Vec<Captured> {
        self.events.lock().unwrap().clone()
    }

    fn statements(&self) -> Vec<Captured> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == "db.statement")
            .collect()
    }
}

/// One subscriber for the whole test binary, installed once as the global default, that hands
/// what each thread emits to the capture that thread's test installed (none: dropped).
///
/// Not a thread-local subscriber per test: tracing-core caches each callsite's interest
/// globally, and while exactly one dispatcher is registered it computes a new callsite's
/// interest from the *calling thread's* default. A thread-local subscriber is such a lone
/// dispatcher, so a callsite first reached on another thread (another test building its
/// database, the template keeper) was cached as "never", and the test's own spans and events
/// then vanished: the slow-statement test saw nothing at all about one run in ten. With one
/// global dispatcher every thread computes the same interest.
struct Router;

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Capture>> = const { std::cell::RefCell::new(None) };
}

impl Router {
    fn with(f: impl FnOnce(&Capture)) {
        // A span or event after the thread's test ended (or on a thread of no test) is dropped.
        let capture = CURRENT.with(|c| c.borrow().clone());
        if let Some(capture) = capture {
            f(&capture);
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Router {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        Router::with(|c| c.on_new_span(attrs, id, ctx));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        Router::with(|c| c.on_record(id, values, ctx));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        Router::with(|c| c.on_event(event, ctx));
    }
}

/// This thread's capture, until dropped. Each test runs its futures on its own thread
/// (tokio::test's current-thread runtime), so the capture sees every span the test makes.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

fn capture() -> (Capture, Installed) {
    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Router))
            .expect("no other global subscriber in this test binary");
    });
    let capture = Capture::default();
    CURRENT.with(|c| *c.borrow_mut() = Some(capture.clone()));
    (capture, Installed)
}

const SECRET_EMAIL: &str = "secret-address-7261@example.com";
const SECRET_BIO: &str = "secret-bio-5519";

#[tokio::test]
async fn statement_spans_carry_otel_attributes_and_never_a_bound_value() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let (capture, _guard) = capture();

    let user = User::insert(pool, common::new_user(SECRET_EMAIL))
        .await
        .unwrap();
    User::update(
        pool,
        user.id,
        UserPatch {
            bio: Some(Some(SECRET_BIO.into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let found = User::query()
        .filter(User::EMAIL.eq(SECRET_EMAIL))
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let touched = pool
        .execute(
            "UPDATE \"user\".users SET display_name = display_name WHERE email = $1",
            &[&SECRET_EMAIL],
        )
        .await
        .unwrap();
    assert_eq!(touched, 1);
    let duplicate = User::insert(pool, common::new_user(SECRET_EMAIL))
        .await
        .unwrap_err();
    assert_eq!(duplicate.sqlstate(), Some("23505"));

    let statements = capture.statements();
    let insert = statements
        .iter()
        .find(|s| s.get("db.operation.name") == Some("INSERT"))
        .expect("an INSERT span");
    let port = db.pg_config().get_ports()[0].to_string();
    for (field, value) in [
        ("db.system.name", "postgresql"),
        ("db.namespace", db.name()),
        ("db.collection.name", "user.users"),
        ("otel.name", "INSERT user.users"),
        ("otel.kind", "client"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("db.response.returned_rows", "1"),
    ] {
        assert_eq!(insert.get(field), Some(value), "{field} in {insert:?}");
    }
    assert_eq!(insert.target, "skelly_db::statement");
    assert_eq!(insert.level, "INFO");
    let text = insert.get("db.query.text").unwrap();
    assert!(text.starts_with("INSERT INTO \"user\".\"users\""), "{text}");
    assert!(text.contains("$1"), "{text}");

    let select = statements
        .iter()
        .find(|s| s.get("db.operation.name") == Some("SELECT"))
        .expect("a SELECT span");
    assert_eq!(select.get("db.response.returned_rows"), Some("1"));
    let update = statements
        .iter()
        .find(|s| {
            s.get("db.operation.name") == Some("UPDATE")
                && s.get("db.response.affected_rows").is_some()
        })
        .expect("an UPDATE span with affected rows");
    assert_eq!(update.get("db.response.affected_rows"), Some("1"));

    let failed = statements
        .iter()
        .find(|s| s.get("error.type").is_some())
        .expect("the failed insert's span");
    assert_eq!(failed.get("error.type"), Some("unique_violation"));
    assert_eq!(failed.get("db.response.status_code"), Some("23505"));

    // Each statement ran under a checkout span that says how long it waited.
    let checkouts: Vec<Captured> = capture
        .spans()
        .into_iter()
        .filter(|s| s.name == "db.pool.checkout")
        .collect();
    assert!(checkouts.len() >= 5, "{checkouts:?}");
    assert!(checkouts.iter().all(|c| c.get("wait_us").is_some()));

    // No value bound to a statement appears in any span or event.
    for captured in capture.spans().iter().chain(&capture.events()) {
        for value in captured.fields.values() {
            assert!(
                !value.contains("secret-"),
                "a bound value leaked into {captured:?}"
            );
        }
    }
}

#[tokio::test]
async fn slow_statements_warn_with_their_sql_and_duration() {
    let db = common::empty_db().await;
    let pool = db
        .pool_config()
        .slow_statement(Some(Duration::from_millis(20)))
        .build()
        .unwrap();
    let (capture, _guard) = capture();
    pool.execute("SELECT pg_sleep($1)", &[&0.05f64])
        .await
        .unwrap();
    pool.execute("SELECT 1", &[]).await.unwrap();

    let warnings: Vec<Captured> = capture
        .events()
        .into_iter()
        .filter(|e| e.target == "skelly_db::slow")
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "{warnings:?}; every event: {:?}; statements: {:?}",
        capture.events(),
        capture
            .statements()
            .iter()
            .map(|s| s.get("db.query.text").map(str::to_string))
            .collect::<Vec<_>>()
    );
    let warning = &warnings[0];
    assert_eq!(warning.level, "WARN");
    assert_eq!(warning.get("statement"), Some("SELECT pg_sleep($1)"));
    assert_eq!(warning.get("threshold_ms"), Some("20"));
    let ms: u64 = warning.get("duration_ms").unwrap().parse().unwrap();
    assert!(ms >= 50, "{ms}");
    assert!(!warning.fields.values().any(|v| v.contains("0.05")));
    // The warning belongs to the statement's span.
    let span = capture
        .statements()
        .into_iter()
        .find(|s| s.get("db.query.text") == Some("SELECT pg_sleep($1)"))
        .unwrap();
    assert_eq!(warning.parent, span.id);
    pool.close().await;
}

#[tokio::test]
async fn transactions_and_migrations_have_spans_of_their_own() {
    let (capture, _guard) = capture();
    let db = common::empty_db().await;
    let pool = db.pool();

    Migrator::from_dir(common::reference_migrations())
        .unwrap()
        .up(pool)
        .await
        .unwrap();
    let n: i64 = pool
        .transaction(TxOptions::serializable(), |tx| {
            Box::pin(async move {
                Ok::<_, skelly_db::Error>(
                    tx.query_one("SELECT 41 + 1", &[]).await?.get::<_, i32>(0) as i64,
                )
            })
        })
        .await
        .unwrap();
    assert_eq!(n, 42);

    let spans = capture.spans();
    let migrations: Vec<&Captured> = spans.iter().filter(|s| s.name == "db.migration").collect();
    assert!(!migrations.is_empty());
    let first = migrations[0];
    assert_eq!(first.target, "skelly_db::migrate");
    assert_eq!(first.get("migration.direction"), Some("up"));
    assert!(
        first.get("migration.id").unwrap().ends_with(".sql"),
        "{first:?}"
    );
    // The migration's statements are spans inside it.
    assert!(
        spans
            .iter()
            .any(|s| s.name == "db.statement" && s.parent == first.id),
        "no statement span under {first:?}"
    );

    let tx = spans
        .iter()
        .find(|s| s.name == "db.transaction")
        .expect("a transaction span");
    assert_eq!(tx.get("db.transaction.isolation"), Some("serializable"));
    assert_eq!(tx.get("db.transaction.attempts"), Some("1"));
    let inside = spans
        .iter()
        .find(|s| s.get("db.query.text") == Some("SELECT 41 + 1"))
        .unwrap();
    assert_eq!(inside.parent, tx.id);
}
