//! An entry point's input schema (`schema/<entry>.toml`).
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
//! An optional field with a default gets it when absent; an optional
//! `nullable` field becomes null; any other optional field stays absent, and a
//! rule that needs it says so (`ctx.need(...)`).

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

/// Strings without a declared `max_len` may still not be longer than this.
pub const DEFAULT_MAX_LEN: usize = 1_000;
/// Arrays without a declared `max_items` may still not be longer than this.
pub const DEFAULT_MAX_ITEMS: usize = 1_000;

/// The input schema of one entry point.
#[derive(Debug, Clone, Serialize)]
pub struct Schema {
    /// The input object (named `input`).
    pub root: Arc<ObjectType>,
}

/// An object's fields, by name.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectType {
    /// `input`, or the name of its `[types.<Name>]` table.
    pub name: String,
    /// Its fields, by name.
    pub fields: BTreeMap<String, Field>,
    /// The fields' names in the same order, as the strings rules see (the
    /// compiled evaluator compares them by pointer).
    #[serde(skip)]
    pub keys: Vec<rhai::ImmutableString>,
}

/// One field of an object.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// Its type and that type's constraints.
    #[serde(flatten)]
    pub kind: Kind,
    /// The input must give it.
    pub required: bool,
    /// It may be given as `null`.
    pub nullable: bool,
    /// The value it takes when the input does not give it (checked
    /// against the field at load time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// When the field is set (true, or any non-null value), this must hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_when: Option<Condition>,
    /// A sibling field this one's value may not exceed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_most: Option<String>,
    /// What it is, for people.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

impl Field {
    /// Absent from the input, and no default fills it in.
    pub fn may_be_absent(&self) -> bool {
        !self.required && self.default.is_none() && !self.nullable
    }
}

/// The type of a field, with its constraints.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Kind {
    /// Text, its length counted in characters.
    String {
        /// At least this many characters.
        min_len: usize,
        /// At most this many characters.
        max_len: usize,
    },
    /// A whole number (`60.0` is accepted as 60).
    Integer {
        /// The least value allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        /// The greatest value allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    /// Yuan, exact, with at most two decimals.
    Money {
        /// The least amount allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<Decimal>,
        /// The greatest amount allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<Decimal>,
    },
    /// An exact decimal number.
    Decimal {
        /// The least value allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<Decimal>,
        /// The greatest value allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<Decimal>,
        /// At most this many decimals.
        #[serde(skip_serializing_if = "Option::is_none")]
        decimals: Option<u32>,
    },
    /// `true` or `false`.
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339 with an offset.
    Timestamp,
    /// `YYYY-MM`.
    Month,
    /// One of a fixed list of texts.
    Enum {
        /// The texts allowed, in the schema's order.
        values: Vec<String>,
        /// The same texts as the strings rules see: validated input holds
        /// these, not copies, so rules compare them by pointer.
        #[serde(skip)]
        names: Vec<rhai::ImmutableString>,
    },
    /// A list of values of one kind.
    Array {
        /// The kind of every item.
        items: Box<Kind>,
        /// At least this many items.
        min_items: usize,
        /// At most this many items.
        max_items: usize,
        /// Items must be strictly increasing by this field.
        #[serde(skip_serializing_if = "Option::is_none")]
        ascending_by: Option<String>,
    },
    /// An object of a named type.
    Object {
        /// The type.
        #[serde(rename = "object")]
        object: Arc<ObjectType>,
    },
}

/// `field op literal`, e.g. `age < 18` or `kind == "long_term"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// The sibling field compared.
    pub field: String,
    /// How.
    pub op: CompareOp,
    /// With what.
    pub literal: Literal,
    /// The condition as written, for messages.
    pub text: String,
}

/// A comparison of a [`Condition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CompareOp {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
}

/// The value a [`Condition`] compares with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Literal {
    /// A number, exact.
    Number(Decimal),
    /// A quoted text.
    Text(String),
}

impl Condition {
    /// Whether the sibling value satisfies the condition (false when absent).
    pub fn holds(&self, sibling: Option<&Value>) -> bool {
        let ordering = match (&self.literal, sibling) {
            (Literal::Number(expected), Some(Value::Number(n))) => {
                match crate::values::decimal_from_number(n) {
                    Some(actual) => actual.cmp(expected),
                    None => return false,
                }
            }
            (Literal::Text(expected), Some(Value::String(actual))) => actual.as_str().cmp(expected),
            _ => return false,
        };
        use std::cmp::Ordering::*;
        match self.op {
            CompareOp::Lt => ordering == Less,
            CompareOp::Le => ordering != Greater,
            CompareOp::Gt => ordering == Greater,
            CompareOp::Ge => ordering != Less,
            CompareOp::Eq => ordering == Equal,
            CompareOp::Ne => ordering != Equal,
        }
    }
}

impl Schema {
    /// The field a JSON path names (`members[2].age`), ignoring indices.
    pub fn field_at(&self, path: &str) -> Option<&Field> {
        let mut object: &ObjectType = &self.root;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            let name = part.split('[').next()?;
            let field = object.fields.get(name)?;
            if parts.peek().is_none() {
                return Some(field);
            }
            let mut kind = &field.kind;
            while let Kind::Array { items, .. } = kind {
                kind = items;
            }
            match kind {
                Kind::Object { object: inner } => object = inner,
                _ => return None,
            }
        }
        None
    }
}
