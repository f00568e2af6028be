//! Effective-dated policy parameters (`params/*.toml`).
//!
//! Every threshold of a policy is a parameter with a list of values, each
//! valid from a date and citing its source clause. A decision dated `as_of`
//! reads the value whose `from` is the latest on or before the date of
//! `as_of`, so changing a threshold never changes decisions dated before it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rhai::Dynamic;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::values::Date;

/// The kind of value a parameter holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Integer,
    Decimal,
    /// Yuan, at most two decimals, always shown with two.
    Money,
    Bool,
    String,
    /// Days off and make-up working days (调休), for working-day arithmetic.
    Calendar,
}

/// One value of a parameter and the date it takes effect.
#[derive(Debug, Clone)]
pub struct ParamValue {
    pub from: Date,
    pub source: String,
    /// The value as rules see it.
    pub rule_value: Dynamic,
    /// The value as the decision envelope reports it.
    pub json: Value,
}

/// A named parameter and its history.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub ty: ParamType,
    pub unit: String,
    pub description: String,
    /// Sorted by `from`, no two on the same date.
    pub values: Vec<ParamValue>,
}

impl Param {
    /// The value in force on `date`, if any.
    pub fn value_at(&self, date: Date) -> Option<&ParamValue> {
        self.values.iter().rev().find(|value| value.from <= date)
    }
}

/// Every parameter of a bundle, by name.
#[derive(Debug, Clone, Default)]
pub struct ParamStore {
    params: BTreeMap<String, Param>,
}

impl ParamStore {
    /// Adds a parameter, replacing one of the same name.
    pub fn insert(&mut self, param: Param) {
        self.params.insert(param.name.clone(), param);
    }

    pub fn get(&self, name: &str) -> Option<&Param> {
        self.params.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.params.values()
    }
}

/// A working-day calendar: Monday–Friday, minus listed days off, plus listed
/// weekend days that are worked (调休).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    days_off: Arc<BTreeSet<Date>>,
    make_up_days: Arc<BTreeSet<Date>>,
}

impl Calendar {
    /// A calendar with these days off and make-up working days (no day in
    /// both).
    pub fn new(days_off: BTreeSet<Date>, make_up_days: BTreeSet<Date>) -> Calendar {
        Calendar {
            days_off: Arc::new(days_off),
            make_up_days: Arc::new(make_up_days),
        }
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: Date) -> bool {
        use chrono::Datelike;
        if self.make_up_days.contains(&date) {
            return true;
        }
        let weekday = date.0.weekday().number_from_monday();
        weekday <= 5 && !self.days_off.contains(&date)
    }

    /// The `n`-th working day after `date` (`date` itself never counts).
    pub fn add_working_days(&self, date: Date, n: i64) -> Option<Date> {
        let mut current = date;
        let mut remaining = n;
        // A year holds far fewer than 400 consecutive days off.
        let mut guard = 0;
        while remaining > 0 {
            current = current.add_days(1)?;
            guard += 1;
            if self.is_working_day(current) {
                remaining -= 1;
                guard = 0;
            } else if guard > 400 {
                return None;
            }
        }
        Some(current)
    }
}
