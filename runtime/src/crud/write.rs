//! Every write by the typed functions: inserts (one, many, or-ignore, upsert), update by key,
//! and delete / restore / hard delete by key. Each statement's text comes from the table's
//! [`Statements`](crate::table::Statements), built once.

use std::future::Future;

use tokio_postgres::types::ToSql;

use super::arrays::{array_params, column_arrays};
use crate::error::Result;
use crate::executor::{Executor, Param, Reach};
use crate::fetch::{affected, decode_count, decode_row, row, rows, run, Want};
use crate::op::Op;
use crate::query::Column;
use crate::sql::{push_ident, push_placeholder};
use crate::table::{Insert, Patch, Statements, Table};

/// PostgreSQL's limit on bind parameters in one statement.
pub(super) const MAX_PARAMS: usize = 65_535;

/// Inserts one row; the database fills in the id and the timestamps.
pub async fn insert<T: Table>(db: &dyn Reach, new: T::New) -> Result<T> {
    let statements = T::statements();
    let mut params: Vec<Param<'_>> = Vec::with_capacity(statements.inserted);
    new.bind(&mut params);
    let sql = &statements.insert;
    let answer = run(db, &statements.table, Op::Insert, sql, &params, Want::Row).await;
    match decode_row::<T>(answer, Op::Insert)? {
        Some(row) => Ok(row),
        None => Err(statements.not_found()),
    }
}

// One row of `insert_many`: the plain INSERT is cheaper than UNNEST of one-element arrays.
async fn insert_one<T: Table>(db: &dyn Reach, new: &T::New) -> Result<T> {
    let statements = T::statements();
    let mut params: Vec<Param<'_>> = Vec::with_capacity(statements.inserted);
    new.bind(&mut params);
    row::<T>(db, Op::Insert, &statements.insert, &params)
        .await?
        .ok_or_else(|| statements.not_found())
}

/// Inserts many rows with one statement per batch (UNNEST of one array per column).
pub async fn insert_many<T: Table>(db: &dyn Reach, new_rows: Vec<T::New>) -> Result<Vec<T>> {
    insert_rows::<T>(db, &new_rows).await
}

async fn insert_rows<T: Table>(db: &dyn Reach, new_rows: &[T::New]) -> Result<Vec<T>> {
    match new_rows {
        [] => return Ok(Vec::new()),
        // One row: the plain INSERT is cheaper than UNNEST of one-element arrays.
        [new] => return Ok(vec![insert_one::<T>(db, new).await?]),
        _ => {}
    }
    let statements = T::statements();
    let Some(sql) = &statements.insert_many else {
        return insert_values::<T>(db, new_rows).await;
    };
    let arrays = column_arrays(new_rows, statements.inserted);
    rows::<T>(db, Op::InsertMany, sql, &array_params(&arrays)).await
}

// Multi-row VALUES, chunked under PostgreSQL's parameter limit.
async fn insert_values<T: Table>(db: &dyn Reach, new_rows: &[T::New]) -> Result<Vec<T>> {
    let statements = T::statements();
    let mut out = Vec::with_capacity(new_rows.len());
    if statements.inserted == 0 {
        for new in new_rows {
            out.push(insert_one::<T>(db, new).await?);
        }
        return Ok(out);
    }
    for chunk in new_rows.chunks(MAX_PARAMS / statements.inserted) {
        let sql = statements.insert_values(chunk.len(), true);
        let mut params: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * statements.inserted);
        for new in chunk {
            new.bind(&mut params);
        }
        out.extend(rows::<T>(db, Op::InsertMany, &sql, &params).await?);
    }
    Ok(out)
}

/// Inserts many rows like [`insert_many`] and returns how many were inserted, without sending
/// them back.
pub async fn insert_many_count<T: Table>(db: &dyn Reach, new_rows: Vec<T::New>) -> Result<u64> {
    let new_rows = &new_rows[..];
    let statements = T::statements();
    match new_rows {
        [] => return Ok(0),
        [new] => {
            let mut params: Vec<Param<'_>> = Vec::with_capacity(statements.inserted);
            new.bind(&mut params);
            return affected::<T>(db, Op::InsertMany, &statements.insert_count, &params).await;
        }
        _ => {}
    }
    if let Some(sql) = &statements.insert_many_count {
        let arrays = column_arrays(new_rows, statements.inserted);
        return affected::<T>(db, Op::InsertMany, sql, &array_params(&arrays)).await;
    }
    let mut count = 0;
    if statements.inserted == 0 {
        for _ in new_rows {
            count += affected::<T>(db, Op::InsertMany, &statements.insert_count, &[]).await?;
        }
        return Ok(count);
    }
    for chunk in new_rows.chunks(MAX_PARAMS / statements.inserted) {
        let sql = statements.insert_values(chunk.len(), false);
        let mut params: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * statements.inserted);
        for new in chunk {
            new.bind(&mut params);
        }
        count += affected::<T>(db, Op::InsertMany, &sql, &params).await?;
    }
    Ok(count)
}

/// Inserts the row unless it conflicts with a unique constraint or index (`ON CONFLICT DO
/// NOTHING`); returns the new row, or `None` when it existed already.
pub async fn insert_or_ignore<T: Table>(db: &dyn Reach, new: T::New) -> Result<Option<T>> {
    let statements = T::statements();
    let mut params: Vec<Param<'_>> = Vec::with_capacity(statements.inserted);
    new.bind(&mut params);
    row::<T>(
        db,
        Op::InsertOrIgnore,
        &statements.insert_or_ignore,
        &params,
    )
    .await
}

/// Inserts the row, or, when a live row has the same value in the unique column `key`,
/// updates that row's inserted columns (and `updated_at`) to the new values. Returns the row.
pub async fn upsert<T: Table, V>(db: &dyn Reach, new: T::New, key: Column<T, V>) -> Result<T> {
    let statements = T::statements();
    let mut params: Vec<Param<'_>> = Vec::with_capacity(statements.inserted);
    new.bind(&mut params);
    row::<T>(db, Op::Upsert, statements.upsert(key.index()), &params)
        .await?
        .ok_or_else(|| statements.not_found())
}

/// Writes the `Some` fields of `patch` (and `updated_at = now()`) to the live row `key`.
pub async fn update<T: Table>(db: &dyn Reach, key: T::Key<'_>, patch: T::Patch) -> Result<T> {
    let key = T::key_params(&key);
    let (sql, params) = key_update(T::statements(), &key, None, &patch, true)?;
    let statements = T::statements();
    let answer = run(db, &statements.table, Op::Update, &sql, &params, Want::Row).await;
    decode_row::<T>(answer, Op::Update)?.ok_or_else(|| statements.not_found())
}

/// Writes the `Some` fields of `patch` (and `updated_at = now()`) to the live row `key` without
/// sending the row back; false when there is no such live row.
pub async fn patch<T: Table>(db: &dyn Reach, key: T::Key<'_>, patch: T::Patch) -> Result<bool> {
    let key = T::key_params(&key);
    let (sql, params) = key_update(T::statements(), &key, None, &patch, false)?;
    let table = &T::statements().table;
    let answer = run(db, table, Op::Update, &sql, &params, Want::Count).await;
    Ok(decode_count(answer, T::NAME, T::COLUMNS, T::CONSTRAINTS)? > 0)
}

/// [`update`] on a versioned table: only while the row is at `version`, which it increments.
pub async fn update_versioned<T: Table, V: ToSql + Sync + Send>(
    db: &dyn Reach,
    key: T::Key<'_>,
    version: V,
    patch: T::Patch,
) -> Result<T> {
    let key = T::key_params(&key);
    let (sql, params) = key_update(T::statements(), &key, Some(&version), &patch, true)?;
    match row::<T>(db, Op::Update, &sql, &params).await? {
        Some(row) => Ok(row),
        None => Err(why_not_updated::<T>(db, &key, &version).await),
    }
}

/// [`patch`] on a versioned table: only while the row is at `version`, which it increments;
/// false when there is no live row.
pub async fn patch_versioned<T: Table, V: ToSql + Sync + Send>(
    db: &dyn Reach,
    key: T::Key<'_>,
    version: V,
    patch: T::Patch,
) -> Result<bool> {
    let key = T::key_params(&key);
    let (sql, params) = key_update(T::statements(), &key, Some(&version), &patch, false)?;
    if affected::<T>(db, Op::Update, &sql, &params).await? > 0 {
        return Ok(true);
    }
    match why_not_updated::<T>(db, &key, &version).await {
        crate::Error::NotFound { .. } => Ok(false),
        other => Err(other),
    }
}

// `UPDATE t SET <patch>, <touch> WHERE <key> [AND "version" = $n] [AND live] [RETURNING ...]`:
// every update by key, with the version condition on versioned tables.
// Not generic: the table's statements and its patch as a trait object, one copy for every
// table.
fn key_update<'a>(
    statements: &Statements,
    key: &[Param<'a>],
    version: Option<Param<'a>>,
    patch: &'a dyn Patch,
    returning: bool,
) -> Result<(String, Vec<Param<'a>>)> {
    let by_key = statements.key()?;
    let mut sets = Vec::with_capacity(statements.inserted + 4);
    patch.bind(&mut sets);
    let mut params: Vec<Param<'_>> = Vec::with_capacity(sets.len() + key.len() + 1);
    params.extend_from_slice(key);
    let tail = if returning {
        &by_key.update_tail
    } else {
        &by_key.patch_tail
    };
    let mut sql = String::with_capacity(statements.table.len() + tail.len() + 128);
    sql.push_str("UPDATE ");
    sql.push_str(&statements.table);
    sql.push_str(" SET ");
    statements.push_set_clause(&mut sql, &sets, &mut params);
    let Some(version) = version else {
        sql.push_str(tail);
        return Ok((sql, params));
    };
    let Some(version_column) = statements.version else {
        return Err(crate::Error::Config(format!(
            "{} has no version column; mark one `#[table(version)]`",
            statements.table
        )));
    };
    params.push(version);
    // The tail begins ` WHERE "id" = $1`; the version condition goes right after the first key
    // condition (AND is commutative, so a composite key's rest may follow it).
    let key_condition = tail
        .find(" AND ")
        .or_else(|| tail.find(" RETURNING "))
        .unwrap_or(tail.len());
    sql.push_str(&tail[..key_condition]);
    sql.push_str(" AND ");
    push_ident(&mut sql, version_column);
    sql.push_str(" = ");
    push_placeholder(&mut sql, params.len());
    sql.push_str(&tail[key_condition..]);
    Ok((sql, params))
}

// After a versioned update changed nothing: stale (the row is at another version), or not
// found.
async fn why_not_updated<T: Table>(
    db: &dyn Reach,
    key: &[Param<'_>],
    version: Param<'_>,
) -> crate::Error {
    let statements = T::statements();
    let Some(column) = statements.version else {
        return statements.not_found();
    };
    let mut sql = String::from("SELECT ");
    push_ident(&mut sql, column);
    sql.push_str("::int8 FROM ");
    sql.push_str(&statements.table);
    let tail = statements
        .key
        .as_ref()
        .map_or("", |k| k.patch_tail.as_str());
    sql.push_str(tail);
    match db.query_opt(&sql, key).await {
        Ok(Some(row)) => match row.try_get::<_, i64>(0) {
            Ok(found) => crate::Error::StaleVersion {
                table: statements.table.clone(),
                key: format!("{key:?}"),
                expected: format!("{version:?}"),
                found,
            },
            Err(e) => crate::Error::decode(column, e),
        },
        Ok(None) => statements.not_found(),
        Err(e) => e,
    }
}

/// Soft-deletes the live row `key` (sets `deleted_at` once), or deletes it where the table has
/// no soft-delete column. False when there was no such live row.
pub fn delete<'a, 'k: 'a, T: Table>(
    db: &'a dyn Reach,
    key: T::Key<'k>,
) -> impl Future<Output = Result<bool>> + Send + use<'a, 'k, T> {
    delete_by_key::<T>(db, key, Op::Delete)
}

/// Clears `deleted_at` of the soft-deleted row `key`. False when there was no such row.
pub fn restore<'a, 'k: 'a, T: Table>(
    db: &'a dyn Reach,
    key: T::Key<'k>,
) -> impl Future<Output = Result<bool>> + Send + use<'a, 'k, T> {
    delete_by_key::<T>(db, key, Op::Restore)
}

/// Removes the row `key` for good, soft-deleted or not. False when there was no such row.
pub fn hard_delete<'a, 'k: 'a, T: Table>(
    db: &'a dyn Reach,
    key: T::Key<'k>,
) -> impl Future<Output = Result<bool>> + Send + use<'a, 'k, T> {
    delete_by_key::<T>(db, key, Op::HardDelete)
}

// Delete, restore or hard-delete (`op`) the row `key`: whether a row changed. One body for the
// three; a table without a restore statement (no soft delete) restores nothing.
async fn delete_by_key<T: Table>(db: &dyn Reach, key: T::Key<'_>, op: Op) -> Result<bool> {
    let statements = T::statements();
    let by_key = statements.key()?;
    let sql = match op {
        Op::Restore => match &by_key.restore {
            Some(sql) => sql,
            None => return Ok(false),
        },
        Op::HardDelete => &by_key.hard_delete,
        _ => &by_key.delete,
    };
    let params = T::key_params(&key);
    let answer = run(db, &statements.table, op, sql, &params, Want::Count).await;
    Ok(decode_count(answer, T::NAME, T::COLUMNS, T::CONSTRAINTS)? > 0)
}
