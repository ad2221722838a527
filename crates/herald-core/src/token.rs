//! Hook token comparison.

use subtle::ConstantTimeEq;

/// Compare a presented token with the expected one in time independent of where they differ,
/// so a caller cannot guess the token byte by byte. (Length still shows; tokens are secrets of
/// fixed, public length.)
pub fn tokens_equal(presented: &[u8], expected: &[u8]) -> bool {
    !expected.is_empty() && bool::from(presented.ct_eq(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_tokens() {
        assert!(tokens_equal(b"s3cret", b"s3cret"));
        assert!(!tokens_equal(b"s3cre", b"s3cret"));
        assert!(!tokens_equal(b"s3creT", b"s3cret"));
        assert!(
            !tokens_equal(b"", b""),
            "an empty expected token must never match"
        );
    }
}
