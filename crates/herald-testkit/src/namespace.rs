use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, Resource};

use crate::{TestCluster, wait_for};

/// One cluster serves one test binary, so a counter in the name is enough to be unique.
static NEXT: AtomicU32 = AtomicU32::new(1);

/// A fresh namespace for one test. It is left in place: the whole cluster goes away when the
/// test binary exits.
#[derive(Clone)]
pub struct TestNamespace {
    /// The namespace's name, `<prefix>-<n>`.
    pub name: String,
    /// A client created by [`TestCluster::client`] in the test's runtime.
    pub client: Client,
}

// `kube::Client` has no `Debug`.
impl std::fmt::Debug for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNamespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestNamespace {
    /// An API for namespaced objects of kind `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }
}

impl TestCluster {
    /// Creates a uniquely named namespace (`prefix` is cut to fit a DNS label) and waits until
    /// Pods can be created in it.
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace> {
        let name = format!(
            "{}-{}",
            dns_label(prefix),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let client = self.client();
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        // v1.20's ServiceAccount admission rejects Pods until the controller manager has made
        // the `default` account and its token secret; a Job would then only retry with backoff.
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
        wait_for(
            &format!("service account {name}/default"),
            Duration::from_secs(30),
            || async {
                let sa = accounts.get_opt("default").await.ok()??;
                sa.secrets.is_some_and(|s| !s.is_empty()).then_some(())
            },
        )
        .await?;
        Ok(TestNamespace { name, client })
    }
}

/// Lower-case letters, digits and '-', short enough to leave room for the counter.
fn dns_label(prefix: &str) -> String {
    let label: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(50)
        .collect();
    let label = label.trim_matches('-');
    if label.is_empty() {
        "test".to_owned()
    } else {
        label.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::dns_label;

    #[test]
    fn prefixes_become_dns_labels() {
        assert_eq!(dns_label("Job_Runs"), "job-runs");
        assert_eq!(dns_label("--"), "test");
        assert_eq!(dns_label(&"a".repeat(80)).len(), 50);
    }
}
