//! `skelly-db schema check`: the structs in the sources against the schema the migrations
//! build, on a scratch database.

use skelly_db::schema::{self, TableShape};
use skelly_db::{Executor, PoolConfig};

use crate::scratch::{load_migrations, read_structs, server_url, Scratch};
use crate::{chain, SchemaOptions};

/// The tables of the DATABASE_URL database itself (schemas filtered), as shapes.
async fn live_shapes(
    options: &SchemaOptions,
    schemas: &[String],
) -> Result<Vec<TableShape>, String> {
    let url = options
        .database_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .ok_or("no database given; pass --database-url or set DATABASE_URL")?;
    let pool = PoolConfig::new(url)
        .and_then(PoolConfig::with_env)
        .and_then(PoolConfig::build)
        .map_err(|e| chain(&e))?;
    let rows = pool
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_tables \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema') \
               AND (cardinality($1::text[]) = 0 OR schemaname = ANY($1)) \
               AND tablename NOT IN ('skelly_migrations', '__diesel_schema_migrations', \
                                     '_sqlx_migrations', 'goose_db_version', 'gorp_migrations') \
             ORDER BY 1, 2",
            &[&schemas],
        )
        .await
        .map_err(|e| chain(&e))?;
    let mut shapes = Vec::new();
    for row in rows {
        let (s, t): (String, String) = (row.get(0), row.get(1));
        if let Some(shape) = schema::inspect(&pool, &s, &t)
            .await
            .map_err(|e| chain(&e))?
        {
            shapes.push(shape);
        }
    }
    pool.close().await;
    Ok(shapes)
}

/// `skelly-db schema diagram`: the structs' tables (or the database's) as Mermaid or DOT.
pub async fn diagram(
    options: &SchemaOptions,
    format: &str,
    from_database: bool,
    schemas: &[String],
) -> Result<(), String> {
    let shapes = match from_database {
        true => live_shapes(options, schemas).await?,
        false => read_structs(&options.src)?
            .into_iter()
            .map(|t| t.shape)
            .collect(),
    };
    if shapes.is_empty() {
        return Err("no tables found".into());
    }
    let format = match format {
        "dot" => schema::DiagramFormat::Dot,
        _ => schema::DiagramFormat::Mermaid,
    };
    print!("{}", schema::diagram(&shapes, format));
    Ok(())
}

/// `skelly-db schema pull`: structs for the tables of the database itself, on stdout.
pub async fn pull(options: &SchemaOptions, schemas: &[String]) -> Result<(), String> {
    let shapes = live_shapes(options, schemas).await?;
    if shapes.is_empty() {
        return Err("no tables found".into());
    }
    let rendered = schema::render_structs(&shapes);
    print!("{}", rendered.source);
    for (table, what) in &rendered.left_out {
        for w in what {
            eprintln!("{table}: not stated: {w}");
        }
    }
    for (table, columns) in &rendered.sql_types {
        for c in columns {
            eprintln!("{table}: {c}: no Rust type maps it; typed String with sql_type, give it one that implements ToSql and FromSql");
        }
    }
    Ok(())
}

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
