//! [`Table`]: the three cleaned tables, and how to name them.

use std::fmt;

use arrow_schema::SchemaRef;

use crate::schema;

/// The three cleaned tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    /// Pinterest posts (`pinterest_data`, topic `<prefix>.pin`).
    Pin,
    /// Where and when a post was made (`geolocation_data`, topic `<prefix>.geo`).
    Geo,
    /// Who made a post (`user_data`, topic `<prefix>.user`).
    User,
}

impl Table {
    /// Every table, in the order pin, geo, user.
    pub const ALL: [Table; 3] = [Table::Pin, Table::Geo, Table::User];

    /// Every table's [name](Table::name), in the same order.
    pub const NAMES: [&'static str; 3] = [Table::Pin.name(), Table::Geo.name(), Table::User.name()];

    /// The table's name: `"pin"`, `"geo"` or `"user"` (topic suffix, lake folder, quarantine column).
    pub const fn name(self) -> &'static str {
        match self {
            Table::Pin => "pin",
            Table::Geo => "geo",
            Table::User => "user",
        }
    }

    /// The cleaned table's Arrow schema, columns in SPEC §5 order.
    pub fn schema(self) -> SchemaRef {
        schema::cleaned(self)
    }

    /// The table named `s` exactly as [`Table::name`] spells it, if any.
    pub fn from_name(s: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == s)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Table::ALL {
            assert_eq!(Table::from_name(t.name()), Some(t));
            assert_eq!(t.to_string(), t.name());
        }
        assert_eq!(Table::Pin.name(), "pin");
        assert_eq!(Table::Geo.name(), "geo");
        assert_eq!(Table::User.name(), "user");
    }

    #[test]
    fn from_name_rejects_other_spellings() {
        assert_eq!(Table::from_name("Pin"), None);
        assert_eq!(Table::from_name("pins"), None);
        assert_eq!(Table::from_name(""), None);
    }

    #[test]
    fn serde_uses_lowercase_names() {
        assert_eq!(
            serde_json::to_string(&Table::Geo).ok().as_deref(),
            Some("\"geo\"")
        );
        let t: Result<Table, _> = serde_json::from_str("\"user\"");
        assert_eq!(t.ok(), Some(Table::User));
    }
}
