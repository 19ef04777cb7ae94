//! Every supported field type round-trips through a real server, NULLs and arrays included;
//! attributes shape the DDL.

mod common;

use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use skelly_db::{ConstraintKind, Executor, Table, TextEnum};
use uuid::Uuid;

#[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[text_enum(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    Low,
    VeryHigh,
    #[text_enum(rename = "mid")]
    Middle,
}

#[derive(Table, Debug, Clone, PartialEq)]
pub struct Sample {
    pub id: Uuid,
    pub flag: bool,
    pub small: i16,
    pub int: i32,
    pub big: i64,
    pub real: f32,
    pub double: f64,
    pub text: String,
    pub at: DateTime<Utc>,
    pub naive: NaiveDateTime,
    pub day: NaiveDate,
    pub bytes: Vec<u8>,
    pub json: serde_json::Value,
    pub ints: Vec<i32>,
    pub texts: Vec<String>,
    pub uuids: Vec<Uuid>,
    pub level: Level,
    pub maybe_level: Option<Level>,
    pub levels: Vec<Level>,
    pub maybe_int: Option<i32>,
    pub maybe_text: Option<String>,
    pub maybe_at: Option<DateTime<Utc>>,
    pub maybe_bigs: Option<Vec<i64>>,
    #[table(sql_type = "inet")]
    pub addr: IpAddr,
    #[table(rename = "type")]
    pub kind: String,
    pub r#ref: String,
}

fn sample(i: i32, nulls: bool) -> NewSample {
    let at = Utc.with_ymd_and_hms(2024, 2, 29, 13, 14, 15).unwrap()
        + chrono::Duration::microseconds(123_456);
    NewSample {
        flag: i % 2 == 0,
        small: -7,
        int: i,
        big: i64::MAX - i64::from(i),
        real: 1.5,
        double: -2.25e100,
        text: format!("text {i} with 'quotes' and \"double\" and ünïcode"),
        at,
        naive: at.naive_utc(),
        day: NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
        bytes: vec![0, 1, 2, 255],
        json: serde_json::json!({"a": [1, 2, {"b": null}], "i": i}),
        ints: vec![1, -2, i],
        texts: vec!["x".into(), String::new(), "z,{}\"".into()],
        uuids: vec![Uuid::nil(), Uuid::from_u128(u128::from(i as u32))],
        level: Level::VeryHigh,
        maybe_level: (!nulls).then_some(Level::Middle),
        levels: vec![Level::Low, Level::Middle],
        maybe_int: (!nulls).then_some(-i),
        maybe_text: (!nulls).then(|| "maybe".to_string()),
        maybe_at: (!nulls).then_some(at),
        maybe_bigs: (!nulls).then(|| vec![1, 2, 3]),
        addr: "10.1.2.3".parse().unwrap(),
        kind: "reserved word column".into(),
        r#ref: "raw identifier field".into(),
    }
}

fn assert_matches(row: &Sample, new: &NewSample) {
    assert_eq!(row.flag, new.flag);
    assert_eq!(row.small, new.small);
    assert_eq!(row.int, new.int);
    assert_eq!(row.big, new.big);
    assert_eq!(row.real, new.real);
    assert_eq!(row.double, new.double);
    assert_eq!(row.text, new.text);
    assert_eq!(row.at, new.at);
    assert_eq!(row.naive, new.naive);
    assert_eq!(row.day, new.day);
    assert_eq!(row.bytes, new.bytes);
    assert_eq!(row.json, new.json);
    assert_eq!(row.ints, new.ints);
    assert_eq!(row.texts, new.texts);
    assert_eq!(row.uuids, new.uuids);
    assert_eq!(row.level, new.level);
    assert_eq!(row.maybe_level, new.maybe_level);
    assert_eq!(row.levels, new.levels);
    assert_eq!(row.maybe_int, new.maybe_int);
    assert_eq!(row.maybe_text, new.maybe_text);
    assert_eq!(row.maybe_at, new.maybe_at);
    assert_eq!(row.maybe_bigs, new.maybe_bigs);
    assert_eq!(row.addr, new.addr);
    assert_eq!(row.kind, new.kind);
    assert_eq!(row.r#ref, new.r#ref);
}

#[tokio::test]
async fn every_type_round_trips() {
    let db = common::empty_db().await;
    let pool = db.pool();
    pool.batch_execute(&Sample::create_table_sql())
        .await
        .unwrap();

    for nulls in [false, true] {
        let new = sample(3, nulls);
        let row = Sample::insert(pool, sample(3, nulls)).await.unwrap();
        assert_matches(&row, &new);
        assert_matches(&Sample::get(pool, row.id).await.unwrap(), &new);
    }
    // No updated_at column: an empty patch is a no-op that still returns the row, and a bulk
    // update writes only its fields.
    let row = Sample::query().fetch_all(pool).await.unwrap().remove(0);
    let same = Sample::update(pool, row.id, SamplePatch::default())
        .await
        .unwrap();
    assert_eq!(same, row);
    let changed = Sample::query()
        .filter(Sample::INT.eq(3))
        .update(
            pool,
            &SamplePatch {
                small: Some(9),
                maybe_text: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed, 2);
    for row in Sample::query().fetch_all(pool).await.unwrap() {
        assert_eq!((row.small, row.maybe_text), (9, None));
    }
    pool.batch_execute("UPDATE public.samples SET small = -7, maybe_text = CASE WHEN maybe_int IS NULL THEN NULL ELSE 'maybe' END")
        .await
        .unwrap();

    // Stored as the enum's texts.
    let levels: Vec<(String, Option<String>)> = pool
        .query(
            "SELECT level, maybe_level FROM public.samples ORDER BY maybe_level NULLS LAST",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        levels,
        [
            ("VERY_HIGH".to_string(), Some("mid".to_string())),
            ("VERY_HIGH".to_string(), None)
        ]
    );

    // Every element of an enum array is checked.
    let err = pool
        .execute(
            "UPDATE public.samples SET levels = ARRAY['LOW', 'nope']",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.as_constraint().and_then(|v| v.constraint.as_deref()),
        Some("samples_levels_check")
    );

    // Batches with array columns go through multi-row VALUES.
    let batch: Vec<NewSample> = (0..50).map(|i| sample(i, i % 2 == 0)).collect();
    let rows = Sample::insert_many(pool, batch).await.unwrap();
    assert_eq!(rows.len(), 50);
    for (i, row) in rows.iter().enumerate() {
        assert_matches(row, &sample(i as i32, i % 2 == 0));
    }
}

#[test]
fn sql_types_of_each_field() {
    let types: Vec<(&str, &str, bool)> = Sample::COLUMNS
        .iter()
        .map(|c| (c.name, c.sql_type, c.nullable))
        .collect();
    assert_eq!(
        types,
        [
            ("id", "uuid", false),
            ("flag", "boolean", false),
            ("small", "smallint", false),
            ("int", "integer", false),
            ("big", "bigint", false),
            ("real", "real", false),
            ("double", "double precision", false),
            ("text", "text", false),
            ("at", "timestamptz", false),
            ("naive", "timestamp", false),
            ("day", "date", false),
            ("bytes", "bytea", false),
            ("json", "jsonb", false),
            ("ints", "integer[]", false),
            ("texts", "text[]", false),
            ("uuids", "uuid[]", false),
            ("level", "text", false),
            ("maybe_level", "text", true),
            ("levels", "text[]", false),
            ("maybe_int", "integer", true),
            ("maybe_text", "text", true),
            ("maybe_at", "timestamptz", true),
            ("maybe_bigs", "bigint[]", true),
            ("addr", "inet", false),
            ("type", "text", false),
            ("ref", "text", false),
        ]
    );
    assert_eq!(Level::VARIANTS, ["LOW", "VERY_HIGH", "mid"]);
    assert_eq!(Sample::NAME, "samples");
    assert_eq!(Sample::SCHEMA, "public");
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog")]
pub struct Author {
    pub id: Uuid,
    #[table(unique)]
    pub handle: String,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "posts")]
pub struct BlogPost {
    #[table(primary_key, default = "nextval('blog.post_ids')")]
    pub number: i64,
    #[table(references = "blog.authors")]
    pub author_id: Uuid,
    #[table(index)]
    pub title: String,
    #[table(skip_patch)]
    pub slug: String,
    #[table(default = "0")]
    pub views: i32,
    #[table(plain)]
    pub created_at: Option<DateTime<Utc>>,
    #[table(updated_at, rename = "changed")]
    pub changed_at: DateTime<Utc>,
}

#[tokio::test]
async fn attributes_shape_the_ddl_and_the_generated_structs() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let ddl = BlogPost::create_table_sql();
    assert!(
        ddl.contains("\"number\" bigint NOT NULL DEFAULT nextval('blog.post_ids')"),
        "{ddl}"
    );
    assert!(ddl.contains("CONSTRAINT \"posts_author_id_fkey\" FOREIGN KEY (\"author_id\") REFERENCES \"blog\".\"authors\"\n"), "{ddl}");
    assert!(
        ddl.contains("CREATE INDEX IF NOT EXISTS \"posts_author_id_idx\" ON \"blog\".\"posts\" (\"author_id\");"),
        "{ddl}"
    );
    assert!(
        ddl.contains(
            "CREATE INDEX IF NOT EXISTS \"posts_title_idx\" ON \"blog\".\"posts\" (\"title\");"
        ),
        "{ddl}"
    );
    assert!(ddl.contains("\"created_at\" timestamptz,"), "{ddl}");
    // Not soft-delete: a plain unique constraint.
    assert!(Author::create_table_sql()
        .contains("CONSTRAINT \"authors_handle_key\" UNIQUE (\"handle\")"));

    pool.batch_execute("CREATE SCHEMA blog; CREATE SEQUENCE blog.post_ids START 100")
        .await
        .unwrap();
    pool.batch_execute(&Author::create_table_sql())
        .await
        .unwrap();
    pool.batch_execute(&ddl).await.unwrap();
    pool.batch_execute(&ddl).await.unwrap();
    let author = Author::insert(
        pool,
        NewAuthor {
            handle: "ada".into(),
        },
    )
    .await
    .unwrap();
    // number and views come from their defaults; created_at is an ordinary nullable column.
    let post = BlogPost::insert(
        pool,
        NewBlogPost {
            author_id: author.id,
            title: "Hello".into(),
            slug: "hello".into(),
            created_at: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(post.number, 100);
    assert_eq!(post.views, 0);
    assert_eq!(post.created_at, None);
    let patched = BlogPost::update(
        pool,
        post.number,
        BlogPostPatch {
            views: Some(5),
            title: Some("Hi".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (patched.views, patched.title.as_str(), patched.slug.as_str()),
        (5, "Hi", "hello")
    );
    assert!(patched.changed_at >= post.changed_at);

    // The foreign key is enforced, and deleting a referenced author names the child table.
    let err = BlogPost::insert(
        pool,
        NewBlogPost {
            author_id: Uuid::new_v4(),
            title: "x".into(),
            slug: "x".into(),
            created_at: None,
        },
    )
    .await
    .unwrap_err();
    let v = err.as_constraint().unwrap();
    assert_eq!(v.kind, ConstraintKind::ForeignKey);
    assert_eq!(v.constraint.as_deref(), Some("posts_author_id_fkey"));
    // No soft delete on authors: delete is a hard delete.
    let err = Author::delete(pool, author.id).await.unwrap_err();
    assert_eq!(err.as_constraint().unwrap().table.as_deref(), Some("posts"));
    assert!(BlogPost::delete(pool, post.number).await.unwrap());
    assert!(Author::delete(pool, author.id).await.unwrap());
    assert!(Author::find(pool, author.id).await.unwrap().is_none());
}

/// Timestamps and text decode through skelly-db's own decoders (`SqlType::decode`); they must
/// give what tokio-postgres's `FromSql` gives for the same stored values, errors included.
#[derive(Table, Debug, Clone, PartialEq)]
pub struct Moment {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub naive: NaiveDateTime,
    pub note: String,
    pub maybe_note: Option<String>,
    pub maybe_at: Option<DateTime<Utc>>,
}

#[tokio::test]
async fn decoders_agree_with_tokio_postgres() {
    let db = common::empty_db().await;
    let pool = db.pool();
    pool.batch_execute(&Moment::create_table_sql())
        .await
        .unwrap();
    let instants = [
        "4713-01-01 00:00:00 BC",
        "0001-01-01 00:00:00",
        "1899-12-31 23:59:59.999999",
        "1969-12-31 23:59:59.999999",
        "1970-01-01 00:00:00",
        "1999-12-31 23:59:59.999999",
        "2000-01-01 00:00:00",
        "2000-01-01 00:00:00.000001",
        "2024-02-29 13:14:15.123456",
        "2100-03-01 00:00:00",
        "262142-12-31 23:59:59.999999",
    ];
    let long = format!("{}é", "a".repeat(1_000));
    let notes = ["", "plain@example.com", "é ü 日本 🦀", long.as_str()];
    for (i, at) in instants.iter().enumerate() {
        let note = notes[i % notes.len()];
        let maybe_note = (i % 3 != 0).then(|| notes[(i + 1) % notes.len()]);
        pool.execute(
            "INSERT INTO public.moments (id, at, naive, note, maybe_note, maybe_at) \
             VALUES (gen_random_uuid(), $1::text::timestamptz, $1::text::timestamp, $2, $3, \
             CASE WHEN $4 THEN $1::text::timestamptz END)",
            &[at, &note, &maybe_note, &(i % 2 == 0)],
        )
        .await
        .unwrap();
    }
    let ours = Moment::query()
        .order_by(Moment::AT.asc())
        .fetch_all(pool)
        .await
        .unwrap();
    let theirs: Vec<Moment> = pool
        .query(
            "SELECT id, at, naive, note, maybe_note, maybe_at FROM public.moments ORDER BY at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| Moment {
            id: r.get(0),
            at: r.get(1),
            naive: r.get(2),
            note: r.get(3),
            maybe_note: r.get(4),
            maybe_at: r.get(5),
        })
        .collect();
    assert_eq!(ours.len(), instants.len());
    assert_eq!(ours, theirs);
    assert_eq!(
        ours[8].at,
        Utc.with_ymd_and_hms(2024, 2, 29, 13, 14, 15).unwrap()
            + chrono::Duration::microseconds(123_456)
    );

    // What tokio-postgres says about the same value, for comparing messages.
    async fn driver_message<T: for<'a> tokio_postgres::types::FromSql<'a> + std::fmt::Debug>(
        pool: &skelly_db::Pool,
        column: &str,
    ) -> String {
        let row = pool
            .query_one(&format!("SELECT {column} FROM public.moments"), &[])
            .await
            .unwrap();
        let err = row.try_get::<_, T>(0).unwrap_err();
        std::error::Error::source(&err).unwrap().to_string()
    }

    // infinity has no chrono value: the same error as the driver's, naming the column.
    pool.batch_execute("DELETE FROM public.moments")
        .await
        .unwrap();
    pool.execute(
        "INSERT INTO public.moments (id, at, naive, note) \
         VALUES (gen_random_uuid(), 'infinity', 'now', 'x')",
        &[],
    )
    .await
    .unwrap();
    let err = Moment::query().fetch_all(pool).await.unwrap_err();
    assert_eq!(err.code(), "decode");
    let expected = driver_message::<DateTime<Utc>>(pool, "at").await;
    assert_eq!(expected, "value too large to decode");
    assert_eq!(
        err.to_string(),
        format!("cannot decode column `at`: {expected}")
    );

    // A column whose type no longer matches the field.
    pool.batch_execute(
        "UPDATE public.moments SET at = 'epoch'; \
         ALTER TABLE public.moments ALTER COLUMN maybe_at TYPE timestamp",
    )
    .await
    .unwrap();
    let err = Moment::query().fetch_all(pool).await.unwrap_err();
    let expected = driver_message::<Option<DateTime<Utc>>>(pool, "maybe_at").await;
    assert!(expected.contains("`timestamp`"), "{expected}");
    assert_eq!(
        err.to_string(),
        format!("cannot decode column `maybe_at`: {expected}")
    );

    // NULL in a field that is not an Option.
    pool.batch_execute(
        "ALTER TABLE public.moments ALTER COLUMN maybe_at TYPE timestamptz; \
         ALTER TABLE public.moments ALTER COLUMN note DROP NOT NULL; \
         UPDATE public.moments SET note = NULL",
    )
    .await
    .unwrap();
    let err = Moment::query().fetch_all(pool).await.unwrap_err();
    let expected = driver_message::<String>(pool, "note").await;
    assert_eq!(
        err.to_string(),
        format!("cannot decode column `note`: {expected}")
    );
}

#[tokio::test]
async fn copy_in_sends_every_type_including_ones_it_asks_the_server_about() {
    // `addr` is `sql_type = "inet"`: its type is learnt from the server, the rest are built in.
    let db = common::empty_db().await;
    let pool = db.pool();
    pool.batch_execute(&Sample::create_table_sql())
        .await
        .unwrap();
    let rows: Vec<NewSample> = (0..20).map(|i| sample(i, i % 2 == 1)).collect();
    assert_eq!(Sample::copy_in(pool, rows).await.unwrap(), 20);
    let stored = Sample::query()
        .order_by(Sample::INT.asc())
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 20);
    for (i, row) in stored.iter().enumerate() {
        assert_matches(row, &sample(i as i32, i % 2 == 1));
    }
}
