//! Typed foreign keys: the `..._FK` constants of single-column and composite keys, and how a
//! key names the struct of the table it references (the joins are in `joined`).

use std::marker::PhantomData;

use super::expr::Column;
use crate::table::Table;

/// A foreign key of table `T` (a column declared `#[table(references = "...")]`), typed by
/// the table it references: `TARGET` identifies that table. The derive makes one per such
/// column, named after it with `_FK`: `Post::AUTHOR_ID_FK`.
pub struct ForeignKey<T, V, const TARGET: u64> {
    pub(super) column: Column<T, V>,
    pub(super) target_column: &'static str,
    /// The constraint's name, for [`Error::violates`](crate::Error::violates).
    pub(super) constraint: &'static str,
}

impl<T, V, const TARGET: u64> Clone for ForeignKey<T, V, TARGET> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, V, const TARGET: u64> Copy for ForeignKey<T, V, TARGET> {}

/// The column a foreign key references in `P`: the one it names, or (`references =
/// "schema.table"`, no column) `P`'s primary key, whatever its name.
pub(super) fn target_column<P: Table>(named: &'static str) -> &'static str {
    key_column(named, P::COLUMNS)
}

// Not generic: one copy for every table.
fn key_column(named: &'static str, columns: &'static [crate::table::ColumnDef]) -> &'static str {
    if !named.is_empty() {
        return named;
    }
    columns
        .iter()
        .find(|c| c.role == crate::table::ColumnRole::PrimaryKey)
        .map_or("id", |c| c.name)
}

impl<T, V, const TARGET: u64> ForeignKey<T, V, TARGET> {
    /// Made by the derive; `target_column` is empty for the referenced table's key.
    #[doc(hidden)]
    pub const fn new(
        column: Column<T, V>,
        target_column: &'static str,
        constraint: &'static str,
    ) -> Self {
        ForeignKey {
            column,
            target_column,
            constraint,
        }
    }
}

/// Implemented by the derive for every table: `ID` identifies it (a hash of `schema.table`),
/// which is what lets a join check at compile time that a foreign key references it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the table this foreign key references",
    label = "the foreign key references another table",
    note = "join along a column declared `#[table(references = \"schema.table\")]`, to the struct of that table"
)]
pub trait TableId<const ID: u64>: Table {}

/// The table whose id is `ID`, as a type: the derive implements [`TableOf<User>`] for
/// `TableRef<{id of user.users}>`, which is how a foreign key names its parent's struct, so
/// that `where_parent`, eager loading and joins infer it.
pub struct TableRef<const ID: u64>;

/// Implemented by the derive: `TableRef<ID>` is the table `T`.
#[diagnostic::on_unimplemented(
    message = "`{T}` is not the table this foreign key references",
    label = "the foreign key references another table",
    note = "use the struct of the table the foreign key names"
)]
pub trait TableOf<T> {}

/// A foreign key of table `T` over several columns (`#[table(foreign_key(columns(a, b),
/// references = "..."))]`), typed by the table it references (`TARGET`) and by the tuple of
/// its fields' types (`V`). The derive makes one per such key, named after its fields with
/// `_FK`: `columns(watcher_id, watcher_kind)` is `WATCHER_ID_WATCHER_KIND_FK`.
pub struct CompositeForeignKey<T, V, const TARGET: u64> {
    columns: &'static [&'static str],
    target_columns: &'static [&'static str],
    constraint: &'static str,
    _marker: PhantomData<fn() -> (T, V)>,
}

impl<T, V, const TARGET: u64> Clone for CompositeForeignKey<T, V, TARGET> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, V, const TARGET: u64> Copy for CompositeForeignKey<T, V, TARGET> {}

impl<T, V, const TARGET: u64> CompositeForeignKey<T, V, TARGET> {
    /// Made by the derive; `target_columns` is empty for the referenced table's key.
    #[doc(hidden)]
    pub const fn new(
        columns: &'static [&'static str],
        target_columns: &'static [&'static str],
        constraint: &'static str,
    ) -> Self {
        CompositeForeignKey {
            columns,
            target_columns,
            constraint,
            _marker: PhantomData,
        }
    }
}

impl<T: Table, V, const TARGET: u64> crate::table::ConstraintRef for ForeignKey<T, V, TARGET> {
    fn constraint_name(&self) -> &'static str {
        self.constraint
    }
    fn table_name(&self) -> &'static str {
        T::NAME
    }
}

impl<T: Table, V, const TARGET: u64> crate::table::ConstraintRef
    for CompositeForeignKey<T, V, TARGET>
{
    fn constraint_name(&self) -> &'static str {
        self.constraint
    }
    fn table_name(&self) -> &'static str {
        T::NAME
    }
}

/// What [`Select::join`](super::Select::join) takes: a foreign key of `T` (one column or several) that references
/// `P`'s table.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a foreign key of `{T}` that references `{P}`",
    label = "not a foreign key to `{P}`'s table",
    note = "join along a `..._FK` constant of a column declared `#[table(references = \"schema.table\")]` (or of a `foreign_key(columns(...), ...)`), to the struct of that table"
)]
pub trait References<T, P> {
    /// `(child column, parent column)` pairs, in key order.
    #[doc(hidden)]
    fn pairs(&self) -> Vec<(&'static str, &'static str)>;
}

impl<T: Table, V, P: Table, const TARGET: u64> References<T, P> for ForeignKey<T, V, TARGET>
where
    TableRef<TARGET>: TableOf<P>,
{
    fn pairs(&self) -> Vec<(&'static str, &'static str)> {
        vec![(self.column.name(), target_column::<P>(self.target_column))]
    }
}

impl<T: Table, V, P: Table, const TARGET: u64> References<T, P>
    for CompositeForeignKey<T, V, TARGET>
where
    TableRef<TARGET>: TableOf<P>,
{
    fn pairs(&self) -> Vec<(&'static str, &'static str)> {
        composite_pairs(self.columns, self.target_columns, P::COLUMNS)
    }
}

// The referenced columns are the ones named, or the parent's key columns in field order (the
// order of its PRIMARY KEY).
fn composite_pairs(
    columns: &'static [&'static str],
    named: &'static [&'static str],
    parent: &'static [crate::table::ColumnDef],
) -> Vec<(&'static str, &'static str)> {
    let key: Vec<&'static str> = match named.is_empty() {
        false => named.to_vec(),
        true => parent
            .iter()
            .filter(|c| c.role == crate::table::ColumnRole::PrimaryKey)
            .map(|c| c.name)
            .collect(),
    };
    columns.iter().copied().zip(key).collect()
}
