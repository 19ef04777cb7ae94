//! `#[derive(Row)]`: `FromRow` by column name, one line per field.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ctxt::Ctxt;
use skelly_db_model::row::RowStruct;

pub fn derive_row(input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let model = RowStruct::from_ast(&cx, input);
    cx.check()?;
    // check() returned Ok, so from_ast produced a model.
    let model = model.expect("a model when there are no errors");
    let ident = model.ident;
    let krate = &model.krate;
    let p = quote!(#krate::__private);
    let fields = model.fields.iter().map(|f| {
        let field = f.ident;
        let column = &f.column;
        let ty = f.ty;
        // Spanned on the type: a type without FromSql is reported on the field.
        let p = super::respan(p.clone(), ty.span());
        quote_spanned!(ty.span()=> #field: #p::column_by_name::<#ty>(__row, #column)?)
    });
    Ok(quote! {
        const _: () = {
            #[automatically_derived]
            impl #p::FromRow for #ident {
                fn from_row(__row: &#krate::tokio_postgres::Row) -> #p::Result<Self> {
                    ::core::result::Result::Ok(#ident { #(#fields,)* })
                }
            }
        };
    })
}
