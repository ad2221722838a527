//! `herald clone`: check out one revision with credentials read from files.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use herald_api::AuthType;
use herald_core::{
    CredentialPlan, FILE_CA, FILE_KNOWN_HOSTS, FILE_PASSWORD, FILE_SSH_PRIVATE_KEY, FILE_TOKEN,
    FILE_USERNAME,
};
use herald_git::CredentialFiles;

use crate::cli::{CloneArgs, CloneAuth};

pub async fn clone(args: CloneArgs) -> anyhow::Result<ExitCode> {
    let remote = herald_git::remote_from_plan(&plan(&args), &read_files(&args.credentials_dir)?)
        .map_err(|e| anyhow!("{e} (looked in {})", args.credentials_dir.display()))?;
    let (revision, git_ref, dest) = (
        args.revision.clone(),
        args.git_ref.clone(),
        args.dest.clone(),
    );
    tokio::task::spawn_blocking(move || {
        herald_git::checkout(&remote, git_ref.as_deref(), &revision, &dest)
    })
    .await
    .context("checkout task")?
    .with_context(|| {
        format!(
            "checking out {} into {}",
            args.revision,
            args.dest.display()
        )
    })?;
    eprintln!("checked out {} into {}", args.revision, args.dest.display());
    Ok(ExitCode::SUCCESS)
}

fn plan(args: &CloneArgs) -> CredentialPlan {
    let auth = args.auth.map(|a| match a {
        CloneAuth::Basic => AuthType::Basic,
        CloneAuth::Token => AuthType::Token,
        CloneAuth::Ssh => AuthType::Ssh,
    });
    let default_user = if matches!(auth, Some(AuthType::Token)) {
        "x-access-token"
    } else {
        "git"
    };
    CredentialPlan {
        url: args.url.clone(),
        auth,
        username: args
            .username
            .clone()
            .unwrap_or_else(|| default_user.to_owned()),
        known_hosts: args.known_hosts.clone(),
        allow_unknown_host_keys: args.allow_unknown_host_keys,
        insecure_skip_tls_verify: args.insecure_skip_tls_verify,
        items: Vec::new(),
    }
}

/// Every credential file present in `dir` (a mounted Secret holds only those it needs).
fn read_files(dir: &Path) -> anyhow::Result<CredentialFiles> {
    let mut files = CredentialFiles::new();
    for name in [
        FILE_USERNAME,
        FILE_PASSWORD,
        FILE_TOKEN,
        FILE_SSH_PRIVATE_KEY,
        FILE_KNOWN_HOSTS,
        FILE_CA,
    ] {
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => {
                files.insert(name, bytes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", dir.join(name).display()));
            }
        }
    }
    Ok(files)
}
