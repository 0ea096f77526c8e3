//! Ad-hoc SQL over every table of the lake.
//!
//! | name | table |
//! |---|---|
//! | `pin`, `geo`, `"user"` | `tables/*`, the batch path's cleaned tables |
//! | `stream_pin`, `stream_geo`, `stream_user` | `stream/*`, the stream path's cleaned tables |
//! | `quarantine` | rejected records |
//!
//! Only tables that exist are registered. Identifiers are case-sensitive; `user` is an SQL keyword,
//! so quote it: `SELECT count(*) FROM "user"`.

use deltalake::arrow::record_batch::RecordBatch;
use deltalake::datafusion::execution::SendableRecordBatchStream;
use deltalake::datafusion::execution::context::SQLOptions;
use deltalake::datafusion::prelude::{DataFrame, SessionContext};
use pinpipe_model::Table;

use crate::delta::{QUARANTINE_PATH, table_path};
use crate::error::{LakeError, Result};
use crate::location::Lake;
use crate::session::{ad_hoc_session, register_table};

/// The folder of the batch path's cleaned tables.
pub const BATCH_TABLES_DIR: &str = "tables";
/// The folder of the stream path's cleaned tables.
pub const STREAM_TABLES_DIR: &str = "stream";

/// Every table of the module documentation: its name in SQL and its path in the lake.
fn lake_tables() -> Vec<(String, String)> {
    let mut tables = Vec::new();
    for table in Table::ALL {
        tables.push((table.name().to_owned(), table_path(BATCH_TABLES_DIR, table)));
        tables.push((
            format!("stream_{}", table.name()),
            table_path(STREAM_TABLES_DIR, table),
        ));
    }
    tables.push(("quarantine".to_owned(), QUARANTINE_PATH.to_owned()));
    tables
}

/// A session with every existing table of the lake registered (see the module documentation).
pub async fn lake_session(lake: &Lake) -> Result<SessionContext> {
    let ctx = ad_hoc_session()?;
    for (name, path) in lake_tables() {
        register_table(&ctx, lake, &name, &path).await?;
    }
    Ok(ctx)
}

/// Runs `sql` over the lake's tables and returns its result; SQL that would write is refused
/// ([`read_only`]).
pub async fn query(lake: &Lake, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(planned(lake, sql).await?.collect().await?)
}

/// [`query`], its result as it is computed rather than all at once: for results larger than
/// memory.
pub async fn query_stream(lake: &Lake, sql: &str) -> Result<SendableRecordBatchStream> {
    Ok(planned(lake, sql).await?.execute_stream().await?)
}

async fn planned(lake: &Lake, sql: &str) -> Result<DataFrame> {
    let ctx = lake_session(lake).await?;
    ctx.sql_with_options(sql, read_only())
        .await
        .map_err(|error| not_written_yet(&ctx, &error.to_string()).unwrap_or(error.into()))
}

/// [`LakeError::TableMissing`] when `error` is DataFusion's "table not found" for a table of
/// the lake that no job has written yet: it then says which job writes it.
fn not_written_yet(ctx: &SessionContext, error: &str) -> Option<LakeError> {
    lake_tables()
        .into_iter()
        .find(|(name, _)| {
            error.contains(&format!("table 'datafusion.public.{name}' not found"))
                && !ctx.table_exist(name.as_str()).unwrap_or(true)
        })
        .map(|(_, path)| LakeError::TableMissing { path })
}

/// What ad-hoc SQL may do: read. DDL (`CREATE`, `DROP`), DML (`INSERT`, `COPY`) and other
/// statements (`SET`) are refused, so that a query never changes the lake's tables (an `INSERT`
/// would append rows that were never cleaned) nor writes or reads files elsewhere.
fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Writes `batches` as JSON lines, one object per row, values keeping their types (numbers stay
/// numbers, nulls are left out), for scripts reading `pinpipe query --format json`.
pub fn write_json_lines(batches: &[RecordBatch], out: impl std::io::Write) -> Result<()> {
    let mut writer = deltalake::arrow::json::LineDelimitedWriter::new(out);
    writer.write_batches(&batches.iter().collect::<Vec<_>>())?;
    writer.finish()?;
    Ok(())
}
