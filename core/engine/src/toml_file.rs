//! Reads a bundle's TOML files (manifest, parameters, schemas, messages)
//! into typed values, keeping every number's exact text and locating every
//! problem at its line and column.
//!
//! toml's parser reads the text into spanned values; [`Reader`] is a serde
//! deserializer over those values, so a file's types are read straight from
//! them. Two choices differ from `toml::from_str`, both on purpose:
//!
//! - A float keeps its text (`0.70` stays `0.70`, `12345678901234567.89`
//!   keeps every digit): a parameter's money or rate never passes through
//!   binary floating point, like money anywhere else in a bundle. It reaches
//!   a [`serde_json::Value`] or a `Decimal` as the exact-number form both
//!   read under `arbitrary_precision`. `inf` and `nan` are refused; no
//!   parameter is infinite. A date-time is read as its text.
//! - The reader is small. It reads each type only from the TOML values
//!   that type can be (a struct from a table, a text from a string), so a
//!   type's reading code holds no branch for the others; with toml's own
//!   serde deserializer the wasm artifact was 73 KB larger (21 KB gzip).
//!
//! An error carries the byte range of the value (or key) it is about and
//! its path (`relief.values[1].value`), added as it travels up the reader.

use std::fmt;
use std::ops::Range;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use toml::de::{DeInteger, DeTable, DeValue};
use toml::Spanned;

use crate::diagnostics::Diagnostic;

/// Parses a TOML file into `T`, turning a syntax or shape error into a
/// diagnostic at the offending text.
pub fn parse_toml<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Diagnostic> {
    let located = |message: String, span: Option<Range<usize>>| {
        let diagnostic = Diagnostic::error("toml", file, 0, 0, message);
        match span {
            Some(span) => diagnostic.with_byte_span(text, span.start, span.end),
            None => diagnostic,
        }
    };
    let table = DeTable::parse(text)
        .map_err(|error| located(error.message().trim().to_string(), error.span()))?;
    let span = table.span();
    let root = Spanned::new(span, DeValue::Table(table.into_inner()));
    T::deserialize(Reader(&root)).map_err(|error| {
        let message = match error.path() {
            Some(path) => format!("`{path}`: {}", error.message),
            None => error.message,
        };
        located(message, error.span)
    })
}

/// A problem found while reading a value: where it is and the path to it.
#[derive(Debug)]
pub struct Error {
    message: String,
    span: Option<Range<usize>>,
    /// Path segments, innermost first (`[1]`, `values`, `relief`).
    path: Vec<String>,
}

impl Error {
    fn at(mut self, span: Range<usize>) -> Error {
        self.span.get_or_insert(span);
        self
    }

    fn within(mut self, segment: String) -> Error {
        self.path.push(segment);
        self
    }

    /// `relief.values[1].value`, or `None` at the file's top.
    fn path(&self) -> Option<String> {
        let mut path = String::new();
        for segment in self.path.iter().rev() {
            if !segment.starts_with('[') && !path.is_empty() {
                path.push('.');
            }
            path.push_str(segment);
        }
        (!path.is_empty()).then_some(path)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Error {
        Error {
            message: message.to_string(),
            span: None,
            path: Vec::new(),
        }
    }
}

/// The key under which serde_json (and rust_decimal) read a number given
/// as its text: serde_json's `arbitrary_precision` protocol.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Deserializes one TOML value.
struct Reader<'a>(&'a Spanned<DeValue<'a>>);

impl<'de> de::Deserializer<'de> for Reader<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let span = self.0.span();
        let refused = |message: String| de::Error::custom(message);
        let read = match self.0.get_ref() {
            DeValue::String(text) => visitor.visit_str(text),
            DeValue::Boolean(flag) => visitor.visit_bool(*flag),
            DeValue::Integer(int) => integer(int, visitor),
            DeValue::Float(float) => {
                let text = float.as_str();
                let text = text.strip_prefix('+').unwrap_or(text);
                if text.contains(['i', 'n']) {
                    Err(refused(format!(
                        "{text} is not a finite decimal number; write it as digits, e.g. 0.75"
                    )))
                } else {
                    let number = Spanned::new(span.clone(), DeValue::String(text.into()));
                    visitor
                        .visit_map(Entries::number(&number))
                        .map_err(|error| {
                            // A float where no number belongs: say so, not "map".
                            if error.message.starts_with("invalid type: map") {
                                let expected = error.message.split(", expected ").nth(1);
                                refused(format!(
                                    "invalid type: number `{text}`, expected {}",
                                    expected.unwrap_or("something else")
                                ))
                            } else {
                                error
                            }
                        })
                }
            }
            DeValue::Datetime(datetime) => visitor.visit_str(&datetime.to_string()),
            DeValue::Array(items) => visitor.visit_seq(Items {
                items: items.iter().enumerate(),
            }),
            DeValue::Table(table) => visitor.visit_map(Entries::table(table)),
        };
        read.map_err(|error| error.at(span))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0.get_ref() {
            DeValue::String(text) => visitor
                .visit_enum(text.as_ref().into_deserializer())
                .map_err(|error: Error| error.at(self.0.span())),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.get_ref() {
            DeValue::String(text) => visitor.visit_str(text),
            DeValue::Datetime(datetime) => visitor.visit_str(&datetime.to_string()),
            _ => return Err(self.invalid_type(&visitor)),
        }
        .map_err(|error: Error| error.at(self.0.span()))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.get_ref() {
            DeValue::Boolean(flag) => visitor.visit_bool(*flag),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.get_ref() {
            DeValue::Integer(int) => integer(int, visitor).map_err(|error| error.at(self.0.span())),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.get_ref() {
            DeValue::Array(items) => visitor
                .visit_seq(Items {
                    items: items.iter().enumerate(),
                })
                .map_err(|error| error.at(self.0.span())),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.get_ref() {
            DeValue::Table(table) => visitor
                .visit_map(Entries::table(table))
                .map_err(|error| error.at(self.0.span())),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u128 f32 f64 char
        bytes byte_buf unit unit_struct tuple tuple_struct
    }
}

/// A TOML integer (in any radix) as serde's `i64`.
fn integer<'de, V: Visitor<'de>>(int: &DeInteger<'_>, visitor: V) -> Result<V::Value, Error> {
    match i64::from_str_radix(int.as_str(), int.radix()) {
        Ok(int) => visitor.visit_i64(int),
        Err(_) => Err(de::Error::custom(format!(
            "{int} is outside the 64-bit integers"
        ))),
    }
}

impl Reader<'_> {
    /// "invalid type: …, expected …" at this value.
    fn invalid_type<'de, V: Visitor<'de>>(&self, visitor: &V) -> Error {
        use de::Unexpected;
        let number;
        let unexpected = match self.0.get_ref() {
            DeValue::String(text) => Unexpected::Str(text),
            DeValue::Boolean(flag) => Unexpected::Bool(*flag),
            DeValue::Integer(int) => {
                number = format!("integer `{int}`");
                Unexpected::Other(&number)
            }
            DeValue::Float(float) => {
                number = format!("number `{float}`");
                Unexpected::Other(&number)
            }
            DeValue::Datetime(_) => Unexpected::Other("date-time"),
            DeValue::Array(_) => Unexpected::Seq,
            DeValue::Table(_) => Unexpected::Map,
        };
        <Error as de::Error>::invalid_type(unexpected, visitor).at(self.0.span())
    }
}

/// An array's items.
struct Items<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Spanned<DeValue<'a>>>>,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let Some((index, item)) = self.items.next() else {
            return Ok(None);
        };
        seed.deserialize(Reader(item))
            .map(Some)
            .map_err(|error| error.within(format!("[{index}]")))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A table's entries, or a number as its text in serde_json's exact-number
/// form: a map of one entry whose key is [`NUMBER_TOKEN`]. One type for
/// both, so each visitor's `visit_map` is compiled once.
struct Entries<'a, 'n> {
    source: Source<'a, 'n>,
    /// The value of the key just read, and the key.
    value: Option<(&'a str, &'n Spanned<DeValue<'a>>)>,
}

enum Source<'a, 'n> {
    Table(toml::map::Iter<'a, Spanned<toml::de::DeString<'a>>, Spanned<DeValue<'a>>>),
    /// The number's text, as a string value, until its key is read.
    Number(Option<&'n Spanned<DeValue<'a>>>),
}

impl<'a, 'n> Entries<'a, 'n>
where
    'a: 'n,
{
    fn table(table: &'a DeTable<'a>) -> Self {
        Entries {
            source: Source::Table(table.iter()),
            value: None,
        }
    }

    fn number(text: &'n Spanned<DeValue<'a>>) -> Self {
        Entries {
            source: Source::Number(Some(text)),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'_, '_> {
    type Error = Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let (name, span, value) = match &mut self.source {
            Source::Table(entries) => match entries.next() {
                Some((key, value)) => (key.get_ref().as_ref(), Some(key.span()), value),
                None => return Ok(None),
            },
            Source::Number(text) => match text.take() {
                Some(text) => (NUMBER_TOKEN, None, text),
                None => return Ok(None),
            },
        };
        self.value = Some((name, value));
        seed.deserialize(name.into_deserializer())
            .map(Some)
            .map_err(|error: Error| match span {
                Some(span) => error.at(span).within(name.to_string()),
                None => error,
            })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let (key, value) = self.value.take().expect("a key is read before its value");
        seed.deserialize(Reader(value))
            .map_err(|error| match self.source {
                Source::Table(_) => error.within(key.to_string()),
                Source::Number(_) => error,
            })
    }

    fn size_hint(&self) -> Option<usize> {
        match &self.source {
            Source::Table(entries) => Some(entries.len()),
            Source::Number(text) => Some(usize::from(text.is_some())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::line_column;
    use serde::Deserialize;
    use serde_json::Value;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Rate {
        value: Value,
        #[serde(default)]
        note: String,
    }

    fn rates(text: &str) -> Result<BTreeMap<String, Rate>, Diagnostic> {
        parse_toml("params/x.toml", text)
    }

    #[test]
    fn floats_keep_their_digits() {
        let text = "a = { value = 0.70 }\nb = { value = 12345678901234567.89 }\n\
                    c = { value = +1_000.5 }\nd = { value = 1e3 }\ne = { value = -0.0 }\n";
        let read = rates(text).unwrap();
        let shown: Vec<String> = read.values().map(|rate| rate.value.to_string()).collect();
        assert_eq!(
            shown,
            ["0.70", "12345678901234567.89", "1000.5", "1e+3", "-0.0"]
        );
        assert!(read.values().all(|rate| rate.note.is_empty()));
    }

    #[test]
    fn integers_dates_and_radixes() {
        let text = "a = { value = 0x10 }\nb = { value = -7 }\nc = { value = 2026-01-01 }\n";
        let read = rates(text).unwrap();
        assert_eq!(read["a"].value, Value::from(16));
        assert_eq!(read["b"].value, Value::from(-7));
        assert_eq!(read["c"].value, Value::from("2026-01-01"));
        let error = rates("a = { value = 99999999999999999999 }\n").unwrap_err();
        assert!(
            error.message.contains("outside the 64-bit integers"),
            "{error:?}"
        );
        assert_eq!((error.line, error.column), (1, 15));
    }

    #[test]
    fn infinities_are_refused_at_their_place() {
        let text = "a = { value = 1 }\nb = { value = inf }\n";
        let error = rates(text).unwrap_err();
        assert!(
            error.message.contains("inf is not a finite decimal"),
            "{error:?}"
        );
        assert_eq!((error.line, error.column), (2, 15));
    }

    #[test]
    fn shape_errors_name_the_path_and_point_at_the_value() {
        let text = "a = { value = 1 }\nb = { value = 2, note = 3 }\n";
        let error = rates(text).unwrap_err();
        assert_eq!(
            error.message,
            "`b.note`: invalid type: integer `3`, expected a string"
        );
        let at = text.find("3 }").unwrap();
        assert_eq!((error.line, error.column), line_column(text, at));
    }

    #[test]
    fn a_float_where_text_belongs_is_named_as_a_number() {
        let error = rates("a = { value = 1, note = 0.50 }\n").unwrap_err();
        assert_eq!(
            error.message,
            "`a.note`: invalid type: number `0.50`, expected a string"
        );
        assert_eq!((error.line, error.column), (1, 25));
    }

    #[test]
    fn unknown_and_missing_fields_are_located() {
        let text = "a = { value = 1 }\nb = { value = 2, nte = \"x\" }\n";
        let error = rates(text).unwrap_err();
        assert!(
            error.message.starts_with("`b.nte`: unknown field `nte`"),
            "{error:?}"
        );
        assert_eq!(error.line, 2);

        let text = "a = { value = 1 }\n\n[b]\nnote = \"x\"\n";
        let error = rates(text).unwrap_err();
        assert_eq!(error.message, "`b`: missing field `value`");
        assert_eq!(error.line, 3);
    }

    #[test]
    fn syntax_errors_keep_toml_s_message_and_place() {
        let error = rates("a = { value = 1 }\nb = \n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(!error.message.is_empty());
    }
}
