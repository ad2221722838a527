//! Bare repositories with a `main` branch, one per trigger or a few shared ones.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// The name under the server's root of bare repository `index`.
pub fn repo_name(index: usize) -> String {
    format!("r{index:04}.git")
}

/// Creates `count` bare repositories under `root`, all holding the same one-commit `main`.
///
/// One is made with `git`, the rest are copies of its few files: a thousand `git init`s and
/// pushes would take longer than the measurement and give the same repositories.
pub fn create(root: &Path, count: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(root)?;
    let template = root.join("template.git");
    let work = root.join("work");
    git(
        root,
        &[
            "init",
            "-q",
            "--bare",
            "--template=",
            "-b",
            "main",
            "template.git",
        ],
    )?;
    std::fs::create_dir_all(&work)?;
    git(&work, &["init", "-q", "-b", "main"])?;
    std::fs::write(work.join("README.md"), "polling bench\n")?;
    git(&work, &["add", "README.md"])?;
    git(&work, &["commit", "-q", "-m", "polling bench"])?;
    let target = template.to_string_lossy().into_owned();
    git(&work, &["push", "-q", &target, "main"])?;
    for index in 0..count {
        copy_dir(&template, &root.join(repo_name(index)))
            .with_context(|| format!("copying the template to {}", repo_name(index)))?;
    }
    std::fs::remove_dir_all(&work)?;
    std::fs::remove_dir_all(&template)?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("running git {args:?}"))?;
    if !out.status.success() {
        bail!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}
