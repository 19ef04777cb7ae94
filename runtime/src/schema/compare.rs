//! The comparison of a declared shape with the catalog's (pure, unit-tested).

use std::fmt;

use super::normalize::{canonical_condition, canonical_default, canonical_type};
use super::shape::{
    add_not_valid, check_sql, column_sql, create_enum_sql, foreign_key_sql, index_sql,
    unique_constraint_sql, IndexShape, TableShape,
};
use crate::sql::{quote_ident, quote_literal};

/// How much a [`Finding`] matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The struct and the database disagree in a way that fails reads or writes, or something
    /// the struct declares is missing.
    Error,
    /// The database has something the struct does not declare, and it does no harm (a
    /// nullable column, an extra index or constraint).
    Warning,
}

/// One difference between a struct and the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// `schema.table`, or `schema.table.column` when it is about one column.
    pub location: String,
    /// What differs, e.g. ``type is `text` in the database, `integer` in the struct``.
    pub message: String,
    /// SQL that would make the database match the struct, if there is one to suggest.
    pub fix: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}: {}: {}", self.location, self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n    fix: {}", fix.replace('\n', "\n         "))?;
        }
        Ok(())
    }
}

/// The outcome of a schema check: every finding, errors first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaReport {
    /// The tables checked, as `schema.table`.
    pub tables: Vec<String>,
    /// What differs.
    pub findings: Vec<Finding>,
}

impl SchemaReport {
    /// Whether there is no error (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.errors().next().is_none()
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }
}

impl fmt::Display for SchemaReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        let errors = self.errors().count();
        let warnings = self.warnings().count();
        write!(
            f,
            "schema check: {} table{}, {errors} error{}, {warnings} warning{}",
            self.tables.len(),
            plural(self.tables.len()),
            plural(errors),
            plural(warnings)
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What differs between the declared shape and the database's (`None`: no such table).
pub fn compare(declared: &TableShape, actual: Option<&TableShape>) -> Vec<Finding> {
    let table = format!("{}.{}", declared.schema, declared.name);
    let qualified = declared.qualified_name();
    let Some(actual) = actual else {
        return vec![Finding {
            severity: Severity::Error,
            location: table,
            message: "the table does not exist".into(),
            fix: Some(declared.create_sql().trim_end().to_string()),
        }];
    };
    let mut out = Vec::new();
    let mut push = |severity, location: String, message: String, fix: Option<String>| {
        out.push(Finding {
            severity,
            location,
            message,
            fix,
        })
    };
    let alter = |clause: String| format!("ALTER TABLE {qualified} {clause};");

    for column in &declared.columns {
        let location = format!("{table}.{}", column.name);
        let name = quote_ident(&column.name);
        let Some(found) = actual.columns.iter().find(|c| c.name == column.name) else {
            push(
                Severity::Error,
                location,
                "the column does not exist".into(),
                Some(alter(format!("ADD COLUMN {}", column_sql(column)))),
            );
            continue;
        };
        if canonical_type(&found.sql_type) != canonical_type(&column.sql_type) {
            push(
                Severity::Error,
                location.clone(),
                format!(
                    "type is `{}` in the database, `{}` in the struct",
                    found.sql_type, column.sql_type
                ),
                Some(alter(format!(
                    "ALTER COLUMN {name} TYPE {ty} USING {name}::{ty}",
                    ty = column.sql_type
                ))),
            );
        }
        match (column.nullable, found.nullable) {
            (false, true) => push(
                Severity::Error,
                location.clone(),
                "the database allows NULL, the struct's field is not an `Option` (reading a NULL fails)".into(),
                Some(alter(format!("ALTER COLUMN {name} SET NOT NULL"))),
            ),
            (true, false) => push(
                Severity::Error,
                location.clone(),
                "the database has NOT NULL, the struct's field is an `Option` (writing None fails)".into(),
                Some(alter(format!("ALTER COLUMN {name} DROP NOT NULL"))),
            ),
            _ => {}
        }
        if column.generated || found.generated {
            let what = |generated: bool| {
                if generated {
                    "generated"
                } else {
                    "not generated"
                }
            };
            if column.generated != found.generated {
                push(
                    Severity::Error,
                    location.clone(),
                    format!(
                        "the column is {} in the database, {} in the struct",
                        what(found.generated),
                        what(column.generated)
                    ),
                    None,
                );
            } else if column.default.as_deref().map(canonical_condition)
                != found.default.as_deref().map(canonical_condition)
            {
                push(
                    Severity::Error,
                    location.clone(),
                    format!(
                        "generated as `{}` in the database, `{}` in the struct (PostgreSQL cannot change it: drop the column and add it again)",
                        found.default.as_deref().unwrap_or_default(),
                        column.default.as_deref().unwrap_or_default()
                    ),
                    None,
                );
            }
            continue;
        }
        let generated = found.identity;
        match (&column.default, &found.default) {
            _ if column.identity && !found.identity => push(
                Severity::Error,
                location.clone(),
                "the struct expects an identity column, the database does not number it".into(),
                Some(alter(format!(
                    "ALTER COLUMN {name} ADD GENERATED BY DEFAULT AS IDENTITY"
                ))),
            ),
            (Some(want), None) if !generated => push(
                Severity::Error,
                location.clone(),
                format!(
                    "no default in the database, the struct expects `{want}` (inserts leave the column out)"
                ),
                Some(alter(format!("ALTER COLUMN {name} SET DEFAULT {want}"))),
            ),
            (None, Some(have)) if !generated && !column.identity => push(
                Severity::Warning,
                location.clone(),
                format!("default `{have}` in the database, none in the struct"),
                Some(alter(format!("ALTER COLUMN {name} DROP DEFAULT"))),
            ),
            (Some(want), Some(have)) if canonical_default(want) != canonical_default(have) => {
                push(
                    Severity::Warning,
                    location.clone(),
                    format!("default is `{have}` in the database, `{want}` in the struct"),
                    Some(alter(format!("ALTER COLUMN {name} SET DEFAULT {want}"))),
                )
            }
            _ => {}
        }
    }
    for column in &actual.columns {
        if declared.columns.iter().any(|c| c.name == column.name) {
            continue;
        }
        let location = format!("{table}.{}", column.name);
        let needs_value =
            !column.nullable && column.default.is_none() && !column.identity && !column.generated;
        if needs_value {
            push(
                Severity::Error,
                location,
                "the struct has no field for this NOT NULL column without a default (inserts fail); add a field for it".into(),
                Some(alter(format!(
                    "ALTER COLUMN {} DROP NOT NULL",
                    quote_ident(&column.name)
                ))),
            );
        } else {
            push(
                Severity::Warning,
                location,
                "the struct has no field for this column".into(),
                None,
            );
        }
    }

    match (&declared.primary_key, &actual.primary_key) {
        (Some(want), have) if have.as_ref().map(|k| &k.columns) != Some(&want.columns) => {
            let message = match have {
                Some(have) => format!(
                    "primary key is ({}) in the database, ({}) in the struct",
                    have.columns.join(", "),
                    want.columns.join(", ")
                ),
                None => format!(
                    "no primary key in the database, the struct's is ({})",
                    want.columns.join(", ")
                ),
            };
            let columns: Vec<String> = want.columns.iter().map(|c| quote_ident(c)).collect();
            let mut fix = String::new();
            if let Some(have) = have {
                fix.push_str(&alter(format!(
                    "DROP CONSTRAINT {}",
                    quote_ident(&have.name)
                )));
                fix.push('\n');
            }
            fix.push_str(&alter(format!(
                "ADD CONSTRAINT {} PRIMARY KEY ({})",
                quote_ident(&want.name),
                columns.join(", ")
            )));
            push(Severity::Error, table.clone(), message, Some(fix));
        }
        // `no_primary_key` on a table that has one: the struct leaves out find, get, update
        // and delete by key, which the table could serve.
        (None, Some(have)) => push(
            Severity::Warning,
            table.clone(),
            format!(
                "primary key `{}` on ({}) is not declared by the struct (`no_primary_key`); mark its field(s) `primary_key` to get the by-key functions",
                have.name,
                have.columns.join(", ")
            ),
            None,
        ),
        _ => {}
    }

    for what in &actual.unchecked {
        push(
            Severity::Warning,
            table.clone(),
            format!("not compared, a struct cannot state it: {what}"),
            None,
        );
    }
    if declared.unlogged != actual.unlogged {
        let word = |unlogged: bool| if unlogged { "unlogged" } else { "logged" };
        push(
            Severity::Error,
            table.clone(),
            format!(
                "the table is {} in the database, {} in the struct",
                word(actual.unlogged),
                word(declared.unlogged)
            ),
            Some(alter(format!(
                "SET {}",
                word(declared.unlogged).to_ascii_uppercase()
            ))),
        );
    }

    for e in &declared.enums {
        let found = actual
            .enums
            .iter()
            .find(|x| canonical_type(&x.name) == canonical_type(&e.name));
        let Some(have) = found else {
            push(
                Severity::Error,
                table.clone(),
                format!(
                    "no column of the table has the enum type {} in the database",
                    e.name
                ),
                Some(format!("{};", create_enum_sql(e))),
            );
            continue;
        };
        let missing: Vec<&String> = e
            .values
            .iter()
            .filter(|v| !have.values.contains(v))
            .collect();
        let extra: Vec<&String> = have
            .values
            .iter()
            .filter(|v| !e.values.contains(v))
            .collect();
        if !missing.is_empty() {
            let fix: Vec<String> = missing
                .iter()
                .map(|v| format!("ALTER TYPE {} ADD VALUE {};", e.name, quote_literal(v)))
                .collect();
            push(
                Severity::Error,
                table.clone(),
                format!("enum type {} has no {}", e.name, quoted_list(&missing)),
                Some(fix.join("\n")),
            );
        }
        if !extra.is_empty() {
            push(
                Severity::Error,
                table.clone(),
                format!(
                    "enum type {} has {}, which the enum does not (PostgreSQL cannot drop an enum value: add the variant, or recreate the type)",
                    e.name,
                    quoted_list(&extra)
                ),
                None,
            );
        }
    }

    let mut matched_checks = Vec::new();
    for check in &declared.checks {
        let location = format!("{table}.{}", check.columns.join(","));
        let same_columns = actual.checks.iter().filter(|c| c.columns == check.columns);
        let found = match &check.allowed {
            Some(_) => same_columns
                .clone()
                .find(|c| c.name == check.name)
                .or_else(|| same_columns.clone().find(|c| c.allowed.is_some())),
            None => actual.checks.iter().find(|c| {
                c.name == check.name
                    || canonical_condition(&c.expression) == canonical_condition(&check.expression)
            }),
        };
        let Some(found) = found else {
            push(
                Severity::Error,
                location,
                format!("CHECK `{}` does not exist", check.name),
                Some(add_not_valid(&qualified, &check_sql(check), &check.name)),
            );
            continue;
        };
        matched_checks.push(&found.name);
        let Some(want) = &check.allowed else {
            if canonical_condition(&found.expression) != canonical_condition(&check.expression) {
                push(
                    Severity::Error,
                    location,
                    format!(
                        "CHECK `{}` is ({}) in the database, ({}) in the struct",
                        found.name, found.expression, check.expression
                    ),
                    Some(format!(
                        "{}\n{}",
                        alter(format!("DROP CONSTRAINT {}", quote_ident(&found.name))),
                        add_not_valid(&qualified, &check_sql(check), &check.name)
                    )),
                );
            }
            continue;
        };
        let Some(have) = &found.allowed else {
            continue;
        };
        let missing: Vec<&String> = want.iter().filter(|v| !have.contains(v)).collect();
        let extra: Vec<&String> = have.iter().filter(|v| !want.contains(v)).collect();
        if missing.is_empty() && extra.is_empty() {
            continue;
        }
        let mut message = format!("CHECK `{}` allows", found.name);
        if !missing.is_empty() {
            message.push_str(&format!(" no {}", quoted_list(&missing)));
        }
        if !extra.is_empty() {
            if !missing.is_empty() {
                message.push_str(" but");
            }
            message.push_str(&format!(
                " {}, which the enum does not have",
                quoted_list(&extra)
            ));
        }
        let fix = format!(
            "{}\n{}",
            alter(format!("DROP CONSTRAINT {}", quote_ident(&found.name))),
            add_not_valid(&qualified, &check_sql(check), &check.name)
        );
        push(Severity::Error, location, message, Some(fix));
    }
    for check in &actual.checks {
        if !matched_checks.contains(&&check.name) {
            push(
                Severity::Warning,
                table.clone(),
                format!(
                    "CHECK `{}` ({}) is not declared by the struct",
                    check.name, check.expression
                ),
                None,
            );
        }
    }

    let mut matched_uniques = Vec::new();
    for unique in &declared.uniques {
        let location = format!("{table}.{}", unique.columns.join(","));
        let found = actual.uniques.iter().find(|u| same_index(u, unique));
        match found {
            Some(found) => matched_uniques.push(&found.name),
            None => {
                let create = if unique.constraint {
                    alter(format!("ADD {}", unique_constraint_sql(unique)))
                } else {
                    format!("{};", index_sql(&qualified, unique, true, "CONCURRENTLY "))
                };
                let fix = format!("{}{create}", free_the_name(actual, &unique.name, &alter));
                let nnd = if unique.nulls_not_distinct {
                    " NULLS NOT DISTINCT"
                } else {
                    ""
                };
                let what = match &unique.predicate {
                    Some(p) => format!(
                        "a unique index on ({}){nnd} WHERE {p}",
                        unique.columns.join(", ")
                    ),
                    None => format!(
                        "a unique constraint on ({}){nnd}",
                        unique.columns.join(", ")
                    ),
                };
                push(
                    Severity::Error,
                    location,
                    format!("{what} does not exist"),
                    Some(fix),
                );
            }
        }
    }
    for unique in &actual.uniques {
        if !matched_uniques.contains(&&unique.name) {
            push(
                Severity::Warning,
                table.clone(),
                format!(
                    "unique {} `{}` on ({}){}{} is not declared by the struct",
                    if unique.constraint {
                        "constraint"
                    } else {
                        "index"
                    },
                    unique.name,
                    unique.columns.join(", "),
                    if unique.nulls_not_distinct {
                        " NULLS NOT DISTINCT"
                    } else {
                        ""
                    },
                    unique
                        .predicate
                        .as_ref()
                        .map(|p| format!(" WHERE {p}"))
                        .unwrap_or_default()
                ),
                None,
            );
        }
    }

    // Each declared index finds its actual one: by name first, then by the same shape, then
    // any index that serves it, preferring indexes no other declaration took; an index left
    // over is one the struct does not declare.
    let candidates = || actual.indexes.iter().chain(&actual.uniques);
    let mut matched_indexes: Vec<&String> = Vec::new();
    let mut served = vec![false; declared.indexes.len()];
    let passes: [&IndexMatch; 3] = [
        &|have, want| have.name == want.name && serves(have, want),
        &|have, want| same_index(have, want),
        &|have, want| serves(have, want),
    ];
    for pass in passes {
        for (i, index) in declared.indexes.iter().enumerate() {
            if served[i] {
                continue;
            }
            let found =
                candidates().find(|a| !matched_indexes.contains(&&a.name) && pass(a, index));
            if let Some(found) = found {
                matched_indexes.push(&found.name);
                served[i] = true;
            }
        }
    }
    for (i, index) in declared.indexes.iter().enumerate() {
        // Served by an index another declaration took, or by the key: it serves the lookups.
        let shared = candidates().any(|a| serves(a, index));
        let by_key = actual
            .primary_key
            .as_ref()
            .is_some_and(|k| is_plain(index) && k.columns.starts_with(&index.columns));
        if served[i] || shared || by_key {
            continue;
        }
        push(
            Severity::Error,
            format!("{table}.{}", index.columns.join(",")),
            format!(
                "index `{}` on ({}) does not exist",
                index.name,
                index.columns.join(", ")
            ),
            Some(format!(
                "{}{};",
                free_the_name(actual, &index.name, &alter),
                index_sql(&qualified, index, false, "CONCURRENTLY ")
            )),
        );
    }
    for index in &actual.indexes {
        if !matched_indexes.contains(&&index.name) {
            push(
                Severity::Warning,
                table.clone(),
                format!(
                    "index `{}` on ({}) is not declared by the struct",
                    index.name,
                    index.columns.join(", ")
                ),
                None,
            );
        }
    }

    let mut matched_keys = Vec::new();
    for key in &declared.foreign_keys {
        let location = format!("{table}.{}", key.columns.join(","));
        // A declared key whose referenced columns are unknown (a table's key, not resolved)
        // matches whichever columns the database has.
        let columns_known = !key.target_columns.is_empty();
        let target = |k: &super::ForeignKeyShape| {
            let mut out = format!("{}.{}", k.target_schema, k.target_table);
            if columns_known {
                out.push_str(&format!("({})", k.target_columns.join(", ")));
            }
            for (what, action) in [("ON DELETE", &k.on_delete), ("ON UPDATE", &k.on_update)] {
                if let Some(action) = action {
                    out.push_str(&format!(" {what} {}", action.to_ascii_uppercase()));
                }
            }
            if k.deferrable {
                out.push_str(" DEFERRABLE");
            }
            out
        };
        match actual
            .foreign_keys
            .iter()
            .find(|k| k.columns == key.columns)
        {
            Some(found) => {
                matched_keys.push(&found.name);
                if target(found) != target(key) {
                    let fix = format!(
                        "{}\n{}",
                        alter(format!("DROP CONSTRAINT {}", quote_ident(&found.name))),
                        add_not_valid(&qualified, &foreign_key_sql(key), &key.name)
                    );
                    push(
                        Severity::Error,
                        location,
                        format!(
                            "foreign key references {} in the database, {} in the struct",
                            target(found),
                            target(key)
                        ),
                        Some(fix),
                    );
                }
            }
            None => push(
                Severity::Error,
                location,
                format!("no foreign key to {}", target(key)),
                Some(add_not_valid(&qualified, &foreign_key_sql(key), &key.name)),
            ),
        }
    }
    for key in &actual.foreign_keys {
        if !matched_keys.contains(&&key.name) {
            push(
                Severity::Warning,
                table.clone(),
                format!(
                    "foreign key `{}` on ({}) is not declared by the struct",
                    key.name,
                    key.columns.join(", ")
                ),
                None,
            );
        }
    }
    out.sort_by_key(|f| f.severity);
    out
}

/// The statement that drops what holds `name` in the table now (a unique constraint, an index
/// of another shape), ending in a newline, so that a fix that makes it again does not fail on
/// the name; empty when nothing holds it.
fn free_the_name(actual: &TableShape, name: &str, alter: &dyn Fn(String) -> String) -> String {
    let quoted = quote_ident(name);
    if let Some(u) = actual.uniques.iter().find(|u| u.name == name) {
        if u.constraint {
            return format!("{}\n", alter(format!("DROP CONSTRAINT {quoted}")));
        }
    }
    let index = actual
        .uniques
        .iter()
        .chain(&actual.indexes)
        .any(|i| i.name == name);
    if index {
        return format!(
            "DROP INDEX CONCURRENTLY {}.{quoted};\n",
            quote_ident(&actual.schema)
        );
    }
    let other = actual.checks.iter().any(|c| c.name == name)
        || actual.foreign_keys.iter().any(|k| k.name == name);
    if other {
        return format!("{}\n", alter(format!("DROP CONSTRAINT {quoted}")));
    }
    String::new()
}

/// How an actual index (first) may match a declared one (second), in one pass of the check.
type IndexMatch = dyn Fn(&IndexShape, &IndexShape) -> bool;

// The same key columns and the same partial condition; a unique constraint and a unique index
// without a condition are the same thing to a writer.
pub(crate) fn same_index(a: &IndexShape, b: &IndexShape) -> bool {
    let parts = |i: &IndexShape| -> Vec<String> {
        i.columns.iter().map(|c| canonical_condition(c)).collect()
    };
    let condition = |i: &IndexShape| i.predicate.as_deref().map(canonical_condition);
    let method = |i: &IndexShape| i.using.as_deref().unwrap_or("btree").to_ascii_lowercase();
    parts(a) == parts(b)
        && condition(a) == condition(b)
        && method(a) == method(b)
        && a.include == b.include
        && a.nulls_not_distinct == b.nulls_not_distinct
}

// A btree index on columns, nothing more: what a column's `index` and a foreign key declare.
fn is_plain(index: &IndexShape) -> bool {
    index.predicate.is_none() && index.using.is_none() && index.include.is_empty()
}

/// Whether the index `have` serves the declared `want`: the same index, or for a plain one,
/// any plain index (unique or not) leading with the same columns.
pub(crate) fn serves(have: &IndexShape, want: &IndexShape) -> bool {
    same_index(have, want)
        || (is_plain(want) && is_plain(have) && have.columns.starts_with(&want.columns))
}

fn quoted_list(values: &[&String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| quote_literal(v)).collect();
    quoted.join(", ")
}
