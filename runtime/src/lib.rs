//! skelly-db: describe each PostgreSQL table once, as an annotated Rust struct, and get typed
//! row mapping, insert and patch structs, typed columns, soft deletes and text enums guarded by
//! CHECK constraints; plus a pool, a migration runner and errors you can match on.
//!
//! This crate is the one you depend on; it re-exports the derive macros.
//!
//! ```no_run
//! use skelly_db::{migrate::Migrator, Error, Pool, Table, TextEnum};
//!
//! #[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]
//! pub enum Role { Admin, Member, #[text_enum(rename = "read-only")] ReadOnly }
//!
//! #[derive(Table, Debug, Clone)]
//! #[table(schema = "user", name = "users")]
//! pub struct User {
//!     pub id: uuid::Uuid,
//!     #[table(unique)]
//!     pub email: String,
//!     pub display_name: String,
//!     pub role: Role,
//!     pub bio: Option<String>,
//!     pub created_at: chrono::DateTime<chrono::Utc>,
//!     pub updated_at: chrono::DateTime<chrono::Utc>,
//!     pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
//! }
//!
//! # async fn run() -> skelly_db::Result<()> {
//! let pool = Pool::from_env()?; // DATABASE_URL
//! Migrator::from_dir("migrations")?.up(&pool).await?;
//!
//! let ada = User::insert(&pool, NewUser {
//!     email: "ada@example.com".into(),
//!     display_name: "Ada".into(),
//!     role: Role::Admin,
//!     bio: None,
//! }).await?;
//!
//! let ada = User::update(&pool, ada.id, UserPatch {
//!     bio: Some(Some("first programmer".into())),
//!     ..Default::default()
//! }).await?;
//!
//! let admins = User::query()
//!     .filter(User::ROLE.eq(Role::Admin).and(User::EMAIL.like("%@example.com")))
//!     .order_by(User::CREATED_AT.desc())
//!     .limit(20)
//!     .fetch_all(&pool)
//!     .await?;
//!
//! User::delete(&pool, ada.id).await?; // soft: sets deleted_at
//!
//! match User::insert(&pool, NewUser {
//!     email: "ada@example.com".into(),
//!     display_name: "Ada".into(),
//!     role: Role::Member,
//!     bio: None,
//! }).await {
//!     Err(Error::Constraint(v)) => println!("{v}"),
//!     other => { other?; }
//! }
//! # let _ = admins;
//! # Ok(()) }
//! ```
//!
//! # Modules
//! - [`pool`]: [`Pool`], [`PoolConfig`], [`Connection`], [`Transaction`].
//! - [`executor`]: [`Executor`], the trait every runtime function takes.
//! - [`error`]: [`enum@Error`] and the SQLSTATE mapping.
//! - [`migrate`]: the sql-migrate format and the [`migrate::Migrator`].
//! - [`schema`]: the schema check, comparing the structs with a live database.
//! - [`testing`]: a fresh database per test, `MockDb`, throwaway servers and poolers.

#![warn(missing_docs)]

mod advisory_lock;
mod crud;
pub mod error;
pub mod executor;
mod fetch;
pub mod migrate;
mod op;
pub mod pool;
pub mod query;
pub mod row;
pub mod schema;
pub mod seed;
pub mod sql;
pub mod sql_type;
pub mod table;
pub mod testing;
pub mod text_enum;
mod trace;

#[doc(hidden)]
pub mod __private;

pub use crud::{BulkInsert, OnConflict};
pub use error::{
    ConnectionKind, ConstraintKind, ConstraintViolation, Error, Result, ServerError, TimeoutKind,
};
pub use executor::{Executor, Param, RowStream};
pub use pool::{
    Connection, DetachedConnection, Health, Pool, PoolConfig, PoolMetrics, PoolStatus, Replica,
    RootCert, SslMode, Transaction,
};
pub use query::{Column, Expr, IntoValue, Order, Select};
pub use row::{query_as, query_optional_as, FromRow};
pub use skelly_db_macros::*;
pub use sql_type::SqlType;
pub use table::{
    ddl, ColumnDef, ColumnRole, ConstraintRef, Insert, NamedConstraint, Patch, Table,
    TableConstraint,
};
pub use text_enum::{TextEnum, UnknownVariant};

/// Re-exported so that users and generated code name the same tokio-postgres.
pub use tokio_postgres;
