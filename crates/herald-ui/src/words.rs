//! How the overview words the way a trigger fires, the same in both modes.

use herald_api::{Schedule, WebhookProvider};

/// `every 5m`, `cron 0 3 * * *`, `cron 0 3 * * * (Europe/Berlin)`.
pub fn schedule(schedule: &Schedule) -> String {
    match (&schedule.interval, &schedule.cron) {
        (Some(interval), _) => format!("every {interval}"),
        (None, Some(cron)) => match &schedule.time_zone {
            Some(zone) => format!("cron {cron} ({zone})"),
            None => format!("cron {cron}"),
        },
        (None, None) => "never".to_owned(),
    }
}

/// `hooks from github`: the provider as manifests spell it.
pub fn hooks(provider: &WebhookProvider) -> String {
    let word = serde_json::to_value(provider)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!("hooks from {word}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(interval: Option<&str>, cron: Option<&str>, zone: Option<&str>) -> Schedule {
        let json = serde_json::json!({"interval": interval, "cron": cron, "timeZone": zone});
        serde_json::from_value(json).expect("a schedule")
    }

    #[test]
    fn schedules_and_hooks_are_worded_as_manifests_spell_them() {
        assert_eq!(schedule(&at(Some("5m"), None, None)), "every 5m");
        assert_eq!(
            schedule(&at(None, Some("0 3 * * *"), None)),
            "cron 0 3 * * *"
        );
        let berlin = at(None, Some("0 3 * * *"), Some("Europe/Berlin"));
        assert_eq!(schedule(&berlin), "cron 0 3 * * * (Europe/Berlin)");
        assert_eq!(
            hooks(&WebhookProvider::BitbucketServer),
            "hooks from bitbucket-server"
        );
    }
}
