//! The reference schema's types, as a user writes them.

use chrono::{DateTime, Utc};
use skelly_db::{Table, TextEnum};
use uuid::Uuid;

#[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
    #[text_enum(rename = "read-only")]
    ReadOnly,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "user", name = "users")]
pub struct User {
    pub id: Uuid,
    #[table(unique)]
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub bio: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}
