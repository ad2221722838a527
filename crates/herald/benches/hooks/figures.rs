//! One measurement, however the load was made.

/// Throughput and latency of one endpoint under load.
#[derive(Debug, Clone)]
pub struct Figures {
    pub requests: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answers other than 2xx, and connection errors, as the generator reports them.
    pub errors: String,
}

impl Figures {
    pub fn header() -> String {
        format!(
            "{:<28} {:>10} {:>12} {:>9} {:>9}  {}",
            "endpoint", "requests", "per second", "p50 ms", "p99 ms", "errors"
        )
    }

    pub fn row(&self, label: &str) -> String {
        format!(
            "{label:<28} {:>10} {:>12.0} {:>9.2} {:>9.2}  {}",
            self.requests, self.per_second, self.p50_ms, self.p99_ms, self.errors
        )
    }
}
