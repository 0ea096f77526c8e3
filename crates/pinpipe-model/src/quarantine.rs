//! The quarantine table: records that could not be read as their table's row, kept with why.

use std::sync::{Arc, LazyLock};

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::Table;

/// A record that could not be read as its table's row.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The table (topic) the record arrived for.
    pub table: Table,
    /// Where it came from: a raw object's path, a topic partition, a stream shard.
    pub source: String,
    /// Where in `source`: a line number or an offset, as the caller counts.
    pub position: i64,
    /// Why it was rejected: a [`CleanError`](crate::CleanError)'s text.
    pub reason: String,
    /// The kind of reason ([`CleanError::kind`](crate::CleanError::kind)), for metrics; not
    /// stored in the quarantine table.
    pub kind: &'static str,
    /// The record's raw text, whole (its first bytes, for a record too large to keep).
    pub raw: String,
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("table", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("position", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
    ]))
});

/// The quarantine table's schema: `table`, `source`, `position` (Int64), `reason`, `raw`; none nullable.
pub fn quarantine_schema() -> SchemaRef {
    Arc::clone(&SCHEMA)
}

/// `rows` as one batch with [`quarantine_schema`] (an empty batch for no rows).
pub fn quarantine_batch(rows: &[Rejected]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            rows.iter()
                .map(|r| Some(r.table.name()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.source.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(rows.iter().map(|r| r.position).collect::<Int64Array>()),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.reason.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.raw.as_str()))
                .collect::<StringArray>(),
        ),
    ];
    RecordBatch::try_new(quarantine_schema(), columns)
        .expect("quarantine columns match quarantine_schema()")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn schema_columns_in_order_and_non_null() {
        let schema = quarantine_schema();
        let columns: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type().clone(), f.is_nullable()))
            .collect();
        assert_eq!(
            columns,
            vec![
                ("table", DataType::Utf8, false),
                ("source", DataType::Utf8, false),
                ("position", DataType::Int64, false),
                ("reason", DataType::Utf8, false),
                ("raw", DataType::Utf8, false),
            ]
        );
    }

    #[test]
    fn batch_holds_every_row() {
        let rows = vec![
            Rejected {
                table: Table::User,
                source: "raw/topics/pinpipe.user/partition=0/pinpipe.user+0+0000000000.json".into(),
                position: 3,
                reason: "pin record in user topic".into(),
                kind: "other_table",
                raw: "{\"index\":1}".into(),
            },
            Rejected {
                table: Table::Geo,
                source: "shardId-000000000000".into(),
                position: 49,
                reason: "invalid JSON: EOF while parsing a value at line 1 column 0".into(),
                kind: "invalid_json",
                raw: String::new(),
            },
        ];
        let batch = quarantine_batch(&rows);
        assert_eq!(batch.schema(), quarantine_schema());
        assert_eq!(batch.num_rows(), 2);
        let text = |i: usize| {
            batch
                .column(i)
                .as_any()
                .downcast_ref::<StringArray>()
                .cloned()
        };
        let position = batch
            .column(2)
            .as_any()
            .downcast_ref::<Int64Array>()
            .cloned();
        assert_eq!(
            text(0).map(|a| a.value(1).to_owned()),
            Some("geo".to_owned())
        );
        assert_eq!(
            text(3).map(|a| a.value(0).to_owned()),
            Some("pin record in user topic".to_owned())
        );
        assert_eq!(text(4).map(|a| a.value(1).is_empty()), Some(true));
        assert_eq!(position.map(|a| a.values().to_vec()), Some(vec![3, 49]));
        assert_eq!(batch.column(1).null_count(), 0);
    }

    #[test]
    fn empty_batch_has_schema() {
        let batch = quarantine_batch(&[]);
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(batch.schema(), quarantine_schema());
    }
}
