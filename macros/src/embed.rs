//! `embed_migrations!("dir")`.

use std::path::{Path, PathBuf};

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
    let files = read_dir(&dir, &given).map_err(err)?;
    let mut entries = Vec::new();
    for (name, path) in files {
        // Messages name the file as the user wrote the directory, not the absolute path.
        let shown = given.join(&name);
        let shown = shown.display();
        let bytes =
            std::fs::read(&path).map_err(|e| err(format!("cannot read migration {shown}: {e}")))?;
        let source = String::from_utf8(bytes).map_err(|_| {
            err(format!(
                "migration {shown} is not valid UTF-8; migrations must be UTF-8 text"
            ))
        })?;
        let parsed = skelly_db_migrate_format::parse_migration(&source).map_err(|e| {
            err(format!(
                "invalid migration {shown}:{}: {}",
                e.line, e.message
            ))
        })?;
        if !parsed.down.present {
            return Err(err(format!(
                "migration {shown} has no `-- +migrate Down` section; add one (an empty Down \
                 section marks the migration irreversible)"
            )));
        }
        let path = path.to_str().ok_or_else(|| {
            err(format!(
                "migration path {} is not valid UTF-8",
                path.display()
            ))
        })?;
        entries.push(quote!((#name, ::core::include_str!(#path))));
    }
    let krate = &input.krate;
    Ok(quote! {
        #krate::__private::embedded_migrator(&[#(#entries),*])
    })
}

fn read_dir(dir: &Path, given: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot read migration directory `{}` (relative to the crate's Cargo.toml): {e}",
            given.display()
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", given.display()))?;
        let path = entry.path();
        if !path.is_file() || path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| format!("migration file name {n:?} is not valid UTF-8"))?;
        files.push((name, path));
    }
    files.sort();
    Ok(files)
}
