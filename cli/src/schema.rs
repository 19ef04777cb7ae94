//! `skelly-db schema check`: the structs in the sources against the schema the migrations
//! build, on a scratch database.

use skelly_db::migrate::Migrator;
use skelly_db::schema::{self, TableShape};

use crate::scratch::Scratch;
use crate::{chain, load_error, SchemaOptions};

pub async fn check(options: &SchemaOptions) -> Result<(), String> {
    let tables = match schema::from_dir(&options.src) {
        Ok(tables) => tables,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            return Err(format!(
                "{} problem(s) reading the structs under {}",
                errors.len(),
                options.src.display()
            ));
        }
    };
    if tables.is_empty() {
        return Err(format!(
            "no #[derive(Table)] struct under {}; name the sources with --src",
            options.src.display()
        ));
    }
    let mut migrator =
        Migrator::from_dir(&options.dir).map_err(|e| load_error(&e, &options.dir))?;
    if options.allow_empty_down {
        migrator = migrator.allow_empty_down(true);
    }
    let url = options
        .database_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .ok_or("no database server given; pass --database-url or set DATABASE_URL (a scratch database is created on it and dropped)")?;
    let scratch = Scratch::create(url).await?;
    let shapes: Vec<TableShape> = tables.iter().map(|t| t.shape.clone()).collect();
    let outcome = async {
        migrator
            .up(&scratch.pool)
            .await
            .map_err(|e| format!("applying the migrations: {}", chain(&e)))?;
        schema::check(&scratch.pool, &shapes)
            .await
            .map_err(|e| chain(&e))
    }
    .await;
    let dropped = scratch.drop_now().await;
    let report = outcome?;
    dropped?;
    for t in &tables {
        println!(
            "{} {}.{} ({}:{})",
            t.rust_name,
            t.shape.schema,
            t.shape.name,
            t.file.display(),
            t.line
        );
    }
    println!("{report}");
    if report.is_ok() {
        Ok(())
    } else {
        Err(format!(
            "the structs and the migrations disagree ({} error(s)); fix the migrations or the structs",
            report.errors().count()
        ))
    }
}
