//! Reading a table's shape back from the catalog.

use super::normalize::{canonical_keeping_quotes, literals, unquote_ident};
use super::shape::{
    CheckShape, ColumnShape, EnumShape, ForeignKeyShape, IndexShape, KeyShape, TableShape,
};
use crate::error::Result;
use crate::executor::Executor;

const TABLE: &str = "\
SELECT c.oid, c.relpersistence = 'u', coalesce(c.reloptions, '{}')::text[], c.relrowsecurity, \
       c.relkind = 'p', c.relispartition FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')";

// An enum type (or an array of one) is named with its schema whatever the search_path is
// (format_type leaves out a schema on the path).
const COLUMNS: &str = "\
SELECT a.attname::text, \
       CASE WHEN et.typtype = 'e' THEN quote_ident(en.nspname) || '.' || quote_ident(et.typname) \
                 || CASE WHEN t.oid <> et.oid THEN '[]' ELSE '' END \
            ELSE format_type(a.atttypid, a.atttypmod) END, \
       a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '', a.attgenerated <> '' \
FROM pg_attribute a \
JOIN pg_type t ON t.oid = a.atttypid \
JOIN pg_type et ON et.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END \
JOIN pg_namespace en ON en.oid = et.typnamespace \
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

// Columns of a key in key order; `confkey` likewise for the referenced side.
const CONSTRAINTS: &str = "\
SELECT con.conname::text, con.contype::text, \
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i) \
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i), \
       pg_get_constraintdef(con.oid), fn.nspname::text, fc.relname::text, \
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i) \
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i), \
       con.confdeltype::text, con.confupdtype::text, con.condeferrable, con.condeferred, \
       con.convalidated \
FROM pg_constraint con \
LEFT JOIN pg_class fc ON fc.oid = con.confrelid \
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace \
WHERE con.conrelid = $1 AND con.contype IN ('p', 'u', 'c', 'f', 'x') ORDER BY con.conname";

// Columns whose collation is not their type's default.
const COLLATIONS: &str = "\
SELECT a.attname::text, co.collname::text FROM pg_attribute a \
JOIN pg_type t ON t.oid = a.atttypid JOIN pg_collation co ON co.oid = a.attcollation \
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped \
  AND a.attcollation <> 0 AND a.attcollation <> t.typcollation ORDER BY a.attnum";

// The enum types the columns use (directly or as arrays), with their labels in order.
const ENUMS: &str = "\
SELECT quote_ident(n.nspname) || '.' || quote_ident(t.typname), \
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) \
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype = 'e' AND EXISTS ( \
    SELECT 1 FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped \
      AND (a.atttypid = t.oid OR a.atttypid = t.typarray)) \
ORDER BY 1";

// Indexes that do not back a constraint (those are read as constraints).
const INDEXES: &str = "\
SELECT ic.relname::text, i.indisunique, pg_get_indexdef(i.indexrelid), am.amname::text, \
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) \
             FROM generate_series(i.indnkeyatts + 1, i.indnatts) k ORDER BY k), \
       pg_get_expr(i.indpred, i.indrelid) \
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam \
WHERE i.indrelid = $1 \
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid \
                  AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')) \
ORDER BY ic.relname";

/// The table's shape as the database has it, or `None` when there is no such table.
pub(crate) async fn inspect(
    db: &impl Executor,
    schema: &str,
    name: &str,
) -> Result<Option<TableShape>> {
    let Some(row) = db.query_opt(TABLE, &[&schema, &name]).await? else {
        return Ok(None);
    };
    let oid: u32 = row.get(0);
    let unlogged: bool = row.get(1);
    let mut unchecked = Vec::new();
    let options: Vec<String> = row.get(2);
    if !options.is_empty() {
        unchecked.push(format!("storage parameters ({})", options.join(", ")));
    }
    if row.get::<_, bool>(3) {
        unchecked.push("row-level security".into());
    }
    if row.get::<_, bool>(4) {
        unchecked.push("partitioning (a partitioned table)".into());
    }
    if row.get::<_, bool>(5) {
        unchecked.push("being a partition of another table".into());
    }
    let mut shape = TableShape {
        schema: schema.to_string(),
        name: name.to_string(),
        columns: Vec::new(),
        primary_key: None,
        uniques: Vec::new(),
        indexes: Vec::new(),
        checks: Vec::new(),
        foreign_keys: Vec::new(),
        enums: Vec::new(),
        unlogged,
        unchecked,
    };
    for row in db.query(COLUMNS, &[&oid]).await? {
        shape.columns.push(ColumnShape {
            name: row.get(0),
            sql_type: row.get(1),
            nullable: !row.get::<_, bool>(2),
            default: row.get(3),
            identity: row.get(4),
            generated: row.get(5),
        });
    }
    for row in db.query(CONSTRAINTS, &[&oid]).await? {
        let name: String = row.get(0);
        let kind: String = row.get(1);
        let columns: Vec<String> = row.get(2);
        let definition: String = row.get(3);
        if !row.get::<_, bool>(11) {
            shape.unchecked.push(format!(
                "constraint `{name}` is NOT VALID (the rows that were there are not checked)"
            ));
        }
        match kind.as_str() {
            "x" => shape
                .unchecked
                .push(format!("exclusion constraint `{name}` ({definition})")),
            "p" => shape.primary_key = Some(KeyShape { name, columns }),
            "u" => shape.uniques.push(IndexShape {
                constraint: true,
                // `UNIQUE NULLS NOT DISTINCT (a, b)`, from PostgreSQL 15 on.
                nulls_not_distinct: definition.starts_with("UNIQUE NULLS NOT DISTINCT"),
                columns,
                ..IndexShape::on(&name, &[])
            }),
            "c" => {
                let expression = definition
                    .strip_prefix("CHECK ")
                    .unwrap_or(&definition)
                    .trim_end_matches(" NOT VALID")
                    .to_string();
                // A text enum's check: `col IN (...)` (stored as `= ANY (ARRAY[...])`) or
                // `col <@ ARRAY[...]` on its one column, nothing else.
                let canonical = canonical_keeping_quotes(&expression);
                let enum_like = match columns.as_slice() {
                    [column] => {
                        let column = column.to_lowercase();
                        canonical.starts_with(&format!("{column}in'"))
                            || canonical.starts_with(&format!("{column}<@array['"))
                            // One variant: PostgreSQL stores `IN ('a')` as `= 'a'`.
                            || (canonical.starts_with(&format!("{column}='"))
                                && canonical.ends_with('\'')
                                && literals(&expression).len() == 1)
                    }
                    _ => false,
                };
                let allowed = enum_like.then(|| literals(&expression));
                shape.checks.push(CheckShape {
                    name,
                    columns,
                    expression,
                    allowed,
                });
            }
            _ => shape.foreign_keys.push(ForeignKeyShape {
                name,
                columns,
                target_schema: row.get::<_, Option<String>>(4).unwrap_or_default(),
                target_table: row.get::<_, Option<String>>(5).unwrap_or_default(),
                target_columns: row.get(6),
                on_delete: action(&row.get::<_, String>(7)),
                on_update: action(&row.get::<_, String>(8)),
                // What a struct's `deferrable` says: DEFERRABLE INITIALLY DEFERRED.
                deferrable: row.get::<_, bool>(9) && row.get::<_, bool>(10),
            }),
        }
    }
    for row in db.query(INDEXES, &[&oid]).await? {
        let unique: bool = row.get(1);
        let definition: String = row.get(2);
        let method: String = row.get(3);
        let include: Vec<String> = row.get(4);
        let index = IndexShape {
            name: row.get(0),
            columns: key_parts(&definition, &method),
            predicate: row.get(5),
            constraint: false,
            using: (method != "btree").then_some(method),
            include: include.iter().map(|c| unquote_ident(c)).collect(),
            nulls_not_distinct: nulls_not_distinct_index(&definition),
        };
        if unique {
            shape.uniques.push(index);
        } else {
            shape.indexes.push(index);
        }
    }
    for row in db.query(COLLATIONS, &[&oid]).await? {
        let (column, collation): (String, String) = (row.get(0), row.get(1));
        shape
            .unchecked
            .push(format!("column `{column}` has collation `{collation}`"));
    }
    for row in db.query(ENUMS, &[&oid]).await? {
        shape.enums.push(EnumShape {
            name: row.get(0),
            values: row.get(1),
        });
    }
    Ok(Some(shape))
}

// `... (a, b) [INCLUDE (c)] NULLS NOT DISTINCT [WITH (...)] [WHERE ...]`: the clause after the
// key parts' closing parenthesis (an expression or a predicate could spell the words too, but
// not as that clause right after a `)`).
fn nulls_not_distinct_index(definition: &str) -> bool {
    definition.contains(") NULLS NOT DISTINCT")
}

// `confdeltype` / `confupdtype`: `a` (no action, the default) reads as none.
fn action(code: &str) -> Option<String> {
    match code {
        "c" => Some("cascade".into()),
        "n" => Some("set null".into()),
        "d" => Some("set default".into()),
        "r" => Some("restrict".into()),
        _ => None,
    }
}

/// The key parts of `CREATE INDEX name ON t USING method (a DESC, lower(b) text_pattern_ops)
/// INCLUDE (c) WHERE ...` as written there: a plain column unquoted, anything else as printed.
pub(crate) fn key_parts(definition: &str, method: &str) -> Vec<String> {
    let marker = format!(" USING {method} (");
    let Some(start) = definition.find(&marker).map(|i| i + marker.len()) else {
        return Vec::new();
    };
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut in_literal = false;
    let mut current = String::new();
    for ch in definition[start..].chars() {
        match ch {
            '\'' => in_literal = !in_literal,
            '(' if !in_literal => depth += 1,
            ')' if !in_literal && depth == 0 => break,
            ')' if !in_literal => depth -= 1,
            ',' if !in_literal && depth == 0 => {
                parts.push(unquote_ident(current.trim()));
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    if !current.trim().is_empty() {
        parts.push(unquote_ident(current.trim()));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::key_parts;

    #[test]
    fn index_key_parts() {
        assert_eq!(
            key_parts(
                "CREATE INDEX i ON s.t USING btree (a DESC, lower(b) text_pattern_ops, \"order\") INCLUDE (c) WHERE (a > 0)",
                "btree"
            ),
            ["a DESC", "lower(b) text_pattern_ops", "order"]
        );
        assert_eq!(
            key_parts(
                "CREATE INDEX i ON t USING gin (to_tsvector('simple'::regconfig, body))",
                "gin"
            ),
            ["to_tsvector('simple'::regconfig, body)"]
        );
    }
}
