//! Mapping between rows and records: enums as their variant name, timestamps as microseconds.

use herald_api::RunPhase;
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::types::{RunRecord, Transition};

/// The text an enum is stored as: its variant name.
pub(crate) fn enum_text(value: impl std::fmt::Display) -> String {
    value.to_string()
}

/// A timestamp as stored: microseconds since the Unix epoch.
pub(crate) fn micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

/// The current time, truncated to what the store keeps.
pub(crate) fn now() -> Timestamp {
    let at = Timestamp::now();
    Timestamp::from_microsecond(at.as_microsecond()).unwrap_or(at)
}

/// A stored timestamp, if it is in range.
pub(crate) fn time(us: i64) -> Option<Timestamp> {
    Timestamp::from_microsecond(us).ok()
}

/// Reads a [`RunRecord`] from a row holding the `runs` columns it is made of.
pub(crate) fn run_record(row: &AnyRow) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: get(row, "id")?,
        name: get(row, "name")?,
        namespace: get(row, "namespace")?,
        trigger_kind: get_enum(row, "trigger_kind")?,
        trigger: get(row, "trigger_name")?,
        source_kind: get_enum(row, "source_kind")?,
        source: get(row, "source_name")?,
        git_ref: get(row, "git_ref")?,
        revision: get(row, "revision")?,
        action_kind: get_enum(row, "action_kind")?,
        action: get(row, "action_name")?,
        cause: get_enum(row, "cause")?,
        phase: get_enum(row, "phase")?,
        created_at: get_time(row, "created_at")?,
        started_at: get_opt_time(row, "started_at")?,
        finished_at: get_opt_time(row, "finished_at")?,
        exit_code: get(row, "exit_code")?,
        message: get(row, "message")?,
    })
}

/// Reads a [`Transition`] from a `run_transitions` row.
pub(crate) fn transition(row: &AnyRow) -> Result<Transition, StoreError> {
    let from: Option<String> = get(row, "from_phase")?;
    Ok(Transition {
        step: get(row, "step")?,
        attempt: get::<Option<i32>>(row, "attempt")?.and_then(|a| u32::try_from(a).ok()),
        from: from.map(|f| parse_enum("from_phase", &f)).transpose()?,
        phase: get_enum(row, "phase")?,
        at: get_time(row, "at")?,
        reason: get(row, "reason")?,
        message: get(row, "message")?,
    })
}

/// Reads a stored phase.
pub(crate) fn phase(row: &AnyRow) -> Result<RunPhase, StoreError> {
    get_enum(row, "phase")
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, column: &'static str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(|e| StoreError::Corrupt {
        what: format!("column {column}: {e}"),
    })
}

fn get_enum<T: DeserializeOwned>(row: &AnyRow, column: &'static str) -> Result<T, StoreError> {
    let text: String = get(row, column)?;
    parse_enum(column, &text)
}

/// Parses an enum from its variant name, naming the column when it is unknown.
pub(crate) fn parse_enum<T: DeserializeOwned>(column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        StoreError::Corrupt {
            what: format!("column {column}: unknown value {text:?}"),
        }
    })
}

pub(crate) fn get_time(row: &AnyRow, column: &'static str) -> Result<Timestamp, StoreError> {
    parse_time(column, get(row, column)?)
}

pub(crate) fn get_opt_time(
    row: &AnyRow,
    column: &'static str,
) -> Result<Option<Timestamp>, StoreError> {
    get::<Option<i64>>(row, column)?
        .map(|us| parse_time(column, us))
        .transpose()
}

fn parse_time(column: &str, us: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(us).map_err(|e| StoreError::Corrupt {
        what: format!("column {column}: timestamp {us} out of range: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use herald_api::{RunCause, TriggerKind};

    use super::*;

    #[test]
    fn enums_round_trip_through_their_names() {
        for phase in [
            RunPhase::Pending,
            RunPhase::Running,
            RunPhase::Succeeded,
            RunPhase::Failed,
            RunPhase::Skipped,
        ] {
            let back: RunPhase = parse_enum("phase", &enum_text(phase)).expect("known phase");
            assert_eq!(back, phase);
        }
        let kind: TriggerKind =
            parse_enum("trigger_kind", &enum_text(TriggerKind::WebhookTrigger)).expect("kind");
        assert_eq!(kind, TriggerKind::WebhookTrigger);
        assert_eq!(enum_text(RunCause::Manual), "Manual");
    }

    #[test]
    fn unknown_enum_is_corrupt_and_named() {
        let err = parse_enum::<RunPhase>("phase", "Exploded").expect_err("unknown");
        assert_eq!(err.category(), "corrupt");
        let text = err.to_string();
        assert!(
            text.contains("phase") && text.contains("Exploded"),
            "{text}"
        );
    }

    #[test]
    fn out_of_range_timestamp_is_corrupt() {
        let err = parse_time("created_at", i64::MAX).expect_err("out of range");
        assert_eq!(err.category(), "corrupt");
    }

    #[test]
    fn now_round_trips_through_micros() {
        let at = now();
        assert_eq!(parse_time("at", micros(at)).expect("in range"), at);
    }
}
