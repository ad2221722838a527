//! OpenTelemetry: the OTLP exporter the standard variables configure, the layer that turns
//! Herald's spans into OpenTelemetry spans, and `traceparent` in and out.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::{OpenTelemetrySpanExt, OtelData};
use tracing_subscriber::Layer;
use tracing_subscriber::registry::Extensions;

/// The wire protocol of the OTLP exporter (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Grpc,
    HttpProtobuf,
}

/// What the environment asks for, when it asks for traces at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub protocol: Protocol,
    pub service_name: String,
    /// The endpoint is `https://`: gRPC then speaks TLS, trusting the system's roots (HTTP's
    /// client does so by the URL alone).
    pub tls: bool,
}

impl Config {
    /// Traces are on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// is set (and `OTEL_SDK_DISABLED` is not `true`, `OTEL_TRACES_EXPORTER` not `none`). The
    /// exporter reads the endpoints, headers and timeout itself; the protocol is
    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else
    /// `http/protobuf` (the specification's default).
    pub(crate) fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let set = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        match set("OTEL_TRACES_EXPORTER").as_deref() {
            None | Some("otlp") => {}
            Some("none") => return Ok(None),
            Some(other) => {
                return Err(format!(
                    "OTEL_TRACES_EXPORTER={other:?} is not supported; Herald exports traces over OTLP (otlp) or not at all (none)"
                ));
            }
        }
        let endpoint = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT"));
        let Some(endpoint) = endpoint else {
            return Ok(None);
        };
        let (name, protocol) = match set("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
            Some(p) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", Some(p)),
            None => (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                set("OTEL_EXPORTER_OTLP_PROTOCOL"),
            ),
        };
        let protocol = match protocol.as_deref() {
            None | Some("http/protobuf") => Protocol::HttpProtobuf,
            Some("grpc") => Protocol::Grpc,
            Some(other) => {
                return Err(format!(
                    "{name}={other:?} is not supported; use grpc or http/protobuf"
                ));
            }
        };
        let service_name = set("OTEL_SERVICE_NAME").unwrap_or_else(|| "herald".to_owned());
        Ok(Some(Self {
            protocol,
            service_name,
            tls: endpoint.to_ascii_lowercase().starts_with("https://"),
        }))
    }
}

/// The exporting tracer provider.
#[derive(Debug)]
pub(crate) struct Otlp {
    provider: SdkTracerProvider,
}

/// The layer added to the subscriber for the spans exported.
type BoxedLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

impl Otlp {
    pub(crate) fn start(config: &Config) -> Result<(Self, BoxedLayer), String> {
        use opentelemetry_otlp::tonic_types::transport::ClientTlsConfig;
        use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithTonicConfig};
        let exporter = match config.protocol {
            Protocol::Grpc => {
                let builder = SpanExporter::builder()
                    .with_tonic()
                    .with_protocol(opentelemetry_otlp::Protocol::Grpc);
                let builder = if config.tls {
                    builder.with_tls_config(ClientTlsConfig::new().with_native_roots())
                } else {
                    builder
                };
                builder.build()
            }
            Protocol::HttpProtobuf => SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .build(),
        }
        .map_err(|e| format!("cannot build the OTLP trace exporter: {e}"))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(config.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("herald");
        // Herald's own spans down to debug (the store's writes are debug spans, so that with
        // traces off and the log at info the hook path makes none) and its events at info
        // and above (a span's events), whatever RUST_LOG keeps in the log. The exporter's
        // HTTP and gRPC clients are not Herald's: they never trace themselves into a loop.
        let herald = tracing_subscriber::filter::filter_fn(|metadata| {
            let level = if metadata.is_span() {
                tracing::Level::DEBUG
            } else {
                tracing::Level::INFO
            };
            metadata.target().starts_with("herald") && *metadata.level() <= level
        });
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_tracked_inactivity(false)
            .with_filter(herald);
        Ok((Self { provider }, Box::new(layer)))
    }

    pub(crate) fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("warning: exporting the last spans failed: {e}");
        }
    }
}

pub(crate) fn traceparent(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span = context.span();
    let ids = span.span_context();
    ids.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            ids.trace_id(),
            ids.span_id(),
            ids.trace_flags().to_u8()
        )
    })
}

pub(crate) fn set_parent(span: &tracing::Span, traceparent: &str) {
    let carrier =
        std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        // Fails only for a span the layer does not know (traces off): nothing to join.
        let _ = span.set_parent(parent);
    }
}

/// The trace and span ids of a span the OpenTelemetry layer knows, once entered.
pub(crate) fn ids(extensions: &Extensions<'_>) -> Option<(String, String)> {
    let data = extensions.get::<OtelData>()?;
    Some((data.trace_id()?.to_string(), data.span_id()?.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Option<Config>, String> {
        Config::from_env(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn off_without_an_endpoint() {
        assert_eq!(config(&[]), Ok(None));
        assert_eq!(config(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]), Ok(None));
        assert_eq!(config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]), Ok(None));
        assert_eq!(config(&[("OTEL_SERVICE_NAME", "x")]), Ok(None));
    }

    #[test]
    fn http_protobuf_by_default_grpc_when_asked() {
        let on = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]);
        let on = on.unwrap().unwrap();
        assert_eq!(on.protocol, Protocol::HttpProtobuf);
        assert_eq!(on.service_name, "herald");
        let grpc = config(&[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:4317",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_SERVICE_NAME", "herald-ci"),
        ]);
        let grpc = grpc.unwrap().unwrap();
        assert_eq!(grpc.protocol, Protocol::Grpc);
        assert_eq!(grpc.service_name, "herald-ci");
        assert!(!grpc.tls);
        let tls = config(&[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://collector.example:4317",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert!(tls.unwrap().unwrap().tls);
        // The traces-only variable wins over the general one.
        let traces = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ]);
        assert_eq!(traces.unwrap().unwrap().protocol, Protocol::HttpProtobuf);
    }

    #[test]
    fn refuses_what_it_cannot_do_and_honours_off_switches() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        let json = config(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]);
        assert!(json.unwrap_err().contains("http/json"));
        let zipkin = config(&[endpoint, ("OTEL_TRACES_EXPORTER", "zipkin")]);
        assert!(zipkin.unwrap_err().contains("zipkin"));
        assert_eq!(
            config(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")]),
            Ok(None)
        );
        assert_eq!(config(&[endpoint, ("OTEL_SDK_DISABLED", "true")]), Ok(None));
    }
}
