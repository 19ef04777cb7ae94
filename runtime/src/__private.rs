//! Everything generated code touches, and nothing else. Not part of the public API.

pub use crate::migrate::Migrator;

/// Builds the migrator of `embed_migrations!`.
pub fn embedded_migrator(files: &[(&str, &str)]) -> Migrator {
    // embed_migrations! parsed and checked every file at compile time with the same code.
    Migrator::from_sources(files.iter().copied())
        .expect("embed_migrations! checked these files at compile time")
}
