//! The reference schema (`"user".users`, see `migrations/`) as a user of skelly-db describes it,
//! and its development seed. Shared by the integration tests in `tests/` and the quickstart
//! example.

use chrono::{DateTime, Utc};
use skelly_db::seed::{Seed, SeedFuture, SeedTx};
use skelly_db::{Table, TextEnum};
use uuid::Uuid;

/// What a user may do.
#[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Admin,
    /// The usual.
    Member,
    /// Look, don't touch.
    #[text_enum(rename = "read-only")]
    ReadOnly,
}

/// A row of `"user".users`.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "user", name = "users")]
pub struct User {
    /// Primary key, `gen_random_uuid()`.
    pub id: Uuid,
    /// Unique among live users.
    #[table(unique)]
    pub email: String,
    /// Shown to others.
    pub display_name: String,
    /// What the user may do.
    pub role: Role,
    /// Optional free text.
    pub bio: Option<String>,
    /// Set on insert.
    pub created_at: DateTime<Utc>,
    /// Set on insert and every update.
    pub updated_at: DateTime<Utc>,
    /// Set by a soft delete.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The development data: three users, one per role. Idempotent: running it again changes
/// nothing.
#[derive(Debug)]
pub struct DevSeed;

/// The users [`DevSeed`] writes: (email, display name, role).
pub const DEV_USERS: [(&str, &str, Role); 3] = [
    ("ada@example.com", "Ada Lovelace", Role::Admin),
    ("grace@example.com", "Grace Hopper", Role::Member),
    ("linus@example.com", "Linus", Role::ReadOnly),
];

impl Seed for DevSeed {
    fn name(&self) -> &str {
        "dev users"
    }

    fn run<'a>(&'a self, tx: &'a SeedTx<'_>) -> SeedFuture<'a> {
        Box::pin(async move {
            for (email, name, role) in DEV_USERS {
                User::insert_or_ignore(
                    tx,
                    NewUser {
                        email: email.into(),
                        display_name: name.into(),
                        role,
                        bio: None,
                    },
                )
                .await?;
            }
            Ok(())
        })
    }
}
