//! The `WWW-Authenticate` challenge of a 401: which scheme the registry wants and, for Bearer,
//! where to get a token.

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};

/// How a registry asks to be authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// The challenge of a 401's headers; Bearer is preferred when several are offered. `None`
/// when there is none the client speaks.
pub fn from_headers(headers: &HeaderMap) -> Option<Challenge> {
    let challenges: Vec<Challenge> = headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(parse)
        .collect();
    challenges
        .iter()
        .find(|challenge| matches!(challenge, Challenge::Bearer { .. }))
        .or_else(|| challenges.first())
        .cloned()
}

/// Parse one challenge: `Basic realm="x"` or `Bearer realm="..",service="..",scope=".."`.
pub fn parse(value: &str) -> Option<Challenge> {
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = params(rest);
    let get = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    };
    Some(Challenge::Bearer {
        realm: get("realm")?,
        service: get("service"),
        scope: get("scope"),
    })
}

/// `key=value` or `key="quoted, value"` pairs, comma-separated; `\` escapes in quotes.
fn params(input: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if chars.next().is_none() {
            return params;
        }
        let value = if chars.next_if_eq(&'"').is_some() {
            quoted(&mut chars)
        } else {
            std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect()
        };
        params.push((key.trim().to_owned(), value.trim().to_owned()));
    }
}

fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut value = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => value.extend(chars.next()),
            c => value.push(c),
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_with_quoted_commas() {
        let challenge = parse(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(
            challenge,
            Some(Challenge::Bearer {
                realm: "https://auth.example.com/token".into(),
                service: Some("registry.example.com".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
    }

    #[test]
    fn parses_basic_and_unquoted_values() {
        assert_eq!(parse(r#"Basic realm="test""#), Some(Challenge::Basic));
        assert_eq!(
            parse("bearer realm=http://127.0.0.1:1/t, service=s"),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: Some("s".into()),
                scope: None,
            })
        );
        assert_eq!(parse("Bearer service=x"), None);
        assert_eq!(parse("Negotiate"), None);
    }
}
