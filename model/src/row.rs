//! `#[derive(Row)]`: a plain struct decoded by column name. `#[row(rename = "...")]` on a
//! field, `#[row(crate = "...")]` on the struct.

use syn::{Ident, LitStr, Type};

use crate::ast::rust_name;
use crate::attr::{crate_path, each_nested, string, unknown, Attr};
use crate::ctxt::Ctxt;
use crate::symbol::{Symbol, CRATE, RENAME};

/// `#[row(...)]`.
pub const ROW: Symbol = Symbol("row");

/// A `#[derive(Row)]` struct.
pub struct RowStruct<'a> {
    /// The struct's name.
    pub ident: &'a Ident,
    /// The path of the runtime crate.
    pub krate: syn::Path,
    /// The fields, in order.
    pub fields: Vec<RowField<'a>>,
}

/// One field of a [`RowStruct`].
pub struct RowField<'a> {
    /// The field's name.
    pub ident: &'a Ident,
    /// The field's type.
    pub ty: &'a Type,
    /// The column it is read from.
    pub column: String,
}

impl<'a> RowStruct<'a> {
    /// Parses and checks the struct, recording errors in `cx`.
    pub fn from_ast(cx: &Ctxt, input: &'a syn::DeriveInput) -> Option<RowStruct<'a>> {
        let mut krate = Attr::none(CRATE);
        each_nested(cx, &input.attrs, ROW, |meta| {
            if meta.path == CRATE {
                // #[row(crate = "my_skelly")]
                if let Some(path) = crate_path(cx, meta) {
                    krate.set(cx, "row", &meta.path, path);
                }
            } else {
                unknown(cx, meta, "row", &[CRATE]);
            }
        });
        if !input.generics.params.is_empty() {
            cx.error_spanned_by(
                &input.generics,
                "`#[derive(Row)]` does not support generic structs",
            );
        }
        let named = match &input.data {
            syn::Data::Struct(syn::DataStruct {
                fields: syn::Fields::Named(named),
                ..
            }) => named,
            _ => {
                cx.error_spanned_by(
                    &input.ident,
                    "`#[derive(Row)]` needs a struct with named fields, one per column",
                );
                return None;
            }
        };
        let fields = named
            .named
            .iter()
            .filter_map(|f| {
                let ident = f.ident.as_ref()?;
                let mut rename = Attr::none(RENAME);
                each_nested(cx, &f.attrs, ROW, |meta| {
                    if meta.path == RENAME {
                        // #[row(rename = "count")]
                        if let Some(s) = string(cx, meta) {
                            rename.set(cx, "row", &meta.path, s);
                        }
                    } else {
                        unknown(cx, meta, "row field", &[RENAME]);
                    }
                });
                let column = rename
                    .get()
                    .map(LitStr::value)
                    .unwrap_or_else(|| rust_name(ident));
                Some(RowField {
                    ident,
                    ty: &f.ty,
                    column,
                })
            })
            .collect();
        Some(RowStruct {
            ident: &input.ident,
            krate: krate
                .get()
                .cloned()
                .unwrap_or_else(|| syn::parse_quote!(::skelly_db)),
            fields,
        })
    }
}
