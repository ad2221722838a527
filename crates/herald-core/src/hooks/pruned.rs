//! Reading a push payload without building what Herald never looks at.
//!
//! Real payloads are mostly text Herald ignores (commit messages and authors, the sender, the
//! repository's dozens of URLs); building a `Value` tree of all of it was the largest part of a
//! hook's cost. This keeps the fields the parsers read, reads `commits` straight into the files
//! they changed (see [`super::commits`]), and checks everything else for well-formedness only.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::commits::{CommitList, CommitsSeed};

/// What of a payload the parsers read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Payload {
    /// The kept top-level fields, `commits` aside.
    pub(crate) fields: Value,
    pub(crate) commits: CommitList,
}

/// How much of a field is kept.
enum Keep {
    /// All of it.
    Whole,
    /// Of an object, these fields (each whole); another value is kept as it is.
    Fields(&'static [&'static str]),
}

/// Top-level fields any provider's parser reads (`commits` aside).
const KEPT: &[(&str, Keep)] = &[
    ("ref", Keep::Whole),
    ("before", Keep::Whole),
    ("after", Keep::Whole),
    ("created", Keep::Whole),
    ("deleted", Keep::Whole),
    ("forced", Keep::Whole),
    ("total_commits", Keep::Whole),
    ("total_commits_count", Keep::Whole),
    ("checkout_sha", Keep::Whole),
    ("changes", Keep::Whole),
    ("push", Keep::Whole),
    ("event_name", Keep::Whole),
    ("object_kind", Keep::Whole),
    ("head_commit", Keep::Fields(&["id"])),
    (
        "repository",
        Keep::Fields(&[
            "full_name",
            "clone_url",
            "ssh_url",
            "html_url",
            "git_http_url",
            "git_ssh_url",
            "homepage",
            "project",
            "slug",
            "links",
        ]),
    ),
    (
        "project",
        Keep::Fields(&[
            "path_with_namespace",
            "git_http_url",
            "git_ssh_url",
            "web_url",
        ]),
    ),
];

/// Parses `body`, which must be a JSON object, keeping only what the parsers read.
pub(crate) fn from_slice(body: &[u8]) -> serde_json::Result<Payload> {
    read(body, TopLevel { files: true })
}

/// [`from_slice`] without the commits' file lists, which are only checked for well-formedness
/// (for a trigger that watches no files, reading them is most of the cost).
pub(crate) fn without_files(body: &[u8]) -> serde_json::Result<Payload> {
    read(body, TopLevel { files: false })
}

fn read(body: &[u8], top: TopLevel) -> serde_json::Result<Payload> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let payload = deserializer.deserialize_map(top)?;
    deserializer.end()?;
    Ok(payload)
}

/// The payload object: [`KEPT`] fields and, if `files`, what `commits` says of files.
struct TopLevel {
    files: bool,
}

impl<'de> Visitor<'de> for TopLevel {
    type Value = Payload;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payload, A::Error> {
        let mut fields = Map::new();
        let mut commits = CommitList::Absent;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "commits" {
                commits = if self.files {
                    map.next_value_seed(CommitsSeed)?
                } else {
                    map.next_value::<IgnoredAny>()?;
                    CommitList::Unread
                };
                continue;
            }
            let value = match KEPT.iter().find(|(name, _)| *name == key) {
                Some((_, Keep::Whole)) => map.next_value::<Value>()?,
                Some((_, Keep::Fields(kept))) => map.next_value_seed(Pruned { kept })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            fields.insert(key.into_owned(), value);
        }
        Ok(Payload {
            fields: Value::Object(fields),
            commits,
        })
    }
}

/// An object with only the `kept` fields; any other value as it is.
struct Pruned {
    kept: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for Pruned {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pruned {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if self.kept.contains(&key.as_ref()) {
                kept.insert(key.into_owned(), map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::Array(items))
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

#[cfg(test)]
impl Payload {
    /// The same reading from a whole JSON tree, pruning nothing: what [`from_slice`] must
    /// agree with.
    pub(crate) fn whole(body: &[u8]) -> serde_json::Result<Self> {
        let mut fields: Value = serde_json::from_slice(body)?;
        let commits = fields.as_object_mut().and_then(|f| f.remove("commits"));
        Ok(Self {
            commits: CommitList::from_value(commits.as_ref()),
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::hooks::commits::Files;

    #[test]
    fn keeps_what_the_parsers_read_and_drops_the_rest() {
        let body = json!({
            "ref": "refs/heads/main", "after": "a", "sender": {"login": "dev"},
            "repository": {"full_name": "acme/app", "owner": {"login": "acme"}},
            "head_commit": {"id": "a", "message": "m"},
            "project": "not an object",
            "commits": [
                {"id": "a", "message": "m", "author": {"name": "Dev"}, "added": ["x"],
                 "modified": ["y", "x"], "removed": []},
                {"id": "b", "added": [], "modified": ["z"], "removed": ["y"]},
            ],
        });
        let pruned = from_slice(body.to_string().as_bytes()).expect("parses");
        assert_eq!(
            pruned.fields,
            json!({
                "ref": "refs/heads/main", "after": "a",
                "repository": {"full_name": "acme/app"},
                "head_commit": {"id": "a"},
                "project": "not an object",
            })
        );
        let files = ["x", "y", "z"].map(String::from).to_vec();
        assert_eq!(
            pruned.commits,
            CommitList::Listed {
                count: 2,
                files: Files::Known(files)
            }
        );
    }

    #[test]
    fn commits_are_read_as_the_files_they_changed() {
        for (commits, expected) in [
            (json!(null), CommitList::Absent),
            (json!({"a": 1}), CommitList::NotAList),
            (json!("x"), CommitList::NotAList),
            (json!(3), CommitList::NotAList),
            (
                json!([{"added": ["a"], "modified": [], "removed": []}, "not a commit"]),
                CommitList::Listed {
                    count: 2,
                    files: Files::Unknown,
                },
            ),
            (
                json!([{"added": [], "modified": null, "removed": 7}]),
                CommitList::Listed {
                    count: 1,
                    files: Files::Unknown,
                },
            ),
            (
                json!([{"added": [], "modified": [1], "removed": null}, {"added": null}]),
                CommitList::Listed {
                    count: 2,
                    files: Files::Invalid {
                        commit: 0,
                        key: "modified",
                    },
                },
            ),
        ] {
            let body = json!({ "commits": commits }).to_string();
            let pruned = from_slice(body.as_bytes()).expect("parses");
            assert_eq!(pruned.commits, expected, "{body}");
            let whole = Payload::whole(body.as_bytes()).expect("parses");
            assert_eq!(whole.commits, expected, "{body}");
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
