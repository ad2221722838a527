//! A minimal view of request headers, so this crate needs no HTTP framework.

/// Read access to a request's headers.
///
/// `name` is always passed in lower case; implementations should compare names ASCII
/// case-insensitively and return the first value when a header repeats. The HTTP layer wraps its
/// own header map in a newtype implementing this (three lines); lists of pairs work as they are:
///
/// ```
/// use herald_core::hooks::Headers;
/// let h = [("X-GitHub-Event", "push")];
/// assert_eq!(h.header("x-github-event"), Some(&b"push"[..]));
/// ```
pub trait Headers {
    /// The raw value of the first header called `name` (lower case), if any.
    fn header(&self, name: &str) -> Option<&[u8]>;
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for [(N, V)] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>, const K: usize> Headers for [(N, V); K] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().header(name)
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for Vec<(N, V)> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().header(name)
    }
}

impl<T: Headers + ?Sized> Headers for &T {
    fn header(&self, name: &str) -> Option<&[u8]> {
        (**self).header(name)
    }
}

/// A header's value as text with surrounding whitespace removed; `None` when absent or not UTF-8.
pub(crate) fn header_str<'h, H: Headers + ?Sized>(headers: &'h H, name: &str) -> Option<&'h str> {
    headers
        .header(name)
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::trim)
}

/// The first of `names` that is present, with its name.
pub(crate) fn first_header<'h, H: Headers + ?Sized>(
    headers: &'h H,
    names: &[&'static str],
) -> Option<(&'static str, &'h [u8])> {
    names
        .iter()
        .find_map(|n| headers.header(n).map(|v| (*n, v)))
}
