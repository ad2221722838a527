//! Reading one key of a Kubernetes `Secret`, as both modes do.

use k8s_openapi::api::core::v1::Secret;

/// The bytes of `key` in `secret`: `stringData` wins over `data`, as the API server merges
/// them (a local manifest may carry either).
pub fn secret_key(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    let text = secret.string_data.as_ref().and_then(|d| d.get(key));
    let bytes = secret.data.as_ref().and_then(|d| d.get(key));
    text.map(|t| t.as_bytes().to_vec())
        .or_else(|| bytes.map(|b| b.0.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    #[test]
    fn string_data_wins_over_data() {
        let secret = Secret {
            data: Some([("a".into(), ByteString(b"old".to_vec()))].into()),
            string_data: Some([("a".into(), "new".into())].into()),
            ..Secret::default()
        };
        assert_eq!(secret_key(&secret, "a").as_deref(), Some(&b"new"[..]));
        assert_eq!(secret_key(&secret, "b"), None);
        let only_data = Secret {
            string_data: None,
            ..secret
        };
        assert_eq!(secret_key(&only_data, "a").as_deref(), Some(&b"old"[..]));
    }
}
