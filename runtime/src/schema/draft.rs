//! Migration drafts: the SQL that brings the database's tables to the structs, and back
//! (pure: declared and catalog shapes in, migration text out). What `skelly-db migrate
//! generate` writes.
//!
//! Statements that lock a table holding data are written the safe way: constraints `NOT
//! VALID` then `VALIDATE`, indexes `CONCURRENTLY` in a second, notransaction file, a NOT NULL
//! column added nullable and then set NOT NULL, `lock_timeout` set. Dropping a column is
//! written commented out unless allowed. A column that looks renamed (one gone, one new, same
//! type) is a question, answered with a rename or a drop.

use std::collections::HashSet;
use std::fmt;

use super::compare::{same_index, serves};
use super::normalize::{canonical_condition, canonical_default, canonical_type};
use super::shape::{
    add_not_valid, check_sql, column_sql, create_enum_sql, foreign_key_sql, idents, index_sql,
    key_columns, resolve_key_targets, unique_constraint_sql, CheckShape, ColumnShape,
    ForeignKeyShape, IndexShape, TableShape,
};
use crate::sql::{quote_ident, quote_literal};

/// How to write a draft.
#[derive(Debug, Clone, Default)]
pub struct DraftOptions {
    /// Columns renamed: `(table, old, new)`; `table` is `name` or `schema.name`, or empty for
    /// any table.
    pub renames: Vec<(String, String, String)>,
    /// Columns that are gone, not renamed: `(table, column)`, `table` as for `renames`.
    pub not_renamed: Vec<(String, String)>,
    /// Write destructive steps (dropping columns) as statements rather than commented out.
    pub allow_drop: bool,
}

/// A draft that could not be written without an answer: each question says which flag
/// answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftQuestions(pub Vec<String>);

impl fmt::Display for DraftQuestions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, q) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{q}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DraftQuestions {}

/// The migration text: the transactional part and, when indexes are built on existing
/// tables, a notransaction part that must run after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    /// Up and Down of the transactional file, if there is anything to do in one.
    pub main: Option<String>,
    /// Up and Down of the notransaction file (`CREATE INDEX CONCURRENTLY`), if any.
    pub concurrent: Option<String>,
    /// What the reader should know: commented-out drops, backfills to write.
    pub notes: Vec<String>,
}

impl Draft {
    /// Whether the structs and the database already agree.
    pub fn is_empty(&self) -> bool {
        self.main.is_none() && self.concurrent.is_none()
    }
}

struct Step {
    up: String,
    down: String,
    destructive: bool,
}

#[derive(Default)]
struct Steps {
    main: Vec<Step>,
    concurrent: Vec<Step>,
    notes: Vec<String>,
    /// `type value` pairs already added by an earlier table (a type shared by tables).
    added_labels: HashSet<String>,
    /// `schema.table(columns)` every declared foreign key points at: a unique one of those
    /// needs is built in the transaction, before the key.
    fk_targets: HashSet<String>,
}

impl Steps {
    fn main(&mut self, up: String, down: String) {
        self.main.push(Step {
            up,
            down,
            destructive: false,
        });
    }

    fn concurrent(&mut self, up: String, down: String) {
        self.concurrent.push(Step {
            up,
            down,
            destructive: false,
        });
    }
}

/// The draft that brings each `actual` table (`None`: it does not exist) to its `declared`
/// shape; `schemas` are the schemas the database has.
pub fn draft(
    declared: &[TableShape],
    actual: &[Option<TableShape>],
    schemas: &[String],
    options: &DraftOptions,
) -> Result<Draft, DraftQuestions> {
    // A foreign key to a table's key without naming it: that table's key, as declared (or,
    // for a table only the database has, as it has it).
    let mut resolved = declared.to_vec();
    let keys = key_columns(actual.iter().flatten().chain(declared));
    resolve_key_targets(&mut resolved, &keys);
    let declared = resolved.as_slice();
    let mut steps = Steps::default();
    let mut questions = Vec::new();
    // PostgreSQL refuses a logged table's foreign key to an unlogged table.
    for table in declared.iter().filter(|t| !t.unlogged) {
        for key in &table.foreign_keys {
            let unlogged_target = declared
                .iter()
                .any(|t| t.unlogged && t.schema == key.target_schema && t.name == key.target_table);
            if unlogged_target {
                questions.push(format!(
                    "{}.{}.{} references {}.{}, which is unlogged, and PostgreSQL refuses a                      logged table's foreign key to an unlogged one: make {} unlogged too, or                      {}.{} logged",
                    table.schema,
                    table.name,
                    key.columns.join(","),
                    key.target_schema,
                    key.target_table,
                    table.name,
                    key.target_schema,
                    key.target_table
                ));
            }
        }
    }
    let mut schemas: HashSet<&str> = schemas.iter().map(String::as_str).collect();
    // New tables first, each after the new tables it references.
    let mut new: Vec<&TableShape> = declared
        .iter()
        .zip(actual)
        .filter(|(_, a)| a.is_none())
        .map(|(d, _)| d)
        .collect();
    let mut ordered: Vec<&TableShape> = Vec::new();
    while !new.is_empty() {
        let ready = new
            .iter()
            .position(|t| {
                t.foreign_keys.iter().all(|k| {
                    !new.iter().any(|n| {
                        n.schema == k.target_schema
                            && n.name == k.target_table
                            && !(n.schema == t.schema && n.name == t.name)
                    })
                })
            })
            // A cycle: create in declared order; the database says what is missing.
            .unwrap_or(0);
        ordered.push(new.remove(ready));
    }
    // Enum types no table in the database uses yet are created once, before their first table.
    let mut enums: HashSet<String> = actual
        .iter()
        .flatten()
        .flat_map(|a| a.enums.iter().map(|e| canonical_type(&e.name)))
        .collect();
    let mut create_enums = |t: &TableShape, steps: &mut Steps| {
        for e in &t.enums {
            if enums.insert(canonical_type(&e.name)) {
                steps.main(
                    format!("{};", create_enum_sql(e)),
                    format!("DROP TYPE {};", e.name),
                );
            }
        }
    };
    for table in ordered {
        if schemas.insert(&table.schema) {
            steps.main(
                format!("CREATE SCHEMA {};", quote_ident(&table.schema)),
                format!("DROP SCHEMA {};", quote_ident(&table.schema)),
            );
        }
        create_enums(table, &mut steps);
        // Foreign keys after every table exists and has its columns and uniques (below).
        let without_keys = TableShape {
            foreign_keys: Vec::new(),
            ..(*table).clone()
        };
        let statements: Vec<String> = without_keys
            .create_statements("")
            .into_iter()
            .map(|s| s + ";")
            .collect();
        steps.main(
            statements.join("\n"),
            format!("DROP TABLE {};", table.qualified_name()),
        );
    }
    steps.fk_targets = declared
        .iter()
        .flat_map(|t| &t.foreign_keys)
        .map(fk_target)
        .collect();
    for (d, a) in declared.iter().zip(actual) {
        if let Some(a) = a {
            create_enums(d, &mut steps);
            alter_table(d, a, options, &mut steps, &mut questions);
        }
    }
    for (d, _) in declared.iter().zip(actual).filter(|(_, a)| a.is_none()) {
        let table = d.qualified_name();
        for key in &d.foreign_keys {
            // The table is new and empty: nothing to validate.
            steps.main(
                format!("ALTER TABLE {table} ADD {};", foreign_key_sql(key)),
                format!(
                    "ALTER TABLE {table} DROP CONSTRAINT {};",
                    quote_ident(&key.name)
                ),
            );
        }
    }
    if !questions.is_empty() {
        return Err(DraftQuestions(questions));
    }
    Ok(Draft {
        main: render(&steps.main, false),
        concurrent: render(&steps.concurrent, true),
        notes: steps.notes,
    })
}

// `schema.table(a,b)`: what a foreign key needs to be unique.
fn fk_target(key: &ForeignKeyShape) -> String {
    format!(
        "{}.{}({})",
        key.target_schema,
        key.target_table,
        key.target_columns.join(",")
    )
}

fn table_matches(spec: &str, t: &TableShape) -> bool {
    spec.is_empty() || spec == t.name || spec == format!("{}.{}", t.schema, t.name)
}

fn alter_table(
    d: &TableShape,
    a: &TableShape,
    options: &DraftOptions,
    steps: &mut Steps,
    questions: &mut Vec<String>,
) {
    let table = d.qualified_name();
    let label = format!("{}.{}", d.schema, d.name);
    let alter = |clause: &str| format!("ALTER TABLE {table} {clause};");

    // Logged or unlogged (rewrites the table, under an exclusive lock).
    if d.unlogged != a.unlogged {
        let set = |unlogged: bool| {
            alter(if unlogged {
                "SET UNLOGGED"
            } else {
                "SET LOGGED"
            })
        };
        steps.main(set(d.unlogged), set(a.unlogged));
    }

    // Enum labels added (PostgreSQL can add a label, never drop one).
    for e in &d.enums {
        let Some(have) = a
            .enums
            .iter()
            .find(|x| canonical_type(&x.name) == canonical_type(&e.name))
        else {
            continue;
        };
        for (i, value) in e.values.iter().enumerate() {
            let key = format!("{} {value}", canonical_type(&e.name));
            if have.values.contains(value) || !steps.added_labels.insert(key) {
                continue;
            }
            let place = match i.checked_sub(1).map(|p| &e.values[p]) {
                Some(prev) => format!(" AFTER {}", quote_literal(prev)),
                None => match have.values.first() {
                    Some(first) => format!(" BEFORE {}", quote_literal(first)),
                    None => String::new(),
                },
            };
            steps.main(
                format!(
                    "ALTER TYPE {} ADD VALUE IF NOT EXISTS {}{place};",
                    e.name,
                    quote_literal(value)
                ),
                format!(
                    "-- PostgreSQL cannot drop a value of an enum type: {} stays in {}.",
                    quote_literal(value),
                    e.name
                ),
            );
        }
        let removed: Vec<&String> = have
            .values
            .iter()
            .filter(|v| !e.values.contains(v))
            .collect();
        if !removed.is_empty() {
            steps.notes.push(format!(
                "{}: the enum no longer has {}; PostgreSQL cannot drop a value of an enum type: update the rows that hold it, then recreate the type by hand",
                e.name,
                removed.iter().map(|v| quote_literal(v)).collect::<Vec<_>>().join(", ")
            ));
        }
    }

    // Renames: the catalog as it will be after them is what the struct is compared with; the
    // renames themselves are written after the drops below, whose Down rebuilds objects from
    // the catalog as it was (old column names), after Down has renamed the columns back.
    let original = a;
    let mut rename_steps = Vec::new();
    let mut a = a.clone();
    let added: Vec<&ColumnShape> = d
        .columns
        .iter()
        .filter(|c| !a.columns.iter().any(|x| x.name == c.name))
        .collect();
    let gone: Vec<String> = a
        .columns
        .iter()
        .filter(|c| !d.columns.iter().any(|x| x.name == c.name))
        .map(|c| c.name.clone())
        .collect();
    for old in &gone {
        let rename = options.renames.iter().find(|(t, o, n)| {
            table_matches(t, d) && o == old && added.iter().any(|c| &c.name == n)
        });
        if let Some((_, old, new)) = rename {
            rename_steps.push((
                alter(&format!(
                    "RENAME COLUMN {} TO {}",
                    quote_ident(old),
                    quote_ident(new)
                )),
                alter(&format!(
                    "RENAME COLUMN {} TO {}",
                    quote_ident(new),
                    quote_ident(old)
                )),
            ));
            rename_column(&mut a, old, new);
            continue;
        }
        let answered = options
            .not_renamed
            .iter()
            .any(|(t, c)| table_matches(t, d) && c == old);
        let old_type = a
            .columns
            .iter()
            .find(|c| &c.name == old)
            .map(|c| canonical_type(&c.sql_type));
        let candidates: Vec<&str> = added
            .iter()
            .filter(|c| Some(canonical_type(&c.sql_type)) == old_type)
            .map(|c| c.name.as_str())
            .collect();
        if !answered && !candidates.is_empty() {
            questions.push(format!(
                "{label}.{old} is gone and {label}.{} is new with the same type: renamed? \
                 Answer with --rename {label}.{old}={} (keeps the data), or --drop {label}.{old}",
                candidates.join(" / "),
                candidates[0]
            ));
        }
    }

    // Constraints and indexes the struct no longer declares (only those it named: another
    // tool's are left alone), or declares differently.
    let convention = |name: &str, suffix: &str| {
        name.starts_with(&format!("{}_", d.name)) && name.ends_with(suffix)
    };
    let mut checks_to_add: Vec<(&CheckShape, Vec<String>)> = Vec::new();
    for check in &d.checks {
        // A text enum's check by name, else by its column; another check by name, else by
        // its condition.
        let found = a.checks.iter().find(|c| c.name == check.name).or_else(|| {
            a.checks.iter().find(|c| match &check.allowed {
                Some(_) => c.columns == check.columns && c.allowed.is_some(),
                None => {
                    canonical_condition(&c.expression) == canonical_condition(&check.expression)
                }
            })
        });
        let same = |f: &CheckShape| match &check.allowed {
            // The same values in any order.
            Some(want) => f.allowed.as_ref().is_some_and(|have| {
                have.len() == want.len() && want.iter().all(|v| have.contains(v))
            }),
            None => canonical_condition(&f.expression) == canonical_condition(&check.expression),
        };
        match found {
            Some(f) if same(f) => {}
            Some(f) => {
                // A text enum's values that rows may still hold.
                let removed: Vec<String> = match &check.allowed {
                    Some(want) => f
                        .allowed
                        .iter()
                        .flatten()
                        .filter(|v| !want.contains(v))
                        .cloned()
                        .collect(),
                    None => Vec::new(),
                };
                steps.main(
                    alter(&format!("DROP CONSTRAINT {}", quote_ident(&f.name))),
                    add_not_valid(&table, &check_sql(f), &f.name),
                );
                checks_to_add.push((check, removed));
            }
            None => checks_to_add.push((check, Vec::new())),
        }
    }
    for check in &a.checks {
        let declared = d.checks.iter().any(|c| {
            c.name == check.name
                || match &c.allowed {
                    Some(_) => c.columns == check.columns && check.allowed.is_some(),
                    None => {
                        canonical_condition(&c.expression) == canonical_condition(&check.expression)
                    }
                }
        });
        if !declared && convention(&check.name, "_check") {
            steps.main(
                alter(&format!("DROP CONSTRAINT {}", quote_ident(&check.name))),
                add_not_valid(&table, &check_sql(check), &check.name),
            );
        }
    }
    let mut keys_to_add: Vec<&ForeignKeyShape> = Vec::new();
    for key in &d.foreign_keys {
        match a.foreign_keys.iter().find(|k| k.columns == key.columns) {
            Some(k) if same_target(k, key) => {}
            Some(k) => {
                let was = original_key(original, k);
                steps.main(
                    alter(&format!("DROP CONSTRAINT {}", quote_ident(&k.name))),
                    add_not_valid(&table, &foreign_key_sql(was), &k.name),
                );
                keys_to_add.push(key);
            }
            None => keys_to_add.push(key),
        }
    }
    for key in &a.foreign_keys {
        let declared = d.foreign_keys.iter().any(|k| k.columns == key.columns);
        if !declared && convention(&key.name, "_fkey") {
            let was = original_key(original, key);
            steps.main(
                alter(&format!("DROP CONSTRAINT {}", quote_ident(&key.name))),
                add_not_valid(&table, &foreign_key_sql(was), &key.name),
            );
        }
    }
    // What this draft drops no longer serves a declared index below.
    let mut dropped: HashSet<&str> = HashSet::new();
    for unique in &a.uniques {
        let declared = d.uniques.iter().any(|u| same_index(u, unique));
        if !declared && convention(&unique.name, "_key") {
            drop_index(&table, original_index(original, unique), true, steps);
            dropped.insert(&unique.name);
        }
    }
    for index in &a.indexes {
        let declared = d.indexes.iter().any(|i| serves(index, i));
        if !declared && convention(&index.name, "_idx") {
            drop_index(&table, original_index(original, index), false, steps);
            dropped.insert(&index.name);
        }
    }
    // The old key goes before columns are dropped (a dropped key column takes it along), the
    // new one comes once the new columns exist.
    let key_changes =
        d.primary_key.as_ref().map(|k| &k.columns) != a.primary_key.as_ref().map(|k| &k.columns);
    let add_key = |k: &super::KeyShape| {
        alter(&format!(
            "ADD CONSTRAINT {} PRIMARY KEY ({})",
            quote_ident(&k.name),
            idents(&k.columns)
        ))
    };
    let drop_key =
        |k: &super::KeyShape| alter(&format!("DROP CONSTRAINT {}", quote_ident(&k.name)));
    if let (true, Some(have)) = (key_changes, &original.primary_key) {
        steps.main(drop_key(have), add_key(have));
    }
    steps
        .main
        .extend(rename_steps.into_iter().map(|(up, down)| Step {
            up,
            down,
            destructive: false,
        }));

    // Columns gone: commented out unless allowed, since the data goes with them.
    for old in &gone {
        // A renamed column is no longer under its old name.
        let Some(column) = a.columns.iter().find(|c| &c.name == old) else {
            continue;
        };
        if d.columns.iter().any(|c| c.name == column.name) {
            continue;
        }
        let name = quote_ident(&column.name);
        let down = if !column.nullable && column.default.is_none() && !column.identity {
            // Rows already there would have no value: nullable, filled, then NOT NULL.
            let nullable = ColumnShape {
                nullable: true,
                ..column.clone()
            };
            format!(
                "{}\n-- Rows need a value before NOT NULL, e.g.:\n-- UPDATE {table} SET {name} = ... WHERE {name} IS NULL;\n{}",
                alter(&format!("ADD COLUMN {}", column_sql(&nullable))),
                alter(&format!("ALTER COLUMN {name} SET NOT NULL"))
            )
        } else {
            alter(&format!("ADD COLUMN {}", column_sql(column)))
        };
        steps.main.push(Step {
            up: alter(&format!("DROP COLUMN {name}")),
            down,
            destructive: !options.allow_drop,
        });
        if !options.allow_drop {
            steps.notes.push(format!(
                "{label}.{}: the field is gone; dropping the column (and its data) is written \
                 commented out: uncomment it after review, or generate with --allow-drop",
                column.name
            ));
        }
    }
    // Columns new.
    for column in &d.columns {
        if a.columns.iter().any(|c| c.name == column.name) {
            continue;
        }
        let name = quote_ident(&column.name);
        let down = alter(&format!("DROP COLUMN {name}"));
        if !column.nullable && column.default.is_none() && !column.identity {
            // Rows already there have no value: added nullable, filled, then NOT NULL.
            let nullable = ColumnShape {
                nullable: true,
                ..column.clone()
            };
            steps.main(
                format!(
                    "{}\n-- Rows already in {label} need a value before NOT NULL, e.g.:\n-- UPDATE {table} SET {name} = ... WHERE {name} IS NULL;\n{}",
                    alter(&format!("ADD COLUMN {}", column_sql(&nullable))),
                    alter(&format!("ALTER COLUMN {name} SET NOT NULL"))
                ),
                down,
            );
            steps.notes.push(format!(
                "{label}.{}: NOT NULL without a default; write the backfill where the draft says",
                column.name
            ));
        } else {
            steps.main(alter(&format!("ADD COLUMN {}", column_sql(column))), down);
        }
    }
    // Columns changed.
    for column in &d.columns {
        let Some(found) = a.columns.iter().find(|c| c.name == column.name) else {
            continue;
        };
        let name = quote_ident(&column.name);
        if found.generated {
            // A generated column is the database's to compute; nothing to write.
            continue;
        }
        let set_default = |d: &Option<String>| match d {
            Some(d) => alter(&format!("ALTER COLUMN {name} SET DEFAULT {d}")),
            None => alter(&format!("ALTER COLUMN {name} DROP DEFAULT")),
        };
        let retyped = canonical_type(&found.sql_type) != canonical_type(&column.sql_type);
        // The default in force once the steps above have run: a type change or a new identity
        // first drops the old one (it may not cast to the new type; identity takes none).
        let mut have_default = found.default.clone();
        if (retyped || (column.identity && !found.identity)) && found.default.is_some() {
            steps.main(set_default(&None), set_default(&found.default));
            have_default = None;
        }
        if retyped {
            steps.main(
                alter(&format!(
                    "ALTER COLUMN {name} TYPE {ty} USING {name}::{ty}",
                    ty = column.sql_type
                )),
                alter(&format!(
                    "ALTER COLUMN {name} TYPE {ty} USING {name}::{ty}",
                    ty = found.sql_type
                )),
            );
        }
        if column.identity != found.identity {
            let (add, drop) = (
                alter(&format!(
                    "ALTER COLUMN {name} ADD GENERATED BY DEFAULT AS IDENTITY"
                )),
                alter(&format!("ALTER COLUMN {name} DROP IDENTITY")),
            );
            if column.identity {
                if found.default.is_some() {
                    // A serial column: the identity starts at 1.
                    steps.notes.push(format!(
                        "{label}.{}: the identity numbers from 1; move it past the existing rows \
                         (ALTER TABLE {table} ALTER COLUMN {name} RESTART WITH <max + 1>) and \
                         drop the old sequence",
                        column.name
                    ));
                }
                steps.main(add, drop);
            } else {
                steps.main(drop, add);
            }
        }
        let want = column.default.as_deref().map(canonical_default);
        let have = have_default.as_deref().map(canonical_default);
        if want != have && !column.identity {
            steps.main(set_default(&column.default), set_default(&have_default));
        }
        if column.nullable != found.nullable {
            let (set, drop) = (
                alter(&format!("ALTER COLUMN {name} SET NOT NULL")),
                alter(&format!("ALTER COLUMN {name} DROP NOT NULL")),
            );
            if column.nullable {
                steps.main(drop, set);
            } else {
                steps.main(set, drop);
            }
        }
    }
    // The new primary key (the old one was dropped above).
    if let (true, Some(want)) = (key_changes, &d.primary_key) {
        steps.main(add_key(want), drop_key(want));
    }
    // Checks and foreign keys: NOT VALID, then VALIDATE.
    for (check, removed) in checks_to_add {
        let mut up = String::new();
        if !removed.is_empty() {
            up.push_str(&guard(d, check, &removed));
            up.push('\n');
        }
        up.push_str(&add_not_valid(&table, &check_sql(check), &check.name));
        steps.main(
            up,
            alter(&format!("DROP CONSTRAINT {}", quote_ident(&check.name))),
        );
    }
    for key in keys_to_add {
        steps.main(
            add_not_valid(&table, &foreign_key_sql(key), &key.name),
            alter(&format!("DROP CONSTRAINT {}", quote_ident(&key.name))),
        );
    }
    // Unique constraints and indexes: built CONCURRENTLY, outside a transaction.
    for unique in &d.uniques {
        if a.uniques.iter().any(|u| same_index(u, unique)) {
            continue;
        }
        let target = format!("{}.{}({})", d.schema, d.name, unique.columns.join(","));
        if steps.fk_targets.contains(&target) {
            // A foreign key of this draft needs it: built in the transaction, before the key.
            let name = quote_ident(&unique.name);
            let up = match unique.constraint {
                true => alter(&format!("ADD {}", unique_constraint_sql(unique))),
                false => format!("{};", index_sql(&table, unique, true, "")),
            };
            let down = match unique.constraint {
                true => alter(&format!("DROP CONSTRAINT {name}")),
                false => format!("DROP INDEX {}.{name};", quote_ident(&d.schema)),
            };
            steps.main(up, down);
            continue;
        }
        let create = format!("{};", index_sql(&table, unique, true, "CONCURRENTLY "));
        if unique.constraint {
            let name = quote_ident(&unique.name);
            steps.concurrent(
                format!(
                    "{create}\n{}",
                    alter(&format!("ADD CONSTRAINT {name} UNIQUE USING INDEX {name}"))
                ),
                alter(&format!("DROP CONSTRAINT {name}")),
            );
        } else {
            steps.concurrent(create, drop_index_sql(&d.schema, &unique.name));
        }
    }
    for index in &d.indexes {
        let plain = index.predicate.is_none() && index.using.is_none() && index.include.is_empty();
        let served = a
            .indexes
            .iter()
            .chain(&a.uniques)
            .filter(|i| !dropped.contains(i.name.as_str()))
            .any(|i| serves(i, index))
            || a.primary_key
                .as_ref()
                .is_some_and(|k| plain && k.columns.starts_with(&index.columns));
        if !served {
            steps.concurrent(
                format!("{};", index_sql(&table, index, false, "CONCURRENTLY ")),
                drop_index_sql(&d.schema, &index.name),
            );
        }
    }
}

// The catalog's object of this name as it was before renames (what Down rebuilds).
fn original_key<'a>(original: &'a TableShape, key: &'a ForeignKeyShape) -> &'a ForeignKeyShape {
    original
        .foreign_keys
        .iter()
        .find(|k| k.name == key.name)
        .unwrap_or(key)
}

fn original_index<'a>(original: &'a TableShape, index: &'a IndexShape) -> &'a IndexShape {
    original
        .uniques
        .iter()
        .chain(&original.indexes)
        .find(|i| i.name == index.name)
        .unwrap_or(index)
}

// What PostgreSQL does to constraints and indexes when a column is renamed.
fn rename_column(a: &mut TableShape, old: &str, new: &str) {
    let fix = |cols: &mut Vec<String>| {
        for c in cols.iter_mut().filter(|c| *c == old) {
            *c = new.to_string();
        }
    };
    for c in a.columns.iter_mut().filter(|c| c.name == old) {
        c.name = new.to_string();
    }
    if let Some(k) = &mut a.primary_key {
        fix(&mut k.columns);
    }
    a.uniques.iter_mut().for_each(|u| fix(&mut u.columns));
    a.indexes.iter_mut().for_each(|i| fix(&mut i.columns));
    a.checks.iter_mut().for_each(|c| fix(&mut c.columns));
    a.foreign_keys.iter_mut().for_each(|k| fix(&mut k.columns));
}

fn same_target(a: &ForeignKeyShape, b: &ForeignKeyShape) -> bool {
    a.target_schema == b.target_schema
        && a.target_table == b.target_table
        && (a.target_columns == b.target_columns
            || a.target_columns.is_empty()
            || b.target_columns.is_empty())
        && a.on_delete == b.on_delete
        && a.on_update == b.on_update
        && a.deferrable == b.deferrable
}

// A constraint or index the struct no longer declares, dropped in the transaction; Down
// builds it again.
fn drop_index(table: &str, index: &IndexShape, unique: bool, steps: &mut Steps) {
    let name = quote_ident(&index.name);
    if index.constraint {
        steps.main(
            format!("ALTER TABLE {table} DROP CONSTRAINT {name};"),
            format!("ALTER TABLE {table} ADD {};", unique_constraint_sql(index)),
        );
    } else {
        let schema = table.split('.').next().unwrap_or_default();
        steps.main(
            format!("DROP INDEX {schema}.{name};"),
            format!("{};", index_sql(table, index, unique, "")),
        );
    }
}

fn drop_index_sql(schema: &str, name: &str) -> String {
    format!(
        "DROP INDEX CONCURRENTLY {}.{};",
        quote_ident(schema),
        quote_ident(name)
    )
}

// Rows holding a value the enum no longer has would fail VALIDATE: count them first and stop
// with the count, so that the migration fails saying what to update.
fn guard(table: &TableShape, check: &CheckShape, removed: &[String]) -> String {
    let column = check
        .columns
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let array = table
        .columns
        .iter()
        .any(|c| c.name == column && c.sql_type.ends_with("[]"));
    let list: Vec<String> = removed.iter().map(|v| quote_literal(v)).collect();
    let list = list.join(", ");
    let condition = if array {
        format!("{} && ARRAY[{list}]::text[]", quote_ident(column))
    } else {
        format!("{} IN ({list})", quote_ident(column))
    };
    // In RAISE's format `%` is a placeholder; `$$` would end the block (its tag is unique).
    let shown = removed.join(", ").replace('\'', "''").replace('%', "%%");
    format!(
        "-- +migrate StatementBegin\n\
         DO $skelly$\n\
         DECLARE n bigint;\n\
         BEGIN\n    \
             SELECT count(*) INTO n FROM {} WHERE {condition};\n    \
             IF n > 0 THEN\n        \
                 RAISE EXCEPTION '% row(s) of {}.{} hold values of {column} the enum no longer has ({shown}): update them first', n;\n    \
             END IF;\n\
         END $skelly$;\n\
         -- +migrate StatementEnd",
        table.qualified_name(),
        table.schema.replace('\'', "''"),
        table.name.replace('\'', "''"),
    )
}

fn render(steps: &[Step], notransaction: bool) -> Option<String> {
    if steps.is_empty() {
        return None;
    }
    let option = if notransaction { " notransaction" } else { "" };
    // In a transaction SET LOCAL ends with it; outside one, RESET puts the session back.
    let (set, reset) = if notransaction {
        ("SET lock_timeout = '5s';", "\nRESET lock_timeout;")
    } else {
        ("SET LOCAL lock_timeout = '5s';", "")
    };
    let section = |parts: Vec<(&str, bool)>| {
        let mut out = String::new();
        for (sql, destructive) in parts {
            out.push('\n');
            if destructive {
                out.push_str("-- DESTRUCTIVE, data is lost: uncomment after review.\n");
                for line in sql.lines() {
                    out.push_str("-- ");
                    out.push_str(line);
                    out.push('\n');
                }
            } else {
                out.push_str(sql);
                out.push('\n');
            }
        }
        out
    };
    let up = section(
        steps
            .iter()
            .map(|s| (s.up.as_str(), s.destructive))
            .collect(),
    );
    let down = section(
        steps
            .iter()
            .rev()
            .map(|s| (s.down.as_str(), s.destructive))
            .collect(),
    );
    Some(format!(
        "-- +migrate Up{option}\n{set}\n{up}{reset}\n\n-- +migrate Down{option}\n{set}\n{down}{reset}\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;
    use crate::table::ColumnRole;

    fn column(name: &str, sql_type: &str) -> Column {
        Column {
            name: name.into(),
            sql_type: sql_type.into(),
            nullable: false,
            default: None,
            identity: false,
            role: ColumnRole::Plain,
            unique: false,
            unique_nulls_not_distinct: false,
            unique_all_rows: false,
            generated: None,
            index: false,
            allowed: None,
            references: None,
            on_delete: None,
            on_update: None,
            deferrable: false,
        }
    }

    fn table(name: &str, columns: Vec<Column>) -> TableShape {
        let mut key = column("id", "bigint");
        key.role = ColumnRole::PrimaryKey;
        let mut all = vec![key];
        all.extend(columns);
        TableShape::declared("app", name, all, Vec::new())
    }

    #[test]
    fn a_column_that_looks_renamed_is_a_question() {
        let before = table("users", vec![column("name", "text")]);
        let after = table("users", vec![column("full_name", "text")]);
        let err = draft(
            std::slice::from_ref(&after),
            &[Some(before.clone())],
            &["app".into()],
            &DraftOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert!(
            err.0[0].contains("app.users.name is gone and app.users.full_name is new")
                && err.0[0].contains("--rename app.users.name=full_name")
                && err.0[0].contains("--drop app.users.name"),
            "{err}"
        );
        // Answered as a drop: written commented out, with a note.
        let options = DraftOptions {
            not_renamed: vec![("users".into(), "name".into())],
            ..DraftOptions::default()
        };
        let d = draft(
            std::slice::from_ref(&after),
            &[Some(before.clone())],
            &[],
            &options,
        )
        .unwrap();
        let main = d.main.unwrap();
        assert!(
            main.contains("-- ALTER TABLE \"app\".\"users\" DROP COLUMN \"name\";"),
            "{main}"
        );
        assert!(main.contains("-- DESTRUCTIVE"), "{main}");
        assert!(main.contains("\nALTER TABLE \"app\".\"users\" ADD COLUMN \"full_name\" text;"));
        assert!(d.notes.iter().any(|n| n.contains("--allow-drop")));
        // A different type is no rename candidate.
        let other = table("users", vec![column("full_name", "integer")]);
        assert!(draft(&[other], &[Some(before)], &[], &DraftOptions::default()).is_ok());
    }

    #[test]
    fn new_tables_come_after_the_tables_they_reference() {
        let mut fk = column("user_id", "bigint");
        fk.references = Some("app.users".into());
        let posts = table("posts", vec![fk]);
        let users = table("users", vec![]);
        let d = draft(
            &[posts, users],
            &[None, None],
            &[],
            &DraftOptions::default(),
        )
        .unwrap();
        let main = d.main.unwrap();
        let schema = main.find("CREATE SCHEMA \"app\"").unwrap();
        let users = main.find("CREATE TABLE \"app\".\"users\"").unwrap();
        let posts = main.find("CREATE TABLE \"app\".\"posts\"").unwrap();
        assert!(schema < users && users < posts, "{main}");
        let down = &main[main.find("-- +migrate Down").unwrap()..];
        assert!(
            down.find("DROP TABLE \"app\".\"posts\"") < down.find("DROP TABLE \"app\".\"users\"")
        );
        assert!(d.concurrent.is_none());
    }

    #[test]
    fn nothing_to_do_is_an_empty_draft() {
        let t = table("users", vec![column("name", "text")]);
        let d = draft(
            std::slice::from_ref(&t),
            &[Some(t.clone())],
            &[],
            &DraftOptions::default(),
        )
        .unwrap();
        assert!(d.is_empty());
    }
}

#[cfg(test)]
mod enum_tests {
    use super::*;
    use crate::schema::Column;
    use crate::table::ColumnRole;

    fn with_state(values: &[&str]) -> TableShape {
        let column = |name: &str, sql_type: &str, role, allowed: Option<Vec<String>>| Column {
            name: name.into(),
            sql_type: sql_type.into(),
            nullable: false,
            default: None,
            identity: false,
            role,
            unique: false,
            unique_nulls_not_distinct: false,
            unique_all_rows: false,
            generated: None,
            index: false,
            allowed,
            references: None,
            on_delete: None,
            on_update: None,
            deferrable: false,
        };
        let values = values.iter().map(|v| v.to_string()).collect();
        TableShape::declared(
            "app",
            "orders",
            vec![
                column("id", "bigint", ColumnRole::PrimaryKey, None),
                column(
                    "state",
                    "\"app\".\"state\"",
                    ColumnRole::Plain,
                    Some(values),
                ),
            ],
            Vec::new(),
        )
    }

    #[test]
    fn a_native_enum_is_a_type_not_a_check() {
        let t = with_state(&["new", "paid"]);
        assert!(t.checks.is_empty());
        assert_eq!(t.enums[0].values, ["new", "paid"]);
        let sql = t.create_sql();
        assert!(
            sql.contains("CREATE TYPE \"app\".\"state\" AS ENUM ('new', 'paid')"),
            "{sql}"
        );
        let d = draft(&[t], &[None], &[], &DraftOptions::default()).unwrap();
        let main = d.main.unwrap();
        let up = &main[..main.find("-- +migrate Down").unwrap()];
        assert!(
            up.find("CREATE TYPE") < up.find("CREATE TABLE"),
            "the type comes first: {main}"
        );
        assert!(main.contains("DROP TYPE \"app\".\"state\";"));
    }

    #[test]
    fn a_label_added_is_added_in_place() {
        let before = with_state(&["new", "paid"]);
        let after = with_state(&["new", "sent", "paid"]);
        let d = draft(&[after], &[Some(before)], &[], &DraftOptions::default()).unwrap();
        let main = d.main.unwrap();
        assert!(
            main.contains(
                "ALTER TYPE \"app\".\"state\" ADD VALUE IF NOT EXISTS 'sent' AFTER 'new';"
            ),
            "{main}"
        );
        assert!(main.contains("cannot drop a value of an enum type"));
        // Two tables of one enum type: the label is added once.
        let mut other = with_state(&["new", "sent", "paid"]);
        other.name = "returns".into();
        let mut other_before = with_state(&["new", "paid"]);
        other_before.name = "returns".into();
        let d = draft(
            &[with_state(&["new", "sent", "paid"]), other],
            &[Some(with_state(&["new", "paid"])), Some(other_before)],
            &[],
            &DraftOptions::default(),
        )
        .unwrap();
        assert_eq!(d.main.unwrap().matches("ADD VALUE").count(), 1);
        // A label gone is a note: PostgreSQL cannot drop it.
        let d = draft(
            &[with_state(&["new"])],
            &[Some(with_state(&["new", "paid"]))],
            &[],
            &DraftOptions::default(),
        )
        .unwrap();
        assert!(d.is_empty(), "{d:?}");
        assert!(d.notes[0].contains("no longer has 'paid'"), "{:?}", d.notes);
    }
}
