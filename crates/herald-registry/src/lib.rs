//! Image automation, the registry part (issue 13): the OCI distribution calls Herald needs
//! (list a repository's tags, check that a tag's manifest exists) with the authentication real
//! registries ask for, and the parse of the `kubernetes.io/dockerconfigjson` Secret that holds
//! the credentials. Credentials never reach a `Debug` output, an error or a log.

mod auth;
mod challenge;
mod client;
mod credentials;
mod docker_config;
mod error;
mod link;
mod token;

pub use client::{DEFAULT_MAX_TAG_PAGES, MAX_TAG_PAGE_BYTES, RegistryClient};
pub use credentials::{Anonymous, CredentialError, CredentialSource, Credentials};
pub use docker_config::{DockerConfig, DockerConfigError};
pub use error::RegistryError;
