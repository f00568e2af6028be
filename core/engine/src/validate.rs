//! Input validation against an entry's schema, and conversion into the
//! typed values rules see.
//!
//! Every problem is collected (not just the first), each with its JSON path
//! (`members[1].age`), the rule broken and a message. Values are converted
//! by their schema type, never by how the JSON happened to spell them: an
//! integer field accepts `60.0`, a money field becomes an exact `Decimal`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::path::JsonPath;
use crate::schema::{Field, Kind, ObjectType};
use crate::values::{
    decimal_from_number, is_month, round_half_up, significant_decimals, Date, Timestamp,
};

/// One problem with the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldProblem {
    /// JSON path of the offending value; `$` is the whole input.
    pub path: String,
    /// The rule broken: `type`, `required`, `unknown_field`, `min`, `max`,
    /// `min_len`, `max_len`, `min_items`, `max_items`, `enum`, `format`,
    /// `decimals`, `valid_when`, `at_most`, `order`, `needed`.
    pub rule: String,
    /// What is wrong, for people.
    pub message: String,
}

impl FieldProblem {
    /// A problem at `path`, breaking `rule`.
    pub fn new(path: impl ToString, rule: &str, message: impl Into<String>) -> Self {
        FieldProblem {
            path: path.to_string(),
            rule: rule.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} [{}]", self.path, self.message, self.rule)
    }
}

/// Validates `input` and builds it as `build`'s values.
pub fn validate_into<B: Build>(
    build: &B,
    root: &ObjectType,
    input: &Value,
) -> Result<B::Object, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let converted = convert_object(build, root, input, &JsonPath::INPUT, &mut problems);
    match converted {
        Some(object) if problems.is_empty() => Ok(object),
        _ => Err(problems),
    }
}

/// The values validation builds: the compiled evaluator's (which reads the
/// input without converting it again, and hands a run in Rhai the same
/// values as Rhai's), or in the tests Rhai's directly.
pub trait Build {
    type Value;
    type Object;
    fn unit(&self) -> Self::Value;
    fn bool(&self, flag: bool) -> Self::Value;
    fn int(&self, int: i64) -> Self::Value;
    fn decimal(&self, decimal: Decimal) -> Self::Value;
    fn text(&self, text: &str) -> Self::Value;
    /// A text the schema holds (an enum's value), shared, not copied.
    fn name(&self, name: &rhai::ImmutableString) -> Self::Value;
    fn date(&self, date: Date) -> Self::Value;
    fn timestamp(&self, timestamp: Timestamp) -> Self::Value;
    fn array(&self, items: Vec<Self::Value>) -> Self::Value;
    fn new_object(&self, fields: usize) -> Self::Object;
    /// Adds `object_type`'s field number `index` (in name order; fields are
    /// added in that order).
    fn insert(
        &self,
        object: &mut Self::Object,
        object_type: &ObjectType,
        index: usize,
        value: Self::Value,
    );
    fn object(&self, object: Self::Object) -> Self::Value;
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn convert_object<B: Build>(
    build: &B,
    object: &ObjectType,
    value: &Value,
    path: &JsonPath<'_>,
    problems: &mut Vec<FieldProblem>,
) -> Option<B::Object> {
    let Value::Object(input) = value else {
        problems.push(FieldProblem::new(
            path,
            "type",
            format!("expected an object, got {}", json_type(value)),
        ));
        return None;
    };
    let before = problems.len();
    // The input's keys and the schema's fields are both in key order
    // (serde_json's map is a `BTreeMap`; a test holds it), so one merge
    // pairs them: a lookup per field and per key cost 0.3 µs of a
    // household.
    let mut given = input.iter().peekable();
    let mut known = 0;
    let mut map = build.new_object(object.fields.len());
    for (index, (name, field)) in object.fields.iter().enumerate() {
        // One comparison a step (`<` then `==` took two, each a call into
        // the artifact's `memcmp`).
        let mut value = None;
        while let Some((key, present)) = given.peek() {
            match key.as_str().cmp(name) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => value = Some(*present),
                std::cmp::Ordering::Greater => break,
            }
            given.next();
            if value.is_some() {
                break;
            }
        }
        known += usize::from(value.is_some());
        let field_path = path.field(name);
        match value {
            Some(Value::Null) if field.nullable => {
                build.insert(&mut map, object, index, build.unit());
            }
            Some(Value::Null) => {
                let rule = if field.required { "required" } else { "type" };
                problems.push(FieldProblem::new(field_path, rule, "must not be null"));
            }
            Some(present) => {
                if let Some(converted) = convert(build, &field.kind, present, &field_path, problems)
                {
                    build.insert(&mut map, object, index, converted);
                }
            }
            None if field.required => {
                problems.push(FieldProblem::new(field_path, "required", "is required"));
            }
            None => {
                if let Some(default) = &field.default {
                    if let Some(converted) =
                        convert(build, &field.kind, default, &field_path, problems)
                    {
                        build.insert(&mut map, object, index, converted);
                    }
                } else if field.nullable {
                    build.insert(&mut map, object, index, build.unit());
                }
            }
        }
    }
    if known < input.len() {
        // Unknown keys come first, in the input's order.
        let expected: Vec<&str> = object.fields.keys().map(String::as_str).collect();
        let unknown: Vec<FieldProblem> = input
            .keys()
            .filter(|key| !object.fields.contains_key(*key))
            .map(|key| {
                FieldProblem::new(
                    path.field(key),
                    "unknown_field",
                    format!("unknown field; expected one of: {}", expected.join(", ")),
                )
            })
            .collect();
        problems.splice(before..before, unknown);
    }
    for (name, field) in &object.fields {
        check_cross_field(name, field, input, path, problems);
    }
    (problems.len() == before).then_some(map)
}

/// `valid_when` and `at_most`: constraints between sibling fields.
fn check_cross_field(
    name: &str,
    field: &Field,
    input: &serde_json::Map<String, Value>,
    path: &JsonPath<'_>,
    problems: &mut Vec<FieldProblem>,
) {
    if field.valid_when.is_none() && field.at_most.is_none() {
        return;
    }
    let Some(value) = input.get(name) else { return };
    let field_path = path.field(name);
    if let Some(condition) = &field.valid_when {
        let is_set = !matches!(value, Value::Null | Value::Bool(false));
        if is_set && !condition.holds(input.get(&condition.field)) {
            problems.push(FieldProblem::new(
                field_path,
                "valid_when",
                format!("may only be set when {}", condition.text),
            ));
        }
    }
    if let Some(limit_name) = &field.at_most {
        let (Value::Number(own), Some(Value::Number(limit))) = (value, input.get(limit_name))
        else {
            return;
        };
        if let (Some(own), Some(limit)) = (decimal_from_number(own), decimal_from_number(limit)) {
            if own > limit {
                problems.push(FieldProblem::new(
                    field_path,
                    "at_most",
                    format!("must not exceed {limit_name} ({limit}), got {own}"),
                ));
            }
        }
    }
}

pub fn convert<B: Build>(
    build: &B,
    kind: &Kind,
    value: &Value,
    path: &JsonPath<'_>,
    problems: &mut Vec<FieldProblem>,
) -> Option<B::Value> {
    let mismatch = |problems: &mut Vec<FieldProblem>, expected: &str| {
        problems.push(FieldProblem::new(
            path,
            "type",
            format!("expected {expected}, got {}", json_type(value)),
        ));
        None
    };
    match kind {
        Kind::Bool => match value {
            Value::Bool(flag) => Some(build.bool(*flag)),
            _ => mismatch(problems, "true or false"),
        },
        Kind::String { min_len, max_len } => {
            let Value::String(s) = value else {
                return mismatch(problems, "a string");
            };
            let len = s.chars().count();
            if len < *min_len {
                problems.push(FieldProblem::new(
                    path,
                    "min_len",
                    format!("must be at least {min_len} characters long, got {len}"),
                ));
                return None;
            }
            if len > *max_len {
                problems.push(FieldProblem::new(
                    path,
                    "max_len",
                    format!("must be at most {max_len} characters long, got {len}"),
                ));
                return None;
            }
            Some(build.text(s))
        }
        Kind::Enum { values, names } => {
            let Value::String(s) = value else {
                return mismatch(problems, "a string");
            };
            if let Some(at) = values.iter().position(|v| v == s) {
                Some(build.name(&names[at]))
            } else {
                problems.push(FieldProblem::new(
                    path,
                    "enum",
                    format!("`{}` is not one of: {}", truncate(s), values.join(", ")),
                ));
                None
            }
        }
        Kind::Integer { min, max } => {
            let Value::Number(number) = value else {
                return mismatch(problems, "an integer");
            };
            let int = decimal_from_number(number)
                .filter(|d| d.fract().is_zero())
                .and_then(|d| i64::try_from(d).ok());
            let Some(int) = int else {
                problems.push(FieldProblem::new(
                    path,
                    "type",
                    format!("expected an integer, got {number}"),
                ));
                return None;
            };
            if let Some(min) = min.filter(|min| int < *min) {
                problems.push(FieldProblem::new(
                    path,
                    "min",
                    format!("must be at least {min}, got {int}"),
                ));
                return None;
            }
            if let Some(max) = max.filter(|max| int > *max) {
                problems.push(FieldProblem::new(
                    path,
                    "max",
                    format!("must be at most {max}, got {int}"),
                ));
                return None;
            }
            Some(build.int(int))
        }
        Kind::Money { min, max } | Kind::Decimal { min, max, .. } => {
            let Value::Number(number) = value else {
                return mismatch(problems, "a number");
            };
            let Some(decimal) = decimal_from_number(number) else {
                problems.push(FieldProblem::new(
                    path,
                    "type",
                    format!("{number} is not a representable decimal"),
                ));
                return None;
            };
            let places = match kind {
                Kind::Money { .. } => Some(2),
                Kind::Decimal { decimals, .. } => *decimals,
                _ => None,
            };
            if let Some(places) = places.filter(|p| significant_decimals(decimal) > *p) {
                problems.push(FieldProblem::new(
                    path,
                    "decimals",
                    format!("must have at most {places} decimal places, got {number}"),
                ));
                return None;
            }
            if let Some(min) = min.filter(|min| decimal < *min) {
                problems.push(FieldProblem::new(
                    path,
                    "min",
                    format!("must be at least {min}, got {number}"),
                ));
                return None;
            }
            if let Some(max) = max.filter(|max| decimal > *max) {
                problems.push(FieldProblem::new(
                    path,
                    "max",
                    format!("must be at most {max}, got {number}"),
                ));
                return None;
            }
            let decimal = if matches!(kind, Kind::Money { .. }) {
                round_half_up(decimal, 2)
            } else {
                decimal
            };
            Some(build.decimal(decimal))
        }
        Kind::Date => parse_text(value, path, problems, "a date YYYY-MM-DD", |s| {
            Date::parse(s).map(|date| build.date(date))
        }),
        Kind::Timestamp => parse_text(
            value,
            path,
            problems,
            "an RFC 3339 timestamp with offset, e.g. 2026-11-20T09:00:00+08:00",
            |s| Timestamp::parse(s).map(|ts| build.timestamp(ts)),
        ),
        Kind::Month => parse_text(value, path, problems, "a month YYYY-MM", |s| {
            is_month(s).then(|| build.text(s))
        }),
        Kind::Array {
            items,
            min_items,
            max_items,
            ascending_by,
        } => {
            let Value::Array(elements) = value else {
                return mismatch(problems, "an array");
            };
            if elements.len() < *min_items {
                problems.push(FieldProblem::new(
                    path,
                    "min_items",
                    format!(
                        "must have at least {min_items} items, got {}",
                        elements.len()
                    ),
                ));
                return None;
            }
            if elements.len() > *max_items {
                problems.push(FieldProblem::new(
                    path,
                    "max_items",
                    format!(
                        "must have at most {max_items} items, got {}",
                        elements.len()
                    ),
                ));
                return None;
            }
            let before = problems.len();
            let converted: Vec<B::Value> = elements
                .iter()
                .enumerate()
                .filter_map(|(i, element)| convert(build, items, element, &path.index(i), problems))
                .collect();
            if let Some(key) = ascending_by {
                check_ascending(elements, key, path, problems);
            }
            (problems.len() == before).then(|| build.array(converted))
        }
        Kind::Object { object } => {
            convert_object(build, object, value, path, problems).map(|o| build.object(o))
        }
    }
}

fn check_ascending(
    elements: &[Value],
    key: &str,
    path: &JsonPath<'_>,
    problems: &mut Vec<FieldProblem>,
) {
    let keys: Vec<Option<&str>> = elements
        .iter()
        .map(|e| e.get(key).and_then(Value::as_str))
        .collect();
    for i in 1..keys.len() {
        if let (Some(previous), Some(current)) = (keys[i - 1], keys[i]) {
            if current <= previous {
                problems.push(FieldProblem::new(
                    path.index(i).field(key),
                    "order",
                    format!(
                        "must come after {path}[{}].{key} ({previous}): items must be in ascending \
                         order without duplicates",
                        i - 1
                    ),
                ));
            }
        }
    }
}

fn parse_text<V>(
    value: &Value,
    path: &JsonPath<'_>,
    problems: &mut Vec<FieldProblem>,
    expected: &str,
    parse: impl Fn(&str) -> Option<V>,
) -> Option<V> {
    match value {
        Value::String(s) => match parse(s) {
            Some(parsed) => Some(parsed),
            None => {
                problems.push(FieldProblem::new(
                    path,
                    "format",
                    format!("`{}` is not {expected}", truncate(s)),
                ));
                None
            }
        },
        _ => {
            problems.push(FieldProblem::new(
                path,
                "type",
                format!("expected {expected}, got {}", json_type(value)),
            ));
            None
        }
    }
}

/// Echoes at most 40 characters of a bad value back in a message.
fn truncate(text: &str) -> String {
    if text.chars().count() <= 40 {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(40).collect::<String>())
    }
}
