//! `#[table(...)]` and `#[text_enum(...)]` parsing with `parse_nested_meta`. Unknown and
//! duplicate keys are errors; values are kept with their tokens for spans.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::LitStr;

use crate::ctxt::Ctxt;
use crate::symbol::*;

mod table_items;
mod text_enum;

pub use table_items::{IndexPart, TableCheck, TableIndex};
pub use text_enum::{TextEnumContainer, TextEnumVariant};

/// One attribute value, remembering the tokens it came from for error spans.
pub struct Attr<T> {
    name: Symbol,
    tokens: TokenStream,
    value: Option<T>,
}

impl<T> Attr<T> {
    pub(crate) fn none(name: Symbol) -> Attr<T> {
        Attr {
            name,
            tokens: TokenStream::new(),
            value: None,
        }
    }

    pub(crate) fn set<A: ToTokens>(&mut self, cx: &Ctxt, attr: &str, key: A, value: T) {
        let tokens = key.into_token_stream();
        if self.value.is_some() {
            cx.error_spanned_by(
                tokens,
                format!("duplicate {attr} attribute `{}`; remove one", self.name),
            );
        } else {
            self.tokens = tokens;
            self.value = Some(value);
        }
    }

    /// The value, if the attribute was given.
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The key's tokens, for error spans (empty if the attribute was not given).
    pub fn tokens(&self) -> &TokenStream {
        &self.tokens
    }
}

pub(crate) fn string(cx: &Ctxt, meta: &ParseNestedMeta) -> Option<LitStr> {
    let parsed = meta.value().and_then(|v| v.parse::<LitStr>());
    match parsed {
        Ok(lit) => Some(lit),
        Err(_) => {
            let key = meta
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            cx.error_spanned_by(
                &meta.path,
                format!("`{key}` takes a string: `{key} = \"...\"`"),
            );
            // Skip whatever followed so that parsing can carry on.
            skip_value(meta);
            None
        }
    }
}

// The slot of `slots` that `meta` names, set to its value read by `parse`; false when `meta`
// names none of them.
fn set_named<'s, T: 's>(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    slots: impl IntoIterator<Item = (Symbol, &'s mut Attr<T>)>,
    parse: impl Fn(&Ctxt, &ParseNestedMeta) -> Option<T>,
) -> bool {
    for (key, slot) in slots {
        if meta.path == key {
            if let Some(value) = parse(cx, meta) {
                slot.set(cx, "table", &meta.path, value);
            }
            return true;
        }
    }
    false
}

// `= 255`: a positive length.
fn length(cx: &Ctxt, meta: &ParseNestedMeta) -> Option<syn::LitInt> {
    let key = meta
        .path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_default();
    let parsed = meta.value().and_then(|v| v.parse::<syn::LitInt>());
    match parsed {
        Ok(lit) if lit.base10_parse::<u32>().is_ok_and(|n| n > 0) => Some(lit),
        Ok(lit) => {
            cx.error_spanned_by(
                &lit,
                format!("`{key}` takes a length from 1 up: `{key} = 255`"),
            );
            None
        }
        Err(_) => {
            cx.error_spanned_by(&meta.path, format!("`{key}` takes a length: `{key} = 255`"));
            skip_value(meta);
            None
        }
    }
}

fn flag(cx: &Ctxt, meta: &ParseNestedMeta) -> bool {
    if meta.input.peek(syn::Token![=]) || meta.input.peek(syn::token::Paren) {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        cx.error_spanned_by(
            &meta.path,
            format!("`{key}` takes no value; write `#[table({key})]`"),
        );
        skip_value(meta);
        return false;
    }
    true
}

fn skip_value(meta: &ParseNestedMeta) {
    let _ = meta.input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, proc_macro2::TokenTree::Punct(p) if p.as_char() == ',') {
                return Ok(((), rest));
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

pub(crate) fn unknown(cx: &Ctxt, meta: &ParseNestedMeta, what: &str, keys: &[Symbol]) {
    let key = meta.path.to_token_stream().to_string().replace(' ', "");
    let suggestion = closest(&key, keys.iter().map(|k| k.0))
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_default();
    cx.error_spanned_by(
        &meta.path,
        format!(
            "unknown {what} attribute `{key}`; expected one of {}{suggestion}",
            list(keys)
        ),
    );
    skip_value(meta);
}

/// The candidate nearest to `word` by edit distance, when it is near enough to be a typo: at
/// most one edit for short words, two for longer ones, and not the word itself.
pub(crate) fn closest<'k>(
    word: &str,
    candidates: impl Iterator<Item = &'k str>,
) -> Option<&'k str> {
    let limit = if word.chars().count() <= 3 { 1 } else { 2 };
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d > 0 && *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, counting a swap of two neighbours as one edit (`shcema`).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// Runs `parse` over every `#[name(...)]` attribute in `attrs`.
pub(crate) fn each_nested(
    cx: &Ctxt,
    attrs: &[syn::Attribute],
    name: Symbol,
    mut parse: impl FnMut(&ParseNestedMeta),
) {
    for attr in attrs {
        if *attr.path() != name {
            continue;
        }
        if let syn::Meta::Path(_) = &attr.meta {
            cx.error_spanned_by(
                attr,
                format!("`#[{name}]` needs arguments, e.g. `#[{name}(rename = \"...\")]`"),
            );
            continue;
        }
        if let Err(err) = attr.parse_nested_meta(|meta| {
            parse(&meta);
            Ok(())
        }) {
            cx.syn_error(err);
        }
    }
}

/// `#[table(schema = "...", name = "...", crate = "...")]` on the struct.
pub struct TableContainer {
    /// `#[table(schema = "...")]`: the PostgreSQL schema.
    pub schema: Attr<LitStr>,
    /// `#[table(name = "...")]`: the table name.
    pub name: Attr<LitStr>,
    /// `#[table(crate = "...")]`: the path of the runtime crate.
    pub krate: Attr<syn::Path>,
    /// Derives and attributes for the generated insert and patch structs.
    pub insert_derive: Vec<syn::Path>,
    /// `#[table(patch_derive(...))]`: derives for the patch struct.
    pub patch_derive: Vec<syn::Path>,
    /// `#[table(insert_attr(...))]`: attributes for the insert struct.
    pub insert_attr: Vec<syn::Meta>,
    /// `#[table(patch_attr(...))]`: attributes for the patch struct.
    pub patch_attr: Vec<syn::Meta>,
    /// `#[table(no_primary_key)]`: a table without a key; no by-key functions.
    pub no_primary_key: Attr<()>,
    /// `#[table(unlogged)]`: an unlogged table (not written to the WAL, emptied after a crash,
    /// not replicated).
    pub unlogged: Attr<()>,
    /// `#[table(unique(a, b))]` and `#[table(index(a, b))]`, in order.
    pub indexes: Vec<TableIndex>,
    /// `#[table(check(expr = "..."))]`, in order.
    pub checks: Vec<TableCheck>,
    /// `#[table(foreign_key(columns(a, b), references = "..."))]`, in order.
    pub foreign_keys: Vec<table_items::TableForeignKey>,
}

impl TableContainer {
    /// Parses the struct's `#[table(...)]` attributes, recording errors in `cx`.
    pub fn from_ast(cx: &Ctxt, input: &syn::DeriveInput) -> TableContainer {
        let mut out = TableContainer {
            schema: Attr::none(SCHEMA),
            name: Attr::none(NAME),
            krate: Attr::none(CRATE),
            insert_derive: Vec::new(),
            patch_derive: Vec::new(),
            insert_attr: Vec::new(),
            patch_attr: Vec::new(),
            no_primary_key: Attr::none(NO_PRIMARY_KEY),
            unlogged: Attr::none(UNLOGGED),
            indexes: Vec::new(),
            checks: Vec::new(),
            foreign_keys: Vec::new(),
        };
        each_nested(cx, &input.attrs, TABLE, |meta| {
            if meta.path == UNIQUE {
                // #[table(unique(a, b, name = "...", where = "..."))]
                out.indexes.extend(table_items::parse_index(cx, meta, true));
            } else if meta.path == INDEX {
                // #[table(index(a, expr = "lower(b)", using = "gin", include(c), where = "..."))]
                out.indexes
                    .extend(table_items::parse_index(cx, meta, false));
            } else if meta.path == CHECK {
                // #[table(check(expr = "amount >= 0", name = "..."))]
                out.checks.extend(table_items::parse_check(cx, meta));
            } else if meta.path == FOREIGN_KEY {
                // #[table(foreign_key(columns(a, b), references = "s.t(x, y)", on_delete = "..."))]
                out.foreign_keys
                    .extend(table_items::parse_foreign_key(cx, meta));
            } else if meta.path == NO_PRIMARY_KEY {
                // #[table(no_primary_key)]
                if flag(cx, meta) {
                    out.no_primary_key.set(cx, "table", &meta.path, ());
                }
            } else if meta.path == UNLOGGED {
                // #[table(unlogged)]
                if flag(cx, meta) {
                    out.unlogged.set(cx, "table", &meta.path, ());
                }
            } else if meta.path == INSERT_DERIVE {
                // #[table(insert_derive(serde::Deserialize, Debug))]
                out.insert_derive.extend(paths(cx, meta));
            } else if meta.path == PATCH_DERIVE {
                // #[table(patch_derive(serde::Deserialize))]
                out.patch_derive.extend(paths(cx, meta));
            } else if meta.path == INSERT_ATTR {
                // #[table(insert_attr(serde(deny_unknown_fields)))]
                out.insert_attr.extend(metas(cx, meta));
            } else if meta.path == PATCH_ATTR {
                // #[table(patch_attr(serde(rename_all = "camelCase")))]
                out.patch_attr.extend(metas(cx, meta));
            } else if meta.path == SCHEMA {
                // #[table(schema = "user")]
                if let Some(s) = string(cx, meta) {
                    out.schema.set(cx, "table", &meta.path, s);
                }
            } else if meta.path == NAME {
                // #[table(name = "users")]
                if let Some(s) = string(cx, meta) {
                    out.name.set(cx, "table", &meta.path, s);
                }
            } else if meta.path == CRATE {
                // #[table(crate = "my_skelly")]
                if let Some(path) = crate_path(cx, meta) {
                    out.krate.set(cx, "table", &meta.path, path);
                }
            } else {
                unknown(cx, meta, "table", TABLE_CONTAINER_KEYS);
            }
        });
        out
    }
}

// Whether a forwarding key has its parenthesized list; else an error saying how to write it.
fn has_list(cx: &Ctxt, meta: &ParseNestedMeta, example: &str) -> bool {
    if meta.input.peek(syn::token::Paren) {
        return true;
    }
    let key = meta
        .path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_default();
    cx.error_spanned_by(
        &meta.path,
        format!("`{key}` takes a list in parentheses, e.g. `#[table({key}({example}))]`"),
    );
    skip_value(meta);
    false
}

// `(A, b::C)`: the paths of derives to forward.
fn paths(cx: &Ctxt, meta: &ParseNestedMeta) -> Vec<syn::Path> {
    let mut out = Vec::new();
    if !has_list(cx, meta, "serde::Deserialize, Debug") {
        return out;
    }
    if let Err(err) = meta.parse_nested_meta(|inner| {
        out.push(inner.path.clone());
        Ok(())
    }) {
        cx.syn_error(err);
    }
    out
}

// `(serde(...), doc = "...")`: attributes to forward, each written as it would stand in `#[...]`.
fn metas(cx: &Ctxt, meta: &ParseNestedMeta) -> Vec<syn::Meta> {
    if !has_list(cx, meta, "serde(rename_all = \"camelCase\")") {
        return Vec::new();
    }
    let parsed = (|| {
        let content;
        syn::parenthesized!(content in meta.input);
        syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated(&content)
    })();
    match parsed {
        Ok(list) => list.into_iter().collect(),
        Err(err) => {
            cx.syn_error(err);
            Vec::new()
        }
    }
}

pub(crate) fn crate_path(cx: &Ctxt, meta: &ParseNestedMeta) -> Option<syn::Path> {
    let lit = string(cx, meta)?;
    match lit.parse::<syn::Path>() {
        Ok(path) => Some(path),
        Err(_) => {
            cx.error_spanned_by(
                &lit,
                format!(
                    "`{}` is not a path; write e.g. `crate = \"my_skelly\"`",
                    lit.value()
                ),
            );
            None
        }
    }
}

/// `#[table(...)]` on a field.
pub struct TableField {
    /// `#[table(rename = "...")]`: the column name.
    pub rename: Attr<LitStr>,
    /// `#[table(primary_key)]`: (part of) the primary key.
    pub primary_key: Attr<()>,
    /// `#[table(unique)]`: unique among live rows.
    pub unique: Attr<()>,
    /// `#[table(index)]`: an index on the column.
    pub index: Attr<()>,
    /// `#[table(references = "...")]`: a foreign key, `schema.table` or `schema.table(column)`.
    pub references: Attr<LitStr>,
    /// `#[table(default = "...")]`: the SQL default; the database fills the column in.
    pub default: Attr<LitStr>,
    /// `#[table(skip_patch)]`: not in the patch struct.
    pub skip_patch: Attr<()>,
    /// `#[table(sql_type = "...")]`: the SQL type, for a custom `ToSql + FromSql` type.
    pub sql_type: Attr<LitStr>,
    /// `#[table(created_at)]`: the creation time.
    pub created_at: Attr<()>,
    /// `#[table(updated_at)]`: the time of the last update.
    pub updated_at: Attr<()>,
    /// `#[table(deleted_at)]`: soft delete, NULL while the row is live.
    pub deleted_at: Attr<()>,
    /// `#[table(plain)]`: an ordinary column, whatever its name.
    pub plain: Attr<()>,
    /// `#[table(version)]`: the row version, for optimistic locking.
    pub version: Attr<()>,
    /// `#[table(primary_key, supplied)]`: the caller gives the key's value.
    pub supplied: Attr<()>,
    /// `#[table(on_delete = "cascade")]`: the foreign key's ON DELETE action.
    pub on_delete: Attr<LitStr>,
    /// `#[table(on_update = "cascade")]`: the foreign key's ON UPDATE action.
    pub on_update: Attr<LitStr>,
    /// `#[table(deferrable)]`: the foreign key is `DEFERRABLE INITIALLY DEFERRED`.
    pub deferrable: Attr<()>,
    /// `#[table(varchar = 255)]`: a `String` stored as `varchar(255)`; `#[table(varchar)]`
    /// without a length: unbounded `varchar`.
    pub varchar: Attr<Option<syn::LitInt>>,
    /// `#[table(char = 2)]`: a `String` stored as `char(2)`.
    pub char: Attr<syn::LitInt>,
    /// `#[table(references = "...", no_index)]`: the foreign key gets no index of its own.
    pub no_index: Attr<()>,
    /// `#[table(unique, nulls_not_distinct)]`: `UNIQUE NULLS NOT DISTINCT`.
    pub nulls_not_distinct: Attr<()>,
    /// `#[table(unique, all_rows)]`: on a soft-delete table, unique over deleted rows too.
    pub all_rows: Attr<()>,
    /// `#[table(generated = "expr")]`: a stored generated column, read and never written.
    pub generated: Attr<LitStr>,
    /// `#[table(json)]`: a `serde_json::Value` stored as `json`.
    pub json: Attr<()>,
    /// `#[table(ltree)]`: a `String` stored as `ltree`.
    pub ltree: Attr<()>,
}

impl TableField {
    /// Parses the field's `#[table(...)]` attributes, recording errors in `cx`.
    pub fn from_ast(cx: &Ctxt, field: &syn::Field) -> TableField {
        let mut out = TableField {
            rename: Attr::none(RENAME),
            primary_key: Attr::none(PRIMARY_KEY),
            unique: Attr::none(UNIQUE),
            index: Attr::none(INDEX),
            references: Attr::none(REFERENCES),
            default: Attr::none(DEFAULT),
            skip_patch: Attr::none(SKIP_PATCH),
            sql_type: Attr::none(SQL_TYPE),
            created_at: Attr::none(CREATED_AT),
            updated_at: Attr::none(UPDATED_AT),
            deleted_at: Attr::none(DELETED_AT),
            plain: Attr::none(PLAIN),
            version: Attr::none(VERSION),
            supplied: Attr::none(SUPPLIED),
            on_delete: Attr::none(ON_DELETE),
            on_update: Attr::none(ON_UPDATE),
            deferrable: Attr::none(DEFERRABLE),
            varchar: Attr::none(VARCHAR),
            char: Attr::none(CHAR),
            no_index: Attr::none(NO_INDEX),
            nulls_not_distinct: Attr::none(NULLS_NOT_DISTINCT),
            all_rows: Attr::none(ALL_ROWS),
            generated: Attr::none(GENERATED),
            json: Attr::none(JSON),
            ltree: Attr::none(LTREE),
        };
        each_nested(cx, &field.attrs, TABLE, |meta| {
            // #[table(varchar = 255)], or #[table(varchar)]: unbounded
            let varchar = [(VARCHAR, &mut out.varchar)];
            let bounded = |cx: &Ctxt, meta: &ParseNestedMeta| match meta.input.peek(syn::Token![=])
            {
                true => length(cx, meta).map(Some),
                false => Some(None),
            };
            if set_named(cx, meta, varchar, bounded) {
                return;
            }
            // #[table(char = 2)]
            if set_named(cx, meta, [(CHAR, &mut out.char)], length) {
                return;
            }
            let strings: [(Symbol, &mut Attr<LitStr>); 7] = [
                // #[table(generated = "lower(email)")]
                (GENERATED, &mut out.generated),
                // #[table(rename = "column_name")]
                (RENAME, &mut out.rename),
                // #[table(references = "schema.table")]
                (REFERENCES, &mut out.references),
                // #[table(default = "now()")]
                (DEFAULT, &mut out.default),
                // #[table(sql_type = "inet")]
                (SQL_TYPE, &mut out.sql_type),
                // #[table(on_delete = "cascade")]
                (ON_DELETE, &mut out.on_delete),
                // #[table(on_update = "cascade")]
                (ON_UPDATE, &mut out.on_update),
            ];
            if set_named(cx, meta, strings, string) {
                return;
            }
            let flags: [(Symbol, &mut Attr<()>); 16] = [
                // #[table(json)]
                (JSON, &mut out.json),
                // #[table(ltree)]
                (LTREE, &mut out.ltree),
                // #[table(unique, nulls_not_distinct)]
                (NULLS_NOT_DISTINCT, &mut out.nulls_not_distinct),
                // #[table(unique, all_rows)]
                (ALL_ROWS, &mut out.all_rows),
                // #[table(references = "...", no_index)]
                (NO_INDEX, &mut out.no_index),
                // #[table(references = "...", deferrable)]
                (DEFERRABLE, &mut out.deferrable),
                // #[table(primary_key)]
                (PRIMARY_KEY, &mut out.primary_key),
                // #[table(unique)]
                (UNIQUE, &mut out.unique),
                // #[table(index)]
                (INDEX, &mut out.index),
                // #[table(skip_patch)]
                (SKIP_PATCH, &mut out.skip_patch),
                // #[table(created_at)]
                (CREATED_AT, &mut out.created_at),
                // #[table(updated_at)]
                (UPDATED_AT, &mut out.updated_at),
                // #[table(deleted_at)]
                (DELETED_AT, &mut out.deleted_at),
                // #[table(plain)]
                (PLAIN, &mut out.plain),
                // #[table(version)]
                (VERSION, &mut out.version),
                // #[table(primary_key, supplied)]
                (SUPPLIED, &mut out.supplied),
            ];
            if set_named(cx, meta, flags, |cx, meta| flag(cx, meta).then_some(())) {
                return;
            }
            unknown(cx, meta, "table field", TABLE_FIELD_KEYS);
        });
        out
    }
}

#[cfg(test)]
mod suggestion_tests {
    use super::closest;

    #[test]
    fn typos_get_the_nearest_key() {
        let keys = ["schema", "name", "rename", "unique", "index", "references"];
        assert_eq!(closest("shema", keys.into_iter()), Some("schema"));
        assert_eq!(closest("shcema", keys.into_iter()), Some("schema"));
        assert_eq!(closest("uniqe", keys.into_iter()), Some("unique"));
        assert_eq!(closest("refrences", keys.into_iter()), Some("references"));
        assert_eq!(closest("nmae", keys.into_iter()), Some("name"));
        assert_eq!(closest("uniq", keys.into_iter()), Some("unique"));
        assert_eq!(closest("colour", keys.into_iter()), None);
        assert_eq!(closest("nam", keys.into_iter()), Some("name"));
    }
}
