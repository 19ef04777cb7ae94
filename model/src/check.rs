//! Cross-field rules over the model; every problem is recorded, none stops the others.

use std::collections::HashMap;

use quote::ToTokens;

use crate::ast::{
    find_field, is_bytes, is_named, is_timestamp, rust_name, Container, Role, TextEnum,
};
use crate::attr::IndexPart;
use crate::ctxt::Ctxt;

/// PostgreSQL's identifier limit.
const MAX_IDENT: usize = 63;

/// Runs every table rule over `cont`, recording each problem in `cx`.
pub fn check_table(cx: &Ctxt, cont: &Container) {
    check_generics(cx, cont);
    check_identifiers(cx, cont);
    check_primary_key(cx, cont);
    check_columns_unique(cx, cont);
    check_conventions(cx, cont);
    check_references(cx, cont);
    check_types(cx, cont);
    check_table_items(cx, cont);
}

fn check_generics(cx: &Ctxt, cont: &Container) {
    let generics = &cont.original.generics;
    if !generics.params.is_empty() {
        cx.error_spanned_by(
            generics,
            "`#[derive(Table)]` does not support generic structs; a table has fixed column types",
        );
    }
}

/// Why `name` is not a usable SQL identifier, if it is not.
fn invalid_identifier(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => Some("it is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Some("it must start with a letter or `_`")
        }
        _ if name.len() > MAX_IDENT => Some("it is longer than 63 bytes"),
        _ if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Some("it may hold only letters, digits and `_`")
        }
        _ => None,
    }
}

fn check_ident_lit(cx: &Ctxt, what: &str, lit: &syn::LitStr) {
    if let Some(why) = invalid_identifier(&lit.value()) {
        cx.error_spanned_by(
            lit,
            format!(
                "`{}` is not a valid SQL identifier for `{what}`: {why}; use snake_case, e.g. `user_profiles`",
                lit.value()
            ),
        );
    }
}

fn check_identifiers(cx: &Ctxt, cont: &Container) {
    if let Some(lit) = cont.attrs.schema.get() {
        check_ident_lit(cx, "schema", lit);
    }
    if let Some(lit) = cont.attrs.name.get() {
        check_ident_lit(cx, "name", lit);
    }
    for field in &cont.fields {
        if let Some(lit) = field.attrs.rename.get() {
            check_ident_lit(cx, "rename", lit);
        }
        if let Some(lit) = field.attrs.sql_type.get() {
            if lit.value().trim().is_empty() {
                cx.error_spanned_by(
                    lit,
                    "`sql_type` is empty; name the SQL type, e.g. `sql_type = \"inet\"`",
                );
            }
        }
        if let Some(lit) = field.attrs.default.get() {
            if lit.value().trim().is_empty() {
                cx.error_spanned_by(
                    lit,
                    "`default` is empty; give the SQL expression, e.g. `default = \"now()\"`",
                );
            }
        }
    }
}

fn check_primary_key(cx: &Ctxt, cont: &Container) {
    let keys: Vec<_> = cont
        .fields
        .iter()
        .filter(|f| f.role == Role::PrimaryKey)
        .collect();
    let no_key = cont.attrs.no_primary_key.get().is_some();
    if keys.is_empty() && !no_key {
        cx.error_spanned_by(
            cont.ident,
            format!(
                "`{}` has no primary key; add a field `id: uuid::Uuid`, mark one with `#[table(primary_key)]`, or say `#[table(no_primary_key)]` for a table without one",
                cont.ident
            ),
        );
    }
    if no_key {
        if let Some(key) = keys.first() {
            cx.error_spanned_by(
                cont.attrs.no_primary_key.tokens(),
                format!(
                    "`no_primary_key`, but `{}` is marked `primary_key`; remove one of the two",
                    key.ident
                ),
            );
        }
    }
    // Several keys make a composite key, in field order.
    for key in &keys {
        if key.option_inner.is_some() {
            cx.error_spanned_by(
                key.ty,
                "the primary key cannot be an `Option`; a primary key is never NULL",
            );
        } else if is_named(key.ty, "f32") || is_named(key.ty, "f64") {
            cx.error_spanned_by(
                key.ty,
                "a floating-point primary key compares inexactly; use an integer (`i64`), a `String` or a `uuid::Uuid`",
            );
        } else if is_named(key.ty, "Value") || (is_named(key.ty, "Vec") && !is_bytes(key.ty)) {
            cx.error_spanned_by(
                key.ty,
                "a JSON value or an array cannot be a primary key; use an integer (`i64`), a `String` or a `uuid::Uuid`",
            );
        }
    }
}

fn check_columns_unique(cx: &Ctxt, cont: &Container) {
    let mut seen: HashMap<&str, &syn::Ident> = HashMap::new();
    for field in &cont.fields {
        if let Some(first) = seen.get(field.column.as_str()) {
            let tokens = match field.attrs.rename.get() {
                Some(lit) => lit.to_token_stream(),
                None => field.ident.to_token_stream(),
            };
            cx.error_spanned_by(
                tokens,
                format!(
                    "fields `{first}` and `{}` both map to column `{}`; give one another name with `#[table(rename = \"...\")]`",
                    field.ident, field.column
                ),
            );
        } else {
            seen.insert(&field.column, field.ident);
        }
    }
}

fn check_conventions(cx: &Ctxt, cont: &Container) {
    let mut roles: HashMap<Role, &syn::Ident> = HashMap::new();
    for field in &cont.fields {
        let name = match field.role {
            Role::CreatedAt => "created_at",
            Role::UpdatedAt => "updated_at",
            Role::DeletedAt => "deleted_at",
            Role::Version => "version",
            _ => continue,
        };
        if let Some(first) = roles.get(&field.role) {
            let fix = if field.role == Role::Version {
                "a table has one version; remove `#[table(version)]` from one of them"
            } else {
                "mark only one field, or add `#[table(plain)]` to this one"
            };
            cx.error_spanned_by(
                field.ident,
                format!("`{first}` is already the {name} column; {fix}"),
            );
            continue;
        }
        roles.insert(field.role, field.ident);
        match field.role {
            Role::Version => {
                if !(is_named(field.ty, "i32") || is_named(field.ty, "i64")) {
                    cx.error_spanned_by(
                        field.ty,
                        format!(
                            "the version column `{}` must be `i32` or `i64` (it counts the row's updates)",
                            field.ident
                        ),
                    );
                }
            }
            Role::DeletedAt => {
                if !field.option_inner.is_some_and(is_timestamp) {
                    cx.error_spanned_by(
                        field.ty,
                        format!(
                            "the soft-delete column `{}` must be `Option<chrono::DateTime<chrono::Utc>>` (NULL while the row is live); or add `#[table(plain)]` to make it an ordinary column",
                            field.ident
                        ),
                    );
                }
            }
            _ => {
                // A nullable stamp is stamped all the same (existing schemas have them).
                if !(is_timestamp(field.ty) || field.option_inner.is_some_and(is_timestamp)) {
                    cx.error_spanned_by(
                        field.ty,
                        format!(
                            "the {name} column `{}` must be `chrono::DateTime<chrono::Utc>` or `chrono::NaiveDateTime` (or an `Option` of one); or add `#[table(plain)]` to make it an ordinary column",
                            field.ident
                        ),
                    );
                }
            }
        }
    }
    for field in &cont.fields {
        if field.attrs.supplied.get().is_some() && field.role != Role::PrimaryKey {
            cx.error_spanned_by(
                field.attrs.supplied.tokens(),
                format!(
                    "`supplied` says the caller gives the primary key's value, and `{}` is not the primary key; remove it, or add `primary_key`",
                    field.ident
                ),
            );
        }
        if field.attrs.skip_patch.get().is_some() && field.role != Role::NoPatch {
            cx.error_spanned_by(
                field.attrs.skip_patch.tokens(),
                format!(
                    "`{}` is never patched already (primary key or timestamp); remove `skip_patch`",
                    field.ident
                ),
            );
        }
    }
}

/// The foreign-key actions PostgreSQL knows.
pub const FK_ACTIONS: &[&str] = &[
    "cascade",
    "set null",
    "set default",
    "restrict",
    "no action",
];

fn check_references(cx: &Ctxt, cont: &Container) {
    for field in &cont.fields {
        let actions = [
            ("on_delete", &field.attrs.on_delete),
            ("on_update", &field.attrs.on_update),
        ];
        for (key, attr) in actions {
            let Some(lit) = attr.get() else { continue };
            if field.attrs.references.get().is_none() {
                cx.error_spanned_by(
                    attr.tokens(),
                    format!("`{key}` is the action of a foreign key, and `{}` has none; add `references = \"schema.table\"`", field.ident),
                );
            }
            let value = lit.value();
            if !FK_ACTIONS.contains(&value.as_str()) {
                cx.error_spanned_by(
                    lit,
                    format!(
                        "`{value}` is not a foreign-key action; expected one of `cascade`, `set null`, `set default`, `restrict`, `no action`"
                    ),
                );
            } else if value == "set null" && field.option_inner.is_none() {
                cx.error_spanned_by(
                    lit,
                    format!(
                        "`set null` on `{}`, which cannot be NULL; make the field an `Option`, or use `cascade` or `restrict`",
                        field.ident
                    ),
                );
            }
        }
        if field.attrs.deferrable.get().is_some() && field.attrs.references.get().is_none() {
            cx.error_spanned_by(
                field.attrs.deferrable.tokens(),
                format!("`deferrable` is for a foreign key, and `{}` has none; add `references = \"schema.table\"`", field.ident),
            );
        }
        if field.attrs.generated.get().is_some() {
            let clash = if field.attrs.default.get().is_some() {
                Some("`default`: a generated column has its expression instead")
            } else if field.role != Role::Plain && field.role != Role::NoPatch {
                Some("a key or convention column (`primary_key`, `created_at`, `version`, ...); mark it `plain` or drop `generated`")
            } else {
                None
            };
            if let Some(why) = clash {
                cx.error_spanned_by(
                    field.attrs.generated.tokens(),
                    format!("`{}` is `generated` and {why}", field.ident),
                );
            }
        }
        let modifiers = [
            ("nulls_not_distinct", &field.attrs.nulls_not_distinct),
            ("all_rows", &field.attrs.all_rows),
        ];
        for (key, attr) in modifiers {
            if attr.get().is_none() {
                continue;
            }
            if field.attrs.unique.get().is_none() {
                cx.error_spanned_by(
                    attr.tokens(),
                    format!(
                        "`{key}` is for a unique column, and `{}` is not one; add `unique`",
                        field.ident
                    ),
                );
            } else if key == "all_rows" && !cont.soft_delete() {
                cx.error_spanned_by(
                    attr.tokens(),
                    "`all_rows` is for a soft-delete table (a `deleted_at` field), where a unique covers live rows only; without one every unique covers all rows: remove `all_rows`",
                );
            }
        }
        if field.attrs.no_index.get().is_some() {
            if field.attrs.references.get().is_none() {
                cx.error_spanned_by(
                    field.attrs.no_index.tokens(),
                    format!("`no_index` is for a foreign key, and `{}` has none: a column without `references` or `index` has no index anyway; remove `no_index`", field.ident),
                );
            } else if field.attrs.index.get().is_some() {
                cx.error_spanned_by(
                    field.attrs.no_index.tokens(),
                    format!(
                        "`{}` asks for `index` and `no_index`; keep one",
                        field.ident
                    ),
                );
            }
        }
        let Some(lit) = field.attrs.references.get() else {
            continue;
        };
        // The foreign key's constant `<FIELD>_FK` beside the fields' own constants.
        let fk_const = format!("{}_fk", rust_name(field.ident));
        if let Some(other) = cont.fields.iter().find(|f| rust_name(f.ident) == fk_const) {
            cont_fk_clash(cx, field.ident, other.ident);
        }
        let value = lit.value();
        // "schema.table", or "schema.table(column)" for a key not named `id`.
        let (table, column) = match value.strip_suffix(')').and_then(|v| v.split_once('(')) {
            Some((table, column)) => (table, Some(column)),
            None => (value.as_str(), None),
        };
        let parts: Vec<&str> = table.split('.').collect();
        let valid = matches!(parts.len(), 1 | 2)
            && parts.iter().all(|p| invalid_identifier(p).is_none())
            && column.is_none_or(|c| invalid_identifier(c).is_none());
        if !valid {
            cx.error_spanned_by(
                lit,
                format!(
                    "`{value}` is not a table; write `references = \"schema.table\"`, e.g. `references = \"user.users\"`, or `\"schema.table(column)\"` for a key not named `id`"
                ),
            );
        }
    }
}

fn check_types(cx: &Ctxt, cont: &Container) {
    for field in &cont.fields {
        let a = &field.attrs;
        // (key, the Rust type it is for, given, its tokens)
        let kinds = [
            (
                "varchar",
                "String",
                a.varchar.get().is_some(),
                a.varchar.tokens(),
            ),
            ("char", "String", a.char.get().is_some(), a.char.tokens()),
            ("ltree", "String", a.ltree.get().is_some(), a.ltree.tokens()),
            ("json", "Value", a.json.get().is_some(), a.json.tokens()),
        ];
        let given: Vec<_> = kinds.iter().filter(|(_, _, set, _)| *set).collect();
        for (key, rust, _, tokens) in &given {
            let ty = field.option_inner.unwrap_or(field.ty);
            // varchar and char also on a Vec<String>: an array of them.
            let element = match (*key, crate::ast::vec_inner(ty)) {
                ("varchar" | "char", Some(inner)) => inner,
                _ => ty,
            };
            if !is_named(element, rust) {
                let rust = if *rust == "Value" {
                    "serde_json::Value"
                } else {
                    rust
                };
                cx.error_spanned_by(
                    tokens,
                    format!(
                        "`{key}` is for a `{rust}` field, and `{}` is not one; for another type name its SQL type with `sql_type = \"...\"`",
                        field.ident
                    ),
                );
            }
        }
        if given.len() > 1 || (!given.is_empty() && a.sql_type.get().is_some()) {
            cx.error_spanned_by(
                given[0].3,
                format!(
                    "`{}` has more than one SQL type (`sql_type`, `varchar`, `char`, `json`, `ltree`); keep one",
                    field.ident
                ),
            );
        }
    }
}

/// The index methods PostgreSQL has.
const INDEX_METHODS: &[&str] = &["btree", "hash", "gist", "spgist", "gin", "brin"];

fn check_table_items(cx: &Ctxt, cont: &Container) {
    let names: Vec<String> = cont.fields.iter().map(|f| rust_name(f.ident)).collect();
    let missing = |ident: &syn::Ident| {
        if find_field(&cont.fields, ident).is_none() {
            cx.error_spanned_by(
                ident,
                format!(
                    "`{}` has no field `{ident}`; name one of {}",
                    cont.ident,
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    };
    for fk in &cont.attrs.foreign_keys {
        if fk.columns.is_empty() {
            cx.error_spanned_by(
                &fk.key,
                "`foreign_key` without columns; write `#[table(foreign_key(columns(a, b), references = \"schema.table(x, y)\"))]`",
            );
        }
        for ident in &fk.columns {
            missing(ident);
        }
        let Some(lit) = &fk.references else {
            cx.error_spanned_by(
                &fk.key,
                "`foreign_key` without `references`; add `references = \"schema.table(x, y)\"` (or `\"schema.table\"` for its primary key)",
            );
            continue;
        };
        let value = lit.value();
        let (schema, table, targets) = crate::ast::split_reference(&value);
        let valid = invalid_identifier(&schema).is_none()
            && invalid_identifier(&table).is_none()
            && targets.iter().all(|c| invalid_identifier(c).is_none());
        if !valid {
            cx.error_spanned_by(
                lit,
                format!("`{value}` is not a table; write `references = \"schema.table(x, y)\"`"),
            );
        } else if !targets.is_empty() && targets.len() != fk.columns.len() {
            cx.error_spanned_by(
                lit,
                format!(
                    "`{value}` names {} column(s) for {} of this table; name as many as `columns(...)` has",
                    targets.len(),
                    fk.columns.len()
                ),
            );
        }
        for (key, action) in [("on_delete", &fk.on_delete), ("on_update", &fk.on_update)] {
            let Some(action) = action else { continue };
            let value = action.value();
            if !FK_ACTIONS.contains(&value.as_str()) {
                cx.error_spanned_by(
                    action,
                    format!(
                        "`{value}` is not a foreign-key action for `{key}`; expected one of `cascade`, `set null`, `set default`, `restrict`, `no action`"
                    ),
                );
            } else if value == "set null" {
                let not_null = fk
                    .columns
                    .iter()
                    .filter_map(|c| find_field(&cont.fields, c))
                    .find(|f| f.option_inner.is_none());
                if let Some(f) = not_null {
                    cx.error_spanned_by(
                        action,
                        format!(
                            "`set null` on `{}`, which cannot be NULL; make the field an `Option`, or use `cascade` or `restrict`",
                            f.ident
                        ),
                    );
                }
            }
        }
        if let Some(name) = &fk.name {
            check_ident_lit(cx, "foreign key", name);
        }
    }
    for index in &cont.attrs.indexes {
        let what = if index.constraint { "unique" } else { "index" };
        if index.parts.is_empty() {
            let example = if index.constraint {
                "`#[table(unique(a, b))]`"
            } else {
                "`#[table(index(a, b))]` or `#[table(index(expr = \"lower(email)\"))]`"
            };
            cx.error_spanned_by(
                &index.key,
                format!("`{what}` without columns; name them, e.g. {example}"),
            );
        }
        for part in &index.parts {
            if let IndexPart::Column(ident) = part {
                missing(ident);
            }
        }
        for ident in &index.include {
            missing(ident);
        }
        if let Some(using) = &index.using {
            if !INDEX_METHODS.contains(&using.value().as_str()) {
                cx.error_spanned_by(
                    using,
                    format!(
                        "`{}` is not an index method; expected one of `btree`, `hash`, `gist`, `spgist`, `gin`, `brin`",
                        using.value()
                    ),
                );
            }
        }
        if let Some(name) = &index.name {
            check_ident_lit(cx, "index", name);
        }
        let modifiers = [
            ("nulls_not_distinct", &index.nulls_not_distinct),
            ("all_rows", &index.all_rows),
        ];
        for (key, tokens) in modifiers {
            let Some(tokens) = tokens else { continue };
            if !index.unique {
                cx.error_spanned_by(
                    tokens,
                    format!("`{key}` is for a unique index, and this one is not; write `index(..., unique, {key})` or `unique(..., {key})`"),
                );
            } else if key == "all_rows" && !cont.soft_delete() {
                cx.error_spanned_by(
                    tokens,
                    "`all_rows` is for a soft-delete table (a `deleted_at` field), where a unique covers live rows only; without one every unique covers all rows: remove `all_rows`",
                );
            }
        }
    }
    for check in &cont.attrs.checks {
        if check.expr.is_none() {
            cx.error_spanned_by(
                &check.key,
                "`check` without a condition; write `#[table(check(expr = \"amount >= 0\"))]`",
            );
        }
        if let Some(name) = &check.name {
            check_ident_lit(cx, "check", name);
        }
    }
}

fn cont_fk_clash(cx: &Ctxt, field: &syn::Ident, other: &syn::Ident) {
    cx.error_spanned_by(
        other,
        format!(
            "the field `{other}` and the foreign key of `{field}` would both be the constant `{}`; rename the field",
            other.to_string().to_uppercase()
        ),
    );
}

/// Runs every text enum rule over `e` (read from `input`), recording each problem in `cx`.
pub fn check_text_enum(cx: &Ctxt, input: &syn::DeriveInput, e: &TextEnum) {
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "`#[derive(TextEnum)]` does not support generic enums",
        );
    }
    if e.variants.is_empty() {
        cx.error_spanned_by(e.ident, "`#[derive(TextEnum)]` needs at least one variant");
    }
    if let (Some(lit), Some((schema, name))) = (&e.pg_enum_lit, &e.pg_enum) {
        let bad = [schema, name]
            .into_iter()
            .find_map(|part| invalid_identifier(part))
            .filter(|_| lit.value().split('.').count() <= 2);
        if let Some(why) = bad {
            cx.error_spanned_by(
                lit,
                format!(
                    "`{}` is not an enum type name: {why}; write `pg_enum = \"schema.type_name\"`",
                    lit.value()
                ),
            );
        } else if lit.value().split('.').count() > 2 {
            cx.error_spanned_by(
                lit,
                format!(
                    "`{}` is not an enum type name; write `pg_enum = \"schema.type_name\"`",
                    lit.value()
                ),
            );
        }
    }
    let mut seen: HashMap<&str, &syn::Ident> = HashMap::new();
    for v in &e.variants {
        if !matches!(v.original.fields, syn::Fields::Unit) {
            cx.error_spanned_by(
                &v.original.fields,
                format!(
                    "variant `{}` carries data; a text enum has unit variants only (stored as their text)",
                    v.ident
                ),
            );
        }
        if v.text.is_empty() {
            let tokens = v.attrs.rename.tokens().clone();
            cx.error_spanned_by(tokens, "a variant's text cannot be empty");
        }
        if let Some(first) = seen.get(v.text.as_str()) {
            let tokens = match v.attrs.rename.get() {
                Some(lit) => lit.to_token_stream(),
                None => v.ident.to_token_stream(),
            };
            cx.error_spanned_by(
                tokens,
                format!(
                    "variants `{first}` and `{}` are both stored as `{}`; give one another text with `#[text_enum(rename = \"...\")]`",
                    v.ident, v.text
                ),
            );
        } else {
            seen.insert(&v.text, v.ident);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::invalid_identifier;

    #[test]
    fn identifiers() {
        assert_eq!(invalid_identifier("users"), None);
        assert_eq!(invalid_identifier("_x1"), None);
        assert!(invalid_identifier("").is_some());
        assert!(invalid_identifier("1abc").is_some());
        assert!(invalid_identifier("user-profiles").is_some());
        assert!(invalid_identifier("a b").is_some());
        assert!(invalid_identifier(&"a".repeat(64)).is_some());
        assert_eq!(invalid_identifier(&"a".repeat(63)), None);
    }
}
