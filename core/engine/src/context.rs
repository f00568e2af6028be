//! The per-decision context handed to rules as `ctx`.
//!
//! Through it rules read parameters in force at `as_of` (`ctx.param(..)`),
//! record the rules that fire (`ctx.fire(..)`), and say which absent input
//! they need (`ctx.need(..)`). It records what happened so the engine can
//! build the reasons, the `needs` list and the parameters used.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rhai::{Dynamic, EvalAltResult, ImmutableString, Position};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifest::RuleDecl;
use crate::params::ParamStore;
use crate::schema::Schema;
use crate::values::{Date, Timestamp};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

fn fail<T>(message: String) -> RhaiResult<T> {
    Err(Box::new(EvalAltResult::ErrorRuntime(
        message.into(),
        Position::NONE,
    )))
}

/// What every decision of a bundle shares: parameters, rule declarations and
/// the entry schemas.
#[derive(Debug)]
pub struct Shared {
    pub params: ParamStore,
    pub rules: BTreeMap<String, RuleDecl>,
    pub schemas: BTreeMap<String, Schema>,
}

/// A rule that fired, with the values its message interpolates, as the
/// message shows them ([`crate::values::dynamic_to_text`]).
#[derive(Debug, Clone)]
pub struct Fired {
    pub rule: String,
    pub args: Vec<(ImmutableString, String)>,
    /// Where `ctx.fire` was called: 1-based line and column, 0 if unknown.
    pub at: (usize, usize),
}

/// An absent input field a decision needs, and the rules that need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needed {
    pub path: String,
    pub rules: Vec<String>,
}

/// A parameter a decision read: the value in force and where it comes from.
///
/// Shared text, so a decision copies a record of the bundle's without
/// allocating: every decision lists about ten.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterUse {
    /// The parameter's name, e.g. `relief.standard`.
    pub name: Arc<str>,
    /// The value in force at `as_of`.
    pub value: Arc<Value>,
    /// The date that value is in force from.
    pub from: Arc<str>,
    /// The policy clause it comes from.
    pub source: Arc<str>,
}

/// Everything one decision records.
#[derive(Debug)]
pub struct CallState {
    shared: Arc<Shared>,
    entry: String,
    pub as_of: Timestamp,
    pub fired: Vec<Fired>,
    pub needs: Vec<Needed>,
    pub params_used: BTreeMap<Arc<str>, ParameterUse>,
}

/// `ctx` in rules: a handle on the decision's [`CallState`].
#[derive(Debug, Clone)]
pub struct RuleContext(Arc<Mutex<CallState>>);

impl RuleContext {
    pub fn new(shared: Arc<Shared>, entry: &str, as_of: Timestamp) -> Self {
        RuleContext(Arc::new(Mutex::new(CallState {
            shared,
            entry: entry.to_string(),
            as_of,
            // A household fires about ten rules.
            fired: Vec::with_capacity(16),
            needs: Vec::new(),
            params_used: BTreeMap::new(),
        })))
    }

    /// The date of `as_of` (`ctx.today`).
    pub fn today(&self) -> Date {
        self.state().as_of.date()
    }

    /// `ctx.as_of`.
    pub fn as_of(&self) -> Timestamp {
        self.state().as_of
    }

    /// Forgets what a run recorded, before the decision runs again.
    pub fn clear(&self) {
        let mut state = self.state();
        state.fired.clear();
        state.needs.clear();
        state.params_used.clear();
    }

    /// The state, even if a panic elsewhere poisoned the lock.
    pub fn state(&self) -> MutexGuard<'_, CallState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl CallState {
    fn today(&self) -> Date {
        self.as_of.date()
    }

    pub fn param(&mut self, name: &str) -> RhaiResult<Dynamic> {
        let today = self.today();
        let Some(param) = self.shared.params.get(name) else {
            return fail(format!(
                "unknown parameter `{name}` (not defined in params/*.toml)"
            ));
        };
        let Some(value) = param.value_at(today) else {
            return fail(format!(
                "parameter `{name}` has no value in force on {today} (its first value is from {})",
                param.values[0].from
            ));
        };
        let rule_value = value.rule_value.clone();
        // Rules read the same parameter often; only the first read allocates.
        if !self.params_used.contains_key(name) {
            let used = ParameterUse {
                name: name.into(),
                value: Arc::new(value.json.clone()),
                from: value.from.to_string().into(),
                source: value.source.as_str().into(),
            };
            self.params_used.insert(used.name.clone(), used);
        }
        Ok(rule_value)
    }

    fn check_rule(&self, rule: &str) -> RhaiResult<()> {
        match self.shared.rules.get(rule) {
            None => fail(format!(
                "unknown rule ID `{rule}` (not declared in rules.toml)"
            )),
            Some(decl) if decl.entry != self.entry => fail(format!(
                "rule `{rule}` belongs to entry `{}`, not `{}`",
                decl.entry, self.entry
            )),
            Some(_) => Ok(()),
        }
    }

    pub fn fire(
        &mut self,
        rule: &str,
        args: Vec<(ImmutableString, String)>,
        at: Position,
    ) -> RhaiResult<ImmutableString> {
        self.check_rule(rule)?;
        self.fired.push(Fired {
            rule: rule.to_string(),
            args,
            at: (at.line().unwrap_or(0), at.position().unwrap_or(0)),
        });
        Ok(rule.into())
    }

    pub fn need(&mut self, path: &str, rule: &str) -> RhaiResult<()> {
        self.check_rule(rule)?;
        let schema = &self.shared.schemas[&self.entry];
        match schema.field_at(path) {
            Some(field) if field.may_be_absent() => {}
            Some(_) => {
                return fail(format!(
                    "`{path}` is required or has a default, so it is never missing: it cannot be needed"
                ))
            }
            None => return fail(format!("`{path}` is not a field of the `{}` input", self.entry)),
        }
        match self.needs.iter_mut().find(|needed| needed.path == path) {
            Some(needed) if !needed.rules.iter().any(|r| r == rule) => {
                needed.rules.push(rule.to_string())
            }
            Some(_) => {}
            None => self.needs.push(Needed {
                path: path.to_string(),
                rules: vec![rule.to_string()],
            }),
        }
        Ok(())
    }
}
