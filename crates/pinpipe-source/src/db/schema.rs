//! The three tables of SPEC §1 once, and the SQL every backend runs on them, written per [`Dialect`].
//!
//! Column names and order are the original MySQL tables'; every identifier is quoted (`index` and
//! `timestamp` are SQL keywords): `"index"` in SQLite and PostgreSQL, `` `index` `` in MySQL. Datetimes
//! are `YYYY-MM-DD HH:MM:SS` in UTC: stored as text in SQLite columns declared `DATETIME` (as MySQL
//! names them), as `TIMESTAMP` (without time zone) in PostgreSQL and `DATETIME` in MySQL, and read back
//! as that text in every backend ([`Dialect`] says how).

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A 64-bit integer.
    Int,
    /// A double.
    Float,
    /// UTF-8 text.
    Text,
    /// A datetime, `YYYY-MM-DD HH:MM:SS`.
    DateTime,
}

/// A table: its name, the alias queries join it under, and its columns in order, the key first.
#[derive(Debug)]
pub(crate) struct Table {
    /// The table's name.
    pub(crate) name: &'static str,
    /// Its alias in joins.
    alias: &'static str,
    /// Its columns in order; the first is the key.
    pub(crate) columns: &'static [(&'static str, Kind)],
}

/// `pinterest_data`, keyed by `index`.
pub(crate) const PIN: Table = Table {
    name: "pinterest_data",
    alias: "p",
    columns: &[
        ("index", Kind::Int),
        ("unique_id", Kind::Text),
        ("title", Kind::Text),
        ("description", Kind::Text),
        ("poster_name", Kind::Text),
        ("follower_count", Kind::Text),
        ("tag_list", Kind::Text),
        ("is_image_or_video", Kind::Text),
        ("image_src", Kind::Text),
        ("downloaded", Kind::Int),
        ("save_location", Kind::Text),
        ("category", Kind::Text),
    ],
};

/// `geolocation_data`, keyed by `ind`.
pub(crate) const GEO: Table = Table {
    name: "geolocation_data",
    alias: "g",
    columns: &[
        ("ind", Kind::Int),
        ("timestamp", Kind::DateTime),
        ("latitude", Kind::Float),
        ("longitude", Kind::Float),
        ("country", Kind::Text),
    ],
};

/// `user_data`, keyed by `ind`.
pub(crate) const USER: Table = Table {
    name: "user_data",
    alias: "u",
    columns: &[
        ("ind", Kind::Int),
        ("first_name", Kind::Text),
        ("last_name", Kind::Text),
        ("age", Kind::Int),
        ("date_joined", Kind::DateTime),
    ],
};

/// The three tables, in the order a post's columns are read.
pub(crate) const TABLES: [&Table; 3] = [&PIN, &GEO, &USER];

impl Table {
    /// The key column's name.
    fn key(&self) -> &'static str {
        self.columns.first().map_or("", |(name, _)| name)
    }
}

/// An SQL dialect: how it spells what the tables need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite (the embedded default): datetimes are text already; `INTEGER PRIMARY KEY` is the rowid.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
}

impl Dialect {
    /// `name` quoted as an identifier.
    fn quoted(self, name: &str) -> String {
        match self {
            Dialect::Mysql => format!("`{name}`"),
            Dialect::Sqlite | Dialect::Postgres => format!("\"{name}\""),
        }
    }

    /// Parameter `n` (1-based).
    fn param(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite | Dialect::Mysql => "?".to_owned(),
        }
    }

    fn column_type(self, kind: Kind) -> &'static str {
        match (kind, self) {
            (Kind::Int, Dialect::Sqlite) => "INTEGER",
            (Kind::Int, _) => "BIGINT",
            (Kind::Float, Dialect::Postgres) => "DOUBLE PRECISION",
            (Kind::Float, _) => "DOUBLE",
            (Kind::Text, _) => "TEXT",
            (Kind::DateTime, Dialect::Postgres) => "TIMESTAMP",
            (Kind::DateTime, _) => "DATETIME",
        }
    }

    /// What follows `CREATE TABLE …(…)`: MySQL tables are utf8mb4 whatever the server's default, so
    /// emoji survive.
    fn table_options(self) -> &'static str {
        match self {
            Dialect::Mysql => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            Dialect::Sqlite | Dialect::Postgres => "",
        }
    }

    /// How a write that replaces rows by key starts; PostgreSQL's ends in `ON CONFLICT … DO UPDATE`.
    fn insert(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INSERT OR REPLACE INTO",
            Dialect::Postgres => "INSERT INTO",
            Dialect::Mysql => "REPLACE INTO",
        }
    }

    /// A datetime parameter as the column accepts it.
    fn write_datetime(self, param: String) -> String {
        match self {
            Dialect::Postgres => format!("CAST({param} AS TIMESTAMP)"),
            Dialect::Sqlite | Dialect::Mysql => param,
        }
    }

    /// A datetime column read back as `YYYY-MM-DD HH:MM:SS` text.
    fn read_datetime(self, column: String) -> String {
        match self {
            Dialect::Sqlite => column,
            Dialect::Postgres => format!("to_char({column}, 'YYYY-MM-DD HH24:MI:SS')"),
            Dialect::Mysql => format!("DATE_FORMAT({column}, '%Y-%m-%d %H:%i:%s')"),
        }
    }

    fn create_table(self, table: &Table, name: &str) -> String {
        let columns: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, &(name, kind))| {
                let key = if i == 0 { " PRIMARY KEY" } else { " NOT NULL" };
                format!("{} {}{key}", self.quoted(name), self.column_type(kind))
            })
            .collect();
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n    {}\n){}",
            self.quoted(name),
            columns.join(",\n    "),
            self.table_options()
        )
    }

    /// A table's columns as a `SELECT` list under its alias, datetimes read back as text.
    fn select_list(self, table: &Table) -> String {
        let column = |&(name, kind): &(&str, Kind)| {
            let column = format!("{}.{}", table.alias, self.quoted(name));
            if kind == Kind::DateTime {
                self.read_datetime(column)
            } else {
                column
            }
        };
        let columns: Vec<String> = table.columns.iter().map(column).collect();
        columns.join(", ")
    }

    /// `FROM` the three tables joined on their keys: the keys present in all three.
    fn joined(self) -> String {
        let key = |t: &Table| format!("{}.{}", t.alias, self.quoted(t.key()));
        let mut from = format!("FROM {} {}", self.quoted(PIN.name), PIN.alias);
        for table in [&GEO, &USER] {
            from.push_str(&format!(
                " JOIN {} {} ON {} = {}",
                self.quoted(table.name),
                table.alias,
                key(table),
                key(&PIN)
            ));
        }
        from
    }
}

/// Replacing the tables on a server: staging tables filled, then swapped in ([`Sql::stage_tables`],
/// [`Sql::swap_staged`]). SQLite needs neither: it drops and fills the tables in one transaction.
impl Dialect {
    fn stage_tables(self) -> Vec<String> {
        let mut statements = Vec::new();
        if self == Dialect::Sqlite {
            return statements;
        }
        for table in TABLES {
            let staged = table.name_in(Target::Staged);
            statements.push(format!("DROP TABLE IF EXISTS {}", self.quoted(&staged)));
            if self == Dialect::Mysql {
                let retired = table.retired_name();
                statements.push(format!("DROP TABLE IF EXISTS {}", self.quoted(&retired)));
            }
            statements.push(self.create_table(table, &staged));
        }
        statements
    }

    fn swap_staged(self) -> Vec<String> {
        match self {
            Dialect::Mysql => {
                let renames: Vec<String> = TABLES
                    .iter()
                    .flat_map(|t| {
                        let live = self.quoted(t.name);
                        let retired = self.quoted(&t.retired_name());
                        let staged = self.quoted(&t.name_in(Target::Staged));
                        [
                            format!("{live} TO {retired}"),
                            format!("{staged} TO {live}"),
                        ]
                    })
                    .collect();
                let retired: Vec<String> = TABLES
                    .iter()
                    .map(|t| self.quoted(&t.retired_name()))
                    .collect();
                vec![
                    format!("RENAME TABLE {}", renames.join(", ")),
                    format!("DROP TABLE {}", retired.join(", ")),
                ]
            }
            Dialect::Sqlite => Vec::new(),
            Dialect::Postgres => TABLES
                .iter()
                .flat_map(|t| {
                    let staged = t.name_in(Target::Staged);
                    // The primary key's index keeps the name it was made with; it takes the
                    // table's, freed by the drop, so that the next staging table can have its own.
                    [
                        format!("DROP TABLE IF EXISTS {}", self.quoted(t.name)),
                        format!(
                            "ALTER TABLE {} RENAME TO {}",
                            self.quoted(&staged),
                            self.quoted(t.name)
                        ),
                        format!(
                            "ALTER INDEX IF EXISTS {} RENAME TO {}",
                            self.quoted(&format!("{staged}_pkey")),
                            self.quoted(&format!("{}_pkey", t.name))
                        ),
                    ]
                })
                .collect(),
        }
    }
}

/// Which tables a write goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// The three tables themselves.
    Live,
    /// Their staging copies (`pinterest_data__staged`, …), which a replacement fills before
    /// [`Sql::swap_staged`] puts them in the tables' place.
    Staged,
}

impl Table {
    /// The table's name in `target`.
    fn name_in(&self, target: Target) -> String {
        match target {
            Target::Live => self.name.to_owned(),
            Target::Staged => format!("{}__staged", self.name),
        }
    }

    /// The name a replaced table has between MySQL's rename and its drop.
    fn retired_name(&self) -> String {
        format!("{}__retired", self.name)
    }
}

/// The statements of one dialect, written once when a store opens.
#[derive(Debug)]
pub(crate) struct Sql {
    dialect: Dialect,
    /// Creates each table when missing.
    pub(crate) create_tables: Vec<String>,
    /// Drops each table.
    pub(crate) drop_tables: Vec<String>,
    /// Makes empty staging tables, dropping any that a stopped replacement left (and, on MySQL,
    /// any tables it retired but did not drop).
    pub(crate) stage_tables: Vec<String>,
    /// Puts the filled staging tables in the tables' place, the old tables dropped. On PostgreSQL
    /// these run in the transaction that filled the staging tables, so the swap is part of its
    /// commit. On MySQL, whose DDL commits at once, one `RENAME TABLE` swaps all three tables at
    /// once; readers see the old three or the new three.
    pub(crate) swap_staged: Vec<String>,
    /// The keys present in all three tables, ascending.
    pub(crate) select_keys: String,
    /// A post's columns (pin, geo, user, each in column order) by key, parameter 1.
    pub(crate) select_post: String,
    /// One row: the row counts of pin, geo and user.
    pub(crate) count_rows: String,
}

impl Sql {
    /// The statements in `dialect`.
    pub(crate) fn new(dialect: Dialect) -> Sql {
        let d = dialect;
        let pin_key = format!("{}.{}", PIN.alias, d.quoted(PIN.key()));
        let columns: Vec<String> = TABLES.iter().map(|t| d.select_list(t)).collect();
        let counts: Vec<String> = TABLES
            .iter()
            .map(|t| format!("(SELECT COUNT(*) FROM {})", d.quoted(t.name)))
            .collect();
        Sql {
            dialect,
            create_tables: TABLES.iter().map(|t| d.create_table(t, t.name)).collect(),
            drop_tables: TABLES
                .iter()
                .map(|t| format!("DROP TABLE IF EXISTS {}", d.quoted(t.name)))
                .collect(),
            select_keys: format!("SELECT {pin_key} {} ORDER BY {pin_key}", d.joined()),
            select_post: format!(
                "SELECT {} {} WHERE {pin_key} = {}",
                columns.join(", "),
                d.joined(),
                d.param(1)
            ),
            count_rows: format!("SELECT {}", counts.join(", ")),
            stage_tables: d.stage_tables(),
            swap_staged: d.swap_staged(),
        }
    }

    /// Writes `rows` rows of `table` in `target` (parameters row by row, each in column order),
    /// replacing rows with the same key. A key must not appear twice in one statement (PostgreSQL
    /// refuses).
    pub(crate) fn upsert(&self, table: &Table, target: Target, rows: usize) -> String {
        let d = self.dialect;
        let names: Vec<String> = table.columns.iter().map(|(n, _)| d.quoted(n)).collect();
        let width = table.columns.len();
        let mut sql = format!(
            "{} {} ({}) VALUES ",
            d.insert(),
            d.quoted(&table.name_in(target)),
            names.join(", ")
        );
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for (i, &(_, kind)) in table.columns.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let param = d.param(row * width + i + 1);
                if kind == Kind::DateTime {
                    sql.push_str(&d.write_datetime(param));
                } else {
                    sql.push_str(&param);
                }
            }
            sql.push(')');
        }
        if d == Dialect::Postgres {
            let updates: Vec<String> = names
                .iter()
                .skip(1)
                .map(|n| format!("{n} = EXCLUDED.{n}"))
                .collect();
            sql.push_str(&format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                d.quoted(table.key()),
                updates.join(", ")
            ));
        }
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_statements() {
        let sql = Sql::new(Dialect::Sqlite);
        assert_eq!(
            sql.upsert(&GEO, Target::Live, 1),
            r#"INSERT OR REPLACE INTO "geolocation_data" ("ind", "timestamp", "latitude", "longitude", "country") VALUES (?, ?, ?, ?, ?)"#
        );
        assert!(sql.create_tables[0].contains(r#""index" INTEGER PRIMARY KEY"#));
        assert_eq!(
            sql.select_keys,
            r#"SELECT p."index" FROM "pinterest_data" p JOIN "geolocation_data" g ON g."ind" = p."index" JOIN "user_data" u ON u."ind" = p."index" ORDER BY p."index""#
        );
    }

    #[test]
    fn postgres_statements() {
        let sql = Sql::new(Dialect::Postgres);
        assert_eq!(
            sql.upsert(&USER, Target::Live, 2),
            r#"INSERT INTO "user_data" ("ind", "first_name", "last_name", "age", "date_joined") VALUES ($1, $2, $3, $4, CAST($5 AS TIMESTAMP)), ($6, $7, $8, $9, CAST($10 AS TIMESTAMP)) ON CONFLICT ("ind") DO UPDATE SET "first_name" = EXCLUDED."first_name", "last_name" = EXCLUDED."last_name", "age" = EXCLUDED."age", "date_joined" = EXCLUDED."date_joined""#
        );
        assert!(
            sql.select_post
                .contains(r#"to_char(g."timestamp", 'YYYY-MM-DD HH24:MI:SS')"#)
        );
        assert!(sql.select_post.ends_with(r#"WHERE p."index" = $1"#));
        assert!(sql.create_tables[1].contains(r#""timestamp" TIMESTAMP NOT NULL"#));
        assert_eq!(
            sql.upsert(&GEO, Target::Staged, 1).split(" (").next(),
            Some(r#"INSERT INTO "geolocation_data__staged""#)
        );
        assert!(
            sql.stage_tables[1]
                .starts_with(r#"CREATE TABLE IF NOT EXISTS "pinterest_data__staged""#)
        );
        assert_eq!(
            sql.swap_staged[..3],
            [
                r#"DROP TABLE IF EXISTS "pinterest_data""#,
                r#"ALTER TABLE "pinterest_data__staged" RENAME TO "pinterest_data""#,
                r#"ALTER INDEX IF EXISTS "pinterest_data__staged_pkey" RENAME TO "pinterest_data_pkey""#,
            ]
        );
    }

    #[test]
    fn mysql_statements() {
        let sql = Sql::new(Dialect::Mysql);
        assert_eq!(
            sql.upsert(&USER, Target::Live, 1),
            "REPLACE INTO `user_data` (`ind`, `first_name`, `last_name`, `age`, `date_joined`) VALUES (?, ?, ?, ?, ?)"
        );
        assert!(sql.create_tables[0].starts_with(
            "CREATE TABLE IF NOT EXISTS `pinterest_data` (\n    `index` BIGINT PRIMARY KEY,"
        ));
        assert!(sql.create_tables[0].ends_with("CHARSET=utf8mb4 COLLATE=utf8mb4_bin"));
        assert!(
            sql.select_post
                .contains("DATE_FORMAT(u.`date_joined`, '%Y-%m-%d %H:%i:%s')")
        );
        assert_eq!(
            sql.count_rows,
            "SELECT (SELECT COUNT(*) FROM `pinterest_data`), (SELECT COUNT(*) FROM `geolocation_data`), (SELECT COUNT(*) FROM `user_data`)"
        );
        assert_eq!(
            sql.stage_tables[..2],
            [
                "DROP TABLE IF EXISTS `pinterest_data__staged`",
                "DROP TABLE IF EXISTS `pinterest_data__retired`",
            ]
        );
        assert_eq!(
            sql.swap_staged,
            [
                "RENAME TABLE `pinterest_data` TO `pinterest_data__retired`, `pinterest_data__staged` TO `pinterest_data`, \
                 `geolocation_data` TO `geolocation_data__retired`, `geolocation_data__staged` TO `geolocation_data`, \
                 `user_data` TO `user_data__retired`, `user_data__staged` TO `user_data`",
                "DROP TABLE `pinterest_data__retired`, `geolocation_data__retired`, `user_data__retired`",
            ]
        );
    }

    #[test]
    fn sqlite_replaces_without_staging() {
        let sql = Sql::new(Dialect::Sqlite);
        assert!(sql.stage_tables.is_empty() && sql.swap_staged.is_empty());
    }
}
