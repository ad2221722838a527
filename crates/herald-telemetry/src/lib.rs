//! Logs and traces for every command: one tracing subscriber with a log layer (text, or JSON
//! lines that carry the run and the trace of the span they were logged in) and, with the `otel`
//! feature and an OTLP endpoint in the environment, an OpenTelemetry layer that exports
//! Herald's spans.
//!
//! A run's trace context travels as a W3C `traceparent` ([`traceparent`], [`set_parent`]):
//! into a local step's environment as `TRACEPARENT`, onto a cluster Run as an annotation and
//! from there into its Jobs. When traces are off these answer `None` and do nothing.

mod json;
#[cfg(feature = "otel")]
mod otel;

use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use json::JsonLines;

/// The environment variable a step's process (local) or a Job's containers (cluster) find the
/// W3C trace context of their step in: the name OpenTelemetry SDKs read, so a user's own
/// spans join Herald's trace.
pub const TRACEPARENT_ENV: &str = "TRACEPARENT";

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    /// One JSON object a line, with `run`, `trace_id` and `span_id` when logged within a run
    /// or a traced span.
    Json,
}

/// What [`init`] started; [`Telemetry::shutdown`] (or dropping it) exports the spans still
/// buffered and stops the exporter.
#[derive(Debug, Default)]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    otlp: Option<otel::Otlp>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn traces_enabled(&self) -> bool {
        #[cfg(feature = "otel")]
        return self.otlp.is_some();
        #[cfg(not(feature = "otel"))]
        false
    }

    /// Exports what is buffered and stops the exporter; idempotent.
    pub fn shutdown(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(otlp) = self.otlp.take() {
            otlp.shutdown();
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs the global subscriber: logs filtered by `RUST_LOG` (default `info`) to stderr in
/// `format`, and, when the environment configures an OTLP endpoint (and the `otel` feature is
/// built), Herald's spans exported over OTLP whatever `RUST_LOG` says. Must be called within
/// the Tokio runtime (the gRPC exporter's channel lives on it).
///
/// # Errors
/// The OpenTelemetry variables ask for what Herald cannot do (`http/json`, an exporter other
/// than `otlp`), or the exporter cannot be built.
pub fn init(format: LogFormat) -> Result<Telemetry, String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a terminal: escape codes in a log file or a collector break searches.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let log = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let log: Box<dyn Layer<_> + Send + Sync> = match format {
        LogFormat::Text => Box::new(log.with_filter(filter)),
        LogFormat::Json => Box::new(log.event_format(JsonLines).with_filter(filter)),
    };
    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    let mut layers = vec![log, Box::new(json::RunField)];
    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    let mut telemetry = Telemetry::default();
    #[cfg(feature = "otel")]
    if let Some(config) = otel::Config::from_env(|name| std::env::var(name).ok())? {
        let (otlp, layer) = otel::Otlp::start(&config)?;
        layers.push(layer);
        telemetry.otlp = Some(otlp);
    }
    tracing_subscriber::registry().with(layers).init();
    Ok(telemetry)
}

/// The W3C `traceparent` of the current span, when traces are on and it is sampled or not:
/// `00-{trace id}-{span id}-{flags}`.
pub fn traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The W3C `traceparent` of `span`, when traces are on.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    #[cfg(feature = "otel")]
    return otel::traceparent(span);
    #[cfg(not(feature = "otel"))]
    {
        let _ = span;
        None
    }
}

/// Makes `span` (not yet entered) a child of the span `traceparent` names, when traces are on
/// and it is well formed; otherwise nothing.
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    #[cfg(feature = "otel")]
    otel::set_parent(span, traceparent);
    #[cfg(not(feature = "otel"))]
    let _ = (span, traceparent);
}
