//! [`TableBuilder`]: raw records in, cleaned Arrow rows and quarantined rejects out.

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};

use crate::clean::{self, GeoRow, PinRow, UserRow};
use crate::fields::Object;
use crate::json::Record;
use crate::schema::{UTC, coordinates_item};
use crate::{CleanError, Rejected, Table};

/// Row-wise cleaner into Arrow builders.
///
/// Each record is parsed once, cleaned by the rules of SPEC §5, and either appended as one row or kept
/// as a [`Rejected`] with the reason. A record is never dropped and never stops the builder. A row is
/// appended only once every field of it has been read, so a reject leaves no partial row behind.
///
/// ```
/// use pinpipe_model::{Table, TableBuilder};
///
/// let mut users = TableBuilder::new(Table::User);
/// users.push_raw(r#"{"ind": 7, "first_name": "Ada ", "last_name": "Lovelace", "age": "36",
///                    "date_joined": "2015-12-10T09:00:00Z"}"#, "user.jsonl", 1);
/// users.push_raw(r#"[1, 2]"#, "user.jsonl", 2);
/// let (batch, rejected) = users.finish();
/// assert_eq!(batch.num_rows(), 1);
/// assert_eq!(rejected[0].reason, "not a JSON object: got array");
/// ```
pub struct TableBuilder {
    table: Table,
    columns: Columns,
    rejected: Vec<Rejected>,
}

impl TableBuilder {
    /// An empty builder for `table`.
    pub fn new(table: Table) -> Self {
        let columns = match table {
            Table::Pin => Columns::Pin(Box::default()),
            Table::Geo => Columns::Geo(GeoColumns::new()),
            Table::User => Columns::User(UserColumns::new()),
        };
        TableBuilder {
            table,
            columns,
            rejected: Vec::new(),
        }
    }

    /// The table this builder builds.
    pub fn table(&self) -> Table {
        self.table
    }

    /// Parse and clean one raw record (one line of newline-delimited JSON, or one stream record's data).
    /// Success appends one row; failure records a [`Rejected`] (never panics, never drops silently).
    ///
    /// Blank text is rejected as invalid JSON: a blank line of a raw object is such a record (sent with an empty value).
    pub fn push_raw(&mut self, raw: &str, source: &str, position: i64) {
        let pushed = Record::parse(raw)
            .map_err(|e| CleanError::InvalidJson(e.to_string()))
            .and_then(|record| self.try_push(&record));
        if let Err(e) = pushed {
            self.reject(e, raw, source, position);
        }
    }

    /// Rows appended so far (rejects not counted).
    pub fn len(&self) -> usize {
        match &self.columns {
            Columns::Pin(c) => c.ind.len(),
            Columns::Geo(c) => c.ind.len(),
            Columns::User(c) => c.ind.len(),
        }
    }

    /// Whether no row has been appended yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records rejected so far.
    pub fn rejected_len(&self) -> usize {
        self.rejected.len()
    }

    /// Take what was built so far: the cleaned rows as a batch with [`Table::schema`], and the rejects.
    /// The builder is then empty and can be used again.
    pub fn finish(&mut self) -> (RecordBatch, Vec<Rejected>) {
        let columns = match &mut self.columns {
            Columns::Pin(c) => c.finish(),
            Columns::Geo(c) => c.finish(),
            Columns::User(c) => c.finish(),
        };
        let batch = RecordBatch::try_new(self.table.schema(), columns)
            .expect("builder columns match the table schema");
        (batch, std::mem::take(&mut self.rejected))
    }

    fn try_push(&mut self, record: &Record<'_>) -> Result<(), CleanError> {
        let obj = clean::object(record)?;
        clean::check_topic(self.table, obj)?;
        self.columns.push(obj)
    }

    /// Rejects a record too large to read, of which only `head` (its first bytes) was kept.
    pub fn push_too_large(
        &mut self,
        head: &str,
        size: u64,
        limit: u64,
        source: &str,
        position: i64,
    ) {
        let error = CleanError::TooLarge {
            size,
            limit,
            kept: head.len(),
        };
        self.reject(error, head, source, position);
    }

    fn reject(&mut self, error: CleanError, raw: &str, source: &str, position: i64) {
        self.rejected.push(Rejected {
            table: self.table,
            source: source.to_owned(),
            position,
            reason: error.to_string(),
            kind: error.kind(),
            raw: raw.to_owned(),
        });
    }
}

impl std::fmt::Debug for TableBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableBuilder")
            .field("table", &self.table)
            .field("len", &self.len())
            .field("rejected_len", &self.rejected_len())
            .finish()
    }
}

/// The column builders of one table (pin boxed: it is much the largest).
enum Columns {
    Pin(Box<PinColumns>),
    Geo(GeoColumns),
    User(UserColumns),
}

impl Columns {
    /// Reads `obj` as this table's row and appends it; nothing is appended on error.
    fn push(&mut self, obj: &Object<'_>) -> Result<(), CleanError> {
        match self {
            Columns::Pin(c) => c.append(PinRow::read(obj)?),
            Columns::Geo(c) => c.append(GeoRow::read(obj)?),
            Columns::User(c) => c.append(&UserRow::read(obj)?),
        }
        Ok(())
    }
}

/// Builders for [`Table::Pin`]'s columns, in schema order.
#[derive(Default)]
struct PinColumns {
    ind: Int64Builder,
    unique_id: StringBuilder,
    title: StringBuilder,
    description: StringBuilder,
    follower_count: Int64Builder,
    poster_name: StringBuilder,
    tag_list: StringBuilder,
    is_image_or_video: StringBuilder,
    image_src: StringBuilder,
    save_location: StringBuilder,
    category: StringBuilder,
    downloaded: BooleanBuilder,
}

impl PinColumns {
    fn append(&mut self, row: PinRow<'_>) {
        self.ind.append_value(row.ind);
        self.unique_id.append_option(row.unique_id);
        self.title.append_option(row.title);
        self.description.append_option(row.description);
        self.follower_count.append_option(row.follower_count);
        self.poster_name.append_option(row.poster_name);
        self.tag_list.append_option(row.tag_list);
        self.is_image_or_video.append_option(row.is_image_or_video);
        self.image_src.append_option(row.image_src);
        self.save_location.append_option(row.save_location);
        self.category.append_option(row.category);
        self.downloaded.append_option(row.downloaded);
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.ind.finish()),
            Arc::new(self.unique_id.finish()),
            Arc::new(self.title.finish()),
            Arc::new(self.description.finish()),
            Arc::new(self.follower_count.finish()),
            Arc::new(self.poster_name.finish()),
            Arc::new(self.tag_list.finish()),
            Arc::new(self.is_image_or_video.finish()),
            Arc::new(self.image_src.finish()),
            Arc::new(self.save_location.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.downloaded.finish()),
        ]
    }
}

/// Builders for [`Table::Geo`]'s columns, in schema order.
struct GeoColumns {
    ind: Int64Builder,
    country: StringBuilder,
    coordinates: ListBuilder<Float64Builder>,
    timestamp: TimestampMicrosecondBuilder,
}

impl GeoColumns {
    fn new() -> Self {
        GeoColumns {
            ind: Int64Builder::new(),
            country: StringBuilder::new(),
            coordinates: ListBuilder::new(Float64Builder::new()).with_field(coordinates_item()),
            timestamp: TimestampMicrosecondBuilder::new().with_timezone(UTC),
        }
    }

    fn append(&mut self, row: GeoRow<'_>) {
        self.ind.append_value(row.ind);
        self.country.append_option(row.country);
        match row.coordinates {
            Some(pair) => {
                self.coordinates.values().append_slice(&pair);
                self.coordinates.append(true);
            }
            None => self.coordinates.append_null(),
        }
        self.timestamp.append_option(row.timestamp);
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.ind.finish()),
            Arc::new(self.country.finish()),
            Arc::new(self.coordinates.finish()),
            Arc::new(self.timestamp.finish()),
        ]
    }
}

/// Builders for [`Table::User`]'s columns, in schema order.
struct UserColumns {
    ind: Int64Builder,
    user_name: StringBuilder,
    age: Int64Builder,
    date_joined: TimestampMicrosecondBuilder,
    /// Scratch space for joining a user name, reused across rows.
    name_buf: String,
}

impl UserColumns {
    fn new() -> Self {
        UserColumns {
            ind: Int64Builder::new(),
            user_name: StringBuilder::new(),
            age: Int64Builder::new(),
            date_joined: TimestampMicrosecondBuilder::new().with_timezone(UTC),
            name_buf: String::new(),
        }
    }

    fn append(&mut self, row: &UserRow<'_>) {
        self.ind.append_value(row.ind);
        self.user_name
            .append_option(row.user_name(&mut self.name_buf));
        self.age.append_option(row.age);
        self.date_joined.append_option(row.date_joined);
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.ind.finish()),
            Arc::new(self.user_name.finish()),
            Arc::new(self.age.finish()),
            Arc::new(self.date_joined.finish()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
    use arrow_array::{Array, BooleanArray, StringArray};

    fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
        let col = batch
            .column_by_name(column)
            .map(|c| c.as_string::<i32>().clone());
        col.map(|a: StringArray| a.iter().map(|v| v.map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    fn ints(batch: &RecordBatch, column: &str) -> Vec<Option<i64>> {
        batch
            .column_by_name(column)
            .map(|c| c.as_primitive::<Int64Type>().iter().collect())
            .unwrap_or_default()
    }

    fn times(batch: &RecordBatch, column: &str) -> Vec<Option<i64>> {
        batch
            .column_by_name(column)
            .map(|c| {
                c.as_primitive::<TimestampMicrosecondType>()
                    .iter()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn reasons(rejected: &[Rejected]) -> Vec<&str> {
        rejected.iter().map(|r| r.reason.as_str()).collect()
    }

    const PIN: &str = r#"{"index": 6717, "unique_id": "bc5ab9ee-505e-44f6-92ba-677fe4fdf3e3", "title": "Cottages",
        "description": "Swedish cottages\u00a0", "poster_name": "PUFIK Interiors ", "follower_count": "136k",
        "tag_list": "Scandinavian Cottage,Swedish Cottage", "is_image_or_video": "image",
        "image_src": "https://i.pinimg.com/originals/32/eb/72/x.png", "downloaded": 1,
        "save_location": "Local save in /data/home-decor", "category": "home-decor", "extra": [1, 2]}"#;

    #[test]
    fn pin_row_is_cleaned_into_schema_order() {
        let mut b = TableBuilder::new(Table::Pin);
        b.push_raw(PIN, "pin.jsonl", 1);
        assert_eq!((b.len(), b.rejected_len()), (1, 0));
        let (batch, rejected) = b.finish();
        assert!(rejected.is_empty());
        assert_eq!(batch.schema(), Table::Pin.schema());
        assert_eq!(ints(&batch, "ind"), [Some(6717)]);
        assert_eq!(ints(&batch, "follower_count"), [Some(136_000)]);
        assert_eq!(
            strings(&batch, "description"),
            [Some("Swedish cottages".to_owned())]
        );
        assert_eq!(
            strings(&batch, "poster_name"),
            [Some("PUFIK Interiors".to_owned())]
        );
        assert_eq!(
            strings(&batch, "save_location"),
            [Some("/data/home-decor".to_owned())]
        );
        let downloaded = batch
            .column(11)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .map(|a| a.value(0));
        assert_eq!(downloaded, Some(true));
    }

    #[test]
    fn geo_row_has_coordinates_list_and_utc_timestamp() {
        let mut b = TableBuilder::new(Table::Geo);
        b.push_raw(
            r#"{"ind": 2418, "latitude": -88.4642, "longitude": -171.061, "country": "Antarctica (the territory South of 60 deg S)", "timestamp": "2022-05-27 11:30:59"}"#,
            "geo.jsonl",
            1,
        );
        b.push_raw(r#"{"ind": 2419, "country": "Albania"}"#, "geo.jsonl", 2);
        let (batch, rejected) = b.finish();
        assert!(rejected.is_empty());
        assert_eq!(batch.schema(), Table::Geo.schema());
        let coordinates = batch.column(2).as_list::<i32>();
        let first = coordinates.value(0);
        let pair: Vec<_> = first.as_primitive::<Float64Type>().iter().collect();
        assert_eq!(pair, [Some(-88.4642), Some(-171.061)]);
        assert!(coordinates.is_null(1));
        assert_eq!(
            times(&batch, "timestamp"),
            [Some(1_653_651_059_000_000), None]
        );
    }

    #[test]
    fn user_row_joins_name_and_converts_types() {
        let mut b = TableBuilder::new(Table::User);
        b.push_raw(
            r#"{"ind": "5", "first_name": "Abigail ", "last_name": "Ali", "age": "20", "date_joined": "2015-10-24T11:23:51"}"#,
            "user.jsonl",
            1,
        );
        b.push_raw(
            r#"{"ind": 6, "first_name": "", "last_name": "Ali", "age": null}"#,
            "user.jsonl",
            2,
        );
        let (batch, rejected) = b.finish();
        assert!(rejected.is_empty());
        assert_eq!(batch.schema(), Table::User.schema());
        assert_eq!(ints(&batch, "ind"), [Some(5), Some(6)]);
        assert_eq!(
            strings(&batch, "user_name"),
            [Some("Abigail Ali".to_owned()), Some("Ali".to_owned())]
        );
        assert_eq!(ints(&batch, "age"), [Some(20), None]);
        assert_eq!(
            times(&batch, "date_joined"),
            [Some(1_445_685_831_000_000), None]
        );
    }

    #[test]
    fn invalid_json_is_rejected_with_serde_message() {
        let mut b = TableBuilder::new(Table::User);
        b.push_raw("{\"ind\": 1,", "user.jsonl", 7);
        b.push_raw("", "user.jsonl", 8);
        let (batch, rejected) = b.finish();
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(rejected.len(), 2);
        assert!(
            rejected[0]
                .reason
                .starts_with("invalid JSON: EOF while parsing"),
            "{}",
            rejected[0].reason
        );
        assert_eq!(
            rejected[0],
            Rejected {
                table: Table::User,
                source: "user.jsonl".into(),
                position: 7,
                reason: rejected[0].reason.clone(),
                kind: "invalid_json",
                raw: "{\"ind\": 1,".into(),
            }
        );
        assert_eq!(rejected[1].position, 8);
    }

    #[test]
    fn not_an_object_is_rejected() {
        let mut b = TableBuilder::new(Table::Geo);
        for (i, raw) in ["[1,2]", "\"x\"", "null", "42"].into_iter().enumerate() {
            b.push_raw(raw, "s", i as i64);
        }
        let (_, rejected) = b.finish();
        assert_eq!(
            reasons(&rejected),
            [
                "not a JSON object: got array",
                "not a JSON object: got string",
                "not a JSON object: got null",
                "not a JSON object: got number",
            ]
        );
    }

    #[test]
    fn key_as_string_is_accepted_and_fraction_rejected() {
        let mut b = TableBuilder::new(Table::User);
        b.push_raw(r#"{"ind": "5", "age": 20}"#, "s", 1);
        b.push_raw(r#"{"ind": 5.5, "age": 20}"#, "s", 2);
        b.push_raw(r#"{"age": 20}"#, "s", 3);
        let (batch, rejected) = b.finish();
        assert_eq!(ints(&batch, "ind"), [Some(5)]);
        assert_eq!(
            reasons(&rejected),
            ["non-integer key \"ind\": 5.5", "missing key \"ind\""]
        );
    }

    #[test]
    fn wrong_kind_rejects_whole_row() {
        let mut b = TableBuilder::new(Table::Pin);
        b.push_raw(
            &PIN.replace(r#""downloaded": 1"#, r#""downloaded": 7"#),
            "s",
            1,
        );
        b.push_raw(PIN, "s", 2);
        let (batch, rejected) = b.finish();
        // The rejected row left nothing behind in any column.
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(
            reasons(&rejected),
            ["wrong kind for downloaded: expected 0 or 1, got 7"]
        );
        assert_eq!(rejected[0].position, 1);
    }

    #[test]
    fn unknown_follower_count_rejects() {
        let mut b = TableBuilder::new(Table::Pin);
        b.push_raw(&PIN.replace("136k", "abc"), "s", 1);
        let (_, rejected) = b.finish();
        assert_eq!(
            reasons(&rejected),
            ["unknown follower_count format: \"abc\""]
        );
    }

    #[test]
    fn unparseable_datetime_rejects() {
        let mut b = TableBuilder::new(Table::Geo);
        b.push_raw(r#"{"ind": 1, "timestamp": "yesterday"}"#, "s", 1);
        let (_, rejected) = b.finish();
        assert_eq!(
            reasons(&rejected),
            ["unparseable datetime in timestamp: \"yesterday\""]
        );
    }

    #[test]
    fn other_tables_record_rejects() {
        let mut b = TableBuilder::new(Table::User);
        b.push_raw(PIN, "user.jsonl", 1);
        let (batch, rejected) = b.finish();
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(reasons(&rejected), ["pin record in user topic"]);
        assert_eq!(rejected[0].raw, PIN);
    }

    #[test]
    fn a_reject_keeps_its_source_and_position() {
        let mut b = TableBuilder::new(Table::User);
        b.push_raw("[1]", "shardId-000000000000", 49);
        let (_, rejected) = b.finish();
        assert_eq!(rejected[0].raw, "[1]");
        assert_eq!(rejected[0].source, "shardId-000000000000");
        assert_eq!(rejected[0].position, 49);
    }

    #[test]
    fn finish_resets_and_builder_is_reusable() {
        let mut b = TableBuilder::new(Table::Geo);
        assert!(b.is_empty());
        b.push_raw(r#"{"ind": 1, "latitude": 1, "longitude": 2}"#, "s", 1);
        b.push_raw("x", "s", 2);
        assert!(!b.is_empty());
        let (first, rejected) = b.finish();
        assert_eq!((first.num_rows(), rejected.len()), (1, 1));
        assert_eq!((b.len(), b.rejected_len()), (0, 0));
        b.push_raw(
            r#"{"ind": 2, "latitude": 3, "longitude": 4, "timestamp": "2020-01-01 00:00:00"}"#,
            "s",
            3,
        );
        let (second, rejected) = b.finish();
        assert!(rejected.is_empty());
        assert_eq!(second.schema(), Table::Geo.schema());
        assert_eq!(ints(&second, "ind"), [Some(2)]);
        assert_eq!(b.table(), Table::Geo);
    }

    #[test]
    fn empty_finish_has_schema() {
        for t in Table::ALL {
            let (batch, rejected) = TableBuilder::new(t).finish();
            assert_eq!((batch.num_rows(), rejected.len()), (0, 0));
            assert_eq!(batch.schema(), t.schema());
        }
    }
}
