//! What the server said: [`ServerError`] for a failed statement, [`ConstraintViolation`] for a
//! constraint it enforced.

use std::fmt;

/// What the server said about a failed statement.
#[derive(Debug)]
pub struct ServerError {
    /// The five-character SQLSTATE, e.g. `42P01`.
    pub sqlstate: Box<str>,
    /// The server's primary message.
    pub message: Box<str>,
    /// The server's DETAIL line, if any.
    pub detail: Option<Box<str>>,
    /// The server's HINT line, if any.
    pub hint: Option<Box<str>>,
    pub(super) source: tokio_postgres::Error,
}

impl ServerError {
    /// The driver error this was built from.
    pub fn source_error(&self) -> &tokio_postgres::Error {
        &self.source
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        // A client-side failure has no SQLSTATE, and says nothing about one.
        if !self.sqlstate.is_empty() {
            write!(f, " (SQLSTATE {})", self.sqlstate)?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The kind of constraint a [`ConstraintViolation`] broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConstraintKind {
    /// SQLSTATE 23505.
    Unique,
    /// SQLSTATE 23503.
    ForeignKey,
    /// SQLSTATE 23514.
    Check,
    /// SQLSTATE 23502. Carries a column but no constraint name.
    NotNull,
    /// SQLSTATE 23P01.
    Exclusion,
}

impl ConstraintKind {
    pub(super) fn sqlstate(self) -> &'static str {
        match self {
            ConstraintKind::Unique => "23505",
            ConstraintKind::ForeignKey => "23503",
            ConstraintKind::Check => "23514",
            ConstraintKind::NotNull => "23502",
            ConstraintKind::Exclusion => "23P01",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ConstraintKind::Unique => "unique",
            ConstraintKind::ForeignKey => "foreign key",
            ConstraintKind::Check => "check",
            ConstraintKind::NotNull => "not-null",
            ConstraintKind::Exclusion => "exclusion",
        }
    }
}

/// A constraint the server enforced, with everything it said about it.
///
/// For a foreign-key violation, `table` is the referencing (child) table, also when the
/// statement deleted a parent row.
#[derive(Debug)]
pub struct ConstraintViolation {
    /// Which kind of constraint.
    pub kind: ConstraintKind,
    /// The constraint's name (`None` for not-null violations).
    pub constraint: Option<Box<str>>,
    /// The schema of the table.
    pub schema: Option<Box<str>>,
    /// The table the constraint belongs to.
    pub table: Option<Box<str>>,
    /// The column, where the server names one (not-null violations do).
    pub column: Option<Box<str>>,
    /// The columns the constraint covers: for a constraint of a `#[derive(Table)]` struct
    /// violated by its own operations, the struct's (a check's: the columns its condition
    /// names); otherwise the server's `Key (a, b)=(...)` detail of a unique, foreign-key or
    /// exclusion violation; the not-null column. Empty when none is known.
    pub columns: Vec<String>,
    /// The server's DETAIL line, e.g. `Key (email)=(a@b.c) already exists.`
    pub detail: Option<Box<str>>,
    // None for a violation made up in code (e.g. scripted on a MockDb).
    pub(super) source: Option<tokio_postgres::Error>,
}

impl ConstraintViolation {
    /// A violation of the constraint `constraint`, as the server would report it; for
    /// scripting error paths (see `skelly_db::testing::MockDb`). Set the public fields to add
    /// the schema, table, column or detail.
    ///
    /// ```
    /// use skelly_db::{ConstraintKind, ConstraintViolation, Error};
    ///
    /// let mut v = ConstraintViolation::new(ConstraintKind::Unique, "users_email_key");
    /// v.table = Some("users".into());
    /// let err = Error::Constraint(v);
    /// assert_eq!(err.code(), "unique_violation");
    /// assert_eq!(err.status(), 409);
    /// ```
    pub fn new(kind: ConstraintKind, constraint: &str) -> ConstraintViolation {
        ConstraintViolation {
            kind,
            constraint: (kind != ConstraintKind::NotNull).then(|| constraint.into()),
            schema: None,
            table: None,
            column: None,
            columns: Vec::new(),
            detail: None,
            source: None,
        }
    }

    /// The server's primary message (empty for a violation made up in code).
    pub fn message(&self) -> &str {
        self.source
            .as_ref()
            .and_then(|e| e.as_db_error())
            .map(|db| db.message())
            .unwrap_or_default()
    }

    /// The driver error this was built from; `None` for a violation made up in code.
    pub fn source_error(&self) -> Option<&tokio_postgres::Error> {
        self.source.as_ref()
    }
}

impl fmt::Display for ConstraintViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} violation", self.kind.label())?;
        if let Some(c) = &self.constraint {
            write!(f, " of `{c}`")?;
        }
        match (&self.schema, &self.table) {
            (Some(s), Some(t)) => write!(f, " on {s}.{t}")?,
            (None, Some(t)) => write!(f, " on {t}")?,
            _ => {}
        }
        if let Some(c) = &self.column {
            write!(f, " column `{c}`")?;
        }
        let message = self.message();
        if !message.is_empty() {
            write!(f, ": {message}")?;
        }
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConstraintViolation {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
