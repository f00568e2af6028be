//! Reading an input's JSON text unambiguously: an object that names a key
//! twice is refused, with the key's path, instead of keeping whichever came
//! last. An audited decision must rest on one reading of its input, and
//! every runtime must refuse the same texts.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

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
/// by serde_json itself (numbers keep their exact text); a second pass
/// over the same text looks for a key named twice.
pub fn parse(text: &str) -> Result<Value, StrictJsonError> {
    let value: Value = serde_json::from_str(text).map_err(StrictJsonError::Syntax)?;
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let _ = Seed {
        path: String::new(),
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer);
    match duplicate.into_inner() {
        Some(path) => Err(StrictJsonError::DuplicateKey(path)),
        None => Ok(value),
    }
}

/// Walks a JSON text, recording the path of the first key named twice.
struct Seed<'a> {
    path: String,
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut keys = std::collections::BTreeSet::new();
        while let Some(key) = access.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !keys.insert(key) {
                *self.duplicate.borrow_mut() = Some(path.clone());
                return Err(de::Error::custom("duplicate key"));
            }
            access.next_value_seed(Seed {
                path,
                duplicate: self.duplicate,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut index = 0;
        while access
            .next_element_seed(Seed {
                path: format!("{}[{index}]", self.path),
                duplicate: self.duplicate,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
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
        assert!(matches!(parse("{"), Err(StrictJsonError::Syntax(_))));
        assert!(matches!(parse("{} x"), Err(StrictJsonError::Syntax(_))));
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
