//! The `Link: <url>; rel="next"` header of a paginated tag list.

use reqwest::Url;
use reqwest::header::{HeaderMap, LINK};

/// The next page's URL, resolved against the current page's (a registry may send a path only).
pub fn next(headers: &HeaderMap, current: &Url) -> Result<Option<Url>, String> {
    for value in headers.get_all(LINK) {
        let value = value
            .to_str()
            .map_err(|_| "a Link header that is not text".to_owned())?;
        for link in value.split(',') {
            if let Some(target) = next_target(link) {
                return current
                    .join(target)
                    .map(Some)
                    .map_err(|error| format!("a Link header with a bad URL {target:?}: {error}"));
            }
        }
    }
    Ok(None)
}

/// The target of one `<url>; param; ...` link when one of its params is `rel="next"`.
fn next_target(link: &str) -> Option<&str> {
    let (target, params) = link.trim().strip_prefix('<')?.split_once('>')?;
    params
        .split(';')
        .filter_map(|param| param.split_once('='))
        .any(|(key, value)| {
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        })
        .then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(link: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(LINK, HeaderValue::from_str(link).expect("header"));
        headers
    }

    #[test]
    fn resolves_relative_and_absolute_links() {
        let current = Url::parse("https://r.example/v2/a/tags/list").expect("url");
        let relative = headers(r#"</v2/a/tags/list?last=x&n=2>; rel="next""#);
        assert_eq!(
            next(&relative, &current).expect("next").map(String::from),
            Some("https://r.example/v2/a/tags/list?last=x&n=2".into())
        );
        let absolute =
            headers(r#"<https://o.example/p?q=1>; rel=next, <https://o.example/f>; rel="first""#);
        assert_eq!(
            next(&absolute, &current).expect("next").map(String::from),
            Some("https://o.example/p?q=1".into())
        );
        let other = headers(r#"<https://o.example/f>; rel="prev""#);
        assert_eq!(next(&other, &current).expect("next"), None);
    }
}
