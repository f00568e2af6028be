//! Reading an input's JSON text unambiguously: an object that names a key
//! twice is refused, with the key's path, instead of keeping whichever came
//! last. An audited decision must rest on one reading of its input, and
//! every runtime must refuse the same texts.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::insert_all::InsertAll;

/// Why the text was refused.
#[derive(Debug)]
pub enum StrictJsonError {
    /// A key appears twice in one object, at this path (`members[0].age`).
    DuplicateKey(String),
    /// Not JSON at all.
    Syntax(serde_json::Error),
}

impl fmt::Display for StrictJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrictJsonError::DuplicateKey(path) => write!(f, "{path}: the key appears twice"),
            StrictJsonError::Syntax(error) => write!(f, "{error}"),
        }
    }
}

/// Parses `text`, refusing duplicate keys at any depth. Values are read
/// by serde_json's parser into serde_json's values (numbers keep their
/// exact text); an object's map notices a key it already holds, and only
/// then does a second pass over the text ([`first_duplicate`]) find the
/// first such key's path.
///
/// The second pass over every text cost 17,000 of the artifact's 424,000
/// operators for the benchmark household (wasmtime fuel), 4 %.
pub fn parse(text: &str) -> Result<Value, StrictJsonError> {
    let named_twice = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = StrictValue {
        named_twice: &named_twice,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value))
    .map_err(StrictJsonError::Syntax)?;
    match named_twice.get().then(|| first_duplicate(text)).flatten() {
        Some(path) => Err(StrictJsonError::DuplicateKey(path)),
        None => Ok(value),
    }
}

/// Reads one JSON value from `deserializer` as [`parse`] reads a text:
/// the value, and whether some object in it named a key twice (the key's
/// path is then [`parse`]'s to find, in the value's text).
pub fn read_value<'de, D: de::Deserializer<'de>>(
    deserializer: D,
) -> Result<(Value, bool), D::Error> {
    let named_twice = Cell::new(false);
    let value = StrictValue {
        named_twice: &named_twice,
    }
    .deserialize(deserializer)?;
    Ok((value, named_twice.get()))
}

/// serde_json's own reading into a [`Value`] (`Value`'s `Deserialize`),
/// but an object that gets a key twice says so. The last value given for
/// the key is kept, as serde_json keeps it.
struct StrictValue<'a> {
    named_twice: &'a Cell<bool>,
}

/// The key serde_json's parser gives an exact number under (its
/// `arbitrary_precision` feature), the number's text as the value.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Value, E> {
        Ok(Value::Bool(flag))
    }

    fn visit_i64<E>(self, int: i64) -> Result<Value, E> {
        Ok(Value::Number(int.into()))
    }

    fn visit_u64<E>(self, int: u64) -> Result<Value, E> {
        Ok(Value::Number(int.into()))
    }

    fn visit_f64<E>(self, float: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(float).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, text: &str) -> Result<Value, E> {
        Ok(Value::String(text.to_owned()))
    }

    fn visit_string<E>(self, text: String) -> Result<Value, E> {
        Ok(Value::String(text))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue {
            named_twice: self.named_twice,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        let Some(first) = map.next_key::<String>()? else {
            return Ok(Value::Object(object));
        };
        if first == NUMBER_TOKEN {
            // As serde_json's own `NumberFromString` reads it.
            let text: String = map.next_value()?;
            return text.parse().map(Value::Number).map_err(de::Error::custom);
        }
        let mut key = Some(first);
        while let Some(name) = key {
            let value = map.next_value_seed(StrictValue {
                named_twice: self.named_twice,
            })?;
            if object.insert(name, value).is_some() {
                self.named_twice.set(true);
            }
            key = map.next_key::<String>()?;
        }
        Ok(Value::Object(object))
    }
}

/// The path of the first key named twice in `text`, which serde_json has
/// just read as JSON: so a scan of its bytes for strings, brackets and
/// commas finds every key. The keys of all open objects share one stack,
/// so an object costs no allocation. The benchmark household's text:
/// 0.6 µs, where walking it with serde ([`check`]) took 0.9 µs. [`parse`]
/// runs it only on a text that names some key twice.
fn first_duplicate(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut open: Vec<Open<'_>> = Vec::new();
    let mut keys: Vec<Cow<'_, str>> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'{' => open.push(Open::Object {
                first_key: keys.len(),
                many: None,
                expects_key: true,
            }),
            b'[' => open.push(Open::Array { index: 0 }),
            b'}' => {
                if let Some(Open::Object { first_key, .. }) = open.pop() {
                    keys.truncate(first_key);
                }
            }
            b']' => {
                open.pop();
            }
            b',' => match open.last_mut() {
                Some(Open::Array { index }) => *index += 1,
                Some(Open::Object { expects_key, .. }) => *expects_key = true,
                None => {}
            },
            b'"' => {
                let start = at;
                at += 1;
                // To the closing quote, over escapes (the text is JSON).
                while let Some(found) = memchr::memchr2(b'"', b'\\', &bytes[at..]) {
                    at += found;
                    if bytes[at] == b'"' {
                        break;
                    }
                    at += 2;
                }
                let Some(Open::Object {
                    first_key,
                    many,
                    expects_key: expects_key @ true,
                }) = open.last_mut()
                else {
                    at += 1;
                    continue;
                };
                *expects_key = false;
                let quoted = &text[start..=at];
                let name = if quoted.contains('\\') {
                    Cow::Owned(serde_json::from_str::<String>(quoted).ok()?)
                } else {
                    Cow::Borrowed(&quoted[1..quoted.len() - 1])
                };
                let seen = match many {
                    Some(set) => !set.insert(name.clone()),
                    None if keys.len() - *first_key < FEW_KEYS => {
                        keys[*first_key..].contains(&name)
                    }
                    None => {
                        let mut set: BTreeSet<_> = keys[*first_key..].iter().cloned().insert_all();
                        let seen = !set.insert(name.clone());
                        *many = Some(set);
                        seen
                    }
                };
                if seen {
                    return Some(duplicate_path(&open, &keys, &name));
                }
                // The last key on the stack is the one whose value is read.
                keys.push(name);
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// An object or array [`first_duplicate`] is reading.
enum Open<'t> {
    Object {
        /// Where its keys start on the stack of keys.
        first_key: usize,
        /// Its keys once there are more than [`FEW_KEYS`].
        many: Option<BTreeSet<Cow<'t, str>>>,
        expects_key: bool,
    },
    Array {
        index: usize,
    },
}

/// The path of `name`, named twice in the innermost of `open`. An outer
/// object's key being read is the last it pushed on `keys`: the one just
/// below the next object's first.
fn duplicate_path(open: &[Open<'_>], keys: &[Cow<'_, str>], name: &str) -> String {
    let mut path = String::new();
    for (depth, place) in open.iter().enumerate() {
        match place {
            Open::Array { index } => path.push_str(&format!("[{index}]")),
            Open::Object { .. } => {
                let inner = open[depth + 1..].iter().find_map(|place| match place {
                    Open::Object { first_key, .. } => Some(*first_key),
                    Open::Array { .. } => None,
                });
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(inner.map_or(name, |inner| &keys[inner - 1]));
            }
        }
    }
    path
}

/// Only the check of [`parse`], for a reader that deserializes the text
/// into its own types and need not build a value first: `Ok` for JSON
/// with no key named twice; a key named twice is reported only in text
/// that is JSON throughout, as [`parse`] reports it.
pub fn check(text: &str) -> Result<(), StrictJsonError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let walked = Seed {
        at: None,
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    match duplicate.into_inner() {
        Some(path) => {
            // The walk stopped at the key; the rest must still be JSON.
            serde_json::from_str::<Value>(text).map_err(StrictJsonError::Syntax)?;
            Err(StrictJsonError::DuplicateKey(path))
        }
        None => walked.map_err(StrictJsonError::Syntax),
    }
}

/// Where a value is: its key or index, under its parent's place. The
/// pass keeps only this chain on the stack and writes a path out only for
/// the key it refuses (writing every value's path made the pass cost more
/// than serde_json's own parse: 5.8 µs against 2.4 µs for a household).
enum Place<'p, 'de> {
    Key(Option<&'p Place<'p, 'de>>, &'p Cow<'de, str>),
    Index(Option<&'p Place<'p, 'de>>, usize),
}

impl Place<'_, '_> {
    fn path(&self) -> String {
        match self {
            Place::Key(None, key) => key.to_string(),
            Place::Key(Some(parent), key) => format!("{}.{key}", parent.path()),
            Place::Index(None, index) => format!("[{index}]"),
            Place::Index(Some(parent), index) => format!("{}[{index}]", parent.path()),
        }
    }
}

/// The keys of one object so far: compared one by one while there are
/// few, then kept in a set, so a hostile object with many keys stays
/// linear.
#[derive(Default)]
struct Keys<'de> {
    /// Without allocating for an object of a few keys.
    few: smallvec::SmallVec<[Cow<'de, str>; 8]>,
    many: BTreeSet<Cow<'de, str>>,
}

/// Keys compared one by one, at most.
const FEW_KEYS: usize = 16;

impl<'de> Keys<'de> {
    fn contains(&self, key: &str) -> bool {
        self.few.iter().any(|seen| seen == key) || self.many.contains(key)
    }

    fn insert(&mut self, key: Cow<'de, str>) {
        if self.few.len() < FEW_KEYS && self.many.is_empty() {
            self.few.push(key);
        } else {
            self.many.extend(self.few.drain(..));
            self.many.insert(key);
        }
    }
}

/// Walks a JSON text, recording the path of the first key named twice.
struct Seed<'p, 'de> {
    at: Option<&'p Place<'p, 'de>>,
    duplicate: &'p RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, 'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// A key, borrowed from the text unless it has escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_string()))
    }
}

impl<'de> Visitor<'de> for Seed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut keys = Keys::default();
        while let Some(key) = access.next_key_seed(Key)? {
            let place = Place::Key(self.at, &key);
            if keys.contains(&key) {
                *self.duplicate.borrow_mut() = Some(place.path());
                return Err(de::Error::custom("duplicate key"));
            }
            access.next_value_seed(Seed {
                at: Some(&place),
                duplicate: self.duplicate,
            })?;
            keys.insert(key);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            let place = Place::Index(self.at, index);
            let seed = Seed {
                at: Some(&place),
                duplicate: self.duplicate,
            };
            if access.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON texts for the tests: objects with keys from `keys`, arrays
    /// and `scalars`, at most five levels deep, from a fixed seed.
    struct Texts<'a> {
        seed: u64,
        keys: &'a [&'a str],
        scalars: &'a [&'a str],
    }

    impl Texts<'_> {
        fn next(&mut self, n: usize) -> usize {
            self.seed = self
                .seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.seed >> 33) as usize % n
        }

        fn value(&mut self, depth: usize) -> String {
            let choice = if depth > 3 { 0 } else { self.next(6) };
            match choice {
                0..=2 => self.scalars[self.next(self.scalars.len())].to_string(),
                3 | 4 => {
                    let fields: Vec<String> = (0..self.next(4))
                        .map(|_| {
                            let key = self.keys[self.next(self.keys.len())];
                            format!("\"{key}\":{}", self.value(depth + 1))
                        })
                        .collect();
                    format!("{{{}}}", fields.join(","))
                }
                _ => {
                    let items: Vec<String> =
                        (0..self.next(4)).map(|_| self.value(depth + 1)).collect();
                    format!("[{}]", items.join(" , "))
                }
            }
        }
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let error = parse(r#"{"id":"h","members":[{"age":1},{"age":2,"age":3}]}"#).unwrap_err();
        assert!(
            matches!(&error, StrictJsonError::DuplicateKey(p) if p == "members[1].age"),
            "{error}"
        );
        assert!(
            matches!(parse(r#"{"a":1,"a":1}"#), Err(StrictJsonError::DuplicateKey(p)) if p == "a")
        );
        // A key that looks like an index is still a key.
        assert!(
            matches!(parse(r#"{"a":{"[0]":1,"[0]":2}}"#), Err(StrictJsonError::DuplicateKey(p)) if p == "a.[0]")
        );
        // The same key spelled with an escape is the same key.
        assert!(
            matches!(parse(r#"[{"a":1},{"x":[{"a":1,"\u0061":2}]}]"#), Err(StrictJsonError::DuplicateKey(p)) if p == "[1].x[0].a")
        );
        // Past the keys compared one by one, and across that boundary.
        for (first, second) in [(3, 40), (20, 30)] {
            let keys: Vec<String> = (0..50)
                .map(|i| format!("\"k{}\":{i}.5", if i == second { first } else { i }))
                .collect();
            let text = format!("{{\"o\":{{{}}}}}", keys.join(","));
            let expected = format!("o.k{first}");
            assert!(
                matches!(parse(&text), Err(StrictJsonError::DuplicateKey(ref p)) if *p == expected),
                "{first}/{second}"
            );
        }
        let distinct: Vec<String> = (0..50).map(|i| format!("\"k{i}\":{i}")).collect();
        assert!(parse(&format!("{{{}}}", distinct.join(","))).is_ok());
        assert!(matches!(parse("{"), Err(StrictJsonError::Syntax(_))));
        // The check alone answers as the parse does.
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"a":2} x"#,
            r#"{"a":1,"a":2,"#,
            r#"{"a":[1,{"b":2}]}"#,
            "{} x",
            "{",
        ] {
            assert_eq!(
                format!("{:?}", check(text)),
                format!("{:?}", parse(text).map(|_| ())),
                "{text}"
            );
        }
        assert!(matches!(parse("{} x"), Err(StrictJsonError::Syntax(_))));
    }

    /// The byte scan `parse` uses finds the key the serde walk of
    /// `check` finds, on generated texts with keys named twice at every
    /// depth, escaped keys, and brackets, commas and quotes inside strings.
    #[test]
    fn the_scan_finds_the_duplicate_the_walk_finds() {
        let mut texts = Texts {
            seed: 7,
            keys: &["a", "b", "[0]", "a,b", "q\\\"", "\\u0061", "é", "{", "]"],
            scalars: &["\"s,[{\\\"}]\"", "-12.5e3", "null"],
        };
        let mut duplicates = 0;
        for _ in 0..10_000 {
            let text = texts.value(0);
            let walked = match check(&text) {
                Ok(()) => None,
                Err(StrictJsonError::DuplicateKey(path)) => Some(path),
                Err(StrictJsonError::Syntax(error)) => panic!("{text}: {error}"),
            };
            duplicates += usize::from(walked.is_some());
            assert_eq!(first_duplicate(&text), walked, "{text}");
        }
        assert!(duplicates > 600, "only {duplicates} texts name a key twice");
    }

    /// `parse` answers as reading with serde_json and then scanning for a
    /// key named twice did, on generated texts (some not JSON at all).
    #[test]
    fn parse_answers_as_serde_json_and_the_scan_together() {
        let mut texts = Texts {
            seed: 11,
            keys: &["a", "b", "\\u0061", "é", "k\\n"],
            scalars: &[
                "1801.10",
                "-0",
                "1e400",
                "12345678901234567890123",
                "\"x\"",
                "null",
                "true",
            ],
        };
        let (mut twice, mut broken) = (0, 0);
        for round in 0..5_000 {
            let mut text = texts.value(0);
            if round % 10 == 0 {
                // Cut short, or something after the value.
                if round % 20 == 0 {
                    let mut half = text.len() / 2;
                    while !text.is_char_boundary(half) {
                        half -= 1;
                    }
                    text.truncate(half);
                } else {
                    text.push_str(" x");
                }
            }
            let expected = match serde_json::from_str::<Value>(&text) {
                Err(error) => Err(error.to_string()),
                Ok(value) => match first_duplicate(&text) {
                    Some(path) => Err(format!("twice: {path}")),
                    None => Ok(value),
                },
            };
            let got = parse(&text).map_err(|error| match error {
                StrictJsonError::DuplicateKey(path) => format!("twice: {path}"),
                StrictJsonError::Syntax(error) => error.to_string(),
            });
            twice += usize::from(matches!(&got, Err(e) if e.starts_with("twice")));
            broken += usize::from(matches!(&got, Err(e) if !e.starts_with("twice")));
            match (&got, &expected) {
                (Ok(a), Ok(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
                _ => assert_eq!(got, expected, "{text}"),
            }
        }
        assert!(
            twice > 300 && broken > 300,
            "{twice} named twice, {broken} not JSON"
        );
    }

    #[test]
    fn values_read_exactly_as_serde_json_reads_them() {
        let text = r#"{"m":1801.10,"big":123456789012345678901234567890.5,"n":-3,"s":"\u00e9","z":null,"b":[true,{}]}"#;
        let strict = parse(text).unwrap();
        let plain: Value = serde_json::from_str(text).unwrap();
        assert_eq!(strict, plain);
        assert_eq!(strict.to_string(), plain.to_string());
    }
}
