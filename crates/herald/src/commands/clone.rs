//! `herald clone`: check out one revision with credentials read from files.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use herald_git::{Auth, Remote, SecretString, Tls};

use crate::cli::{CloneArgs, CloneAuth};

pub async fn clone(args: CloneArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote {
        url: args.url.clone(),
        auth: auth(&args)?,
        tls: tls(&args)?,
    };
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

fn auth(args: &CloneArgs) -> anyhow::Result<Auth> {
    let dir = &args.credentials_dir;
    Ok(match args.auth {
        None => Auth::None,
        Some(CloneAuth::Basic) => Auth::Basic {
            username: read_value(dir, "username")?,
            password: SecretString::from(read_value(dir, "password")?),
        },
        Some(CloneAuth::Token) => Auth::Token {
            username: args
                .username
                .clone()
                .unwrap_or_else(|| "x-access-token".into()),
            token: SecretString::from(read_value(dir, "token")?),
        },
        Some(CloneAuth::Ssh) => Auth::Ssh {
            username: args.username.clone().unwrap_or_else(|| "git".into()),
            private_key: SecretString::from(read(dir, "ssh-privatekey")?),
            passphrase: None,
            known_hosts: match &args.known_hosts {
                Some(text) => Some(text.clone()),
                None => read_optional(dir, "known_hosts")?,
            },
            allow_unknown_host: args.allow_unknown_host_keys,
        },
    })
}

fn tls(args: &CloneArgs) -> anyhow::Result<Tls> {
    Ok(Tls {
        ca_pem: read_optional(&args.credentials_dir, "ca.crt")?,
        insecure_skip_verify: args.insecure_skip_tls_verify,
    })
}

fn read(dir: &Path, name: &str) -> anyhow::Result<String> {
    read_optional(dir, name)?
        .with_context(|| format!("credential file {} is missing", dir.join(name).display()))
}

/// A one-line value: the newline editors and `echo` add is not part of it.
fn read_value(dir: &Path, name: &str) -> anyhow::Result<String> {
    Ok(read(dir, name)?.trim_end_matches(['\r', '\n']).to_owned())
}

fn read_optional(dir: &Path, name: &str) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.join(name).display())),
    }
}
