//! `#[text_enum(...)]` on an enum and its variants.

use syn::LitStr;

use super::{crate_path, each_nested, string, unknown, Attr};
use crate::case::{RenameRule, RULES};
use crate::ctxt::Ctxt;
use crate::symbol::*;

/// `#[text_enum(rename_all = "...", crate = "...")]` on the enum.
pub struct TextEnumContainer {
    /// `#[text_enum(rename_all = "...")]`: how variant names become their text.
    pub rename_all: Attr<RenameRule>,
    /// `#[text_enum(crate = "...")]`: the path of the runtime crate.
    pub krate: Attr<syn::Path>,
    /// `#[text_enum(pg_enum = "schema.type")]`: stored as that PostgreSQL enum type.
    pub pg_enum: Attr<LitStr>,
}

impl TextEnumContainer {
    /// Parses the enum's `#[text_enum(...)]` attributes, recording errors in `cx`.
    pub fn from_ast(cx: &Ctxt, input: &syn::DeriveInput) -> TextEnumContainer {
        let mut out = TextEnumContainer {
            rename_all: Attr::none(RENAME_ALL),
            krate: Attr::none(CRATE),
            pg_enum: Attr::none(PG_ENUM),
        };
        each_nested(cx, &input.attrs, TEXT_ENUM, |meta| {
            if meta.path == RENAME_ALL {
                // #[text_enum(rename_all = "kebab-case")]
                if let Some(s) = string(cx, meta) {
                    match RenameRule::parse(&s.value()) {
                        Some(rule) => out.rename_all.set(cx, "text_enum", &meta.path, rule),
                        None => cx.error_spanned_by(
                            &s,
                            format!(
                                "unknown rename rule `{}`; expected one of {}",
                                s.value(),
                                RULES
                                    .iter()
                                    .map(|(n, _)| format!("`{n}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ),
                    }
                }
            } else if meta.path == PG_ENUM {
                // #[text_enum(pg_enum = "app.order_status")]
                if let Some(s) = string(cx, meta) {
                    out.pg_enum.set(cx, "text_enum", &meta.path, s);
                }
            } else if meta.path == CRATE {
                // #[text_enum(crate = "my_skelly")]
                if let Some(path) = crate_path(cx, meta) {
                    out.krate.set(cx, "text_enum", &meta.path, path);
                }
            } else {
                unknown(cx, meta, "text_enum", TEXT_ENUM_CONTAINER_KEYS);
            }
        });
        out
    }
}

/// `#[text_enum(rename = "...")]` on a variant.
pub struct TextEnumVariant {
    /// `#[text_enum(rename = "...")]`: the variant's text.
    pub rename: Attr<LitStr>,
}

impl TextEnumVariant {
    /// Parses the variant's `#[text_enum(...)]` attributes, recording errors in `cx`.
    pub fn from_ast(cx: &Ctxt, variant: &syn::Variant) -> TextEnumVariant {
        let mut out = TextEnumVariant {
            rename: Attr::none(RENAME),
        };
        each_nested(cx, &variant.attrs, TEXT_ENUM, |meta| {
            if meta.path == RENAME {
                // #[text_enum(rename = "read-only")]
                if let Some(s) = string(cx, meta) {
                    out.rename.set(cx, "text_enum", &meta.path, s);
                }
            } else {
                unknown(cx, meta, "text_enum variant", TEXT_ENUM_VARIANT_KEYS);
            }
        });
        out
    }
}
