//! The second stage's first step: all wide rows of one shuffle partition → what to write.
//!
//! - Table rows: the copies of each key, ordered as they arrived (`_seq`, `_pos`; the table's
//!   current row first), and the last one kept — with the lake's own
//!   [`last_copies`](pinpipe_lake::delta::last_copies), as the single-process job keeps them.
//!   A kept row is marked [`Inserted`](RowKind::Inserted) (a key new to the table),
//!   [`Updated`](RowKind::Updated) (a new copy of a key it had) or left
//!   [`Existing`](RowKind::Existing) (no new copy).
//! - Rejects: those whose (source, position) is already quarantined are dropped.
//! - Objects read: passed on.
//!
//! The partition is held in memory, under the task's memory pool: a partition too large for it
//! fails the job with a clear error rather than the executor.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt8Array, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::{StreamExt, TryStreamExt};
use pinpipe_lake::delta::last_copies;
use pinpipe_model::Table;

use crate::error::task_error;
use crate::wide::{self, RowKind};

/// The rows to write of the partition `input` (see the module documentation).
pub fn execute(
    table: Table,
    input: SendableRecordBatchStream,
    ctx: Arc<TaskContext>,
) -> SendableRecordBatchStream {
    let schema = wide::schema(table);
    let kept = async move {
        let reservation = MemoryConsumer::new("pinpipe keep-last").register(ctx.memory_pool());
        let mut batches = Vec::new();
        let mut input = input;
        while let Some(batch) = input.try_next().await? {
            reservation
                .try_grow(batch.get_array_memory_size())
                .map_err(|e| {
                    e.context(
                        "keeping the last copy of each key: a shuffle partition does not fit the \
                     executor's memory; give executors more memory (--memory) or add executors",
                    )
                })?;
            batches.push(batch);
        }
        let all = concat_batches(&wide::schema(table), &batches)?;
        drop(batches);
        keep(table, &all)
    };
    Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::once(kept).boxed(),
    ))
}

/// What to write of the rows `all` of one partition.
fn keep(table: Table, all: &RecordBatch) -> Result<RecordBatch> {
    let kinds = wide::kinds(all)?;
    let (seq, pos) = (wide::int(all, wide::SEQ)?, wide::int(all, wide::POS)?);
    let keys = wide::int(all, wide::TABLE)?;
    let (sources, positions) = wide::reject_keys(table, all)?;
    let mut rows: Vec<usize> = Vec::new();
    let mut existing_keys = HashSet::new();
    let mut quarantined = HashSet::new();
    let mut passed: Vec<u32> = Vec::new();
    let mut rejects: Vec<usize> = Vec::new();
    for i in 0..all.num_rows() {
        match RowKind::from_u8(kinds.value(i))? {
            RowKind::Existing => {
                existing_keys.insert(keys.value(i));
                rows.push(i);
            }
            RowKind::New => rows.push(i),
            RowKind::QuarantinedKey => {
                quarantined.insert((sources.value(i), positions.value(i)));
            }
            RowKind::Reject => rejects.push(i),
            RowKind::ObjectRead => passed.push(row(i)?),
            kind @ (RowKind::Inserted | RowKind::Updated) => {
                return Err(DataFusionError::Internal(format!(
                    "{kind:?} row before keep-last"
                )));
            }
        }
    }
    // Arrival order: the table's current rows (`_seq` -1) first, then object by object.
    rows.sort_by_key(|&i| (seq.value(i), pos.value(i)));
    let ordered_keys: Vec<i64> = rows.iter().map(|&i| keys.value(i)).collect();
    let last = last_copies(&ordered_keys).map_err(task_error)?;
    let mut take = Vec::with_capacity(last.len() + rejects.len() + passed.len());
    let mut new_kinds = Vec::with_capacity(take.capacity());
    for l in last {
        let i = rows[l as usize];
        let kind = match RowKind::from_u8(kinds.value(i))? {
            RowKind::Existing => RowKind::Existing,
            _ if existing_keys.contains(&keys.value(i)) => RowKind::Updated,
            _ => RowKind::Inserted,
        };
        take.push(row(i)?);
        new_kinds.push(kind as u8);
    }
    for i in rejects {
        if !quarantined.contains(&(sources.value(i), positions.value(i))) {
            take.push(row(i)?);
            new_kinds.push(RowKind::Reject as u8);
        }
    }
    for i in passed {
        take.push(i);
        new_kinds.push(RowKind::ObjectRead as u8);
    }
    let kept = take_record_batch(all, &UInt32Array::from(take))?;
    wide::with_kinds(&kept, UInt8Array::from(new_kinds))
}

fn row(i: usize) -> Result<u32> {
    u32::try_from(i).map_err(|_| DataFusionError::Internal("partition over 4G rows".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array, StringArray};
    use datafusion::arrow::datatypes::Int64Type;
    use pinpipe_model::TableBuilder;

    fn users(lines: &[&str]) -> RecordBatch {
        let mut builder = TableBuilder::new(Table::User);
        for (i, line) in lines.iter().enumerate() {
            builder.push_raw(line, "s", i as i64);
        }
        builder.finish().0
    }

    fn user(ind: i64, age: i64) -> String {
        format!(
            r#"{{"ind": {ind}, "first_name": "A", "last_name": "B", "age": {age}, "date_joined": "2016-01-01 00:00:00"}}"#
        )
    }

    #[test]
    fn the_last_copy_wins_and_is_marked() {
        let existing = users(&[&user(1, 20), &user(2, 20)]);
        // Object 0 has key 2 then 3; object 1 (later) has key 3 again.
        let first = users(&[&user(2, 30), &user(3, 30)]);
        let second = users(&[&user(3, 40)]);
        let mut builder = TableBuilder::new(Table::User);
        builder.push_raw("bad", "raw/x", 5);
        builder.push_raw("bad", "raw/x", 6);
        let (_, rejected) = builder.finish();
        let parts = [
            // Shuffled: arrival order comes from _seq and _pos, not from the batches' order.
            wide::rows(Table::User, &second, RowKind::New, 1, 0).unwrap(),
            wide::rows(Table::User, &first, RowKind::New, 0, 0).unwrap(),
            wide::rows(Table::User, &existing, RowKind::Existing, -1, 0).unwrap(),
            wide::rejects(Table::User, &rejected).unwrap(),
            wide::quarantined_keys(
                Table::User,
                &StringArray::from(vec!["raw/x"]),
                &Int64Array::from(vec![5]),
            )
            .unwrap(),
        ];
        let all = concat_batches(&wide::schema(Table::User), &parts).unwrap();
        let kept = keep(Table::User, &all).unwrap();
        let kinds = wide::kinds(&kept).unwrap();
        let keys = wide::int(&kept, wide::TABLE).unwrap();
        let ages = wide::table_rows(Table::User, &kept.slice(0, 3)).unwrap();
        let ages = ages.column(2).as_primitive::<Int64Type>();
        let got: Vec<(u8, i64, i64)> = (0..3)
            .map(|i| (kinds.value(i), keys.value(i), ages.value(i)))
            .collect();
        assert_eq!(
            got,
            vec![
                (RowKind::Existing as u8, 1, 20),
                (RowKind::Updated as u8, 2, 30),
                (RowKind::Inserted as u8, 3, 40),
            ]
        );
        assert_eq!(kept.num_rows(), 4, "one reject is already quarantined");
        let (_, positions) = wide::reject_keys(Table::User, &kept).unwrap();
        assert_eq!(kinds.value(3), RowKind::Reject as u8);
        assert_eq!(positions.value(3), 6);
    }
}
