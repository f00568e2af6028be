//! Which decisions a draft can change when it differs from its base only in
//! parameter values.
//!
//! Rules reach parameters only through `ctx.param`, and every read is
//! recorded in the envelope (`parameters`). So when two bundles have the
//! same rules, schemas, messages and limits, and decide at the same moment,
//! a decision that read none of the parameters whose value in force differs
//! runs the same steps on the same values under both: its draft decision is
//! its base decision. Impact runs use this to skip re-deciding such
//! households; a test compares the result with full re-evaluation.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::bundle::Bundle;
use crate::insert_all::InsertAll;
use crate::manifest::{Manifest, MANIFEST_FILE};
use crate::params::Param;
use crate::values::Timestamp;

/// The parameters whose value in force at the comparison's moment differs
/// between a base and a draft that differ in nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamChanges {
    names: BTreeSet<String>,
}

impl ParamChanges {
    /// `Some` when the draft can only change decisions that read one of
    /// the changed parameters: both decide at the same `as_of`, and the two
    /// bundles differ only in `params/` files, `tests/` files and the
    /// manifest's name, version, description and `extends`. `None` when
    /// every household must be decided again.
    pub fn between(
        base: &Bundle,
        draft: &Bundle,
        base_as_of: &str,
        draft_as_of: &str,
    ) -> Option<ParamChanges> {
        if base_as_of != draft_as_of {
            return None;
        }
        let date = Timestamp::parse(base_as_of)?.date();
        if !same_decision_files(base, draft) || !same_manifest(base.manifest(), draft.manifest()) {
            return None;
        }
        let in_force = |param: Option<&Param>| {
            param.map(|param| {
                let value = param.value_at(date);
                (
                    param.ty,
                    value.map(|value| (value.json.clone(), value.from, value.source.clone())),
                )
            })
        };
        let names: BTreeSet<&str> = base
            .params()
            .iter()
            .chain(draft.params().iter())
            .map(|param| param.name.as_str())
            .insert_all();
        let names = names
            .into_iter()
            .filter(|name| in_force(base.params().get(name)) != in_force(draft.params().get(name)))
            .map(str::to_string)
            .collect();
        Some(ParamChanges { names })
    }

    /// The changed parameters, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Whether a base envelope (JSON) read none of the changed parameters,
    /// so the draft decides it the same way.
    pub fn leaves_unchanged(&self, envelope: &Value) -> bool {
        let Some(read) = envelope.get("parameters").and_then(Value::as_array) else {
            return false;
        };
        read.iter().all(|used| {
            used.get("name")
                .and_then(Value::as_str)
                .is_some_and(|name| !self.names.contains(name))
        })
    }
}

/// Every file a decision depends on, except parameters, is the same.
fn same_decision_files(base: &Bundle, draft: &Bundle) -> bool {
    let decisive = |(path, _): &(&str, &str)| {
        *path != MANIFEST_FILE && !path.starts_with("params/") && !path.starts_with("tests/")
    };
    base.files()
        .iter()
        .filter(decisive)
        .eq(draft.files().iter().filter(decisive))
}

/// The manifests agree on everything a decision depends on.
fn same_manifest(base: &Manifest, draft: &Manifest) -> bool {
    base.languages == draft.languages
        && base.limits == draft.limits
        && base.entries.len() == draft.entries.len()
        && base.entries.iter().zip(&draft.entries).all(|(a, b)| {
            a.0 == b.0
                && a.1.rules == b.1.rules
                && a.1.function == b.1.function
                && a.1.schema == b.1.schema
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::BundleFiles;

    const AS_OF: &str = "2026-11-24T10:00:00+08:00";

    fn bundle(param_value: &str, rule: &str, version: &str) -> Bundle {
        let mut files = BundleFiles::default();
        for (path, text) in [
            ("bundle.toml", format!("name = \"t\"\nversion = \"{version}\"\nlanguages = [\"en\"]\n[entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n")),
            ("rules.toml", "[OK]\nentry = \"job\"\nsource = \"s\"\n".to_string()),
            ("messages/en.toml", "[rules]\nOK = \"ok\"\n".to_string()),
            ("schema/job.toml", "[fields.x]\ntype = \"integer\"\n".to_string()),
            ("job.rhai", rule.to_string()),
            ("params/p.toml", format!("[a]\ntype = \"integer\"\nvalues = [{{ from = \"2020-01-01\", value = {param_value}, source = \"s\" }}]\n[b]\ntype = \"integer\"\nvalues = [{{ from = \"2020-01-01\", value = 1, source = \"s\" }}]\n")),
        ] {
            files.insert(path, text.as_bytes()).unwrap();
        }
        Bundle::load(files).unwrap_or_else(|problems| panic!("{problems:?}"))
    }

    const RULE: &str = "fn decide(input, ctx) { if input.x > 0 { #{ a: ctx.param(\"a\") } } else { #{ b: ctx.param(\"b\") } } }";

    #[test]
    fn a_parameter_only_draft_changes_only_the_decisions_that_read_it() {
        let base = bundle("1", RULE, "1");
        let draft = bundle("2", RULE, "2");
        let changes = ParamChanges::between(&base, &draft, AS_OF, AS_OF).unwrap();
        assert_eq!(changes.names().collect::<Vec<_>>(), ["a"]);
        let read = |x: i64| {
            let request = crate::DecideRequest {
                entry: "job".to_string(),
                input: serde_json::json!({ "x": x }),
                as_of: AS_OF.to_string(),
                mode: crate::Mode::Strict,
                lang: None,
            };
            serde_json::to_value(base.decide(&request).unwrap()).unwrap()
        };
        assert!(!changes.leaves_unchanged(&read(1)));
        assert!(changes.leaves_unchanged(&read(0)));
        // An envelope that does not say what it read is never skipped.
        assert!(!changes.leaves_unchanged(&serde_json::json!({ "result": {} })));
    }

    #[test]
    fn any_other_difference_means_deciding_again() {
        let base = bundle("1", RULE, "1");
        let other_rule = bundle("1", &RULE.replace("input.x > 0", "input.x > 1"), "1");
        assert_eq!(
            ParamChanges::between(&base, &other_rule, AS_OF, AS_OF),
            None
        );
        let later = "2026-11-25T10:00:00+08:00";
        assert_eq!(ParamChanges::between(&base, &base, AS_OF, later), None);
        let same = ParamChanges::between(&base, &base, AS_OF, AS_OF).unwrap();
        assert_eq!(same.names().count(), 0);
    }
}
