//! The table model of skelly-db: `#[table(...)]` and `#[text_enum(...)]` parsed into
//! [`ast::Container`] and [`ast::TextEnum`], conventions applied, rules checked. The derives
//! (`skelly-db-macros`) expand it; `skelly-db schema check --src` reads it from the sources
//! ([`source`]). One parser for both, so the two cannot disagree. Not a stable API: use
//! `skelly-db`.

#![warn(missing_docs)]

pub mod ast;
pub mod attr;
pub mod case;
pub mod check;
pub mod ctxt;
pub mod row;
pub mod source;
pub mod symbol;
