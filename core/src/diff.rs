//! Structural differences between two JSON values (two envelopes for the
//! same input, say): every changed path with its old and new value.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::insert_all::InsertAll;

/// One changed leaf (or a subtree present on one side only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Where, e.g. `result.programs.temporary_relief.eligible` or `reasons[2]`.
    pub path: String,
    /// The value on the first side; absent when only the second has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value on the second side; absent when only the first has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// Every path where `before` and `after` differ, in document order. Numbers
/// compare by their exact text (`1.0` and `1.00` differ: the bytes would).
pub fn changes(before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(String::new(), Some(before), Some(after), &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(path: String, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<Change>) {
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).insert_all();
            for key in keys {
                walk(join(&path, key), a.get(key), b.get(key), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for index in 0..a.len().max(b.len()) {
                walk(format!("{path}[{index}]"), a.get(index), b.get(index), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(Change {
            path: if path.is_empty() { "$".into() } else { path },
            before: a.cloned(),
            after: b.cloned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_paths_name_leaves_and_one_sided_subtrees() {
        let a: Value =
            serde_json::from_str(r#"{"r":{"x":1.10,"y":[1,2]},"s":"same","gone":{"k":1}}"#)
                .unwrap();
        let b: Value =
            serde_json::from_str(r#"{"r":{"x":1.1,"y":[1,3,4]},"s":"same","new":true}"#).unwrap();
        let paths: Vec<String> = changes(&a, &b).into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["gone", "new", "r.x", "r.y[1]", "r.y[2]"]);
        assert!(changes(&a, &a).is_empty());
        let root = changes(&Value::from(1), &Value::from(2));
        assert_eq!(root[0].path, "$");
    }
}
