//! `#[derive(Table)]`: the `Table` impl, column constants and the associated functions.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::fallback::constants;
use crate::ast::{Constraint, Container, Role};
use crate::ctxt::Ctxt;

pub fn derive_table(input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let cont = Container::from_ast(&cx, input);
    if let Err(err) = cx.check() {
        // The errors, plus the items the derive promises as stubs, so that code using
        // `NewUser`, `UserPatch` or `User::insert` elsewhere reports nothing more (thiserror's
        // fallback): the only errors are the real ones.
        let mut out = err.to_compile_error();
        // A generic struct cannot be named without its parameters: no stubs for it.
        if let Some(cont) = cont.as_ref().filter(|_| input.generics.params.is_empty()) {
            out.extend(super::fallback::fallback(cont));
        }
        return Ok(out);
    }
    // check() returned Ok, so from_ast produced a model.
    let cont = cont.expect("a model when there are no errors");
    Ok(expand(&cont))
}

fn expand(cont: &Container) -> TokenStream {
    let ident = cont.ident;
    let krate = &cont.krate;
    let p = quote!(#krate::__private);
    let schema = &cont.schema;
    let name = &cont.name;
    let new_ident = format_ident!("New{}", ident);
    let patch_ident = format_ident!("{}Patch", ident);

    let columns = cont.fields.iter().map(|f| column_def(cont, f));
    let constraints = constraint_defs(cont);
    let decode = decoders(cont, |i| quote!(#i));
    let decode_mapped = decoders(cont, |i| {
        let i = syn::Index::from(i);
        quote!(__map[#i])
    });
    let constants = constants(cont);
    let table_id = skelly_db_model::ast::table_id(&cont.schema, &cont.name);
    let value_arms = cont.fields.iter().enumerate().map(|(i, f)| {
        let field = f.ident;
        quote!(#i => ::core::option::Option::Some(&self.#field))
    });
    let foreign_keys = foreign_keys(cont);

    let new_struct = super::insert::expand_struct(cont, &new_ident);
    let new_impl = super::insert::expand_impl(cont, &new_ident);
    let patch_struct = super::patch::expand_struct(cont, &patch_ident);
    let patch_impl = super::patch::expand_impl(cont, &patch_ident);
    let (key_items, functions) = functions(cont, &patch_ident);

    let unlogged = cont.attrs.unlogged.get().map(|()| {
        quote!(
            const UNLOGGED: bool = true;
        )
    });
    quote! {
        #new_struct
        #patch_struct

        const _: () = {
            #[automatically_derived]
            impl #krate::Table for #ident {
                type New = #new_ident;
                type Patch = #patch_ident;
                #key_items
                const SCHEMA: &'static str = #schema;
                const NAME: &'static str = #name;
                const COLUMNS: &'static [#p::ColumnDef] = &[#(#columns),*];
                const CONSTRAINTS: &'static [#p::TableConstraint] = &[#(#constraints),*];
                #unlogged

                // Inlined into fetch_all's loop, the struct is built in place instead of being
                // moved out through the Result (measured: list of 10,000 rows 1.05x -> 1.00-1.03x of
                // the hand-written stream).
                #[inline]
                fn from_row(__row: &#krate::tokio_postgres::Row) -> #p::Result<Self> {
                    ::core::result::Result::Ok(#ident { #(#decode,)* })
                }

                // `#[inline]` on what a table may never use: codegen only where it is called.
                #[inline]
                fn column_value(
                    &self,
                    __index: usize,
                ) -> ::core::option::Option<&(dyn ::core::any::Any + ::core::marker::Send + ::core::marker::Sync)> {
                    match __index {
                        #(#value_arms,)*
                        _ => ::core::option::Option::None,
                    }
                }

                #[inline]
                fn from_row_mapped(
                    __row: &#krate::tokio_postgres::Row,
                    __map: &[usize],
                ) -> #p::Result<Self> {
                    ::core::result::Result::Ok(#ident { #(#decode_mapped,)* })
                }

                #[inline]
                fn statements() -> &'static #p::Statements {
                    static __STATEMENTS: #p::OnceLock<#p::Statements> = #p::OnceLock::new();
                    #p::Statements::cached(
                        &__STATEMENTS,
                        <Self as #krate::Table>::SCHEMA,
                        <Self as #krate::Table>::NAME,
                        <Self as #krate::Table>::COLUMNS,
                    )
                }
            }

            #new_impl
            #patch_impl

            #[automatically_derived]
            impl #krate::query::TableId<#table_id> for #ident {}

            #[automatically_derived]
            impl #krate::query::TableOf<#ident> for #krate::query::TableRef<#table_id> {}

            #[automatically_derived]
            impl #ident {
                #(#constants)*
                #(#foreign_keys)*
                #functions
            }
        };
    }
}

// `Post::AUTHOR_ID_FK`: a foreign key typed by the table it references, for joins.
pub(super) fn foreign_keys(cont: &Container) -> Vec<TokenStream> {
    let ident = cont.ident;
    let krate = &cont.krate;
    let p = quote!(#krate::__private);
    cont.fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let (schema, table, target_column) = f.reference_target()?;
            let target = skelly_db_model::ast::table_id(&schema, &table);
            let vis = f.vis;
            let ty = f.ty;
            let (constant, column) = super::fallback::column_const(cont, i, f);
            let name = format_ident!("{}_FK", constant);
            // A field of that name is an error check.rs reports; no second one here.
            let clash = cont
                .fields
                .iter()
                .any(|other| name == other.ident.to_string().to_uppercase());
            if clash {
                return None;
            }
            let target_text = match target_column.as_str() {
                "" => format!("{schema}.{table}"),
                column => format!("{schema}.{table}({column})"),
            };
            let doc = format!(
                "The foreign key `{}` to `{target_text}`, for `query().join(...)`.",
                f.column
            );
            let constraint = format!("{}_{}_fkey", cont.name, f.column);
            Some(quote! {
                #[doc = #doc]
                #vis const #name: #p::ForeignKey<#ident, #ty, #target> =
                    #p::ForeignKey::new(#column, #target_column, #constraint);
            })
        })
        .chain(table_foreign_keys(cont))
        .chain(named_constraints(cont))
        .collect()
}

// `User::PKEY`, `User::EMAIL_KEY`, `Product::PRICE_CHECK`: the constraints a violation can name,
// with their columns, for `err.violates(...)`. A name another constant has is left out.
fn named_constraints(cont: &Container) -> Vec<TokenStream> {
    let ident = cont.ident;
    let krate = &cont.krate;
    let vis = cont.vis;
    let table = &cont.name;
    let upper = |f: &crate::ast::Field| f.ident.to_string().trim_start_matches("r#").to_uppercase();
    let column_of = |part: &str| cont.fields.iter().find(|f| f.column == part);
    // (constant, constraint name, columns)
    let mut found: Vec<(String, String, Vec<String>)> = Vec::new();
    let key: Vec<String> = cont
        .fields
        .iter()
        .filter(|f| f.role == Role::PrimaryKey)
        .map(|f| f.column.clone())
        .collect();
    if !key.is_empty() && cont.attrs.no_primary_key.get().is_none() {
        found.push(("PKEY".into(), format!("{table}_pkey"), key));
    }
    for f in &cont.fields {
        if f.attrs.unique.get().is_some() {
            found.push((
                format!("{}_KEY", upper(f)),
                format!("{table}_{}_key", f.column),
                vec![f.column.clone()],
            ));
        }
    }
    // A table-level name without the table's prefix, as a constant: `users_org_email_key` is
    // `ORG_EMAIL_KEY`.
    let constant = |name: &str| -> String {
        let stem = name
            .strip_prefix(&format!("{table}_"))
            .filter(|s| !s.is_empty())
            .unwrap_or(name);
        stem.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    for c in &cont.constraints {
        match c {
            Constraint::Index {
                name,
                parts,
                unique: true,
                ..
            } => {
                let columns = parts
                    .iter()
                    .filter_map(|p| column_of(p).map(|f| f.column.clone()))
                    .collect();
                found.push((constant(name), name.clone(), columns));
            }
            Constraint::Check { name, expression } => {
                let mut columns: Vec<String> = Vec::new();
                for word in expression.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                    if let Some(f) = column_of(word) {
                        if !columns.contains(&f.column) {
                            columns.push(f.column.clone());
                        }
                    }
                }
                found.push((constant(name), name.clone(), columns));
            }
            _ => {}
        }
    }
    let mut taken: Vec<String> = cont.fields.iter().map(upper).collect();
    for f in &cont.fields {
        taken.push(format!("{}_FK", upper(f)));
    }
    let mut out = Vec::new();
    for (constant, name, columns) in found {
        let valid = constant
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
        if !valid || taken.contains(&constant) {
            continue;
        }
        taken.push(constant.clone());
        let constant = format_ident!("{}", constant);
        let doc = format!(
            "The constraint `{name}` ({}), for `err.violates(...)`.",
            columns.join(", ")
        );
        out.push(quote! {
            #[doc = #doc]
            #vis const #constant: #krate::NamedConstraint<#ident> =
                #krate::NamedConstraint::new(#name, &[#(#columns),*]);
        });
    }
    out
}

// `#[table(foreign_key(columns(a, b), ...))]`: `A_B_FK`, a `CompositeForeignKey` typed by the
// tuple of the fields' types (a `ForeignKey` for one column), public when every field is.
fn table_foreign_keys(cont: &Container) -> Vec<TokenStream> {
    let ident = cont.ident;
    let krate = &cont.krate;
    let p = quote!(#krate::__private);
    let mut out = Vec::new();
    let mut made: Vec<syn::Ident> = Vec::new();
    for c in &cont.constraints {
        let Constraint::ForeignKey {
            name: constraint,
            columns,
            target_schema,
            target_table,
            target_columns,
            ..
        } = c
        else {
            continue;
        };
        // The fields behind the columns; an unknown column is an error check.rs reports.
        let fields: Option<Vec<(usize, &crate::ast::Field)>> = columns
            .iter()
            .map(|column| {
                cont.fields
                    .iter()
                    .enumerate()
                    .find(|(_, f)| f.column == *column)
            })
            .collect();
        let Some(fields) = fields.filter(|f| !f.is_empty()) else {
            continue;
        };
        let stem: Vec<String> = fields
            .iter()
            .map(|(_, f)| f.ident.to_string().trim_start_matches("r#").to_uppercase())
            .collect();
        let name = format_ident!("{}_FK", stem.join("_"));
        // A field-level key or a field of that name already has it.
        let taken = cont.fields.iter().any(|f| {
            name == f.ident.to_string().to_uppercase()
                || (f.attrs.references.get().is_some()
                    && name
                        == format!(
                            "{}_FK",
                            f.ident.to_string().trim_start_matches("r#").to_uppercase()
                        ))
        });
        // Two keys over the same columns: the first has the name.
        if taken || made.contains(&name) {
            continue;
        }
        made.push(name.clone());
        let target = skelly_db_model::ast::table_id(target_schema, target_table);
        let vis = fields
            .iter()
            .map(|(_, f)| f.vis)
            .find(|v| !matches!(v, syn::Visibility::Public(_)))
            .unwrap_or(fields[0].1.vis);
        let target_text = match target_columns.is_empty() {
            true => format!("{target_schema}.{target_table}"),
            false => format!(
                "{target_schema}.{target_table}({})",
                target_columns.join(", ")
            ),
        };
        let doc = format!(
            "The foreign key `({})` to `{target_text}`, for `query().join(...)`.",
            columns.join(", ")
        );
        let constant = match fields.as_slice() {
            [(i, f)] => {
                let ty = f.ty;
                let (_, column) = super::fallback::column_const(cont, *i, f);
                let target_column = target_columns.first().cloned().unwrap_or_default();
                quote! {
                    #vis const #name: #p::ForeignKey<#ident, #ty, #target> =
                        #p::ForeignKey::new(#column, #target_column, #constraint);
                }
            }
            _ => {
                let types = fields.iter().map(|(_, f)| f.ty);
                quote! {
                    #vis const #name: #p::CompositeForeignKey<#ident, (#(#types,)*), #target> =
                        #p::CompositeForeignKey::new(
                            &[#(#columns),*],
                            &[#(#target_columns),*],
                            #constraint,
                        );
                }
            }
        };
        out.push(quote! {
            #[doc = #doc]
            #constant
        });
    }
    out
}

// One `field: decode(row, <index>, "column")?` per field; `index(i)` says where field i is.
fn decoders(cont: &Container, index: impl Fn(usize) -> TokenStream) -> Vec<TokenStream> {
    let krate = &cont.krate;
    let p = quote!(#krate::__private);
    cont.fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let field = f.ident;
            let column = &f.column;
            let at = index(i);
            // Spanned on the field's type: a type without FromSql is reported on the field.
            let ty = f.ty;
            let p = super::respan(p.clone(), ty.span());
            // Types with a SqlType decode through it (direct decoders for the common types);
            // a `sql_type = "..."` field only needs FromSql.
            match f.attrs.sql_type.get() {
                Some(_) => {
                    quote_spanned!(ty.span()=> #field: #p::column::<#ty>(__row, #at, #column)?)
                }
                // Through the trait itself, like COLUMNS: an unmapped type is one error.
                None => quote_spanned!(ty.span()=>
                    #field: <#ty as #p::SqlType>::decode_column(__row, #at, #column)?
                ),
            }
        })
        .collect()
}

fn column_def(cont: &Container, f: &crate::ast::Field) -> TokenStream {
    let p = {
        let krate = &cont.krate;
        quote!(#krate::__private)
    };
    let ty = f.ty;
    let name = &f.column;
    let (sql_type, nullable, check) = match f.sql_type_override() {
        Some(sql) => {
            let nullable = f.option_inner.is_some();
            (
                quote!(#sql),
                quote!(#nullable),
                quote!(::core::option::Option::None),
            )
        }
        None => (
            // Spanned on the field's type: a type with no SQL mapping is reported there.
            quote_spanned!(ty.span()=> <#ty as #p::SqlType>::SQL_TYPE),
            quote_spanned!(ty.span()=> <#ty as #p::SqlType>::NULLABLE),
            quote_spanned!(ty.span()=> <#ty as #p::SqlType>::CHECK),
        ),
    };
    let inserted = f.inserted();
    let identity = f.identity;
    let patched = f.patched();
    let unique = f.attrs.unique.get().is_some();
    let index = f.own_index();
    let nulls_not_distinct = f.attrs.nulls_not_distinct.get().is_some();
    let all_rows = f.attrs.all_rows.get().is_some();
    let generated = match f.generated() {
        Some(e) => quote!(::core::option::Option::Some(#e)),
        None => quote!(::core::option::Option::None),
    };
    let default = match &f.default {
        Some(d) => quote!(::core::option::Option::Some(#d)),
        None => quote!(::core::option::Option::None),
    };
    let action = |a: Option<&syn::LitStr>| match a {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let on_delete = action(f.attrs.on_delete.get());
    let on_update = action(f.attrs.on_update.get());
    let deferrable = f.attrs.deferrable.get().is_some();
    let references = match f.attrs.references.get() {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let role = match f.role {
        Role::Plain => quote!(Plain),
        Role::NoPatch => quote!(NoPatch),
        Role::PrimaryKey => quote!(PrimaryKey),
        Role::CreatedAt => quote!(CreatedAt),
        Role::UpdatedAt => quote!(UpdatedAt),
        Role::DeletedAt => quote!(DeletedAt),
        Role::Version => quote!(Version),
    };
    quote! {
        #p::ColumnDef {
            name: #name,
            sql_type: #sql_type,
            nullable: #nullable,
            unique: #unique,
            unique_nulls_not_distinct: #nulls_not_distinct,
            unique_all_rows: #all_rows,
            generated: #generated,
            index: #index,
            default: #default,
            check: #check,
            references: #references,
            role: #p::ColumnRole::#role,
            inserted: #inserted,
            patched: #patched,
            identity: #identity,
            on_delete: #on_delete,
            on_update: #on_update,
            deferrable: #deferrable,
        }
    }
}

// `#[table(unique(...))]`, `index(...)`, `check(...)`: names and columns resolved in the model.
fn constraint_defs(cont: &Container) -> Vec<TokenStream> {
    let krate = &cont.krate;
    let p = quote!(#krate::__private);
    let opt = |v: &Option<String>| match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    cont.constraints
        .iter()
        .map(|c| match c {
            Constraint::Index {
                name,
                parts,
                include,
                using,
                predicate,
                unique,
                constraint,
                nulls_not_distinct,
            } => {
                let using = opt(using);
                let predicate = opt(predicate);
                quote! {
                    #p::TableConstraint::Index {
                        name: #name,
                        parts: &[#(#parts),*],
                        include: &[#(#include),*],
                        using: #using,
                        predicate: #predicate,
                        unique: #unique,
                        constraint: #constraint,
                        nulls_not_distinct: #nulls_not_distinct,
                    }
                }
            }
            Constraint::ForeignKey {
                name,
                columns,
                target_schema,
                target_table,
                target_columns,
                on_delete,
                on_update,
                deferrable,
                index,
            } => {
                let on_delete = opt(on_delete);
                let on_update = opt(on_update);
                quote! {
                    #p::TableConstraint::ForeignKey {
                        name: #name,
                        columns: &[#(#columns),*],
                        target_schema: #target_schema,
                        target_table: #target_table,
                        target_columns: &[#(#target_columns),*],
                        on_delete: #on_delete,
                        on_update: #on_update,
                        deferrable: #deferrable,
                        index: #index,
                    }
                }
            }
            Constraint::Check { name, expression } => quote! {
                #p::TableConstraint::Check { name: #name, expression: #expression }
            },
        })
        .collect()
}

/// What the derive writes for the typed functions: the key's type and parameters inside the
/// `Table` impl (the functions themselves are the trait's, written once), and the inherent
/// functions only some tables have: `restore` and `find_with_deleted` on soft-delete tables,
/// `update` and `patch` that take the version on versioned ones, and the stubs that say a table
/// without a primary key has no by-key function.
pub(super) fn functions(cont: &Container, patch_ident: &syn::Ident) -> (TokenStream, TokenStream) {
    let ident = cont.ident;
    let vis = cont.vis;
    let krate = &cont.krate;
    let p = quote!(#krate::__private);
    // None for `#[table(no_primary_key)]` (check_primary_key established it); several make a
    // composite key, passed as a tuple in field order.
    let keys = cont.primary_key();
    // A `String` key part is passed as `&str`, a `Vec<u8>` (bytea) one as `&[u8]`; every other
    // type by value.
    let key_ty = |f: &crate::ast::Field| {
        let ty = f.ty;
        if crate::ast::is_named(ty, "String") {
            quote!(&'__k str)
        } else if crate::ast::is_bytes(ty) {
            quote!(&'__k [u8])
        } else {
            quote!(#ty)
        }
    };
    let (pk_ty, params) = match keys.as_slice() {
        [] => (quote!(()), quote!(::std::vec::Vec::new())),
        [one] => (key_ty(one), quote!(::std::vec![__key as #p::Param<'__p>])),
        many => {
            let tys = many.iter().map(|f| key_ty(f));
            let parts = (0..many.len()).map(syn::Index::from);
            (
                quote!((#(#tys),*)),
                quote!(::std::vec![#(&__key.#parts as #p::Param<'__p>),*]),
            )
        }
    };
    let table_items = quote! {
        type Key<'__k> = #pk_ty;

        #[inline]
        fn key_params<'__p>(__key: &'__p Self::Key<'_>) -> ::std::vec::Vec<#p::Param<'__p>> {
            #params
        }
    };
    let key_arg = quote!(<#ident as #krate::Table>::Key<'__a>);
    // Not `async`: each function hands back the runtime's future, generic over the table only.
    let fut =
        |out: TokenStream| quote!(impl ::core::future::Future<Output = #p::Result<#out>> + '__a);
    let soft = cont.soft_delete();
    let restore = (soft && !keys.is_empty()).then(|| {
        let opt_row = fut(quote!(::core::option::Option<#ident>));
        let flag = fut(quote!(bool));
        quote! {
            /// Clears `deleted_at` of a soft-deleted row; false when there is no such row.
            #vis fn restore<'__a>(db: &'__a impl #p::Executor, id: #key_arg) -> #flag {
                #p::restore::<#ident>(db, id)
            }

            /// The row with this id, soft-deleted or not.
            #vis fn find_with_deleted<'__a>(db: &'__a impl #p::Executor, id: #key_arg) -> #opt_row {
                #p::find_with_deleted::<#ident>(db, id)
            }
        }
    });
    // Optimistic locking: the caller says which version it read.
    let versioned = cont.version().filter(|_| !keys.is_empty()).map(|version| {
        let version_ty = version.ty;
        let row = fut(quote!(#ident));
        let flag = fut(quote!(bool));
        quote! {
            /// Writes the `Some` fields of the patch (and `updated_at = now()`) if the row is
            /// still at `version`, and increments the version; `Error::StaleVersion` when
            /// another update came first, `Error::NotFound` when there is no live row.
            #vis fn update<'__a>(
                db: &'__a impl #p::Executor,
                id: #key_arg,
                version: #version_ty,
                patch: #patch_ident,
            ) -> #row {
                #p::update_versioned::<#ident, _>(db, id, version, patch)
            }

            /// As `update`, without sending the row back; false when there is no live row.
            #vis fn patch<'__a>(
                db: &'__a impl #p::Executor,
                id: #key_arg,
                version: #version_ty,
                patch: #patch_ident,
            ) -> #flag {
                #p::patch_versioned::<#ident, _>(db, id, version, patch)
            }
        }
    });
    let no_key = keys.is_empty().then(|| no_key_functions(cont, patch_ident));
    (
        table_items,
        quote! {
            /// A typed SELECT on this table (live rows only, unless asked otherwise). The same as
            /// [`Table::query`](#krate::Table::query), here so that it is found without the
            /// trait in scope.
            #[inline]
            #vis fn query() -> #p::Select<#ident> {
                #p::Select::new()
            }

            #restore
            #versioned
            #no_key
        },
    )
}

// `#[table(no_primary_key)]`: the by-key functions exist, so that calling one says why it
// cannot be called (the bound no type meets carries the message).
fn no_key_functions(cont: &Container, patch_ident: &syn::Ident) -> TokenStream {
    let ident = cont.ident;
    let vis = cont.vis;
    let krate = &cont.krate;
    let p = quote!(#krate::__private);
    let stub = |name: &str, extra: TokenStream, ret: TokenStream| {
        let name = format_ident!("{}", name);
        quote! {
            /// Not available: the table has no primary key (`#[table(no_primary_key)]`).
            #[doc(hidden)]
            // Not `async`: the bound is then reported once, at the call.
            #vis fn #name<__K: #p::HasPrimaryKey<#ident>>(
                db: &impl #p::Executor,
                id: __K,
                #extra
            ) -> ::core::future::Ready<#p::Result<#ret>> {
                let _ = (db, id);
                ::core::future::ready(#p::no_primary_key::<#ident, _>())
            }
        }
    };
    let option = quote!(::core::option::Option<#ident>);
    let fns = [
        stub("find", quote!(), option.clone()),
        stub("get", quote!(), quote!(#ident)),
        stub("update", quote!(patch: #patch_ident,), quote!(#ident)),
        stub("patch", quote!(patch: #patch_ident,), quote!(bool)),
        stub("delete", quote!(), quote!(bool)),
        stub("hard_delete", quote!(), quote!(bool)),
        stub("restore", quote!(), quote!(bool)),
        stub("find_with_deleted", quote!(), option),
    ];
    quote!(#(#fns)*)
}
