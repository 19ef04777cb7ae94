//! Code generation, reading only the validated model.

mod insert;
mod patch;
mod table;
mod text_enum;

pub use table::derive_table;
pub use text_enum::derive_text_enum;
