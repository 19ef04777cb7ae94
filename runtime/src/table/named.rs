//! Typed constants naming a table's constraints (`User::EMAIL_KEY`, `User::PKEY`,
//! `Post::AUTHOR_ID_FK`), to match errors against, and the struct's constraint columns given to
//! the violations its own operations meet.

use std::marker::PhantomData;

use super::{ColumnDef, ColumnRole, Table, TableConstraint};
use crate::error::{ConstraintViolation, Error};

/// A constraint of table `T`, by name, with the columns it covers: made by the derive for the
/// primary key (`PKEY`), each unique constraint or unique index (`EMAIL_KEY`, named after the
/// constraint without its table prefix) and each table-level check (`PRICE_CHECK`). Foreign keys
/// are named by their `..._FK` constants. Match an error with [`Error::violates`].
///
/// ```
/// use skelly_db::{ConstraintKind, ConstraintViolation, Error, Table};
///
/// #[derive(Table)]
/// #[table(schema = "user")]
/// pub struct User {
///     pub id: uuid::Uuid,
///     #[table(unique)]
///     pub email: String,
/// }
///
/// assert_eq!(User::EMAIL_KEY.name(), "users_email_key");
/// assert_eq!(User::EMAIL_KEY.columns(), ["email"]);
/// let err = Error::Constraint(ConstraintViolation::new(ConstraintKind::Unique, "users_email_key"));
/// assert!(err.violates(User::EMAIL_KEY));
/// assert!(!err.violates(User::PKEY));
/// ```
pub struct NamedConstraint<T> {
    name: &'static str,
    columns: &'static [&'static str],
    _marker: PhantomData<fn() -> T>,
}

impl<T> Clone for NamedConstraint<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for NamedConstraint<T> {}

impl<T> std::fmt::Debug for NamedConstraint<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedConstraint")
            .field("name", &self.name)
            .field("columns", &self.columns)
            .finish()
    }
}

impl<T> NamedConstraint<T> {
    /// Made by the derive.
    #[doc(hidden)]
    pub const fn new(name: &'static str, columns: &'static [&'static str]) -> Self {
        NamedConstraint {
            name,
            columns,
            _marker: PhantomData,
        }
    }

    /// The constraint's (or unique index's) name in the database.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The columns it covers.
    pub fn columns(&self) -> &'static [&'static str] {
        self.columns
    }
}

/// A constraint an error can be matched against: a [`NamedConstraint`] or a foreign key
/// constant (`Post::AUTHOR_ID_FK`).
pub trait ConstraintRef {
    /// The constraint's name.
    fn constraint_name(&self) -> &'static str;
    /// The table it belongs to (its name, without schema).
    fn table_name(&self) -> &'static str;
}

impl<T: Table> ConstraintRef for NamedConstraint<T> {
    fn constraint_name(&self) -> &'static str {
        self.name
    }
    fn table_name(&self) -> &'static str {
        T::NAME
    }
}

impl Error {
    /// Whether this is a violation of `constraint` (by name, on its table when the server
    /// says which): `err.violates(User::EMAIL_KEY)`, `err.violates(Post::AUTHOR_ID_FK)`.
    pub fn violates(&self, constraint: impl ConstraintRef) -> bool {
        let Some(v) = self.as_constraint() else {
            return false;
        };
        v.constraint.as_deref() == Some(constraint.constraint_name())
            && v.table
                .as_deref()
                .is_none_or(|t| t == constraint.table_name())
    }
}

/// Gives a violation of one of `T`'s own constraints the columns the struct states. Only runs
/// on the error path of a typed operation.
pub(crate) fn annotate<T: Table>(err: Error) -> Error {
    annotate_with(err, T::NAME, T::COLUMNS, T::CONSTRAINTS)
}

/// [`annotate`] with the table's static description: what the non-generic paths call.
pub(crate) fn annotate_with(
    err: Error,
    table: &str,
    columns: &'static [ColumnDef],
    constraints: &'static [TableConstraint],
) -> Error {
    match err {
        Error::Constraint(v) => Error::Constraint(with_columns(v, table, columns, constraints)),
        other => other,
    }
}

fn with_columns(
    mut v: ConstraintViolation,
    table: &str,
    columns: &'static [ColumnDef],
    constraints: &'static [TableConstraint],
) -> ConstraintViolation {
    let Some(name) = v.constraint.as_deref() else {
        return v;
    };
    if v.table.as_deref().is_some_and(|t| t != table) {
        return v;
    }
    if let Some(found) = constraint_columns(name, table, columns, constraints) {
        v.columns = found;
    }
    v
}

// The columns of the constraint `name` of this table, as the struct states it.
fn constraint_columns(
    name: &str,
    table: &str,
    columns: &'static [ColumnDef],
    constraints: &'static [TableConstraint],
) -> Option<Vec<String>> {
    let own = |c: &ColumnDef, suffix: &str| name == format!("{table}_{}_{suffix}", c.name);
    if name == format!("{table}_pkey") {
        let key: Vec<String> = columns
            .iter()
            .filter(|c| c.role == ColumnRole::PrimaryKey)
            .map(|c| c.name.to_string())
            .collect();
        return (!key.is_empty()).then_some(key);
    }
    if let Some(c) = columns.iter().find(|c| {
        (c.unique && own(c, "key"))
            || (c.references.is_some() && own(c, "fkey"))
            || (c.check.is_some() && own(c, "check"))
    }) {
        return Some(vec![c.name.to_string()]);
    }
    let named = |words: &mut dyn Iterator<Item = &str>| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for w in words {
            if columns.iter().any(|c| c.name == w) && !out.iter().any(|o| o == w) {
                out.push(w.to_string());
            }
        }
        out
    };
    constraints.iter().find_map(|c| match c {
        TableConstraint::Index { name: n, parts, .. } if *n == name => {
            Some(named(&mut parts.iter().copied()))
        }
        TableConstraint::ForeignKey {
            name: n, columns, ..
        } if *n == name => Some(columns.iter().map(|c| c.to_string()).collect()),
        TableConstraint::Check {
            name: n,
            expression,
        } if *n == name => Some(named(
            &mut expression.split(|c: char| !(c.is_alphanumeric() || c == '_')),
        )),
        _ => None,
    })
}
