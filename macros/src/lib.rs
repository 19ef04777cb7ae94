//! Procedural macros of skelly-db. Depend on `skelly-db`, which re-exports them.

mod embed;

use proc_macro::TokenStream;

/// Embeds the migrations of a directory (relative to the crate's `Cargo.toml`) into the
/// binary and evaluates to a `skelly_db::migrate::Migrator`.
///
/// Every file is read and parsed at compile time: a malformed file, a file without a
/// `-- +migrate Down` marker, or a missing directory is a compile error naming the file and
/// line. The files are included with `include_str!`, so editing one rebuilds the crate.
///
/// ```ignore
/// let migrator = skelly_db::embed_migrations!("migrations");
/// migrator.up(&pool).await?;
/// ```
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as embed::Input);
    embed::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
