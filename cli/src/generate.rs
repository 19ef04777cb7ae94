//! `skelly-db migrate generate NAME`: a migration draft that brings the schema the migrations
//! build to the structs in the sources.

use std::path::{Path, PathBuf};

use skelly_db::migrate::{lint, Migrator};
use skelly_db::schema::{self, DraftOptions, TableShape};

use crate::scratch::{load_migrations, read_structs, server_url, Scratch};
use crate::{chain, load_error, valid_name, Options};

/// What `generate` takes besides the shared options.
pub struct Request<'a> {
    pub name: &'a str,
    pub src: &'a Path,
    pub renames: &'a [String],
    pub drops: &'a [String],
    pub allow_drop: bool,
}

pub async fn generate(options: &Options, request: Request<'_>) -> Result<(), String> {
    valid_name(request.name)?;
    let mut draft_options = DraftOptions {
        allow_drop: request.allow_drop,
        ..DraftOptions::default()
    };
    for spec in request.renames {
        let (column, new) = spec.split_once('=').ok_or_else(|| {
            format!("--rename {spec}: write it as OLD=NEW, e.g. --rename app.users.name=full_name")
        })?;
        let (table, old) = split_column(column);
        draft_options
            .renames
            .push((table.to_string(), old.to_string(), new.to_string()));
    }
    for spec in request.drops {
        let (table, column) = split_column(spec);
        draft_options
            .not_renamed
            .push((table.to_string(), column.to_string()));
    }
    let tables = read_structs(request.src)?;
    let migrator = load_migrations(&options.dir, options.allow_empty_down)?;
    let url = server_url(options.database_url.as_deref())?;
    let declared: Vec<TableShape> = tables.iter().map(|t| t.shape.clone()).collect();
    let scratch = Scratch::create(url).await?;
    let outcome = scratch.guard(async {
        scratch.migrate(&migrator).await?;
        let mut actual = Vec::new();
        for t in &declared {
            actual.push(
                schema::inspect(&scratch.pool, &t.schema, &t.name)
                    .await
                    .map_err(|e| chain(&e))?,
            );
        }
        let schemas = schema::schemas(&scratch.pool)
            .await
            .map_err(|e| chain(&e))?;
        schema::draft(&declared, &actual, &schemas, &draft_options).map_err(|q| {
            format!(
                "the draft needs an answer first:\n  {}",
                q.to_string().replace('\n', "\n  ")
            )
        })
    });
    let outcome = outcome.await;
    let dropped = scratch.drop_now().await;
    let draft = outcome?;
    dropped?;
    if draft.is_empty() {
        for note in &draft.notes {
            println!("note: {note}");
        }
        println!("the migrations already give the structs' schema; nothing written");
        return Ok(());
    }
    let now = chrono::Utc::now();
    let mut written = Vec::new();
    let parts = [
        (&draft.main, now, request.name.to_string()),
        (
            &draft.concurrent,
            now + chrono::Duration::seconds(1),
            format!("{}_concurrently", request.name),
        ),
    ];
    std::fs::create_dir_all(&options.dir)
        .map_err(|e| format!("cannot create {}: {e}", options.dir.display()))?;
    for (text, at, name) in parts {
        let Some(text) = text else { continue };
        let path = options
            .dir
            .join(format!("{}_{name}.sql", at.format("%Y%m%d%H%M%S")));
        if path.exists() {
            return Err(format!("{} already exists", path.display()));
        }
        let mut header = format!(
            "-- Drafted by `skelly-db migrate generate` from the structs under {}: read it, edit\n\
             -- it, own it.\n",
            request.src.display()
        );
        if draft.concurrent.is_some() && draft.main.is_some() {
            header.push_str(
                "-- Indexes on existing tables are built CONCURRENTLY in the second file, which runs\n\
                 -- outside a transaction.\n",
            );
        }
        if written.is_empty() {
            for note in &draft.notes {
                header.push_str(&format!("-- Note: {note}\n"));
            }
        }
        std::fs::write(&path, format!("{header}\n{text}"))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    for path in &written {
        println!("created {}", path.display());
    }
    for note in &draft.notes {
        println!("note: {note}");
    }
    lint_written(&options.dir, &written)
}

// The lints over what was just written: reported, not fatal (the draft is the user's to
// finish).
fn lint_written(dir: &Path, written: &[PathBuf]) -> Result<(), String> {
    let migrator = Migrator::from_dir(dir).map_err(|e| load_error(&e, dir))?;
    let ids: Vec<String> = written
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let new: Vec<_> = migrator
        .migrations()
        .iter()
        .filter(|m| ids.iter().any(|id| id == m.id()))
        .cloned()
        .collect();
    for finding in lint::lint(&new) {
        println!("lint: {finding}");
    }
    Ok(())
}

// `schema.table.column`, `table.column` or `column`.
fn split_column(spec: &str) -> (&str, &str) {
    spec.rsplit_once('.').unwrap_or(("", spec))
}
