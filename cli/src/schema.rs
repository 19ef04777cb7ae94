//! `skelly-db schema check`: the structs in the sources against the schema the migrations
//! build, on a scratch database.

use skelly_db::schema::{self, TableShape};

use crate::scratch::{load_migrations, read_structs, server_url, Scratch};
use crate::{chain, SchemaOptions};

pub async fn check(options: &SchemaOptions) -> Result<(), String> {
    let tables = read_structs(&options.src)?;
    let migrator = load_migrations(&options.dir, options.allow_empty_down)?;
    let url = server_url(options.database_url.as_deref())?;
    let scratch = Scratch::create(url).await?;
    let shapes: Vec<TableShape> = tables.iter().map(|t| t.shape.clone()).collect();
    let outcome = scratch
        .guard(async {
            scratch.migrate(&migrator).await?;
            schema::check(&scratch.pool, &shapes)
                .await
                .map_err(|e| chain(&e))
        })
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
