//! `T::copy_in`: binary `COPY ... FROM STDIN`, the fastest bulk path.

use futures_util::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;

use crate::error::{Error, Result};
use crate::executor::{Param, Reach};
use crate::op::Op;
use crate::table::{Insert, Table};

/// Writes `rows` with one binary `COPY ... FROM STDIN` of the inserted columns; the database
/// fills in the rest from its defaults (the id, `created_at`, `updated_at`, as `insert` does).
/// Returns the number of rows. COPY is one statement: a failure anywhere (a unique violation, a
/// CHECK on a text enum) is the same typed error as for `insert`, and leaves no row behind.
pub async fn copy_in<T: Table>(db: &dyn Reach, rows: Vec<T::New>) -> Result<u64> {
    let statements = T::statements();
    if rows.is_empty() {
        return Ok(0);
    }
    if statements.inserted == 0 {
        // Nothing to copy: every column has a default.
        return super::insert_many_count::<T>(db, rows).await;
    }
    let session = crate::executor::Sealed::session(db).await?;
    if let Some(mock) = session.as_mock() {
        return mock.answer_count(&statements.table, Op::CopyIn, &statements.copy_in, &[]);
    }
    // tokio-postgres prepares COPY (and the describe) as named statements: behind a
    // transaction-mode pooler (statement cache 0) they must share one server connection, which
    // only a transaction guarantees; their Close goes out before its COMMIT. The scope closes
    // the connection instead of pooling it if the copy is dropped half way.
    if !session.names_statements() && !session.in_transaction() {
        let scope = session.begin().await?;
        let copied = {
            let view = scope.view();
            copy_rows::<T>(view.real_client("copy_in")?, &rows).await
        };
        return match copied {
            Ok(n) => {
                scope.commit().await?;
                Ok(n)
            }
            Err(e) => {
                // The copy's error is the one to report.
                let _ = scope.rollback().await;
                Err(e)
            }
        };
    }
    copy_rows::<T>(session.real_client("copy_in")?, &rows).await
}

async fn copy_rows<T: Table>(client: &tokio_postgres::Client, rows: &[T::New]) -> Result<u64> {
    let statements = T::statements();
    let types = match &statements.copy_types {
        Some(types) => types.clone(),
        // A column of a type skelly-db does not name: ask the server.
        None => client
            .prepare(&statements.copy_describe)
            .await?
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect(),
    };
    let sink = client.copy_in(statements.copy_in.as_str()).await?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    let mut values: Vec<Param<'_>> = Vec::with_capacity(statements.inserted);
    for row in rows {
        values.clear();
        row.bind(&mut values);
        writer.as_mut().write(&values).await.map_err(Error::from)?;
    }
    Ok(writer.finish().await?)
}
