//! Writing a new value in the style of the old one: `'1.0'` stays single-quoted, `"1.0"`
//! double-quoted, and plain stays plain unless the new value cannot be plain or would read as
//! another type than the old one (a plain `latest` becoming `1.10` would turn a string into the
//! number 1.1 for Helm and kustomize); then it is double-quoted.

use super::source::Style;

/// What a plain scalar resolves to. YAML 1.1's booleans (`yes`, `on`, ...) count, because
/// Kubernetes' and Helm's YAML readers still resolve them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlainKind {
    Null,
    Bool,
    Int,
    Float,
    Str,
}

/// The text to write for `new` in place of a scalar of `style` whose value was `old`, and the
/// style it ends up in.
pub(crate) fn render(new: &str, style: Style, old: &str) -> (String, Style) {
    match style {
        Style::SingleQuoted if is_single_line_printable(new) => (
            format!("'{}'", new.replace('\'', "''")),
            Style::SingleQuoted,
        ),
        Style::Plain if can_stay_plain(new, plain_kind(old)) => (new.to_owned(), Style::Plain),
        _ => (double_quoted(new), Style::DoubleQuoted),
    }
}

/// The text for a value in a newly inserted key: plain when it reads back as a string.
pub(crate) fn render_new(value: &str) -> (String, Style) {
    if can_stay_plain(value, PlainKind::Str) {
        (value.to_owned(), Style::Plain)
    } else {
        (double_quoted(value), Style::DoubleQuoted)
    }
}

fn can_stay_plain(new: &str, old_kind: PlainKind) -> bool {
    let kind = plain_kind(new);
    is_plain_safe(new) && (kind == PlainKind::Str || kind == old_kind)
}

/// Conservative: a plain scalar that means itself in block and flow context alike.
fn is_plain_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    let starts_with_indicator = "-?:,[]{}#&*!|>'\"%@`".contains(first);
    let flow_indicator = value.contains([',', '[', ']', '{', '}']);
    is_single_line_printable(value)
        && !starts_with_indicator
        && !flow_indicator
        && !value.starts_with(' ')
        && !value.ends_with([' ', ':'])
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.contains('\t')
}

fn is_single_line_printable(value: &str) -> bool {
    !value.chars().any(char::is_control)
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The type a plain scalar resolves to under the YAML 1.2 core schema, plus YAML 1.1's
/// booleans.
pub(crate) fn plain_kind(value: &str) -> PlainKind {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => PlainKind::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "yes" | "Yes" | "YES" | "no"
        | "No" | "NO" | "on" | "On" | "ON" | "off" | "Off" | "OFF" | "y" | "Y" | "n" | "N" => {
            PlainKind::Bool
        }
        _ if is_int(value) => PlainKind::Int,
        _ if is_float(value) => PlainKind::Float,
        _ => PlainKind::Str,
    }
}

fn is_int(value: &str) -> bool {
    let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
    let all = |digits: &str, radix: u32| {
        !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix) || c == '_')
    };
    if let Some(hex) = unsigned.strip_prefix("0x") {
        return all(hex, 16);
    }
    if let Some(octal) = unsigned.strip_prefix("0o") {
        return all(octal, 8);
    }
    all(unsigned, 10) && unsigned.starts_with(|c: char| c.is_ascii_digit())
}

fn is_float(value: &str) -> bool {
    let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
    if matches!(
        unsigned,
        ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN"
    ) {
        return true;
    }
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let digits = |text: &str| text.chars().all(|c| c.is_ascii_digit() || c == '_');
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mantissa_ok = (!integer.is_empty() || !fraction.is_empty())
        && digits(integer)
        && digits(fraction)
        && (mantissa.contains('.') || exponent.is_some());
    let exponent_ok = exponent.is_none_or(|exponent| {
        let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        !exponent.is_empty() && exponent.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_style_is_kept() {
        assert_eq!(render("1.1", Style::SingleQuoted, "1.0").0, "'1.1'");
        assert_eq!(render("it's", Style::SingleQuoted, "x").0, "'it''s'");
        assert_eq!(render("1.1", Style::DoubleQuoted, "1.0").0, "\"1.1\"");
        assert_eq!(
            render("a\"b\\c", Style::DoubleQuoted, "x").0,
            r#""a\"b\\c""#
        );
        assert_eq!(
            render("nginx:1.1", Style::Plain, "nginx:1.0").0,
            "nginx:1.1"
        );
    }

    #[test]
    fn plain_becomes_double_quoted_only_when_it_must() {
        assert_eq!(
            render("1.10", Style::Plain, "latest"),
            ("\"1.10\"".into(), Style::DoubleQuoted)
        );
        assert_eq!(
            render("1.10", Style::Plain, "1.9"),
            ("1.10".into(), Style::Plain),
            "float stays float"
        );
        assert_eq!(
            render("1.10.0", Style::Plain, "1.9"),
            ("1.10.0".into(), Style::Plain),
            "a string is always fine"
        );
        assert_eq!(
            render("42", Style::Plain, "1.9").0,
            "\"42\"",
            "int is not float"
        );
        assert_eq!(render("on", Style::Plain, "v1").0, "\"on\"");
        assert_eq!(render("#1", Style::Plain, "v1").0, "\"#1\"");
        assert_eq!(render("a: b", Style::Plain, "v1").0, "\"a: b\"");
        assert_eq!(render("", Style::Plain, "v1").0, "\"\"");
        assert_eq!(render("a\nb", Style::SingleQuoted, "v1").0, "\"a\\nb\"");
    }

    #[test]
    fn inserted_values_read_back_as_strings() {
        assert_eq!(render_new("1.2.3").0, "1.2.3");
        assert_eq!(render_new("1.2").0, "\"1.2\"");
        assert_eq!(render_new("20240101").0, "\"20240101\"");
    }

    #[test]
    fn plain_kinds() {
        for (value, kind) in [
            ("", PlainKind::Null),
            ("~", PlainKind::Null),
            ("yes", PlainKind::Bool),
            ("1", PlainKind::Int),
            ("-0x1F", PlainKind::Int),
            ("1_000", PlainKind::Int),
            ("1.5", PlainKind::Float),
            ("1e3", PlainKind::Float),
            (".5", PlainKind::Float),
            ("1.", PlainKind::Float),
            (".inf", PlainKind::Float),
            ("1.2.3", PlainKind::Str),
            ("e3", PlainKind::Str),
            ("v1", PlainKind::Str),
            ("0x", PlainKind::Str),
            (".", PlainKind::Str),
        ] {
            assert_eq!(plain_kind(value), kind, "{value:?}");
        }
    }
}
