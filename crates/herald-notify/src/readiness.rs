//! Whether a Notifier can send at all: its Secret and the keys its type needs. Checked when it
//! is loaded (local mode: a manifest error) or reconciled (cluster mode: `Ready=False`), so a
//! typo shows up then, not at the first failure it should have announced.

use herald_api::{NOTIFIER_ADDRESS_KEY, NOTIFIER_TOKEN_KEY, NotifierSpec, NotifierType, reasons};
use k8s_openapi::api::core::v1::Secret;

/// Why a Notifier cannot send, with a reason of `herald_api::reasons`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NotReady {
    pub reason: &'static str,
    pub message: String,
}

/// Checks `spec` (in `namespace`) against `secret`, the Secret its `secretRef` names as found
/// (`None`: not found). Never reads or repeats a value.
pub fn readiness(
    spec: &NotifierSpec,
    namespace: &str,
    secret: Option<&Secret>,
) -> Result<(), NotReady> {
    let Some(secret_ref) = &spec.secret_ref else {
        return Ok(());
    };
    let Some(secret) = secret else {
        return Err(NotReady {
            reason: reasons::SECRET_MISSING,
            message: format!("Secret {namespace}/{} does not exist", secret_ref.name),
        });
    };
    let has = |key: &str| herald_api::secret_key(secret, key).is_some_and(|v| !v.is_empty());
    let needs_token = matches!(
        spec.notifier_type,
        NotifierType::GenericHmac
            | NotifierType::Github
            | NotifierType::Gitlab
            | NotifierType::Gitea
    );
    let needs_address = !spec.notifier_type.is_commit_status() && spec.address.is_none();
    for (needed, key) in [
        (needs_token, NOTIFIER_TOKEN_KEY),
        (needs_address, NOTIFIER_ADDRESS_KEY),
    ] {
        if needed && !has(key) {
            return Err(NotReady {
                reason: reasons::SECRET_KEY_MISSING,
                message: format!(
                    "Secret {namespace}/{} has no (non-empty) key {key:?}, which a {} Notifier needs",
                    secret_ref.name,
                    spec.notifier_type.as_str()
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_api::{SecretRef, Severity};
    use std::collections::BTreeMap;

    fn spec(t: NotifierType, address: Option<&str>) -> NotifierSpec {
        NotifierSpec {
            notifier_type: t,
            address: address.map(Into::into),
            secret_ref: Some(SecretRef {
                name: "hook".into(),
                namespace: None,
            }),
            events: Vec::new(),
            event_sources: Vec::new(),
            severity: Severity::Info,
            fold_window: None,
            suspend: false,
        }
    }

    fn secret(keys: &[&str]) -> Secret {
        Secret {
            string_data: Some(
                keys.iter()
                    .map(|k| ((*k).to_owned(), "value".to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    #[test]
    fn each_type_needs_its_keys() {
        assert_eq!(
            readiness(&spec(NotifierType::Slack, None), "t", None)
                .unwrap_err()
                .reason,
            reasons::SECRET_MISSING
        );
        let missing = readiness(
            &spec(NotifierType::Slack, None),
            "t",
            Some(&secret(&["token"])),
        )
        .unwrap_err();
        assert_eq!(missing.reason, reasons::SECRET_KEY_MISSING);
        assert!(
            missing.message.contains("\"address\""),
            "{}",
            missing.message
        );
        assert!(
            readiness(
                &spec(NotifierType::Slack, None),
                "t",
                Some(&secret(&["address"]))
            )
            .is_ok()
        );
        assert!(
            readiness(
                &spec(NotifierType::Generic, Some("https://h/x")),
                "t",
                Some(&secret(&[]))
            )
            .is_ok()
        );
        let hmac = readiness(
            &spec(NotifierType::GenericHmac, Some("https://h/x")),
            "t",
            Some(&secret(&["address"])),
        );
        assert!(hmac.unwrap_err().message.contains("\"token\""));
        assert!(
            readiness(
                &spec(NotifierType::Github, None),
                "t",
                Some(&secret(&["token"]))
            )
            .is_ok()
        );
        let mut none = spec(NotifierType::Generic, Some("https://h/x"));
        none.secret_ref = None;
        assert!(readiness(&none, "t", None).is_ok());
    }
}
