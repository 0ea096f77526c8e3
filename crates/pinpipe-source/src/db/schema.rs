//! The three tables of SPEC §1 as SQL: names, definitions, and the statements that write and read them.
//!
//! Column names and order are the original MySQL tables'; `index` is quoted because it is an SQL keyword.
//! Datetimes are stored as text `YYYY-MM-DD HH:MM:SS` in columns declared `DATETIME`, as MySQL names them.

/// The pin table.
pub(crate) const PIN_TABLE: &str = "pinterest_data";
/// The geolocation table.
pub(crate) const GEO_TABLE: &str = "geolocation_data";
/// The user table.
pub(crate) const USER_TABLE: &str = "user_data";

/// Creates the three tables when missing.
pub(crate) const CREATE_TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS pinterest_data (
    "index" INTEGER PRIMARY KEY,
    unique_id TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    poster_name TEXT NOT NULL,
    follower_count TEXT NOT NULL,
    tag_list TEXT NOT NULL,
    is_image_or_video TEXT NOT NULL,
    image_src TEXT NOT NULL,
    downloaded INTEGER NOT NULL,
    save_location TEXT NOT NULL,
    category TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS geolocation_data (
    ind INTEGER PRIMARY KEY,
    timestamp DATETIME NOT NULL,
    latitude DOUBLE NOT NULL,
    longitude DOUBLE NOT NULL,
    country TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS user_data (
    ind INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    age INTEGER NOT NULL,
    date_joined DATETIME NOT NULL
);
"#;

/// Drops the three tables.
pub(crate) const DROP_TABLES: &str = "
DROP TABLE IF EXISTS pinterest_data;
DROP TABLE IF EXISTS geolocation_data;
DROP TABLE IF EXISTS user_data;
";

/// Writes a pin row; a row with the same key is replaced.
pub(crate) const UPSERT_PIN: &str = r#"INSERT OR REPLACE INTO pinterest_data ("index", unique_id,
    title, description, poster_name, follower_count, tag_list, is_image_or_video, image_src, downloaded,
    save_location, category) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"#;
/// Writes a geolocation row; a row with the same key is replaced.
pub(crate) const UPSERT_GEO: &str =
    "INSERT OR REPLACE INTO geolocation_data (ind, timestamp, latitude,
    longitude, country) VALUES (?1, ?2, ?3, ?4, ?5)";
/// Writes a user row; a row with the same key is replaced.
pub(crate) const UPSERT_USER: &str =
    "INSERT OR REPLACE INTO user_data (ind, first_name, last_name, age,
    date_joined) VALUES (?1, ?2, ?3, ?4, ?5)";

/// Reads one pin row by key.
pub(crate) const SELECT_PIN: &str = r#"SELECT "index", unique_id, title, description, poster_name,
    follower_count, tag_list, is_image_or_video, image_src, downloaded, save_location, category
    FROM pinterest_data WHERE "index" = ?1"#;
/// Reads one geolocation row by key.
pub(crate) const SELECT_GEO: &str =
    "SELECT ind, timestamp, latitude, longitude, country FROM geolocation_data WHERE ind = ?1";
/// Reads one user row by key.
pub(crate) const SELECT_USER: &str =
    "SELECT ind, first_name, last_name, age, date_joined FROM user_data WHERE ind = ?1";

/// The keys present in all three tables, ascending.
pub(crate) const SELECT_KEYS: &str = r#"SELECT p."index" FROM pinterest_data p
    JOIN geolocation_data g ON g.ind = p."index"
    JOIN user_data u ON u.ind = p."index"
    ORDER BY p."index""#;
