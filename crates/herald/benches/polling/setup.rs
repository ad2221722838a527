//! One trigger count's setting, shared by both modes, and what a mode's measurement gives.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::apiserver::Reading;
use crate::baseline::LsRemote;
use crate::git_server::GitServer;
use crate::manifests;
use crate::repos::repo_name;
use crate::settings::{Mode, Settings};
use crate::window::{Startup, Window};

/// N triggers against the server's first `repos` repositories.
#[derive(Debug)]
pub struct Setup<'a> {
    pub settings: &'a Settings,
    pub server: &'a GitServer,
    pub scratch: PathBuf,
    pub triggers: usize,
    /// The repositories' names under the server's root (`r0017.git`).
    pub repos: Vec<String>,
}

/// One mode at one trigger count.
#[derive(Debug, Clone)]
pub struct Measured {
    pub mode: Mode,
    pub triggers: usize,
    pub repos: usize,
    pub interval: Duration,
    pub startup: Startup,
    pub window: Window,
    /// Runs existing at the window's start and end.
    pub runs: (usize, usize),
    /// The API server over a shorter window with Herald stopped, and that window's length.
    pub apiserver_alone: Option<(Reading, Duration)>,
    /// Cluster mode: Events created in the window, by "component/reason", most first.
    pub events: Vec<(String, usize)>,
    pub ls_remote: LsRemote,
    /// Cluster mode: verified pushes timed to their Jobs, after the window.
    pub hook_latency: Option<crate::hook_latency::HookLatency>,
    /// Cluster mode: a chain of steps timed from each Job's end to the next Job, after the
    /// hook probe.
    pub step_latency: Option<crate::step_latency::StepLatency>,
}

impl<'a> Setup<'a> {
    pub fn new(
        settings: &'a Settings,
        server: &'a GitServer,
        scratch: PathBuf,
        triggers: usize,
    ) -> Self {
        let repos = (0..settings.repos_for(triggers)).map(repo_name).collect();
        Self {
            settings,
            server,
            scratch,
            triggers,
            repos,
        }
    }

    /// One URL per trigger (trigger `i` watches repository `i % repos`).
    pub fn urls(&self) -> Vec<String> {
        (0..self.triggers)
            .map(|i| self.server.url(&self.repos[i % self.repos.len()]))
            .collect()
    }

    pub fn objects(&self) -> Vec<Value> {
        let urls: Vec<String> = self.repos.iter().map(|r| self.server.url(r)).collect();
        manifests::objects(self.triggers, &urls, self.settings.interval)
    }

    /// A fresh folder for one mode's files.
    pub fn folder(&self, mode: Mode) -> anyhow::Result<PathBuf> {
        let dir = self
            .scratch
            .join(format!("{}-{}", mode.name(), self.triggers));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}
