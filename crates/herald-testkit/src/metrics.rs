//! Reading one sample out of a `/metrics` scrape, for tests that check a value.

/// The value of the sample written exactly `name` (labels included, as served:
/// `herald_runs_created_total{trigger_kind="ScheduleTrigger",cause="Change"}`), if served.
pub fn metric_sample(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.split(' ').next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::metric_sample;

    #[test]
    fn a_sample_is_found_by_its_whole_name() {
        let scrape = "# TYPE herald_leader gauge\nherald_leader 1\n\
                      herald_hooks_total{status=\"200\"} 3 1700000000\nherald_leader_x 7\n";
        assert_eq!(metric_sample(scrape, "herald_leader"), Some(1.0));
        assert_eq!(
            metric_sample(scrape, r#"herald_hooks_total{status="200"}"#),
            Some(3.0)
        );
        assert_eq!(metric_sample(scrape, "herald_hooks_total"), None);
        assert_eq!(metric_sample(scrape, "herald_missing"), None);
    }
}
