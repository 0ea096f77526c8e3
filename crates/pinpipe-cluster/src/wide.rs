//! The rows between the two stages of a table job: one schema for everything the first stage
//! sends to the second, so that one shuffle carries it all.
//!
//! ```text
//!  _kind _route _seq _pos _records _rejected _size _reason_kind | table columns | _q_table _q_source _q_position _q_reason _q_raw
//! ```
//!
//! - `_kind` ([`RowKind`]) says which columns hold something: a table row (the table columns),
//!   a reject or a quarantined key (the `_q_*` columns, the quarantine's), an object read (`_q_source`
//!   is its path, with `_records`, `_rejected`, `_size`).
//! - `_route` is what the shuffle hashes: `ind` for rows, so all copies of a key meet in one
//!   task; a hash of (source, position) for rejects and quarantined keys, so a record already
//!   quarantined meets its copy read again.
//! - (`_seq`, `_pos`) orders the copies of a key as they arrived: `_seq` is the raw object's
//!   place in arrival order (-1 for the table's current rows, which any new copy replaces),
//!   `_pos` the row's place in its object.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, UInt8Array, new_null_array,
};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, UInt8Type};
use datafusion::error::{DataFusionError, Result};
use pinpipe_model::{Rejected, Table, quarantine_batch, quarantine_schema};

/// What a row between the stages is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RowKind {
    /// A row of the table as it is (read from its files); after keep-last, one kept as it is.
    Existing = 0,
    /// A row read from a raw object in this run.
    New = 1,
    /// The (source, position) of a record already in the quarantine.
    QuarantinedKey = 2,
    /// A record rejected in this run.
    Reject = 3,
    /// A raw object read: its path, records, rejects and size as read.
    ObjectRead = 4,
    /// After keep-last: the row of a key new to the table.
    Inserted = 5,
    /// After keep-last: the new row of a key the table had.
    Updated = 6,
}

impl RowKind {
    /// The kind stored as `value`.
    pub fn from_u8(value: u8) -> Result<RowKind> {
        Ok(match value {
            0 => RowKind::Existing,
            1 => RowKind::New,
            2 => RowKind::QuarantinedKey,
            3 => RowKind::Reject,
            4 => RowKind::ObjectRead,
            5 => RowKind::Inserted,
            6 => RowKind::Updated,
            other => return Err(internal(format!("unknown row kind {other}"))),
        })
    }

    /// Whether rows of this kind hold the table's columns.
    pub fn is_table_row(self) -> bool {
        matches!(
            self,
            RowKind::Existing | RowKind::New | RowKind::Inserted | RowKind::Updated
        )
    }
}

/// Index of `_kind`.
pub const KIND: usize = 0;
/// Index of `_route`.
pub const ROUTE: usize = 1;
/// Index of `_seq`.
pub const SEQ: usize = 2;
/// Index of `_pos`.
pub const POS: usize = 3;
/// Index of `_records`.
pub const RECORDS: usize = 4;
/// Index of `_rejected`.
pub const REJECTED: usize = 5;
/// Index of `_size`.
pub const SIZE: usize = 6;
/// Index of `_reason_kind`.
pub const REASON_KIND: usize = 7;
/// Index of the first table column (`ind`).
pub const TABLE: usize = 8;

fn control_fields() -> Vec<Field> {
    vec![
        Field::new("_kind", DataType::UInt8, false),
        Field::new("_route", DataType::Int64, false),
        Field::new("_seq", DataType::Int64, false),
        Field::new("_pos", DataType::Int64, false),
        Field::new("_records", DataType::Int64, true),
        Field::new("_rejected", DataType::Int64, true),
        Field::new("_size", DataType::Int64, true),
        Field::new("_reason_kind", DataType::Utf8, true),
    ]
}

static SCHEMAS: LazyLock<[SchemaRef; 3]> = LazyLock::new(|| Table::ALL.map(build_schema));

fn build_schema(table: Table) -> SchemaRef {
    let mut fields = control_fields();
    fields.extend(
        table
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true)),
    );
    fields.extend(quarantine_schema().fields().iter().map(|f| {
        f.as_ref()
            .clone()
            .with_name(format!("_q_{}", f.name()))
            .with_nullable(true)
    }));
    Arc::new(Schema::new(fields))
}

/// The schema of `table`'s rows between the stages.
pub fn schema(table: Table) -> SchemaRef {
    let index = Table::ALL
        .iter()
        .position(|t| *t == table)
        .unwrap_or_default();
    Arc::clone(&SCHEMAS[index])
}

/// Index of the first quarantine column (`_q_table`) for `table`.
fn quarantine_start(table: Table) -> usize {
    TABLE + table.schema().fields().len()
}

/// Where a reject or quarantined key with this (source, position) goes in the shuffle.
pub fn reject_route(source: &str, position: i64) -> i64 {
    // The same function in every process: SipHash with fixed keys (one binary for the cluster).
    let mut hasher = DefaultHasher::new();
    source.hash(&mut hasher);
    position.hash(&mut hasher);
    i64::from_ne_bytes(hasher.finish().to_ne_bytes())
}

/// The control columns of `n` rows.
struct Control {
    kind: ArrayRef,
    route: ArrayRef,
    seq: ArrayRef,
    pos: ArrayRef,
    records: ArrayRef,
    rejected: ArrayRef,
    size: ArrayRef,
    reason_kind: ArrayRef,
}

impl Control {
    /// `n` rows of `kind`, with the given routes, sequence and positions, no object counts.
    fn rows(kind: RowKind, route: Int64Array, seq: i64, pos: Int64Array) -> Control {
        let n = route.len();
        Control {
            kind: Arc::new(UInt8Array::from(vec![kind as u8; n])),
            route: Arc::new(route),
            seq: Arc::new(Int64Array::from(vec![seq; n])),
            pos: Arc::new(pos),
            records: new_null_array(&DataType::Int64, n),
            rejected: new_null_array(&DataType::Int64, n),
            size: new_null_array(&DataType::Int64, n),
            reason_kind: new_null_array(&DataType::Utf8, n),
        }
    }

    fn into_columns(self) -> Vec<ArrayRef> {
        vec![
            self.kind,
            self.route,
            self.seq,
            self.pos,
            self.records,
            self.rejected,
            self.size,
            self.reason_kind,
        ]
    }
}

/// The wide batch of `control`, the table columns (`None`: nulls) and the quarantine columns
/// (`None`: nulls).
fn assemble(
    table: Table,
    control: Control,
    table_columns: Option<&[ArrayRef]>,
    quarantine_columns: Option<Vec<ArrayRef>>,
) -> Result<RecordBatch> {
    let n = control.kind.len();
    let schema = schema(table);
    let mut columns = control.into_columns();
    let nulls = |fields: &[Arc<Field>]| -> Vec<ArrayRef> {
        fields
            .iter()
            .map(|f| new_null_array(f.data_type(), n))
            .collect()
    };
    let fields = schema.fields();
    let q = quarantine_start(table);
    match table_columns {
        Some(values) => columns.extend(values.iter().cloned()),
        None => columns.extend(nulls(&fields[TABLE..q])),
    }
    match quarantine_columns {
        Some(values) => columns.extend(values),
        None => columns.extend(nulls(&fields[q..])),
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// `rows` (with `table`'s schema) as wide rows of `kind` from the object at `seq`, the first
/// at position `first_pos` in it.
pub fn rows(
    table: Table,
    rows: &RecordBatch,
    kind: RowKind,
    seq: i64,
    first_pos: i64,
) -> Result<RecordBatch> {
    let keys = rows
        .column(0)
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| internal("rows without an Int64 ind column".into()))?;
    let n = i64::try_from(rows.num_rows()).map_err(|e| internal(e.to_string()))?;
    let positions = Int64Array::from_iter_values(first_pos..first_pos + n);
    let control = Control::rows(kind, keys.clone(), seq, positions);
    assemble(table, control, Some(rows.columns()), None)
}

/// `rejected` (records of `table` rejected in this run) as wide rows.
pub fn rejects(table: Table, rejected: &[Rejected]) -> Result<RecordBatch> {
    let routes: Int64Array = rejected
        .iter()
        .map(|r| reject_route(&r.source, r.position))
        .collect();
    let positions: Int64Array = rejected.iter().map(|r| r.position).collect();
    let mut control = Control::rows(RowKind::Reject, routes, -1, positions);
    control.reason_kind = Arc::new(
        rejected
            .iter()
            .map(|r| Some(r.kind))
            .collect::<StringArray>(),
    );
    let quarantine = quarantine_batch(rejected);
    assemble(table, control, None, Some(quarantine.columns().to_vec()))
}

/// Records already in the quarantine, by (source, position), as wide rows.
pub fn quarantined_keys(
    table: Table,
    sources: &StringArray,
    positions: &Int64Array,
) -> Result<RecordBatch> {
    let n = sources.len();
    let routes: Int64Array = (0..n)
        .map(|i| reject_route(sources.value(i), positions.value(i)))
        .collect();
    let control = Control::rows(RowKind::QuarantinedKey, routes, -1, positions.clone());
    let mut columns = Vec::with_capacity(quarantine_schema().fields().len());
    for field in quarantine_schema().fields() {
        columns.push(match field.name().as_str() {
            "source" => Arc::new(sources.clone()) as ArrayRef,
            "position" => Arc::new(positions.clone()) as ArrayRef,
            _ => new_null_array(field.data_type(), n),
        });
    }
    assemble(table, control, None, Some(columns))
}

/// What a task read of one raw object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRead {
    /// Its path inside the lake.
    pub path: String,
    /// Its place in arrival order.
    pub seq: i64,
    /// Records read (lines).
    pub records: u64,
    /// Of those, rejected.
    pub rejected: u64,
    /// Its size as read.
    pub size: u64,
}

/// `read` as one wide row.
pub fn object_read(table: Table, read: &ObjectRead) -> Result<RecordBatch> {
    let int = |v: u64| i64::try_from(v).map_err(|e| internal(e.to_string()));
    let mut control = Control::rows(
        RowKind::ObjectRead,
        Int64Array::from(vec![read.seq]),
        read.seq,
        Int64Array::from(vec![0]),
    );
    control.records = Arc::new(Int64Array::from(vec![int(read.records)?]));
    control.rejected = Arc::new(Int64Array::from(vec![int(read.rejected)?]));
    control.size = Arc::new(Int64Array::from(vec![int(read.size)?]));
    let mut quarantine: Vec<ArrayRef> = quarantine_schema()
        .fields()
        .iter()
        .map(|f| new_null_array(f.data_type(), 1))
        .collect();
    quarantine[1] = Arc::new(StringArray::from(vec![read.path.as_str()]));
    assemble(table, control, None, Some(quarantine))
}

/// The objects read among wide `rows`.
pub fn objects_read(rows: &RecordBatch) -> Result<Vec<ObjectRead>> {
    let kinds = kinds(rows)?;
    let table_columns = rows.num_columns() - TABLE - quarantine_schema().fields().len();
    let sources = string(rows, TABLE + table_columns + 1)?;
    let (seq, records, rejected, size) = (
        int(rows, SEQ)?,
        int(rows, RECORDS)?,
        int(rows, REJECTED)?,
        int(rows, SIZE)?,
    );
    let unsigned = |v: i64| u64::try_from(v).unwrap_or_default();
    (0..rows.num_rows())
        .filter(|&i| kinds.value(i) == RowKind::ObjectRead as u8)
        .map(|i| {
            Ok(ObjectRead {
                path: sources.value(i).to_owned(),
                seq: seq.value(i),
                records: unsigned(records.value(i)),
                rejected: unsigned(rejected.value(i)),
                size: unsigned(size.value(i)),
            })
        })
        .collect()
}

/// The `_kind` column of wide `rows`.
pub fn kinds(rows: &RecordBatch) -> Result<&UInt8Array> {
    rows.column(KIND)
        .as_primitive_opt::<UInt8Type>()
        .ok_or_else(|| internal("wide rows without _kind".into()))
}

/// Column `index` of wide `rows` as Int64.
pub fn int(rows: &RecordBatch, index: usize) -> Result<&Int64Array> {
    rows.column(index)
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| internal(format!("wide column {index} is not Int64")))
}

/// Column `index` of wide `rows` as text.
pub fn string(rows: &RecordBatch, index: usize) -> Result<&StringArray> {
    rows.column(index)
        .as_string_opt::<i32>()
        .ok_or_else(|| internal(format!("wide column {index} is not text")))
}

/// The (source, position) columns of wide `rows` of `table`.
pub fn reject_keys(table: Table, rows: &RecordBatch) -> Result<(&StringArray, &Int64Array)> {
    let q = quarantine_start(table);
    Ok((string(rows, q + 1)?, int(rows, q + 2)?))
}

/// Wide `rows` with `_kind` replaced by `kinds`.
pub fn with_kinds(rows: &RecordBatch, kinds: UInt8Array) -> Result<RecordBatch> {
    let mut columns = rows.columns().to_vec();
    columns[KIND] = Arc::new(kinds);
    Ok(RecordBatch::try_new(rows.schema(), columns)?)
}

/// The table columns of wide `rows` (all table rows), with `table`'s schema.
pub fn table_rows(table: Table, rows: &RecordBatch) -> Result<RecordBatch> {
    let columns = rows.columns()[TABLE..quarantine_start(table)].to_vec();
    Ok(RecordBatch::try_new(table.schema(), columns)?)
}

/// The quarantine columns of wide `rows` (all rejects), with the quarantine's schema.
pub fn quarantine_rows(table: Table, rows: &RecordBatch) -> Result<RecordBatch> {
    let columns = rows.columns()[quarantine_start(table)..].to_vec();
    Ok(RecordBatch::try_new(quarantine_schema(), columns)?)
}

fn internal(message: String) -> DataFusionError {
    DataFusionError::Internal(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::compute::concat_batches;
    use pinpipe_model::TableBuilder;

    fn user_rows() -> RecordBatch {
        let mut builder = TableBuilder::new(Table::User);
        builder.push_raw(
            r#"{"ind": 7, "first_name": "Ann", "last_name": "Lee", "age": 30, "date_joined": "2016-01-01 00:00:00"}"#,
            "s",
            0,
        );
        builder.push_raw("not json", "raw/topics/pinpipe.user/x.json", 41);
        let (rows, rejected) = builder.finish();
        assert_eq!(rejected.len(), 1);
        rows
    }

    #[test]
    fn every_kind_shares_one_schema_and_comes_back_out() {
        let rows = user_rows();
        let mut builder = TableBuilder::new(Table::User);
        builder.push_raw("not json", "raw/topics/pinpipe.user/x.json", 41);
        let (_, rejected) = builder.finish();
        let read = ObjectRead {
            path: "raw/topics/pinpipe.user/x.json".into(),
            seq: 3,
            records: 2,
            rejected: 1,
            size: 99,
        };
        let parts = [
            super::rows(Table::User, &rows, RowKind::New, 3, 10).unwrap(),
            rejects(Table::User, &rejected).unwrap(),
            object_read(Table::User, &read).unwrap(),
        ];
        let all = concat_batches(&schema(Table::User), &parts).unwrap();
        assert_eq!(all.num_rows(), 3);
        assert_eq!(int(&all, ROUTE).unwrap().value(0), 7, "rows go by ind");
        assert_eq!(int(&all, POS).unwrap().value(0), 10);
        assert_eq!(
            int(&all, ROUTE).unwrap().value(1),
            reject_route("raw/topics/pinpipe.user/x.json", 41)
        );
        assert_eq!(objects_read(&all).unwrap(), vec![read]);
        let back = table_rows(Table::User, &parts[0]).unwrap();
        assert_eq!(back, rows);
        let quarantine = quarantine_rows(Table::User, &parts[1]).unwrap();
        assert_eq!(quarantine, quarantine_batch(&rejected));
    }

    #[test]
    fn quarantined_keys_meet_their_rejects() {
        let sources = StringArray::from(vec!["raw/topics/pinpipe.user/x.json"]);
        let positions = Int64Array::from(vec![41]);
        let keys = quarantined_keys(Table::User, &sources, &positions).unwrap();
        let (s, p) = reject_keys(Table::User, &keys).unwrap();
        assert_eq!(
            (s.value(0), p.value(0)),
            ("raw/topics/pinpipe.user/x.json", 41)
        );
        assert_eq!(
            int(&keys, ROUTE).unwrap().value(0),
            reject_route("raw/topics/pinpipe.user/x.json", 41)
        );
    }
}
