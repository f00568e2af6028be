//! Reads a bundle's parameter files (`params/*.toml`) into the
//! [`ParamStore`] decisions read.
//!
//! Every threshold of a policy is a parameter with a list of values, each
//! valid from a date and citing its source clause. Reading them is part of
//! loading a bundle: here with the loader, while the store and the values
//! rules see are in `eligo_engine::params`, with the decision path.

use std::collections::{BTreeMap, BTreeSet};

use rhai::Dynamic;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::diagnostics::{toml_definition_line, Diagnostic};
use crate::params::{Calendar, Param, ParamStore, ParamType, ParamValue};
use crate::toml_file::parse_toml;
use crate::values::{
    decimal_from_text, decimal_to_json, round_half_up, significant_decimals, Date,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamDecl {
    #[serde(rename = "type")]
    ty: ParamType,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    description: String,
    values: Vec<RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValue {
    from: String,
    value: Value,
    source: String,
}

/// Reads every `params/*.toml` file, reporting all problems found.
pub fn load<'a>(files: impl Iterator<Item = (&'a str, &'a str)>) -> (ParamStore, Vec<Diagnostic>) {
    let mut store = ParamStore::default();
    let mut problems = Vec::new();
    let mut defined_in: BTreeMap<String, String> = BTreeMap::new();
    for (file, text) in files {
        let decls: BTreeMap<String, ParamDecl> = match parse_toml(file, text) {
            Ok(decls) => decls,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        for (name, decl) in decls {
            // Found only for a problem: scanning the file for every
            // parameter made loading quadratic (5,000 parameters, 8 s).
            let line = || toml_definition_line(text, &name);
            if let Some(first) = defined_in.get(&name) {
                problems.push(Diagnostic::error(
                    "param-duplicate",
                    file,
                    line(),
                    1,
                    format!("parameter `{name}` is already defined in {first}"),
                ));
                continue;
            }
            defined_in.insert(name.clone(), file.to_string());
            match build_param(&name, decl) {
                Ok(param) => {
                    store.insert(param);
                }
                Err(message) => {
                    problems.push(Diagnostic::error("param-value", file, line(), 1, message))
                }
            }
        }
    }
    (store, problems)
}

fn build_param(name: &str, decl: ParamDecl) -> Result<Param, String> {
    if decl.values.is_empty() {
        return Err(format!("parameter `{name}` has no values"));
    }
    let mut values = Vec::with_capacity(decl.values.len());
    for (index, raw) in decl.values.into_iter().enumerate() {
        let at = format!("{name}.values[{index}]");
        let from = Date::parse(&raw.from)
            .ok_or_else(|| format!("{at}.from: `{}` is not a YYYY-MM-DD date", raw.from))?;
        if raw.source.trim().is_empty() {
            return Err(format!(
                "{at}.source: every value must cite its source clause"
            ));
        }
        let (rule_value, json) = convert_value(decl.ty, &raw.value)
            .map_err(|message| format!("{at}.value: {message}"))?;
        values.push(ParamValue {
            from,
            source: raw.source,
            rule_value,
            json,
        });
    }
    crate::sort::sort_by(&mut values, |a, b| a.from.cmp(&b.from));
    if let Some(pair) = values.windows(2).find(|pair| pair[0].from == pair[1].from) {
        return Err(format!(
            "parameter `{name}` has two values from {}",
            pair[0].from
        ));
    }
    Ok(Param {
        name: name.to_string(),
        ty: decl.ty,
        unit: decl.unit,
        description: decl.description,
        values,
    })
}

fn convert_value(ty: ParamType, value: &Value) -> Result<(Dynamic, Value), String> {
    match ty {
        ParamType::Integer => value
            .as_i64()
            .map(|int| (Dynamic::from_int(int), Value::from(int)))
            .ok_or_else(|| "expected an integer".to_string()),
        ParamType::Bool => value
            .as_bool()
            .map(|flag| (Dynamic::from_bool(flag), Value::Bool(flag)))
            .ok_or_else(|| "expected true or false".to_string()),
        ParamType::String => value
            .as_str()
            .map(|text| (crate::values::text(text), Value::from(text)))
            .ok_or_else(|| "expected a string".to_string()),
        ParamType::Decimal => {
            let decimal = toml_decimal(value)?;
            Ok((Dynamic::from_decimal(decimal), decimal_to_json(decimal)))
        }
        ParamType::Money => {
            let decimal = toml_decimal(value)?;
            if significant_decimals(decimal) > 2 {
                return Err(format!(
                    "{decimal} has more than two decimals (money is exact to the fen)"
                ));
            }
            let money = round_half_up(decimal, 2);
            Ok((Dynamic::from_decimal(money), decimal_to_json(money)))
        }
        ParamType::Calendar => {
            let (calendar, json) = calendar_from(value)?;
            Ok((Dynamic::from(calendar), json))
        }
    }
}

/// Reads a decimal without losing digits: a TOML number keeps the text it
/// was written with (`crate::toml_file`), and a string is read as written.
fn toml_decimal(value: &Value) -> Result<Decimal, String> {
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        _ => return Err("expected a decimal number (e.g. 0.80 or \"0.80\")".to_string()),
    };
    decimal_from_text(&text).ok_or_else(|| format!("`{text}` is not a decimal number"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    days_off: Vec<String>,
    make_up_working_days: Vec<String>,
}

/// A `calendar` parameter's value, and how the envelope reports it (how
/// many days of each kind).
fn calendar_from(value: &Value) -> Result<(Calendar, Value), String> {
    let raw = RawCalendar::deserialize(value).map_err(|e| {
        format!("expected {{ days_off = [...], make_up_working_days = [...] }}: {e}")
    })?;
    let dates = |list: &[String], field: &str| -> Result<BTreeSet<Date>, String> {
        let mut dates = BTreeSet::new();
        for text in list {
            dates.insert(
                Date::parse(text)
                    .ok_or_else(|| format!("{field}: `{text}` is not a YYYY-MM-DD date"))?,
            );
        }
        Ok(dates)
    };
    let days_off = dates(&raw.days_off, "days_off")?;
    let make_up_days = dates(&raw.make_up_working_days, "make_up_working_days")?;
    if let Some(both) = days_off.intersection(&make_up_days).next() {
        return Err(format!(
            "{both} is listed both as a day off and as a make-up working day"
        ));
    }
    let json = serde_json::json!({
        "days_off": days_off.len(),
        "make_up_working_days": make_up_days.len(),
    });
    Ok((Calendar::new(days_off, make_up_days), json))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &str = r#"
[standard]
type = "money"
unit = "yuan"
values = [
  { from = "2027-01-01", value = "650", source = "notice 2" },
  { from = "2026-01-01", value = 600, source = "000 §1.3.2" },
]

[rate]
type = "decimal"
values = [{ from = "2026-01-01", value = 0.80, source = "002 §2.4.4" }]

[calendar]
type = "calendar"
values = [{ from = "2026-01-01", source = "notice", value = { days_off = ["2026-10-01", "2026-10-02", "2026-10-05"], make_up_working_days = ["2026-10-10"] } }]
"#;

    fn store() -> ParamStore {
        let (store, problems) = load([("params/a.toml", PARAMS)].into_iter());
        assert!(problems.is_empty(), "{problems:?}");
        store
    }

    fn date(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    #[test]
    fn value_changes_on_its_effective_date() {
        let store = store();
        let standard = store.get("standard").unwrap();
        assert!(standard.value_at(date("2025-12-31")).is_none());
        assert_eq!(
            standard
                .value_at(date("2026-12-31"))
                .unwrap()
                .json
                .to_string(),
            "600.00"
        );
        assert_eq!(
            standard
                .value_at(date("2027-01-01"))
                .unwrap()
                .json
                .to_string(),
            "650.00"
        );
        assert_eq!(
            standard.value_at(date("2027-01-01")).unwrap().source,
            "notice 2"
        );
    }

    #[test]
    fn toml_floats_keep_their_written_digits() {
        let store = store();
        let rate = store
            .get("rate")
            .unwrap()
            .value_at(date("2026-06-01"))
            .unwrap();
        assert_eq!(rate.json.to_string(), "0.80");
    }

    #[test]
    fn money_written_as_a_toml_float_keeps_every_digit() {
        // Through binary floating point this read 12345678901234568.
        let text = "[big]\ntype = \"money\"\nvalues = [{ from = \"2026-01-01\", \
                    value = 12345678901234567.89, source = \"n\" }]\n";
        let (store, problems) = load([("params/b.toml", text)].into_iter());
        assert!(problems.is_empty(), "{problems:?}");
        let big = store.get("big").unwrap().values[0].json.to_string();
        assert_eq!(big, "12345678901234567.89");
    }

    #[test]
    fn a_misshapen_value_is_located_with_its_path() {
        let text = "[rate]\ntype = \"decimal\"\nvalues = [\n  \
                    { from = \"2026-01-01\", value = 1, source = \"n\" },\n  \
                    { from = \"2026-06-01\", value = 2, sorce = \"n\" },\n]\n";
        let (_, problems) = load([("params/c.toml", text)].into_iter());
        assert_eq!(problems.len(), 1, "{problems:?}");
        let problem = &problems[0];
        assert!(
            problem
                .message
                .starts_with("`rate.values[1].sorce`: unknown field `sorce`"),
            "{problem:?}"
        );
        assert_eq!((problem.line, problem.column), (5, 37));
    }

    #[test]
    fn working_days_skip_weekends_and_days_off_and_count_make_up_days() {
        let store = store();
        let value = &store.get("calendar").unwrap().values[0];
        let calendar = value.rule_value.clone().cast::<Calendar>();
        // Thursday → Fri, Mon, Tue.
        assert_eq!(
            calendar.add_working_days(date("2026-11-19"), 3),
            Some(date("2026-11-24"))
        );
        // Wed 30 Sep → Tue 6 Oct? No: 1, 2 and 5 Oct are off in this test calendar.
        assert_eq!(
            calendar.add_working_days(date("2026-09-30"), 2),
            Some(date("2026-10-07"))
        );
        // Saturday 10 Oct is a make-up working day.
        assert_eq!(
            calendar.add_working_days(date("2026-10-09"), 1),
            Some(date("2026-10-10"))
        );
    }

    #[test]
    fn bad_values_are_reported_with_their_path() {
        let text = r#"
[x]
type = "money"
values = [{ from = "2026-13-01", value = 1, source = "s" }]
[y]
type = "money"
values = [{ from = "2026-01-01", value = "1.005", source = "s" }]
[z]
type = "integer"
values = [{ from = "2026-01-01", value = 1, source = "" }]
"#;
        let (_, problems) = load([("params/bad.toml", text)].into_iter());
        let messages: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].starts_with("x.values[0].from"));
        assert!(messages[1].contains("more than two decimals"));
        assert!(messages[2].contains("cite its source"));
    }
}
