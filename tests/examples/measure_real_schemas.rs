//! How much of real schemas `#[derive(Table)]` states (issue 23): for each project directory
//! under the directory given, applies its migrations to a fresh database on the `DATABASE_URL`
//! server, writes structs from the catalog (`schema::render_structs`, what `skelly-db schema
//! pull` prints), reads them back with the source reader (what the derive parses), and runs the
//! schema check against the database they came from. A table counts as stated when the check
//! finds nothing about it (no error, no warning), nothing of it was left out and no column
//! needed `sql_type` for want of a Rust type.
//!
//! ```sh
//! cargo run -p skelly-db-tests --example measure_real_schemas -- /tmp/real-schemas
//! ```
//!
//! A project directory holds its migrations as the project keeps them: every `.sql` file below
//! it is applied in path order, except Down files (`down.sql`, `*.down.sql`); a file with goose
//! or sql-migrate annotations is cut to its Up section. Nothing of the projects is committed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use skelly_db::schema::{self, TableShape};
use skelly_db::testing::TestDb;
use skelly_db::Executor;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(root) = std::env::args().nth(1) else {
        eprintln!("usage: measure_real_schemas <directory of project directories> [--show]");
        std::process::exit(2);
    };
    let show = std::env::args().any(|a| a == "--show");
    let mut projects: Vec<PathBuf> = std::fs::read_dir(&root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    projects.sort();
    let (mut all_tables, mut all_stated) = (0, 0);
    println!("| project | migration files (failed) | tables | stated | % | what stops the rest |");
    println!("|---|---|---|---|---|---|");
    for project in &projects {
        let m = measure(project, show).await?;
        all_tables += m.tables;
        all_stated += m.stated;
        let mut reasons: Vec<(String, usize)> = m.reasons.into_iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let reasons: Vec<String> = reasons
            .iter()
            .take(6)
            .map(|(r, n)| format!("{r} ({n})"))
            .collect();
        println!(
            "| {} | {} ({}) | {} | {} | {:.1} | {} |",
            project.file_name().unwrap_or_default().to_string_lossy(),
            m.files,
            m.failed_files,
            m.tables,
            m.stated,
            percent(m.stated, m.tables),
            reasons.join("; ")
        );
    }
    println!(
        "| all | | {all_tables} | {all_stated} | {:.1} | |",
        percent(all_stated, all_tables)
    );
    Ok(())
}

fn percent(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

#[derive(Default)]
struct Measured {
    files: usize,
    failed_files: usize,
    tables: usize,
    stated: usize,
    /// Why tables are not stated: a kind of finding, and how many tables it stops.
    reasons: BTreeMap<String, usize>,
}

async fn measure(project: &Path, show: bool) -> Result<Measured, Box<dyn std::error::Error>> {
    let mut out = Measured::default();
    let db = TestDb::new().await?;
    let mut files = Vec::new();
    collect(project, &mut files)?;
    // In version order, as the tools run them: the digits leading the name of the entry
    // directly below the migrations directory (`2017-09-23-182408_x` and `20170309122510_y`
    // compare as 20170923182408 and 20170309122510), then the path.
    files.sort_by_key(|f| (version(project, f), f.clone()));
    for file in &files {
        out.files += 1;
        let text = up_section(&std::fs::read_to_string(file)?);
        if let Err(e) = db.batch_execute(&text).await {
            out.failed_files += 1;
            eprintln!("{}: {e}", file.display());
        }
    }
    let rows = db
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_tables \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
            &[],
        )
        .await?;
    let mut shapes: Vec<TableShape> = Vec::new();
    for row in rows {
        let (s, t): (String, String) = (row.get(0), row.get(1));
        if let Some(shape) = schema::inspect(&db, &s, &t).await? {
            shapes.push(shape);
        }
    }
    out.tables = shapes.len();
    // Table by table, so that what one struct cannot say does not hide the others.
    for shape in &shapes {
        let label = format!("{}.{}", shape.schema, shape.name);
        let rendered = schema::render_structs(std::slice::from_ref(shape));
        if show {
            println!("{}", rendered.source);
        }
        let mut why: Vec<String> = Vec::new();
        let read = match schema::from_sources(&[("pulled.rs".into(), rendered.source.clone())]) {
            Ok(read) => read,
            Err(errors) => {
                for e in &errors {
                    eprintln!("{label}: source reader: {e}");
                    why.push(format!("source reader: {}", kind(&e.message)));
                }
                why.sort();
                why.dedup();
                for reason in why {
                    *out.reasons.entry(reason).or_default() += 1;
                }
                continue;
            }
        };
        let declared: Vec<TableShape> = read.into_iter().map(|t| t.shape).collect();
        let report = schema::check(&db, &declared).await?;
        for f in &report.findings {
            if f.location == label || f.location.starts_with(&format!("{label}.")) {
                why.push(kind(&f.message));
                if show {
                    eprintln!("{label}: {f}");
                }
            }
        }
        for left in rendered.left_out.get(&label).into_iter().flatten() {
            why.push(format!("left out: {}", kind(left)));
        }
        for column in rendered.sql_types.get(&label).into_iter().flatten() {
            let ty = column.split_once(' ').map_or("", |(_, t)| t);
            why.push(format!("sql_type: {}", kind(ty)));
        }
        why.sort();
        why.dedup();
        if why.is_empty() {
            out.stated += 1;
        }
        for reason in why {
            *out.reasons.entry(reason).or_default() += 1;
        }
    }
    Ok(out)
}

/// A finding's kind: its message with names and values taken out.
fn kind(message: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in message.chars() {
        if c == '`' {
            quoted = !quoted;
            if quoted {
                out.push('…');
            }
            continue;
        }
        if !quoted {
            out.push(c);
        }
    }
    let out = out.split(" on (").next().unwrap_or(&out).to_string();
    out.trim().to_string()
}

/// The version a migration tool reads from a file's path: the leading digits (dashes dropped)
/// of the deepest path component that starts with one; none sorts last.
fn version(project: &Path, file: &Path) -> (bool, String) {
    let relative = file.strip_prefix(project).unwrap_or(file);
    let digits = relative
        .components()
        .rev()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .find(|c| c.starts_with(|ch: char| ch.is_ascii_digit()))
        .map(|c| {
            c.chars()
                .take_while(|ch| ch.is_ascii_digit() || *ch == '-')
                .filter(char::is_ascii_digit)
                .collect::<String>()
        });
    match digits {
        Some(d) => (false, format!("{d:0>20}")),
        None => (true, String::new()),
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "sql") {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name != "down.sql" && !name.ends_with(".down.sql") {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// The Up part of a goose or sql-migrate file; any other file whole.
fn up_section(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    for (up, down) in [
        ("-- +goose up", "-- +goose down"),
        ("-- +migrate up", "-- +migrate down"),
    ] {
        if let Some(start) = lower.find(up) {
            let end = lower[start..].find(down).map_or(text.len(), |e| start + e);
            return text[start..end].to_string();
        }
    }
    text.to_string()
}
