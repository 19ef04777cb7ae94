use std::fmt::Write as _;

use super::{ColumnRole, Table};
use crate::sql::{qualified, quote_ident, quote_literal};

/// The DDL `T`'s description implies: schema, table with types, NOT NULL, defaults, primary
/// key, named CHECK constraints for text enums, foreign keys, unique constraints (partial
/// unique indexes `WHERE deleted_at IS NULL` on soft-delete tables) and indexes (every foreign
/// key gets one). Every statement says `IF NOT EXISTS`, so running it again changes nothing.
pub fn ddl<T: Table>() -> String {
    let table = T::qualified_name();
    let soft = T::soft_delete_column();
    let mut lines = Vec::new();
    let mut after = Vec::new();
    for c in T::COLUMNS {
        let mut line = format!("    {} {}", quote_ident(c.name), c.sql_type);
        if !c.nullable {
            line.push_str(" NOT NULL");
        }
        if let Some(default) = c.default {
            let _ = write!(line, " DEFAULT {default}");
        }
        lines.push(line);
    }
    if let Some(pk) = T::primary_key() {
        lines.push(format!(
            "    CONSTRAINT {} PRIMARY KEY ({})",
            quote_ident(&format!("{}_pkey", T::NAME)),
            quote_ident(pk.name)
        ));
    }
    for c in T::COLUMNS {
        let column = quote_ident(c.name);
        if let Some(values) = c.check {
            let list: Vec<String> = values.iter().map(|v| quote_literal(v)).collect();
            let list = list.join(", ");
            let condition = if c.sql_type.ends_with("[]") {
                // An array of text enums: every element is one of the variants.
                format!("{column} <@ ARRAY[{list}]::text[]")
            } else {
                format!("{column} IN ({list})")
            };
            lines.push(format!(
                "    CONSTRAINT {} CHECK ({condition})",
                quote_ident(&format!("{}_{}_check", T::NAME, c.name)),
            ));
        }
        if let Some(target) = c.references {
            let (schema, name) = target.split_once('.').unwrap_or(("public", target));
            lines.push(format!(
                "    CONSTRAINT {} FOREIGN KEY ({column}) REFERENCES {} (\"id\")",
                quote_ident(&format!("{}_{}_fkey", T::NAME, c.name)),
                qualified(schema, name)
            ));
        }
        if c.unique {
            let name = quote_ident(&format!("{}_{}_key", T::NAME, c.name));
            match soft {
                // A soft-deleted row must not block re-creating it.
                Some(deleted) => after.push(format!(
                    "CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {table} ({column}) WHERE {} IS NULL;",
                    quote_ident(deleted.name)
                )),
                None => lines.push(format!("    CONSTRAINT {name} UNIQUE ({column})")),
            }
        }
        if (c.index || c.references.is_some()) && !c.unique && c.role != ColumnRole::PrimaryKey {
            after.push(format!(
                "CREATE INDEX IF NOT EXISTS {} ON {table} ({column});",
                quote_ident(&format!("{}_{}_idx", T::NAME, c.name))
            ));
        }
    }
    let mut out = format!(
        "CREATE SCHEMA IF NOT EXISTS {};\nCREATE TABLE IF NOT EXISTS {table} (\n{}\n);\n",
        quote_ident(T::SCHEMA),
        lines.join(",\n")
    );
    for statement in after {
        out.push_str(&statement);
        out.push('\n');
    }
    out
}
