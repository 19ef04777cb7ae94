//! What tracing costs on find by id: with the spans compiled in and no subscriber (the plain
//! "find by id" row measures that against hand-written code; build with
//! `--no-default-features` for the same row without the spans), and here with a subscriber
//! that reads every field of every span, as an exporter would.

use skelly_db::Table;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use skelly_db::Connection;
use skelly_db_tests::User;
use tokio_postgres::{Client, Statement};
use tracing::field::{Field, Visit};
use tracing::instrument::WithSubscriber as _;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::Layer;
use uuid::Uuid;

use super::{interleave, map_user, new_user, nothing, Report};

/// A layer that formats every field of every span and event into a buffer and counts them:
/// the work an exporter does, without the exporting.
#[derive(Clone, Default)]
struct ReadEverything {
    fields: Arc<AtomicUsize>,
}

struct Format<'a>(&'a mut String, &'a AtomicUsize);

impl Visit for Format<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

impl<S: tracing::Subscriber> Layer<S> for ReadEverything {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        let mut buf = String::new();
        attrs.record(&mut Format(&mut buf, &self.fields));
        std::hint::black_box(buf);
    }

    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: Context<'_, S>,
    ) {
        let mut buf = String::new();
        values.record(&mut Format(&mut buf, &self.fields));
        std::hint::black_box(buf);
    }
}

/// Find by id with that subscriber installed on the skelly-db side only, against the same
/// hand-written find without one. Run last: once a subscriber has been seen, tracing's
/// call sites check for one on every call.
pub(crate) async fn find_with_subscriber(
    conn: &Connection,
    client: &Client,
    find_stmt: &Statement,
    rounds: usize,
    report: &mut Report,
) -> skelly_db::Result<()> {
    // Earlier sections empty the table: rows of its own to find.
    let users = User::insert_many(conn, (100_000..101_000).map(new_user).collect()).await?;
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let pick = |i: usize| ids[(i * 7919) % ids.len()];
    let layer = ReadEverything::default();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer.clone()));
    let pick = &pick;
    let m = interleave(
        rounds,
        |i| {
            let dispatch = dispatch.clone();
            async move {
                User::find(conn, pick(i))
                    .with_subscriber(dispatch)
                    .await
                    .unwrap()
                    .unwrap();
            }
        },
        |i| async move {
            let row = client
                .query_opt(find_stmt, &[&pick(i)])
                .await
                .unwrap()
                .unwrap();
            std::hint::black_box(map_user(&row));
        },
        nothing,
    )
    .await;
    assert!(
        layer.fields.load(Ordering::Relaxed) > 0,
        "the subscriber saw no span"
    );
    report.add(
        "find by id, subscriber reading every span",
        "query_opt + map",
        m,
    );
    Ok(())
}
