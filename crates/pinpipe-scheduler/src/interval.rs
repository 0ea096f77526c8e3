//! [`Interval`]: the span of time one run covers (Airflow's data interval), the intervals a cron
//! schedule cuts time into, and reading the dates a user types.
//!
//! A schedule's firing times `f0 < f1 < f2 …` cut time into intervals `[f0, f1)`, `[f1, f2)`, …;
//! the run for an interval happens once it has ended, at its `end` — as Airflow runs the data
//! interval of `@daily` for Monday early on Tuesday. A manual run covers the instant it was asked
//! for ([`Interval::at`]).

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use serde::Serialize;

use crate::cron::Cron;
use crate::error::{Result, SchedulerError};

/// The span of time a run covers: from `start` (inclusive) to `end` (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Interval {
    /// Where it starts: Airflow's logical date.
    pub start: DateTime<Utc>,
    /// Where it ends: the run is due from then on.
    pub end: DateTime<Utc>,
}

impl Interval {
    /// The interval of a manual run: the instant `t`.
    pub fn at(t: DateTime<Utc>) -> Interval {
        Interval { start: t, end: t }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", show_time(self.start))
        } else {
            write!(f, "{} → {}", show_time(self.start), show_time(self.end))
        }
    }
}

/// `2024-01-01 00:00`, with seconds only when there are any.
pub fn show_time(t: DateTime<Utc>) -> String {
    if t.second() == 0 && t.nanosecond() == 0 {
        t.format("%Y-%m-%d %H:%M").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

impl Cron {
    /// The intervals starting at the first firing time at or after `t`, in order.
    pub fn intervals_from(&self, t: DateTime<Utc>) -> impl Iterator<Item = Interval> + '_ {
        let mut start = self.next_at_or_after(t);
        std::iter::from_fn(move || {
            let s = start?;
            let end = self.next_after(s)?;
            start = Some(end);
            Some(Interval { start: s, end })
        })
    }

    /// The last interval that has ended at `now` (its end at or before `now`).
    pub fn latest_complete(&self, now: DateTime<Utc>) -> Option<Interval> {
        let end = self.last_at_or_before(now)?;
        let start = self.last_at_or_before(end.checked_sub_signed(TimeDelta::nanoseconds(1))?)?;
        Some(Interval { start, end })
    }
}

/// Reads a point in time as a user types it, in UTC unless an offset is given: `2024-01-31`,
/// `2024-01-31 06:00`, `2024-01-31T06:00:00`, `2024-01-31T06:00:00Z`, `2024-01-31T06:00:00+02:00`.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = text.strip_suffix('Z').unwrap_or(text);
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, format) {
            return Ok(t.and_utc());
        }
    }
    if let Some(midnight) = NaiveDate::parse_from_str(naive, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(midnight.and_utc());
    }
    Err(SchedulerError::InvalidTime(format!(
        "{text:?}: expected a date such as 2024-01-31, 2024-01-31 06:00 or 2024-01-31T06:00:00Z"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        parse_time(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn daily() -> Cron {
        Cron::parse("@daily").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn intervals_follow_the_firing_times() {
        let intervals: Vec<String> = daily()
            .intervals_from(t("2024-01-30 12:00"))
            .take(3)
            .map(|i| i.to_string())
            .collect();
        assert_eq!(
            intervals,
            [
                "2024-01-31 00:00 → 2024-02-01 00:00",
                "2024-02-01 00:00 → 2024-02-02 00:00",
                "2024-02-02 00:00 → 2024-02-03 00:00"
            ]
        );
        let first = daily().intervals_from(t("2024-01-31")).next();
        assert_eq!(first.map(|i| i.start), Some(t("2024-01-31")));
    }

    #[test]
    fn latest_complete_interval() {
        let latest = daily().latest_complete(t("2024-02-02 13:30"));
        assert_eq!(
            latest,
            Some(Interval {
                start: t("2024-02-01"),
                end: t("2024-02-02")
            })
        );
        let on_the_boundary = daily().latest_complete(t("2024-02-02"));
        assert_eq!(on_the_boundary, latest);
        let hourly = Cron::parse("@hourly").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            hourly.latest_complete(t("2024-02-02 13:30")),
            Some(Interval {
                start: t("2024-02-02 12:00"),
                end: t("2024-02-02 13:00")
            })
        );
    }

    #[test]
    fn times_as_users_type_them() {
        let six = DateTime::parse_from_rfc3339("2024-01-31T06:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"));
        for text in [
            "2024-01-31 06:00",
            "2024-01-31T06:00",
            "2024-01-31 06:00:00",
            "2024-01-31T06:00:00Z",
            "2024-01-31T08:00:00+02:00",
            " 2024-01-31T06:00:00.000 ",
        ] {
            assert_eq!(t(text), six, "{text}");
        }
        assert_eq!(t("2024-01-31").to_rfc3339(), "2024-01-31T00:00:00+00:00");
        let error = parse_time("31/01/2024").unwrap_err().to_string();
        assert!(error.contains("\"31/01/2024\""), "{error}");
        assert!(parse_time("2024-02-30").is_err());
    }

    #[test]
    fn display() {
        assert_eq!(
            Interval::at(t("2024-01-31 06:00:07")).to_string(),
            "2024-01-31 06:00:07"
        );
    }
}
