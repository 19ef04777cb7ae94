//! Procedural macros of skelly-db. Depend on `skelly-db`, which re-exports them.

mod embed;
mod expand;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
// The model (parsing, conventions, checks) is shared with `skelly-db schema check --src`.
use skelly_db_model::{ast, ctxt};

/// Describes a PostgreSQL table as a struct: typed row mapping, an insert struct
/// (`New<Struct>`), a patch struct (`<Struct>Patch`), typed column constants, and async CRUD
/// functions that take any `skelly_db::Executor`.
///
/// ```text
/// use skelly_db::{Table, TextEnum};
///
/// #[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]
/// pub enum Role { Admin, Member, #[text_enum(rename = "read-only")] ReadOnly }
///
/// #[derive(Table, Debug, Clone)]
/// #[table(schema = "user", name = "users")]
/// pub struct User {
///     pub id: uuid::Uuid,
///     #[table(unique)]
///     pub email: String,
///     pub display_name: String,
///     pub role: Role,
///     pub bio: Option<String>,
///     pub created_at: chrono::DateTime<chrono::Utc>,
///     pub updated_at: chrono::DateTime<chrono::Utc>,
///     pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
/// }
///
/// let user = User::insert(&pool, NewUser {
///     email: "ada@example.com".into(),
///     display_name: "Ada".into(),
///     role: Role::Admin,
///     bio: None,
/// }).await?;
/// let user = User::update(&pool, user.id, UserPatch { bio: Some(Some("hi".into())), ..Default::default() }).await?;
/// let admins = User::query().filter(User::ROLE.eq(Role::Admin)).fetch_all(&pool).await?;
/// User::delete(&pool, user.id).await?; // soft: sets deleted_at
/// ```
///
/// # Attributes
///
/// Container, `#[table(...)]` on the struct:
///
/// | attribute | meaning | default |
/// |---|---|---|
/// | `schema = "user"` | the PostgreSQL schema | `public` |
/// | `name = "users"` | the table name | snake_case of the struct + `s` |
/// | `crate = "path"` | path of the runtime crate, when renamed | `::skelly_db` |
///
/// Field, `#[table(...)]` on a field:
///
/// | attribute | meaning |
/// |---|---|
/// | `rename = "col"` | the column name (default: the field name) |
/// | `primary_key` | this field is the primary key (default: a field named `id`) |
/// | `unique` | unique among live rows (a partial unique index on soft-delete tables) |
/// | `index` | an index on the column |
/// | `references = "schema.table"` | a foreign key to that table's `id`, indexed |
/// | `default = "sql"` | the database fills the column in; left out of the insert struct |
/// | `skip_patch` | not in the patch struct |
/// | `sql_type = "inet"` | the SQL type of a custom `ToSql + FromSql` type |
/// | `created_at`, `updated_at`, `deleted_at` | give another field that convention |
/// | `plain` | a field named `id`, `created_at`, `updated_at` or `deleted_at` without its convention |
///
/// Conventions: `id: Uuid` is the primary key with default `gen_random_uuid()`; `created_at`
/// is set on insert, `updated_at` on insert and every update; `deleted_at:
/// Option<DateTime<Utc>>` makes the table soft-delete.
#[proc_macro_derive(Table, attributes(table))]
pub fn derive_table(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive_table(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// A plain struct read from rows of hand-written SQL by column name (reports, aggregates,
/// joins written by hand): implements `skelly_db::FromRow`, for `skelly_db::query_as`.
/// Columns the struct does not name are ignored; a missing or mistyped one is an
/// `Error::Decode` naming it.
///
/// ```text
/// #[derive(skelly_db::Row)]
/// struct RoleCount { role: String, #[row(rename = "count")] users: i64 }
/// let counts: Vec<RoleCount> = skelly_db::query_as(&pool, "SELECT role, count(*) FROM ... GROUP BY role", &[]).await?;
/// ```
///
/// # Attributes
///
/// | attribute | on | meaning |
/// |---|---|---|
/// | `rename = "col"` | field | the column it is read from (default: the field name) |
/// | `crate = "path"` | struct | path of the runtime crate, when renamed |
#[proc_macro_derive(Row, attributes(row))]
pub fn derive_row(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive_row(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// An enum stored as TEXT, guarded by a CHECK constraint in the table's DDL. Implements
/// `skelly_db::TextEnum` (`as_str`, `VARIANTS`), `ToSql`/`FromSql`, `FromStr` and `Display`.
/// The enum must implement `Debug` (tokio-postgres's `ToSql` requires it): derive it alongside.
///
/// ```text
/// #[derive(skelly_db::TextEnum, Debug, Clone, Copy, PartialEq, Eq)]
/// #[text_enum(rename_all = "snake_case")]
/// pub enum Role { Admin, Member, #[text_enum(rename = "read-only")] ReadOnly }
/// ```
///
/// # Attributes
///
/// | attribute | on | meaning |
/// |---|---|---|
/// | `rename_all = "..."` | enum | `snake_case` (default), `kebab-case`, `lowercase`, `SCREAMING_SNAKE_CASE`, `camelCase` |
/// | `crate = "path"` | enum | path of the runtime crate, when renamed |
/// | `rename = "text"` | variant | the stored text of this variant |
#[proc_macro_derive(TextEnum, attributes(text_enum))]
pub fn derive_text_enum(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive_text_enum(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Embeds the migrations of a directory (relative to the crate's `Cargo.toml`) into the
/// binary and evaluates to a `skelly_db::migrate::Migrator`.
///
/// Every file is read and parsed at compile time: a malformed file, a file without a
/// `-- +migrate Down` marker, or a missing directory is a compile error naming the file and
/// line. The files are included with `include_str!`, so editing one rebuilds the crate; for a
/// newly added file to be seen without touching the code, add a `build.rs` with
/// `println!("cargo:rerun-if-changed=migrations");` (a proc macro cannot watch a directory).
///
/// ```text
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
