//! `embed_migrations!("dir")`.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::LitStr;

pub struct Input {
    dir: LitStr,
    krate: syn::Path,
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Input> {
        let dir: LitStr = if input.is_empty() {
            LitStr::new("migrations", input.span())
        } else {
            input.parse()?
        };
        // embed_migrations!("migrations", crate = my_skelly)
        let mut krate: syn::Path = syn::parse_quote!(::skelly_db);
        if input.parse::<Option<syn::Token![,]>>()?.is_some() && !input.is_empty() {
            let key: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
            if key != "crate" {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown option `{key}`; expected `crate = path`"),
                ));
            }
            input.parse::<syn::Token![=]>()?;
            krate = input.parse()?;
            input.parse::<Option<syn::Token![,]>>()?;
        }
        Ok(Input { dir, krate })
    }
}

pub fn expand(input: &Input) -> syn::Result<TokenStream> {
    let span = input.dir.span();
    let err = |msg: String| syn::Error::new(span, msg);
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| err("CARGO_MANIFEST_DIR is not set; build with cargo".into()))?;
    let given = PathBuf::from(input.dir.value());
    let dir = manifest_dir.join(&given);
    let files = skelly_db_migrate_format::read_dir(&dir).map_err(|e| match e {
        skelly_db_migrate_format::LoadError::Io { path, source } if path == dir => err(format!(
            "cannot read migration directory `{}` (relative to the crate's Cargo.toml): {source}",
            given.display()
        )),
        other => err(describe(&given, other)),
    })?;
    let mut entries = Vec::new();
    // One format per directory, as the runtime requires: the first file of each.
    let mut first: [Option<String>; 2] = [None, None];
    for file in files {
        skelly_db_migrate_format::check_file(&file.name, &file.source)
            .map_err(|e| err(describe(&given, e)))?;
        let goose = usize::from(
            skelly_db_migrate_format::is_goose(&file.source)
                || skelly_db_migrate_format::is_go_migration(&file.name),
        );
        first[goose].get_or_insert_with(|| file.name.clone());
        if let [Some(sql_migrate), Some(goose)] = &first {
            return Err(err(format!(
                "the migrations in `{}` mix formats: {goose} is a goose file (-- +goose Up), \
                 {sql_migrate} a sql-migrate file (-- +migrate Up); keep one format per directory",
                given.display()
            )));
        }
        let name = &file.name;
        let path = file.path.to_str().ok_or_else(|| {
            err(format!(
                "migration path {} is not valid UTF-8",
                file.path.display()
            ))
        })?;
        entries.push(quote!((#name, ::core::include_str!(#path))));
    }
    let krate = &input.krate;
    Ok(quote! {
        #krate::__private::embedded_migrator(&[#(#entries),*])
    })
}

// Names the file as the user wrote the directory, not the absolute path.
fn describe(given: &std::path::Path, e: skelly_db_migrate_format::LoadError) -> String {
    use skelly_db_migrate_format::LoadError;
    match e {
        LoadError::Parse {
            file,
            line,
            message,
        } => format!(
            "invalid migration {}:{line}: {message}",
            given.join(file).display()
        ),
        LoadError::MissingDown { file } => format!(
            "migration {} has no Down section (`-- +migrate Down`, or `-- +goose Down` in a goose \
             file); add one (an empty Down section marks the migration irreversible)",
            given.join(file).display()
        ),
        other => format!("invalid migration in {}: {other}", given.display()),
    }
}
