//! An ImageUpdate's notifications, with their URLs read from its Secrets on every announce.

use herald_api::{DEFAULT_NOTIFICATION_KEY, ImageUpdateSpec, NotificationFormat};

use crate::env::UpdateEnv;
use crate::notify::{Endpoint, Format};

/// The endpoints to send to, and the notifications that could not be used (with why).
#[derive(Debug, Default)]
pub struct Endpoints {
    pub endpoints: Vec<Endpoint>,
    /// `secret/key` of each endpoint, for logs (never the URL, which holds a token).
    pub labels: Vec<String>,
    pub unusable: Vec<(String, String)>,
}

/// Read every notification's URL.
pub async fn endpoints<E: UpdateEnv>(
    env: &E,
    namespace: &str,
    spec: &ImageUpdateSpec,
) -> Endpoints {
    let mut found = Endpoints::default();
    for notification in &spec.notifications {
        let key = notification
            .key
            .as_deref()
            .unwrap_or(DEFAULT_NOTIFICATION_KEY);
        let label = format!("{}/{key}", notification.secret_ref.name);
        let format = match notification.format {
            NotificationFormat::Slack => Format::Slack,
            NotificationFormat::Json => Format::Json,
        };
        let url = env
            .secret_value(namespace, &notification.secret_ref.name, key)
            .await
            .map_err(|error| error.to_string())
            .and_then(|bytes| {
                String::from_utf8(bytes).map_err(|_| "the URL is not UTF-8".to_owned())
            });
        match url.and_then(|url| {
            Endpoint::new(format, url.trim().to_owned()).map_err(|error| error.to_string())
        }) {
            Ok(endpoint) => {
                found.endpoints.push(endpoint);
                found.labels.push(label);
            }
            Err(error) => found.unusable.push((label, error)),
        }
    }
    found
}
