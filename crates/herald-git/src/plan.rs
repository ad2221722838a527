//! Building a [`Remote`] from a credential plan and the secret values it names.

use std::collections::BTreeMap;

use herald_api::AuthType;
use herald_core::{
    CredentialPlan, FILE_CA, FILE_KNOWN_HOSTS, FILE_PASSWORD, FILE_SSH_PRIVATE_KEY, FILE_TOKEN,
    FILE_USERNAME,
};

use crate::{Auth, Remote, SecretString, Tls};

/// Secret values by the plan's file names (`username`, `ssh-privatekey`, ...).
pub type CredentialFiles = BTreeMap<&'static str, Vec<u8>>;

/// The remote a plan describes, with its secret values filled in. Fails with the name of the
/// first required file that is missing or not UTF-8.
pub fn remote_from_plan(plan: &CredentialPlan, files: &CredentialFiles) -> Result<Remote, String> {
    let text = |file: &str| -> Result<Option<String>, String> {
        files
            .get(file)
            .map(|bytes| {
                String::from_utf8(bytes.clone())
                    .map_err(|_| format!("credential {file} is not UTF-8"))
            })
            .transpose()
    };
    let need = |file: &str| text(file)?.ok_or_else(|| format!("credential {file} is missing"));
    // One-line values: the newline an editor or `echo` adds is not part of them.
    let line = |file: &str| need(file).map(|v| v.trim_end_matches(['\r', '\n']).to_owned());
    let auth = match plan.auth {
        None => Auth::None,
        Some(AuthType::Basic) => Auth::Basic {
            username: line(FILE_USERNAME)?,
            password: SecretString::from(line(FILE_PASSWORD)?),
        },
        Some(AuthType::Token) => Auth::Token {
            username: plan.username.clone(),
            token: SecretString::from(line(FILE_TOKEN)?),
        },
        Some(AuthType::Ssh) => Auth::Ssh {
            username: plan.username.clone(),
            private_key: SecretString::from(need(FILE_SSH_PRIVATE_KEY)?),
            passphrase: None,
            known_hosts: match &plan.known_hosts {
                Some(inline) => Some(inline.clone()),
                None => text(FILE_KNOWN_HOSTS)?,
            },
            allow_unknown_host: plan.allow_unknown_host_keys,
        },
    };
    let tls = Tls {
        ca_pem: text(FILE_CA)?,
        insecure_skip_verify: plan.insecure_skip_tls_verify,
    };
    Ok(Remote {
        url: plan.url.clone(),
        auth,
        tls,
    })
}
