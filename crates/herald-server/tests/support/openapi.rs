//! A small structural check of JSON values against an OpenAPI 3.0 document: `$ref`, `type`,
//! `nullable`, `required`, `properties`, `additionalProperties`, `items`, `enum`, `oneOf` and
//! `format: date-time`. Enough to keep Herald's document true; not a general validator.

use serde_json::{Map, Value};

/// The served document.
pub struct Document(Value);

impl Document {
    pub fn new(document: Value) -> Self {
        Self(document)
    }

    /// Every `(METHOD, path)` the document describes under `/api`.
    pub fn api_operations(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for (path, item) in self.0["paths"].as_object().expect("paths") {
            if !path.starts_with("/api") && path != "/debug" && path != "/reconcile" {
                continue;
            }
            for method in item.as_object().expect("path item").keys() {
                found.push((method.to_ascii_uppercase(), path.clone()));
            }
        }
        found.sort();
        found
    }

    /// The documented path template `path` (with a query, maybe) is an instance of: one with
    /// as many segments, else one whose last parameter takes the rest of the path (a revision
    /// may hold slashes).
    pub fn template_of(&self, path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap_or(path);
        let actual: Vec<&str> = path.split('/').collect();
        let templates: Vec<&String> = self.0["paths"].as_object()?.keys().collect();
        let fits = |template: &str, rest: bool| {
            let parts: Vec<&str> = template.split('/').collect();
            let lengths = actual.len() == parts.len()
                || rest && actual.len() > parts.len() && parts[parts.len() - 1].starts_with('{');
            lengths
                && parts.iter().zip(&actual).all(|(part, seg)| {
                    if part.starts_with('{') {
                        !seg.is_empty()
                    } else {
                        part == seg
                    }
                })
        };
        let exact = templates.iter().find(|t| fits(t, false));
        exact
            .or_else(|| templates.iter().find(|t| fits(t, true)))
            .map(|t| (*t).clone())
    }

    /// Checks that `status` is documented for the operation and `body` matches its schema.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let template = self
            .template_of(path)
            .ok_or_else(|| format!("no documented path matches {path}"))?;
        let operation = &self.0["paths"][&template][method.to_ascii_lowercase()];
        if !operation.is_object() {
            return Err(format!("{method} {template} is not documented"));
        }
        let mut response = &operation["responses"][status.to_string()];
        if response.is_null() {
            return Err(format!(
                "status {status} is not documented for {method} {template}"
            ));
        }
        if let Some(reference) = response["$ref"].as_str() {
            response = self.resolve(reference)?;
        }
        let schema = &response["content"]["application/json"]["schema"];
        if schema.is_null() {
            return Err(format!(
                "{method} {template} {status} documents no JSON body"
            ));
        }
        self.validate(schema, body, "$")
    }

    /// Checks `value` against `schema`; the error names where in the value it fails.
    pub fn validate(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        if let Some(reference) = schema["$ref"].as_str() {
            return self.validate(self.resolve(reference)?, value, at);
        }
        if value.is_null() {
            let typed = schema.get("type").is_some() || schema.get("oneOf").is_some();
            return if !typed || schema["nullable"] == true {
                Ok(())
            } else {
                Err(format!("{at}: null is not allowed"))
            };
        }
        if let Some(options) = schema["oneOf"].as_array() {
            return self.one_of(options, value, at);
        }
        if let Some(allowed) = schema["enum"].as_array() {
            if !allowed.contains(value) {
                return Err(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        match schema["type"].as_str() {
            None => Ok(()),
            Some("object") => self.object(schema, value, at),
            Some("array") => {
                let items = value
                    .as_array()
                    .ok_or_else(|| format!("{at}: {value} is not an array"))?;
                items.iter().enumerate().try_for_each(|(i, item)| {
                    self.validate(&schema["items"], item, &format!("{at}[{i}]"))
                })
            }
            Some("string") => {
                let text = value
                    .as_str()
                    .ok_or_else(|| format!("{at}: {value} is not a string"))?;
                if schema["format"] == "date-time" && text.parse::<jiff::Timestamp>().is_err() {
                    return Err(format!("{at}: {text:?} is not an RFC 3339 date-time"));
                }
                Ok(())
            }
            Some("integer") if value.is_i64() || value.is_u64() => Ok(()),
            Some("number") if value.is_number() => Ok(()),
            Some("boolean") if value.is_boolean() => Ok(()),
            Some(other) => Err(format!("{at}: {value} is not of type {other}")),
        }
    }

    fn object(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let fields = value
            .as_object()
            .ok_or_else(|| format!("{at}: {value} is not an object"))?;
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !fields.contains_key(name) {
                return Err(format!("{at}: required property {name} is missing"));
            }
        }
        let empty = Map::new();
        let properties = schema["properties"].as_object().unwrap_or(&empty);
        for (name, field) in fields {
            let at = format!("{at}.{name}");
            match properties.get(name) {
                Some(property) => self.validate(property, field, &at)?,
                None if schema["additionalProperties"] == false => {
                    return Err(format!("{at}: property is not documented"));
                }
                None if schema["additionalProperties"].is_object() => {
                    self.validate(&schema["additionalProperties"], field, &at)?
                }
                None => {}
            }
        }
        Ok(())
    }

    fn one_of(&self, options: &[Value], value: &Value, at: &str) -> Result<(), String> {
        let errors: Vec<String> = options
            .iter()
            .filter_map(|option| self.validate(option, value, at).err())
            .collect();
        match options.len() - errors.len() {
            1 => Ok(()),
            0 => Err(format!(
                "{at}: matches none of oneOf: {}",
                errors.join("; ")
            )),
            n => Err(format!("{at}: matches {n} schemas of oneOf")),
        }
    }

    fn resolve(&self, reference: &str) -> Result<&Value, String> {
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| format!("external $ref {reference}"))?;
        self.0
            .pointer(pointer)
            .ok_or_else(|| format!("dangling $ref {reference}"))
    }
}
