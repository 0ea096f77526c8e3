//! Cron expressions: the standard five fields and the `@` shorthands, evaluated in UTC.
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
//! optionally followed by a step `/n` (`*/15`, `1-10/3`; `5/15` means `5-<max>/15`). Names are
//! case-insensitive. The shorthands are `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily`
//! (`@midnight`) and `@hourly`.
//!
//! Days follow Vixie cron: when both day-of-month and day-of-week are restricted (neither starts
//! with `*`), a day matches if **either** matches (`0 0 1,15 * MON` = the 1st, the 15th and every
//! Monday); otherwise both must match.
//!
//! Schedules are evaluated in UTC, as Airflow's default time zone is.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};

/// How far [`Cron::next_after`] and [`Cron::last_at_or_before`] look: every calendar pattern that
/// can match at all matches within this many years of any date (February 29 included).
const SEARCH_YEARS: i32 = 30;

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

    /// The values the field accepts.
    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    /// The values `*` stands for (day-of-week: 0-6, so that `*/2` does not count Sunday twice).
    fn star(self) -> (u32, u32) {
        match self {
            Field::DayOfWeek => (0, 6),
            other => other.bounds(),
        }
    }

    /// Names accepted for values, the first one standing for the field's first value.
    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &[
                "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
            ],
            Field::DayOfWeek => &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
            _ => &[],
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    expression: String,
    /// Bit `v` set when value `v` matches, one mask per field in [`Field`] order (day-of-week 7
    /// folded into 0).
    masks: [u64; 5],
    /// Whether day-of-month starts with `*` (Vixie cron's rule for combining the two day fields).
    dom_star: bool,
    /// Whether day-of-week starts with `*`.
    dow_star: bool,
}

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
        let mut masks = [0; 5];
        for ((mask, field), text) in masks.iter_mut().zip(Field::ALL).zip(&fields) {
            *mask = parse_field(text, field).map_err(|reason| {
                error(Some(field), format!("{field} field {text:?}: {reason}"))
            })?;
        }
        let sunday = 1 << 7;
        if masks[4] & sunday != 0 {
            masks[4] = (masks[4] & !sunday) | 1;
        }
        let cron = Cron {
            masks,
            dom_star: fields[2].starts_with('*'),
            dow_star: fields[4].starts_with('*'),
            expression: expression.clone(),
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
    /// never does before the end of chrono's calendar.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = truncate_to_minute(t.naive_utc()).checked_add_signed(TimeDelta::minutes(1))?;
        let limit = t.year().checked_add(SEARCH_YEARS)?;
        while t.year() <= limit {
            t = if !self.matches(Field::Month, t.month()) {
                first_of_next_month(t.date())?
            } else if !self.matches_day(t.date()) {
                t.date().succ_opt()?.and_hms_opt(0, 0, 0)?
            } else if !self.matches(Field::Hour, t.hour()) {
                t.with_minute(0)?.checked_add_signed(TimeDelta::hours(1))?
            } else if !self.matches(Field::Minute, t.minute()) {
                t.checked_add_signed(TimeDelta::minutes(1))?
            } else {
                return Some(t.and_utc());
            };
        }
        None
    }

    /// The first time the schedule fires at or after `t`.
    pub fn next_at_or_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_after(t.checked_sub_signed(TimeDelta::nanoseconds(1))?)
    }

    /// The last time the schedule fired at or before `t`, or `None` if it never did since the
    /// start of chrono's calendar.
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = truncate_to_minute(t.naive_utc());
        let limit = t.year().checked_sub(SEARCH_YEARS)?;
        let minute = TimeDelta::minutes(1);
        while t.year() >= limit {
            t = if !self.matches(Field::Month, t.month()) {
                let first = t.date().with_day(1)?.and_hms_opt(0, 0, 0)?;
                first.checked_sub_signed(minute)?
            } else if !self.matches_day(t.date()) {
                t.date().and_hms_opt(0, 0, 0)?.checked_sub_signed(minute)?
            } else if !self.matches(Field::Hour, t.hour()) {
                t.with_minute(0)?.checked_sub_signed(minute)?
            } else if !self.matches(Field::Minute, t.minute()) {
                t.checked_sub_signed(minute)?
            } else {
                return Some(t.and_utc());
            };
        }
        None
    }

    /// Every firing time strictly after `t`, in order.
    pub fn fires_after(&self, t: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        std::iter::successors(self.next_after(t), |&t| self.next_after(t))
    }

    fn matches(&self, field: Field, value: u32) -> bool {
        self.masks[field as usize] & (1 << value) != 0
    }

    /// Vixie cron: with both day fields restricted either may match; otherwise both must.
    fn matches_day(&self, date: NaiveDate) -> bool {
        let dom = self.matches(Field::DayOfMonth, date.day());
        let dow = self.matches(Field::DayOfWeek, date.weekday().num_days_from_sunday());
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
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

/// The set of values a field's text stands for, as a bit mask.
fn parse_field(text: &str, field: Field) -> Result<u64, String> {
    let mut mask = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err("empty list item".into());
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("step {step:?} is not a positive number"))?;
                if step == 0 {
                    return Err("step 0 never advances".into());
                }
                (range, Some(step))
            }
            None => (item, None),
        };
        let (low, high) = if range == "*" {
            field.star()
        } else if let Some((a, b)) = range.split_once('-') {
            let (low, high) = (value(a, field)?, value(b, field)?);
            if low > high {
                return Err(format!("range {range:?} goes backwards"));
            }
            (low, high)
        } else {
            let low = value(range, field)?;
            (
                low,
                if step.is_some() {
                    field.bounds().1
                } else {
                    low
                },
            )
        };
        let step = step.unwrap_or(1) as usize;
        for v in (low..=high).step_by(step) {
            mask |= 1 << v;
        }
    }
    Ok(mask)
}

/// One value: a number in the field's bounds, or a name.
fn value(text: &str, field: Field) -> Result<u32, String> {
    let (min, max) = field.bounds();
    if let Ok(v) = text.parse::<u32>() {
        return if (min..=max).contains(&v) {
            Ok(v)
        } else {
            Err(format!("{v} is out of range {min}-{max}"))
        };
    }
    let names = field.names();
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(min + i as u32);
    }
    Err(match (names.first(), names.last()) {
        (Some(first), Some(last)) => {
            format!("{text:?} is neither a number {min}-{max} nor a name {first}-{last}")
        }
        _ => format!("{text:?} is not a number {min}-{max}"),
    })
}

fn truncate_to_minute(t: NaiveDateTime) -> NaiveDateTime {
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDateTime> {
    let (year, month) = if date.month() == 12 {
        (date.year().checked_add(1)?, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)?.and_hms_opt(0, 0, 0)
}

#[cfg(test)]
mod tests {
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
        assert_eq!(cron("0 0 1 2 *").masks, cron("0 0 1 feb *").masks);
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
    fn a_star_day_field_means_both() {
        // Day-of-month `*/2` starts with `*`: odd days that are also Mondays.
        assert_eq!(
            fires("0 0 */2 * 1", "2024-01-01T00:00:00Z", 3),
            [
                "2024-01-15 00:00 Mon",
                "2024-01-29 00:00 Mon",
                "2024-02-05 00:00 Mon"
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
        assert_eq!(
            e.to_string(),
            "invalid cron expression \"60 * * * *\": minute field \"60\": 60 is out of range 0-59"
        );
        assert_eq!(error("0 24 * * *").field, Some(Field::Hour));
        assert_eq!(error("0 0 0 * *").field, Some(Field::DayOfMonth));
        assert_eq!(error("0 0 32 * *").field, Some(Field::DayOfMonth));
        assert_eq!(error("0 0 * 13 *").field, Some(Field::Month));
        assert_eq!(error("0 0 * FOO *").field, Some(Field::Month));
        assert_eq!(error("0 0 * * 8").field, Some(Field::DayOfWeek));
        let e = error("0 0 * * MONDAY");
        assert_eq!(e.field, Some(Field::DayOfWeek));
        assert!(
            e.reason
                .contains("\"MONDAY\" is neither a number 0-7 nor a name SUN-SAT"),
            "{e}"
        );
        assert!(error("0 0 * * FRI-MON").reason.contains("goes backwards"));
        assert!(error("*/0 * * * *").reason.contains("step 0"));
        assert!(error("*/x * * * *").reason.contains("step \"x\""));
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
        // With a restricted weekday the Vixie rule makes it fire on those weekdays.
        assert!(Cron::parse("0 0 30 2 MON").is_ok());
    }
}
