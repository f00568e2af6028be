//! What a policy change does to a population: an accumulator of the
//! differences between two decisions of the same input (base and draft),
//! added to one household at a time and merged, so threads reduce it and a
//! browser worker streams it. Memory stays bounded: counts, exact totals
//! and the first few household ids of each cell, whatever the population.
//!
//! It reads envelopes generically, by the shape of their `result`:
//!
//! - every yes/no leaf (`programs.temporary_relief.eligible`) and every
//!   text leaf (`class`, `escalation.level`) gets a transition table: how
//!   many went from each value to each other value, the values before and
//!   after, and example households for every change;
//! - every number leaf (`programs.temporary_relief.monthly_amount`,
//!   `visits.interval_days`) gets its total before and after, exactly; a
//!   leaf named `interval_days` also gives the visits per month it implies
//!   (the gridworkers' workload);
//! - fired rules and error kinds are counted before and after.
//!
//! An undetermined decision leaves some leaves out: they count as
//! `(undetermined)`; an error counts every leaf as `(error: kind)`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use crate::insert_all::InsertAll;
use crate::values::{decimal_from_number, decimal_to_json};

/// Household ids kept per changed cell.
pub const EXAMPLES: usize = 5;

/// Changed households kept with their changes and reasons before and after.
pub const DETAILED_EXAMPLES: usize = 20;

/// Distinct values whose counts are kept per leaf (an id-like text leaf,
/// different for every household, is counted as changed/unchanged only).
const MAX_DISTINCT: usize = 32;

/// The average month, in days, for visits per month.
const DAYS_PER_MONTH: Decimal = Decimal::from_parts(304_375, 0, 0, false, 4);

/// One decision, as the accumulator sees it.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// An envelope's JSON.
    Envelope(&'a Value),
    /// An error answer's kind (`invalid_input`, `rule_error`, …).
    Error(&'a str),
}

/// How one yes/no or text leaf changed across the population.
#[derive(Debug, Clone, PartialEq)]
pub struct Transitions {
    /// Households whose value did not change.
    pub unchanged: u64,
    /// (before, after) → count and example ids, for changes only.
    pub changed: BTreeMap<(String, String), Cell>,
    /// Value → households, before (`None` once past [`MAX_DISTINCT`]).
    pub before: Option<BTreeMap<String, u64>>,
    /// Value → households, after.
    pub after: Option<BTreeMap<String, u64>>,
}

/// A count and the first household ids behind it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    /// Households.
    pub count: u64,
    /// The first [`EXAMPLES`] of their ids, in input order.
    pub examples: Vec<String>,
}

/// A number leaf's exact total before and after.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// The sum of the leaf over every household, before.
    pub before: Decimal,
    /// The same sum, after.
    pub after: Decimal,
    /// Households where the value differs.
    pub changed: u64,
}

/// The accumulated impact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Impact {
    /// Households decided by both.
    pub households: u64,
    /// Households whose result (or error) differs.
    pub changed: u64,
    /// Yes/no and text leaves, by path.
    pub transitions: BTreeMap<String, Transitions>,
    /// Number leaves (and `….visits_per_month`), by path.
    pub totals: BTreeMap<String, Totals>,
    /// Rule ID → (fired before, fired after).
    pub rules: BTreeMap<String, (u64, u64)>,
    /// (before, after) outcome kinds where either is an error.
    pub errors: BTreeMap<(String, String), u64>,
    /// Grouping name → group value → the impact within that group.
    pub groups: BTreeMap<String, BTreeMap<String, Impact>>,
    /// The first [`DETAILED_EXAMPLES`] changed households, in order, with
    /// what changed and why (top level only, not per group).
    pub examples: Vec<Example>,
}

/// A changed household: each changed leaf, and the reasons (or the error)
/// before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The household's id.
    pub id: String,
    /// (leaf path, before, after), for every leaf that differs.
    pub changes: Vec<(String, String, String)>,
    /// Why it came out as it did before.
    pub before: Explanation,
    /// And after.
    pub after: Explanation,
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, PartialEq)]
pub enum Explanation {
    /// The decision's status and its reasons: (rule, text).
    Reasons {
        /// `decided` or `undetermined`.
        status: String,
        /// (rule ID, reason text), in the order they fired.
        reasons: Vec<(String, String)>,
    },
    /// The error kind.
    Error(String),
}

impl Explanation {
    fn of(outcome: Outcome<'_>) -> Explanation {
        match outcome {
            Outcome::Error(kind) => Explanation::Error(kind.to_string()),
            Outcome::Envelope(envelope) => Explanation::Reasons {
                status: kind_of(outcome).to_string(),
                reasons: envelope
                    .get("reasons")
                    .and_then(Value::as_array)
                    .map(|reasons| {
                        reasons
                            .iter()
                            .map(|reason| {
                                let text = |key| {
                                    reason.get(key).and_then(Value::as_str).unwrap_or_default()
                                };
                                (text("rule").to_string(), text("text").to_string())
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Explanation::Reasons { status, reasons } => json!({
                "status": status,
                "reasons": reasons
                    .iter()
                    .map(|(rule, text)| json!({ "rule": rule, "text": text }))
                    .collect::<Vec<_>>(),
            }),
            Explanation::Error(kind) => json!({ "error": kind }),
        }
    }
}

fn leaf_text(leaf: &Leaf<'_>) -> String {
    match leaf {
        Leaf::State(state) => state.to_string(),
        Leaf::Number(number) => number.normalize().to_string(),
    }
}

/// A leaf of a result: its state for transitions, or a number. A state is
/// the envelope's own text, not a copy: every household's leaves are
/// compared, and most are counted under a path already seen.
enum Leaf<'a> {
    State(Cow<'a, str>),
    Number(Decimal),
}

/// The leaves under `path` (the dotted path of `value`, extended and cut
/// back in place as the walk goes down and up).
fn leaves<'a>(path: &mut String, value: &'a Value, out: &mut BTreeMap<String, Leaf<'a>>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let at = path.len();
                if at > 0 {
                    path.push('.');
                }
                path.push_str(key);
                leaves(path, value, out);
                path.truncate(at);
            }
        }
        Value::Bool(flag) => {
            let state = if *flag { "true" } else { "false" };
            out.insert(path.clone(), Leaf::State(Cow::Borrowed(state)));
        }
        Value::String(text) => {
            out.insert(path.clone(), Leaf::State(Cow::Borrowed(text)));
        }
        Value::Number(number) => {
            if let Some(decimal) = decimal_from_number(number) {
                out.insert(path.clone(), Leaf::Number(decimal));
            }
        }
        // Lists (rule IDs, services) and nulls are not leaves to compare.
        Value::Array(_) | Value::Null => {}
    }
}

/// An outcome's leaves; `Err(state)` for every leaf of an error.
fn outcome_leaves(outcome: Outcome<'_>) -> Result<BTreeMap<String, Leaf<'_>>, String> {
    match outcome {
        Outcome::Error(kind) => Err(format!("(error: {kind})")),
        Outcome::Envelope(envelope) => {
            let mut out = BTreeMap::new();
            if let Some(result) = envelope.get("result") {
                leaves(&mut String::new(), result, &mut out);
            }
            Ok(out)
        }
    }
}

/// One side's leaf at `path`: the error's state for every path of an
/// error, the absent state for a path the other side has.
fn side_leaf<'x>(
    leaves: &'x Result<BTreeMap<String, Leaf<'_>>, String>,
    path: &str,
    outcome: Outcome<'_>,
) -> Leaf<'x> {
    match leaves {
        Err(state) => Leaf::State(Cow::Borrowed(state)),
        Ok(map) => match map.get(path) {
            Some(Leaf::State(state)) => Leaf::State(Cow::Borrowed(state)),
            Some(Leaf::Number(n)) => Leaf::Number(*n),
            None => Leaf::State(Cow::Borrowed(absent(outcome))),
        },
    }
}

/// The value under `key`, made (with its own copy of the key) only when
/// missing: after the first households almost every key is there already.
fn entry_for<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("the key was just inserted")
}

fn fired(outcome: Outcome<'_>) -> Vec<&str> {
    match outcome {
        Outcome::Error(_) => Vec::new(),
        Outcome::Envelope(envelope) => envelope
            .get("reasons")
            .and_then(Value::as_array)
            .map(|reasons| {
                reasons
                    .iter()
                    .filter_map(|reason| reason.get("rule").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn kind_of(outcome: Outcome<'_>) -> &str {
    match outcome {
        Outcome::Error(kind) => kind,
        Outcome::Envelope(envelope) => envelope
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("decided"),
    }
}

fn absent(outcome: Outcome<'_>) -> &'static str {
    match outcome {
        Outcome::Envelope(envelope)
            if envelope.get("status").and_then(Value::as_str) == Some("undetermined") =>
        {
            "(undetermined)"
        }
        _ => "(absent)",
    }
}

fn count_value(counts: &mut Option<BTreeMap<String, u64>>, value: &str, n: u64) {
    if let Some(map) = counts {
        if map.len() >= MAX_DISTINCT && !map.contains_key(value) {
            *counts = None;
        } else {
            *entry_for(map, value) += n;
        }
    }
}

fn keep_examples(examples: &mut Vec<String>, more: impl IntoIterator<Item = String>) {
    for id in more {
        if examples.len() >= EXAMPLES {
            break;
        }
        examples.push(id);
    }
}

impl Default for Transitions {
    fn default() -> Self {
        Transitions {
            unchanged: 0,
            changed: BTreeMap::new(),
            before: Some(BTreeMap::new()),
            after: Some(BTreeMap::new()),
        }
    }
}

impl Transitions {
    fn add(&mut self, id: &str, before: &str, after: &str) {
        count_value(&mut self.before, before, 1);
        count_value(&mut self.after, after, 1);
        if before == after {
            self.unchanged += 1;
        } else {
            let cell = self
                .changed
                .entry((before.to_string(), after.to_string()))
                .or_default();
            cell.count += 1;
            keep_examples(&mut cell.examples, [id.to_string()]);
        }
    }

    fn merge(&mut self, other: Transitions) {
        self.unchanged += other.unchanged;
        for (key, cell) in other.changed {
            let mine = self.changed.entry(key).or_default();
            mine.count += cell.count;
            keep_examples(&mut mine.examples, cell.examples);
        }
        for (mine, theirs) in [
            (&mut self.before, other.before),
            (&mut self.after, other.after),
        ] {
            match theirs {
                None => *mine = None,
                Some(counts) => {
                    for (value, n) in counts {
                        count_value(mine, &value, n);
                    }
                }
            }
        }
    }
}

impl Impact {
    /// An empty accumulator.
    pub fn new() -> Impact {
        Impact::default()
    }

    /// Adds one household: its id (for examples), the groups it belongs to
    /// (grouping name → value), and its two decisions.
    pub fn add(
        &mut self,
        id: &str,
        groups: &[(String, String)],
        before: Outcome<'_>,
        after: Outcome<'_>,
    ) {
        for (name, value) in groups {
            self.groups
                .entry(name.clone())
                .or_default()
                .entry(value.clone())
                .or_default()
                .count(id, before, after);
        }
        let changes = self.count(id, before, after);
        if !changes.is_empty() && self.examples.len() < DETAILED_EXAMPLES {
            self.examples.push(Example {
                id: id.to_string(),
                changes,
                before: Explanation::of(before),
                after: Explanation::of(after),
            });
        }
    }

    /// Counts one household; returns the leaves that changed (with the
    /// kind of outcome, when that changed).
    fn count(
        &mut self,
        id: &str,
        before: Outcome<'_>,
        after: Outcome<'_>,
    ) -> Vec<(String, String, String)> {
        let mut changes = Vec::new();
        self.households += 1;
        let (kind_before, kind_after) = (kind_of(before), kind_of(after));
        let is_error = |o: Outcome<'_>| matches!(o, Outcome::Error(_));
        if is_error(before) || is_error(after) {
            *self
                .errors
                .entry((kind_before.to_string(), kind_after.to_string()))
                .or_default() += 1;
        }
        for rule in fired(before) {
            entry_for(&mut self.rules, rule).0 += 1;
        }
        for rule in fired(after) {
            entry_for(&mut self.rules, rule).1 += 1;
        }
        let (leaves_before, leaves_after) = (outcome_leaves(before), outcome_leaves(after));
        let empty = BTreeMap::new();
        let paths: std::collections::BTreeSet<&String> = leaves_before
            .as_ref()
            .unwrap_or(&empty)
            .keys()
            .chain(leaves_after.as_ref().unwrap_or(&empty).keys())
            .insert_all();
        if kind_before != kind_after {
            changes.push((
                "status".to_string(),
                kind_before.to_string(),
                kind_after.to_string(),
            ));
        }
        for path in paths {
            let b = side_leaf(&leaves_before, path, before);
            let a = side_leaf(&leaves_after, path, after);
            match (b, a) {
                (Leaf::Number(b), Leaf::Number(a)) => {
                    if b != a {
                        changes.push((
                            path.clone(),
                            leaf_text(&Leaf::Number(b)),
                            leaf_text(&Leaf::Number(a)),
                        ));
                    }
                    self.add_number(path, b, a);
                }
                (Leaf::Number(b), _) => self.add_number(path, b, Decimal::ZERO),
                (_, Leaf::Number(a)) => self.add_number(path, Decimal::ZERO, a),
                (Leaf::State(b), Leaf::State(a)) => {
                    if b != a {
                        changes.push((path.clone(), b.to_string(), a.to_string()));
                    }
                    entry_for(&mut self.transitions, path).add(id, &b, &a);
                }
            }
        }
        if !changes.is_empty() {
            self.changed += 1;
        }
        changes
    }

    fn add_number(&mut self, path: &str, before: Decimal, after: Decimal) {
        let totals = entry_for(&mut self.totals, path);
        totals.before += before;
        totals.after += after;
        if before != after {
            totals.changed += 1;
        }
        if path == "interval_days" || path.ends_with(".interval_days") {
            let per_month = |days: Decimal| {
                if days.is_zero() {
                    Decimal::ZERO
                } else {
                    (DAYS_PER_MONTH / days).round_dp(6)
                }
            };
            let base = path.trim_end_matches("interval_days");
            let workload = self
                .totals
                .entry(format!("{base}visits_per_month"))
                .or_default();
            workload.before += per_month(before);
            workload.after += per_month(after);
            if before != after {
                workload.changed += 1;
            }
        }
    }

    /// Adds everything `other` counted, as if its households came after
    /// this one's (examples keep the first ones, in order).
    pub fn merge(&mut self, other: Impact) {
        self.households += other.households;
        self.changed += other.changed;
        for (path, transitions) in other.transitions {
            match self.transitions.get_mut(&path) {
                Some(mine) => mine.merge(transitions),
                None => {
                    self.transitions.insert(path, transitions);
                }
            }
        }
        for (path, totals) in other.totals {
            let mine = self.totals.entry(path).or_default();
            mine.before += totals.before;
            mine.after += totals.after;
            mine.changed += totals.changed;
        }
        for (rule, (before, after)) in other.rules {
            let mine = self.rules.entry(rule).or_default();
            mine.0 += before;
            mine.1 += after;
        }
        for (key, count) in other.errors {
            *self.errors.entry(key).or_default() += count;
        }
        for (name, values) in other.groups {
            let mine = self.groups.entry(name).or_default();
            for (value, impact) in values {
                mine.entry(value).or_default().merge(impact);
            }
        }
        let room = DETAILED_EXAMPLES.saturating_sub(self.examples.len());
        self.examples.extend(other.examples.into_iter().take(room));
    }

    /// The report as JSON: counts, exact totals (as JSON numbers, with the
    /// delta), transitions with their examples, rules, errors and groups.
    pub fn to_json(&self) -> Value {
        let transitions: Map<String, Value> = self
            .transitions
            .iter()
            .map(|(path, t)| {
                let changed: Vec<Value> = t
                    .changed
                    .iter()
                    .map(|((from, to), cell)| {
                        json!({ "from": from, "to": to, "count": cell.count, "examples": cell.examples })
                    })
                    .collect();
                (
                    path.clone(),
                    json!({
                        "unchanged": t.unchanged,
                        "changed": changed,
                        "before": t.before,
                        "after": t.after,
                    }),
                )
            })
            .insert_all();
        let totals: Map<String, Value> = self
            .totals
            .iter()
            .map(|(path, t)| {
                (
                    path.clone(),
                    json!({
                        "before": decimal_to_json(t.before.normalize()),
                        "after": decimal_to_json(t.after.normalize()),
                        "delta": decimal_to_json((t.after - t.before).normalize()),
                        "changed": t.changed,
                    }),
                )
            })
            .insert_all();
        let rules: Map<String, Value> = self
            .rules
            .iter()
            .map(|(rule, (before, after))| {
                (rule.clone(), json!({ "before": before, "after": after }))
            })
            .insert_all();
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|((before, after), count)| json!({ "before": before, "after": after, "count": count }))
            .collect();
        let groups: Map<String, Value> = self
            .groups
            .iter()
            .map(|(name, values)| {
                let values: Map<String, Value> = values
                    .iter()
                    .map(|(value, impact)| (value.clone(), impact.to_json()))
                    .insert_all();
                (name.clone(), Value::Object(values))
            })
            .insert_all();
        let mut report = json!({
            "households": self.households,
            "changed": self.changed,
            "transitions": transitions,
            "totals": totals,
            "rules": rules,
            "errors": errors,
        });
        if !groups.is_empty() {
            report["groups"] = Value::Object(groups);
        }
        if !self.examples.is_empty() {
            report["examples"] = self
                .examples
                .iter()
                .map(|example| {
                    json!({
                        "id": example.id,
                        "changes": example
                            .changes
                            .iter()
                            .map(|(path, before, after)| json!({ "path": path, "before": before, "after": after }))
                            .collect::<Vec<_>>(),
                        "before": example.before.to_json(),
                        "after": example.after.to_json(),
                    })
                })
                .collect();
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(eligible: bool, amount: &str, class: &str, interval: u32) -> Value {
        let text = format!(
            r#"{{"status":"decided","result":{{"class":"{class}","household_id":"x","programs":{{"relief":{{"eligible":{eligible},"monthly_amount":{amount},"rules":["R"]}}}},"visits":{{"interval_days":{interval}}}}},"reasons":[{{"rule":"R","text":"R fired for {class}"}}]}}"#
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn flips_totals_and_workload_are_counted_exactly() {
        let mut impact = Impact::new();
        let (a, b) = (
            envelope(false, "0.00", "key", 30),
            envelope(true, "1800.10", "special", 7),
        );
        let (c, d) = (
            envelope(true, "600.05", "key", 30),
            envelope(true, "650.05", "key", 30),
        );
        let groups = [("district".to_string(), "urban".to_string())];
        impact.add("h1", &groups, Outcome::Envelope(&a), Outcome::Envelope(&b));
        impact.add("h2", &groups, Outcome::Envelope(&c), Outcome::Envelope(&d));
        impact.add(
            "h3",
            &[],
            Outcome::Envelope(&c),
            Outcome::Error("rule_error"),
        );
        assert_eq!(impact.households, 3);
        assert_eq!(impact.changed, 3);
        let eligible = &impact.transitions["programs.relief.eligible"];
        assert_eq!(eligible.unchanged, 1);
        assert_eq!(
            eligible.changed[&("false".into(), "true".into())].examples,
            ["h1"]
        );
        assert_eq!(
            eligible.changed[&("true".into(), "(error: rule_error)".into())].count,
            1
        );
        let money = impact.totals["programs.relief.monthly_amount"];
        assert_eq!(money.before, "1200.10".parse().unwrap());
        assert_eq!(money.after, "2450.15".parse().unwrap());
        let workload = impact.totals["visits.visits_per_month"];
        // 30.4375/30 = 1.014583 (rounded to 6 places) ; 30.4375/7 = 4.348214
        assert_eq!(workload.before, "3.043749".parse().unwrap());
        assert_eq!(workload.after, "5.362797".parse().unwrap());
        assert_eq!(impact.errors[&("decided".into(), "rule_error".into())], 1);
        assert_eq!(impact.rules["R"], (3, 2));
        assert_eq!(impact.groups["district"]["urban"].households, 2);
        // The text leaf that differs for every household is not a value list.
        assert!(impact.transitions["household_id"].before.is_some());
        let json = impact.to_json();
        assert_eq!(
            json["totals"]["programs.relief.monthly_amount"]["delta"].to_string(),
            "1250.05"
        );
        // Each changed household, with what changed and why.
        let ids: Vec<&str> = impact.examples.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["h1", "h2", "h3"]);
        let h1 = &impact.examples[0];
        assert!(h1.changes.contains(&(
            "programs.relief.eligible".into(),
            "false".into(),
            "true".into()
        )));
        assert!(h1
            .changes
            .contains(&("class".into(), "key".into(), "special".into())));
        assert_eq!(
            h1.after,
            Explanation::Reasons {
                status: "decided".into(),
                reasons: vec![("R".into(), "R fired for special".into())]
            }
        );
        assert_eq!(
            impact.examples[2].after,
            Explanation::Error("rule_error".into())
        );
        assert_eq!(
            json["examples"][0]["before"]["reasons"][0]["text"],
            "R fired for key"
        );
        assert_eq!(json["examples"][2]["after"]["error"], "rule_error");
        // Groups count, but keep no detailed examples of their own.
        assert!(impact.groups["district"]["urban"].examples.is_empty());
    }

    #[test]
    fn merging_in_order_equals_adding_in_order() {
        let envelopes: Vec<Value> = (0..40)
            .map(|i| {
                envelope(
                    i % 3 == 0,
                    &format!("{i}.{:02}", i % 100),
                    ["a", "b"][i % 2],
                    7 + i as u32 % 3,
                )
            })
            .collect();
        let mut whole = Impact::new();
        for (i, pair) in envelopes.windows(2).enumerate() {
            let group = [("g".to_string(), (i % 4).to_string())];
            whole.add(
                &format!("h{i}"),
                &group,
                Outcome::Envelope(&pair[0]),
                Outcome::Envelope(&pair[1]),
            );
        }
        let mut parts = vec![Impact::new(), Impact::new(), Impact::new()];
        for (i, pair) in envelopes.windows(2).enumerate() {
            let group = [("g".to_string(), (i % 4).to_string())];
            parts[i * 3 / 39].add(
                &format!("h{i}"),
                &group,
                Outcome::Envelope(&pair[0]),
                Outcome::Envelope(&pair[1]),
            );
        }
        let mut merged = Impact::new();
        for part in parts {
            merged.merge(part);
        }
        assert_eq!(whole.examples.len(), DETAILED_EXAMPLES);
        assert_eq!(merged, whole);
        assert_eq!(merged.to_json(), whole.to_json());
    }
}
