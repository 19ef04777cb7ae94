//! [`MockDb`]: an [`Executor`](crate::Executor) for unit tests of your own services, answering
//! typed table operations from a script and recording every statement.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Mutex;

use crate::error::{ConstraintKind, ConstraintViolation, Error, Result};
use crate::executor::{Param, Sealed, Session};
use crate::op::{Op, Scripted};
use crate::table::Table;

/// An [`Executor`](crate::Executor) without a database, for unit tests of code that takes
/// `&impl Executor`. Script what each table operation answers — rows, a count, or an error such
/// as a unique violation — and assert on the statements it recorded. The generated functions
/// (`User::insert`, `User::find`, ...) and the query builder run against it unchanged; only
/// the database is missing.
///
/// Answers are used once each, in the order scripted, per table and [`Op`]. An operation
/// nothing was scripted for fails with [`Error::Mock`] naming the operation, the table and the
/// statement, so a test never passes on an answer it did not mean to give.
///
/// ```
/// # use skelly_db::{Table, TextEnum};
/// # #[derive(Table, Debug, Clone, PartialEq)]
/// # #[table(schema = "user")]
/// # pub struct User { pub id: uuid::Uuid, #[table(unique)] pub email: String }
/// use skelly_db::testing::{MockDb, Op};
/// use skelly_db::{Error, Executor};
///
/// // The service under test.
/// async fn sign_up(db: &impl Executor, email: &str) -> Result<uuid::Uuid, String> {
///     match User::insert(db, NewUser { email: email.into() }).await {
///         Ok(user) => Ok(user.id),
///         Err(e) if e.code() == "unique_violation" => Err("taken".into()),
///         Err(e) => Err(e.to_string()),
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let db = MockDb::new();
/// let ada = User { id: uuid::Uuid::new_v4(), email: "ada@example.com".into() };
/// db.expect::<User>(Op::Insert).returns([ada.clone()]);
/// db.expect::<User>(Op::Insert).fails(MockDb::violation::<User>(
///     skelly_db::ConstraintKind::Unique,
///     "users_email_key",
/// ));
///
/// assert_eq!(sign_up(&db, "ada@example.com").await, Ok(ada.id));
/// assert_eq!(sign_up(&db, "ada@example.com").await, Err("taken".to_string()));
///
/// let calls = db.calls();
/// assert_eq!(calls[0].op, Op::Insert);
/// assert_eq!(calls[0].params, ["\"ada@example.com\""]);
/// db.assert_all_used();
/// # });
/// ```
#[derive(Default)]
pub struct MockDb {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    script: Vec<Entry>,
    calls: Vec<Call>,
}

struct Entry {
    table: String,
    op: Op,
    answer: Option<Answer>,
}

enum Answer {
    Rows(Box<dyn Any + Send>),
    Count(u64),
    Error(Error),
}

/// One statement a [`MockDb`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The table, `"schema"."name"` (empty for a raw statement).
    pub table: String,
    /// The operation.
    pub op: Op,
    /// The SQL text, exactly as a real database would have received it.
    pub sql: String,
    /// Each parameter's `Debug` text, in order (`"\"ada@example.com\""`, `Some(3)`, ...).
    pub params: Vec<String>,
}

impl std::fmt::Debug for MockDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MockDb")
            .field("scripted", &state.script.len())
            .field("calls", &state.calls)
            .finish()
    }
}

impl MockDb {
    /// A mock with nothing scripted.
    pub fn new() -> MockDb {
        MockDb::default()
    }

    /// Scripts the next answer of operation `op` on table `T`.
    pub fn expect<T: Table>(&self, op: Op) -> Expect<'_, T> {
        Expect {
            mock: self,
            table: T::statements().table.clone(),
            op,
            _table: PhantomData,
        }
    }

    /// Scripts the next raw [`Executor::execute`](crate::Executor::execute) or
    /// `batch_execute`: answer it with [`Expect::count`] or [`Expect::fails`].
    pub fn expect_execute(&self) -> Expect<'_, ()> {
        Expect {
            mock: self,
            table: String::new(),
            op: Op::Execute,
            _table: PhantomData,
        }
    }

    /// Every statement received so far, in order (also the unexpected ones).
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Panics, listing them, when scripted answers were never used: the code under test did
    /// less than the test expected.
    pub fn assert_all_used(&self) {
        let state = self.lock();
        let unused: Vec<String> = state
            .script
            .iter()
            .filter(|s| s.answer.is_some())
            .map(|s| format!("{:?} on {}", s.op, describe_table(&s.table)))
            .collect();
        assert!(
            unused.is_empty(),
            "MockDb: scripted answers never used: {}",
            unused.join(", ")
        );
    }

    /// The error the database would give for a violated constraint of table `T`, naming its
    /// schema and table: `MockDb::violation::<User>(ConstraintKind::Unique, "users_email_key")`.
    pub fn violation<T: Table>(kind: ConstraintKind, constraint: &str) -> Error {
        let mut v = ConstraintViolation::new(kind, constraint);
        v.schema = Some(T::SCHEMA.into());
        v.table = Some(T::NAME.into());
        Error::Constraint(v)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking test thread must not hide the calls from the next assertion.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, table: String, op: Op, answer: Answer) {
        self.lock().script.push(Entry {
            table,
            op,
            answer: Some(answer),
        });
    }

    // Records the call and takes its answer.
    fn answer(&self, table: &str, op: Op, sql: &str, params: &[Param<'_>]) -> Result<Answer> {
        let mut state = self.lock();
        state.calls.push(Call {
            table: table.to_string(),
            op,
            sql: sql.to_string(),
            params: params.iter().map(|p| format!("{p:?}")).collect(),
        });
        let scripted = state
            .script
            .iter_mut()
            .find(|s| s.answer.is_some() && s.op == op && s.table == table);
        match scripted.and_then(|s| s.answer.take()) {
            Some(Answer::Error(e)) => Err(e),
            Some(answer) => Ok(answer),
            None => Err(Error::Mock(format!(
                "unexpected {op:?} on {}: {sql} (parameters: [{}]); script it with {}",
                describe_table(table),
                params
                    .iter()
                    .map(|p| format!("{p:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if table.is_empty() {
                    "mock.expect_execute()".to_string()
                } else {
                    format!("mock.expect::<T>(Op::{op:?})")
                }
            ))),
        }
    }

    fn count_answer(&self, answer: Answer, op: Op, table: &str) -> Result<u64> {
        match answer {
            Answer::Count(n) => Ok(n),
            Answer::Rows(_) => Err(Error::Mock(format!(
                "{op:?} on {} returns a count, but rows were scripted; use .count(n)",
                describe_table(table)
            ))),
            Answer::Error(e) => Err(e),
        }
    }
}

impl Scripted for MockDb {
    fn answer_rows(
        &self,
        table: &str,
        op: Op,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Box<dyn Any + Send>> {
        match self.answer(table, op, sql, params)? {
            Answer::Rows(rows) => Ok(rows),
            Answer::Count(n) => Err(Error::Mock(format!(
                "{op:?} on {} returns rows, but a count ({n}) was scripted; use .returns(rows)",
                describe_table(table)
            ))),
            Answer::Error(e) => Err(e),
        }
    }

    fn answer_count(&self, table: &str, op: Op, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let answer = self.answer(table, op, sql, params)?;
        self.count_answer(answer, op, table)
    }

    fn raw_statement(&self, sql: &str, params: &[Param<'_>]) -> Error {
        let _ = self.answer("", Op::Query, sql, params);
        Error::Mock(format!(
            "MockDb answers typed table operations and execute, not raw row queries: {sql}; \
             go through the generated functions or the query builder"
        ))
    }
}

fn describe_table(table: &str) -> &str {
    if table.is_empty() {
        "a raw statement"
    } else {
        table
    }
}

impl Sealed for MockDb {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(Session::mock(self))
    }
}

/// The next answer of one operation, being scripted: finish it with [`Expect::returns`],
/// [`Expect::count`] or [`Expect::fails`].
#[must_use = "an expectation does nothing until it is given an answer"]
pub struct Expect<'m, T> {
    mock: &'m MockDb,
    table: String,
    op: Op,
    _table: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Expect<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expect")
            .field("table", &self.table)
            .field("op", &self.op)
            .finish()
    }
}

impl<T: Table> Expect<'_, T> {
    /// Answers with these rows (`find`, `get`, `insert`, `update`, `query()...fetch_*`): no
    /// rows means "not found" (`get` and `update` then fail with `Error::NotFound`).
    pub fn returns(self, rows: impl IntoIterator<Item = T>) {
        let rows: Vec<T> = rows.into_iter().collect();
        self.mock
            .push(self.table, self.op, Answer::Rows(Box::new(rows)));
    }
}

impl<T: Table> Expect<'_, T> {
    /// Answers a read whose rows are not `T`'s with these rows: a join whose first table is
    /// `T` (`Op::Join`: the join's tuples, `(Post, User)`, `(User, Option<Post>)`, `(Comment,
    /// Article, User)`), chosen columns (`Op::Columns`: the column's type or the tuple),
    /// `count_by` (`Op::CountBy`: `(value, count)`), grouped aggregates (`Op::Aggregate`: the
    /// row tuple). A type other than the call's is an error naming both.
    pub fn returns_rows<R: Send + 'static>(self, rows: impl IntoIterator<Item = R>) {
        let rows: Vec<R> = rows.into_iter().collect();
        self.mock
            .push(self.table, self.op, Answer::Rows(Box::new(rows)));
    }
}

impl<T> Expect<'_, T> {
    /// Answers with a number: rows affected (`delete`, `restore`, `hard_delete`, bulk
    /// `update` / `delete`, `execute`), the count of `query().count()`, or for
    /// `query().exists()` whether it is above zero.
    pub fn count(self, n: u64) {
        self.mock.push(self.table, self.op, Answer::Count(n));
    }

    /// Answers with this error, e.g. [`MockDb::violation`].
    pub fn fails(self, error: Error) {
        self.mock.push(self.table, self.op, Answer::Error(error));
    }
}
