//! Test harness for Herald's cluster tests: a real Kubernetes control plane (etcd,
//! kube-apiserver and kube-controller-manager v1.20.2) started once per test binary, plus the
//! helpers a test needs because no kubelet runs, and real Git repositories. Also the other real
//! parts tests run against: an OCI registry ([`registry`]), Git over SSH ([`SshGitServer`]) and
//! Git over HTTP(S) through the real `git http-backend` ([`git_http`]), and a headless chromium
//! driven over WebDriver ([`browser`]).
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let cluster = herald_testkit::shared().await?;
//! let ns = cluster.namespace("my-test").await?;
//! // ... create objects in `ns.name` with `ns.client` ...
//! # Ok(())
//! # }
//! ```
//!
//! The binaries come from `scripts/control-plane.sh build` (cached; `HERALD_K8S_BIN` overrides
//! where they are looked for). Nothing outlives the test process: the cluster is stopped and its
//! files removed when the process exits, however it exits.

pub mod browser;
mod cluster;
mod crds;
mod git;
pub mod git_http;
mod github;
mod manifests;
mod metrics;
mod namespace;
mod pods;
pub mod postgres;
mod receiver;
pub mod registry;
mod ssh_git;
mod wait;

/// The HTTP server the fixtures serve with, for tests' own receivers (notifications, stubs).
pub use axum;

pub use cluster::{TestCluster, shared};
pub use crds::apply_crds;
pub use git::{TestRepo, git};
pub use github::StandInGithub;
pub use manifests::{FLUX_CRDS, TEKTON_CRDS, parse_crds, tekton_and_flux_crds};
pub use metrics::{ScrapeOf, check_scrape_against_readme, metric_sample};
pub use namespace::TestNamespace;
pub use pods::complete_pod;
pub use receiver::{Received, receiver};
pub use ssh_git::SshGitServer;
pub use wait::wait_for;
