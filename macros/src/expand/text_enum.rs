//! `#[derive(TextEnum)]`: only the variant <-> text arms and the variant list; everything else
//! is a one-line call into the runtime.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::TextEnum;
use crate::ctxt::Ctxt;

pub fn derive_text_enum(input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let model = TextEnum::from_ast(&cx, input);
    cx.check()?;
    // check() returned Ok, so from_ast produced a model.
    let model = model.expect("a model when there are no errors");
    Ok(expand(&model))
}

fn expand(e: &TextEnum) -> TokenStream {
    let ident = e.ident;
    let krate = &e.krate;
    let p = quote!(#krate::__private);
    let types = quote!(#krate::tokio_postgres::types);
    let name = ident.to_string();
    let variants: Vec<_> = e.variants.iter().map(|v| v.ident).collect();
    let texts: Vec<_> = e.variants.iter().map(|v| &v.text).collect();
    let sql_type = e.sql_type();
    let (pg_enum, accepts) = match &e.pg_enum {
        Some((schema, name)) => {
            let array = format!("{sql_type}[]");
            (
                quote! {
                    const PG_ENUM: ::core::option::Option<(&'static str, &'static str)> =
                        ::core::option::Option::Some((#schema, #name));
                    const ARRAY_SQL_TYPE: &'static str = #array;
                },
                quote!(#p::pg_enum_accepts(__ty, #schema, #name)),
            )
        }
        None => (quote!(), quote!(#p::text_enum_accepts(__ty))),
    };
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #p::TextEnum for #ident {
                const NAME: &'static str = #name;
                const VARIANTS: &'static [&'static str] = &[#(#texts),*];
                #pg_enum

                fn as_str(&self) -> &'static str {
                    match self {
                        #(#ident::#variants => #texts,)*
                    }
                }

                fn from_text(__text: &str) -> ::core::option::Option<Self> {
                    match __text {
                        #(#texts => ::core::option::Option::Some(#ident::#variants),)*
                        _ => ::core::option::Option::None,
                    }
                }
            }

            #[automatically_derived]
            impl #p::SqlType for #ident {
                const SQL_TYPE: &'static str = #sql_type;
                const CHECK: ::core::option::Option<&'static [&'static str]> =
                    ::core::option::Option::Some(<#ident as #p::TextEnum>::VARIANTS);
            }

            #[automatically_derived]
            impl #p::ArrayElement for #ident {}

            #[automatically_derived]
            impl #types::ToSql for #ident {
                fn to_sql(
                    &self,
                    __ty: &#types::Type,
                    __out: &mut #p::BytesMut,
                ) -> ::core::result::Result<
                    #types::IsNull,
                    ::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Sync + ::core::marker::Send>,
                > {
                    #p::text_enum_to_sql(<#ident as #p::TextEnum>::as_str(self), __ty, __out)
                }

                fn accepts(__ty: &#types::Type) -> bool {
                    #accepts
                }

                #p::to_sql_checked!();
            }

            #[automatically_derived]
            impl<'__a> #types::FromSql<'__a> for #ident {
                fn from_sql(
                    __ty: &#types::Type,
                    __raw: &'__a [u8],
                ) -> ::core::result::Result<
                    Self,
                    ::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Sync + ::core::marker::Send>,
                > {
                    #p::text_enum_from_sql::<#ident>(__ty, __raw)
                }

                fn accepts(__ty: &#types::Type) -> bool {
                    #accepts
                }
            }

            #[automatically_derived]
            impl ::core::str::FromStr for #ident {
                type Err = #p::UnknownVariant;

                fn from_str(__text: &str) -> ::core::result::Result<Self, Self::Err> {
                    #p::text_enum_from_str::<#ident>(__text)
                }
            }

            #[automatically_derived]
            impl ::core::fmt::Display for #ident {
                fn fmt(&self, __f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    __f.write_str(<#ident as #p::TextEnum>::as_str(self))
                }
            }
        };
    }
}
