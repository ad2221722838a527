//! The files a push changed, read from its `commits` list while the payload is parsed.
//!
//! Only `added`, `modified` and `removed` of each commit are looked at, and the union is
//! gathered as the list streams past: no commit is kept as a JSON tree (building those trees
//! was most of a hook's parsing cost).

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::ParseError;

/// The keys of a commit that list files, in the order they are read.
const FILE_KEYS: [&str; 3] = ["added", "modified", "removed"];

/// What a payload's `commits` field says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum CommitList {
    /// No `commits`, or null.
    #[default]
    Absent,
    /// Something other than a list.
    NotAList,
    /// Not read: nobody asked which files changed.
    Unread,
    /// A list of `count` commits.
    Listed { count: usize, files: Files },
}

impl CommitList {
    /// The files the pushed commits changed, or `None` when that is unknown: no list, an empty
    /// one, one of `cap` commits or more (where the provider stops listing), or fewer commits
    /// than the payload's `total` says were pushed.
    pub(crate) fn changed_files(
        self,
        cap: Option<usize>,
        total: Option<u64>,
    ) -> Result<Option<Vec<String>>, ParseError> {
        let (count, files) = match self {
            Self::Absent | Self::Unread => return Ok(None),
            Self::NotAList => {
                return Err(ParseError::InvalidField {
                    field: "commits".into(),
                    expected: "an array",
                });
            }
            Self::Listed { count, files } => (count, files),
        };
        let complete = count > 0
            && cap.is_none_or(|cap| count < cap)
            && total.is_none_or(|total| total <= count as u64);
        if !complete {
            return Ok(None);
        }
        match files {
            Files::Known(files) => Ok(Some(files)),
            Files::Unknown => Ok(None),
            Files::Invalid { commit, key } => Err(ParseError::InvalidField {
                field: format!("commits[{commit}].{key}"),
                expected: "an array of paths",
            }),
        }
    }
}

/// The files the listed commits changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Files {
    /// Each file once, in the order first named.
    Known(Vec<String>),
    /// A commit lacks a file list (or is not an object): any file may have changed.
    Unknown,
    /// `commits[commit].key` is not a list of paths.
    Invalid { commit: usize, key: &'static str },
}

/// Gathers the union of the commits' file lists until one of them decides otherwise.
#[derive(Default)]
struct Union {
    files: Vec<String>,
    seen: HashSet<String>,
    /// Set once a commit makes the list unknown or invalid; later commits no longer matter.
    decided: Option<Files>,
}

impl Union {
    /// Adds commit number `index` (`None`: not an object), checking its lists in
    /// [`FILE_KEYS`] order.
    fn add(&mut self, index: usize, lists: Option<[FileList; 3]>) {
        if self.decided.is_some() {
            return;
        }
        let Some(lists) = lists else {
            self.decided = Some(Files::Unknown);
            return;
        };
        for (key, list) in FILE_KEYS.into_iter().zip(lists) {
            match list {
                FileList::Absent => {
                    self.decided = Some(Files::Unknown);
                    return;
                }
                FileList::Invalid => {
                    self.decided = Some(Files::Invalid { commit: index, key });
                    return;
                }
                FileList::Paths(paths) => {
                    for path in paths {
                        if !self.seen.contains(&path) {
                            self.seen.insert(path.clone());
                            self.files.push(path);
                        }
                    }
                }
            }
        }
    }

    fn finish(self) -> Files {
        self.decided.unwrap_or(Files::Known(self.files))
    }
}

/// One of a commit's file lists.
#[derive(Default)]
enum FileList {
    /// Missing or null.
    #[default]
    Absent,
    /// Not a list of strings.
    Invalid,
    Paths(Vec<String>),
}

impl FileList {
    fn from_value(value: Value) -> Self {
        match value {
            Value::Null => Self::Absent,
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(path) => Some(path),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map_or(Self::Invalid, Self::Paths),
            _ => Self::Invalid,
        }
    }
}

/// Answers every scalar but null with `$value` (what a visitor makes of a value of the wrong
/// type).
macro_rules! scalars_are {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// Reads a `commits` value into a [`CommitList`].
pub(crate) struct CommitsSeed;

impl<'de> DeserializeSeed<'de> for CommitsSeed {
    type Value = CommitList;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<CommitList, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CommitsSeed {
    type Value = CommitList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of commits")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CommitList, A::Error> {
        let mut union = Union::default();
        let mut count = 0;
        while let Some(lists) = seq.next_element_seed(CommitSeed)? {
            union.add(count, lists);
            count += 1;
        }
        Ok(CommitList::Listed {
            count,
            files: union.finish(),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CommitList, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(CommitList::NotAList)
    }

    fn visit_unit<E>(self) -> Result<CommitList, E> {
        Ok(CommitList::Absent)
    }

    scalars_are!(CommitList::NotAList);
}

/// Reads one commit's file lists, in [`FILE_KEYS`] order; `None` when it is not an object.
struct CommitSeed;

impl<'de> DeserializeSeed<'de> for CommitSeed {
    type Value = Option<[FileList; 3]>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CommitSeed {
    type Value = Option<[FileList; 3]>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a commit")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut lists: [FileList; 3] = Default::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match FILE_KEYS.iter().position(|k| *k == key) {
                Some(i) => lists[i] = FileList::from_value(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(lists))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    scalars_are!(None);
}

#[cfg(test)]
impl CommitList {
    /// The same reading from a whole JSON tree: what the streaming reading must agree with.
    pub(crate) fn from_value(commits: Option<&Value>) -> Self {
        let items = match commits {
            None | Some(Value::Null) => return Self::Absent,
            Some(Value::Array(items)) => items,
            Some(_) => return Self::NotAList,
        };
        let mut union = Union::default();
        for (i, item) in items.iter().enumerate() {
            let lists = item.as_object().map(|commit| {
                FILE_KEYS.map(|key| {
                    commit
                        .get(key)
                        .cloned()
                        .map_or(FileList::Absent, FileList::from_value)
                })
            });
            union.add(i, lists);
        }
        Self::Listed {
            count: items.len(),
            files: union.finish(),
        }
    }
}
