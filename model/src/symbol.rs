//! The attribute keys.

use std::fmt;

use syn::{Ident, Path};

#[derive(Copy, Clone)]
pub struct Symbol(pub &'static str);

pub const TABLE: Symbol = Symbol("table");
pub const TEXT_ENUM: Symbol = Symbol("text_enum");

// container
pub const SCHEMA: Symbol = Symbol("schema");
pub const NAME: Symbol = Symbol("name");
pub const CRATE: Symbol = Symbol("crate");
pub const RENAME_ALL: Symbol = Symbol("rename_all");
pub const INSERT_DERIVE: Symbol = Symbol("insert_derive");
pub const PATCH_DERIVE: Symbol = Symbol("patch_derive");
pub const INSERT_ATTR: Symbol = Symbol("insert_attr");
pub const PATCH_ATTR: Symbol = Symbol("patch_attr");

// field / variant
pub const RENAME: Symbol = Symbol("rename");
pub const PRIMARY_KEY: Symbol = Symbol("primary_key");
pub const UNIQUE: Symbol = Symbol("unique");
pub const INDEX: Symbol = Symbol("index");
pub const REFERENCES: Symbol = Symbol("references");
pub const DEFAULT: Symbol = Symbol("default");
pub const SKIP_PATCH: Symbol = Symbol("skip_patch");
pub const SQL_TYPE: Symbol = Symbol("sql_type");
pub const CREATED_AT: Symbol = Symbol("created_at");
pub const UPDATED_AT: Symbol = Symbol("updated_at");
pub const DELETED_AT: Symbol = Symbol("deleted_at");
pub const PLAIN: Symbol = Symbol("plain");
pub const VERSION: Symbol = Symbol("version");
pub const SUPPLIED: Symbol = Symbol("supplied");

pub const TABLE_CONTAINER_KEYS: &[Symbol] = &[
    SCHEMA,
    NAME,
    CRATE,
    INSERT_DERIVE,
    PATCH_DERIVE,
    INSERT_ATTR,
    PATCH_ATTR,
];
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
];
pub const TEXT_ENUM_CONTAINER_KEYS: &[Symbol] = &[RENAME_ALL, CRATE];
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
