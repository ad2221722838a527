//! The bench's world: 1,000 triggers in a manifest folder and 100,000 runs in the store,
//! written straight into SQLite in one transaction (creating them one by one through Herald
//! would take minutes and measure something else).

use std::path::{Path, PathBuf};

use anyhow::Context;
use sqlx::Connection;

use crate::herald::{Herald, start_local};

pub const TRIGGERS: usize = 1_000;
pub const RUNS: usize = 100_000;
/// One run in this many failed.
const FAILED_EVERY: usize = 20;

pub struct World {
    dir: tempfile::TempDir,
}

impl World {
    pub async fn build() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let manifests = dir.path().join("manifests");
        std::fs::create_dir_all(&manifests)?;
        std::fs::write(manifests.join("world.yaml"), manifests_yaml())?;
        let world = Self { dir };
        // The schema is Herald's own: the store creates it, then the runs go in.
        let store = herald_store::Store::open(&world.db()).await?;
        store.close().await;
        insert_runs(&world.db()).await?;
        Ok(world)
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("herald.db")
    }

    /// `herald local` over the world, serving.
    pub async fn start(&self) -> anyhow::Result<Herald> {
        let manifests = self.dir.path().join("manifests");
        let log = self.dir.path().join("herald.log");
        let mut herald = start_local(&manifests, &self.db(), &log)?;
        herald.wait_serving().await?;
        Ok(herald)
    }
}

/// The name of trigger `i`, and of the source it reads.
pub fn trigger(i: usize) -> String {
    format!("t-{i:04}")
}

/// A revision per run, deterministic.
pub fn revision(run: usize) -> String {
    format!("{:040x}", run as u128 * 0x9e37_79b9_7f4a_7c15)
}

/// Cron triggers due once a year: listed, never checked during the bench.
fn manifests_yaml() -> String {
    let mut yaml = String::from(
        "apiVersion: herald.dev/v1alpha1\nkind: Action\nmetadata: {name: act}\n\
         spec: {actionJob: {command: [\"true\"]}}\n",
    );
    for i in 0..TRIGGERS {
        let name = trigger(i);
        yaml.push_str(&format!(
            "---\napiVersion: herald.dev/v1alpha1\nkind: GitRepo\nmetadata: {{name: {name}}}\n\
             spec: {{repoUri: \"https://git.example.com/team/{name}.git\"}}\n\
             ---\napiVersion: herald.dev/v1alpha1\nkind: ScheduleTrigger\nmetadata: {{name: {name}}}\n\
             spec:\n  sources: {{kind: GitRepo, names: [{name}], watchOn: {{reference: {{branch: main}}}}}}\n  \
             schedule: {{cron: \"0 0 1 1 *\"}}\n  action: {{kind: Action, name: act}}\n"
        ));
    }
    yaml
}

/// 100 runs per trigger, one a minute back from now, every 20th failed.
async fn insert_runs(db: &Path) -> anyhow::Result<()> {
    let url = format!("sqlite:{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    let mut tx = conn.begin().await?;
    let now = jiff::Timestamp::now().as_microsecond();
    for run in 0..RUNS {
        let trigger = trigger(run % TRIGGERS);
        let created = now - (RUNS - run) as i64 * 60_000_000;
        let phase = if run % FAILED_EVERY == 0 {
            "Failed"
        } else {
            "Succeeded"
        };
        sqlx::query(
            "INSERT INTO runs (name, namespace, trigger_kind, trigger_name, source_kind, \
             source_name, git_ref, revision, action_kind, action_name, cause, phase, created_at, \
             started_at, finished_at, exit_code, message) VALUES ($1, 'default', \
             'ScheduleTrigger', $2, 'GitRepo', $2, 'refs/heads/main', $3, 'Action', 'act', \
             'Change', $4, $5, $6, $7, $8, $9)",
        )
        .bind(format!("{trigger}-{run:06}"))
        .bind(&trigger)
        .bind(revision(run))
        .bind(phase)
        .bind(created)
        .bind(created + 1_000_000)
        .bind(created + 31_000_000)
        .bind(i32::from(phase == "Failed"))
        .bind(format!("exited with code {}", i32::from(phase == "Failed")))
        .execute(&mut *tx)
        .await
        .with_context(|| format!("inserting run {run}"))?;
    }
    Ok(tx.commit().await?)
}
