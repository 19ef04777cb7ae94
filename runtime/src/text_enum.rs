//! [`TextEnum`]: Rust enums stored as TEXT, guarded by a CHECK constraint.

use std::fmt;

/// An enum stored as TEXT; implemented by `#[derive(TextEnum)]`.
///
/// ```
/// use skelly_db::TextEnum;
///
/// #[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]
/// enum Role {
///     Admin,
///     Member,
///     #[text_enum(rename = "read-only")]
///     ReadOnly,
/// }
///
/// assert_eq!(Role::VARIANTS, ["admin", "member", "read-only"]);
/// assert_eq!(Role::ReadOnly.as_str(), "read-only");
/// assert_eq!("member".parse::<Role>().unwrap(), Role::Member);
/// assert_eq!(Role::Admin.to_string(), "admin");
/// assert_eq!(
///     "owner".parse::<Role>().unwrap_err().to_string(),
///     "`owner` is not a valid Role; expected one of `admin`, `member`, `read-only`"
/// );
/// ```
pub trait TextEnum: Sized + 'static {
    /// The enum's Rust name, for messages.
    const NAME: &'static str;
    /// The stored texts, in variant order.
    const VARIANTS: &'static [&'static str];
    /// `(schema, type)` of the PostgreSQL enum type it is stored as
    /// (`#[text_enum(pg_enum = "schema.type")]`); `None` for `text` guarded by a CHECK.
    const PG_ENUM: Option<(&'static str, &'static str)> = None;
    /// The SQL type of a `Vec` of it: `text[]`, or the enum type's array.
    const ARRAY_SQL_TYPE: &'static str = "text[]";
    /// The stored text of this variant.
    fn as_str(&self) -> &'static str;
    /// The variant stored as `text`, if any.
    fn from_text(text: &str) -> Option<Self>;
}

/// A text that is not one of a [`TextEnum`]'s variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariant {
    /// The enum's Rust name.
    pub type_name: &'static str,
    /// The text that was found.
    pub value: String,
    /// The texts that are allowed.
    pub allowed: &'static [&'static str],
}

impl UnknownVariant {
    /// The error for `value` not being a variant of `T`.
    pub fn new<T: TextEnum>(value: &str) -> UnknownVariant {
        UnknownVariant {
            type_name: T::NAME,
            value: value.to_string(),
            allowed: T::VARIANTS,
        }
    }
}

impl fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a valid {}; expected one of ",
            self.value, self.type_name
        )?;
        for (i, v) in self.allowed.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{v}`")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownVariant {}
