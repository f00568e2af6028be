//! Input validation against an entry's schema, and conversion into the
//! typed values rules see.
//!
//! Every problem is collected (not just the first), each with its JSON path
//! (`members[1].age`), the rule broken and a message. Values are converted
//! by their schema type, never by how the JSON happened to spell them: an
//! integer field accepts `60.0`, a money field becomes an exact `Decimal`.

#[cfg(test)]
use rhai::{Dynamic, Map};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diagnostics::Diagnostic;
use crate::path::JsonPath;
use crate::schema::{locate_field, Field, Kind, ObjectType, Schema};
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

/// Validates the whole input and converts it to Rhai's values: how the
/// tests below read a validated input. Decisions validate through
/// [`crate::compiled::Input::validate`], once, whichever way the rules run.
#[cfg(test)]
pub fn validate_input(root: &ObjectType, input: &Value) -> Result<Map, Vec<FieldProblem>> {
    validate_into(&RhaiValues, root, input)
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

/// Rhai's values: maps, arrays and `Dynamic`s.
#[cfg(test)]
pub struct RhaiValues;

#[cfg(test)]
impl Build for RhaiValues {
    type Value = Dynamic;
    type Object = Map;
    fn unit(&self) -> Dynamic {
        Dynamic::UNIT
    }
    fn bool(&self, flag: bool) -> Dynamic {
        Dynamic::from_bool(flag)
    }
    fn int(&self, int: i64) -> Dynamic {
        Dynamic::from_int(int)
    }
    fn decimal(&self, decimal: Decimal) -> Dynamic {
        Dynamic::from_decimal(decimal)
    }
    fn text(&self, value: &str) -> Dynamic {
        crate::values::text(value)
    }
    fn name(&self, name: &rhai::ImmutableString) -> Dynamic {
        Dynamic::from(name.clone())
    }
    fn date(&self, date: Date) -> Dynamic {
        Dynamic::from(date)
    }
    fn timestamp(&self, timestamp: Timestamp) -> Dynamic {
        Dynamic::from(timestamp)
    }
    fn array(&self, items: Vec<Dynamic>) -> Dynamic {
        Dynamic::from_array(items)
    }
    fn new_object(&self, _fields: usize) -> Map {
        Map::new()
    }
    fn insert(&self, object: &mut Map, object_type: &ObjectType, index: usize, value: Dynamic) {
        object.insert(object_type.keys[index].as_str().into(), value);
    }
    fn object(&self, object: Map) -> Dynamic {
        Dynamic::from_map(object)
    }
}

/// Parses a schema file and checks it as a whole: [`Schema::parse`], then
/// every field's default must be a valid value of the field (checked by the
/// same conversion inputs go through, so a default can never be refused
/// later as input). The first problem is located at its `default`.
pub fn checked_schema(file: &str, text: &str) -> Result<Schema, Diagnostic> {
    let schema = Schema::parse(file, text)?;
    match first_bad_default(&schema.root) {
        None => Ok(schema),
        Some((at, message)) => {
            let (line, column) = locate_field(text, &at);
            Err(Diagnostic::error("schema", file, line, column, message))
        }
    }
}

/// The first field, depth first in name order, whose default is not a
/// valid value of it: its schema path (`Member.age.default`) and why.
fn first_bad_default(object: &ObjectType) -> Option<(String, String)> {
    for (name, field) in &object.fields {
        let mut kind = &field.kind;
        while let Kind::Array { items, .. } = kind {
            kind = items;
        }
        if let Kind::Object { object: inner } = kind {
            if let Some(bad) = first_bad_default(inner) {
                return Some(bad);
            }
        }
        if let Some(default) = &field.default {
            let at = format!("{}.{name}", object.name);
            let mut problems = Vec::new();
            crate::compiled::check_value(&field.kind, default, &JsonPath::Root(&at), &mut problems);
            if let Some(problem) = problems.first() {
                return Some((
                    format!("{at}.default"),
                    format!("{at}.default: {}", problem.message),
                ));
            }
        }
    }
    None
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
        while given.next_if(|(key, _)| *key < name).is_some() {}
        let value = given
            .next_if(|(key, _)| *key == name)
            .map(|(_, value)| value);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `convert_object` merges an input's keys with the schema's fields,
    /// which holds only while serde_json's map keeps its keys in order
    /// (no crate in the build turns on its `preserve_order`).
    #[test]
    fn json_objects_iterate_in_key_order() {
        let object: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"b":1,"a":2,"ab":3,"B":4}"#).unwrap();
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys, ["B", "a", "ab", "b"]);
    }

    #[test]
    fn a_bad_default_is_located_at_its_attribute() {
        let top = "[fields]\nid = { type = \"string\" }\non_roll = { type = \"bool\", default = \"no\" }\n";
        let error = checked_schema("schema/x.toml", top).unwrap_err();
        assert_eq!((error.line, error.column), (3, 28), "{error}");
        assert!(
            error.message.starts_with("input.on_roll.default: "),
            "{error}"
        );
        // In a type, under an array: found too, at the type's own line.
        let nested = "[fields]\nmembers = { type = \"array\", items = \"Member\" }\n\n[types.Member]\nage = { type = \"integer\", max = 150, default = 200 }\n";
        let error = checked_schema("schema/x.toml", nested).unwrap_err();
        assert_eq!(error.line, 5, "{error}");
        assert!(error.message.starts_with("Member.age.default: "), "{error}");
        let fine = "[fields]\nflag = { type = \"bool\", default = false }\n";
        assert!(checked_schema("schema/x.toml", fine).is_ok());
    }

    const SCHEMA: &str = r#"
[fields]
id = { type = "string", required = true, min_len = 1, max_len = 8 }
flag = { type = "bool", default = false }
when = { type = "date", nullable = true }
asked = { type = "bool" }
people = { type = "array", items = "P", min_items = 1, max_items = 3, required = true }
months = { type = "array", items = "M", ascending_by = "month" }

[types.P]
age = { type = "integer", min = 0, max = 130, required = true }
income = { type = "money", min = 0, max = 10000, required = true }
kid = { type = "bool", default = false, valid_when = "age < 18" }
job = { type = "enum", values = ["a", "b"], default = "a" }

[types.M]
month = { type = "month", required = true }
found = { type = "integer", min = 0, required = true }
fixed = { type = "integer", min = 0, required = true, at_most = "found" }
"#;

    fn schema() -> Schema {
        Schema::parse("schema.toml", SCHEMA).unwrap()
    }

    fn paths(errors: &[FieldProblem]) -> Vec<(String, String)> {
        errors
            .iter()
            .map(|e| (e.path.clone(), e.rule.clone()))
            .collect()
    }

    #[test]
    fn defaults_fill_and_absent_optional_stays_absent() {
        let map = validate_input(
            &schema().root,
            &json!({"id": "h1", "people": [{"age": 60.0, "income": 1000.1}]}),
        )
        .unwrap();
        assert!(!map.contains_key("asked"));
        assert!(map["when"].is_unit());
        assert!(!map["flag"].as_bool().unwrap());
        let people = map["people"].clone().into_array().unwrap();
        let person = people[0].clone().cast::<Map>();
        assert_eq!(person["age"].as_int().unwrap(), 60);
        assert_eq!(
            person["income"].as_decimal().unwrap().to_string(),
            "1000.10"
        );
        assert_eq!(person["job"].to_string(), "a");
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let input = json!({
            "id": "",
            "extra": 1,
            "when": "2026-02-30",
            "people": [
                {"age": 131, "income": 1.005},
                {"age": 30, "income": -1, "kid": true, "job": "c"},
                {"age": "x", "income": "12"}
            ],
            "months": [
                {"month": "2026-05", "found": 1, "fixed": 2},
                {"month": "2026-05", "found": 1, "fixed": 1},
                {"month": "2026-13", "found": 1, "fixed": 1}
            ]
        });
        let errors = validate_input(&schema().root, &input).unwrap_err();
        assert_eq!(
            paths(&errors),
            [
                ("extra", "unknown_field"),
                ("id", "min_len"),
                ("months[0].fixed", "at_most"),
                ("months[2].month", "format"),
                ("months[1].month", "order"),
                ("people[0].age", "max"),
                ("people[0].income", "decimals"),
                ("people[1].income", "min"),
                ("people[1].job", "enum"),
                ("people[1].kid", "valid_when"),
                ("people[2].age", "type"),
                ("people[2].income", "type"),
                ("when", "format"),
            ]
            .map(|(p, r)| (p.to_string(), r.to_string()))
        );
    }

    #[test]
    fn non_objects_and_over_long_arrays_are_rejected() {
        let errors = validate_input(&schema().root, &json!([1])).unwrap_err();
        assert_eq!(paths(&errors), [("$".to_string(), "type".to_string())]);
        let people = json!([{"age": 1, "income": 0}, {"age": 1, "income": 0}, {"age": 1, "income": 0}, {"age": 1, "income": 0}]);
        let errors =
            validate_input(&schema().root, &json!({"id": "x", "people": people})).unwrap_err();
        assert_eq!(
            paths(&errors),
            [("people".to_string(), "max_items".to_string())]
        );
        let errors =
            validate_input(&schema().root, &json!({"id": "123456789", "people": []})).unwrap_err();
        assert_eq!(
            paths(&errors),
            [
                ("id".to_string(), "max_len".to_string()),
                ("people".to_string(), "min_items".to_string())
            ]
        );
    }
}
