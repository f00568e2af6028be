//! The bundle's declarative files: `bundle.toml`, `rules.toml` and
//! `messages/<lang>.toml`.

use std::collections::BTreeMap;

use serde::Deserialize;

pub const MANIFEST_FILE: &str = "bundle.toml";
pub const RULES_FILE: &str = "rules.toml";

/// `bundle.toml`: what the bundle is and which entry points it offers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// For people reading `bundle.toml`; the engine does not use it.
    #[serde(default)]
    #[allow(dead_code)]
    pub description: String,
    /// A base bundle directory this one overlays. Directory readers (the
    /// hosts) follow it; an in-memory bundle is always complete, so the
    /// core only accepts the key.
    #[serde(default)]
    #[allow(dead_code)]
    pub extends: Option<String>,
    /// Languages the reason messages come in; the first is the default.
    pub languages: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    pub entries: BTreeMap<String, EntryManifest>,
}

/// One entry point: its rule file, the function to call, and its schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryManifest {
    pub rules: String,
    #[serde(default = "default_function")]
    pub function: String,
    pub schema: String,
    #[serde(default)]
    pub description: String,
}

fn default_function() -> String {
    "decide".to_string()
}

/// Sandbox limits for the bundle's rules. The engine caps each one, so a
/// bundle cannot lift them past what a host is willing to run.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_depth: usize,
    pub max_expr_depth: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 200_000,
            max_call_depth: 32,
            max_expr_depth: 64,
            max_string_size: 10_000,
            max_array_size: 1_000,
            max_map_size: 1_000,
        }
    }
}

impl Limits {
    /// The most any bundle may ask for.
    pub const CEILING: Limits = Limits {
        max_operations: 10_000_000,
        max_call_depth: 64,
        max_expr_depth: 128,
        max_string_size: 1_000_000,
        // Rhai walks nested arrays and maps recursively, and a limit on their
        // size is also the only limit on their depth: these keep a hostile
        // `a = [a]` loop within a 2 MiB stack.
        max_array_size: 1_000,
        max_map_size: 1_000,
    };

    /// Each limit outside `1..=` its ceiling, as (name, value, ceiling).
    /// Zero is refused too: to Rhai it means "no limit at all".
    pub fn out_of_range(&self) -> Vec<(&'static str, u64, u64)> {
        let c = Limits::CEILING;
        let wide = |n: usize| n as u64;
        [
            ("max_operations", self.max_operations, c.max_operations),
            (
                "max_call_depth",
                wide(self.max_call_depth),
                wide(c.max_call_depth),
            ),
            (
                "max_expr_depth",
                wide(self.max_expr_depth),
                wide(c.max_expr_depth),
            ),
            (
                "max_string_size",
                wide(self.max_string_size),
                wide(c.max_string_size),
            ),
            (
                "max_array_size",
                wide(self.max_array_size),
                wide(c.max_array_size),
            ),
            (
                "max_map_size",
                wide(self.max_map_size),
                wide(c.max_map_size),
            ),
        ]
        .into_iter()
        .filter(|(_, value, ceiling)| *value == 0 || value > ceiling)
        .collect()
    }
}

/// `rules.toml`: every rule ID the bundle may fire, with its source clause.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDecl {
    /// The policy clause the rule implements, e.g. `000 §1.3.2`.
    pub source: String,
    /// The entry point the rule belongs to.
    pub entry: String,
}

/// `messages/<lang>.toml`: reason texts by rule ID, the question a form
/// asks for a needed field, and what a form calls each field, by entry and
/// field path (`members.age`; `result.…` for the keys of a result).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    #[serde(default)]
    pub rules: BTreeMap<String, Template>,
    #[serde(default)]
    pub questions: BTreeMap<String, BTreeMap<String, String>>,
    /// A field's label: entry → path → label.
    #[serde(default)]
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
    /// A field's help text: entry → path → text.
    #[serde(default)]
    pub help: BTreeMap<String, BTreeMap<String, String>>,
    /// An enum's value names: entry → path → value → name.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
}

/// A reason message, split once when the bundle loads into its text and
/// its `{name}` placeholders, so a decision fills it in one pass.
///
/// One pass also means a filled-in value is never read as a template: a
/// case id `{minutes}` stays `{minutes}` in the reason, where replacing
/// placeholder after placeholder in the growing text turned it into the
/// minutes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub struct Template {
    parts: Vec<Part>,
    /// The text's length, with room for the values: one allocation per
    /// rendering.
    capacity: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Placeholder(String),
}

impl From<String> for Template {
    fn from(template: String) -> Template {
        let mut parts = Vec::new();
        let mut rest = template.as_str();
        // `{` up to the next `}` is a placeholder, whatever is between; a
        // `{` with no `}` after it is text.
        while let Some((start, end)) = rest
            .find('{')
            .and_then(|start| Some((start, start + 1 + rest[start + 1..].find('}')?)))
        {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            parts.push(Part::Placeholder(rest[start + 1..end].to_string()));
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        let capacity = template.len() + 16;
        Template { parts, capacity }
    }
}

impl Template {
    /// The placeholders it uses, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Placeholder(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The message with each placeholder replaced by its value in `args`, as
    /// text; `Err(name)` names the first placeholder `args` lacks.
    pub fn render(&self, args: &[(rhai::ImmutableString, String)]) -> Result<String, String> {
        let mut text = String::with_capacity(self.capacity);
        for part in &self.parts {
            match part {
                Part::Text(literal) => text.push_str(literal),
                Part::Placeholder(name) => {
                    let (_, value) = args
                        .iter()
                        .find(|(key, _)| key.as_str() == name)
                        .ok_or_else(|| name.clone())?;
                    text.push_str(value);
                }
            }
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_are_located() {
        let text = "name = \"x\"\nversion = \n";
        let error = crate::toml_file::parse_toml::<Manifest>("bundle.toml", text).unwrap_err();
        assert_eq!(error.file, "bundle.toml");
        assert_eq!(error.line, 2);
    }

    #[test]
    fn placeholders_are_found_in_order() {
        let placeholders = |text: &str| {
            Template::from(text.to_string())
                .placeholders()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(placeholders("a {x} b {y_z}"), ["x", "y_z"]);
        assert_eq!(placeholders("{}{a b}{ unclosed"), ["", "a b"]);
        assert!(placeholders("none").is_empty());
    }

    #[test]
    fn a_filled_in_value_is_not_read_as_a_template() {
        let template = Template::from("cases {cases} late by {minutes} min; {".to_string());
        let mut args = vec![
            ("cases".into(), "{minutes}".to_string()),
            ("minutes".into(), "15".to_string()),
        ];
        assert_eq!(
            template.render(&args).unwrap(),
            "cases {minutes} late by 15 min; {"
        );
        args.pop();
        assert_eq!(template.render(&args).unwrap_err(), "minutes");
    }
}
