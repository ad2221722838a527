//! Cheap checks on the Helm chart in `deploy/chart` that `cargo test` can make without Helm. The
//! chart itself is rendered and checked by real Helm in `scripts/check-chart.sh`.

use std::path::PathBuf;

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// Helm installs the CRDs from the chart's `crds/` folder, which must be an exact copy of
/// `deploy/crds/herald.dev.yaml` (itself checked against the Rust types by herald-api's tests).
/// `HERALD_UPDATE_CRDS=1` refreshes the copy, as it refreshes the original.
#[test]
fn chart_crds_are_a_copy_of_deploy_crds() {
    let original = std::fs::read(repo_path("deploy/crds/herald.dev.yaml")).expect("read CRDs");
    let copy_path = repo_path("deploy/chart/crds/herald.dev.yaml");
    if std::env::var_os("HERALD_UPDATE_CRDS").is_some_and(|v| v == "1") {
        std::fs::write(&copy_path, &original).expect("write the chart's copy of the CRDs");
        return;
    }
    let copy = std::fs::read(&copy_path).unwrap_or_default();
    assert!(
        copy == original,
        "deploy/chart/crds/herald.dev.yaml differs from deploy/crds/herald.dev.yaml; refresh it with \
         `cp deploy/crds/herald.dev.yaml deploy/chart/crds/` (or HERALD_UPDATE_CRDS=1 cargo test)"
    );
}

/// The chart's appVersion (its default image tag) is the version of the `herald` binary.
#[test]
fn chart_app_version_is_the_crate_version() {
    let text =
        std::fs::read_to_string(repo_path("deploy/chart/Chart.yaml")).expect("read Chart.yaml");
    let chart: serde_yaml::Value = serde_yaml::from_str(&text).expect("Chart.yaml is YAML");
    assert_eq!(
        chart["appVersion"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "deploy/chart/Chart.yaml appVersion"
    );
    assert_eq!(chart["name"].as_str(), Some("herald"));
}

/// The default install runs one replica on the SQLite store: each pod keeps its own SQLite file,
/// so with two an event posted to one pod is invisible through the other. More than one replica
/// needs PostgreSQL, and the chart refuses to render it otherwise (`herald.validateStore`, which
/// `scripts/check-chart.sh` renders with Helm both ways).
#[test]
fn chart_defaults_to_one_replica_on_sqlite_and_guards_more() {
    let text =
        std::fs::read_to_string(repo_path("deploy/chart/values.yaml")).expect("read values.yaml");
    let values: serde_yaml::Value = serde_yaml::from_str(&text).expect("values.yaml is YAML");
    assert_eq!(
        values["store"]["url"].as_str(),
        Some(""),
        "store.url default"
    );
    assert_eq!(
        values["store"]["existingSecret"].as_str(),
        Some(""),
        "store.existingSecret default"
    );
    assert_eq!(
        values["replicas"].as_u64(),
        Some(1),
        "the default store is SQLite (a file per pod), so the default replicas must be 1"
    );

    let helpers = std::fs::read_to_string(repo_path("deploy/chart/templates/_helpers.tpl"))
        .expect("read _helpers.tpl");
    let guard = helpers
        .split(r#"{{- define "herald.validateStore" -}}"#)
        .nth(1)
        .and_then(|rest| rest.split("{{- define ").next())
        .expect("_helpers.tpl defines herald.validateStore");
    assert!(
        guard.contains("gt (int .Values.replicas) 1")
            && guard.contains("{{- fail")
            && guard.contains("needs a PostgreSQL event store"),
        "herald.validateStore must fail for more than one replica without PostgreSQL"
    );
    let deployment = std::fs::read_to_string(repo_path("deploy/chart/templates/deployment.yaml"))
        .expect("read deployment.yaml");
    assert!(
        deployment.contains(r#"{{- include "herald.validateStore" . }}"#),
        "deployment.yaml must include herald.validateStore"
    );
}
