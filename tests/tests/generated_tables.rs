//! Generated table shapes, checked end to end (issue 23): the shapes users bring, not the ones
//! the implementation's own tests picked. Each case is a schema of one to three random tables
//! (every key kind, field types with arrays, varchar, numeric, text and native enums,
//! nullability, defaults, uniques partial, NULLS NOT DISTINCT and over all rows, indexes,
//! checks, foreign keys with actions to every key kind (a table-level composite one to a
//! composite key), soft delete, version,
//! unlogged), written as struct source. The source reader reads it; its draft from an empty
//! database passes the lint, applies, and the schema check then finds nothing; `create_sql`
//! gives the same catalog; a column the database fills in (default, identity or NULL) is one the
//! declared shape leaves to it, and the other way round (the insert struct holds the rest); the
//! structs `schema pull` writes from the catalog read back and check clean too; a
//! random edit's
//! draft passes the lint, applies, checks clean, and its Down gives back the catalog exactly.
//!
//! `SKELLY_GENERATED_CASES` sets the number of cases (default 16), `SKELLY_GENERATED_SEED` a
//! seed (64 hex digits) to replay; a failure prints the seed, the structs and the drafts.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use skelly_db::migrate::{lint, Migrator};
use skelly_db::schema::{self, DraftOptions, TableShape};
use skelly_db::testing::TestDb;
use skelly_db::Executor;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Uuid,
    Text,
    Varchar(Option<u16>),
    Char(u8),
    Bool,
    I16,
    I32,
    I64,
    F64,
    Timestamptz,
    Timestamp,
    Date,
    Decimal(Option<(u8, u8)>),
    Inet,
    Bytes,
    Json,
    JsonText,
    IntArray,
    TextArray,
    VarcharArray(u16),
    JsonArray,
    TextEnum,
    NativeEnum,
    EnumArray,
}

impl Ty {
    /// The Rust type and the attributes it needs.
    fn rust(self) -> (&'static str, String) {
        match self {
            Ty::Uuid => ("uuid::Uuid", String::new()),
            Ty::Text => ("String", String::new()),
            Ty::Varchar(Some(n)) => ("String", format!("varchar = {n}")),
            Ty::Varchar(None) => ("String", "varchar".into()),
            Ty::Char(n) => ("String", format!("char = {n}")),
            Ty::Bool => ("bool", String::new()),
            Ty::I16 => ("i16", String::new()),
            Ty::I32 => ("i32", String::new()),
            Ty::I64 => ("i64", String::new()),
            Ty::F64 => ("f64", String::new()),
            Ty::Timestamptz => ("chrono::DateTime<chrono::Utc>", String::new()),
            Ty::Timestamp => ("chrono::NaiveDateTime", String::new()),
            Ty::Date => ("chrono::NaiveDate", String::new()),
            Ty::Decimal(None) => ("rust_decimal::Decimal", String::new()),
            Ty::Decimal(Some((p, s))) => (
                "rust_decimal::Decimal",
                format!("sql_type = \"numeric({p}, {s})\""),
            ),
            Ty::Inet => ("std::net::IpAddr", String::new()),
            Ty::Bytes => ("Vec<u8>", String::new()),
            Ty::Json => ("serde_json::Value", String::new()),
            Ty::JsonText => ("serde_json::Value", "json".into()),
            Ty::IntArray => ("Vec<i32>", String::new()),
            Ty::TextArray => ("Vec<String>", String::new()),
            Ty::VarcharArray(n) => ("Vec<String>", format!("varchar = {n}")),
            Ty::JsonArray => ("Vec<serde_json::Value>", String::new()),
            Ty::TextEnum => ("Mood", String::new()),
            Ty::NativeEnum => ("MoodKind", String::new()),
            Ty::EnumArray => ("Vec<Mood>", String::new()),
        }
    }

    /// A default the column may have.
    fn default(self) -> Option<&'static str> {
        match self {
            Ty::Bool => Some("false"),
            Ty::I16 | Ty::I32 | Ty::I64 => Some("0"),
            Ty::Text | Ty::Varchar(_) => Some("''"),
            _ => None,
        }
    }

    /// Whether a plain btree index or unique fits it.
    fn indexable(self) -> bool {
        !matches!(
            self,
            Ty::Json | Ty::JsonText | Ty::JsonArray | Ty::EnumArray
        )
    }

    fn name(self) -> &'static str {
        match self {
            Ty::Uuid => "uuid",
            Ty::Text => "text",
            Ty::Varchar(_) => "varchar",
            Ty::Char(_) => "char",
            Ty::Bool => "bool",
            Ty::I16 => "small",
            Ty::I32 => "int",
            Ty::I64 => "big",
            Ty::F64 => "float",
            Ty::Timestamptz => "at",
            Ty::Timestamp => "local_at",
            Ty::Date => "day",
            Ty::Decimal(_) => "amount",
            Ty::Inet => "ip",
            Ty::Bytes => "bytes",
            Ty::Json => "doc",
            Ty::JsonText => "raw_doc",
            Ty::IntArray => "ints",
            Ty::TextArray => "tags",
            Ty::VarcharArray(_) => "codes",
            Ty::JsonArray => "docs",
            Ty::TextEnum => "mood",
            Ty::NativeEnum => "kind",
            Ty::EnumArray => "moods",
        }
    }
}

fn ty() -> impl Strategy<Value = Ty> {
    prop_oneof![
        Just(Ty::Uuid),
        Just(Ty::Text),
        prop::option::of(1u16..300).prop_map(Ty::Varchar),
        (1u8..5).prop_map(Ty::Char),
        Just(Ty::Bool),
        Just(Ty::I16),
        Just(Ty::I32),
        Just(Ty::I64),
        Just(Ty::F64),
        Just(Ty::Timestamptz),
        Just(Ty::Timestamp),
        Just(Ty::Date),
        prop::option::of((4u8..20).prop_flat_map(|p| (Just(p), 0..=p.min(6))))
            .prop_map(Ty::Decimal),
        Just(Ty::Inet),
        Just(Ty::Bytes),
        Just(Ty::Json),
        Just(Ty::JsonText),
        Just(Ty::IntArray),
        Just(Ty::TextArray),
        (1u16..50).prop_map(Ty::VarcharArray),
        Just(Ty::JsonArray),
        Just(Ty::TextEnum),
        Just(Ty::NativeEnum),
        Just(Ty::EnumArray),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Unique {
    No,
    Live,
    NullsNotDistinct,
    AllRows,
}

#[derive(Debug, Clone)]
struct Col {
    /// Its number in the table, for its name (stable across edits).
    id: usize,
    ty: Ty,
    nullable: bool,
    default: bool,
    unique: Unique,
    index: bool,
}

fn col() -> impl Strategy<Value = Col> {
    (
        ty(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            4 => Just(Unique::No),
            1 => Just(Unique::Live),
            1 => Just(Unique::NullsNotDistinct),
            1 => Just(Unique::AllRows),
        ],
        prop::bool::weighted(0.25),
    )
        .prop_map(|(ty, nullable, default, unique, index)| {
            let unique = if ty.indexable() { unique } else { Unique::No };
            Col {
                id: 0,
                ty,
                nullable,
                default: default && ty.default().is_some(),
                unique,
                index: index && ty.indexable() && unique == Unique::No,
            }
        })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    Uuid,
    Identity(Ty),
    /// A varchar code.
    Natural,
    /// An integer the caller numbers.
    Supplied,
    /// A uuid part (a foreign key to an earlier uuid-keyed table when there is one) and an
    /// integer part.
    Composite,
}

impl Key {
    /// The key as a foreign key's column: its Rust type and attributes.
    fn reference(self) -> Option<(&'static str, &'static str)> {
        match self {
            Key::Uuid => Some(("uuid::Uuid", "")),
            Key::Identity(Ty::I16) => Some(("i16", "")),
            Key::Identity(Ty::I32) => Some(("i32", "")),
            Key::Identity(_) => Some(("i64", "")),
            Key::Natural => Some(("String", ", varchar = 20")),
            Key::Supplied => Some(("i32", "")),
            Key::Composite => None,
        }
    }
}

fn key() -> impl Strategy<Value = Key> {
    prop_oneof![
        Just(Key::Uuid),
        prop_oneof![Just(Ty::I16), Just(Ty::I32), Just(Ty::I64)].prop_map(Key::Identity),
        Just(Key::Natural),
        Just(Key::Supplied),
        Just(Key::Composite),
    ]
}

#[derive(Debug, Clone)]
struct Fk {
    /// Which earlier table, as an index into the ones before it (modulo their number).
    target: usize,
    nullable: bool,
    on_delete: Option<&'static str>,
    no_index: bool,
}

fn fk() -> impl Strategy<Value = Fk> {
    (
        any::<usize>(),
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some("cascade")),
            Just(Some("restrict")),
            Just(Some("set null")),
        ],
        prop::bool::weighted(0.3),
    )
        .prop_map(|(target, nullable, on_delete, no_index)| Fk {
            target,
            nullable: nullable || on_delete == Some("set null"),
            on_delete,
            no_index,
        })
}

#[derive(Debug, Clone)]
struct Table {
    key: Key,
    cols: Vec<Col>,
    fks: Vec<Fk>,
    timestamps: bool,
    soft_delete: bool,
    version: bool,
    unlogged: bool,
    /// A unique over the first two indexable columns, NULLS NOT DISTINCT or not.
    pair_unique: Option<bool>,
    /// A CHECK on the first integer column.
    check: bool,
}

fn table() -> impl Strategy<Value = Table> {
    (
        key(),
        prop::collection::vec(col(), 1..7),
        prop::collection::vec(fk(), 0..3),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.3, any::<bool>()),
        any::<bool>(),
    )
        .prop_map(
            |(key, cols, fks, timestamps, soft_delete, version, unlogged, pair_unique, check)| {
                let mut t = Table {
                    key,
                    cols,
                    fks,
                    timestamps,
                    soft_delete,
                    version,
                    unlogged,
                    pair_unique,
                    check,
                };
                for (i, c) in t.cols.iter_mut().enumerate() {
                    c.id = i;
                }
                if !t.soft_delete {
                    for c in &mut t.cols {
                        if c.unique == Unique::AllRows {
                            c.unique = Unique::Live;
                        }
                    }
                }
                t
            },
        )
}

#[derive(Debug, Clone)]
enum Edit {
    AddColumn(Col),
    DropColumn(usize),
    ToggleIndex(usize),
    ToggleUnique(usize),
    ToggleNullable(usize),
    GrowVarchar(usize),
    ToggleCheck,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        col().prop_map(Edit::AddColumn),
        any::<usize>().prop_map(Edit::DropColumn),
        any::<usize>().prop_map(Edit::ToggleIndex),
        any::<usize>().prop_map(Edit::ToggleUnique),
        any::<usize>().prop_map(Edit::ToggleNullable),
        any::<usize>().prop_map(Edit::GrowVarchar),
        Just(Edit::ToggleCheck),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    tables: Vec<Table>,
    /// The table the edit applies to (modulo their number), and the edit.
    edit: (usize, Edit),
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(table(), 1..4),
        (any::<usize>(), edit()),
    )
        .prop_map(|(tables, edit)| Case { tables, edit })
}

const ENUMS: &str = r#"
#[derive(TextEnum)]
pub enum Mood { Calm, Busy, Away }

#[derive(TextEnum)]
#[text_enum(pg_enum = "gen.mood_kind")]
pub enum MoodKind { Calm, Busy, Away }
"#;

fn column_name(c: &Col) -> String {
    format!("c{}_{}", c.id, c.ty.name())
}

/// The structs of `tables`, as a user would write them.
fn source(tables: &[Table]) -> String {
    let mut out = String::from(ENUMS);
    for (n, t) in tables.iter().enumerate() {
        let _ = write!(
            out,
            "\n#[derive(Table)]\n#[table(schema = \"gen\", name = \"t{n}\""
        );
        if t.unlogged {
            out.push_str(", unlogged");
        }
        out.push_str(")]\n");
        let indexable: Vec<String> = t
            .cols
            .iter()
            .enumerate()
            .filter(|(_, c)| c.ty.indexable())
            .map(|(_, c)| column_name(c))
            .collect();
        if let (Some(nnd), [a, b, ..]) = (t.pair_unique, indexable.as_slice()) {
            let nnd = if nnd { ", nulls_not_distinct" } else { "" };
            let _ = writeln!(out, "#[table(unique({a}, {b}{nnd}))]");
        }
        let int = t
            .cols
            .iter()
            .enumerate()
            .find(|(_, c)| matches!(c.ty, Ty::I16 | Ty::I32 | Ty::I64));
        if let (true, Some((_, c))) = (t.check, int) {
            let _ = writeln!(out, "#[table(check(expr = \"{} >= 0\"))]", column_name(c));
        }
        // Foreign keys to the earlier tables (PostgreSQL refuses a logged table's key to an
        // unlogged one); to a composite key: a table-level foreign_key over two fields.
        let targets: Vec<usize> = (0..n)
            .filter(|&j| t.unlogged || !tables[j].unlogged)
            .collect();
        let target_of = |fk: &Fk| (!targets.is_empty()).then(|| targets[fk.target % targets.len()]);
        for (k, fk) in t.fks.iter().enumerate() {
            let Some(j) = target_of(fk) else { break };
            if tables[j].key != Key::Composite {
                continue;
            }
            let mut item = format!(
                "foreign_key(columns(fk{k}_t{j}_a, fk{k}_t{j}_b), references = \"gen.t{j}\""
            );
            if let Some(action) = fk.on_delete {
                let _ = write!(item, ", on_delete = \"{action}\"");
            }
            if fk.no_index {
                item.push_str(", no_index");
            }
            let _ = writeln!(out, "#[table({item}))]");
        }
        let _ = writeln!(out, "pub struct T{n} {{");
        match t.key {
            Key::Uuid => out.push_str("    pub id: uuid::Uuid,\n"),
            Key::Identity(ty) => {
                let _ = writeln!(out, "    pub id: {},", ty.rust().0);
            }
            Key::Natural => {
                out.push_str("    #[table(primary_key, varchar = 20)]\n    pub code: String,\n")
            }
            Key::Supplied => {
                out.push_str("    #[table(primary_key, supplied)]\n    pub number: i32,\n")
            }
            Key::Composite => {
                let uuid_target = (0..n)
                    .find(|&j| tables[j].key == Key::Uuid && (t.unlogged || !tables[j].unlogged));
                match uuid_target {
                    Some(j) => {
                        let _ = writeln!(
                            out,
                            "    #[table(primary_key, references = \"gen.t{j}\", on_delete = \"cascade\")]"
                        );
                    }
                    None => out.push_str("    #[table(primary_key)]\n"),
                }
                out.push_str("    pub part_a: uuid::Uuid,\n    #[table(primary_key)]\n    pub part_b: i32,\n");
            }
        }
        for (k, fk) in t.fks.iter().enumerate() {
            let Some(j) = target_of(fk) else { break };
            let Some((ty, extra)) = tables[j].key.reference() else {
                // The two fields of a composite foreign key.
                let option = |ty: &str| match fk.nullable {
                    true => format!("Option<{ty}>"),
                    false => ty.to_string(),
                };
                let _ = writeln!(
                    out,
                    "    pub fk{k}_t{j}_a: {},\n    pub fk{k}_t{j}_b: {},",
                    option("uuid::Uuid"),
                    option("i32")
                );
                continue;
            };
            let mut attrs = format!("references = \"gen.t{j}\"{extra}");
            if let Some(action) = fk.on_delete {
                let _ = write!(attrs, ", on_delete = \"{action}\"");
            }
            if fk.no_index {
                attrs.push_str(", no_index");
            }
            let ty = if fk.nullable {
                format!("Option<{ty}>")
            } else {
                ty.to_string()
            };
            let _ = writeln!(out, "    #[table({attrs})]\n    pub fk{k}_t{j}: {ty},");
        }
        for c in &t.cols {
            let (ty, mut attrs) = c.ty.rust();
            let mut add = |a: &str| {
                if !attrs.is_empty() {
                    attrs.push_str(", ");
                }
                attrs.push_str(a);
            };
            if c.default {
                add(&format!("default = \"{}\"", c.ty.default().unwrap()));
            }
            match c.unique {
                Unique::No => {}
                Unique::Live => add("unique"),
                Unique::NullsNotDistinct => add("unique, nulls_not_distinct"),
                Unique::AllRows => add("unique, all_rows"),
            }
            if c.index {
                add("index");
            }
            if !attrs.is_empty() {
                let _ = writeln!(out, "    #[table({attrs})]");
            }
            let ty = if c.nullable {
                format!("Option<{ty}>")
            } else {
                ty.to_string()
            };
            let _ = writeln!(out, "    pub {}: {ty},", column_name(c));
        }
        if t.timestamps {
            out.push_str("    pub created_at: chrono::DateTime<chrono::Utc>,\n    pub updated_at: chrono::DateTime<chrono::Utc>,\n");
        }
        if t.soft_delete {
            out.push_str("    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,\n");
        }
        if t.version {
            out.push_str("    #[table(version)]\n    pub version: i32,\n");
        }
        out.push_str("}\n");
    }
    out
}

/// `tables` with the edit made; the draft options it needs.
fn edited(tables: &[Table], (which, edit): &(usize, Edit)) -> (Vec<Table>, DraftOptions) {
    let mut tables = tables.to_vec();
    let n = which % tables.len();
    let t = &mut tables[n];
    let mut options = DraftOptions::default();
    let pick = |i: &usize, len: usize| i % len;
    match edit {
        Edit::AddColumn(c) => {
            // A column added to a table with rows needs a default or NULL.
            let mut c = c.clone();
            c.id = t.cols.iter().map(|c| c.id + 1).max().unwrap_or(0);
            c.nullable = c.nullable || !c.default;
            if c.unique == Unique::AllRows && !t.soft_delete {
                c.unique = Unique::Live;
            }
            t.cols.push(c);
        }
        Edit::DropColumn(i) if t.cols.len() > 1 => {
            let i = pick(i, t.cols.len());
            let name = column_name(&t.cols[i]);
            t.cols.remove(i);
            options.allow_drop = true;
            options.not_renamed.push((format!("t{n}"), name));
        }
        Edit::DropColumn(_) => {}
        Edit::ToggleIndex(i) => {
            let i = pick(i, t.cols.len());
            let c = &mut t.cols[i];
            c.index = !c.index && c.ty.indexable() && c.unique == Unique::No;
        }
        Edit::ToggleUnique(i) => {
            let i = pick(i, t.cols.len());
            let c = &mut t.cols[i];
            c.unique = match c.unique {
                Unique::No if c.ty.indexable() => Unique::Live,
                _ => Unique::No,
            };
            c.index = false;
        }
        Edit::ToggleNullable(i) => {
            let i = pick(i, t.cols.len());
            t.cols[i].nullable = !t.cols[i].nullable;
        }
        Edit::GrowVarchar(i) => {
            let i = pick(i, t.cols.len());
            if let Ty::Varchar(Some(len)) = t.cols[i].ty {
                t.cols[i].ty = Ty::Varchar(Some(len + 10));
            }
        }
        Edit::ToggleCheck => t.check = !t.check,
    }
    (tables, options)
}

fn shapes(source: &str) -> Result<Vec<TableShape>, String> {
    schema::from_sources(&[("generated.rs".into(), source.into())])
        .map(|tables| tables.into_iter().map(|t| t.shape).collect())
        .map_err(|e| format!("{e:?}"))
}

/// Every table of schema `gen` as the catalog has it, columns by name.
async fn catalog(db: &TestDb) -> Vec<TableShape> {
    let rows = db
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'gen' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for row in rows {
        let mut shape = schema::inspect(db, "gen", &row.get::<_, String>(0))
            .await
            .unwrap()
            .unwrap();
        shape.columns.sort_by(|a, b| a.name.cmp(&b.name));
        out.push(shape);
    }
    out
}

/// Drafts the migration from `db` to `declared`, writes it into `dir` as file(s) numbered from
/// `n`; the draft texts.
async fn draft(
    db: &TestDb,
    declared: &[TableShape],
    options: &DraftOptions,
    dir: &Path,
    n: usize,
) -> Result<Vec<String>, String> {
    let mut actual = Vec::new();
    for t in declared {
        actual.push(schema::inspect(db, &t.schema, &t.name).await.unwrap());
    }
    let schemas = schema::schemas(db).await.unwrap();
    let draft = schema::draft(declared, &actual, &schemas, options).map_err(|q| format!("{q}"))?;
    let mut files = Vec::new();
    for text in [&draft.main, &draft.concurrent].into_iter().flatten() {
        let name = format!("{:03}_draft.sql", n + files.len());
        std::fs::write(dir.join(name), text).unwrap();
        files.push(text.clone());
    }
    Ok(files)
}

/// The lint findings of the files from `first` on.
fn lints(migrator: &Migrator, first: usize) -> Vec<String> {
    let ids: Vec<&str> = migrator.migrations()[first..]
        .iter()
        .map(|m| m.id())
        .collect();
    lint::lint(migrator.migrations())
        .into_iter()
        .filter(|f| ids.contains(&f.file.as_str()))
        .map(|f| f.to_string())
        .collect()
}

async fn run_case(case: &Case, dir: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let structs = source(&case.tables);
    let base = shapes(&structs).map_err(|e| format!("the source reader refused it: {e}"))?;
    if base.len() != case.tables.len() {
        return Err(format!(
            "{} tables read of {}",
            base.len(),
            case.tables.len()
        ));
    }
    let db = common::empty_db().await;

    // From an empty database: the draft lints clean, applies, and the check finds nothing.
    let files = draft(&db, &base, &DraftOptions::default(), dir, 1).await?;
    let context = |what: &str, files: &[String]| format!("{what}\n{}", files.join("\n"));
    let migrator = Migrator::from_dir(dir).map_err(|e| context(&e.to_string(), &files))?;
    let found = lints(&migrator, 0);
    if !found.is_empty() {
        return Err(context(&format!("the draft's lint: {found:?}"), &files));
    }
    migrator
        .up(&db)
        .await
        .map_err(|e| context(&format!("up: {e}"), &files))?;
    let report = schema::check(&db, &base).await.unwrap();
    if !report.findings.is_empty() {
        return Err(context(&format!("check after the draft: {report}"), &files));
    }
    // The DDL each struct renders applies too, on a database of its own.
    let ddl = common::empty_db().await;
    for shape in &base {
        ddl.batch_execute(&shape.create_sql())
            .await
            .map_err(|e| format!("create_sql of {}: {e}\n{}", shape.name, shape.create_sql()))?;
    }
    if catalog(&ddl).await != catalog(&db).await {
        return Err("create_sql and the draft give different catalogs".into());
    }
    // What the database fills in is what the structs leave out: every NOT NULL column without
    // a default or identity is one the struct says no default for.
    for (shape, actual) in base.iter().zip(catalog(&db).await.iter().map(|t| {
        let mut t = t.clone();
        t.columns.sort_by(|a, b| a.name.cmp(&b.name));
        t
    })) {
        for column in &actual.columns {
            let declared = shape
                .columns
                .iter()
                .find(|c| c.name == column.name)
                .unwrap();
            let filled = column.default.is_some() || column.identity || column.nullable;
            let left_out = declared.default.is_some() || declared.identity || declared.nullable;
            if filled != left_out {
                return Err(format!(
                    "{}.{}: the database fills it in: {filled}, the struct leaves it out: {left_out}",
                    shape.name, column.name
                ));
            }
        }
    }
    let before = catalog(&db).await;
    // What `schema pull` writes from the catalog, read back, states the tables as they are.
    let pulled = schema::render_structs(&before);
    if !pulled.left_out.is_empty() || !pulled.sql_types.is_empty() {
        return Err(format!(
            "schema pull left out {:?}, needed sql_type for {:?}",
            pulled.left_out, pulled.sql_types
        ));
    }
    let pulled_shapes = shapes(&pulled.source)
        .map_err(|e| format!("the pulled structs do not read: {e}\n{}", pulled.source))?;
    let report = schema::check(&db, &pulled_shapes).await.unwrap();
    if !report.findings.is_empty() {
        return Err(format!(
            "check of the pulled structs: {report}\n{}",
            pulled.source
        ));
    }

    // A random edit: its draft lints clean, applies, checks clean; Down restores the catalog.
    let (tables, options) = edited(&case.tables, &case.edit);
    let edited_source = source(&tables);
    let edited_shapes = shapes(&edited_source)?;
    let n_base = migrator.migrations().len();
    let edit_files = draft(&db, &edited_shapes, &options, dir, 1 + n_base).await?;
    if edit_files.is_empty() {
        return Ok(());
    }
    let migrator = Migrator::from_dir(dir).map_err(|e| context(&e.to_string(), &edit_files))?;
    let found = lints(&migrator, n_base);
    if !found.is_empty() {
        return Err(context(
            &format!("the edit's draft lint: {found:?}\nedited structs:\n{edited_source}"),
            &edit_files,
        ));
    }
    migrator
        .up(&db)
        .await
        .map_err(|e| context(&format!("edit up: {e}\n{edited_source}"), &edit_files))?;
    let report = schema::check(&db, &edited_shapes).await.unwrap();
    if !report.findings.is_empty() {
        return Err(context(
            &format!("check after the edit: {report}\n{edited_source}"),
            &edit_files,
        ));
    }
    migrator
        .down(&db, edit_files.len())
        .await
        .map_err(|e| context(&format!("edit down: {e}"), &edit_files))?;
    if catalog(&db).await != before {
        return Err(context("Down did not restore the catalog", &edit_files));
    }
    Ok(())
}

fn seed() -> [u8; 32] {
    match std::env::var("SKELLY_GENERATED_SEED") {
        Ok(hex) => {
            let mut seed = [0u8; 32];
            for (i, byte) in seed.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                    .expect("SKELLY_GENERATED_SEED: 64 hex digits");
            }
            seed
        }
        Err(_) => {
            let random = [
                *uuid::Uuid::new_v4().as_bytes(),
                *uuid::Uuid::new_v4().as_bytes(),
            ];
            let mut seed = [0u8; 32];
            seed[..16].copy_from_slice(&random[0]);
            seed[16..].copy_from_slice(&random[1]);
            seed
        }
    }
}

#[test]
fn generated_tables_round_trip() {
    let cases = std::env::var("SKELLY_GENERATED_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16);
    let seed = seed();
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let config = Config {
        cases,
        failure_persistence: None,
        // Each shrinking step is a database round trip.
        max_shrink_iters: 64,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir: PathBuf =
        std::env::temp_dir().join(format!("skelly-generated-{}", std::process::id()));
    let result = runner.run(&case(), |case| {
        runtime
            .block_on(run_case(&case, &dir))
            .map_err(|e| TestCaseError::fail(format!("{e}\n\nstructs:\n{}", source(&case.tables))))
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        panic!("generated tables (SKELLY_GENERATED_SEED={hex}): {e}");
    }
}
