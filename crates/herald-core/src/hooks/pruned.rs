//! Reading a push payload without building what Herald never looks at.
//!
//! Real payloads are mostly text Herald ignores (commit messages and authors, the sender, the
//! repository's dozens of URLs); building a `Value` tree of all of it was the largest part of a
//! hook's cost. This keeps the top-level fields the parsers read, and of each commit its id and
//! file lists; everything else is checked for well-formedness and dropped.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Top-level fields any provider's parser reads.
const KEPT: &[&str] = &[
    "ref",
    "before",
    "after",
    "created",
    "deleted",
    "forced",
    "commits",
    "head_commit",
    "total_commits",
    "total_commits_count",
    "checkout_sha",
    "repository",
    "project",
    "changes",
    "push",
    "event_name",
    "object_kind",
];

/// Fields of a commit the parsers read.
const COMMIT_KEPT: &[&str] = &["id", "added", "modified", "removed"];

/// Parses `body`, which must be a JSON object, keeping only what the parsers read.
pub(crate) fn from_slice(body: &[u8]) -> serde_json::Result<Value> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = Object { kept: KEPT }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// An object with only the `kept` fields; `commits` read as [`Commits`].
struct Object {
    kept: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for Object {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Object {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if !self.kept.contains(&key.as_ref()) {
                map.next_value::<IgnoredAny>()?;
            } else if key == "commits" {
                kept.insert(key.into_owned(), map.next_value_seed(Commits)?);
            } else {
                kept.insert(key.into_owned(), map.next_value::<Value>()?);
            }
        }
        Ok(Value::Object(kept))
    }
}

/// A `commits` array, each commit pruned to [`COMMIT_KEPT`]. Another value keeps only its
/// type's shape (the parser rejects it as not an array either way).
struct Commits;

impl<'de> DeserializeSeed<'de> for Commits {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Commits {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of commits")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut commits = Vec::new();
        while let Some(commit) = seq.next_element_seed(Commit)? {
            commits.push(commit);
        }
        Ok(Value::Array(commits))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Object(Map::new()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
}

/// One commit pruned to [`COMMIT_KEPT`]; anything but an object is read as null (the parser
/// finds no file lists in either).
struct Commit;

impl<'de> DeserializeSeed<'de> for Commit {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Commit {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a commit")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if COMMIT_KEPT.contains(&key.as_ref()) {
                kept.insert(key.into_owned(), map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_what_the_parsers_read_and_drops_the_rest() {
        let body = json!({
            "ref": "refs/heads/main", "after": "a", "sender": {"login": "dev"},
            "repository": {"full_name": "acme/app", "owner": {"login": "acme"}},
            "commits": [
                {"id": "a", "message": "m", "author": {"name": "Dev"}, "added": ["x"],
                 "modified": [], "removed": null},
                "not a commit",
            ],
        });
        let pruned = from_slice(body.to_string().as_bytes()).expect("parses");
        assert_eq!(
            pruned,
            json!({
                "ref": "refs/heads/main", "after": "a",
                "repository": {"full_name": "acme/app", "owner": {"login": "acme"}},
                "commits": [{"id": "a", "added": ["x"], "modified": [], "removed": null}, null],
            })
        );
    }

    #[test]
    fn commits_that_are_not_a_list_stay_not_a_list() {
        for commits in [json!({"a": 1}), json!("x"), json!(3), json!(null)] {
            let body = json!({ "commits": commits }).to_string();
            let pruned = from_slice(body.as_bytes()).expect("parses");
            assert!(!pruned["commits"].is_array(), "{body}");
            assert_eq!(pruned["commits"].is_null(), commits.is_null(), "{body}");
        }
    }

    #[test]
    fn what_is_dropped_must_still_be_well_formed() {
        for body in [
            r#"{"sender": {"login": }, "ref": "x"}"#,
            r#"{"ref": "x"} trailing"#,
            r#"["not", "an", "object"]"#,
            r#"{"commits": [{"message": "unterminated}]}"#,
        ] {
            assert!(from_slice(body.as_bytes()).is_err(), "{body}");
        }
    }
}
