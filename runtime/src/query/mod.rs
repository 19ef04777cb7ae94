//! The typed query builder: [`Select`] (`User::query()`), typed [`Column`]s
//! (`User::EMAIL`) and the [`Expr`]essions and [`Order`]s built from them.

mod aggregate;
mod array;
mod columns;
mod eager;
mod expr;
mod join;
mod joined;
mod page;
mod relation;
mod select;

pub use aggregate::{
    avg, count, count_distinct, max, min, sum, Agg, AggOrder, Aggregated, Aggregates, Averaged,
    GroupOrder, Grouped, Having, Scalar, Summable,
};
pub use columns::{SelectColumns, Selection};
pub use eager::{
    children_of, load_children, load_parents, parents_of, Children, Key, KeyValue, Parents,
    Relation,
};
pub use expr::{Column, Expr, IntoValue, Order};
pub use join::{CompositeForeignKey, ForeignKey, References, TableId, TableOf, TableRef};
pub use joined::{Inner, Join, Join3, JoinKind, Left};
pub use page::{Cursor, Page};
pub use relation::{
    has_child, has_no_child, parent_matches, Related, RelatedRows, SubSelect, SubqueryOf,
};
pub use select::Select;
