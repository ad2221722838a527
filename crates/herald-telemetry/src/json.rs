//! JSON log lines: `timestamp`, `level`, `target`, the event's `fields`, the names of the
//! `spans` it was logged in (outermost first), and, from those spans, `run` (the innermost
//! span's `run` field) and `trace_id` / `span_id` (the innermost traced span's, when traces
//! are on). A collector can then gather a run's lines, or jump from a line to its trace.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The [`FormatEvent`] of `--log-format json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

/// The value of a span's `run` field, kept by [`RunField`] in the span's extensions.
struct RunName(String);

/// Keeps the `run` field of each span that has one, for [`JsonLines`]. Spans without the
/// field cost a field lookup.
pub(crate) struct RunField;

impl<S> tracing_subscriber::Layer<S> for RunField
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let Some(field) = attrs.metadata().fields().field("run") else {
            return;
        };
        let mut visitor = OneField {
            field: &field,
            value: None,
        };
        attrs.record(&mut visitor);
        if let (Some(value), Some(span)) = (visitor.value, ctx.span(id)) {
            span.extensions_mut().insert(RunName(value));
        }
    }
}

/// Reads one field's value as text.
struct OneField<'a> {
    field: &'a Field,
    value: Option<String>,
}

impl Visit for OneField<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field == self.field {
            self.value = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field == self.field {
            self.value = Some(format!("{value:?}"));
        }
    }
}

/// An event's fields as a JSON object.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), format!("{value:?}").into());
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            jiff::Timestamp::now().to_string().into(),
        );
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        line.insert("fields".into(), Value::Object(fields.0));
        if let Some(scope) = ctx.event_scope() {
            let mut names = Vec::new();
            let mut run = None;
            #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
            let mut ids: Option<(String, String)> = None;
            for span in scope {
                names.push(Value::from(span.name()));
                let extensions = span.extensions();
                if run.is_none() {
                    run = extensions.get::<RunName>().map(|r| r.0.clone());
                }
                #[cfg(feature = "otel")]
                if ids.is_none() {
                    ids = crate::otel::ids(&extensions);
                }
            }
            names.reverse();
            line.insert("spans".into(), Value::Array(names));
            if let Some(run) = run {
                line.insert("run".into(), run.into());
            }
            if let Some((trace_id, span_id)) = ids {
                line.insert("trace_id".into(), trace_id.into());
                line.insert("span_id".into(), span_id.into());
            }
        }
        let text = serde_json::to_string(&Value::Object(line)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}
