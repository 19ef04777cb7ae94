//! The insert struct (`NewUser`) and its `Insert` impl.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::Container;

pub fn expand_struct(cont: &Container, new_ident: &syn::Ident) -> TokenStream {
    let vis = cont.vis;
    let fields = cont.fields.iter().filter(|f| f.inserted()).map(|f| {
        let field_vis = f.vis;
        let field = f.ident;
        let ty = f.ty;
        let doc = format!("The `{}` column.", f.column);
        quote!(#[doc = #doc] #field_vis #field: #ty)
    });
    let doc = format!(
        "A row to insert into `{}.{}`: every column without a database default.",
        cont.schema, cont.name
    );
    let derives = &cont.attrs.insert_derive;
    let derive = (!derives.is_empty()).then(|| quote!(#[derive(#(#derives),*)]));
    let attrs = &cont.attrs.insert_attr;
    quote! {
        #[doc = #doc]
        #derive
        #(#[#attrs])*
        #vis struct #new_ident {
            #(#fields,)*
        }
    }
}

pub fn expand_impl(cont: &Container, new_ident: &syn::Ident) -> TokenStream {
    let krate = &cont.krate;
    let p = quote!(#krate::__private);
    let inserted: Vec<_> = cont.fields.iter().filter(|f| f.inserted()).collect();
    // Spanned on each field's type: a type without ToSql is reported on the field. A mapped
    // type binds through `SqlType`, so that a type with no mapping is one error (the trait's),
    // not one more per bind.
    let binds = inserted.iter().map(|f| {
        let field = f.ident;
        let ty = f.ty;
        let p = super::respan(p.clone(), ty.span());
        match f.attrs.sql_type.get() {
            Some(_) => quote_spanned!(ty.span()=>
                __out.push(&self.#field as &(dyn #p::ToSqlTrait + ::core::marker::Sync));
            ),
            None => quote_spanned!(ty.span()=>
                __out.push(<#ty as #p::SqlType>::bind(&self.#field));
            ),
        }
    });
    quote! {
        #[automatically_derived]
        impl #p::Insert for #new_ident {
            #[inline]
            fn bind<'__a>(
                &'__a self,
                __out: &mut ::std::vec::Vec<&'__a (dyn #p::ToSqlTrait + ::core::marker::Sync)>,
            ) {
                #(#binds)*
            }
        }
    }
}
