//! Deployments annotated the way gitops-operator reads them, on a real control plane, with
//! `--gitops-operator-annotations`: the application's HEAD, its image waited for in a real
//! registry (htpasswd auth, credentials from the annotated `regcred`), the manifests
//! repository served by a real sshd (key and `known_hosts` from the annotated Secret), the
//! seed's `/reconcile` answering a report per Deployment and the skip reason of one missing an
//! annotation. Without the flag, annotated Deployments are left alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use herald_store::Store;
use herald_testkit::registry::{OCI_MANIFEST, docker_config_json, htpasswd_registry, push_image};
use herald_testkit::{SshGitServer, TestNamespace, TestRepo, wait_for};
use serde_json::{Value, json};
use support::{Operator, TIMEOUT, apply, namespace};

/// The manifest as the manifests repository holds it.
fn manifest(image: &str) -> String {
    format!(
        "\
# The web front end, kept in step by gitops-operator.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: {image}:old # set by the operator
"
    )
}

/// A Deployment with the seed README's annotations (and `extra`), in `ns`.
async fn annotated_deployment(ns: &TestNamespace, name: &str, annotations: Value) {
    apply(
        ns,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "web", "image": "example.com/web:old"}]}
                }
            }
        }),
    )
    .await;
}

/// Every annotation gitops-operator requires, for the given repositories and image.
fn annotations(ns: &str, app: &str, manifests: &str, image: &str) -> Value {
    json!({
        "gitops.operator.enabled": "true",
        "gitops.operator.app_repository": app,
        "gitops.operator.manifest_repository": manifests,
        "gitops.operator.deployment_path": "app/00-deployment.yaml",
        "gitops.operator.image_name": image,
        "gitops.operator.namespace": ns,
        "gitops.operator.ssh_key_name": "ssh-key",
        "gitops.operator.ssh_key_namespace": ns,
        "gitops.operator.registry_secret_namespace": ns,
        // The test repositories' branch is `main` (gitops-operator's default is `master`).
        "gitops.operator.observe_branch": "main",
        "gitops.operator.manifest_branch": "main",
    })
}

fn git(git_dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `POST /reconcile`'s reports, by Deployment name.
async fn reconcile(operator: &Operator) -> Vec<Value> {
    let url = format!("http://{}/reconcile", operator.listen);
    let response = reqwest::Client::new().post(url).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

fn report<'a>(reports: &'a [Value], name: &str) -> &'a Value {
    reports
        .iter()
        .find(|r| r["deployment"] == name)
        .unwrap_or_else(|| panic!("a report for {name} in {reports:#?}"))
}

async fn operator(ns: &TestNamespace, state: &std::path::Path, flag: bool) -> Operator {
    let store = Store::open(&state.join("herald.db")).await.unwrap();
    let clones = state.join("clones");
    Operator::start_with(&ns.client, &ns.name, "a", move |config| {
        config.store = Some(store);
        config.clone_cache = clones;
        config.gitops_operator_annotations = flag;
        // The test drives the attempts with `/reconcile`.
        config.gitops_operator_interval = std::time::Duration::from_secs(3600);
    })
    .await
}

#[tokio::test]
async fn annotated_deployments_are_updated_over_ssh_once_their_image_is_pushed() {
    let (Some(registry), Some(sshd)) = (htpasswd_registry(), SshGitServer::start()) else {
        return;
    };
    let ns = namespace("compat").await;
    let state = tempfile::tempdir().unwrap();
    let operator = operator(&ns, state.path(), true).await;

    let image = format!("{}/compat/{}", registry.host, ns.name);
    let app = TestRepo::new();
    let head = app.commit("a feature");
    let repo = format!("manifests-{}", ns.name);
    let (bare, _) = sshd.add_seeded_repo(&repo, &[("app/00-deployment.yaml", &manifest(&image))]);
    apply(&ns, json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ssh-key"},
        "stringData": {"ssh-privatekey": sshd.client_private_key(), "known_hosts": sshd.known_hosts()}
    }))
    .await;
    apply(
        &ns,
        json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred"},
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": docker_config_json(registry)}
        }),
    )
    .await;
    let annotated = annotations(&ns.name, &app.url(), &sshd.url(&repo), &image);
    annotated_deployment(&ns, "web", annotated.clone()).await;
    let mut incomplete = annotated.clone();
    incomplete
        .as_object_mut()
        .unwrap()
        .remove("gitops.operator.image_name");
    annotated_deployment(&ns, "broken", incomplete).await;
    let mut disabled = annotated;
    disabled["gitops.operator.enabled"] = json!("false");
    annotated_deployment(&ns, "ignored", disabled).await;

    // The image of HEAD is not in the registry yet: waited for, nothing written.
    let reports = wait_for("both Deployments in /reconcile", TIMEOUT, || async {
        let reports = reconcile(&operator).await;
        (reports.len() == 2).then_some(reports)
    })
    .await
    .unwrap();
    let web = report(&reports, "web");
    assert_eq!(web["action"], "waitingForImage", "{web:#}");
    assert_eq!(web["to"], head.as_str());
    let broken = report(&reports, "broken");
    assert_eq!(broken["action"], "failed");
    assert_eq!(broken["status"], "Failure");
    let message = format!(
        "Deployment {}/broken: missing annotation gitops.operator.image_name",
        ns.name
    );
    assert_eq!(broken["message"], message.as_str());
    assert!(
        reports.iter().all(|r| r["deployment"] != "ignored"),
        "a Deployment with enabled=false is none of its business"
    );
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]).trim(), "1");

    push_image(
        registry,
        &format!("compat/{}", ns.name),
        std::slice::from_ref(&head),
        OCI_MANIFEST,
    )
    .await;
    let reports = reconcile(&operator).await;
    let web = report(&reports, "web");
    assert_eq!(web["status"], "Success", "{web:#}");
    assert_eq!(web["to"], head.as_str());
    let file = git(&bare, &["show", "main:app/00-deployment.yaml"]);
    let expected = manifest(&image).replace(":old #", &format!(":{head} #"));
    assert_eq!(file, expected, "only the tag's bytes changed, over SSH");
    let tip = git(&bare, &["log", "-1", "--format=%H %an", "main"]);
    if web["action"] == "updated" {
        assert_eq!(
            tip.trim(),
            format!("{} Herald", web["commit"].as_str().unwrap())
        );
    }
    assert_eq!(report(&reports, "broken")["action"], "failed");

    // The debug view shows the Deployment as the ImageUpdate it amounts to: no secret values.
    let url = format!("http://{}/api/v1/imageupdates", operator.listen);
    let views: Vec<Value> = reqwest::get(url).await.unwrap().json().await.unwrap();
    let view = views
        .iter()
        .find(|v| v["name"] == "web")
        .expect("web's view");
    assert_eq!(view["spec"]["image"]["repository"], image.as_str());
    assert_eq!(view["spec"]["image"]["secretRef"]["name"], "regcred");
    assert_eq!(view["spec"]["target"]["paths"][0], "app/00-deployment.yaml");
    assert_eq!(view["status"]["latestTag"], head.as_str());
    let text = serde_json::to_string(&views).unwrap();
    assert!(!text.contains("PRIVATE KEY") && !text.contains(herald_testkit::registry::PASSWORD));
    operator.stop().await;
}

#[tokio::test]
async fn without_the_flag_annotated_deployments_are_left_alone() {
    let ns = namespace("compat-off").await;
    let state = tempfile::tempdir().unwrap();
    let operator = operator(&ns, state.path(), false).await;
    let app = TestRepo::new();
    app.commit("a feature");
    let manifests = TestRepo::new();
    std::fs::create_dir_all(manifests.path().join("app")).unwrap();
    manifests.commit_file(
        "app/00-deployment.yaml",
        &manifest("registry.example.com/web"),
        "the web app",
    );
    let before = manifests.head();
    let annotated = annotations(
        &ns.name,
        &app.url(),
        &manifests.url(),
        "registry.example.com/web",
    );
    annotated_deployment(&ns, "web", annotated).await;
    // Long enough for a watch to have seen it, were there one.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(reconcile(&operator).await, Vec::<Value>::new());
    let url = format!("http://{}/api/v1/imageupdates", operator.listen);
    let views: Vec<Value> = reqwest::get(url).await.unwrap().json().await.unwrap();
    assert!(views.is_empty(), "{views:#?}");
    assert_eq!(manifests.head(), before);
    operator.stop().await;
}
