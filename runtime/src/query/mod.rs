//! Generic insert / find / update / delete functions over any [`Table`], the [`Select`]
//! builder and typed expressions. The derive's associated functions are one-line calls into
//! these.

mod expr;
mod select;

pub use expr::{Column, Expr, IntoValue, Order};
pub use select::Select;

use tokio_postgres::types::ToSql;

use crate::error::{Error, Result};
use crate::executor::{Executor, Param};
use crate::sql::{push_ident, push_placeholder, quote_ident};
use crate::table::{ColumnRole, Insert, Patch, Table};

/// The fixed statements of a table, built once per table (the derive keeps them in a static),
/// so no SQL text is built per call.
#[derive(Debug)]
pub struct Statements {
    pub(crate) table: String,
    pub(crate) columns: String,
    /// `INSERT INTO t (...) VALUES ($1, ..., now())`, without RETURNING.
    pub(crate) insert_row: String,
    /// `, "updated_at" = now()` on tables with an updated_at column, else empty.
    pub(crate) touch: String,
    insert: String,
    insert_prefix: String,
    insert_many: Option<String>,
    find: String,
    find_any: String,
    delete: String,
    restore: Option<String>,
    hard_delete: String,
    live_filter: Option<String>,
}

impl Statements {
    /// Builds every fixed statement of `T`.
    pub fn new<T: Table>() -> Statements {
        let table = T::qualified_name();
        let columns = T::COLUMNS
            .iter()
            .map(|c| quote_ident(c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let pk = quote_ident(T::primary_key().name);
        let soft = T::soft_delete_column().map(|c| quote_ident(c.name));
        let touch = T::COLUMNS
            .iter()
            .find(|c| c.role == ColumnRole::UpdatedAt)
            .map(|c| format!(", {} = now()", quote_ident(c.name)))
            .unwrap_or_default();

        let inserted: Vec<_> = T::COLUMNS.iter().filter(|c| c.inserted()).collect();
        let stamped: Vec<_> = T::COLUMNS
            .iter()
            .filter(|c| matches!(c.role, ColumnRole::CreatedAt | ColumnRole::UpdatedAt))
            .collect();
        let names: Vec<String> = inserted
            .iter()
            .chain(&stamped)
            .map(|c| quote_ident(c.name))
            .collect();
        let placeholders: Vec<String> = (1..=inserted.len())
            .map(|i| format!("${i}"))
            .chain(stamped.iter().map(|_| "now()".to_string()))
            .collect();
        let (insert_row, insert_prefix) = if names.is_empty() {
            (format!("INSERT INTO {table} DEFAULT VALUES"), String::new())
        } else {
            let prefix = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
            (format!("{prefix}({})", placeholders.join(", ")), prefix)
        };
        let insert = format!("{insert_row} RETURNING {columns}");
        // UNNEST flattens arrays of arrays, so tables with array columns insert batches as
        // multi-row VALUES instead.
        let insert_many = (!inserted.is_empty()
            && inserted.iter().all(|c| !c.sql_type.ends_with("[]")))
        .then(|| {
            let arrays: Vec<String> = inserted
                .iter()
                .enumerate()
                .map(|(i, c)| format!("${}::{}[]", i + 1, c.sql_type))
                .collect();
            let stamps: String = stamped.iter().map(|_| ", now()").collect();
            format!(
                "INSERT INTO {table} ({}) SELECT u.*{stamps} FROM UNNEST({}) AS u RETURNING {columns}",
                names.join(", "),
                arrays.join(", ")
            )
        });
        let live_filter = soft.as_ref().map(|s| format!("{s} IS NULL"));
        let and_live = live_filter
            .as_ref()
            .map(|f| format!(" AND {f}"))
            .unwrap_or_default();
        let find = format!("SELECT {columns} FROM {table} WHERE {pk} = $1{and_live}");
        let find_any = format!("SELECT {columns} FROM {table} WHERE {pk} = $1");
        let hard_delete = format!("DELETE FROM {table} WHERE {pk} = $1");
        let (delete, restore) = match &soft {
            Some(s) => (
                format!("UPDATE {table} SET {s} = now(){touch} WHERE {pk} = $1 AND {s} IS NULL"),
                Some(format!(
                    "UPDATE {table} SET {s} = NULL{touch} WHERE {pk} = $1 AND {s} IS NOT NULL"
                )),
            ),
            None => (hard_delete.clone(), None),
        };
        Statements {
            table,
            columns,
            insert_row,
            touch,
            insert,
            insert_prefix,
            insert_many,
            find,
            find_any,
            delete,
            restore,
            hard_delete,
            live_filter,
        }
    }
}

fn not_found<T: Table>() -> Error {
    Error::NotFound {
        table: T::statements().table.clone(),
    }
}

/// Inserts one row; the database fills in the id and the timestamps.
pub async fn insert<T: Table>(db: &impl Executor, new: &T::New) -> Result<T> {
    let mut params: Vec<Param<'_>> = Vec::with_capacity(T::COLUMNS.len());
    new.bind(&mut params);
    let row = db.query_one(&T::statements().insert, &params).await?;
    T::from_row(&row)
}

/// Inserts many rows with one statement per batch (UNNEST of one array per column).
pub async fn insert_many<T: Table>(db: &impl Executor, rows: &[T::New]) -> Result<Vec<T>> {
    match rows {
        [] => return Ok(Vec::new()),
        // One row: the plain INSERT is cheaper than UNNEST of one-element arrays.
        [row] => return Ok(vec![insert::<T>(db, row).await?]),
        _ => {}
    }
    let statements = T::statements();
    let Some(sql) = &statements.insert_many else {
        return insert_values::<T>(db, rows).await;
    };
    let mut arrays: Vec<Box<dyn ToSql + Sync + Send + '_>> = Vec::with_capacity(T::COLUMNS.len());
    T::New::bind_columns(rows, &mut arrays);
    let params: Vec<Param<'_>> = arrays.iter().map(|a| &**a as Param<'_>).collect();
    db.query(sql, &params)
        .await?
        .iter()
        .map(T::from_row)
        .collect()
}

// Multi-row VALUES, chunked under PostgreSQL's 65,535 parameter limit.
async fn insert_values<T: Table>(db: &impl Executor, rows: &[T::New]) -> Result<Vec<T>> {
    let statements = T::statements();
    let per_row = T::COLUMNS.iter().filter(|c| c.inserted()).count();
    let stamps = T::COLUMNS
        .iter()
        .filter(|c| matches!(c.role, ColumnRole::CreatedAt | ColumnRole::UpdatedAt))
        .count();
    if per_row == 0 {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(insert::<T>(db, row).await?);
        }
        return Ok(out);
    }
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(65_535 / per_row) {
        let mut sql = statements.insert_prefix.clone();
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..per_row + stamps {
                if j > 0 {
                    sql.push_str(", ");
                }
                if j < per_row {
                    n += 1;
                    sql.push('$');
                    sql.push_str(&n.to_string());
                } else {
                    sql.push_str("now()");
                }
            }
            sql.push(')');
        }
        sql.push_str(" RETURNING ");
        sql.push_str(&statements.columns);
        let mut params: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * per_row);
        for row in chunk {
            row.bind(&mut params);
        }
        for row in db.query(&sql, &params).await? {
            out.push(T::from_row(&row)?);
        }
    }
    Ok(out)
}

/// The live row with this primary key (soft-deleted rows are not found).
pub async fn find<T: Table>(db: &impl Executor, id: Param<'_>) -> Result<Option<T>> {
    match db.query_opt(&T::statements().find, &[id]).await? {
        Some(row) => T::from_row(&row).map(Some),
        None => Ok(None),
    }
}

/// The row with this primary key, soft-deleted or not.
pub async fn find_with_deleted<T: Table>(db: &impl Executor, id: Param<'_>) -> Result<Option<T>> {
    match db.query_opt(&T::statements().find_any, &[id]).await? {
        Some(row) => T::from_row(&row).map(Some),
        None => Ok(None),
    }
}

/// Like [`find`], but a missing row is [`Error::NotFound`].
pub async fn get<T: Table>(db: &impl Executor, id: Param<'_>) -> Result<T> {
    find::<T>(db, id).await?.ok_or_else(not_found::<T>)
}

/// Writes the `Some` fields of `patch` (and `updated_at = now()`) to the live row `id`.
pub async fn update<T: Table>(db: &impl Executor, id: Param<'_>, patch: &T::Patch) -> Result<T> {
    let statements = T::statements();
    let mut sets = Vec::with_capacity(T::COLUMNS.len());
    patch.bind(&mut sets);
    let mut params: Vec<Param<'_>> = Vec::with_capacity(sets.len() + 1);
    params.push(id);
    let mut sql = String::with_capacity(statements.columns.len() + statements.table.len() + 160);
    sql.push_str("UPDATE ");
    sql.push_str(&statements.table);
    sql.push_str(" SET ");
    push_set_clause::<T>(&mut sql, &sets, &mut params);
    sql.push_str(" WHERE ");
    push_ident(&mut sql, T::primary_key().name);
    sql.push_str(" = $1");
    if let Some(live) = &statements.live_filter {
        sql.push_str(" AND ");
        sql.push_str(live);
    }
    sql.push_str(" RETURNING ");
    sql.push_str(&statements.columns);
    match db.query_opt(&sql, &params).await? {
        Some(row) => T::from_row(&row),
        None => Err(not_found::<T>()),
    }
}

// Appends `"a" = $2, "b" = $3, "updated_at" = now()`, pushing the values onto `params`.
pub(crate) fn push_set_clause<'a, T: Table>(
    sql: &mut String,
    sets: &[(usize, Param<'a>)],
    params: &mut Vec<Param<'a>>,
) {
    for (i, (index, value)) in sets.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        params.push(*value);
        push_ident(sql, T::COLUMNS[*index].name);
        sql.push_str(" = ");
        push_placeholder(sql, params.len());
    }
    // The table's prebuilt `, "updated_at" = now()`, if it has that column.
    let touch = &T::statements().touch;
    if sets.is_empty() {
        match touch.strip_prefix(", ") {
            Some(touch) => sql.push_str(touch),
            // Nothing to change and no updated_at: a no-op assignment keeps the statement valid.
            None => {
                let pk = T::primary_key().name;
                push_ident(sql, pk);
                sql.push_str(" = ");
                push_ident(sql, pk);
            }
        }
    } else {
        sql.push_str(touch);
    }
}

/// Soft-deletes the live row `id` (sets `deleted_at` once), or deletes it where the table has
/// no soft-delete column. False when there was no such live row.
pub async fn delete<T: Table>(db: &impl Executor, id: Param<'_>) -> Result<bool> {
    Ok(db.execute(&T::statements().delete, &[id]).await? > 0)
}

/// Clears `deleted_at` of the soft-deleted row `id`. False when there was no such row.
pub async fn restore<T: Table>(db: &impl Executor, id: Param<'_>) -> Result<bool> {
    let Some(sql) = &T::statements().restore else {
        return Ok(false);
    };
    Ok(db.execute(sql, &[id]).await? > 0)
}

/// Removes the row `id` for good, soft-deleted or not. False when there was no such row.
pub async fn hard_delete<T: Table>(db: &impl Executor, id: Param<'_>) -> Result<bool> {
    Ok(db.execute(&T::statements().hard_delete, &[id]).await? > 0)
}
