//! The files a batch looks at: an update's paths, checked so no edit can leave the clone,
//! and the YAML files under them read once per batch.

use std::collections::BTreeMap;
use std::path::Path;

use crate::writer::error::WriteError;
use crate::writer::types::Update;

/// Check and normalise an update's paths: `/`-separated, relative, without `..` or `.git`
/// components; "." (or "") is the whole repository.
pub(crate) fn normalise_paths(update: &Update) -> Result<Vec<String>, WriteError> {
    if update.paths.is_empty() {
        return Err(WriteError::NoPaths {
            update: update.id.clone(),
        });
    }
    update
        .paths
        .iter()
        .map(|path| {
            normalise(path).map_err(|reason| WriteError::InvalidPath {
                update: update.id.clone(),
                path: path.clone(),
                reason,
            })
        })
        .collect()
}

fn normalise(path: &str) -> Result<String, &'static str> {
    if path.starts_with('/') || path.starts_with('\\') || path.contains(':') {
        return Err("it is absolute; paths are relative to the repository's root");
    }
    if path.contains('\0') || path.contains('\\') {
        return Err("it holds a NUL byte or a backslash");
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("it holds '..', which could leave the repository"),
            ".git" => return Err("it points into the repository's .git directory"),
            part => parts.push(part),
        }
    }
    Ok(if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    })
}

/// Whether the normalised `path` covers `file` (itself, or a directory above it).
pub(crate) fn covers(path: &str, file: &str) -> bool {
    path == "."
        || file == path
        || (file.starts_with(path) && file.as_bytes().get(path.len()) == Some(&b'/'))
}

/// Whether a file found in a directory walk is one the writer edits. Named files are
/// always looked at; in directories only YAML is (a README mentioning an image is not a
/// manifest and must not be reported as unreadable).
fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// Read every YAML file under `paths` (normalised) in `root`, keyed by repository-relative
/// path. Symbolic links are not followed (they could point outside the clone); a path that
/// does not exist holds nothing.
pub(crate) fn read_files<'p>(
    root: &Path,
    paths: impl IntoIterator<Item = &'p str>,
) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    for path in paths {
        let full = if path == "." {
            root.to_owned()
        } else {
            root.join(path)
        };
        let Ok(meta) = std::fs::symlink_metadata(&full) else {
            continue;
        };
        if meta.is_file() {
            files.insert(path.to_owned(), std::fs::read(&full)?);
        } else if meta.is_dir() {
            let prefix = if path == "." { "" } else { path };
            walk(&full, prefix, &mut files)?;
        }
    }
    Ok(files)
}

fn walk(dir: &Path, prefix: &str, files: &mut BTreeMap<String, Vec<u8>>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let relative = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() && name != ".git" {
            walk(&entry.path(), &relative, files)?;
        } else if kind.is_file() && is_yaml(&name) && !files.contains_key(&relative) {
            files.insert(relative, std::fs::read(entry.path())?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_and_escapes_refused() {
        assert_eq!(normalise("./apps//web/").as_deref(), Ok("apps/web"));
        assert_eq!(normalise(".").as_deref(), Ok("."));
        assert_eq!(normalise("").as_deref(), Ok("."));
        for bad in [
            "../x",
            "apps/../../x",
            "/etc",
            "C:/x",
            ".git/config",
            "a\\b",
        ] {
            assert!(normalise(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn coverage_is_by_whole_components() {
        assert!(covers(".", "a/b.yaml"));
        assert!(covers("apps", "apps/web.yaml"));
        assert!(covers("apps/web.yaml", "apps/web.yaml"));
        assert!(!covers("app", "apps/web.yaml"));
    }
}
