//! What a failed `#[derive(Table)]` emits besides its errors.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::table::functions;
use crate::ast::Container;

/// The derive's items for a struct whose derive failed: the insert and patch structs, the
/// column constants and the associated functions, over a `Table` impl whose functions are never
/// reached (the crate does not compile).
pub fn fallback(cont: &Container) -> TokenStream {
    let ident = cont.ident;
    let krate = &cont.krate;
    let p = quote!(#krate::__private);
    let new_ident = format_ident!("New{}", ident);
    let patch_ident = format_ident!("{}Patch", ident);
    let new_struct = super::insert::expand_struct(cont, &new_ident);
    let patch_struct = super::patch::expand_struct(cont, &patch_ident);
    let constants = constants(cont);
    let foreign_keys = super::table::foreign_keys(cont);
    let table_id = skelly_db_model::ast::table_id(&cont.schema, &cont.name);
    let (key_items, functions) = functions(cont, &patch_ident);
    quote! {
        #new_struct
        #patch_struct

        const _: () = {
            impl #krate::Table for #ident {
                type New = #new_ident;
                type Patch = #patch_ident;
                #key_items
                const SCHEMA: &'static str = "";
                const NAME: &'static str = "";
                const COLUMNS: &'static [#p::ColumnDef] = &[];
                fn from_row(_: &#krate::tokio_postgres::Row) -> #p::Result<Self> {
                    ::core::unreachable!("the derive failed")
                }
                fn statements() -> &'static #p::Statements {
                    ::core::unreachable!("the derive failed")
                }
            }
            impl #p::Insert for #new_ident {
                fn bind<'__a>(
                    &'__a self,
                    _: &mut ::std::vec::Vec<&'__a (dyn #p::ToSqlTrait + ::core::marker::Sync)>,
                ) {
                }
            }
            impl #p::Patch for #patch_ident {
                fn bind<'__a>(
                    &'__a self,
                    _: &mut ::std::vec::Vec<(usize, &'__a (dyn #p::ToSqlTrait + ::core::marker::Sync))>,
                ) {
                }
            }
            impl #krate::query::TableId<#table_id> for #ident {}

            #[automatically_derived]
            impl #krate::query::TableOf<#ident> for #krate::query::TableRef<#table_id> {}
            impl #ident {
                #(#constants)*
                #(#foreign_keys)*
                #functions
            }
        };
    }
}

/// `User::EMAIL: Column<User, String>`, one per field.
pub(super) fn constants(cont: &Container) -> Vec<TokenStream> {
    let ident = cont.ident;
    let krate = &cont.krate;
    cont.fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let field_vis = f.vis;
            let ty = f.ty;
            let (constant, column) = column_const(cont, i, f);
            let doc = format!("The `{}` column.", f.column);
            quote! {
                #[doc = #doc]
                #field_vis const #constant: #krate::Column<#ident, #ty> = #column;
            }
        })
        .collect()
}

/// A field's constant name (`EMAIL`) and its `Column` value: the index in `COLUMNS` (the value
/// in a row struct is read through `Table::column_value`).
pub(super) fn column_const(
    cont: &Container,
    index: usize,
    f: &crate::ast::Field,
) -> (syn::Ident, TokenStream) {
    let krate = &cont.krate;
    let name = format_ident!(
        "{}",
        f.ident.to_string().trim_start_matches("r#").to_uppercase()
    );
    let column = quote!(#krate::__private::column_at(#index));
    (name, column)
}
