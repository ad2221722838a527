//! Signature and token checks, all in constant time.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Provider;
use super::headers::{Headers, first_header};

type HmacSha256 = Hmac<Sha256>;

/// The HMAC algorithm of a `generic-hmac` hook. Only SHA-256 for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HmacAlgorithm {
    /// HMAC-SHA256, 64 hex digits.
    #[default]
    Sha256,
}

/// What a trigger knows to check a delivery with.
///
/// `secret` is the shared secret (HMAC key, GitLab token, generic token, or the Bitbucket Cloud
/// path token). `header` and `prefix` only matter to `generic` and `generic-hmac`:
///
/// * `generic`: the token is read from `header` (default `authorization`). `prefix` is a scheme
///   word such as `Bearer`, matched case-insensitively and followed by whitespace; when `header` is
///   not set the prefix defaults to `Bearer`. Without a prefix the whole value is the token.
/// * `generic-hmac`: the hex signature is read from `header` (default `x-hub-signature-256`). With
///   a `prefix` (such as `sha256=`) the value must start with it; without one a leading `sha256=`
///   is accepted and skipped.
///
/// `Debug` never shows the secret.
#[derive(Clone, Copy)]
pub struct HookSecret<'a> {
    /// The shared secret; an empty one never verifies anything.
    pub secret: &'a [u8],
    /// `generic` / `generic-hmac`: the header carrying the token or signature (any case).
    pub header: Option<&'a str>,
    /// `generic`: scheme word before the token; `generic-hmac`: literal prefix before the hex.
    pub prefix: Option<&'a str>,
    /// `generic-hmac`: the algorithm.
    pub algorithm: HmacAlgorithm,
}

impl<'a> HookSecret<'a> {
    /// A secret with default header and prefix.
    pub fn new(secret: &'a [u8]) -> Self {
        HookSecret {
            secret,
            header: None,
            prefix: None,
            algorithm: HmacAlgorithm::Sha256,
        }
    }

    /// Read the token or signature from this header (`generic`, `generic-hmac`).
    pub fn with_header(mut self, header: &'a str) -> Self {
        self.header = Some(header);
        self
    }

    /// Expect this scheme word or prefix before the token or signature.
    pub fn with_prefix(mut self, prefix: &'a str) -> Self {
        self.prefix = Some(prefix);
        self
    }
}

impl fmt::Debug for HookSecret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookSecret")
            .field("secret", &"<redacted>")
            .field("header", &self.header)
            .field("prefix", &self.prefix)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// Why a delivery was not accepted. The text names at most a header, never a byte, a length or an
/// expected value; the HTTP layer answers 401 without any of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The trigger has an empty secret: a configuration error, and nothing verifies.
    #[error("the hook secret is empty")]
    NoSecret,
    /// The signature or token header is absent.
    #[error("missing header {0}")]
    MissingHeader(String),
    /// The header is present but not of the expected form.
    #[error("malformed header {0}")]
    Malformed(String),
    /// Bitbucket Cloud: the URL carried no path token.
    #[error("missing path token")]
    MissingPathToken,
    /// The signature or token is wrong.
    #[error("signature or token does not match")]
    Mismatch,
}

/// Check that a delivery comes from the holder of `secret`.
///
/// `body` must be the raw bytes as received. `path_token` is the token segment of the URL the
/// delivery came to; only `bitbucket-cloud` uses it (it is compared with `secret.secret`), the
/// other providers ignore it. Every comparison takes time independent of where the values differ:
/// HMACs through `hmac`'s `verify_slice`, tokens by comparing SHA-256 digests with `subtle`, so not
/// even the token's length shows.
pub fn verify<H: Headers + ?Sized>(
    provider: Provider,
    headers: &H,
    body: &[u8],
    secret: &HookSecret<'_>,
    path_token: Option<&str>,
) -> Result<(), VerifyError> {
    if secret.secret.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    match provider {
        Provider::Github => {
            let v = required(headers, "x-hub-signature-256")?;
            let hex = strip_prefix_ci(v, "sha256=")
                .ok_or_else(|| VerifyError::Malformed("x-hub-signature-256".into()))?;
            check_hmac(hex, "x-hub-signature-256", body, secret.secret)
        }
        Provider::Gitea => {
            let names = [
                "x-gitea-signature",
                "x-forgejo-signature",
                "x-gogs-signature",
            ];
            let (name, v) = first_header(headers, &names)
                .ok_or_else(|| VerifyError::MissingHeader(names[0].into()))?;
            let v = text(v, name)?;
            check_hmac(v, name, body, secret.secret)
        }
        Provider::BitbucketServer => {
            let v = required(headers, "x-hub-signature")?;
            let hex = strip_prefix_ci(v, "sha256=")
                .ok_or_else(|| VerifyError::Malformed("x-hub-signature".into()))?;
            check_hmac(hex, "x-hub-signature", body, secret.secret)
        }
        Provider::Gitlab => {
            // GitLab sends the token exactly as configured; no trimming.
            let v = headers
                .header("x-gitlab-token")
                .ok_or_else(|| VerifyError::MissingHeader("x-gitlab-token".into()))?;
            check_token(v, secret.secret)
        }
        Provider::BitbucketCloud => {
            let t = path_token.ok_or(VerifyError::MissingPathToken)?;
            check_token(t.as_bytes(), secret.secret)
        }
        Provider::Generic => {
            let (name, prefix) = match secret.header {
                Some(h) => (h, secret.prefix),
                None => ("authorization", secret.prefix.or(Some("Bearer"))),
            };
            let name = name.to_ascii_lowercase();
            let v = required(headers, &name)?;
            let token = match prefix {
                Some(p) => strip_scheme(v, p).ok_or(VerifyError::Malformed(name))?,
                None => v,
            };
            check_token(token.as_bytes(), secret.secret)
        }
        Provider::GenericHmac => {
            let name = secret
                .header
                .unwrap_or("x-hub-signature-256")
                .to_ascii_lowercase();
            let v = required(headers, &name)?;
            let hex = match secret.prefix {
                Some(p) => {
                    strip_prefix_ci(v, p).ok_or_else(|| VerifyError::Malformed(name.clone()))?
                }
                None => strip_prefix_ci(v, "sha256=").unwrap_or(v),
            };
            match secret.algorithm {
                HmacAlgorithm::Sha256 => check_hmac(hex, &name, body, secret.secret),
            }
        }
    }
}

/// The longest delivery id kept as it is; a longer one is kept as its digest.
pub const MAX_PLAIN_DELIVERY_ID: usize = 200;

/// The sender's id of this delivery, the same on every retry, for deduplication.
///
/// `None` only when the provider sends none or the value is blank. An id of at most
/// [`MAX_PLAIN_DELIVERY_ID`] printable ASCII bytes is kept as it is; any other (longer, or with
/// spaces, control or non-ASCII bytes) becomes `sha256:<hex digest of its bytes>`, so every id
/// deduplicates and what is stored and logged is always short and printable. Ids are only
/// unique per sender: dedupe on (trigger, id), not on the id alone (GitLab's
/// `X-Gitlab-Event-UUID` is shared by every hook the same event fires).
pub fn delivery_id<H: Headers + ?Sized>(provider: Provider, headers: &H) -> Option<String> {
    let names: &[&'static str] = match provider {
        Provider::Github => &["x-github-delivery"],
        Provider::Gitea => &["x-gitea-delivery", "x-forgejo-delivery", "x-gogs-delivery"],
        Provider::Gitlab => &["idempotency-key", "x-gitlab-event-uuid"],
        Provider::BitbucketServer => &["x-request-id"],
        // Not X-Hook-UUID: it names the webhook and is the same on every delivery.
        Provider::BitbucketCloud => &["x-request-uuid"],
        Provider::Generic | Provider::GenericHmac => &["idempotency-key", "x-delivery-id"],
    };
    names.iter().find_map(|n| {
        let v = headers.header(n)?.trim_ascii();
        (!v.is_empty()).then(|| stored_delivery_id(v))
    })
}

fn stored_delivery_id(raw: &[u8]) -> String {
    let plain = raw.len() <= MAX_PLAIN_DELIVERY_ID && raw.iter().all(u8::is_ascii_graphic);
    match std::str::from_utf8(raw) {
        Ok(text) if plain => text.to_owned(),
        _ => format!("sha256:{}", hex::encode(Sha256::digest(raw))),
    }
}

fn text<'h>(v: &'h [u8], name: &str) -> Result<&'h str, VerifyError> {
    std::str::from_utf8(v)
        .map(str::trim)
        .map_err(|_| VerifyError::Malformed(name.to_owned()))
}

fn required<'h, H: Headers + ?Sized>(headers: &'h H, name: &str) -> Result<&'h str, VerifyError> {
    let v = headers
        .header(name)
        .ok_or_else(|| VerifyError::MissingHeader(name.to_owned()))?;
    text(v, name)
}

fn strip_prefix_ci<'v>(v: &'v str, prefix: &str) -> Option<&'v str> {
    let head = v.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &v[prefix.len()..])
}

/// `Bearer abc` → `abc` for scheme `Bearer`: the word, then at least one space or tab.
fn strip_scheme<'v>(v: &'v str, scheme: &str) -> Option<&'v str> {
    let rest = strip_prefix_ci(v, scheme.trim())?;
    let needs_space = scheme
        .trim()
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if needs_space && !rest.starts_with([' ', '\t']) {
        return None;
    }
    Some(rest.trim_start())
}

fn check_hmac(hex_sig: &str, name: &str, body: &[u8], key: &[u8]) -> Result<(), VerifyError> {
    let sig = hex::decode(hex_sig.trim()).map_err(|_| VerifyError::Malformed(name.to_owned()))?;
    if sig.len() != 32 {
        return Err(VerifyError::Malformed(name.to_owned()));
    }
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| VerifyError::NoSecret)?;
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| VerifyError::Mismatch)
}

fn check_token(presented: &[u8], expected: &[u8]) -> Result<(), VerifyError> {
    if tokens_match(presented, expected) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Whether a presented token is the expected one, in constant time: their SHA-256 digests are
/// compared, so neither the content nor the length of the expected token leaks through timing.
pub fn tokens_match(presented: &[u8], expected: &[u8]) -> bool {
    let a = Sha256::digest(presented);
    let b = Sha256::digest(expected);
    bool::from(a.ct_eq(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_needs_a_space() {
        assert_eq!(strip_scheme("Bearer abc", "Bearer"), Some("abc"));
        assert_eq!(strip_scheme("bearer   abc", "Bearer"), Some("abc"));
        assert_eq!(strip_scheme("Bearerabc", "Bearer"), None);
        assert_eq!(strip_scheme("Token", "Bearer"), None);
        assert_eq!(strip_prefix_ci("SHA256=ab", "sha256="), Some("ab"));
        assert_eq!(strip_prefix_ci("é", "sha256="), None);
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = HookSecret::new(b"hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
