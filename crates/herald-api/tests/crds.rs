//! The committed CRDs (`deploy/crds/herald.dev.yaml`) must be what the Rust types generate, and
//! what they generate must be a structural schema that a Kubernetes 1.20 API server accepts.

use std::path::PathBuf;

use herald_api::{all_crds, crds_yaml};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Deserialize;
use serde_json::Value;

const REGENERATE: &str = "cargo run -p herald -- crds > deploy/crds/herald.dev.yaml";

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds/herald.dev.yaml")
}

#[test]
fn committed_crds_match_the_types() {
    let generated = crds_yaml().expect("CRDs serialize to YAML");
    let path = committed_path();
    if std::env::var_os("HERALD_UPDATE_CRDS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write the CRD file");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "deploy/crds/herald.dev.yaml is out of date with the Rust types in herald-api \
             (first difference at line {}).\nRegenerate it with\n    {REGENERATE}\nor\n    \
             HERALD_UPDATE_CRDS=1 cargo test -p herald-api --test crds\nand commit the result.",
            first_difference + 1
        );
    }
}

#[test]
fn generated_yaml_parses_back_into_the_same_crds() {
    let text = crds_yaml().expect("CRDs serialize to YAML");
    let parsed: Vec<CustomResourceDefinition> = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| CustomResourceDefinition::deserialize(doc).expect("a CRD document"))
        .collect();
    assert_eq!(parsed, all_crds());
}

fn crd(name: &str) -> CustomResourceDefinition {
    all_crds()
        .into_iter()
        .find(|c| c.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no CRD {name}"))
}

/// The `openAPIV3Schema` of the single version, as JSON.
fn schema(name: &str) -> Value {
    let crd = crd(name);
    let version = crd.spec.versions.first().expect("one version");
    serde_json::to_value(
        version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("a schema"),
    )
    .expect("schema to JSON")
}

/// The node at a `/`-separated path of property names (`spec/schedule/cron`); `[]` steps into
/// array items.
fn node<'a>(schema: &'a Value, path: &str) -> &'a Value {
    path.split('/').fold(schema, |at, step| {
        let next = if step == "[]" {
            at.get("items")
        } else {
            at.get("properties").and_then(|p| p.get(step))
        };
        next.unwrap_or_else(|| panic!("no {step:?} on the way to {path:?} in {at:#}"))
    })
}

#[test]
fn every_kind_is_served_with_a_status_subresource() {
    let names: Vec<_> = all_crds()
        .iter()
        .map(|c| (c.spec.names.kind.clone(), c.spec.scope.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("GitRepo", "Namespaced"),
            ("ClusterGitRepo", "Cluster"),
            ("ScheduleTrigger", "Namespaced"),
            ("WebhookTrigger", "Namespaced"),
            ("Action", "Namespaced"),
            ("ClusterAction", "Cluster"),
            ("Run", "Namespaced"),
            ("ImageUpdate", "Namespaced"),
            ("Notifier", "Namespaced"),
        ]
        .map(|(k, s)| (k.to_owned(), s.to_owned()))
    );
    for crd in all_crds() {
        assert_eq!(crd.spec.group, "herald.dev");
        assert_eq!(crd.spec.versions.len(), 1);
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(version.served && version.storage);
        let status = version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref());
        assert!(
            status.is_some(),
            "{} has no status subresource",
            crd.spec.names.kind
        );
        assert!(
            crd.spec.names.categories.as_deref() == Some(&["herald".to_owned()][..]),
            "{} is not in the herald category",
            crd.spec.names.kind
        );
    }
}

/// Triggers and sources can be paused: `spec.suspend` is a boolean each shows in a column.
#[test]
fn suspendable_kinds_show_a_suspended_column() {
    for name in [
        "gitrepos.herald.dev",
        "clustergitrepos.herald.dev",
        "scheduletriggers.herald.dev",
        "webhooktriggers.herald.dev",
    ] {
        let crd = crd(name);
        let columns = crd.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap_or_default();
        let column = columns.iter().find(|c| c.name == "Suspended");
        let column = column.unwrap_or_else(|| panic!("{name} has no Suspended column"));
        assert_eq!(
            (column.json_path.as_str(), column.type_.as_str()),
            (".spec.suspend", "boolean")
        );
        let schema = schema(name);
        assert_eq!(node(&schema, "spec/suspend")["type"], "boolean", "{name}");
    }
    let status = schema("scheduletriggers.herald.dev");
    let handled = node(&status, "status/lastHandledReconcileAt");
    assert_eq!(handled["type"], "string");
}

/// Kubernetes' structural schema rules (and what 1.20 understands), checked on every node.
#[test]
fn schemas_are_structural() {
    for crd in all_crds() {
        let kind = crd.spec.names.kind.clone();
        let name = crd.metadata.name.clone().unwrap_or_default();
        let schema = schema(&name);
        let mut problems = Vec::new();
        check_structural(&schema, &kind, false, &mut problems);
        let description = schema.get("description").and_then(Value::as_str);
        if description.is_none_or(|d| d.starts_with("Auto-generated")) {
            problems.push(format!("{kind}: the root has no real description"));
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

/// Keys a schema node may carry that Kubernetes 1.20's `JSONSchemaProps` knows and that Herald
/// is expected to use. Anything else (`$ref`, `const`, `x-kubernetes-validations`, ...) would
/// be rejected by the API server or by kubectl's client-side validation.
const KNOWN_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "default",
    "nullable",
    "enum",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "oneOf",
    "anyOf",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
];

/// Inside `oneOf`/`anyOf` only value validations may appear: no types, descriptions,
/// defaults or nullability.
const JUNCTOR_KEYS: &[&str] = &["required", "minLength", "maxLength", "pattern", "minimum"];

fn check_structural(node: &Value, at: &str, in_junctor: bool, problems: &mut Vec<String>) {
    let Some(obj) = node.as_object() else {
        problems.push(format!("{at}: not an object"));
        return;
    };
    for key in obj.keys() {
        let allowed = if in_junctor { JUNCTOR_KEYS } else { KNOWN_KEYS };
        if !allowed.contains(&key.as_str()) {
            problems.push(format!("{at}: unexpected key {key:?}"));
        }
    }
    if in_junctor {
        return;
    }
    let ty = obj.get("type").and_then(Value::as_str);
    let int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    match (ty, int_or_string) {
        (Some(_), true) => problems.push(format!("{at}: int-or-string must not set a type")),
        (None, false) if !preserve => problems.push(format!("{at}: no type")),
        _ => {}
    }
    if let Some(format) = obj.get("format").and_then(Value::as_str)
        && !["int32", "int64", "date-time", "byte", "double", "float"].contains(&format)
    {
        problems.push(format!("{at}: unusual format {format:?}"));
    }
    if obj.contains_key("properties") && obj.contains_key("additionalProperties") {
        problems.push(format!(
            "{at}: properties and additionalProperties together"
        ));
    }
    if obj
        .get("additionalProperties")
        .is_some_and(Value::is_boolean)
    {
        problems.push(format!("{at}: boolean additionalProperties"));
    }
    if (obj.contains_key("properties") || obj.contains_key("additionalProperties"))
        && ty != Some("object")
    {
        problems.push(format!("{at}: properties on a non-object"));
    }
    if obj.contains_key("items") != (ty == Some("array")) {
        problems.push(format!(
            "{at}: arrays need items, and only arrays have them"
        ));
    }
    let properties = obj.get("properties").and_then(Value::as_object);
    for key in ["required"] {
        for name in obj.get(key).and_then(Value::as_array).into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !properties.is_some_and(|p| p.contains_key(name)) {
                problems.push(format!("{at}: requires unknown property {name:?}"));
            }
        }
    }
    for junctor in ["oneOf", "anyOf"] {
        for (i, branch) in obj
            .get(junctor)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let branch_at = format!("{at}.{junctor}[{i}]");
            check_structural(branch, &branch_at, true, problems);
            for name in branch
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = name.as_str().unwrap_or_default();
                if !properties.is_some_and(|p| p.contains_key(name)) {
                    problems.push(format!("{branch_at}: requires unknown property {name:?}"));
                }
            }
        }
    }
    for (name, child) in properties.into_iter().flatten() {
        check_structural(child, &format!("{at}.{name}"), false, problems);
    }
    if let Some(items) = obj.get("items") {
        check_structural(items, &format!("{at}[]"), false, problems);
    }
    if let Some(additional) = obj.get("additionalProperties").filter(|v| v.is_object()) {
        check_structural(additional, &format!("{at}{{}}"), false, problems);
    }
}

#[test]
fn times_are_date_time_strings() {
    let run = schema("runs.herald.dev");
    for path in [
        "status/startTime",
        "status/completionTime",
        "status/history/[]/time",
        "status/steps/[]/startedAt",
        "status/steps/[]/finishedAt",
        "status/conditions/[]/lastTransitionTime",
    ] {
        let n = node(&run, path);
        assert_eq!(n["type"], "string", "{path}");
        assert_eq!(n["format"], "date-time", "{path}");
    }
    let trigger = schema("scheduletriggers.herald.dev");
    let changed_at =
        &node(&trigger, "status/checkedSources")["additionalProperties"]["properties"]["changedAt"];
    assert_eq!(changed_at["format"], "date-time");
}

#[test]
fn openapi_constraints_mirror_validation() {
    use serde_json::json;
    let subdomain = json!(herald_dns_subdomain());
    for crd in ["gitrepos.herald.dev", "clustergitrepos.herald.dev"] {
        let s = schema(crd);
        assert_eq!(node(&s, "spec/repoUri")["minLength"], 1, "{crd}");
        assert_eq!(node(&s, "spec/auth/secretRef/name")["pattern"], subdomain);
        assert_eq!(node(&s, "spec/auth/secretRef/name")["maxLength"], 253);
        assert_eq!(node(&s, "spec/auth/secretRef/namespace")["maxLength"], 63);
        assert_eq!(node(&s, "spec/tlsConfig/caCert/key")["minLength"], 1);
        assert_eq!(node(&s, "spec/auth/keys/privateKey")["minLength"], 1);
        assert_eq!(
            node(&s, "spec/auth/type")["enum"],
            json!(["basic", "token", "ssh"])
        );
    }

    for crd in ["scheduletriggers.herald.dev", "webhooktriggers.herald.dev"] {
        let s = schema(crd);
        let names = node(&s, "spec/sources/names");
        assert_eq!(names["minItems"], 1, "{crd}");
        assert_eq!(names["items"]["pattern"], subdomain);
        assert_eq!(node(&s, "spec/action/name")["pattern"], subdomain);
        assert_eq!(node(&s, "spec/action/name")["minLength"], 1);
        assert_eq!(node(&s, "spec/sources/watchOn/files/[]")["minLength"], 1);
        let reference = node(&s, "spec/sources/watchOn/reference");
        assert_eq!(
            reference["oneOf"],
            json!([{"required": ["branch"]}, {"required": ["tag"]}, {"required": ["commit"]}])
        );
        assert_eq!(
            reference["properties"]["commit"]["pattern"],
            "^[0-9a-f]{40}$"
        );
        assert_eq!(reference["properties"]["branch"]["minLength"], 1);
    }

    let s = schema("scheduletriggers.herald.dev");
    assert_eq!(
        node(&s, "spec/schedule")["oneOf"],
        json!([{"required": ["interval"]}, {"required": ["cron"]}])
    );
    assert_eq!(node(&s, "spec/schedule/cron")["minLength"], 1);

    let s = schema("webhooktriggers.herald.dev");
    let auth = node(&s, "spec/webhook/authConfig");
    // The header's default depends on the provider (x-trigger-auth for a token,
    // x-hub-signature-256 for a signature), so Herald applies it, not the API server.
    assert_eq!(auth["properties"]["header"].get("default"), None);
    assert!(auth["properties"]["header"]["pattern"].is_string());
    assert_eq!(auth["properties"]["key"]["minLength"], 1);

    for crd in ["actions.herald.dev", "clusteractions.herald.dev"] {
        let s = schema(crd);
        let job = node(&s, "spec/actionJob");
        assert_eq!(job["required"], json!(["command"]), "{crd}");
        assert_eq!(job["properties"]["command"]["minItems"], 1);
        assert_eq!(job["properties"]["command"]["items"]["minLength"], 1);
        assert_eq!(job["properties"]["activeDeadlineSeconds"]["minimum"], 1.0);
        assert_eq!(job["properties"]["ttlSecondsAfterFinished"]["minimum"], 0.0);
        assert_eq!(job["properties"]["workdir"]["minLength"], 1);
        assert_eq!(job["properties"]["serviceAccount"]["pattern"], subdomain);
    }

    let s = schema("runs.herald.dev");
    assert_eq!(node(&s, "spec/revision")["pattern"], "^[0-9a-f]{40}$");
    assert_eq!(node(&s, "spec/gitRef")["pattern"], "^refs/");
    for path in ["spec/trigger/name", "spec/source/name", "spec/action/name"] {
        assert_eq!(node(&s, path)["pattern"], subdomain, "{path}");
    }
}

fn herald_dns_subdomain() -> &'static str {
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
}
