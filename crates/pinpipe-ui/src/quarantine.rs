//! `/api/quarantine`: the records the cleaning refused, counted by table and reason, with a few
//! examples each. A reason is grouped by what comes before its first `:` ("invalid JSON: EOF
//! while parsing…" and "invalid JSON: expected value…" are one reason, "invalid JSON").

use pinpipe_lake::delta::QUARANTINE_PATH;
use pinpipe_lake::raw::RAW_ROOT;
use pinpipe_lake::session::{new_session, register_table};
use pinpipe_lake::{Lake, LakeError, text_rows};
use serde::Serialize;

use crate::error::UiError;

/// Examples shown per reason at most.
const EXAMPLES: usize = 3;

/// The quarantine view.
#[derive(Clone, Default, Serialize)]
pub struct QuarantineView {
    total: u64,
    reasons: Vec<Reason>,
}

#[derive(Clone, Serialize)]
struct Reason {
    table: String,
    reason: String,
    count: u64,
    examples: Vec<Example>,
}

#[derive(Clone, Serialize)]
struct Example {
    source: String,
    position: i64,
    /// The job that quarantined it: `batch` (its source is a raw object) or `stream`.
    job: &'static str,
    /// The whole reason, the bad value included (the group's is what comes before its `:`).
    detail: String,
    raw: String,
}

/// Counts and examples, largest reason first; empty before anything was quarantined.
pub async fn read(lake: &Lake) -> Result<QuarantineView, UiError> {
    let ctx = new_session()?;
    if !register_table(&ctx, lake, "quarantine", QUARANTINE_PATH).await? {
        return Ok(QuarantineView::default());
    }
    let counts = format!(
        "WITH q AS (SELECT \"table\", split_part(reason, ':', 1) AS reason, source, position, raw,
                           reason AS detail
                    FROM quarantine),
              ranked AS (SELECT *, row_number() OVER (PARTITION BY \"table\", reason
                                                      ORDER BY source, position) AS n
                         FROM q)
         SELECT r.\"table\", r.reason, CAST(c.count AS BIGINT) AS reason_count, r.source,
                CAST(r.position AS BIGINT), r.raw, r.detail
         FROM ranked r
         JOIN (SELECT \"table\", reason, COUNT(*) AS count FROM q GROUP BY \"table\", reason) c
           ON r.\"table\" = c.\"table\" AND r.reason = c.reason
         WHERE r.n <= {EXAMPLES}
         ORDER BY reason_count DESC, r.\"table\", r.reason, r.n"
    );
    let batches = ctx
        .sql(&counts)
        .await
        .map_err(LakeError::from)?
        .collect()
        .await
        .map_err(LakeError::from)?;
    let mut view = QuarantineView::default();
    for row in text_rows(&batches)? {
        let [table, reason, count, source, position, raw, detail] = <[String; 7]>::try_from(row)
            .map_err(|row| LakeError::Internal(format!("quarantine row {row:?}")))?;
        let example = Example {
            job: if source.starts_with(RAW_ROOT) {
                "batch"
            } else {
                "stream"
            },
            source,
            position: position.parse().unwrap_or_default(),
            detail,
            raw,
        };
        match view.reasons.last_mut() {
            Some(last) if last.table == table && last.reason == reason => {
                last.examples.push(example);
            }
            _ => {
                let count = count.parse().unwrap_or_default();
                view.total += count;
                view.reasons.push(Reason {
                    table,
                    reason,
                    count,
                    examples: vec![example],
                });
            }
        }
    }
    Ok(view)
}
