//! Cron expressions: the standard five fields and the `@` shorthands, evaluated in UTC by the
//! `croner` crate (POSIX / Vixie cron).
//!
//! ```text
//! ┌─ minute        0-59
//! │ ┌─ hour        0-23
//! │ │ ┌─ day of month 1-31
//! │ │ │ ┌─ month   1-12 or JAN-DEC
//! │ │ │ │ ┌─ day of week 0-7 or SUN-SAT (0 and 7 are Sunday)
//! * * * * *
//! ```
//!
//! Each field is a comma-separated list of items; an item is `*`, a value, or a range `a-b`, each
//! optionally followed by a step `/n` (`*/15`, `1-10/3`). Names are case-insensitive. Days follow
//! POSIX cron, as the croniter that Airflow 3.3 installs (7.x) reads them: when both day-of-month
//! and day-of-week are restricted (neither is `*`), a day matches if **either** matches
//! (`0 0 1,15 * MON` = the 1st, the 15th and every Monday; `0 0 */2 * 1` = odd days and Mondays);
//! otherwise both must match. (Vixie cron, and older croniter versions, treat a field starting with
//! `*`, like `*/2`, as unrestricted instead.) Schedules are evaluated in UTC, as Airflow's default time zone is.
//!
//! croner does the parsing and the search for occurrences; this module adds what a schedule shared
//! with Airflow needs around it:
//!
//! - the shorthands Airflow knows, `@midnight` included (croner lacks it): `@yearly`
//!   (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly`;
//! - a step on a single value read as Airflow (croniter) reads it, `5/15` = `5-59/15` (croner
//!   refuses it);
//! - errors that name the field at fault;
//! - an expression that can never fire (`0 0 30 2 *`) refused when it is parsed, not when it is
//!   first evaluated.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};

/// One of the five fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Minute of the hour, 0-59.
    Minute,
    /// Hour of the day, 0-23.
    Hour,
    /// Day of the month, 1-31.
    DayOfMonth,
    /// Month, 1-12 or JAN-DEC.
    Month,
    /// Day of the week, 0-7 (0 and 7 are Sunday) or SUN-SAT.
    DayOfWeek,
}

impl Field {
    const ALL: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    /// The field's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// The field's last value, what a step on a single value runs up to.
    fn max(self) -> &'static str {
        match self {
            Field::Minute => "59",
            Field::Hour => "23",
            Field::DayOfMonth => "31",
            Field::Month => "12",
            Field::DayOfWeek => "6",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cron expression that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron expression {expression:?}: {reason}")]
pub struct CronError {
    /// The expression as given.
    pub expression: String,
    /// The field at fault, when one is.
    pub field: Option<Field>,
    /// What is wrong, naming the field.
    pub reason: String,
}

/// A parsed cron expression.
#[derive(Clone, Debug)]
pub struct Cron {
    expression: String,
    schedule: croner::Cron,
}

impl PartialEq for Cron {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression
    }
}

impl Eq for Cron {}

impl FromStr for Cron {
    type Err = CronError;

    fn from_str(text: &str) -> Result<Cron, CronError> {
        Cron::parse(text)
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

impl Cron {
    /// Parses a five-field expression or an `@` shorthand.
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let expression = text.trim().to_owned();
        let error = |field: Option<Field>, reason: String| CronError {
            expression: expression.clone(),
            field,
            reason,
        };
        let fields: Vec<&str> = match expression.strip_prefix('@') {
            Some(name) => shorthand(name)
                .ok_or_else(|| {
                    error(
                        None,
                        format!(
                            "unknown shorthand @{name}: use @hourly, @daily (@midnight), @weekly, \
                             @monthly or @yearly (@annually), or five fields"
                        ),
                    )
                })?
                .split(' ')
                .collect(),
            None => expression.split_whitespace().collect(),
        };
        if fields.len() != 5 {
            return Err(error(
                None,
                format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week) or a shorthand \
                     such as @daily, found {}",
                    fields.len()
                ),
            ));
        }
        for (text, field) in fields.iter().zip(Field::ALL) {
            lint(text, field).map_err(|reason| {
                error(Some(field), format!("{field} field {text:?}: {reason}"))
            })?;
        }
        let fields: Vec<String> = fields
            .iter()
            .zip(Field::ALL)
            .map(|(text, field)| single_value_steps(text, field))
            .collect();
        // POSIX: only a day field that is `*` leaves the days to the other; croner combines two
        // restricted day fields with "or" unless told to use "and".
        let unrestricted = |field: &str| field == "*" || field == "?";
        let parser = croner::parser::CronParser::builder()
            .dom_and_dow(unrestricted(&fields[2]) || unrestricted(&fields[4]))
            .build();
        let schedule = parser.parse(&fields.join(" ")).map_err(|e| {
            // Which field croner refused: the first that fails on its own.
            let field = Field::ALL.into_iter().zip(&fields).find(|(i, text)| {
                let mut alone = ["*"; 5];
                alone[*i as usize] = text.as_str();
                croner::Cron::from_str(&alone.join(" ")).is_err()
            });
            match field {
                Some((field, text)) => error(Some(field), format!("{field} field {text:?}: {e}")),
                None => error(None, e.to_string()),
            }
        })?;
        let cron = Cron {
            expression: expression.clone(),
            schedule,
        };
        // Only the day fields can combine into something impossible, e.g. `0 0 30 2 *`.
        let reference = NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        if reference.is_some_and(|r| cron.next_after(r).is_none()) {
            return Err(error(
                Some(Field::DayOfMonth),
                format!(
                    "day-of-month field {:?} never falls in month field {:?}",
                    fields[2], fields[3]
                ),
            ));
        }
        Ok(cron)
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first time the schedule fires strictly after `t` (on a whole minute), or `None` if it
    /// never does.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.find_next_occurrence(&t, false).ok()
    }

    /// The first time the schedule fires at or after `t`.
    pub fn next_at_or_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // croner reads `t` to the second: past a whole minute, only later minutes can be it.
        let on_a_minute = t.timestamp_subsec_nanos() == 0 && t.timestamp() % 60 == 0;
        self.schedule.find_next_occurrence(&t, on_a_minute).ok()
    }

    /// The last time the schedule fired at or before `t`, or `None` if it never did.
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.find_previous_occurrence(&t, true).ok()
    }

    /// Every firing time strictly after `t`, in order.
    pub fn fires_after(&self, t: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        std::iter::successors(self.next_after(t), |&t| self.next_after(t))
    }
}

/// The five fields a shorthand stands for.
fn shorthand(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "yearly" | "annually" => "0 0 1 1 *",
        "monthly" => "0 0 1 * *",
        "weekly" => "0 0 * * 0",
        "daily" | "midnight" => "0 0 * * *",
        "hourly" => "0 * * * *",
        _ => return None,
    })
}

/// What croner lets through but cron does not: empty list items (`1,,2`), and names in a field
/// that has none (`MON` in the hour field).
fn lint(text: &str, field: Field) -> Result<(), String> {
    if text.split(',').any(str::is_empty) {
        return Err("empty list item".into());
    }
    let named = matches!(field, Field::Month | Field::DayOfWeek);
    if !named && text.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err("names are allowed only in the month and day-of-week fields".into());
    }
    Ok(())
}

/// `text` with every step on a single value (`5/15`) written as the range Airflow reads it
/// (`5-59/15`).
fn single_value_steps(text: &str, field: Field) -> String {
    let items: Vec<String> = text
        .split(',')
        .map(|item| match item.split_once('/') {
            Some((start, step)) if !start.is_empty() && start != "*" && !start.contains('-') => {
                format!("{start}-{}/{step}", field.max())
            }
            _ => item.to_owned(),
        })
        .collect();
    items.join(",")
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn cron(text: &str) -> Cron {
        Cron::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The first `n` firing times after `from`.
    fn fires(expression: &str, from: &str, n: usize) -> Vec<String> {
        cron(expression)
            .fires_after(at(from))
            .take(n)
            .map(|t| t.format("%Y-%m-%d %H:%M %a").to_string())
            .collect()
    }

    fn error(text: &str) -> CronError {
        match Cron::parse(text) {
            Ok(c) => panic!("{text:?} parsed as {c:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn every_minute() {
        assert_eq!(
            fires("* * * * *", "2024-01-01T00:00:30Z", 3),
            [
                "2024-01-01 00:01 Mon",
                "2024-01-01 00:02 Mon",
                "2024-01-01 00:03 Mon"
            ]
        );
    }

    #[test]
    fn next_after_is_strict_and_ignores_seconds() {
        let c = cron("30 * * * *");
        assert_eq!(
            c.next_after(at("2024-01-01T10:30:00Z")),
            Some(at("2024-01-01T11:30:00Z"))
        );
        assert_eq!(
            c.next_after(at("2024-01-01T10:29:59.999Z")),
            Some(at("2024-01-01T10:30:00Z"))
        );
        assert_eq!(
            c.next_at_or_after(at("2024-01-01T10:30:00Z")),
            Some(at("2024-01-01T10:30:00Z"))
        );
        assert_eq!(
            c.next_at_or_after(at("2024-01-01T10:30:00.5Z")),
            Some(at("2024-01-01T11:30:00Z"))
        );
    }

    #[test]
    fn minute_field_lists_ranges_and_steps() {
        assert_eq!(
            fires("*/20 * * * *", "2024-01-01T00:00:00Z", 4),
            [
                "2024-01-01 00:20 Mon",
                "2024-01-01 00:40 Mon",
                "2024-01-01 01:00 Mon",
                "2024-01-01 01:20 Mon"
            ]
        );
        assert_eq!(
            fires("5,10-12,50-59/5 * * * *", "2024-01-01T00:00:00Z", 7),
            [
                "2024-01-01 00:05 Mon",
                "2024-01-01 00:10 Mon",
                "2024-01-01 00:11 Mon",
                "2024-01-01 00:12 Mon",
                "2024-01-01 00:50 Mon",
                "2024-01-01 00:55 Mon",
                "2024-01-01 01:05 Mon"
            ]
        );
        // `a/n` runs from a to the field's end.
        assert_eq!(
            fires("45/7 * * * *", "2024-01-01T00:00:00Z", 3),
            [
                "2024-01-01 00:45 Mon",
                "2024-01-01 00:52 Mon",
                "2024-01-01 00:59 Mon"
            ]
        );
    }

    #[test]
    fn hour_field() {
        assert_eq!(
            fires("15 9-17/4 * * *", "2024-01-01T12:00:00Z", 3),
            [
                "2024-01-01 13:15 Mon",
                "2024-01-01 17:15 Mon",
                "2024-01-02 09:15 Tue"
            ]
        );
        assert_eq!(
            fires("0 0,12 * * *", "2024-01-01T00:00:00Z", 2),
            ["2024-01-01 12:00 Mon", "2024-01-02 00:00 Tue"]
        );
    }

    #[test]
    fn day_of_month_field_skips_short_months() {
        assert_eq!(
            fires("0 0 31 * *", "2024-01-31T00:00:00Z", 3),
            [
                "2024-03-31 00:00 Sun",
                "2024-05-31 00:00 Fri",
                "2024-07-31 00:00 Wed"
            ]
        );
        assert_eq!(
            fires("0 6 1-3 * *", "2024-02-02T07:00:00Z", 3),
            [
                "2024-02-03 06:00 Sat",
                "2024-03-01 06:00 Fri",
                "2024-03-02 06:00 Sat"
            ]
        );
    }

    #[test]
    fn february_29_comes_every_four_years() {
        assert_eq!(
            fires("0 0 29 2 *", "2024-03-01T00:00:00Z", 2),
            ["2028-02-29 00:00 Tue", "2032-02-29 00:00 Sun"]
        );
        assert_eq!(
            cron("0 0 29 2 *").last_at_or_before(at("2028-02-28T00:00:00Z")),
            Some(at("2024-02-29T00:00:00Z"))
        );
    }

    #[test]
    fn month_field_with_names() {
        assert_eq!(
            fires("0 0 1 jan,Jul *", "2024-01-01T00:00:00Z", 3),
            [
                "2024-07-01 00:00 Mon",
                "2025-01-01 00:00 Wed",
                "2025-07-01 00:00 Tue"
            ]
        );
        assert_eq!(
            fires("0 0 1 MAR-MAY/2 *", "2024-01-01T00:00:00Z", 2),
            ["2024-03-01 00:00 Fri", "2024-05-01 00:00 Wed"]
        );
        assert_eq!(
            fires("0 0 1 2 *", "2024-01-01T00:00:00Z", 3),
            fires("0 0 1 feb *", "2024-01-01T00:00:00Z", 3)
        );
    }

    #[test]
    fn day_of_week_field_sunday_is_0_or_7() {
        let expected = ["2024-01-07 00:00 Sun", "2024-01-14 00:00 Sun"];
        for sunday in ["0", "7", "SUN", "sun"] {
            assert_eq!(
                fires(&format!("0 0 * * {sunday}"), "2024-01-01T00:00:00Z", 2),
                expected,
                "{sunday}"
            );
        }
        assert_eq!(
            fires("0 0 * * MON-FRI", "2024-01-05T12:00:00Z", 2),
            ["2024-01-08 00:00 Mon", "2024-01-09 00:00 Tue"]
        );
        // 5-7 runs Friday to Sunday.
        assert_eq!(
            fires("0 0 * * 5-7", "2024-01-01T00:00:00Z", 4),
            [
                "2024-01-05 00:00 Fri",
                "2024-01-06 00:00 Sat",
                "2024-01-07 00:00 Sun",
                "2024-01-12 00:00 Fri"
            ]
        );
        // */2 on the weekday: Sunday, Tuesday, Thursday, Saturday.
        assert_eq!(
            fires("0 0 * * */2", "2024-01-01T00:00:00Z", 4),
            [
                "2024-01-02 00:00 Tue",
                "2024-01-04 00:00 Thu",
                "2024-01-06 00:00 Sat",
                "2024-01-07 00:00 Sun"
            ]
        );
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        // The 13th, and every Friday.
        assert_eq!(
            fires("0 0 13 * 5", "2024-09-01T00:00:00Z", 4),
            [
                "2024-09-06 00:00 Fri",
                "2024-09-13 00:00 Fri",
                "2024-09-20 00:00 Fri",
                "2024-09-27 00:00 Fri"
            ]
        );
        assert_eq!(
            fires("0 0 1,15 * MON", "2024-01-01T00:00:00Z", 4),
            [
                "2024-01-08 00:00 Mon",
                "2024-01-15 00:00 Mon",
                "2024-01-22 00:00 Mon",
                "2024-01-29 00:00 Mon"
            ]
        );
        assert_eq!(
            fires("0 0 1,16 * MON", "2024-01-01T00:00:00Z", 3),
            [
                "2024-01-08 00:00 Mon",
                "2024-01-15 00:00 Mon",
                "2024-01-16 00:00 Tue"
            ]
        );
    }

    #[test]
    fn a_stepped_day_field_is_restricted() {
        // Day-of-month `*/2` is restricted (POSIX, croniter 7): odd days, and Mondays.
        assert_eq!(
            fires("0 0 */2 * 1", "2024-01-01T00:00:00Z", 4),
            [
                "2024-01-03 00:00 Wed",
                "2024-01-05 00:00 Fri",
                "2024-01-07 00:00 Sun",
                "2024-01-08 00:00 Mon"
            ]
        );
    }

    #[test]
    fn shorthands() {
        let from = "2024-05-15T10:30:00Z";
        assert_eq!(fires("@hourly", from, 1), ["2024-05-15 11:00 Wed"]);
        assert_eq!(fires("@daily", from, 1), ["2024-05-16 00:00 Thu"]);
        assert_eq!(fires("@midnight", from, 1), ["2024-05-16 00:00 Thu"]);
        assert_eq!(fires("@weekly", from, 1), ["2024-05-19 00:00 Sun"]);
        assert_eq!(fires("@monthly", from, 1), ["2024-06-01 00:00 Sat"]);
        assert_eq!(fires("@yearly", from, 1), ["2025-01-01 00:00 Wed"]);
        assert_eq!(fires("@annually", from, 1), ["2025-01-01 00:00 Wed"]);
        assert_eq!(fires(" @DAILY ", from, 1), ["2024-05-16 00:00 Thu"]);
        assert_eq!(cron("@daily").to_string(), "@daily");
    }

    #[test]
    fn year_and_leap_day_boundaries() {
        assert_eq!(
            fires("59 23 * * *", "2023-12-31T23:59:00Z", 2),
            ["2024-01-01 23:59 Mon", "2024-01-02 23:59 Tue"]
        );
        assert_eq!(
            fires("0 12 28-31 2 *", "2024-02-28T13:00:00Z", 2),
            ["2024-02-29 12:00 Thu", "2025-02-28 12:00 Fri"]
        );
    }

    #[test]
    fn last_at_or_before() {
        let c = cron("0 */6 * * *");
        assert_eq!(
            c.last_at_or_before(at("2024-01-01T06:00:00Z")),
            Some(at("2024-01-01T06:00:00Z"))
        );
        assert_eq!(
            c.last_at_or_before(at("2024-01-01T05:59:59Z")),
            Some(at("2024-01-01T00:00:00Z"))
        );
        assert_eq!(
            c.last_at_or_before(at("2024-01-01T00:00:00Z")),
            Some(at("2024-01-01T00:00:00Z"))
        );
        assert_eq!(
            cron("@monthly").last_at_or_before(at("2024-03-15T00:00:00Z")),
            Some(at("2024-03-01T00:00:00Z"))
        );
        assert_eq!(
            cron("0 0 31 * *").last_at_or_before(at("2024-03-30T00:00:00Z")),
            Some(at("2024-01-31T00:00:00Z"))
        );
        assert_eq!(
            cron("0 0 * * FRI").last_at_or_before(at("2024-01-01T00:00:00Z")),
            Some(at("2023-12-29T00:00:00Z"))
        );
    }

    #[test]
    fn next_and_last_agree() {
        for expression in [
            "* * * * *",
            "*/7 3-5 * * *",
            "0 0 13 * 5",
            "0 0 29 2 *",
            "30 4 1,15 * *",
            "@weekly",
        ] {
            let c = cron(expression);
            let mut t = at("2023-12-30T22:17:00Z");
            for _ in 0..50 {
                let next = c.next_after(t).expect("fires");
                let just_before = next - TimeDelta::seconds(1);
                assert_eq!(c.last_at_or_before(next), Some(next), "{expression}");
                assert!(
                    c.last_at_or_before(just_before).is_none_or(|l| l <= t),
                    "{expression}: nothing fires between {t} and {next}"
                );
                t = next;
            }
        }
    }

    #[test]
    fn errors_name_the_field() {
        let e = error("60 * * * *");
        assert_eq!(e.field, Some(Field::Minute));
        assert!(
            e.to_string()
                .starts_with("invalid cron expression \"60 * * * *\": minute field \"60\": "),
            "{e}"
        );
        assert!(e.reason.contains("out of bounds"), "{e}");
        assert_eq!(error("0 24 * * *").field, Some(Field::Hour));
        assert_eq!(error("0 0 0 * *").field, Some(Field::DayOfMonth));
        assert_eq!(error("0 0 32 * *").field, Some(Field::DayOfMonth));
        assert_eq!(error("0 0 * 13 *").field, Some(Field::Month));
        assert_eq!(error("0 0 * FOO *").field, Some(Field::Month));
        assert_eq!(error("0 0 * * 8").field, Some(Field::DayOfWeek));
        let e = error("0 0 * * MONDAY");
        assert_eq!(e.field, Some(Field::DayOfWeek));
        assert!(e.reason.contains("\"MONDAY\""), "{e}");
        assert_eq!(error("0 0 * * FRI-MON").field, Some(Field::DayOfWeek));
        assert!(error("*/0 * * * *").reason.contains("zero"));
        assert_eq!(error("*/x * * * *").field, Some(Field::Minute));
        assert!(error("1,,2 * * * *").reason.contains("empty list item"));
        assert!(error("1- * * * *").reason.contains("minute field"));
        assert!(error("-1 * * * *").reason.contains("minute field"));
        // A name in a field without names.
        assert_eq!(error("0 MON * * *").field, Some(Field::Hour));
    }

    #[test]
    fn errors_on_the_whole_expression() {
        let e = error("* * * *");
        assert_eq!(e.field, None);
        assert!(e.reason.contains("expected 5 fields"), "{e}");
        assert!(e.reason.contains("found 4"), "{e}");
        assert!(error("0 * * * * *").reason.contains("found 6"));
        assert!(error("").reason.contains("found 0"));
        let e = error("@fortnightly");
        assert!(e.reason.contains("unknown shorthand @fortnightly"), "{e}");
        assert!(error("@reboot").reason.contains("unknown shorthand"));
    }

    #[test]
    fn impossible_days_are_refused() {
        let e = error("0 0 30 2 *");
        assert_eq!(e.field, Some(Field::DayOfMonth));
        assert!(e.reason.contains("never falls"), "{e}");
        assert!(error("0 0 31 4,6,9,11 *").reason.contains("never falls"));
        // With a restricted weekday the either-day rule makes it fire on those weekdays.
        assert!(Cron::parse("0 0 30 2 MON").is_ok());
    }
}
