//! Shapes of existing schemas (issue: describe real schemas): each struct's
//! `create_table_sql()` applied to an empty database gives the same catalog as the
//! hand-written SQL it mirrors (compared through the catalog), the schema check passes on the
//! hand-written one, and the CRUD functions work on it.

mod common;

use chrono::{DateTime, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use skelly_db::schema::{self, TableShape};
use skelly_db::testing::TestDb;
use skelly_db::{Executor, Table, TextEnum};

/// A customer, keyed by a natural varchar code.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "pay", name = "customers")]
pub struct Customer {
    #[table(primary_key, varchar = 32)]
    pub code: String,
    #[table(varchar = 255, unique)]
    pub email: String,
    #[table(char = 2)]
    pub country: String,
    /// Unbounded `character varying`, as many schemas have it.
    #[table(varchar)]
    pub display_name: Option<String>,
    /// A stored generated column: read, never inserted or patched.
    #[table(generated = "lower(email)")]
    pub email_key: String,
    pub created_at: Option<DateTime<Utc>>,
}

/// Money: numeric amounts, a CHECK, a cascade foreign key, naive timestamps.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "pay", name = "payments")]
#[table(check(expr = "amount >= 0"))]
#[table(check(name = "payments_currency_upper", expr = "currency = upper(currency)"))]
#[table(index(customer_code, created_at, name = "payments_customer_time_idx"))]
pub struct Payment {
    pub id: i64,
    #[table(
        references = "pay.customers(code)",
        on_delete = "cascade",
        varchar = 32
    )]
    pub customer_code: String,
    #[table(sql_type = "numeric(12,2)")]
    pub amount: Decimal,
    #[table(char = 3)]
    pub currency: String,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

/// A native PostgreSQL enum type (existing schemas have them; new tables use TEXT + CHECK).
#[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[text_enum(pg_enum = "docs.doc_state")]
pub enum DocState {
    Draft,
    Published,
    Archived,
}

/// Documents: a composite unique (partial, soft delete), a GIN expression index, a
/// multi-column index with DESC and INCLUDE, a foreign key to a unique non-key column with
/// SET NULL, ON UPDATE CASCADE, deferrable.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "docs", name = "documents")]
#[table(unique(owner, slug))]
#[table(index(
    using = "gin",
    expr = "to_tsvector('simple', body)",
    name = "documents_body_search"
))]
#[table(index(owner, expr = "created_at DESC", include(title)))]
#[table(index(
    title,
    where = "deleted_at IS NULL AND title <> ''",
    name = "documents_live_title"
))]
pub struct Document {
    pub id: uuid::Uuid,
    pub owner: String,
    pub slug: String,
    pub title: String,
    pub body: String,
    pub state: DocState,
    pub history: Vec<DocState>,
    #[table(
        references = "pay.customers(email)",
        on_delete = "set null",
        on_update = "cascade",
        deferrable,
        varchar = 255
    )]
    pub billing_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// An append-only log without a primary key, unlogged (issue 23: real schemas have them);
/// inet and time columns.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "docs", name = "access_log", no_primary_key, unlogged)]
#[table(index(at_time))]
pub struct AccessLog {
    pub document_id: uuid::Uuid,
    pub client: std::net::IpAddr,
    pub at_time: NaiveTime,
    pub created_at: DateTime<Utc>,
}

/// A join table as real schemas have it (issue 23): a composite key of two foreign keys, the
/// second with an index of its own (the key's index leads with the first), and a foreign key
/// the schema gives no index (`no_index`).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "docs", name = "document_watchers")]
pub struct DocumentWatcher {
    #[table(primary_key, references = "docs.documents", on_delete = "cascade")]
    pub document_id: uuid::Uuid,
    #[table(primary_key, references = "pay.customers(code)", varchar = 32)]
    pub customer_code: String,
    #[table(references = "pay.customers(code)", no_index, varchar = 32)]
    pub added_by: Option<String>,
}

/// A composite foreign key (issue 23): events of a watcher, keyed by the watcher's two-column
/// key, deleted with it.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "docs", name = "watch_events")]
#[table(foreign_key(
    columns(document_id, customer_code),
    references = "docs.document_watchers",
    on_delete = "cascade"
))]
pub struct WatchEvent {
    pub id: i64,
    pub document_id: uuid::Uuid,
    #[table(varchar = 32)]
    pub customer_code: String,
    pub note: String,
}

/// Uniques as real schemas state them (issue 23): a token unique over every row of a
/// soft-delete table (a deleted key's token is never reused), and uniques where NULLs count as
/// equal (one key without a label per customer; one without a fingerprint).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "pay", name = "api_keys")]
#[table(unique(customer_code, label, nulls_not_distinct))]
pub struct ApiKey {
    pub id: i64,
    #[table(unique, all_rows, varchar = 64)]
    pub token: String,
    /// The customers' key is the natural `code`: a reference without a column means the
    /// referenced table's key, whatever its name.
    #[table(references = "pay.customers", varchar = 32)]
    pub customer_code: String,
    pub label: Option<String>,
    #[table(unique, nulls_not_distinct)]
    pub fingerprint: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
}

const HAND_WRITTEN: &str = r#"
CREATE SCHEMA pay;
CREATE TABLE pay.customers (
    code varchar(32) PRIMARY KEY,
    email character varying(255) NOT NULL UNIQUE,
    country char(2) NOT NULL,
    display_name character varying,
    email_key text NOT NULL GENERATED ALWAYS AS (lower(email)) STORED,
    created_at timestamptz DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE pay.payments (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    customer_code varchar(32) NOT NULL REFERENCES pay.customers (code) ON DELETE CASCADE,
    amount numeric(12, 2) NOT NULL CHECK (amount >= 0),
    currency char(3) NOT NULL,
    note text,
    created_at timestamp NOT NULL DEFAULT now(),
    updated_at timestamp DEFAULT now(),
    CONSTRAINT payments_currency_upper CHECK (currency = upper(currency))
);
CREATE INDEX payments_customer_code_idx ON pay.payments (customer_code);
CREATE INDEX payments_customer_time_idx ON pay.payments (customer_code, created_at);
CREATE SCHEMA docs;
CREATE TYPE docs.doc_state AS ENUM ('draft', 'published', 'archived');
CREATE TABLE docs.documents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner text NOT NULL,
    slug text NOT NULL,
    title text NOT NULL,
    body text NOT NULL,
    state docs.doc_state NOT NULL,
    history docs.doc_state[] NOT NULL,
    billing_email varchar(255) REFERENCES pay.customers (email)
        ON DELETE SET NULL ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE UNIQUE INDEX documents_owner_slug_key ON docs.documents (owner, slug) WHERE deleted_at IS NULL;
CREATE INDEX documents_body_search ON docs.documents USING gin (to_tsvector('simple', body));
CREATE INDEX documents_owner_expr_idx ON docs.documents (owner, created_at DESC) INCLUDE (title);
CREATE INDEX documents_live_title ON docs.documents (title) WHERE deleted_at IS NULL AND title <> '';
CREATE INDEX documents_billing_email_idx ON docs.documents (billing_email);
CREATE UNLOGGED TABLE docs.access_log (
    document_id uuid NOT NULL,
    client inet NOT NULL,
    at_time time NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_log_at_time_idx ON docs.access_log (at_time);
CREATE TABLE docs.document_watchers (
    document_id uuid NOT NULL REFERENCES docs.documents (id) ON DELETE CASCADE,
    customer_code varchar(32) NOT NULL REFERENCES pay.customers (code),
    added_by varchar(32) REFERENCES pay.customers (code),
    PRIMARY KEY (document_id, customer_code)
);
CREATE INDEX document_watchers_customer_code_idx ON docs.document_watchers (customer_code);
CREATE TABLE docs.watch_events (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    document_id uuid NOT NULL,
    customer_code varchar(32) NOT NULL,
    note text NOT NULL,
    FOREIGN KEY (document_id, customer_code) REFERENCES docs.document_watchers ON DELETE CASCADE
);
CREATE INDEX watch_events_document_id_customer_code_idx
    ON docs.watch_events (document_id, customer_code);
CREATE TABLE pay.api_keys (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    token varchar(64) NOT NULL UNIQUE,
    customer_code varchar(32) NOT NULL REFERENCES pay.customers (code),
    label text,
    fingerprint text,
    deleted_at timestamptz
);
CREATE INDEX api_keys_customer_code_idx ON pay.api_keys (customer_code);
CREATE UNIQUE INDEX api_keys_customer_code_label_key ON pay.api_keys (customer_code, label)
    NULLS NOT DISTINCT WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX api_keys_fingerprint_key ON pay.api_keys (fingerprint)
    NULLS NOT DISTINCT WHERE deleted_at IS NULL;
"#;

fn shapes() -> Vec<TableShape> {
    vec![
        TableShape::of::<Customer>(),
        TableShape::of::<Payment>(),
        TableShape::of::<Document>(),
        TableShape::of::<AccessLog>(),
        TableShape::of::<DocumentWatcher>(),
        TableShape::of::<WatchEvent>(),
        TableShape::of::<ApiKey>(),
    ]
}

async fn catalog(db: &TestDb) -> Vec<TableShape> {
    let mut out = Vec::new();
    for s in shapes() {
        let mut t = schema::inspect(db, &s.schema, &s.name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}.{} missing", s.schema, s.name));
        for c in &mut t.columns {
            // Spelling differs by how the type was written; the check compares canonically.
            c.sql_type = schema::canonical_type(&c.sql_type);
            c.default = c
                .default
                .take()
                .map(|d| d.replace("CURRENT_TIMESTAMP", "now()"));
        }
        out.push(t);
    }
    out
}

#[tokio::test]
async fn create_table_sql_gives_the_catalog_of_the_hand_written_sql() {
    let derived = common::empty_db().await;
    for s in shapes() {
        derived.batch_execute(&s.create_sql()).await.unwrap();
    }
    let hand = common::empty_db().await;
    hand.batch_execute(HAND_WRITTEN).await.unwrap();
    let (a, b) = (catalog(&derived).await, catalog(&hand).await);
    for (a, b) in a.iter().zip(&b) {
        assert_eq!(a, b, "{}.{}", a.schema, a.name);
    }
    // The schema check agrees, on both.
    for db in [&derived, &hand] {
        let report = schema::check(db, &shapes()).await.unwrap();
        assert!(report.findings.is_empty(), "{report}");
    }
    // Running the DDL again changes nothing.
    for s in shapes() {
        derived.batch_execute(&s.create_sql()).await.unwrap();
    }
}

#[tokio::test]
async fn crud_on_the_hand_written_tables() {
    let db = common::empty_db().await;
    db.batch_execute(HAND_WRITTEN).await.unwrap();

    let customer = Customer::insert(
        &db,
        NewCustomer {
            code: "acme".into(),
            email: "billing@acme.test".into(),
            country: "DE".into(),
            display_name: Some("ACME GmbH".into()),
        },
    )
    .await
    .unwrap();
    assert!(
        customer.created_at.is_some(),
        "a nullable created_at is stamped"
    );
    // The generated column is computed on insert and on every update, never written.
    assert_eq!(customer.email_key, "billing@acme.test");
    let renamed = Customer::update(
        &db,
        "acme",
        CustomerPatch {
            email: Some("Billing@ACME.test".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(renamed.email_key, "billing@acme.test");
    Customer::update(
        &db,
        "acme",
        CustomerPatch {
            email: Some("billing@acme.test".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // Money round-trips exactly, at the limits of numeric(12, 2).
    for amount in ["9999999999.99", "0.01", "0.00", "1234567.89"] {
        let amount: Decimal = amount.parse().unwrap();
        let p = Payment::insert(
            &db,
            NewPayment {
                customer_code: "acme".into(),
                amount,
                currency: "EUR".into(),
                note: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(p.amount, amount);
        assert_eq!(Payment::get(&db, p.id).await.unwrap().amount, amount);
        assert!(
            p.updated_at.is_some(),
            "a nullable naive updated_at is stamped"
        );
    }
    // Past the precision, and below the CHECK: errors naming the constraint.
    let too_big = Payment::insert(
        &db,
        NewPayment {
            customer_code: "acme".into(),
            amount: "10000000000.00".parse().unwrap(),
            currency: "EUR".into(),
            note: None,
        },
    )
    .await;
    assert!(too_big.is_err());
    let negative = Payment::insert(
        &db,
        NewPayment {
            customer_code: "acme".into(),
            amount: "-1".parse().unwrap(),
            currency: "EUR".into(),
            note: None,
        },
    )
    .await
    .unwrap_err();
    assert!(
        negative.to_string().contains("payments_amount_check"),
        "{negative}"
    );
    let updated = Payment::update(
        &db,
        1,
        PaymentPatch {
            note: Some(Some("refund".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(updated.note.as_deref(), Some("refund"));

    let doc = Document::insert(
        &db,
        NewDocument {
            owner: "ada".into(),
            slug: "intro".into(),
            title: "Intro".into(),
            body: "hello world".into(),
            state: DocState::Published,
            history: vec![DocState::Draft, DocState::Published],
            billing_email: Some("billing@acme.test".into()),
        },
    )
    .await
    .unwrap();
    // The native enum reads, writes and filters.
    assert_eq!(doc.history, [DocState::Draft, DocState::Published]);
    let published = Document::query()
        .filter(Document::STATE.eq(DocState::Published))
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(published.len(), 1);
    // The composite unique is partial: after a soft delete the slug is free again.
    let again = || NewDocument {
        owner: "ada".into(),
        slug: "intro".into(),
        title: "Intro 2".into(),
        body: "again".into(),
        state: DocState::Draft,
        history: vec![],
        billing_email: None,
    };
    assert!(Document::insert(&db, again()).await.is_err());
    Document::delete(&db, doc.id).await.unwrap();
    let doc2 = Document::insert(&db, again()).await.unwrap();

    // The join table: both key parts are in the insert struct; the key is a tuple.
    let watcher = DocumentWatcher::insert(
        &db,
        NewDocumentWatcher {
            document_id: doc.id,
            customer_code: "acme".into(),
            added_by: Some("acme".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        DocumentWatcher::get(&db, (doc.id, "acme")).await.unwrap(),
        watcher
    );
    // The composite foreign key holds, and cascades from the watcher.
    WatchEvent::insert(
        &db,
        NewWatchEvent {
            document_id: doc.id,
            customer_code: "acme".into(),
            note: "seen".into(),
        },
    )
    .await
    .unwrap();
    // Joined along the composite key: on both columns, so a second watcher with the same
    // customer (another document) is not a match.
    let second = DocumentWatcher::insert(
        &db,
        NewDocumentWatcher {
            document_id: doc2.id,
            customer_code: "acme".into(),
            added_by: None,
        },
    )
    .await
    .unwrap();
    WatchEvent::insert(
        &db,
        NewWatchEvent {
            document_id: doc2.id,
            customer_code: "acme".into(),
            note: "later".into(),
        },
    )
    .await
    .unwrap();
    let joined: Vec<(WatchEvent, DocumentWatcher)> = WatchEvent::query()
        .join::<DocumentWatcher>(WatchEvent::DOCUMENT_ID_CUSTOMER_CODE_FK)
        .order_by(WatchEvent::ID.asc())
        .fetch_all(&db)
        .await
        .unwrap();
    let pairs: Vec<(&str, &DocumentWatcher)> =
        joined.iter().map(|(e, w)| (e.note.as_str(), w)).collect();
    assert_eq!(pairs, vec![("seen", &watcher), ("later", &second)]);
    let by_parent: Vec<(WatchEvent, Option<DocumentWatcher>)> = WatchEvent::query()
        .left_join::<DocumentWatcher>(WatchEvent::DOCUMENT_ID_CUSTOMER_CODE_FK)
        .filter_parent(DocumentWatcher::ADDED_BY.is_null())
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(by_parent.len(), 1);
    assert_eq!(by_parent[0].0.note, "later");
    assert_eq!(by_parent[0].1.as_ref(), Some(&second));
    assert!(WatchEvent::query()
        .join::<DocumentWatcher>(WatchEvent::DOCUMENT_ID_CUSTOMER_CODE_FK)
        .to_sql()
        .contains(r#"ON "p"."document_id" = "c"."document_id" AND "p"."customer_code" = "c"."customer_code""#));
    DocumentWatcher::delete(&db, (doc2.id, "acme"))
        .await
        .unwrap();

    let orphan = WatchEvent::insert(
        &db,
        NewWatchEvent {
            document_id: doc.id,
            customer_code: "nobody".into(),
            note: "lost".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        orphan.as_constraint().and_then(|v| v.constraint.as_deref()),
        Some("watch_events_document_id_customer_code_fkey"),
        "{orphan}"
    );
    DocumentWatcher::delete(&db, (doc.id, "acme"))
        .await
        .unwrap();
    assert_eq!(WatchEvent::query().count(&db).await.unwrap(), 0);

    // ON UPDATE CASCADE to a non-key column, ON DELETE SET NULL.
    db.execute(
        "UPDATE pay.customers SET email = 'ap@acme.test' WHERE code = 'acme'",
        &[],
    )
    .await
    .unwrap();
    let moved = Document::find_with_deleted(&db, doc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.billing_email.as_deref(), Some("ap@acme.test"));
    // ON DELETE CASCADE takes the payments along.
    db.execute("DELETE FROM pay.customers WHERE code = 'acme'", &[])
        .await
        .unwrap();
    assert_eq!(Payment::query().count(&db).await.unwrap(), 0);
    let orphan = Document::find_with_deleted(&db, doc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(orphan.billing_email, None);

    // A table without a key: insert, insert_many, copy_in and the query builder.
    let entry = |n: u32| NewAccessLog {
        document_id: doc.id,
        client: format!("10.0.0.{n}").parse().unwrap(),
        at_time: NaiveTime::from_hms_opt(12, n, 0).unwrap(),
    };
    AccessLog::insert(&db, entry(1)).await.unwrap();
    AccessLog::insert_many(&db, vec![entry(2), entry(3)])
        .await
        .unwrap();
    AccessLog::copy_in(&db, vec![entry(4), entry(5)])
        .await
        .unwrap();
    let late = AccessLog::query()
        .filter(AccessLog::AT_TIME.gt(NaiveTime::from_hms_opt(12, 2, 30).unwrap()))
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(late.len(), 3);
    assert_eq!(late[0].client.to_string(), "10.0.0.3");
}

#[tokio::test]
async fn uniques_over_all_rows_and_with_nulls_not_distinct_hold() {
    let db = common::empty_db().await;
    db.batch_execute(HAND_WRITTEN).await.unwrap();
    db.batch_execute(
        "INSERT INTO pay.customers (code, email, country) VALUES ('acme', 'a@acme.test', 'DE')",
    )
    .await
    .unwrap();
    let key = |token: &str, label: Option<&str>, fingerprint: Option<&str>| NewApiKey {
        token: token.into(),
        customer_code: "acme".into(),
        label: label.map(str::to_string),
        fingerprint: fingerprint.map(str::to_string),
    };
    let first = ApiKey::insert(&db, key("t1", None, None)).await.unwrap();
    // NULLS NOT DISTINCT: a second key without a label, or without a fingerprint, is a
    // duplicate.
    for (new, constraint) in [
        (
            key("t2", None, Some("f2")),
            "api_keys_customer_code_label_key",
        ),
        (key("t3", Some("ci"), None), "api_keys_fingerprint_key"),
    ] {
        let err = ApiKey::insert(&db, new).await.unwrap_err();
        let violation = err.as_constraint().expect("a constraint violation");
        assert_eq!(violation.constraint.as_deref(), Some(constraint), "{err}");
    }
    // Soft-deleted, the key frees its label and fingerprint, but not its token (all rows).
    ApiKey::delete(&db, first.id).await.unwrap();
    ApiKey::insert(&db, key("t4", None, None)).await.unwrap();
    let err = ApiKey::insert(&db, key("t1", Some("again"), Some("f5")))
        .await
        .unwrap_err();
    assert_eq!(
        err.as_constraint().and_then(|v| v.constraint.as_deref()),
        Some("api_keys_token_key"),
        "{err}"
    );
    // The join and eager loading along it find the customer by its key, `code`.
    let joined: Vec<(ApiKey, Customer)> = ApiKey::query()
        .join::<Customer>(ApiKey::CUSTOMER_CODE_FK)
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].1.code, "acme");
    let keys = ApiKey::query().fetch_all(&db).await.unwrap();
    let loaded: Vec<(ApiKey, Customer)> =
        skelly_db::query::load_parents(&db, keys, ApiKey::CUSTOMER_CODE_FK)
            .await
            .unwrap();
    assert!(loaded.iter().all(|(_, c)| c.code == "acme"));
}

#[tokio::test]
async fn the_check_sees_nulls_not_distinct_and_all_rows() {
    let db = common::empty_db().await;
    db.batch_execute(HAND_WRITTEN).await.unwrap();
    // A struct that says a plain unique where the database keeps NULLs equal, and a live-rows
    // unique where it keeps every row unique: both are told, with the fix.
    let mut declared = TableShape::of::<ApiKey>();
    for unique in &mut declared.uniques {
        unique.nulls_not_distinct = false;
        if unique.name == "api_keys_token_key" {
            unique.constraint = false;
            unique.predicate = Some("\"deleted_at\" IS NULL".into());
        }
    }
    let report = schema::check(&db, &[declared]).await.unwrap();
    let text = report.to_string();
    assert_eq!(report.errors().count(), 3, "{text}");
    assert!(
        text.contains(
            "unique index `api_keys_fingerprint_key` on (fingerprint) NULLS NOT DISTINCT"
        ),
        "{text}"
    );
    assert!(
        text.contains("unique constraint `api_keys_token_key` on (token) is not declared"),
        "{text}"
    );
    // The struct as written checks clean.
    let report = schema::check(&db, &[TableShape::of::<ApiKey>()])
        .await
        .unwrap();
    assert!(report.findings.is_empty(), "{report}");
}

#[tokio::test]
async fn no_primary_key_on_a_table_that_has_one_is_told() {
    let db = common::empty_db().await;
    db.batch_execute(HAND_WRITTEN).await.unwrap();
    db.batch_execute(
        "ALTER TABLE docs.access_log ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    )
    .await
    .unwrap();
    let report = schema::check(&db, &[TableShape::of::<AccessLog>()])
        .await
        .unwrap();
    let text = report.to_string();
    assert!(
        report.warnings().any(|w| w
            .message
            .contains("primary key `access_log_pkey` on (id) is not declared by the struct (`no_primary_key`)")),
        "{text}"
    );
}

#[tokio::test]
async fn logged_or_unlogged_is_checked_and_drafted() {
    let db = common::empty_db().await;
    db.batch_execute(HAND_WRITTEN).await.unwrap();
    let actual = schema::inspect(&db, "docs", "access_log")
        .await
        .unwrap()
        .unwrap();
    assert!(actual.unlogged);
    // A struct that says logged, on the unlogged table: an error with the fix, and a draft.
    let logged = TableShape {
        unlogged: false,
        ..TableShape::of::<AccessLog>()
    };
    let report = schema::check(&db, std::slice::from_ref(&logged))
        .await
        .unwrap();
    let finding = report.errors().next().expect("a finding");
    assert_eq!(
        finding.message, "the table is unlogged in the database, logged in the struct",
        "{report}"
    );
    assert_eq!(
        finding.fix.as_deref(),
        Some("ALTER TABLE \"docs\".\"access_log\" SET LOGGED;")
    );
    let draft = schema::draft(
        &[logged],
        &[Some(actual)],
        &["docs".to_string()],
        &Default::default(),
    )
    .unwrap();
    let main = draft.main.expect("a transactional step");
    assert!(main.contains("SET LOGGED;"), "{main}");
    assert!(main.contains("SET UNLOGGED;"), "the Down: {main}");
}

/// What `skelly-db schema pull` writes for the hand-written tables, read back by the source
/// reader, checks clean against them: nothing left out, no sql_type but for the precision.
#[tokio::test]
async fn pulled_structs_state_the_hand_written_tables() {
    let db = common::empty_db().await;
    db.batch_execute(HAND_WRITTEN).await.unwrap();
    let mut actual = Vec::new();
    for s in shapes() {
        actual.push(
            schema::inspect(&db, &s.schema, &s.name)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let rendered = schema::render_structs(&actual);
    assert!(rendered.left_out.is_empty(), "{:?}", rendered.left_out);
    assert!(rendered.sql_types.is_empty(), "{:?}", rendered.sql_types);
    let read = schema::from_sources(&[("pulled.rs".into(), rendered.source.clone())])
        .unwrap_or_else(|e| panic!("{e:?}\n{}", rendered.source));
    let declared: Vec<TableShape> = read.into_iter().map(|t| t.shape).collect();
    assert_eq!(declared.len(), actual.len());
    let report = schema::check(&db, &declared).await.unwrap();
    assert!(report.findings.is_empty(), "{report}\n{}", rendered.source);
}

#[test]
fn the_source_reader_gives_the_same_shapes() {
    let read = schema::from_sources(&[(
        "real_schemas.rs".into(),
        include_str!("real_schemas.rs").into(),
    )])
    .unwrap();
    let read: Vec<TableShape> = read.into_iter().map(|t| t.shape).collect();
    let mut expected = shapes();
    expected.push(TableShape::of::<Setting>());
    expected.push(TableShape::of::<Sample>());
    expected.push(TableShape::of::<Category>());
    expected.push(TableShape::of::<Label>());
    assert_eq!(read, expected);
}

#[tokio::test]
async fn a_native_enum_missing_a_label_is_reported_and_fixed() {
    let db = common::empty_db().await;
    db.batch_execute(&HAND_WRITTEN.replace("'published', 'archived'", "'published'"))
        .await
        .unwrap();
    let report = schema::check(&db, &shapes()).await.unwrap();
    let finding = report
        .errors()
        .find(|f| {
            f.message
                .contains("enum type \"docs\".\"doc_state\" has no 'archived'")
        })
        .unwrap_or_else(|| panic!("{report}"));
    db.batch_execute(finding.fix.as_deref().unwrap())
        .await
        .unwrap();
    let report = schema::check(&db, &shapes()).await.unwrap();
    assert!(report.findings.is_empty(), "{report}");
}

/// hstore through `sql_type`: tokio-postgres maps it to a HashMap.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "docs", name = "settings")]
pub struct Setting {
    pub id: i64,
    #[table(sql_type = "hstore")]
    pub attributes: std::collections::HashMap<String, Option<String>>,
}

#[tokio::test]
async fn hstore_through_sql_type() {
    let db = common::empty_db().await;
    db.batch_execute("CREATE EXTENSION hstore").await.unwrap();
    db.batch_execute(&Setting::create_table_sql())
        .await
        .unwrap();
    let attributes = std::collections::HashMap::from([
        ("theme".to_string(), Some("dark".to_string())),
        ("beta".to_string(), None),
    ]);
    let s = Setting::insert(
        &db,
        NewSetting {
            attributes: attributes.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        Setting::get(&db, s.id).await.unwrap().attributes,
        attributes
    );
    let report = schema::check(&db, &[TableShape::of::<Setting>()])
        .await
        .unwrap();
    assert!(report.findings.is_empty(), "{report}");
}

/// Arrays of the new types.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "docs", name = "samples")]
pub struct Sample {
    pub id: i64,
    pub clients: Vec<std::net::IpAddr>,
    pub times: Vec<NaiveTime>,
    pub amounts: Vec<Decimal>,
    pub states: Option<Vec<DocState>>,
}

#[tokio::test]
async fn arrays_of_inet_time_numeric_and_native_enums() {
    let db = common::empty_db().await;
    db.batch_execute(&Sample::create_table_sql()).await.unwrap();
    let new = || NewSample {
        clients: vec!["10.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
        times: vec![NaiveTime::from_hms_opt(8, 30, 0).unwrap()],
        amounts: vec![
            "0.01".parse().unwrap(),
            "123456789.123456789".parse().unwrap(),
        ],
        states: Some(vec![DocState::Archived, DocState::Draft]),
    };
    let one = Sample::insert(&db, new()).await.unwrap();
    let many = Sample::insert_many(&db, vec![new(), new()]).await.unwrap();
    for s in std::iter::once(&one).chain(&many) {
        let read = Sample::get(&db, s.id).await.unwrap();
        assert_eq!(&read, s);
        assert_eq!(read.clients, new().clients);
        assert_eq!(read.amounts, new().amounts);
        assert_eq!(read.states, new().states);
    }
    let report = schema::check(&db, &[TableShape::of::<Sample>()])
        .await
        .unwrap();
    assert!(report.findings.is_empty(), "{report}");
}

/// Issue 22, N2: native enum columns at statement cache size 0 (the pooler setting), where no
/// statement is prepared and the server is not asked for parameter types: insert, insert_many,
/// a bulk update, `eq`, `is_in`, an array column and a page ordered by the enum all bind.
#[tokio::test]
async fn native_enums_at_statement_cache_0() {
    let db = common::empty_db().await;
    db.batch_execute(HAND_WRITTEN).await.unwrap();
    let pool = db
        .pool_config()
        .statement_cache_size(0)
        .max_size(2)
        .build()
        .unwrap();
    let doc = |slug: &str, state: DocState| NewDocument {
        owner: "ada".into(),
        slug: slug.into(),
        title: slug.into(),
        body: "b".into(),
        state,
        history: vec![DocState::Draft, state],
        billing_email: None,
    };
    let first = Document::insert(&pool, doc("one", DocState::Draft))
        .await
        .unwrap();
    assert_eq!(first.history, [DocState::Draft, DocState::Draft]);
    let many = Document::insert_many(
        &pool,
        vec![
            doc("two", DocState::Published),
            doc("three", DocState::Archived),
        ],
    )
    .await
    .unwrap();
    assert_eq!(many.len(), 2);
    let changed = Document::query()
        .filter(Document::STATE.eq(DocState::Archived))
        .update(
            &pool,
            &DocumentPatch {
                state: Some(DocState::Published),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let published = Document::query()
        .filter(Document::STATE.is_in([DocState::Published]))
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(published.len(), 2);
    let not_draft = Document::query()
        .filter(Document::STATE.ne(DocState::Draft))
        .count(&pool)
        .await
        .unwrap();
    assert_eq!(not_draft, 2);
    // Ordered by the enum's declared order (draft, published, archived), not alphabetically,
    // though the rows read the column as text; pages by it repeat and skip nothing.
    Document::insert(&pool, doc("four", DocState::Archived))
        .await
        .unwrap();
    let page = Document::query()
        .order_by(Document::STATE.asc())
        .page(&pool, 2, None)
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 2);
    let rest = Document::query()
        .order_by(Document::STATE.asc())
        .page(&pool, 2, page.next.as_ref())
        .await
        .unwrap();
    let rows: Vec<&Document> = page.rows.iter().chain(&rest.rows).collect();
    let states: Vec<DocState> = rows.iter().map(|d| d.state).collect();
    assert_eq!(
        states,
        [
            DocState::Draft,
            DocState::Published,
            DocState::Published,
            DocState::Archived
        ]
    );
    let mut ids: Vec<uuid::Uuid> = rows.iter().map(|d| d.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    let sorted = Document::query()
        .order_by(Document::STATE.desc())
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(sorted[0].state, DocState::Archived);
    assert!(pool
        .query("SELECT 1 FROM pg_prepared_statements", &[])
        .await
        .unwrap()
        .is_empty());
}

/// `json` and `ltree` columns without `sql_type` (issue 23: Lemmy's and crates.io's tables
/// needed it): a `serde_json::Value` with `json`, a `String` with `ltree`.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "docs", name = "categories")]
pub struct Category {
    pub id: i64,
    #[table(ltree)]
    pub path: String,
    #[table(json)]
    pub meta: serde_json::Value,
    #[table(json)]
    pub extra: Option<serde_json::Value>,
}

#[tokio::test]
async fn json_and_ltree_columns_without_sql_type() {
    let db = common::empty_db().await;
    db.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS ltree;
         CREATE SCHEMA docs;
         CREATE TABLE docs.categories (
             id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
             path ltree NOT NULL,
             meta json NOT NULL,
             extra json
         );",
    )
    .await
    .unwrap();
    let report = schema::check(&db, &[TableShape::of::<Category>()])
        .await
        .unwrap();
    assert!(report.findings.is_empty(), "{report}");
    let meta = serde_json::json!({"order": [2, 1], "title": "Rust"});
    let made = Category::insert(
        &db,
        NewCategory {
            path: "top.science.rust".into(),
            meta: meta.clone(),
            extra: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (made.path.as_str(), &made.meta),
        ("top.science.rust", &meta)
    );
    let found = Category::query()
        .filter(Category::PATH.eq("top.science.rust".to_string()))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(found, made);
    // The ltree operators work on it as usual.
    let under: i64 = db
        .query_one(
            "SELECT count(*) FROM docs.categories WHERE path <@ 'top.science'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(under, 1);
}

/// A fix never makes a constraint or index under a name something else holds (issue 23): the
/// database has a partial unique index where the struct says a unique constraint of that
/// name; the fix drops the index first, and applied statement by statement, checks clean.
#[tokio::test]
async fn a_fix_frees_the_name_it_makes_again() {
    let db = common::empty_db().await;
    db.batch_execute(
        "CREATE SCHEMA pay;
         CREATE TABLE pay.customers (
             code varchar(32) PRIMARY KEY,
             email character varying(255) NOT NULL,
             country char(2) NOT NULL,
             display_name character varying,
             email_key text NOT NULL GENERATED ALWAYS AS (lower(email)) STORED,
             created_at timestamptz DEFAULT now()
         );
         CREATE UNIQUE INDEX customers_email_key ON pay.customers (email) WHERE country <> 'XX';",
    )
    .await
    .unwrap();
    let report = schema::check(&db, &[TableShape::of::<Customer>()])
        .await
        .unwrap();
    let finding = report.errors().next().unwrap_or_else(|| panic!("{report}"));
    let fix = finding.fix.clone().unwrap();
    assert!(
        fix.starts_with("DROP INDEX CONCURRENTLY \"pay\".\"customers_email_key\";\n"),
        "{fix}"
    );
    for statement in fix.split(";\n").filter(|s| !s.trim().is_empty()) {
        db.batch_execute(statement).await.unwrap();
    }
    let report = schema::check(&db, &[TableShape::of::<Customer>()])
        .await
        .unwrap();
    assert!(report.findings.is_empty(), "{report}");
}

/// What a struct cannot state is reported as a warning instead of passed over (issue 23):
/// storage parameters, a NOT VALID check, an exclusion constraint, row-level security and a
/// column collation.
#[tokio::test]
async fn what_the_check_cannot_compare_is_told() {
    let db = common::empty_db().await;
    db.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS ltree;
         CREATE SCHEMA docs;
         CREATE TABLE docs.categories (
             id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
             path ltree NOT NULL,
             meta json NOT NULL,
             extra json
         ) WITH (fillfactor = 70);
         ALTER TABLE docs.categories ADD CONSTRAINT categories_id_check CHECK (id > 0) NOT VALID;
         ALTER TABLE docs.categories ADD CONSTRAINT categories_no_overlap
             EXCLUDE USING gist (path WITH =);
         ALTER TABLE docs.categories ENABLE ROW LEVEL SECURITY;",
    )
    .await
    .unwrap();
    let report = schema::check(&db, &[TableShape::of::<Category>()])
        .await
        .unwrap();
    let warnings: Vec<String> = report.warnings().map(|w| w.message.clone()).collect();
    for expected in [
        "storage parameters (fillfactor=70)",
        "constraint `categories_id_check` is NOT VALID",
        "exclusion constraint `categories_no_overlap`",
        "row-level security",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(expected)),
            "{expected}: {report}"
        );
    }
    // The collation of a column, on a table of its own.
    db.batch_execute(
        "CREATE TABLE docs.names (id bigint PRIMARY KEY, name text COLLATE \"C\" NOT NULL)",
    )
    .await
    .unwrap();
    let names = schema::inspect(&db, "docs", "names")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names.unchecked, ["column `name` has collation `C`"]);
}

/// Arrays of `varchar(n)` and of `jsonb` without `sql_type` (issue 23).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "docs", name = "labels")]
pub struct Label {
    pub id: i64,
    #[table(varchar = 20)]
    pub tags: Vec<String>,
    #[table(char = 2)]
    pub countries: Option<Vec<String>>,
    pub rules: Vec<serde_json::Value>,
}

#[tokio::test]
async fn arrays_of_varchar_and_jsonb_without_sql_type() {
    let db = common::empty_db().await;
    db.batch_execute(
        "CREATE SCHEMA docs;
         CREATE TABLE docs.labels (
             id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
             tags varchar(20)[] NOT NULL,
             countries char(2)[],
             rules jsonb[] NOT NULL
         );",
    )
    .await
    .unwrap();
    let report = schema::check(&db, &[TableShape::of::<Label>()])
        .await
        .unwrap();
    assert!(report.findings.is_empty(), "{report}");
    let made = Label::insert(
        &db,
        NewLabel {
            tags: vec!["rust".into(), "db".into()],
            countries: Some(vec!["DE".into(), "FR".into()]),
            rules: vec![serde_json::json!({"min": 1}), serde_json::json!([true])],
        },
    )
    .await
    .unwrap();
    assert_eq!(Label::get(&db, made.id).await.unwrap(), made);
    assert_eq!(made.rules[0]["min"], 1);
    // A tag over the length is refused by the column, as the type says.
    let err = Label::insert(
        &db,
        NewLabel {
            tags: vec!["x".repeat(21)],
            countries: None,
            rules: vec![],
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("too long"), "{err}");
    // schema pull states them the same way.
    let actual = schema::inspect(&db, "docs", "labels")
        .await
        .unwrap()
        .unwrap();
    let rendered = schema::render_structs(&[actual]);
    assert!(rendered.sql_types.is_empty(), "{:?}", rendered.sql_types);
    assert!(
        rendered
            .source
            .contains("#[table(varchar = 20)]\n    pub tags: Vec<String>,"),
        "{}",
        rendered.source
    );
}
