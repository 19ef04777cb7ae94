//! The attribute keys.

use std::fmt;

use syn::{Ident, Path};

/// An attribute name or key, compared with idents and paths.
#[derive(Copy, Clone)]
pub struct Symbol(pub &'static str);

/// `#[table(...)]`
pub const TABLE: Symbol = Symbol("table");
/// `#[text_enum(...)]`
pub const TEXT_ENUM: Symbol = Symbol("text_enum");

// container
/// `schema = "..."`
pub const SCHEMA: Symbol = Symbol("schema");
/// `name = "..."`
pub const NAME: Symbol = Symbol("name");
/// `crate = "..."`
pub const CRATE: Symbol = Symbol("crate");
/// `rename_all = "..."`
pub const RENAME_ALL: Symbol = Symbol("rename_all");
/// `insert_derive(...)`
pub const INSERT_DERIVE: Symbol = Symbol("insert_derive");
/// `patch_derive(...)`
pub const PATCH_DERIVE: Symbol = Symbol("patch_derive");
/// `insert_attr(...)`
pub const INSERT_ATTR: Symbol = Symbol("insert_attr");
/// `patch_attr(...)`
pub const PATCH_ATTR: Symbol = Symbol("patch_attr");

// field / variant
/// `rename = "..."`
pub const RENAME: Symbol = Symbol("rename");
/// `primary_key`
pub const PRIMARY_KEY: Symbol = Symbol("primary_key");
/// `unique`
pub const UNIQUE: Symbol = Symbol("unique");
/// `index`
pub const INDEX: Symbol = Symbol("index");
/// `references = "..."`
pub const REFERENCES: Symbol = Symbol("references");
/// `default = "..."`
pub const DEFAULT: Symbol = Symbol("default");
/// `skip_patch`
pub const SKIP_PATCH: Symbol = Symbol("skip_patch");
/// `sql_type = "..."`
pub const SQL_TYPE: Symbol = Symbol("sql_type");
/// `created_at`
pub const CREATED_AT: Symbol = Symbol("created_at");
/// `updated_at`
pub const UPDATED_AT: Symbol = Symbol("updated_at");
/// `deleted_at`
pub const DELETED_AT: Symbol = Symbol("deleted_at");
/// `plain`
pub const PLAIN: Symbol = Symbol("plain");
/// `version`
pub const VERSION: Symbol = Symbol("version");
/// `supplied`
pub const SUPPLIED: Symbol = Symbol("supplied");

/// `pg_enum = "schema.type"`
pub const PG_ENUM: Symbol = Symbol("pg_enum");
/// `check(...)`
pub const CHECK: Symbol = Symbol("check");
/// `no_primary_key`
pub const NO_PRIMARY_KEY: Symbol = Symbol("no_primary_key");
/// `#[table(unlogged)]`: `CREATE UNLOGGED TABLE`.
pub const UNLOGGED: Symbol = Symbol("unlogged");
/// `#[table(foreign_key(columns(a, b), references = "..."))]`: a (composite) foreign key.
pub const FOREIGN_KEY: Symbol = Symbol("foreign_key");
/// `on_delete = "..."`
pub const ON_DELETE: Symbol = Symbol("on_delete");
/// `on_update = "..."`
pub const ON_UPDATE: Symbol = Symbol("on_update");
/// `deferrable`
pub const DEFERRABLE: Symbol = Symbol("deferrable");
/// `varchar = N`
pub const VARCHAR: Symbol = Symbol("varchar");
/// `char = N`
pub const CHAR: Symbol = Symbol("char");
/// `#[table(references = "...", no_index)]`: a foreign key without an index of its own.
pub const NO_INDEX: Symbol = Symbol("no_index");
/// `#[table(unique, nulls_not_distinct)]`: NULLs count as equal in the unique.
pub const NULLS_NOT_DISTINCT: Symbol = Symbol("nulls_not_distinct");
/// `#[table(unique, all_rows)]`: unique over every row of a soft-delete table, deleted ones too.
pub const ALL_ROWS: Symbol = Symbol("all_rows");
/// `#[table(generated = "expr")]`: `GENERATED ALWAYS AS (expr) STORED`.
pub const GENERATED: Symbol = Symbol("generated");
/// `#[table(json)]`: a `serde_json::Value` stored as `json` (not `jsonb`).
pub const JSON: Symbol = Symbol("json");
/// `#[table(ltree)]`: a `String` stored as the `ltree` extension type.
pub const LTREE: Symbol = Symbol("ltree");

/// The keys of `#[table(...)]` on a struct.
pub const TABLE_CONTAINER_KEYS: &[Symbol] = &[
    SCHEMA,
    NAME,
    CRATE,
    INSERT_DERIVE,
    PATCH_DERIVE,
    INSERT_ATTR,
    PATCH_ATTR,
    UNIQUE,
    INDEX,
    CHECK,
    NO_PRIMARY_KEY,
    UNLOGGED,
    FOREIGN_KEY,
];
/// The keys of `#[table(...)]` on a field.
pub const TABLE_FIELD_KEYS: &[Symbol] = &[
    RENAME,
    PRIMARY_KEY,
    UNIQUE,
    INDEX,
    REFERENCES,
    DEFAULT,
    SKIP_PATCH,
    SQL_TYPE,
    CREATED_AT,
    UPDATED_AT,
    DELETED_AT,
    PLAIN,
    VERSION,
    SUPPLIED,
    ON_DELETE,
    ON_UPDATE,
    DEFERRABLE,
    NO_INDEX,
    NULLS_NOT_DISTINCT,
    ALL_ROWS,
    GENERATED,
    VARCHAR,
    JSON,
    LTREE,
    CHAR,
];
/// The keys of `#[text_enum(...)]` on an enum.
pub const TEXT_ENUM_CONTAINER_KEYS: &[Symbol] = &[RENAME_ALL, CRATE, PG_ENUM];
/// The keys of `#[text_enum(...)]` on a variant.
pub const TEXT_ENUM_VARIANT_KEYS: &[Symbol] = &[RENAME];

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// "`a`, `b`, `c`" for messages.
pub fn list(keys: &[Symbol]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
