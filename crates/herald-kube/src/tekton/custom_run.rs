//! Reading a Tekton `CustomRun` (tekton.dev/v1beta1) or `Run` (tekton.dev/v1alpha1): whether
//! it is ours, what it waits for, its timeout and whether it was cancelled.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;

/// The custom task's `apiVersion` in `customRef` / `ref`.
pub const TASK_API_VERSION: &str = "herald.dev/v1alpha1";
/// The custom task's `kind` in `customRef` / `ref`.
pub const TASK_KIND: &str = "FluxRevisionWait";

/// Params a `FluxRevisionWait` run accepts; only `revision` is required.
pub const PARAMS: [&str; 4] = ["revision", "kind", "namespace", "name"];

/// Tekton's default when a run names no timeout (its `default-timeout-minutes`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// The two Tekton kinds a custom task controller serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `tekton.dev/v1beta1` `CustomRun`, naming its task in `spec.customRef`.
    CustomRun,
    /// `tekton.dev/v1alpha1` `Run`, naming its task in `spec.ref`.
    Run,
}

impl Flavour {
    /// Both, newest first.
    pub const ALL: [Self; 2] = [Self::CustomRun, Self::Run];

    /// The kind's name.
    pub fn kind(self) -> &'static str {
        match self {
            Self::CustomRun => "CustomRun",
            Self::Run => "Run",
        }
    }

    /// Its group, version and kind.
    pub fn gvk(self) -> GroupVersionKind {
        match self {
            Self::CustomRun => GroupVersionKind::gvk("tekton.dev", "v1beta1", "CustomRun"),
            Self::Run => GroupVersionKind::gvk("tekton.dev", "v1alpha1", "Run"),
        }
    }

    /// Its resource, for dynamic APIs.
    pub fn api_resource(self) -> ApiResource {
        let plural = match self {
            Self::CustomRun => "customruns",
            Self::Run => "runs",
        };
        ApiResource::from_gvk_with_plural(&self.gvk(), plural)
    }

    /// The spec field naming the custom task.
    fn ref_field(self) -> &'static str {
        match self {
            Self::CustomRun => "customRef",
            Self::Run => "ref",
        }
    }

    /// The reason Tekton requires on a cancelled run's `Succeeded` condition.
    pub fn cancelled_reason(self) -> &'static str {
        match self {
            Self::CustomRun => "CustomRunCancelled",
            Self::Run => "RunCancelled",
        }
    }

    /// The reason Tekton requires on a timed-out run's `Succeeded` condition.
    pub fn timed_out_reason(self) -> &'static str {
        match self {
            Self::CustomRun => "CustomRunTimedOut",
            Self::Run => "RunTimedOut",
        }
    }
}

/// What a `FluxRevisionWait` run waits for: Flux reporting `revision`, optionally only from
/// objects of `kind`, in `namespace`, named `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitRequest {
    pub revision: String,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

/// One of our runs, as read from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// What to wait for, or why the run's spec cannot be served.
    pub request: Result<WaitRequest, String>,
    /// How long it may take; `None` for no limit (`timeout: 0s`).
    pub timeout: Result<Option<Duration>, String>,
    /// Set when the run was cancelled (`spec.status`), with its message.
    pub cancelled: Option<String>,
}

/// The run read as a `FluxRevisionWait` task, or `None` when it names another custom task.
pub fn read(flavour: Flavour, run: &DynamicObject) -> Option<Task> {
    let spec = run.data.get("spec")?;
    let reference = spec.get(flavour.ref_field())?;
    let api_version = reference.get("apiVersion").and_then(Value::as_str);
    let kind = reference.get("kind").and_then(Value::as_str);
    if api_version != Some(TASK_API_VERSION) || kind != Some(TASK_KIND) {
        return None;
    }
    let cancelled = match spec.get("status").and_then(Value::as_str) {
        // Tekton writes `RunCancelled` for both kinds; `CustomRunCancelled` is accepted too.
        Some("RunCancelled" | "CustomRunCancelled") => Some(
            spec.get("statusMessage")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .unwrap_or("cancelled")
                .to_owned(),
        ),
        _ => None,
    };
    Some(Task {
        request: request(spec.get("params")),
        timeout: timeout(spec.get("timeout")),
        cancelled,
    })
}

/// The params as a request: every name known, each a string, `revision` not empty.
fn request(params: Option<&Value>) -> Result<WaitRequest, String> {
    let list = match params {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Array(list)) => list,
        Some(_) => return Err("spec.params must be a list".into()),
    };
    let mut values = BTreeMap::new();
    for param in list {
        let name = param
            .get("name")
            .and_then(Value::as_str)
            .ok_or("every param needs a name")?;
        if !PARAMS.contains(&name) {
            return Err(format!(
                "unknown param {name:?} (FluxRevisionWait takes {})",
                PARAMS.join(", ")
            ));
        }
        let value = param
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("param {name:?} must be a string"))?;
        let value = value.trim();
        if values.insert(name, value.to_owned()).is_some() {
            return Err(format!("param {name:?} is given twice"));
        }
    }
    let revision = values.remove("revision").unwrap_or_default();
    if revision.is_empty() {
        return Err("param \"revision\" is required and must not be empty".into());
    }
    let mut optional = |name| values.remove(name).filter(|v: &String| !v.is_empty());
    Ok(WaitRequest {
        revision,
        kind: optional("kind"),
        namespace: optional("namespace"),
        name: optional("name"),
    })
}

/// `spec.timeout`: Tekton's default when absent, no limit when zero.
fn timeout(value: Option<&Value>) -> Result<Option<Duration>, String> {
    let text = match value {
        None | Some(Value::Null) => return Ok(Some(DEFAULT_TIMEOUT)),
        Some(Value::String(text)) => text,
        Some(other) => return Err(format!("spec.timeout {other} is not a duration")),
    };
    let duration = parse_go_duration(text)
        .map_err(|e| format!("spec.timeout {text:?} is not a duration: {e}"))?;
    Ok((!duration.is_zero()).then_some(duration))
}

/// Parses a Go duration (`metav1.Duration`): `1h30m`, `10s`, `1.5h`, `300ms`, `0`. Negative
/// durations are refused: a run cannot end before it starts.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let text = text.strip_prefix('+').unwrap_or(text);
    if text.starts_with('-') {
        return Err("negative".into());
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("empty".into());
    }
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or("missing unit")?;
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        total = total.checked_add(nanos(number, unit)?).ok_or("too long")?;
        rest = after;
    }
    let nanos = u64::try_from(total).map_err(|_| "too long")?;
    Ok(Duration::from_nanos(nanos))
}

/// `number` (digits with an optional fraction) of `unit` in nanoseconds.
fn nanos(number: &str, unit: &str) -> Result<u128, String> {
    let scale: u128 = match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        "" => return Err("missing unit".into()),
        other => return Err(format!("unknown unit {other:?}")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(format!("no number before {unit:?}"));
    }
    let digits = |s: &str| -> Result<u128, String> {
        if s.is_empty() {
            Ok(0)
        } else {
            s.parse::<u128>()
                .map_err(|_| format!("bad number {number:?}"))
        }
    };
    let fraction = &fraction[..fraction.len().min(18)];
    let whole = digits(whole)?.checked_mul(scale).ok_or("too long")?;
    let part =
        digits(fraction)?.checked_mul(scale).ok_or("too long")? / 10u128.pow(fraction.len() as u32);
    Ok(whole + part)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(flavour: Flavour, spec: Value) -> DynamicObject {
        let mut object = DynamicObject::new("r", &flavour.api_resource());
        object.data = json!({ "spec": spec });
        object
    }

    fn ours(params: Value) -> Value {
        json!({
            "customRef": {"apiVersion": TASK_API_VERSION, "kind": TASK_KIND},
            "params": params,
        })
    }

    #[test]
    fn go_durations_parse() {
        let cases = [
            ("0", 0),
            ("0s", 0),
            ("10s", 10_000),
            ("1h30m", 5_400_000),
            ("1h0m0s", 3_600_000),
            ("1.5h", 5_400_000),
            ("300ms", 300),
            (".5s", 500),
            ("2m3.25s", 123_250),
        ];
        for (text, millis) in cases {
            assert_eq!(
                parse_go_duration(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        }
        assert_eq!(parse_go_duration("1500us"), Ok(Duration::from_micros(1500)));
        for bad in ["", "10", "-1s", "1x", "s", "1h-1m", "."] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn other_custom_tasks_are_not_ours() {
        let other = json!({"customRef": {"apiVersion": "example.dev/v1", "kind": "Wait"}});
        assert_eq!(
            read(Flavour::CustomRun, &run(Flavour::CustomRun, other)),
            None
        );
        let old_version = json!({"customRef": {"apiVersion": "herald.dev/v2", "kind": TASK_KIND}});
        assert_eq!(
            read(Flavour::CustomRun, &run(Flavour::CustomRun, old_version)),
            None
        );
        // A Run names its task in `ref`, not `customRef`.
        let spec = ours(json!([{"name": "revision", "value": "abc"}]));
        assert_eq!(read(Flavour::Run, &run(Flavour::Run, spec)), None);
        let embedded = json!({"customSpec": {"apiVersion": TASK_API_VERSION, "kind": TASK_KIND}});
        assert_eq!(
            read(Flavour::CustomRun, &run(Flavour::CustomRun, embedded)),
            None
        );
    }

    #[test]
    fn params_become_a_request() {
        let spec = ours(json!([
            {"name": "revision", "value": " main@sha1:abc "},
            {"name": "kind", "value": "Kustomization"},
            {"name": "name", "value": ""},
        ]));
        let task = read(Flavour::CustomRun, &run(Flavour::CustomRun, spec)).expect("ours");
        assert_eq!(
            task.request,
            Ok(WaitRequest {
                revision: "main@sha1:abc".into(),
                kind: Some("Kustomization".into()),
                namespace: None,
                name: None,
            })
        );
        assert_eq!(task.timeout, Ok(Some(DEFAULT_TIMEOUT)));
        assert_eq!(task.cancelled, None);

        let mut spec = json!({
            "ref": {"apiVersion": TASK_API_VERSION, "kind": TASK_KIND},
            "params": [{"name": "revision", "value": "abc"}],
            "timeout": "0s",
            "status": "RunCancelled",
        });
        let task = read(Flavour::Run, &run(Flavour::Run, spec.clone())).expect("ours");
        assert_eq!(task.timeout, Ok(None));
        assert_eq!(task.cancelled.as_deref(), Some("cancelled"));
        spec["statusMessage"] = json!("PipelineRun cancelled");
        let task = read(Flavour::Run, &run(Flavour::Run, spec)).expect("ours");
        assert_eq!(task.cancelled.as_deref(), Some("PipelineRun cancelled"));
    }

    #[test]
    fn bad_params_say_what_is_wrong() {
        let cases = [
            (json!([]), "required"),
            (json!([{"name": "revision", "value": "  "}]), "required"),
            (
                json!([{"name": "revison", "value": "abc"}]),
                "unknown param \"revison\"",
            ),
            (
                json!([{"name": "revision", "value": ["a"]}]),
                "must be a string",
            ),
            (
                json!([{"name": "revision", "value": "a"}, {"name": "revision", "value": "b"}]),
                "twice",
            ),
            (json!({"revision": "a"}), "must be a list"),
        ];
        for (params, expected) in cases {
            let task = read(
                Flavour::CustomRun,
                &run(Flavour::CustomRun, ours(params.clone())),
            )
            .expect("ours");
            let error = task.request.expect_err(&params.to_string());
            assert!(error.contains(expected), "{error}");
        }
        let mut spec = ours(json!([{"name": "revision", "value": "a"}]));
        spec["timeout"] = json!("soon");
        let task = read(Flavour::CustomRun, &run(Flavour::CustomRun, spec)).expect("ours");
        assert!(task.timeout.expect_err("bad").contains("soon"));
    }
}
