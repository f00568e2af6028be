//! Reads an entry point's schema file (`schema/<entry>.toml`) into the
//! [`Schema`] validation uses, checks it as a whole, and writes a schema as
//! JSON Schema.
//!
//! ```toml
//! [fields]
//! id = { type = "string", required = true, min_len = 1, max_len = 64 }
//! members = { type = "array", items = "Member", min_items = 1, max_items = 20, required = true }
//!
//! [types.Member]
//! age = { type = "integer", min = 0, max = 130, required = true }
//! difficult_child = { type = "bool", default = false, valid_when = "age < 18" }
//! ```
//!
//! Reading a schema is part of loading a bundle: here with the loader, while
//! the schema's types and what validation asks of them are in
//! `eligo_engine::schema`, with the decision path.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::diagnostics::{toml_definition_line, Diagnostic};
use crate::path::JsonPath;
use crate::schema::{
    CompareOp, Condition, Field, Kind, Literal, ObjectType, Schema, DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_LEN,
};
use crate::toml_file::parse_toml;
use crate::values::decimal_from_text;

/// Parses a schema file; problems are reported against `file`.
pub fn parse(file: &str, text: &str) -> Result<Schema, Diagnostic> {
    let raw: RawSchema = parse_toml(file, text)?;
    let builder = Builder {
        types: &raw.types,
        file,
        names: Default::default(),
    };
    let root = builder
        .object("input", &raw.fields, &mut Vec::new())
        .map_err(|message| {
            // Messages start with the dotted path of the field.
            let path = message.split(':').next().unwrap_or_default();
            let (line, column) = locate_field(text, path);
            Diagnostic::error("schema", file, line, column, message)
        })?;
    Ok(Schema { root })
}

/// Parses a schema file and checks it as a whole: [`parse`], then
/// every field's default must be a valid value of the field (checked by the
/// same conversion inputs go through, so a default can never be refused
/// later as input). The first problem is located at its `default`.
pub fn checked_schema(file: &str, text: &str) -> Result<Schema, Diagnostic> {
    let schema = parse(file, text)?;
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

fn parse_condition(text: &str) -> Result<Condition, String> {
    let ops = [
        ("<=", CompareOp::Le),
        (">=", CompareOp::Ge),
        ("==", CompareOp::Eq),
        ("!=", CompareOp::Ne),
        ("<", CompareOp::Lt),
        (">", CompareOp::Gt),
    ];
    for (symbol, op) in ops {
        if let Some((field, literal)) = text.split_once(symbol) {
            let field = field.trim();
            let literal = literal.trim();
            let literal =
                if let Some(inner) = literal
                    .strip_prefix('"')
                    .and_then(|rest| rest.strip_suffix('"'))
                {
                    Literal::Text(inner.to_string())
                } else {
                    Literal::Number(decimal_from_text(literal).ok_or_else(|| {
                        format!("`{literal}` is neither a number nor a \"string\"")
                    })?)
                };
            if field.is_empty() || !field.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(format!("`{field}` is not a field name"));
            }
            return Ok(Condition {
                field: field.to_string(),
                op,
                literal,
                text: text.trim().to_string(),
            });
        }
    }
    Err("expected `field <op> literal` with one of < <= > >= == !=".to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    fields: BTreeMap<String, RawField>,
    #[serde(default)]
    types: BTreeMap<String, BTreeMap<String, RawField>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    nullable: bool,
    default: Option<Value>,
    min: Option<Value>,
    max: Option<Value>,
    min_len: Option<usize>,
    max_len: Option<usize>,
    decimals: Option<u32>,
    values: Option<Vec<String>>,
    items: Option<String>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    ascending_by: Option<String>,
    valid_when: Option<String>,
    at_most: Option<String>,
    #[serde(default)]
    description: String,
}

/// The schema as JSON Schema (draft 2020-12), for clients that validate
/// or generate forms with standard tools. Money and decimals are JSON
/// numbers with `multipleOf` their precision; Eligo's own checks (money
/// never more than two decimals, `valid_when`, `at_most`,
/// `ascending_by`) are stricter and stay authoritative.
pub fn to_json_schema(schema: &Schema, title: &str) -> Value {
    let mut defs = serde_json::Map::new();
    let mut root = object_schema(&schema.root, &mut defs);
    if let Value::Object(map) = &mut root {
        map.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        map.insert("title".into(), title.into());
        if !defs.is_empty() {
            map.insert("$defs".into(), Value::Object(defs));
        }
    }
    root
}

fn object_schema(object: &ObjectType, defs: &mut serde_json::Map<String, Value>) -> Value {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for (name, field) in &object.fields {
        let mut schema = kind_schema(&field.kind, defs);
        if field.nullable {
            schema = serde_json::json!({ "anyOf": [schema, { "type": "null" }] });
        }
        if let Value::Object(map) = &mut schema {
            if !field.description.is_empty() {
                map.insert("description".into(), field.description.clone().into());
            }
            if let Some(default) = &field.default {
                map.insert("default".into(), default.clone());
            }
        }
        if field.required {
            required.push(Value::String(name.clone()));
        }
        properties.insert(name.clone(), schema);
    }
    serde_json::json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn kind_schema(kind: &Kind, defs: &mut serde_json::Map<String, Value>) -> Value {
    use crate::values::decimal_to_json;
    let bounds =
        |map: &mut serde_json::Map<String, Value>, min: Option<Value>, max: Option<Value>| {
            if let Some(min) = min {
                map.insert("minimum".into(), min);
            }
            if let Some(max) = max {
                map.insert("maximum".into(), max);
            }
        };
    let mut map = serde_json::Map::new();
    match kind {
        Kind::String { min_len, max_len } => {
            map.insert("type".into(), "string".into());
            map.insert("minLength".into(), (*min_len).into());
            map.insert("maxLength".into(), (*max_len).into());
        }
        Kind::Integer { min, max } => {
            map.insert("type".into(), "integer".into());
            bounds(&mut map, min.map(Value::from), max.map(Value::from));
        }
        Kind::Money { min, max } => {
            map.insert("type".into(), "number".into());
            map.insert("multipleOf".into(), decimal_to_json(Decimal::new(1, 2)));
            bounds(&mut map, min.map(decimal_to_json), max.map(decimal_to_json));
        }
        Kind::Decimal { min, max, decimals } => {
            map.insert("type".into(), "number".into());
            if let Some(decimals) = decimals {
                map.insert(
                    "multipleOf".into(),
                    decimal_to_json(Decimal::new(1, *decimals)),
                );
            }
            bounds(&mut map, min.map(decimal_to_json), max.map(decimal_to_json));
        }
        Kind::Bool => {
            map.insert("type".into(), "boolean".into());
        }
        Kind::Date => {
            map.insert("type".into(), "string".into());
            map.insert("format".into(), "date".into());
        }
        Kind::Timestamp => {
            map.insert("type".into(), "string".into());
            map.insert("format".into(), "date-time".into());
        }
        Kind::Month => {
            map.insert("type".into(), "string".into());
            map.insert("pattern".into(), "^[0-9]{4}-(0[1-9]|1[0-2])$".into());
        }
        Kind::Enum { values, .. } => {
            map.insert("type".into(), "string".into());
            map.insert("enum".into(), values.clone().into());
        }
        Kind::Array {
            items,
            min_items,
            max_items,
            ..
        } => {
            map.insert("type".into(), "array".into());
            map.insert("items".into(), kind_schema(items, defs));
            map.insert("minItems".into(), (*min_items).into());
            map.insert("maxItems".into(), (*max_items).into());
        }
        Kind::Object { object } => {
            if !defs.contains_key(&object.name) {
                // Placeholder first: a type that contains itself terminates.
                defs.insert(object.name.clone(), Value::Null);
                let schema = object_schema(object, defs);
                defs.insert(object.name.clone(), schema);
            }
            map.insert("$ref".into(), format!("#/$defs/{}", object.name).into());
        }
    }
    Value::Object(map)
}

struct Builder<'a> {
    types: &'a BTreeMap<String, BTreeMap<String, RawField>>,
    file: &'a str,
    /// One string per text for the whole schema: a field name shared by
    /// two objects (`id`) or a value shared by two enums is the same
    /// string, so every lookup by it compares pointers.
    names: std::cell::RefCell<BTreeMap<String, rhai::ImmutableString>>,
}

impl Builder<'_> {
    fn intern(&self, text: &str) -> rhai::ImmutableString {
        self.names
            .borrow_mut()
            .entry(text.to_string())
            .or_insert_with(|| text.into())
            .clone()
    }

    fn object(
        &self,
        name: &str,
        raw: &BTreeMap<String, RawField>,
        stack: &mut Vec<String>,
    ) -> Result<Arc<ObjectType>, String> {
        let mut fields = BTreeMap::new();
        for (field_name, raw_field) in raw {
            let at = format!("{name}.{field_name}");
            let field = self.field(&at, raw_field, stack)?;
            fields.insert(field_name.clone(), field);
        }
        // Cross-field references must name real siblings.
        for (field_name, field) in &fields {
            let at = format!("{name}.{field_name}");
            if let Some(condition) = &field.valid_when {
                if !fields.contains_key(&condition.field) {
                    return Err(format!(
                        "{at}: valid_when names unknown field `{}`",
                        condition.field
                    ));
                }
            }
            if let Some(limit) = &field.at_most {
                if !fields.contains_key(limit) {
                    return Err(format!("{at}: at_most names unknown field `{limit}`"));
                }
            }
        }
        Ok(Arc::new(ObjectType {
            name: name.to_string(),
            keys: fields.keys().map(|k| self.intern(k)).collect(),
            fields,
        }))
    }

    fn field(&self, at: &str, raw: &RawField, stack: &mut Vec<String>) -> Result<Field, String> {
        let kind = self.kind(at, &raw.ty, raw, stack)?;
        let valid_when = raw
            .valid_when
            .as_deref()
            .map(parse_condition)
            .transpose()
            .map_err(|e| format!("{at}.valid_when: {e}"))?;
        if raw.required && raw.default.is_some() {
            return Err(format!("{at}: a required field cannot have a default"));
        }
        let default = raw.default.as_ref().cloned();
        Ok(Field {
            kind,
            required: raw.required,
            nullable: raw.nullable,
            default,
            valid_when,
            at_most: raw.at_most.clone(),
            description: raw.description.clone(),
        })
    }

    fn kind(
        &self,
        at: &str,
        ty: &str,
        raw: &RawField,
        stack: &mut Vec<String>,
    ) -> Result<Kind, String> {
        let decimal = |value: &Option<Value>, what: &str| -> Result<Option<Decimal>, String> {
            value
                .as_ref()
                .map(|v| {
                    let text = match v {
                        Value::Number(number) => number.to_string(),
                        Value::String(s) => s.clone(),
                        _ => String::new(),
                    };
                    decimal_from_text(&text)
                        .ok_or_else(|| format!("{at}.{what}: expected a number"))
                })
                .transpose()
        };
        let integer = |value: &Option<Value>, what: &str| -> Result<Option<i64>, String> {
            value
                .as_ref()
                .map(|v| {
                    v.as_i64()
                        .ok_or_else(|| format!("{at}.{what}: expected an integer"))
                })
                .transpose()
        };
        let kind = match ty {
            "string" => Kind::String {
                min_len: raw.min_len.unwrap_or(0),
                max_len: raw.max_len.unwrap_or(DEFAULT_MAX_LEN),
            },
            "integer" => Kind::Integer {
                min: integer(&raw.min, "min")?,
                max: integer(&raw.max, "max")?,
            },
            "money" => Kind::Money {
                min: decimal(&raw.min, "min")?,
                max: decimal(&raw.max, "max")?,
            },
            "decimal" => Kind::Decimal {
                min: decimal(&raw.min, "min")?,
                max: decimal(&raw.max, "max")?,
                decimals: raw.decimals,
            },
            "bool" => Kind::Bool,
            "date" => Kind::Date,
            "timestamp" => Kind::Timestamp,
            "month" => Kind::Month,
            "enum" => {
                let values = raw
                    .values
                    .clone()
                    .filter(|values| !values.is_empty())
                    .ok_or_else(|| format!("{at}: an enum needs `values = [...]`"))?;
                let names = values.iter().map(|v| self.intern(v)).collect();
                Kind::Enum { values, names }
            }
            "array" => {
                let items_ty = raw
                    .items
                    .as_deref()
                    .ok_or_else(|| format!("{at}: an array needs `items = \"<type>\"`"))?;
                let plain = RawField {
                    ty: items_ty.to_string(),
                    ..empty_raw()
                };
                let items = self.kind(&format!("{at}[]"), items_ty, &plain, stack)?;
                if let Some(key) = &raw.ascending_by {
                    let Kind::Object { object } = &items else {
                        return Err(format!("{at}: ascending_by needs object items"));
                    };
                    if !object.fields.contains_key(key) {
                        return Err(format!("{at}: ascending_by names unknown field `{key}`"));
                    }
                }
                Kind::Array {
                    items: Box::new(items),
                    min_items: raw.min_items.unwrap_or(0),
                    max_items: raw.max_items.unwrap_or(DEFAULT_MAX_ITEMS),
                    ascending_by: raw.ascending_by.clone(),
                }
            }
            named => {
                let Some(fields) = self.types.get(named) else {
                    return Err(format!(
                        "{at}: unknown type `{named}` (in {}; expected string, integer, money, \
                         decimal, bool, date, timestamp, month, enum, array or a [types.*] name)",
                        self.file
                    ));
                };
                if stack.iter().any(|seen| seen == named) {
                    return Err(format!("{at}: type `{named}` contains itself"));
                }
                stack.push(named.to_string());
                let object = self.object(named, fields, stack)?;
                stack.pop();
                Kind::Object { object }
            }
        };
        check_ranges(at, &kind)?;
        Ok(kind)
    }
}

/// Where a schema path (`input.on_dibao.default`, `Member.age`) is defined:
/// the line of the field in `[fields]` (for `input`) or `[types.<Type>]`,
/// at the attribute the path ends with when it names one; (0, 0) if not
/// found.
pub fn locate_field(text: &str, path: &str) -> (usize, usize) {
    let parts: Vec<&str> = path.split('.').map(|p| p.trim_end_matches("[]")).collect();
    let Some((scope, rest)) = parts.split_first() else {
        return (0, 0);
    };
    let Some((field, attributes)) = rest.split_first() else {
        let line = toml_definition_line(text, scope);
        return (line, usize::from(line > 0));
    };
    let section = if *scope == "input" {
        "[fields]".to_string()
    } else {
        format!("[types.{scope}]")
    };
    let mut in_section = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_section = trimmed.starts_with(&section);
            continue;
        }
        let defines = trimmed
            .strip_prefix(field)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if in_section && defines {
            let at = attributes
                .first()
                .and_then(|attribute| line.find(&format!("{attribute} ")).or(line.find(attribute)))
                .unwrap_or(line.len() - trimmed.len());
            return (index + 1, line[..at].chars().count() + 1);
        }
    }
    let line = toml_definition_line(text, field);
    (line, usize::from(line > 0))
}

/// A lower bound above its upper bound would make every value invalid:
/// a mistake in the schema, reported where the field is defined.
fn check_ranges(at: &str, kind: &Kind) -> Result<(), String> {
    let crossed = |low: &str, high: &str| {
        Err(format!(
            "{at}: {low} is greater than {high}, so no value is valid"
        ))
    };
    match kind {
        Kind::String { min_len, max_len } if min_len > max_len => crossed("min_len", "max_len"),
        Kind::Integer {
            min: Some(min),
            max: Some(max),
        } if min > max => crossed("min", "max"),
        Kind::Money {
            min: Some(min),
            max: Some(max),
        }
        | Kind::Decimal {
            min: Some(min),
            max: Some(max),
            ..
        } if min > max => crossed("min", "max"),
        Kind::Array {
            min_items,
            max_items,
            ..
        } if min_items > max_items => crossed("min_items", "max_items"),
        _ => Ok(()),
    }
}

fn empty_raw() -> RawField {
    RawField {
        ty: String::new(),
        required: false,
        nullable: false,
        default: None,
        min: None,
        max: None,
        min_len: None,
        max_len: None,
        decimals: None,
        values: None,
        items: None,
        min_items: None,
        max_items: None,
        ascending_by: None,
        valid_when: None,
        at_most: None,
        description: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_and_evaluate() {
        let c = parse_condition("age < 18").unwrap();
        assert!(c.holds(Some(&serde_json::json!(17))));
        assert!(!c.holds(Some(&serde_json::json!(18))));
        assert!(!c.holds(None));
        let k = parse_condition("kind == \"long_term\"").unwrap();
        assert!(k.holds(Some(&serde_json::json!("long_term"))));
        assert!(parse_condition("age ~ 3").is_err());
    }

    #[test]
    fn schema_errors_name_the_field() {
        let error = parse("schema/x.toml", "[fields]\na = { type = \"Nope\" }\n").unwrap_err();
        assert!(
            error.message.contains("input.a: unknown type `Nope`"),
            "{}",
            error.message
        );
        let error = parse(
            "schema/x.toml",
            "[fields]\na = { type = \"T\" }\n[types.T]\nb = { type = \"T\" }\n",
        )
        .unwrap_err();
        assert!(
            error.message.contains("contains itself"),
            "{}",
            error.message
        );
    }

    #[test]
    fn field_paths_resolve_through_arrays() {
        let schema = parse(
            "s.toml",
            "[fields]\nm = { type = \"array\", items = \"M\" }\n[types.M]\nage = { type = \"integer\" }\n",
        )
        .unwrap();
        assert!(matches!(
            schema.field_at("m[3].age").unwrap().kind,
            Kind::Integer { .. }
        ));
        assert!(schema.field_at("m[3].nope").is_none());
    }

    /// A text the schema names twice (a field of two objects, a value of
    /// two enums, a value that is also a field) is one string.
    #[test]
    fn names_are_one_string_across_the_schema() {
        let schema = parse(
            "s.toml",
            "[fields]\nid = { type = \"string\" }\nkind = { type = \"enum\", values = [\"a\", \"id\"] }\n\
             m = { type = \"array\", items = \"M\" }\n\
             [types.M]\nid = { type = \"string\" }\nkind = { type = \"enum\", values = [\"b\", \"a\"] }\n",
        )
        .unwrap();
        let root = &schema.root;
        let Kind::Array { items, .. } = &root.fields["m"].kind else {
            panic!("m is an array")
        };
        let Kind::Object { object: member } = &**items else {
            panic!("of objects")
        };
        let enum_names = |object: &ObjectType| match &object.fields["kind"].kind {
            Kind::Enum { names, .. } => names.clone(),
            _ => panic!("kind is an enum"),
        };
        let (outer, inner) = (enum_names(root), enum_names(member));
        assert!(root.keys[0].ptr_eq(&member.keys[0]), "`id` in both objects");
        assert!(outer[0].ptr_eq(&inner[1]), "`a` in both enums");
        assert!(
            outer[1].ptr_eq(&root.keys[0]),
            "the value `id` and the field `id`"
        );
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn crossed_bounds_are_schema_errors() {
        for (field, says) in [
            (
                "age = { type = \"integer\", min = 10, max = 5 }",
                "input.age: min is greater than max",
            ),
            (
                "pay = { type = \"money\", min = \"10.00\", max = 5 }",
                "input.pay: min is greater than max",
            ),
            (
                "name = { type = \"string\", min_len = 3, max_len = 2 }",
                "min_len is greater than max_len",
            ),
        ] {
            let text = format!("[fields]\n{field}\n");
            let error = parse("schema/x.toml", &text).unwrap_err();
            assert!(error.message.contains(says), "{field}: {error}");
            assert_eq!(error.line, 2, "{error}");
        }
        assert!(parse(
            "schema/x.toml",
            "[fields]\nage = { type = \"integer\", min = 5, max = 5 }\n"
        )
        .is_ok());
    }

    #[test]
    fn conditions_are_located_at_their_attribute() {
        let condition = "[fields]\nmembers = { type = \"array\", items = \"Member\" }\n\n[types.Member]\nage = { type = \"integer\" }\nchild = { type = \"bool\", valid_when = \"age << 18\" }\n";
        let error = parse("schema/x.toml", condition).unwrap_err();
        assert_eq!((error.line, error.column), (6, 26), "{error}");
    }
}

#[cfg(test)]
mod validation_tests {
    use super::*;
    use crate::validate::{validate_into, Build, FieldProblem};
    use crate::values::{Date, Timestamp};
    use rhai::{Dynamic, Map};

    /// Rhai's values: maps, arrays and `Dynamic`s.
    pub struct RhaiValues;

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

    /// Validates the whole input and converts it to Rhai's values: how these
    /// tests read a validated input. Decisions validate through
    /// `compiled::Input::validate`, once, whichever way the rules run.
    fn validate_input(root: &ObjectType, input: &Value) -> Result<Map, Vec<FieldProblem>> {
        validate_into(&RhaiValues, root, input)
    }
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
        parse("schema.toml", SCHEMA).unwrap()
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
