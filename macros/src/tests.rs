//! Expansion snapshots: what the derives generate, pretty-printed, compared with the files in
//! `src/snapshots/`. A change to generated code shows up in the diff of those files; accept it
//! with `INSTA_UPDATE=always cargo test -p skelly-db-macros` (or `cargo insta review`) and read
//! the diff.

use proc_macro2::TokenStream;

fn pretty(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses as items");
    prettyplease::unparse(&file)
}

fn table(input: TokenStream) -> String {
    let input: syn::DeriveInput = syn::parse2(input).expect("a derive input");
    pretty(crate::expand::derive_table(&input).expect("the derive succeeds"))
}

fn text_enum(input: TokenStream) -> String {
    let input: syn::DeriveInput = syn::parse2(input).expect("a derive input");
    pretty(crate::expand::derive_text_enum(&input).expect("the derive succeeds"))
}

#[test]
fn table_with_every_convention() {
    insta::assert_snapshot!(table(quote::quote! {
        #[table(schema = "user", name = "users")]
        pub struct User {
            pub id: uuid::Uuid,
            #[table(unique)]
            pub email: String,
            pub display_name: String,
            pub role: Role,
            pub bio: Option<String>,
            pub created_at: chrono::DateTime<chrono::Utc>,
            pub updated_at: chrono::DateTime<chrono::Utc>,
            pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
        }
    }));
}

#[test]
fn table_with_attributes_and_no_soft_delete() {
    insta::assert_snapshot!(table(quote::quote! {
        #[table(crate = "my_db")]
        struct Post {
            #[table(primary_key)]
            post_id: uuid::Uuid,
            #[table(references = "user.users", index)]
            author_id: uuid::Uuid,
            #[table(rename = "body_text", skip_patch)]
            body: String,
            #[table(sql_type = "tsvector")]
            search: Option<String>,
            #[table(default = "0")]
            likes: i32,
            id: i64,
        }
    }));
}

#[test]
fn text_enum_with_renames() {
    insta::assert_snapshot!(text_enum(quote::quote! {
        #[text_enum(rename_all = "kebab-case")]
        pub enum Status {
            Active,
            OnHold,
            #[text_enum(rename = "gone")]
            Deleted,
        }
    }));
}
