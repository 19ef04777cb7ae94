//! Code generation, reading only the validated model.

mod fallback;
mod insert;
mod patch;
mod row;
mod table;
mod text_enum;

pub use row::derive_row;
pub use table::derive_table;
pub use text_enum::derive_text_enum;

use proc_macro2::{Span, TokenStream, TokenTree};

/// `tokens` with every span set to `span`, so that an error in generated code that uses them
/// points at the user's token (e.g. a field's type) instead of the derive.
pub fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}
