//! Tables read from Rust sources (feature `source`): what `skelly-db schema check --src` and
//! `migrate generate` compare with the database, without compiling the crate.

use std::fmt;
use std::path::{Path, PathBuf};

use skelly_db_model::ast::{Constraint, Role};
use skelly_db_model::source::{resolve, scan, Scan};

use super::shape::{Column, ForeignKeyShape, IndexShape, Item, TableShape};
use crate::table::ColumnRole;

/// A `#[derive(Table)]` struct found in the sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTable {
    /// The file it is in.
    pub file: PathBuf,
    /// The line of its name.
    pub line: usize,
    /// The struct's name.
    pub rust_name: String,
    /// The table it describes, as [`TableShape::of`] would give it.
    pub shape: TableShape,
}

/// A source file that cannot be read as the derives would: a syntax error, a wrong
/// attribute, a field type whose SQL type cannot be told without compiling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// The file.
    pub file: PathBuf,
    /// The line, from 1 (0 when the file could not be read).
    pub line: usize,
    /// The column, from 1.
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// The tables declared in `files` (path and text each), in file order.
///
/// ```
/// use skelly_db::schema::from_sources;
///
/// let text = r#"
///     #[derive(skelly_db::Table)]
///     #[table(schema = "user")]
///     pub struct User { pub id: uuid::Uuid, #[table(unique)] pub email: String }
/// "#;
/// let tables = from_sources(&[("src/user.rs".into(), text.into())]).unwrap();
/// assert_eq!(tables[0].shape.name, "users");
/// assert_eq!(tables[0].shape.uniques[0].columns, ["email"]);
/// ```
pub fn from_sources(files: &[(PathBuf, String)]) -> Result<Vec<SourceTable>, Vec<SourceError>> {
    let mut scans: Vec<Scan> = Vec::new();
    let mut errors = Vec::new();
    for (file, text) in files {
        match scan(text) {
            Ok(s) => scans.push(s),
            Err(e) => {
                errors.extend(e.into_iter().map(|e| source_error(file, e)));
                scans.push(Scan::default());
            }
        }
    }
    let tables = match resolve(&scans) {
        Ok(tables) => tables,
        Err(e) => {
            errors.extend(e.into_iter().map(|(i, e)| source_error(&files[i].0, e)));
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(tables
        .into_iter()
        .map(|(i, t)| {
            let columns = t
                .columns
                .into_iter()
                .map(|c| Column {
                    name: c.name,
                    sql_type: c.sql_type,
                    nullable: c.nullable,
                    default: c.default,
                    identity: c.identity,
                    role: role(c.role),
                    unique: c.unique,
                    unique_nulls_not_distinct: c.unique_nulls_not_distinct,
                    unique_all_rows: c.unique_all_rows,
                    generated: c.generated,
                    index: c.index,
                    allowed: c.allowed,
                    references: c.references,
                    on_delete: c.on_delete,
                    on_update: c.on_update,
                    deferrable: c.deferrable,
                })
                .collect();
            let items = t
                .constraints
                .into_iter()
                .map(|c| match c {
                    Constraint::Index {
                        name,
                        parts,
                        include,
                        using,
                        predicate,
                        unique,
                        constraint,
                        nulls_not_distinct,
                    } => Item::Index {
                        index: IndexShape {
                            name,
                            columns: parts,
                            predicate,
                            constraint,
                            using,
                            include,
                            nulls_not_distinct,
                        },
                        unique,
                    },
                    Constraint::Check { name, expression } => Item::Check { name, expression },
                    Constraint::ForeignKey {
                        name,
                        columns,
                        target_schema,
                        target_table,
                        target_columns,
                        on_delete,
                        on_update,
                        deferrable,
                        index,
                    } => Item::ForeignKey {
                        key: ForeignKeyShape {
                            name,
                            columns,
                            target_schema,
                            target_table,
                            target_columns,
                            on_delete,
                            on_update,
                            deferrable,
                        },
                        index,
                    },
                })
                .collect();
            SourceTable {
                file: files[i].0.clone(),
                line: t.line,
                rust_name: t.rust_name,
                shape: TableShape {
                    unlogged: t.unlogged,
                    ..TableShape::declared(&t.schema, &t.name, columns, items)
                },
            }
        })
        .collect())
}

/// The tables declared in the `.rs` files under `dir` (recursively, in path order).
pub fn from_dir(dir: impl AsRef<Path>) -> Result<Vec<SourceTable>, Vec<SourceError>> {
    let dir = dir.as_ref();
    let mut paths = Vec::new();
    let mut errors = Vec::new();
    walk(dir, &mut paths, &mut errors);
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((path, text)),
            Err(e) => errors.push(io_error(&path, e)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    from_sources(&files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<SourceError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return errors.push(io_error(dir, e)),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out, errors);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn io_error(path: &Path, e: std::io::Error) -> SourceError {
    SourceError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    }
}

fn source_error(file: &Path, e: skelly_db_model::source::SourceError) -> SourceError {
    SourceError {
        file: file.to_path_buf(),
        line: e.line,
        column: e.column,
        message: e.message,
    }
}

fn role(role: Role) -> ColumnRole {
    match role {
        Role::Plain => ColumnRole::Plain,
        Role::NoPatch => ColumnRole::NoPatch,
        Role::PrimaryKey => ColumnRole::PrimaryKey,
        Role::CreatedAt => ColumnRole::CreatedAt,
        Role::UpdatedAt => ColumnRole::UpdatedAt,
        Role::DeletedAt => ColumnRole::DeletedAt,
        Role::Version => ColumnRole::Version,
    }
}
