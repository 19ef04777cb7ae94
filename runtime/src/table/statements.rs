//! The statements of one table, built once from its metadata by non-generic code (the derive
//! keeps them in a static), so that no SQL text is built per call for the fixed operations and
//! no per-table copy of this code is compiled.

use std::sync::OnceLock;

use super::{ColumnDef, ColumnRole};
use crate::error::Error;
use crate::executor::Param;
use crate::sql::{push_ident, push_param, push_read_column, qualified, quote_ident};

/// The statements of a table. Not part of the public API: generated code names it through
/// `__private`, and only this crate reads it.
#[derive(Debug)]
pub struct Statements {
    columns_def: &'static [ColumnDef],
    /// The table's name, without its schema.
    name: String,
    /// `"schema"."table"`.
    pub(crate) table: String,
    /// Every column, quoted, in field order: what SELECT and RETURNING list.
    pub(crate) columns: String,
    /// The soft-delete column's name.
    pub(crate) soft_delete: Option<&'static str>,
    /// `"updated_at" = now()` on tables with an updated_at column, and `"version" = "version" +
    /// 1` on versioned ones, comma-joined: what every update also sets.
    touch: Option<String>,
    /// The version column's name (`#[table(version)]`).
    pub(crate) version: Option<&'static str>,
    /// How many parameters one inserted row binds.
    pub(crate) inserted: usize,
    /// The SQL types of the inserted columns, in order (for the casts of multi-row VALUES).
    inserted_types: Vec<&'static str>,
    /// `INSERT INTO t (...) VALUES ($1, ..., now()) RETURNING ...`.
    pub(crate) insert: String,
    /// The same, `ON CONFLICT DO NOTHING`.
    pub(crate) insert_or_ignore: String,
    /// `INSERT INTO t (...) VALUES ` for multi-row VALUES.
    insert_prefix: String,
    stamps: usize,
    /// `INSERT ... SELECT ... FROM UNNEST($1::t[], ...) RETURNING ...`; `None` where a column is
    /// an array (UNNEST would flatten it) or nothing is inserted.
    pub(crate) insert_many: Option<String>,
    /// The same two inserts without RETURNING, for the count-only variants.
    pub(crate) insert_count: String,
    pub(crate) insert_many_count: Option<String>,
    /// `COPY t (<inserted columns>) FROM STDIN BINARY`, and those columns' types where the
    /// SQL type names a built-in one (`None` for any other: learnt from the server).
    pub(crate) copy_in: String,
    pub(crate) copy_types: Option<Vec<tokio_postgres::types::Type>>,
    /// `SELECT <inserted columns> FROM t LIMIT 0`: describes the COPY columns' types.
    pub(crate) copy_describe: String,
    /// The statements by primary key; `None` for a table without one.
    pub(crate) key: Option<KeyStatements>,
    upserts: Box<[OnceLock<String>]>,
}

/// The statements that address one row by primary key.
#[derive(Debug)]
pub(crate) struct KeyStatements {
    pub(crate) pk: &'static str,
    /// Live row by key.
    pub(crate) find: String,
    /// Any row by key, soft-deleted or not.
    pub(crate) find_any: String,
    /// Soft delete on soft-delete tables, else a hard delete.
    pub(crate) delete: String,
    pub(crate) restore: Option<String>,
    pub(crate) hard_delete: String,
    /// ` WHERE "id" = $1 [AND live] RETURNING ...`: the end of an update by key.
    pub(crate) update_tail: String,
    /// The same without RETURNING, for `patch`.
    pub(crate) patch_tail: String,
}

impl Statements {
    /// The table's statements, built on first use into `cell` (the derive's static): one
    /// copy of the lazy initialisation for every table.
    pub fn cached(
        cell: &'static std::sync::OnceLock<Statements>,
        schema: &'static str,
        name: &'static str,
        columns: &'static [ColumnDef],
    ) -> &'static Statements {
        cell.get_or_init(|| Statements::new(schema, name, columns))
    }

    /// Builds every fixed statement of the table `schema.name` with these columns.
    pub fn new(schema: &str, name: &str, columns_def: &'static [ColumnDef]) -> Statements {
        let table = qualified(schema, name);
        let columns = join(columns_def.iter().map(|c| {
            let mut out = String::new();
            push_read_column(&mut out, None, c.name, c.sql_type, c.check.is_some());
            out
        }));
        let soft_delete = find_role(columns_def, ColumnRole::DeletedAt).map(|c| c.name);
        let live_filter = soft_delete.map(|s| format!("{} IS NULL", quote_ident(s)));
        let version = find_role(columns_def, ColumnRole::Version).map(|c| c.name);
        let touches: Vec<String> = find_role(columns_def, ColumnRole::UpdatedAt)
            .map(|c| format!("{} = now()", quote_ident(c.name)))
            .into_iter()
            .chain(version.map(|v| format!("{0} = {0} + 1", quote_ident(v))))
            .collect();
        let touch = (!touches.is_empty()).then(|| touches.join(", "));

        let inserted: Vec<&ColumnDef> = columns_def.iter().filter(|c| c.inserted).collect();
        let stamped: Vec<&ColumnDef> = columns_def
            .iter()
            .filter(|c| matches!(c.role, ColumnRole::CreatedAt | ColumnRole::UpdatedAt))
            .collect();
        let names = join(inserted.iter().chain(&stamped).map(|c| quote_ident(c.name)));
        let values = join(
            inserted
                .iter()
                .enumerate()
                .map(|(i, c)| param(i + 1, c))
                .chain(stamped.iter().map(|_| "now()".to_string())),
        );
        let (insert_row, insert_prefix) = if names.is_empty() {
            (format!("INSERT INTO {table} DEFAULT VALUES"), String::new())
        } else {
            let prefix = format!("INSERT INTO {table} ({names}) VALUES ");
            (format!("{prefix}({values})"), prefix)
        };
        let insert = format!("{insert_row} RETURNING {columns}");
        let insert_or_ignore = format!("{insert_row} ON CONFLICT DO NOTHING RETURNING {columns}");
        // UNNEST flattens arrays of arrays, so tables with array columns insert batches as
        // multi-row VALUES instead.
        let insert_many = (!inserted.is_empty()
            && inserted.iter().all(|c| !c.sql_type.ends_with("[]")))
        .then(|| {
            let arrays = join(
                inserted
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("${}::{}[]", i + 1, c.sql_type)),
            );
            let stamps: String = stamped.iter().map(|_| ", now()").collect();
            format!(
                "INSERT INTO {table} ({names}) SELECT u.*{stamps} FROM UNNEST({arrays}) AS u \
                 RETURNING {columns}"
            )
        });
        let key_columns: Vec<&'static ColumnDef> = columns_def
            .iter()
            .filter(|c| c.role == ColumnRole::PrimaryKey)
            .collect();
        let key = key_columns.first().map(|pk| {
            // `"id" = $1`, or `"a" = $1 AND "b" = $2` for a composite key.
            let key_where = key_columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} = {}", quote_ident(c.name), param(i + 1, c)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let and_live = live_filter
                .as_ref()
                .map(|f| format!(" AND {f}"))
                .unwrap_or_default();
            let touch = touch.as_ref().map(|t| format!(", {t}")).unwrap_or_default();
            let hard_delete = format!("DELETE FROM {table} WHERE {key_where}");
            let (delete, restore) = match soft_delete.map(quote_ident) {
                Some(s) => (
                    format!(
                        "UPDATE {table} SET {s} = now(){touch} WHERE {key_where} AND {s} IS NULL"
                    ),
                    Some(format!(
                        "UPDATE {table} SET {s} = NULL{touch} WHERE {key_where} AND {s} IS NOT NULL"
                    )),
                ),
                None => (hard_delete.clone(), None),
            };
            KeyStatements {
                pk: pk.name,
                find: format!("SELECT {columns} FROM {table} WHERE {key_where}{and_live}"),
                find_any: format!("SELECT {columns} FROM {table} WHERE {key_where}"),
                delete,
                restore,
                hard_delete,
                update_tail: format!(" WHERE {key_where}{and_live} RETURNING {columns}"),
                patch_tail: format!(" WHERE {key_where}{and_live}"),
            }
        });
        let returning = format!(" RETURNING {columns}");
        let without_returning = |sql: &String| {
            sql.strip_suffix(returning.as_str())
                .unwrap_or(sql)
                .to_string()
        };
        let insert_count = without_returning(&insert);
        let inserted_names = join(inserted.iter().map(|c| quote_ident(c.name)));
        let copy_in = format!("COPY {table} ({inserted_names}) FROM STDIN BINARY");
        let copy_describe = format!("SELECT {inserted_names} FROM {table} LIMIT 0");
        let copy_types = inserted.iter().map(|c| builtin_type(c.sql_type)).collect();
        let insert_many_count = insert_many.as_ref().map(without_returning);
        Statements {
            name: name.to_string(),
            version,
            copy_in,
            copy_types,
            copy_describe,
            insert_count,
            insert_many_count,
            columns_def,
            table,
            columns,
            soft_delete,
            touch,
            inserted: inserted.len(),
            inserted_types: inserted.iter().map(|c| c.sql_type).collect(),
            insert,
            insert_or_ignore,
            insert_prefix,
            stamps: stamped.len(),
            insert_many,
            key,
            upserts: columns_def.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// `Error::NotFound` naming this table.
    /// The table's name, without its schema.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// What every update also sets (`updated_at`, the version), comma-joined.
    pub(crate) fn touch(&self) -> Option<&str> {
        self.touch.as_deref()
    }

    pub(crate) fn not_found(&self) -> Error {
        Error::NotFound {
            table: self.table.clone(),
        }
    }

    /// The statements by key, or an error for a table without a primary key.
    pub(crate) fn key(&self) -> Result<&KeyStatements, Error> {
        self.key.as_ref().ok_or_else(|| {
            Error::Config(format!(
                "{} has no primary key; mark one field `#[table(primary_key)]`",
                self.table
            ))
        })
    }

    /// Appends `"a" = $2, "b" = $3, "updated_at" = now()`, pushing the values onto `params`.
    pub(crate) fn push_set_clause<'a>(
        &self,
        sql: &mut String,
        sets: &[(usize, Param<'a>)],
        params: &mut Vec<Param<'a>>,
    ) {
        for (i, (index, value)) in sets.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            params.push(*value);
            // The Patch impl pushes indexes of COLUMNS; a wrong one names no column here and
            // fails at the server instead of panicking.
            let (name, sql_type) = self
                .columns_def
                .get(*index)
                .map_or(("", "text"), |c| (c.name, c.sql_type));
            push_ident(sql, name);
            sql.push_str(" = ");
            push_param(sql, params.len(), sql_type);
        }
        match (&self.touch, sets.is_empty()) {
            (Some(touch), true) => sql.push_str(touch),
            (Some(touch), false) => {
                sql.push_str(", ");
                sql.push_str(touch);
            }
            (None, false) => {}
            // Nothing to change and no updated_at: a no-op assignment keeps the statement valid.
            (None, true) => {
                let column = self
                    .key
                    .as_ref()
                    .map(|k| k.pk)
                    .or_else(|| self.columns_def.first().map(|c| c.name))
                    .unwrap_or("");
                push_ident(sql, column);
                sql.push_str(" = ");
                push_ident(sql, column);
            }
        }
    }

    /// The soft-delete `UPDATE` head: `UPDATE t SET "deleted_at" = now(), "updated_at" = now()`.
    pub(crate) fn soft_delete_head(&self) -> Option<String> {
        let column = self.soft_delete?;
        let mut sql = format!("UPDATE {} SET {} = now()", self.table, quote_ident(column));
        if let Some(touch) = &self.touch {
            sql.push_str(", ");
            sql.push_str(touch);
        }
        Some(sql)
    }

    /// Multi-row `INSERT ... VALUES (...), (...)` for `rows` rows, with `RETURNING ...` when
    /// `returning`.
    pub(crate) fn insert_values(&self, rows: usize, returning: bool) -> String {
        let mut sql = self.insert_prefix.clone();
        let mut n = 0;
        for i in 0..rows {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..self.inserted + self.stamps {
                if j > 0 {
                    sql.push_str(", ");
                }
                if j < self.inserted {
                    n += 1;
                    push_param(&mut sql, n, self.inserted_types[j]);
                } else {
                    sql.push_str("now()");
                }
            }
            sql.push(')');
        }
        if returning {
            sql.push_str(" RETURNING ");
            sql.push_str(&self.columns);
        }
        sql
    }

    /// `INSERT ... ON CONFLICT (key) [WHERE live] DO UPDATE SET <inserted columns> ...
    /// RETURNING ...` for the unique column at `key`, built on first use.
    pub(crate) fn upsert(&self, key: usize) -> &str {
        let Some(slot) = self.upserts.get(key) else {
            // Columns come from the table's constants; an index past them names no column.
            return "";
        };
        slot.get_or_init(|| {
            let key_name = self.columns_def[key].name;
            let key_ident = quote_ident(key_name);
            let target = match self.soft_delete {
                // The unique index is partial on soft-delete tables; the target must say so.
                Some(deleted) => format!("({key_ident}) WHERE {} IS NULL", quote_ident(deleted)),
                None => format!("({key_ident})"),
            };
            let mut sets: Vec<String> = self
                .columns_def
                .iter()
                .filter(|c| c.inserted && c.name != key_name)
                .map(|c| format!("{0} = EXCLUDED.{0}", quote_ident(c.name)))
                .collect();
            sets.extend(self.touch.clone());
            let action = if sets.is_empty() {
                // Nothing to change: a no-op update still returns the existing row.
                format!("{key_ident} = EXCLUDED.{key_ident}")
            } else {
                sets.join(", ")
            };
            let insert_row = self
                .insert
                .strip_suffix(&format!(" RETURNING {}", self.columns))
                .unwrap_or(&self.insert);
            format!(
                "{insert_row} ON CONFLICT {target} DO UPDATE SET {action} RETURNING {}",
                self.columns
            )
        })
    }
}

/// The built-in type an SQL type name of `SqlType` stands for.
fn builtin_type(sql_type: &str) -> Option<tokio_postgres::types::Type> {
    use tokio_postgres::types::Type;
    let (base, array) = match sql_type.strip_suffix("[]") {
        Some(base) => (base, true),
        None => (sql_type, false),
    };
    let (scalar, list) = match base {
        "text" => (Type::TEXT, Type::TEXT_ARRAY),
        "uuid" => (Type::UUID, Type::UUID_ARRAY),
        "boolean" => (Type::BOOL, Type::BOOL_ARRAY),
        "smallint" => (Type::INT2, Type::INT2_ARRAY),
        "integer" => (Type::INT4, Type::INT4_ARRAY),
        "bigint" => (Type::INT8, Type::INT8_ARRAY),
        "real" => (Type::FLOAT4, Type::FLOAT4_ARRAY),
        "double precision" => (Type::FLOAT8, Type::FLOAT8_ARRAY),
        "timestamptz" => (Type::TIMESTAMPTZ, Type::TIMESTAMPTZ_ARRAY),
        "timestamp" => (Type::TIMESTAMP, Type::TIMESTAMP_ARRAY),
        "date" => (Type::DATE, Type::DATE_ARRAY),
        "bytea" => (Type::BYTEA, Type::BYTEA_ARRAY),
        "jsonb" => (Type::JSONB, Type::JSONB_ARRAY),
        _ => return None,
    };
    Some(if array { list } else { scalar })
}

fn find_role(columns: &'static [ColumnDef], role: ColumnRole) -> Option<&'static ColumnDef> {
    columns.iter().find(|c| c.role == role)
}

/// `$n`, cast to the column's type where the value cannot name it (`sql::casts_param`).
fn param(n: usize, column: &ColumnDef) -> String {
    let mut out = String::new();
    push_param(&mut out, n, column.sql_type);
    out
}

fn join(parts: impl Iterator<Item = String>) -> String {
    parts.collect::<Vec<_>>().join(", ")
}
