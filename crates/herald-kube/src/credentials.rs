//! The per-run Secret the cloner reads. Copying the values into the Run's namespace lets a
//! ClusterGitRepo's credentials live elsewhere, and keeps them away from the action's
//! container, which never mounts it.

use herald_api::Run;
use herald_git::CredentialFiles;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::job::{owner_reference, run_labels};
use crate::labels;

/// The Secret holding `files` for `run`'s cloner, owned by the Run.
pub fn credentials_secret(run: &Run, files: &CredentialFiles) -> Secret {
    let run_name = run.metadata.name.clone().unwrap_or_default();
    Secret {
        metadata: ObjectMeta {
            name: Some(labels::credentials_secret_name(&run_name)),
            namespace: run.metadata.namespace.clone(),
            labels: Some(run_labels(&run_name, &run.spec)),
            owner_references: owner_reference(run).map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(
            files
                .iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.clone())))
                .collect(),
        ),
        ..Secret::default()
    }
}
