//! Statements assembled at run time (optional filters) with `$N` placeholders, which both
//! backends accept. (`QueryBuilder` over the `Any` driver writes `?`, which PostgreSQL refuses.)

use sqlx::any::{Any, AnyArguments};
use sqlx::query::Query;

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Text(String),
    Int(i64),
}

/// A statement and the values of its placeholders, in order.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    /// Appends literal SQL.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(crate) fn bind(&mut self, value: Value) -> &mut Self {
        self.values.push(value);
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    /// Appends `clause` followed by a placeholder bound to `value`, when there is a value.
    pub(crate) fn filter_text(&mut self, clause: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.push(clause).bind(Value::Text(value.to_owned()));
        }
        self
    }

    /// The statement, ready to run.
    pub(crate) fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        self.values
            .iter()
            .fold(sqlx::query(&self.text), |q, v| match v {
                Value::Text(s) => q.bind(s.as_str()),
                Value::Int(i) => q.bind(*i),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT 1 FROM t WHERE 1 = 1");
        sql.filter_text(" AND a = ", Some("x"))
            .filter_text(" AND b = ", None)
            .push(" LIMIT ")
            .bind(Value::Int(3));
        assert_eq!(sql.text, "SELECT 1 FROM t WHERE 1 = 1 AND a = $1 LIMIT $2");
        assert_eq!(sql.values.len(), 2);
    }
}
