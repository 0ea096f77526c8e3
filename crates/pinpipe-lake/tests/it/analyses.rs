//! The nine analyses on a small hand-made lake whose answers were worked out by hand: age and year
//! boundaries, ties, lower medians of odd and even counts, nulls, UTC years, CSV quoting.

use pinpipe_lake::{LakeError, RESULTS_DIR, query, run_analyses, text_rows};
use pinpipe_model::Table;
use serde_json::{Map, Value, json};

use crate::common::{Backend, TestLake, TestResult, backend_tests};

fn record(fields: &[(&str, Option<Value>)]) -> String {
    let object: Map<String, Value> = fields
        .iter()
        .filter_map(|(k, v)| Some(((*k).to_owned(), v.clone()?)))
        .collect();
    Value::Object(object).to_string()
}

fn pin(ind: i64, category: Option<&str>, follower_count: &str, poster: &str) -> String {
    record(&[
        ("index", Some(json!(ind))),
        (
            "unique_id",
            Some(json!(format!("00000000-0000-4000-8000-{ind:012}"))),
        ),
        ("title", Some(json!("title"))),
        ("description", Some(json!("description"))),
        ("poster_name", Some(json!(poster))),
        ("follower_count", Some(json!(follower_count))),
        ("tag_list", Some(json!("a,b"))),
        ("is_image_or_video", Some(json!("image"))),
        (
            "image_src",
            Some(json!("https://i.pinimg.com/originals/x.jpg")),
        ),
        ("downloaded", Some(json!(1))),
        (
            "save_location",
            Some(json!(format!(
                "Local save in /data/{}",
                category.unwrap_or("x")
            ))),
        ),
        ("category", category.map(|c| json!(c))),
    ])
}

fn geo(ind: i64, country: Option<&str>, timestamp: &str) -> String {
    record(&[
        ("ind", Some(json!(ind))),
        ("timestamp", Some(json!(timestamp))),
        ("latitude", Some(json!(10.5))),
        ("longitude", Some(json!(-20.25))),
        ("country", country.map(|c| json!(c))),
    ])
}

fn user(ind: i64, age: Option<Value>, date_joined: Option<&str>) -> String {
    record(&[
        ("ind", Some(json!(ind))),
        ("first_name", Some(json!("First"))),
        ("last_name", Some(json!("Last"))),
        ("age", age),
        ("date_joined", date_joined.map(|d| json!(d))),
    ])
}

const KOREA: &str = "Korea, Republic of";
const SAY_HI: &str = "Say \"Hi\"";

/// The hand-made lake (see each analysis's expected rows below for the reasoning).
async fn edge_case_lake(backend: &Backend) -> TestResult<TestLake> {
    let lake = TestLake::on(backend)?;
    let pins_a = vec![
        pin(16, Some("tattoos"), "999", "Early copy"), // replaced by the later copy below
        pin(1, Some("art"), "100", "Ann"),
        pin(2, Some("art"), "200", "Bob"),
        pin(3, Some("beauty"), "300", "Cy"),
        pin(4, Some("beauty"), "1k", "Dee"),
        pin(5, Some("art"), "2k", "Eve"),
        pin(6, Some("diy"), "50", "Fay"),
        pin(7, Some("diy"), "40", "Gus"),
        pin(8, None, "User Info Error", "Hal"),
    ];
    let pins_b = vec![
        pin(9, Some("art"), "1M", "Ivy"),
        pin(10, Some("travel"), "1M", "Jo"),
        pin(11, Some("art"), "9", "Kim"),
        pin(12, Some("beauty"), "300", "Cy"),
        pin(13, Some("diy"), "5k", "Lu"),
        pin(14, Some("diy"), "1", "Mo"),
        pin(15, Some("diy"), "50", "Max"),
        pin(16, Some("art"), "3k", "Ned"),
    ];
    let geos = vec![
        geo(1, Some("France"), "2017-12-31 23:59:59"),
        geo(2, Some("France"), "2018-01-01 00:00:00"),
        geo(3, Some("France"), "2022-12-31 23:59:59"),
        geo(4, Some("Chad"), "2023-01-01 00:00:00"),
        geo(5, Some("Chad"), "2020-06-01 12:00:00"),
        geo(6, Some(KOREA), "2019-03-03 03:03:03"),
        geo(7, Some(KOREA), "2019-04-04 04:04:04"),
        geo(8, None, "2019-01-01 00:00:00"),
        geo(9, Some(SAY_HI), "2021-01-01 00:00:00"),
        geo(10, Some("Chad"), "2021-02-02 00:00:00"),
        geo(11, Some("France"), "2022-12-31T23:30:00-01:00"), // 2023 in UTC
        geo(12, Some("France"), "2019-05-05 05:05:05"),
        geo(15, Some(KOREA), "2019-11-11 11:11:11"),
    ];
    let users = vec![
        user(1, Some(json!(17)), Some("2014-12-31 23:59:59")),
        user(2, Some(json!(18)), Some("2015-01-01 00:00:00")),
        user(3, Some(json!(24)), Some("2020-12-31 23:59:59")),
        user(4, Some(json!(25)), Some("2021-01-01 00:00:00")),
        user(5, Some(json!(35)), Some("2016-05-05 10:00:00")),
        user(6, Some(json!(36)), Some("2016-07-07 07:07:07")),
        user(7, Some(json!(50)), Some("2017-01-01 00:00:00")),
        user(8, Some(json!(51)), Some("2017-06-06 06:06:06")),
        user(9, None, Some("2018-02-02 02:02:02")),
        user(10, Some(json!(60)), None),
        user(13, Some(json!(40)), Some("2019-09-09 09:09:09")),
        user(14, Some(json!(45)), Some("2019-10-10T10:10:10")),
        user(16, Some(json!("30")), Some("2015-06-06 06:06:06")),
    ];
    lake.put_raw(Table::Pin, 0, 0, &pins_a).await?;
    lake.put_raw(Table::Pin, 0, 100, &pins_b).await?;
    lake.put_raw(Table::Geo, 0, 0, &geos).await?;
    lake.put_raw(Table::User, 0, 0, &users).await?;
    let report = lake.batch().await?;
    assert_eq!(report.rejected(), 0, "every hand-made record is valid");
    Ok(lake)
}

/// (file, expected CSV) for every analysis.
const EXPECTED: [(&str, &str); 9] = [
    (
        // France: art 3 (1, 2, 11), beauty 2; Chad: a three-way tie; Korea: diy 3; row 8 has no
        // country nor category.
        "popular_category_by_country.csv",
        "country,category,category_count\n\
         Chad,art,1\nChad,beauty,1\nChad,travel,1\nFrance,art,3\n\
         \"Korea, Republic of\",diy,3\n\"Say \"\"Hi\"\"\",art,1\n",
    ),
    (
        // 2017-12-31 23:59:59 and 2023-01-01 are out, 2018-01-01 and 2022-12-31 23:59:59 are in;
        // 2022-12-31T23:30-01:00 is 2023 in UTC, so out.
        "posts_per_category_by_year.csv",
        "post_year,category,category_count\n\
         2018,art,1\n2019,beauty,1\n2019,diy,3\n2020,art,1\n2021,art,1\n2021,travel,1\n2022,beauty,1\n",
    ),
    (
        // France: Cy 300 twice (rows 3 and 12) is one distinct row; Korea: Fay and Max tie at 50.
        "most_followed_user_by_country.csv",
        "country,poster_name,follower_count\n\
         Chad,Jo,1000000\nFrance,Cy,300\n\"Korea, Republic of\",Fay,50\n\
         \"Korea, Republic of\",Max,50\n\"Say \"\"Hi\"\"\",Ivy,1000000\n",
    ),
    (
        // Chad and Say "Hi" tie at 1M.
        "country_with_most_followed_user.csv",
        "country,follower_count\nChad,1000000\n\"Say \"\"Hi\"\"\",1000000\n",
    ),
    (
        // 17 is in no group, 18 and 24 are 18-24, 25 and 35 are 25-35, 36 and 50 are 36-50, 51 is 50+;
        // 18-24 is a tie; row 16's early copy (tattoos) was replaced by art.
        "popular_category_by_age_group.csv",
        "age_group,category,category_count\n\
         18-24,art,1\n18-24,beauty,1\n25-35,art,2\n36-50,diy,4\n50+,travel,1\n",
    ),
    (
        // 18-24: [200, 300] → 200; 25-35: [1000, 2000, 3000] → 2000; 36-50: [1, 40, 50, 5000] → 40;
        // 50+: row 8's follower_count is null, so [1000000].
        "median_followers_by_age_group.csv",
        "age_group,median_follower_count\n18-24,200\n25-35,2000\n36-50,40\n50+,1000000\n",
    ),
    (
        // 2014-12-31 23:59:59 and 2021-01-01 are out, 2015-01-01 and 2020-12-31 23:59:59 are in;
        // row 10 has no date_joined.
        "users_joined_by_year.csv",
        "post_year,number_users_joined\n2015,2\n2016,2\n2017,2\n2018,1\n2019,2\n2020,1\n",
    ),
    (
        "median_followers_by_join_year.csv",
        "post_year,median_follower_count\n2015,200\n2016,50\n2017,40\n2018,1000000\n2019,1\n2020,300\n",
    ),
    (
        "median_followers_by_age_group_and_join_year.csv",
        "age_group,post_year,median_follower_count\n\
         18-24,2015,200\n18-24,2020,300\n25-35,2015,3000\n25-35,2016,2000\n\
         36-50,2016,50\n36-50,2017,40\n36-50,2019,1\n",
    ),
];

#[tokio::test]
async fn nine_analyses_on_edge_cases() -> TestResult {
    let lake = edge_case_lake(&Backend::Local).await?;
    let results = run_analyses(&lake.lake, "tables").await?;
    assert_eq!(
        results.iter().map(|r| r.number).collect::<Vec<_>>(),
        (1..=9).collect::<Vec<u8>>()
    );
    for (result, (file, csv)) in results.iter().zip(EXPECTED) {
        assert_eq!(result.file, file);
        let written = lake.get_text(&format!("{RESULTS_DIR}/{file}")).await?;
        assert_eq!(written, csv, "{file}");
        let header = csv.lines().next().unwrap_or_default();
        assert_eq!(result.columns.join(","), header);
        assert_eq!(result.rows.len(), csv.lines().count() - 1);
    }
    Ok(())
}

backend_tests! {
    async fn analyses_need_the_tables(backend: Backend) -> TestResult {
        let lake = TestLake::on(&backend)?;
        let err = run_analyses(&lake.lake, "tables").await;
        assert!(
            matches!(err, Err(LakeError::TableMissing { ref path }) if path == "tables/pin"),
            "{err:?}"
        );
        Ok(())
    }

    async fn query_sees_every_existing_table(backend: Backend) -> TestResult {
        let lake = edge_case_lake(&backend).await?;
        let rows = text_rows(
            &query(
                &lake.lake,
                "SELECT (SELECT COUNT(*) FROM pin) AS pins, (SELECT COUNT(*) FROM geo) AS geos, \
                 (SELECT COUNT(*) FROM \"user\") AS users, (SELECT COUNT(*) FROM quarantine) AS rejects",
            )
            .await?,
        )?;
        assert_eq!(rows, vec![vec!["16", "13", "13", "0"]]);
        // The stream tables do not exist yet, so they are not registered; the error says which
        // job writes them.
        let err = query(&lake.lake, "SELECT * FROM stream_pin").await;
        assert!(
            matches!(err, Err(LakeError::TableMissing { ref path }) if path == "stream/pin"),
            "{err:?}"
        );
        let shown = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(shown.ends_with("(run the stream job first)"), "{shown}");
        let err = query(&lake.lake, "SELECT * FROM no_such_table").await;
        assert!(matches!(err, Err(LakeError::Query(_))), "{err:?}");
        let err = query(&lake.lake, "SELEC 1").await;
        assert!(matches!(err, Err(LakeError::Query(_))), "{err:?}");
        Ok(())
    }

    /// Ad-hoc SQL only reads: what would change a table (a row appended without cleaning) or
    /// touch files elsewhere is refused, and the tables stay as they were.
    async fn query_refuses_sql_that_writes(backend: Backend) -> TestResult {
        let lake = edge_case_lake(&backend).await?;
        let version = lake.version("tables/pin").await?;
        let elsewhere = tempfile::tempdir()?;
        let copied = elsewhere.path().join("copied.csv");
        for sql in [
            "INSERT INTO pin (ind) VALUES (99)".to_owned(),
            format!("COPY (SELECT * FROM pin) TO '{}'", copied.display()),
            "DROP TABLE pin".to_owned(),
            "CREATE VIEW v AS SELECT 1".to_owned(),
            "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION '/etc/passwd'".to_owned(),
            "SET datafusion.execution.batch_size = 1".to_owned(),
        ] {
            let err = query(&lake.lake, &sql).await;
            assert!(matches!(err, Err(LakeError::Query(_))), "{sql}: {err:?}");
        }
        assert_eq!(lake.version("tables/pin").await?, version);
        assert_eq!(lake.number("SELECT COUNT(*) FROM pin").await?, 16);
        assert!(!copied.exists());
        Ok(())
    }

    /// A `LIMIT` over a scan that reads no column holds (DataFusion's limit pushdown dropped it
    /// over delta-rs's metadata-only scan, and every row came back).
    async fn query_limits_hold_over_scans_of_no_column(backend: Backend) -> TestResult {
        let lake = edge_case_lake(&backend).await?;
        assert_eq!(lake.rows("SELECT 1 FROM pin LIMIT 2").await?.len(), 2);
        assert_eq!(
            lake.number("SELECT COUNT(*) FROM (SELECT 1 AS x FROM pin LIMIT 3)")
                .await?,
            3
        );
        Ok(())
    }
}
