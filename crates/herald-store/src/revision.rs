//! Revision normalisation: the forms Flux and Git hosts write a commit in all become its bare
//! lower-case SHA-1.

/// The bare, lower-case 40-hex SHA-1 in `revision`, if it holds one: `main@sha1:<sha>` (Flux
/// v2), `main/<sha>` (Flux v1, branches with slashes included), `sha1:<sha>` or a bare `<sha>`,
/// in any case. Anything else (a tag alone, an OCI digest, garbage) is `None`.
pub fn normalize_revision(revision: &str) -> Option<String> {
    let revision = revision.trim();
    let sha = if let Some((_, sha)) = revision.rsplit_once("@sha1:") {
        sha
    } else if let Some(sha) = revision.strip_prefix("sha1:") {
        sha
    } else if let Some((_, sha)) = revision.rsplit_once('/') {
        sha
    } else {
        revision
    };
    (sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| sha.to_ascii_lowercase())
}

/// How a revision is stored and matched: normalised when it holds a SHA-1, else as given
/// (trimmed), so tags and digests can still be found.
pub(crate) fn canonical(revision: &str) -> String {
    normalize_revision(revision).unwrap_or_else(|| revision.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn flux_and_git_forms_all_normalise_to_the_sha() {
        for form in [
            format!("main@sha1:{SHA}"),
            format!("main/{SHA}"),
            format!("feature/x/{SHA}"),
            format!("v1.2.3@sha1:{SHA}"),
            format!("sha1:{SHA}"),
            SHA.to_owned(),
            format!("  {SHA}\n"),
            SHA.to_ascii_uppercase(),
            format!("MAIN@sha1:{}", SHA.to_ascii_uppercase()),
        ] {
            assert_eq!(normalize_revision(&form).as_deref(), Some(SHA), "{form}");
        }
    }

    #[test]
    fn garbage_is_none() {
        for form in [
            "",
            "main",
            "v1.2.3",
            "main@sha1:",
            "main@sha1:0123",
            &SHA[..39],
            &format!("{SHA}0"),
            &format!("main@sha256:{}", "a".repeat(64)),
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            "main/",
        ] {
            assert_eq!(normalize_revision(form), None, "{form:?}");
        }
    }

    #[test]
    fn canonical_keeps_what_it_cannot_normalise() {
        assert_eq!(canonical(&format!("main@sha1:{SHA}")), SHA);
        assert_eq!(canonical(" v1.2.3 "), "v1.2.3");
    }
}
