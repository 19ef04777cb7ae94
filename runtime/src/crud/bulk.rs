//! Bulk inserts with a conflict clause: `ON CONFLICT DO NOTHING` and bulk upserts (`ON CONFLICT
//! (a declared key or unique) DO UPDATE SET` chosen columns), one statement for any number of
//! rows, with or without the rows back.

use super::write::MAX_PARAMS;
use crate::error::{Error, Result};
use crate::executor::{Executor, Param};
use crate::fetch::{affected, rows};
use crate::op::Op;
use crate::query::Selection;
use crate::sql::quote_ident;
use crate::table::{
    ColumnDef, ColumnRole, Insert, NamedConstraint, Statements, Table, TableConstraint,
};

/// Rows to insert with one statement, and what to do when one conflicts; `User::bulk_insert(rows)`
/// starts one.
///
/// ```no_run
/// # use skelly_db::Table;
/// # #[derive(Table, Debug)] #[table(schema = "blog")]
/// # struct Tag { id: i32, #[table(unique)] name: String, label: String }
/// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
/// let names = ["rust", "sql"];
/// let rows = || names.iter().map(|n| NewTag { name: n.to_string(), label: n.to_uppercase() }).collect::<Vec<_>>();
/// // New tags only; the existing ones are left as they are. How many were new:
/// let added = Tag::bulk_insert(rows()).on_conflict_do_nothing().execute(&pool).await?;
/// // Insert or update the label, by the unique name; every row back:
/// let tags: Vec<Tag> = Tag::bulk_insert(rows())
///     .on_conflict(Tag::NAME_KEY)
///     .do_update(Tag::LABEL)
///     .fetch_all(&pool)
///     .await?;
/// # let _ = (added, tags);
/// # Ok(()) }
/// ```
pub struct BulkInsert<T: Table> {
    rows: Vec<T::New>,
    conflict: Conflict,
}

/// The conflict clause, untyped.
#[derive(Debug, Clone)]
enum Conflict {
    /// No clause: a conflict is an error.
    None,
    /// `ON CONFLICT [target] DO NOTHING`.
    Nothing(Option<&'static str>),
    /// `ON CONFLICT target DO UPDATE SET` these columns (every inserted one but the target's
    /// when `None`).
    Update(&'static str, Option<Vec<&'static str>>),
}

/// A conflict target chosen with [`BulkInsert::on_conflict`]: say what to do.
pub struct OnConflict<T: Table> {
    bulk: BulkInsert<T>,
    target: &'static str,
}

impl<T: Table> BulkInsert<T> {
    /// Made by the derive's `bulk_insert`.
    #[doc(hidden)]
    pub fn new(rows: Vec<T::New>) -> Self {
        BulkInsert {
            rows,
            conflict: Conflict::None,
        }
    }

    /// `ON CONFLICT DO NOTHING`: a row that conflicts with any unique constraint or index is
    /// skipped (rows repeated within the batch too).
    pub fn on_conflict_do_nothing(mut self) -> Self {
        self.conflict = Conflict::Nothing(None);
        self
    }

    /// Conflicts on this key or unique (`User::PKEY`, `User::EMAIL_KEY`, a table-level unique
    /// by its constant): then [`OnConflict::do_nothing`] or [`OnConflict::do_update`]. A partial
    /// unique (a unique on a soft-delete table) is targeted with its condition.
    pub fn on_conflict(self, target: NamedConstraint<T>) -> OnConflict<T> {
        OnConflict {
            bulk: self,
            target: target.name(),
        }
    }

    /// Runs it and returns the rows written: inserted, and updated by `do_update` (skipped ones
    /// are not returned).
    pub async fn fetch_all(&self, db: &impl Executor) -> Result<Vec<T>> {
        if self.rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(self.rows.len());
        for (sql, params) in self.statements(true)? {
            let params: Vec<Param<'_>> = params.iter().map(|p| p.as_param()).collect();
            out.extend(rows::<T>(db, Op::InsertMany, &sql, &params).await?);
        }
        Ok(out)
    }

    /// Runs it and returns how many rows were written (inserted, or updated by `do_update`).
    pub async fn execute(&self, db: &impl Executor) -> Result<u64> {
        if self.rows.is_empty() {
            return Ok(0);
        }
        let mut count = 0;
        for (sql, params) in self.statements(false)? {
            let params: Vec<Param<'_>> = params.iter().map(|p| p.as_param()).collect();
            count += affected::<T>(db, Op::InsertMany, &sql, &params).await?;
        }
        Ok(count)
    }

    /// The statement for these rows (the first, where the rows go in several).
    pub fn to_sql(&self) -> Result<String> {
        Ok(self
            .statements(true)?
            .into_iter()
            .next()
            .map(|(sql, _)| sql)
            .unwrap_or_default())
    }

    // One statement of UNNEST arrays, or, for tables with array columns, multi-row VALUES in
    // chunks under the parameter limit.
    fn statements(&self, returning: bool) -> Result<Vec<(String, Vec<Bound<'_>>)>> {
        let statements = T::statements();
        let clause = conflict_clause(statements, T::COLUMNS, T::CONSTRAINTS, &self.conflict)
            .map_err(|e| Error::Config(format!("{}: {e}", T::qualified_name())))?;
        let tail = |sql: &mut String| {
            sql.push_str(&clause);
            if returning {
                sql.push_str(" RETURNING ");
                sql.push_str(&statements.columns);
            }
        };
        if let Some(base) = &statements.insert_many_count {
            let arrays = super::arrays::column_arrays(&self.rows, statements.inserted);
            let mut sql = base.clone();
            tail(&mut sql);
            return Ok(vec![(sql, arrays.into_iter().map(Bound::Column).collect())]);
        }
        let per_row = statements.inserted.max(1);
        let mut out = Vec::new();
        for chunk in self.rows.chunks(MAX_PARAMS / per_row) {
            let mut sql = statements.insert_values(chunk.len(), false);
            tail(&mut sql);
            let mut params: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * per_row);
            for new in chunk {
                new.bind(&mut params);
            }
            out.push((sql, params.into_iter().map(Bound::Borrowed).collect()));
        }
        Ok(out)
    }
}

// A parameter: an UNNEST array, or a value borrowed from a row.
enum Bound<'a> {
    Column(super::arrays::ColumnArray<'a>),
    Borrowed(Param<'a>),
}

impl<'a> Bound<'a> {
    fn as_param(&self) -> Param<'_> {
        match self {
            Bound::Column(array) => array,
            Bound::Borrowed(p) => *p,
        }
    }
}

impl<T: Table> OnConflict<T> {
    /// Skip the rows that conflict on the target.
    pub fn do_nothing(mut self) -> BulkInsert<T> {
        self.bulk.conflict = Conflict::Nothing(Some(self.target));
        self.bulk
    }

    /// Update these columns of the existing row to the new row's values (`SET c =
    /// EXCLUDED.c`; `updated_at` and the version as every update does): one column or a tuple
    /// of up to eight. Two rows of one batch with the same key are an error (PostgreSQL updates
    /// a row once per statement).
    pub fn do_update<S: Selection<T>>(mut self, columns: S) -> BulkInsert<T> {
        self.bulk.conflict = Conflict::Update(self.target, Some(columns.names()));
        self.bulk
    }

    /// Update every inserted column but the target's, as `upsert` does.
    pub fn do_update_all(mut self) -> BulkInsert<T> {
        self.bulk.conflict = Conflict::Update(self.target, None);
        self.bulk
    }
}

/// ` ON CONFLICT ...` for the table described by `columns` and `constraints`.
fn conflict_clause(
    statements: &Statements,
    columns: &'static [ColumnDef],
    constraints: &'static [TableConstraint],
    conflict: &Conflict,
) -> std::result::Result<String, String> {
    let (target, action) = match conflict {
        Conflict::None => return Ok(String::new()),
        Conflict::Nothing(None) => return Ok(" ON CONFLICT DO NOTHING".into()),
        Conflict::Nothing(Some(target)) => (*target, None),
        Conflict::Update(target, set) => (*target, Some(set)),
    };
    let (parts, predicate) = target_of(statements, columns, constraints, target)
        .ok_or_else(|| format!("`{target}` is not a primary key or unique of this table"))?;
    let mut sql = format!(" ON CONFLICT ({})", parts.join(", "));
    if let Some(predicate) = predicate {
        sql.push_str(" WHERE ");
        sql.push_str(&predicate);
    }
    let Some(set) = action else {
        sql.push_str(" DO NOTHING");
        return Ok(sql);
    };
    let names: Vec<&str> = match set {
        Some(names) => names.clone(),
        None => columns
            .iter()
            .filter(|c| c.inserted && !parts.contains(&quote_ident(c.name)))
            .map(|c| c.name)
            .collect(),
    };
    let mut sets: Vec<String> = names
        .iter()
        .map(|c| format!("{0} = EXCLUDED.{0}", quote_ident(c)))
        .collect();
    sets.extend(statements.touch().map(str::to_string));
    if sets.is_empty() {
        // Nothing to change: a no-op update still returns the existing row.
        let first = &parts[0];
        sets.push(format!("{first} = EXCLUDED.{first}"));
    }
    sql.push_str(" DO UPDATE SET ");
    sql.push_str(&sets.join(", "));
    Ok(sql)
}

// The key parts (quoted columns, or expressions) and the predicate of the unique `name`.
fn target_of(
    statements: &Statements,
    columns: &'static [ColumnDef],
    constraints: &'static [TableConstraint],
    name: &str,
) -> Option<(Vec<String>, Option<String>)> {
    let table = statements.name();
    let live = statements
        .soft_delete
        .map(|s| format!("{} IS NULL", quote_ident(s)));
    if name == format!("{table}_pkey") {
        let key: Vec<String> = columns
            .iter()
            .filter(|c| c.role == ColumnRole::PrimaryKey)
            .map(|c| quote_ident(c.name))
            .collect();
        return (!key.is_empty()).then_some((key, None));
    }
    if let Some(c) = columns
        .iter()
        .find(|c| c.unique && name == format!("{table}_{}_key", c.name))
    {
        let predicate = live.filter(|_| !c.unique_all_rows);
        return Some((vec![quote_ident(c.name)], predicate));
    }
    constraints.iter().find_map(|c| match c {
        TableConstraint::Index {
            name: n,
            parts,
            predicate,
            unique: true,
            ..
        } if *n == name => {
            let parts = parts
                .iter()
                .map(|p| match columns.iter().any(|c| c.name == *p) {
                    true => quote_ident(p),
                    false => format!("({p})"),
                })
                .collect();
            Some((parts, predicate.map(str::to_string)))
        }
        _ => None,
    })
}
