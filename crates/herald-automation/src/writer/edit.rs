//! One batch's edits: which files hold targets of which updates, the intents applied to
//! each file (later request wins), and every change attributed to the update that made it.
//!
//! Pure apart from reading the clone's files, so it runs again unchanged on a new tip after
//! a lost push race.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use herald_image::{FileTargets, Intent, PolicyName, Repository, Watched, YamlPath};

use crate::writer::files::{covers, read_files};
use crate::writer::types::{FileChange, FileSkipped, Superseded, Update};

/// An update whose paths were checked (see `files::normalise_paths`).
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub update: Update,
    pub paths: Vec<String>,
}

impl Checked {
    fn covers(&self, file: &str) -> bool {
        self.paths.iter().any(|path| covers(path, file))
    }

    fn has_path_intents(&self) -> bool {
        self.update
            .intents
            .iter()
            .any(|intent| matches!(intent, Intent::Path { .. }))
    }

    /// The intents that may concern `file`, given what the scan found in it.
    fn intents_for(&self, file: &str, targets: Option<&FileTargets<&str>>) -> Vec<Intent> {
        if !self.covers(file) {
            return Vec::new();
        }
        let concerns = |intent: &&Intent| match intent {
            Intent::Tag { repository, .. } => {
                targets.is_some_and(|t| t.repositories.contains(repository))
            }
            Intent::Policy { policy, .. } => targets.is_some_and(|t| t.policies.contains(policy)),
            Intent::Path { .. } => true,
        };
        self.update
            .intents
            .iter()
            .filter(concerns)
            .cloned()
            .collect()
    }
}

/// What a batch came to for one of its updates.
#[derive(Debug, Clone, Default)]
pub(crate) struct UpdateEdit {
    pub changes: Vec<FileChange>,
    pub skipped: Vec<FileSkipped>,
    pub superseded: Vec<Superseded>,
    pub unreadable: Vec<(String, String)>,
}

/// The batch's edits: per update (in arrival order) and the files to write.
#[derive(Debug, Default)]
pub(crate) struct BatchEdit {
    pub per_update: Vec<UpdateEdit>,
    /// Changed files, repository-relative, with their new bytes.
    pub files: Vec<(String, Vec<u8>)>,
}

impl BatchEdit {
    /// Every change of the batch, update by update in arrival order.
    pub fn all_changes(&self) -> Vec<FileChange> {
        self.per_update
            .iter()
            .flat_map(|edit| edit.changes.iter().cloned())
            .collect()
    }
}

/// Which target an intent sets, for "later wins" between the requests of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum IntentKey {
    Tag(Repository),
    Policy(PolicyName),
    Path(YamlPath),
}

fn key(intent: &Intent) -> IntentKey {
    match intent {
        Intent::Tag { repository, .. } => IntentKey::Tag(repository.clone()),
        Intent::Policy { policy, .. } => IntentKey::Policy(policy.clone()),
        Intent::Path { path, .. } => IntentKey::Path(path.clone()),
    }
}

/// Plan the batch's edits in the clone at `root`.
pub(crate) fn edit_batch(root: &Path, updates: &[Checked]) -> std::io::Result<BatchEdit> {
    let union: BTreeSet<&str> = updates
        .iter()
        .flat_map(|checked| checked.paths.iter().map(String::as_str))
        .collect();
    let files = read_files(root, union)?;
    let watched = watched(updates);
    let report = herald_image::find_targets(
        files.iter().map(|(path, bytes)| (path.as_str(), bytes)),
        &watched,
    );
    let mut edit = BatchEdit {
        per_update: vec![UpdateEdit::default(); updates.len()],
        files: Vec::new(),
    };
    let mut unreadable = BTreeSet::new();
    for (file, error) in &report.unreadable {
        unreadable.insert(*file);
        for (index, checked) in updates.iter().enumerate() {
            if checked.covers(file) {
                edit.per_update[index]
                    .unreadable
                    .push(((*file).to_owned(), error.to_string()));
            }
        }
    }
    let targets: BTreeMap<&str, &FileTargets<&str>> = report
        .files
        .iter()
        .map(|found| (found.path, found))
        .collect();
    for (file, bytes) in &files {
        let file = file.as_str();
        if unreadable.contains(file) {
            continue;
        }
        let found = targets.get(file).copied();
        let concerned: Vec<(usize, Vec<Intent>)> = updates
            .iter()
            .enumerate()
            .filter(|(_, checked)| found.is_some() || checked.has_path_intents())
            .map(|(index, checked)| (index, checked.intents_for(file, found)))
            .filter(|(_, intents)| !intents.is_empty())
            .collect();
        if concerned.is_empty() {
            continue;
        }
        if let Some(new_bytes) = edit_file(file, bytes, &concerned, updates, &mut edit) {
            edit.files.push((file.to_owned(), new_bytes));
        }
    }
    Ok(edit)
}

fn watched(updates: &[Checked]) -> Watched {
    let intents = || updates.iter().flat_map(|checked| &checked.update.intents);
    let repositories = intents().filter_map(|intent| match intent {
        Intent::Tag { repository, .. } => Some(repository.clone()),
        _ => None,
    });
    let policies = intents().filter_map(|intent| match intent {
        Intent::Policy { policy, .. } => Some(policy.clone()),
        _ => None,
    });
    Watched::new(repositories, policies)
}

/// Apply the concerned updates' intents to one file, update by update in arrival order,
/// each intent only if no later update sets the same target. Returns the new bytes when
/// the file changed. An update whose intents cannot be applied (a parse error, two of its
/// own intents disagreeing, an edit that does not verify) gets the file as unreadable and
/// the file is left as the earlier updates made it.
fn edit_file(
    file: &str,
    bytes: &[u8],
    concerned: &[(usize, Vec<Intent>)],
    updates: &[Checked],
    edit: &mut BatchEdit,
) -> Option<Vec<u8>> {
    let mut last: HashMap<IntentKey, usize> = HashMap::new();
    for (position, (_, intents)) in concerned.iter().enumerate() {
        for intent in intents {
            last.insert(key(intent), position);
        }
    }
    let mut current = bytes.to_vec();
    for (position, (index, intents)) in concerned.iter().enumerate() {
        let mut kept = Vec::new();
        for intent in intents {
            let winner = last.get(&key(intent)).copied().unwrap_or(position);
            if winner == position {
                kept.push(intent.clone());
            } else {
                edit.per_update[*index].superseded.push(Superseded {
                    file: file.to_owned(),
                    intent: intent.clone(),
                    by: updates[concerned[winner].0].update.id.clone(),
                });
            }
        }
        if kept.is_empty() {
            continue;
        }
        let own = &mut edit.per_update[*index];
        match herald_image::apply(&current, &kept) {
            Ok(edited) => {
                current = edited.bytes;
                own.changes
                    .extend(edited.changes.into_iter().map(|change| FileChange {
                        file: file.to_owned(),
                        change,
                    }));
                own.skipped
                    .extend(edited.skipped.into_iter().map(|skipped| FileSkipped {
                        file: file.to_owned(),
                        skipped,
                    }));
            }
            Err(error) => own.unreadable.push((file.to_owned(), error.to_string())),
        }
    }
    (current != bytes).then_some(current)
}
