//! The status a custom task controller reports, in Tekton's shape (knative's `duckv1.Status`
//! plus `startTime`, `completionTime` and `results`), built without IO.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// The one condition Tekton reads.
pub const SUCCEEDED: &str = "Succeeded";
/// Reason while waiting.
pub const RUNNING: &str = "Running";
/// Reason when Flux reported the revision reconciled.
pub const SUCCEEDED_REASON: &str = "Succeeded";
/// Reason when the run's spec cannot be served (bad params or timeout).
pub const INVALID_REASON: &str = "InvalidSpec";
/// Results longer than this are cut: they travel in the object and into later tasks.
const RESULT_LIMIT: usize = 1024;

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Still waiting (`Succeeded: Unknown`).
    Running { message: String },
    /// Done: `Succeeded: True` or `False`, with its reason, message and results.
    Done {
        succeeded: bool,
        reason: String,
        message: String,
        results: Vec<(&'static str, String)>,
    },
}

impl Decision {
    /// Whether the run is over.
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done { .. })
    }
}

/// The `status` of the run's `Succeeded` condition (`True`, `False`, `Unknown`), if any.
pub fn succeeded_status(status: &Value) -> Option<&str> {
    succeeded_condition(status)?.get("status")?.as_str()
}

fn succeeded_condition(status: &Value) -> Option<&Value> {
    status
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(SUCCEEDED))
}

/// When the run started, as this controller recorded it.
pub fn start_time(status: &Value) -> Option<Timestamp> {
    status.get("startTime")?.as_str()?.parse().ok()
}

/// An API timestamp: RFC 3339 in UTC, whole seconds (as `metav1.Time`).
pub fn format_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The status fields this controller owns for `decision`, or `None` when `previous` already
/// shows them all (nothing to write). The condition's transition time is kept while its
/// status holds.
pub fn next_status(
    previous: &Value,
    decision: &Decision,
    generation: Option<i64>,
    started: Timestamp,
    now: Timestamp,
) -> Option<Value> {
    let (status, reason, message) = match decision {
        Decision::Running { message } => ("Unknown", RUNNING, message.as_str()),
        Decision::Done {
            succeeded,
            reason,
            message,
            ..
        } => (
            if *succeeded { "True" } else { "False" },
            reason.as_str(),
            message.as_str(),
        ),
    };
    let kept = succeeded_condition(previous)
        .filter(|c| c.get("status").and_then(Value::as_str) == Some(status))
        .and_then(|c| c.get("lastTransitionTime").cloned());
    let mut fields = Map::new();
    fields.insert(
        "conditions".into(),
        json!([{
            "type": SUCCEEDED,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": kept.unwrap_or_else(|| json!(format_time(now))),
        }]),
    );
    fields.insert("startTime".into(), json!(format_time(started)));
    if let Some(generation) = generation {
        fields.insert("observedGeneration".into(), json!(generation));
    }
    if let Decision::Done { results, .. } = decision {
        let completed = previous
            .get("completionTime")
            .cloned()
            .unwrap_or_else(|| json!(format_time(now)));
        fields.insert("completionTime".into(), completed);
        let results: Vec<Value> = results
            .iter()
            .map(|(name, value)| json!({"name": name, "value": cut(value)}))
            .collect();
        fields.insert("results".into(), Value::Array(results));
    }
    let unchanged = fields
        .iter()
        .all(|(key, value)| previous.get(key) == Some(value));
    (!unchanged).then_some(Value::Object(fields))
}

/// At most [`RESULT_LIMIT`] bytes, cut on a character boundary.
fn cut(value: &str) -> String {
    if value.len() <= RESULT_LIMIT {
        return value.to_owned();
    }
    let mut end = RESULT_LIMIT;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &value[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).expect("valid")
    }

    fn merge(previous: &mut Value, patch: Value) {
        let (Value::Object(previous), Value::Object(patch)) = (previous, patch) else {
            panic!("objects")
        };
        previous.extend(patch);
    }

    #[test]
    fn running_then_done_with_times_kept() {
        let running = Decision::Running {
            message: "waiting".into(),
        };
        let mut status = json!({});
        let first = next_status(&status, &running, Some(1), at(0), at(0)).expect("first write");
        assert_eq!(first["conditions"][0]["status"], "Unknown");
        assert_eq!(first["conditions"][0]["reason"], RUNNING);
        assert_eq!(first["startTime"], format_time(at(0)));
        assert_eq!(first["observedGeneration"], 1);
        assert!(first.get("completionTime").is_none());
        merge(&mut status, first);
        assert_eq!(start_time(&status), Some(at(0)));
        assert_eq!(succeeded_status(&status), Some("Unknown"));

        assert_eq!(
            next_status(&status, &running, Some(1), at(0), at(5)),
            None,
            "nothing changed: nothing to write"
        );

        let done = Decision::Done {
            succeeded: false,
            reason: "HealthCheckFailed".into(),
            message: "deployment not ready".into(),
            results: vec![("flux-object", "Kustomization/flux-system/apps".into())],
        };
        let last = next_status(&status, &done, Some(1), at(0), at(9)).expect("finished");
        assert_eq!(last["conditions"][0]["status"], "False");
        assert_eq!(
            last["conditions"][0]["lastTransitionTime"],
            format_time(at(9))
        );
        assert_eq!(last["completionTime"], format_time(at(9)));
        assert_eq!(last["results"][0]["name"], "flux-object");
        merge(&mut status, last);
        assert_eq!(next_status(&status, &done, Some(1), at(0), at(30)), None);
    }

    #[test]
    fn long_results_are_cut_on_a_character() {
        let long = "é".repeat(RESULT_LIMIT);
        let cut = cut(&long);
        assert!(cut.len() <= RESULT_LIMIT + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
