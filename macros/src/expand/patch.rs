//! The patch struct (`UserPatch`) and its `Patch` impl.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::Container;

pub fn expand_struct(cont: &Container, patch_ident: &syn::Ident) -> TokenStream {
    let vis = cont.vis;
    // With serde's Deserialize forwarded, a nullable column keeps "absent" (leave it) and
    // `null` (write NULL) apart: `Option<Option<T>>` would read both as `None`.
    let serde = cont
        .attrs
        .patch_derive
        .iter()
        .any(|p| p.segments.last().is_some_and(|s| s.ident == "Deserialize"));
    let krate = &cont.krate;
    let nullable_with = format!(
        "{}::__private::deserialize_nullable",
        quote!(#krate).to_string().replace(' ', "")
    );
    let fields = cont.fields.iter().filter(|f| f.patched()).map(|f| {
        let field_vis = f.vis;
        let field = f.ident;
        let ty = f.ty;
        let serde_attr = (serde && f.option_inner.is_some())
            .then(|| quote!(#[serde(default, deserialize_with = #nullable_with)]));
        let doc = format!(
            "New value of the `{}` column; `None` leaves it as it is.",
            f.column
        );
        // A nullable column's patch is `Option<Option<T>>`: `Some(None)` writes NULL.
        quote!(#[doc = #doc] #serde_attr #field_vis #field: ::core::option::Option<#ty>)
    });
    let doc = format!(
        "Changes to a row of `{}.{}`: only the `Some` fields are written, and `updated_at` is always set.",
        cont.schema, cont.name
    );
    let derives = &cont.attrs.patch_derive;
    let attrs = &cont.attrs.patch_attr;
    quote! {
        #[doc = #doc]
        #[derive(Default, #(#derives),*)]
        #(#[#attrs])*
        #vis struct #patch_ident {
            #(#fields,)*
        }
    }
}

pub fn expand_impl(cont: &Container, patch_ident: &syn::Ident) -> TokenStream {
    let krate = &cont.krate;
    let p = quote!(#krate::__private);
    let binds = cont
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.patched())
        .map(|(i, f)| {
            let field = f.ident;
            let ty = f.ty;
            let p = super::respan(p.clone(), ty.span());
            // Spanned on the field's type: a type without ToSql is reported on the field; a
            // mapped type binds through `SqlType` (one error for a type with no mapping).
            let value = match f.attrs.sql_type.get() {
                Some(_) => quote_spanned!(ty.span()=>
                    __v as &(dyn #p::ToSqlTrait + ::core::marker::Sync)
                ),
                None => quote_spanned!(ty.span()=> <#ty as #p::SqlType>::bind(__v)),
            };
            quote_spanned!(ty.span()=>
                if let ::core::option::Option::Some(__v) = &self.#field {
                    __out.push((#i, #value));
                }
            )
        });
    quote! {
        #[automatically_derived]
        impl #p::Patch for #patch_ident {
            #[inline]
            fn bind<'__a>(
                &'__a self,
                __out: &mut ::std::vec::Vec<(usize, &'__a (dyn #p::ToSqlTrait + ::core::marker::Sync))>,
            ) {
                #(#binds)*
            }
        }
    }
}
