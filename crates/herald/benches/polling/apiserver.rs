//! What kube-apiserver did: its CPU (from /proc) and the requests it served, by verb and
//! resource, from its own `apiserver_request_total` counter.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::procfs;

const COUNTER: &str = "apiserver_request_total{";
/// Verbs that change stored state (`APPLY` is server-side apply, counted apart from PATCH).
const WRITE_VERBS: [&str; 6] = [
    "POST",
    "PUT",
    "PATCH",
    "APPLY",
    "DELETE",
    "DELETECOLLECTION",
];

/// The API server of the control plane, as the bench reads it.
#[derive(Clone)]
pub struct Apiserver {
    pub pid: u32,
    pub client: kube::Client,
}

// `kube::Client` has no `Debug`.
impl std::fmt::Debug for Apiserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Apiserver").field("pid", &self.pid).finish()
    }
}

/// One reading of the API server.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub cpu_s: f64,
    pub requests: Requests,
}

/// Requests served, by (verb, resource).
#[derive(Debug, Clone, Default)]
pub struct Requests(BTreeMap<(String, String), f64>);

impl Apiserver {
    pub async fn read(&self) -> anyhow::Result<Reading> {
        let request = axum::http::Request::get("/metrics").body(Vec::new())?;
        let text = self
            .client
            .request_text(request)
            .await
            .context("reading the API server's /metrics")?;
        Ok(Reading {
            cpu_s: procfs::sample(self.pid)?.cpu_s,
            requests: Requests::parse(&text),
        })
    }
}

impl Reading {
    /// What happened between `earlier` and this reading.
    pub fn since(&self, earlier: &Reading) -> Reading {
        let mut delta = self.requests.0.clone();
        for (key, before) in &earlier.requests.0 {
            *delta.entry(key.clone()).or_default() -= before;
        }
        delta.retain(|_, n| *n > 0.0);
        Reading {
            cpu_s: self.cpu_s - earlier.cpu_s,
            requests: Requests(delta),
        }
    }
}

impl Requests {
    fn parse(text: &str) -> Self {
        let mut counts = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(COUNTER) else {
                continue;
            };
            let Some((labels, value)) = rest.rsplit_once('}') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let labels = labels_of(labels);
            let key = (
                labels.get("verb").cloned().unwrap_or_default(),
                labels.get("resource").cloned().unwrap_or_default(),
            );
            *counts.entry(key).or_default() += value;
        }
        Self(counts)
    }

    pub fn by_verb(&self) -> BTreeMap<String, f64> {
        let mut verbs = BTreeMap::new();
        for ((verb, _), n) in &self.0 {
            *verbs.entry(verb.clone()).or_default() += n;
        }
        verbs
    }

    /// Writes by "VERB resource", most first.
    pub fn writes(&self) -> Vec<(String, f64)> {
        let mut writes: Vec<(String, f64)> = self
            .0
            .iter()
            .filter(|((verb, _), _)| WRITE_VERBS.contains(&verb.as_str()))
            .map(|((verb, resource), n)| (format!("{verb} {resource}"), *n))
            .collect();
        writes.sort_by(|a, b| b.1.total_cmp(&a.1));
        writes
    }

    pub fn total_writes(&self) -> f64 {
        self.writes().iter().map(|(_, n)| n).sum()
    }

    /// Writes other than to Leases beyond what `alone` (Herald stopped) would make at its
    /// rate over a window `scale` times as long (the control plane writes on its own too),
    /// and beyond `foreign_events` Events created by other controllers.
    pub fn writes_beyond(&self, alone: &Requests, scale: f64, foreign_events: f64) -> f64 {
        let expected: BTreeMap<String, f64> = alone.writes().into_iter().collect();
        self.writes()
            .iter()
            .filter(|(what, _)| !what.ends_with(" leases"))
            .map(|(what, n)| {
                let mut others = expected.get(what).copied().unwrap_or(0.0) * scale;
                if what == "POST events" {
                    others += foreign_events;
                }
                (n - others).max(0.0).round()
            })
            .sum()
    }

    /// Writes other than to Leases (leader election renews its Lease every few seconds).
    pub fn writes_without_leases(&self) -> f64 {
        self.writes()
            .iter()
            .filter(|(what, _)| !what.ends_with(" leases"))
            .map(|(_, n)| n)
            .sum()
    }
}

/// `a="x",b="y"` as a map; values are Prometheus-escaped strings.
fn labels_of(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(name.trim_start_matches(',').trim().to_owned(), value);
        rest = &after[end..];
    }
    labels
}
