use std::fmt::Write as _;

use super::normalize::canonical_type;
use crate::sql::{qualified, quote_ident, quote_literal};
use crate::table::{ColumnRole, Table, TableConstraint};

/// A table as a whole: columns, key, constraints and indexes. Built from a struct with
/// [`TableShape::of`] (what the derive declares) or read from a live database's catalog by
/// [`check`](super::check); comparing the two is the schema check, and
/// [`TableShape::create_sql`] is the DDL a struct implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableShape {
    /// The PostgreSQL schema, e.g. `user`.
    pub schema: String,
    /// The table name, e.g. `users`.
    pub name: String,
    /// Every column, in order.
    pub columns: Vec<ColumnShape>,
    /// The primary key, if the table has one.
    pub primary_key: Option<KeyShape>,
    /// Unique constraints and unique indexes (partial ones on soft-delete tables).
    pub uniques: Vec<IndexShape>,
    /// Indexes that are not unique.
    pub indexes: Vec<IndexShape>,
    /// CHECK constraints.
    pub checks: Vec<CheckShape>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKeyShape>,
    /// The PostgreSQL enum types its columns use.
    pub enums: Vec<EnumShape>,
    /// An unlogged table: not written to the WAL, emptied after a crash, not replicated.
    pub unlogged: bool,
    /// What the catalog has that a struct cannot state and the check therefore does not
    /// compare (storage parameters, NOT VALID constraints, exclusion constraints, row-level
    /// security, partitioning, column collations): the check reports each as a warning rather
    /// than passing over it. Always empty from a struct.
    pub unchecked: Vec<String>,
}

/// A PostgreSQL enum type (`CREATE TYPE ... AS ENUM`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumShape {
    /// The type as SQL names it: `"app"."order_status"` from a struct, `app.order_status` from
    /// the catalog; compared through [`canonical_type`](super::canonical_type).
    pub name: String,
    /// The labels, in order.
    pub values: Vec<String>,
}

/// One column of a [`TableShape`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnShape {
    /// The column name.
    pub name: String,
    /// The SQL type as written (`timestamptz`) or as the catalog prints it
    /// (`timestamp with time zone`); compared through [`canonical_type`](super::canonical_type).
    pub sql_type: String,
    /// Whether the column takes NULL.
    pub nullable: bool,
    /// The default expression, if any.
    pub default: Option<String>,
    /// `GENERATED ... AS IDENTITY`.
    pub identity: bool,
    /// A stored generated column (`GENERATED ALWAYS AS (expr) STORED`, `#[table(generated =
    /// "expr")]`): its expression is in `default`; it needs no value on insert.
    pub generated: bool,
}

/// A primary key: its constraint name and columns in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyShape {
    /// The constraint name, e.g. `users_pkey`.
    pub name: String,
    /// The key's columns.
    pub columns: Vec<String>,
}

/// A unique constraint or an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexShape {
    /// The constraint or index name.
    pub name: String,
    /// The key columns (or expressions), in order.
    pub columns: Vec<String>,
    /// `WHERE` of a partial index, e.g. `"deleted_at" IS NULL`.
    pub predicate: Option<String>,
    /// A unique constraint (`ALTER TABLE ... ADD CONSTRAINT ... UNIQUE`) rather than an index.
    pub constraint: bool,
    /// The index method, e.g. `gin`; `None` is btree.
    pub using: Option<String>,
    /// `INCLUDE` columns.
    pub include: Vec<String>,
    /// `NULLS NOT DISTINCT` (PostgreSQL 15): NULLs count as equal in a unique.
    pub nulls_not_distinct: bool,
}

impl IndexShape {
    /// A btree index on plain columns.
    pub fn on(name: &str, columns: &[&str]) -> IndexShape {
        IndexShape {
            name: name.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            predicate: None,
            constraint: false,
            using: None,
            include: Vec::new(),
            nulls_not_distinct: false,
        }
    }
}

/// A CHECK constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckShape {
    /// The constraint name, e.g. `users_role_check`.
    pub name: String,
    /// The columns it reads (one, for a text enum's check).
    pub columns: Vec<String>,
    /// The condition, without `CHECK`.
    pub expression: String,
    /// A text enum's allowed values, when the check is one.
    pub allowed: Option<Vec<String>>,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKeyShape {
    /// The constraint name, e.g. `posts_author_id_fkey`.
    pub name: String,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table's schema.
    pub target_schema: String,
    /// The referenced table.
    pub target_table: String,
    /// The referenced columns; none for the referenced table's primary key (`REFERENCES t`),
    /// until the schema check and drafts fill them in from that table's shape.
    pub target_columns: Vec<String>,
    /// `ON DELETE` (`cascade`, `set null`, `set default`, `restrict`); `None` is `no action`.
    pub on_delete: Option<String>,
    /// `ON UPDATE`, likewise.
    pub on_update: Option<String>,
    /// `DEFERRABLE INITIALLY DEFERRED`.
    pub deferrable: bool,
}

impl TableShape {
    /// The shape `#[derive(Table)]` declares for `T`.
    ///
    /// ```no_run
    /// # use skelly_db::Table;
    /// # #[derive(Table)] struct User { id: uuid::Uuid, email: String }
    /// use skelly_db::schema::TableShape;
    ///
    /// let shape = TableShape::of::<User>();
    /// assert_eq!(shape.name, "users");
    /// println!("{}", shape.create_sql());
    /// ```
    pub fn of<T: Table>() -> TableShape {
        // A thin shim: every table shares one copy of the conversion.
        TableShape::from_static(T::SCHEMA, T::NAME, T::COLUMNS, T::CONSTRAINTS, T::UNLOGGED)
    }

    // The shape from a table's static description.
    fn from_static(
        schema: &str,
        name: &str,
        columns: &'static [crate::table::ColumnDef],
        constraints: &'static [TableConstraint],
        unlogged: bool,
    ) -> TableShape {
        let columns = columns.iter().map(|c| Column {
            name: c.name.to_string(),
            sql_type: c.sql_type.to_string(),
            nullable: c.nullable,
            default: c.default.map(str::to_string),
            identity: c.identity,
            role: c.role,
            unique: c.unique,
            unique_nulls_not_distinct: c.unique_nulls_not_distinct,
            unique_all_rows: c.unique_all_rows,
            generated: c.generated.map(str::to_string),
            index: c.index,
            allowed: c.check.map(|v| v.iter().map(|s| s.to_string()).collect()),
            references: c.references.map(str::to_string),
            on_delete: c.on_delete.map(str::to_string),
            on_update: c.on_update.map(str::to_string),
            deferrable: c.deferrable,
        });
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        let items = constraints.iter().map(|item| match *item {
            TableConstraint::Index {
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
                    name: name.to_string(),
                    columns: strings(parts),
                    predicate: predicate.map(str::to_string),
                    constraint,
                    using: using.map(str::to_string),
                    include: strings(include),
                    nulls_not_distinct,
                },
                unique,
            },
            TableConstraint::Check { name, expression } => Item::Check {
                name: name.to_string(),
                expression: expression.to_string(),
            },
            TableConstraint::ForeignKey {
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
                    name: name.to_string(),
                    columns: strings(columns),
                    target_schema: target_schema.to_string(),
                    target_table: target_table.to_string(),
                    target_columns: strings(target_columns),
                    on_delete: on_delete.map(str::to_string),
                    on_update: on_update.map(str::to_string),
                    deferrable,
                },
                index,
            },
        });
        let mut shape = TableShape::declared(schema, name, columns.collect(), items.collect());
        shape.unlogged = unlogged;
        shape
    }

    /// The shape of a table declared column by column, as the derive describes it: what
    /// [`TableShape::of`] and the source reader (`skelly-db schema check --src`) share, so that
    /// the two cannot disagree on names or conventions.
    #[doc(hidden)]
    pub fn declared(
        schema: &str,
        name: &str,
        columns: Vec<Column>,
        items: Vec<Item>,
    ) -> TableShape {
        let soft = columns.iter().find(|c| c.role == ColumnRole::DeletedAt);
        let soft_predicate = soft.map(|d| format!("{} IS NULL", quote_ident(&d.name)));
        let key: Vec<String> = columns
            .iter()
            .filter(|c| c.role == ColumnRole::PrimaryKey)
            .map(|c| c.name.clone())
            .collect();
        let mut shape = TableShape {
            schema: schema.to_string(),
            name: name.to_string(),
            columns: Vec::new(),
            primary_key: (!key.is_empty()).then(|| KeyShape {
                name: format!("{name}_pkey"),
                columns: key,
            }),
            uniques: Vec::new(),
            indexes: Vec::new(),
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            enums: Vec::new(),
            unlogged: false,
            unchecked: Vec::new(),
        };
        for c in &columns {
            shape.columns.push(ColumnShape {
                name: c.name.clone(),
                sql_type: c.sql_type.clone(),
                nullable: c.nullable,
                // A generated column's expression stands where the catalog keeps it: in place
                // of the default.
                default: c.generated.clone().or_else(|| c.default.clone()),
                identity: c.identity,
                generated: c.generated.is_some(),
            });
            let base = c.sql_type.trim_end_matches("[]");
            let native = c.allowed.is_some() && canonical_type(base) != "text";
            if let (true, Some(values)) = (native, &c.allowed) {
                // A native enum: the type holds the values, no CHECK.
                if !shape.enums.iter().any(|e| e.name == base) {
                    shape.enums.push(EnumShape {
                        name: base.to_string(),
                        values: values.clone(),
                    });
                }
            } else if let Some(values) = &c.allowed {
                let column = quote_ident(&c.name);
                let list: Vec<String> = values.iter().map(|v| quote_literal(v)).collect();
                let list = list.join(", ");
                let expression = if c.sql_type.ends_with("[]") {
                    // An array of text enums: every element is one of the variants.
                    format!("{column} <@ ARRAY[{list}]::text[]")
                } else {
                    format!("{column} IN ({list})")
                };
                shape.checks.push(CheckShape {
                    name: format!("{name}_{}_check", c.name),
                    columns: vec![c.name.clone()],
                    expression,
                    allowed: Some(values.clone()),
                });
            }
            if let Some(target) = &c.references {
                // "schema.table" (its primary key, whatever its name: no columns, as in SQL) or
                // "schema.table(column)".
                let (target, key) = match target.strip_suffix(')').and_then(|t| t.split_once('(')) {
                    Some((target, key)) => (target, Some(key)),
                    None => (target.as_str(), None),
                };
                let (target_schema, target_table) =
                    target.split_once('.').unwrap_or(("public", target));
                shape.foreign_keys.push(ForeignKeyShape {
                    name: format!("{name}_{}_fkey", c.name),
                    columns: vec![c.name.clone()],
                    target_schema: target_schema.to_string(),
                    target_table: target_table.to_string(),
                    target_columns: key.map(str::to_string).into_iter().collect(),
                    // `no action` is the default; the catalog reads it as none.
                    on_delete: c.on_delete.clone().filter(|a| a != "no action"),
                    on_update: c.on_update.clone().filter(|a| a != "no action"),
                    deferrable: c.deferrable,
                });
            }
            if c.unique {
                // A soft-deleted row must not block re-creating it, unless the unique covers
                // all rows.
                let predicate = soft_predicate.clone().filter(|_| !c.unique_all_rows);
                shape.uniques.push(IndexShape {
                    constraint: predicate.is_none(),
                    predicate,
                    nulls_not_distinct: c.unique_nulls_not_distinct,
                    ..IndexShape::on(&format!("{name}_{}_key", c.name), &[&c.name])
                });
            }
            // Not where the column's unique index or the key's index already leads with it; a
            // later part of a composite key (a join table's second foreign key) gets one.
            let leads_key = shape
                .primary_key
                .as_ref()
                .is_some_and(|k| k.columns.first() == Some(&c.name));
            if c.index && !c.unique && !leads_key {
                shape.indexes.push(IndexShape::on(
                    &format!("{name}_{}_idx", c.name),
                    &[&c.name],
                ));
            }
        }
        for item in items {
            match item {
                Item::Index { mut index, unique } => {
                    index.name = shape.free_name(index.name);
                    if unique {
                        shape.uniques.push(index);
                    } else {
                        shape.indexes.push(index);
                    }
                }
                Item::Check { name, expression } => {
                    let columns = shape
                        .columns
                        .iter()
                        .filter(|c| {
                            expression
                                .split(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                                .any(|w| w == c.name)
                        })
                        .map(|c| c.name.clone())
                        .collect();
                    let name = shape.free_name(name);
                    shape.checks.push(CheckShape {
                        name,
                        columns,
                        expression,
                        allowed: None,
                    });
                }
                Item::ForeignKey { mut key, index } => {
                    // `no action` is the default; the catalog reads it as none.
                    key.on_delete = key.on_delete.filter(|a| a != "no action");
                    key.on_update = key.on_update.filter(|a| a != "no action");
                    // Its index, unless the key's or a unique's leads with the same columns.
                    let covered = shape
                        .primary_key
                        .iter()
                        .map(|k| &k.columns)
                        .chain(shape.uniques.iter().map(|u| &u.columns))
                        .any(|c| c.starts_with(&key.columns));
                    if index && !covered {
                        let name = format!("{name}_{}_idx", key.columns.join("_"));
                        let columns: Vec<&str> = key.columns.iter().map(String::as_str).collect();
                        let name = shape.free_name(name);
                        shape.indexes.push(IndexShape::on(&name, &columns));
                    }
                    shape.foreign_keys.push(key);
                }
            }
        }
        shape
    }

    // `name`, or as PostgreSQL does when it is taken: `name1`, `name2`, ...
    fn free_name(&self, name: String) -> String {
        let taken = |n: &str| {
            self.uniques
                .iter()
                .chain(&self.indexes)
                .any(|i| i.name == n)
                || self.checks.iter().any(|c| c.name == n)
                || self.foreign_keys.iter().any(|k| k.name == n)
                || self.primary_key.as_ref().is_some_and(|k| k.name == n)
        };
        if !taken(&name) {
            return name;
        }
        (1..)
            .map(|i| format!("{name}{i}"))
            .find(|n| !taken(n))
            .unwrap_or(name)
    }

    /// `"schema"."table"`.
    pub fn qualified_name(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    /// The DDL of this shape: schema, table with types, NOT NULL, defaults, primary key, CHECK
    /// constraints, foreign keys, unique constraints (partial unique indexes on soft-delete
    /// tables) and indexes. Every statement says `IF NOT EXISTS`, so running it again changes
    /// nothing.
    pub fn create_sql(&self) -> String {
        let mut out = format!(
            "CREATE SCHEMA IF NOT EXISTS {};\n",
            quote_ident(&self.schema)
        );
        for e in &self.enums {
            // CREATE TYPE has no IF NOT EXISTS.
            let _ = writeln!(
                out,
                "DO $skelly$ BEGIN {}; EXCEPTION WHEN duplicate_object THEN NULL; END $skelly$;",
                create_enum_sql(e)
            );
        }
        for statement in self.create_statements("IF NOT EXISTS ") {
            out.push_str(&statement);
            out.push_str(";\n");
        }
        out
    }

    /// CREATE TABLE and CREATE INDEX statements (without the schema, without semicolons);
    /// `options` goes after TABLE and INDEX, e.g. `IF NOT EXISTS `.
    pub(crate) fn create_statements(&self, options: &str) -> Vec<String> {
        let table = self.qualified_name();
        let mut lines: Vec<String> = self.columns.iter().map(column_sql).collect();
        if let Some(key) = &self.primary_key {
            lines.push(format!(
                "CONSTRAINT {} PRIMARY KEY ({})",
                quote_ident(&key.name),
                idents(&key.columns)
            ));
        }
        lines.extend(self.checks.iter().map(check_sql));
        lines.extend(self.foreign_keys.iter().map(foreign_key_sql));
        lines.extend(
            self.uniques
                .iter()
                .filter(|u| u.constraint)
                .map(unique_constraint_sql),
        );
        let mut out = vec![format!(
            "CREATE {}TABLE {options}{table} (\n    {}\n)",
            if self.unlogged { "UNLOGGED " } else { "" },
            lines.join(",\n    ")
        )];
        let uniques = self.uniques.iter().filter(|u| !u.constraint);
        let indexes = uniques
            .map(|u| (u, true))
            .chain(self.indexes.iter().map(|i| (i, false)));
        for (index, unique) in indexes {
            out.push(index_sql(&table, index, unique, options));
        }
        out
    }
}

/// One column of a declared table, with the derive's facts about it. Input of
/// [`TableShape::declared`]; not part of the public API.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub sql_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    pub identity: bool,
    pub role: ColumnRole,
    pub unique: bool,
    pub unique_nulls_not_distinct: bool,
    pub unique_all_rows: bool,
    pub generated: Option<String>,
    pub index: bool,
    pub allowed: Option<Vec<String>>,
    pub references: Option<String>,
    pub on_delete: Option<String>,
    pub on_update: Option<String>,
    pub deferrable: bool,
}

/// A table-level item of a declared table; input of [`TableShape::declared`], not part of the
/// public API.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum Item {
    /// A unique constraint or index (`unique`), or an index; its name is made free of clashes.
    Index {
        index: IndexShape,
        unique: bool,
    },
    Check {
        name: String,
        expression: String,
    },
    /// A foreign key over several columns, and whether it wants its index.
    ForeignKey {
        key: ForeignKeyShape,
        index: bool,
    },
}

pub(crate) fn idents(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| quote_ident(n)).collect();
    quoted.join(", ")
}

/// `"name" type NOT NULL DEFAULT ...`: a column as it stands in CREATE TABLE or ADD COLUMN.
pub(crate) fn column_sql(c: &ColumnShape) -> String {
    let mut line = format!("{} {}", quote_ident(&c.name), c.sql_type);
    if !c.nullable {
        line.push_str(" NOT NULL");
    }
    match (&c.default, c.generated) {
        (Some(expression), true) => {
            let _ = write!(line, " GENERATED ALWAYS AS ({expression}) STORED");
        }
        (Some(default), false) => {
            let _ = write!(line, " DEFAULT {default}");
        }
        (None, _) => {}
    }
    if c.identity {
        line.push_str(" GENERATED BY DEFAULT AS IDENTITY");
    }
    line
}

/// `CREATE TYPE name AS ENUM ('a', 'b')`, without the semicolon.
pub(crate) fn create_enum_sql(e: &EnumShape) -> String {
    let values: Vec<String> = e.values.iter().map(|v| quote_literal(v)).collect();
    format!("CREATE TYPE {} AS ENUM ({})", e.name, values.join(", "))
}

pub(crate) fn check_sql(c: &CheckShape) -> String {
    format!(
        "CONSTRAINT {} CHECK ({})",
        quote_ident(&c.name),
        c.expression
    )
}

/// The primary-key columns of each table in `known`, by `(schema, table)`.
pub(crate) fn key_columns<'a>(
    known: impl IntoIterator<Item = &'a TableShape>,
) -> std::collections::HashMap<(String, String), Vec<String>> {
    known
        .into_iter()
        .filter_map(|t| {
            let key = t.primary_key.as_ref()?;
            Some(((t.schema.clone(), t.name.clone()), key.columns.clone()))
        })
        .collect()
}

/// Fills in the referenced columns of each foreign key that references a table's primary key
/// without naming it (`references = "schema.table"`), from `keys`; a target not in `keys` stays
/// empty (then any referenced columns match it).
pub(crate) fn resolve_key_targets(
    tables: &mut [TableShape],
    keys: &std::collections::HashMap<(String, String), Vec<String>>,
) {
    for table in tables {
        for key in &mut table.foreign_keys {
            if key.target_columns.is_empty() {
                let target = (key.target_schema.clone(), key.target_table.clone());
                if let Some(columns) = keys.get(&target) {
                    key.target_columns = columns.clone();
                }
            }
        }
    }
}

pub(crate) fn foreign_key_sql(f: &ForeignKeyShape) -> String {
    let mut out = format!(
        "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}",
        quote_ident(&f.name),
        idents(&f.columns),
        qualified(&f.target_schema, &f.target_table),
    );
    // No columns: the referenced table's primary key, as PostgreSQL reads it.
    if !f.target_columns.is_empty() {
        let _ = write!(out, " ({})", idents(&f.target_columns));
    }
    if let Some(action) = &f.on_delete {
        let _ = write!(out, " ON DELETE {}", action.to_ascii_uppercase());
    }
    if let Some(action) = &f.on_update {
        let _ = write!(out, " ON UPDATE {}", action.to_ascii_uppercase());
    }
    if f.deferrable {
        out.push_str(" DEFERRABLE INITIALLY DEFERRED");
    }
    out
}

/// An index key part: a column name quoted, an expression (`lower(email)`, `created_at DESC`)
/// as written.
fn key_part(part: &str) -> String {
    if !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_') {
        quote_ident(part)
    } else {
        part.to_string()
    }
}

pub(crate) fn unique_constraint_sql(u: &IndexShape) -> String {
    format!(
        "CONSTRAINT {} UNIQUE {}({})",
        quote_ident(&u.name),
        nulls_not_distinct(u),
        idents(&u.columns)
    )
}

/// `NULLS NOT DISTINCT ` where the unique says so (PostgreSQL 15 and later), else nothing.
fn nulls_not_distinct(u: &IndexShape) -> &'static str {
    if u.nulls_not_distinct {
        "NULLS NOT DISTINCT "
    } else {
        ""
    }
}

/// `CREATE [UNIQUE] INDEX <options>name ON table (...) [WHERE ...]`, without the semicolon.
pub(crate) fn index_sql(table: &str, index: &IndexShape, unique: bool, options: &str) -> String {
    let unique = if unique { "UNIQUE " } else { "" };
    let using = match &index.using {
        Some(method) => format!(" USING {method}"),
        None => String::new(),
    };
    let parts: Vec<String> = index.columns.iter().map(|p| key_part(p)).collect();
    let mut out = format!(
        "CREATE {unique}INDEX {options}{} ON {table}{using} ({})",
        quote_ident(&index.name),
        parts.join(", ")
    );
    if !index.include.is_empty() {
        let _ = write!(out, " INCLUDE ({})", idents(&index.include));
    }
    if index.nulls_not_distinct {
        out.push_str(" NULLS NOT DISTINCT");
    }
    if let Some(predicate) = &index.predicate {
        let _ = write!(out, " WHERE {predicate}");
    }
    out
}

/// `ALTER TABLE ... ADD <constraint> NOT VALID` then `VALIDATE CONSTRAINT`: existing rows are
/// checked without holding a lock that blocks writes.
pub(crate) fn add_not_valid(table: &str, constraint: &str, name: &str) -> String {
    format!(
        "ALTER TABLE {table} ADD {constraint} NOT VALID;\nALTER TABLE {table} VALIDATE CONSTRAINT {};",
        quote_ident(name)
    )
}
