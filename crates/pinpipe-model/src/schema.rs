//! The Arrow schemas of the cleaned tables (SPEC §5), built once and shared.

use std::sync::{Arc, LazyLock};

use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit};

use crate::Table;

/// Time zone of every timestamp column: values are UTC instants.
pub(crate) const UTC: &str = "UTC";

/// The type of every timestamp column: microseconds since the epoch, UTC.
fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}

/// The item field of `coordinates`: named `element` and nullable, as Delta Lake (Parquet) lists are.
pub(crate) fn coordinates_item() -> FieldRef {
    Arc::new(Field::new("element", DataType::Float64, true))
}

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn key() -> Field {
    Field::new("ind", DataType::Int64, false)
}

static PIN: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        key(),
        text("unique_id"),
        text("title"),
        text("description"),
        Field::new("follower_count", DataType::Int64, true),
        text("poster_name"),
        text("tag_list"),
        text("is_image_or_video"),
        text("image_src"),
        text("save_location"),
        text("category"),
        Field::new("downloaded", DataType::Boolean, true),
    ]))
});

static GEO: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        key(),
        text("country"),
        Field::new("coordinates", DataType::List(coordinates_item()), true),
        Field::new("timestamp", timestamp(), true),
    ]))
});

static USER: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        key(),
        text("user_name"),
        Field::new("age", DataType::Int64, true),
        Field::new("date_joined", timestamp(), true),
    ]))
});

/// The cleaned schema of `table`.
pub(crate) fn cleaned(table: Table) -> SchemaRef {
    match table {
        Table::Pin => Arc::clone(&PIN),
        Table::Geo => Arc::clone(&GEO),
        Table::User => Arc::clone(&USER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(table: Table) -> Vec<(String, DataType, bool)> {
        table
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
            .collect()
    }

    fn col(name: &str, t: DataType, nullable: bool) -> (String, DataType, bool) {
        (name.to_owned(), t, nullable)
    }

    #[test]
    fn pin_schema_matches_spec() {
        let utf8 = |n| col(n, DataType::Utf8, true);
        assert_eq!(
            columns(Table::Pin),
            vec![
                col("ind", DataType::Int64, false),
                utf8("unique_id"),
                utf8("title"),
                utf8("description"),
                col("follower_count", DataType::Int64, true),
                utf8("poster_name"),
                utf8("tag_list"),
                utf8("is_image_or_video"),
                utf8("image_src"),
                utf8("save_location"),
                utf8("category"),
                col("downloaded", DataType::Boolean, true),
            ]
        );
    }

    #[test]
    fn geo_schema_matches_spec() {
        let item = Field::new("element", DataType::Float64, true);
        assert_eq!(
            columns(Table::Geo),
            vec![
                col("ind", DataType::Int64, false),
                col("country", DataType::Utf8, true),
                col("coordinates", DataType::List(Arc::new(item)), true),
                col(
                    "timestamp",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    true
                ),
            ]
        );
    }

    #[test]
    fn user_schema_matches_spec() {
        assert_eq!(
            columns(Table::User),
            vec![
                col("ind", DataType::Int64, false),
                col("user_name", DataType::Utf8, true),
                col("age", DataType::Int64, true),
                col(
                    "date_joined",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    true
                ),
            ]
        );
    }

    #[test]
    fn schema_is_shared_not_rebuilt() {
        assert!(Arc::ptr_eq(&Table::Pin.schema(), &Table::Pin.schema()));
    }
}
