//! Table-level items of `#[table(...)]` on the struct: `unique(...)`, `index(...)`,
//! `check(...)`.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::{Ident, LitStr};

use super::{skip_value, string};
use crate::ctxt::Ctxt;

/// One key part of an index: a column (a field's name) or an expression.
pub enum IndexPart {
    /// A field, by its Rust name or its column name.
    Column(Ident),
    /// `expr = "lower(email)"`, `expr = "created_at DESC"`: SQL as written.
    Expr(LitStr),
}

/// `unique(a, b, ...)` or `index(a, b, ...)` on the struct.
pub struct TableIndex {
    /// The `unique` or `index` key, for error spans.
    pub key: TokenStream,
    /// The key parts, in order.
    pub parts: Vec<IndexPart>,
    /// `name = "..."`.
    pub name: Option<LitStr>,
    /// `where = "..."`: a partial index.
    pub predicate: Option<LitStr>,
    /// `using = "gin"`: the index method (indexes only).
    pub using: Option<LitStr>,
    /// `include(c, d)`: non-key columns (indexes only).
    pub include: Vec<Ident>,
    /// `unique` inside `index(...)`, or the `unique(...)` form.
    pub unique: bool,
    /// Written as `unique(...)` rather than `index(...)`.
    pub constraint: bool,
    /// `nulls_not_distinct`: NULLs count as equal (uniques only); its span.
    pub nulls_not_distinct: Option<TokenStream>,
    /// `all_rows`: on a soft-delete table, unique over deleted rows too (uniques only); its span.
    pub all_rows: Option<TokenStream>,
}

/// `check(expr = "...", name = "...")` on the struct.
pub struct TableCheck {
    /// The `check` key, for error spans.
    pub key: TokenStream,
    /// `name = "..."`.
    pub name: Option<LitStr>,
    /// `expr = "..."`: the condition.
    pub expr: Option<LitStr>,
}

/// Parses `unique(...)` (`constraint`) or `index(...)`.
pub fn parse_index(cx: &Ctxt, meta: &ParseNestedMeta, constraint: bool) -> Option<TableIndex> {
    let what = if constraint { "unique" } else { "index" };
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{what}` on the struct takes its columns: `#[table({what}(a, b))]`"),
        );
        skip_value(meta);
        return None;
    }
    let mut out = TableIndex {
        key: meta.path.to_token_stream(),
        parts: Vec::new(),
        name: None,
        predicate: None,
        using: None,
        include: Vec::new(),
        unique: constraint,
        constraint,
        nulls_not_distinct: None,
        all_rows: None,
    };
    let parsed = meta.parse_nested_meta(|inner| {
        let key = inner.path.get_ident().map(|i| i.to_string());
        let has_value = inner.input.peek(syn::Token![=]);
        let has_list = inner.input.peek(syn::token::Paren);
        match (key.as_deref(), has_value, has_list) {
            // name = "users_email_key"
            (Some("name"), true, _) => out.name = string(cx, &inner),
            // where = "deleted_at IS NULL"
            (Some("where"), true, _) => out.predicate = string(cx, &inner),
            // using = "gin"
            (Some("using"), true, _) if !constraint => out.using = string(cx, &inner),
            // expr = "lower(email)"
            (Some("expr"), true, _) if !constraint => {
                if let Some(e) = string(cx, &inner) {
                    out.parts.push(IndexPart::Expr(e));
                }
            }
            // include(a, b)
            (Some("include"), _, true) if !constraint => {
                inner.parse_nested_meta(|col| {
                    match col.path.get_ident() {
                        Some(ident) => out.include.push(ident.clone()),
                        None => cx.error_spanned_by(&col.path, "`include` takes column names"),
                    }
                    Ok(())
                })?;
            }
            // index(a, b, unique)
            (Some("unique"), false, false) if !constraint => out.unique = true,
            // unique(a, b, nulls_not_distinct)
            (Some("nulls_not_distinct"), false, false) => {
                out.nulls_not_distinct = Some(inner.path.to_token_stream())
            }
            // unique(a, b, all_rows)
            (Some("all_rows"), false, false) => out.all_rows = Some(inner.path.to_token_stream()),
            // a column
            (Some(_), false, false) => {
                if let Some(ident) = inner.path.get_ident() {
                    out.parts.push(IndexPart::Column(ident.clone()));
                }
            }
            _ => {
                let keys = if constraint {
                    "column names, `name = \"...\"`, `where = \"...\"`, `nulls_not_distinct`, `all_rows`"
                } else {
                    "column names, `expr = \"...\"`, `name = \"...\"`, `where = \"...\"`, `using = \"...\"`, `include(...)`, `unique`, `nulls_not_distinct`, `all_rows`"
                };
                unknown_item(cx, &inner, what, keys);
            }
        }
        Ok(())
    });
    if let Err(err) = parsed {
        cx.syn_error(err);
    }
    Some(out)
}

// An item inside `unique(...)`, `index(...)` or `check(...)` that is none of `keys`.
fn unknown_item(cx: &Ctxt, inner: &ParseNestedMeta, what: &str, keys: &str) {
    cx.error_spanned_by(
        &inner.path,
        format!(
            "unknown `{what}` item `{}`; expected {keys}",
            inner.path.to_token_stream().to_string().replace(' ', "")
        ),
    );
    skip_value(inner);
}

/// `foreign_key(columns(a, b), references = "schema.table(x, y)", ...)` on the struct: a
/// foreign key over several columns.
pub struct TableForeignKey {
    /// The `foreign_key` key, for error spans.
    pub key: TokenStream,
    /// `columns(a, b)`: fields by Rust or column name.
    pub columns: Vec<Ident>,
    /// `references = "schema.table(x, y)"`, or `"schema.table"` for its primary key.
    pub references: Option<LitStr>,
    /// `on_delete = "cascade"`.
    pub on_delete: Option<LitStr>,
    /// `on_update = "cascade"`.
    pub on_update: Option<LitStr>,
    /// `deferrable`: `DEFERRABLE INITIALLY DEFERRED`.
    pub deferrable: bool,
    /// `no_index`: no index on the columns.
    pub no_index: bool,
    /// `name = "..."`.
    pub name: Option<LitStr>,
}

/// Parses `foreign_key(...)`.
pub fn parse_foreign_key(cx: &Ctxt, meta: &ParseNestedMeta) -> Option<TableForeignKey> {
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            "`foreign_key` takes its columns and target: `#[table(foreign_key(columns(a, b), references = \"schema.table(x, y)\"))]`",
        );
        skip_value(meta);
        return None;
    }
    let mut out = TableForeignKey {
        key: meta.path.to_token_stream(),
        columns: Vec::new(),
        references: None,
        on_delete: None,
        on_update: None,
        deferrable: false,
        no_index: false,
        name: None,
    };
    let parsed = meta.parse_nested_meta(|inner| {
        let key = inner.path.get_ident().map(|i| i.to_string());
        match key.as_deref() {
            Some("columns") if inner.input.peek(syn::token::Paren) => {
                inner.parse_nested_meta(|col| {
                    match col.path.get_ident() {
                        Some(ident) => out.columns.push(ident.clone()),
                        None => cx.error_spanned_by(&col.path, "`columns` takes field names"),
                    }
                    Ok(())
                })?;
            }
            Some("references") => out.references = string(cx, &inner),
            Some("on_delete") => out.on_delete = string(cx, &inner),
            Some("on_update") => out.on_update = string(cx, &inner),
            Some("name") => out.name = string(cx, &inner),
            Some("deferrable") => out.deferrable = true,
            Some("no_index") => out.no_index = true,
            _ => unknown_item(
                cx,
                &inner,
                "foreign_key",
                "`columns(...)`, `references = \"...\"`, `on_delete = \"...\"`, `on_update = \"...\"`, `deferrable`, `no_index`, `name = \"...\"`",
            ),
        }
        Ok(())
    });
    if let Err(err) = parsed {
        cx.syn_error(err);
    }
    Some(out)
}

/// Parses `check(...)`.
pub fn parse_check(cx: &Ctxt, meta: &ParseNestedMeta) -> Option<TableCheck> {
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            "`check` takes its condition: `#[table(check(expr = \"amount >= 0\"))]`",
        );
        skip_value(meta);
        return None;
    }
    let mut out = TableCheck {
        key: meta.path.to_token_stream(),
        name: None,
        expr: None,
    };
    let parsed = meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            // name = "orders_amount_check"
            out.name = string(cx, &inner);
        } else if inner.path.is_ident("expr") {
            // expr = "amount >= 0"
            out.expr = string(cx, &inner);
        } else {
            unknown_item(cx, &inner, "check", "`expr = \"...\"`, `name = \"...\"`");
        }
        Ok(())
    });
    if let Err(err) = parsed {
        cx.syn_error(err);
    }
    Some(out)
}
