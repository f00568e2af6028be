//! Builds the sandboxed Rhai engine rules run in: narrowed to what policy
//! needs, limited, and extended with exact date, time, money and
//! working-day helpers.
//!
//! Built without floats (decimal literals such as `0.80` are exact
//! `Decimal`s), without a clock, without modules or imports, and without
//! `eval`. Every run is bounded by the bundle's [`Limits`]; the counters
//! and the host's stop live in `eligo_engine::sandbox`, with the decision
//! path. Building is part of loading a bundle, so this module is compiled
//! with the loader (for size, in the artifact).

use rhai::packages::{
    BasicArrayPackage, BasicMapPackage, BasicMathPackage, CorePackage, LogicPackage, Package,
};
use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext, Position, INT};
use rust_decimal::Decimal;

use crate::context::RuleContext;
use crate::manifest::Limits;
use crate::params::Calendar;
use crate::sandbox::{count_operation, MAX_VARIABLES, MAX_WORKING_DAYS};
use crate::values::{dynamic_to_text, round_half_up, Date, Timestamp};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

fn fail<T>(message: impl Into<String>) -> RhaiResult<T> {
    Err(Box::new(EvalAltResult::ErrorRuntime(
        message.into().into(),
        Position::NONE,
    )))
}

/// Builds the engine for a bundle with the given limits.
pub fn build_engine(limits: &Limits) -> Engine {
    // Only the packages rules use: every package left out is code the wasm
    // artifact does not carry (bit fields, blobs, the extra string library).
    let mut engine = Engine::new_raw();
    for package in [
        CorePackage::new().as_shared_module(),
        LogicPackage::new().as_shared_module(),
        BasicMathPackage::new().as_shared_module(),
        BasicArrayPackage::new().as_shared_module(),
        BasicMapPackage::new().as_shared_module(),
    ] {
        engine.register_global_module(package);
    }
    // Rhai counts operations per call context, and a function a native
    // function calls back (a sort comparator) starts a fresh count: nested
    // sorts ran for minutes under a limit of 200 000. Every operation of
    // the decision, however deep, is counted here instead.
    let max_operations = limits.max_operations;
    engine.on_progress(move |_| count_operation(max_operations));
    engine
        .set_max_strings_interned(256)
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_depth)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_variables(MAX_VARIABLES)
        .set_max_functions(1_000)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true);
    // Rules have no output channel but their result.
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine.disable_symbol("eval");
    register_dates(&mut engine);
    register_timestamps(&mut engine);
    register_money(&mut engine);
    register_calendar(&mut engine);
    register_comparators(&mut engine);
    register_context(&mut engine);
    engine
}

fn register_context(engine: &mut Engine) {
    engine
        .register_type_with_name::<RuleContext>("Context")
        .register_get("as_of", |ctx: &mut RuleContext| ctx.state().as_of)
        .register_get("today", |ctx: &mut RuleContext| ctx.state().as_of.date())
        .register_fn("param", |ctx: &mut RuleContext, name: &str| {
            ctx.state().param(name)
        })
        .register_fn(
            "fire",
            |call: NativeCallContext, ctx: &mut RuleContext, rule: &str| {
                ctx.state().fire(rule, Vec::new(), call.call_position())
            },
        )
        .register_fn(
            "fire",
            |call: NativeCallContext, ctx: &mut RuleContext, rule: &str, args: Map| {
                let texts = args
                    .iter()
                    .map(|(key, value)| (key.as_str().into(), dynamic_to_text(value)))
                    .collect();
                ctx.state().fire(rule, texts, call.call_position())
            },
        )
        .register_fn("need", |ctx: &mut RuleContext, path: &str, rule: &str| {
            ctx.state().need(path, rule)
        });
}

/// `sort` and `dedup` with a rule's own comparator, replacing Rhai's: its
/// versions run the comparator inside Rust's sort and treat a failing call
/// as "equal", so neither the operation limit nor a rule error inside the
/// comparator stopped them (nested sorts ran for minutes and decisions
/// came back with wrong data). Here every call's error, limits included,
/// ends the sort and the decision.
fn register_comparators(engine: &mut Engine) {
    fn ordering(
        context: &NativeCallContext,
        comparator: &FnPtr,
        a: &Dynamic,
        b: &Dynamic,
    ) -> RhaiResult<INT> {
        let answer: Dynamic = comparator.call_raw(context, None, [a.clone(), b.clone()])?;
        answer.as_int().or_else(|_| {
            fail(format!(
                "the sort comparator `{}` must return an integer (negative, 0 or positive), not {}",
                comparator.fn_name(),
                answer.type_name()
            ))
        })
    }

    /// Stable merge sort over a fallible comparison.
    fn merge_sort(
        items: Vec<Dynamic>,
        less_or_equal: &mut dyn FnMut(&Dynamic, &Dynamic) -> RhaiResult<bool>,
    ) -> RhaiResult<Vec<Dynamic>> {
        if items.len() <= 1 {
            return Ok(items);
        }
        let mut left = items;
        let right = left.split_off(left.len() / 2);
        let left = merge_sort(left, less_or_equal)?;
        let right = merge_sort(right, less_or_equal)?;
        let mut merged = Vec::with_capacity(left.len() + right.len());
        let (mut left, mut right) = (left.into_iter().peekable(), right.into_iter().peekable());
        while let (Some(a), Some(b)) = (left.peek(), right.peek()) {
            if less_or_equal(a, b)? {
                merged.extend(left.next());
            } else {
                merged.extend(right.next());
            }
        }
        merged.extend(left);
        merged.extend(right);
        Ok(merged)
    }

    // In a module registered after the standard packages: the last module
    // registered is searched first, so these shadow Rhai's own.
    let mut module = rhai::Module::new();
    rhai::FuncRegistration::new("sort").set_into_module(
        &mut module,
        |context: NativeCallContext, array: &mut Array, comparator: FnPtr| -> RhaiResult<()> {
            let items = std::mem::take(array);
            let sorted = merge_sort(items, &mut |a, b| {
                Ok(ordering(&context, &comparator, a, b)? <= 0)
            })?;
            *array = sorted;
            Ok(())
        },
    );
    rhai::FuncRegistration::new("dedup").set_into_module(
        &mut module,
        |context: NativeCallContext, array: &mut Array, comparator: FnPtr| -> RhaiResult<()> {
            let mut kept: Array = Vec::with_capacity(array.len());
            for item in std::mem::take(array) {
                let duplicate = match kept.last() {
                    Some(last) => comparator
                        .call_raw(&context, None, [last.clone(), item.clone()])?
                        .as_bool()
                        .or_else(|_| fail("the dedup comparator must return true or false"))?,
                    None => false,
                };
                if !duplicate {
                    kept.push(item);
                }
            }
            *array = kept;
            Ok(())
        },
    );
    // `==` and `!=` on arrays and maps, without recursion: Rhai's compare
    // element by element through nested calls, and values ~1,000 levels
    // deep (which the size limits allow) exhausted the stack in wasm but
    // not natively. A comparison deeper than MAX_COMPARE_DEPTH is a rule
    // error, the same everywhere.
    for (name, equal) in [("==", true), ("!=", false)] {
        rhai::FuncRegistration::new(name).set_into_module(
            &mut module,
            move |context: NativeCallContext, a: &mut Array, b: Array| -> RhaiResult<bool> {
                let a = Dynamic::from_array(a.clone());
                Ok(deep_equal(&context, a, Dynamic::from_array(b))? == equal)
            },
        );
        rhai::FuncRegistration::new(name).set_into_module(
            &mut module,
            move |context: NativeCallContext,
                  a: &mut rhai::Map,
                  b: rhai::Map|
                  -> RhaiResult<bool> {
                let a = Dynamic::from_map(a.clone());
                Ok(deep_equal(&context, a, Dynamic::from_map(b))? == equal)
            },
        );
    }
    engine.register_global_module(module.into());
}

/// How deep two values may be nested for `==` to compare them.
const MAX_COMPARE_DEPTH: usize = 64;

/// Structural equality with an explicit stack; scalars compare with the
/// engine's own `==` (so `1 == 1.0` stays true), containers of different
/// kinds are unequal.
fn deep_equal(context: &NativeCallContext, a: Dynamic, b: Dynamic) -> RhaiResult<bool> {
    let mut pending = vec![(a, b, 0_usize)];
    while let Some((a, b, depth)) = pending.pop() {
        if depth > MAX_COMPARE_DEPTH {
            return fail(format!(
                "values nested deeper than {MAX_COMPARE_DEPTH} levels cannot be compared"
            ));
        }
        if a.is_array() && b.is_array() {
            let (x, y) = (a.cast::<Array>(), b.cast::<Array>());
            if x.len() != y.len() {
                return Ok(false);
            }
            pending.extend(x.into_iter().zip(y).map(|(x, y)| (x, y, depth + 1)));
        } else if a.is_map() && b.is_map() {
            let (x, mut y) = (a.cast::<rhai::Map>(), b.cast::<rhai::Map>());
            if x.len() != y.len() {
                return Ok(false);
            }
            for (key, x) in x {
                match y.remove(&key) {
                    Some(y) => pending.push((x, y, depth + 1)),
                    None => return Ok(false),
                }
            }
        } else {
            let containers = a.is_array() || a.is_map() || b.is_array() || b.is_map();
            if containers
                || !context
                    .call_native_fn::<bool>("==", (a, b))
                    .unwrap_or(false)
            {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn register_dates(engine: &mut Engine) {
    engine
        .register_type_with_name::<Date>("Date")
        .register_fn("date", |text: &str| -> RhaiResult<Date> {
            Date::parse(text).map_or_else(|| fail(format!("`{text}` is not a YYYY-MM-DD date")), Ok)
        })
        .register_fn("+", |date: Date, days: INT| -> RhaiResult<Date> {
            date.add_days(days)
                .map_or_else(|| fail("date out of range"), Ok)
        })
        .register_fn("-", |date: Date, days: INT| -> RhaiResult<Date> {
            date.add_days(days.checked_neg().unwrap_or(INT::MAX))
                .map_or_else(|| fail("date out of range"), Ok)
        })
        .register_fn("-", |later: Date, earlier: Date| earlier.days_until(later))
        .register_fn("days_until", |from: Date, to: Date| from.days_until(to))
        .register_fn("==", |a: Date, b: Date| a == b)
        .register_fn("!=", |a: Date, b: Date| a != b)
        .register_fn("<", |a: Date, b: Date| a < b)
        .register_fn("<=", |a: Date, b: Date| a <= b)
        .register_fn(">", |a: Date, b: Date| a > b)
        .register_fn(">=", |a: Date, b: Date| a >= b)
        .register_fn("to_string", |date: &mut Date| date.to_string())
        .register_fn("to_debug", |date: &mut Date| date.to_string());
}

fn register_timestamps(engine: &mut Engine) {
    engine
        .register_type_with_name::<Timestamp>("Timestamp")
        .register_fn("timestamp", |text: &str| -> RhaiResult<Timestamp> {
            Timestamp::parse(text).map_or_else(
                || fail(format!("`{text}` is not an RFC 3339 timestamp")),
                Ok,
            )
        })
        .register_get("date", |ts: &mut Timestamp| ts.date())
        .register_fn("seconds_until", |from: Timestamp, to: Timestamp| {
            from.seconds_until(to)
        })
        .register_fn(
            "on_date",
            |ts: Timestamp, date: Date| -> RhaiResult<Timestamp> {
                ts.on_date(date)
                    .map_or_else(|| fail("timestamp out of range"), Ok)
            },
        )
        .register_fn("==", |a: Timestamp, b: Timestamp| a == b)
        .register_fn("!=", |a: Timestamp, b: Timestamp| a != b)
        .register_fn("<", |a: Timestamp, b: Timestamp| a.0 < b.0)
        .register_fn("<=", |a: Timestamp, b: Timestamp| a.0 <= b.0)
        .register_fn(">", |a: Timestamp, b: Timestamp| a.0 > b.0)
        .register_fn(">=", |a: Timestamp, b: Timestamp| a.0 >= b.0)
        .register_fn("to_string", |ts: &mut Timestamp| ts.to_string())
        .register_fn("to_debug", |ts: &mut Timestamp| ts.to_string());
}

fn register_money(engine: &mut Engine) {
    let fixed = |value: Decimal, places: INT| -> RhaiResult<Decimal> {
        match u32::try_from(places) {
            Ok(places) if places <= 12 => Ok(round_half_up(value, places)),
            _ => fail(format!("cannot round to {places} places (0 to 12)")),
        }
    };
    engine
        // Yuan exact to the fen, rounded half up, always shown with two decimals.
        .register_fn("money", move |value: Decimal| fixed(value, 2))
        .register_fn("money", move |value: INT| fixed(Decimal::from(value), 2))
        // Rounded half up, shown with exactly `places` decimals.
        .register_fn("fixed", fixed)
        .register_fn("fixed", move |value: INT, places: INT| {
            fixed(Decimal::from(value), places)
        });
}

fn register_calendar(engine: &mut Engine) {
    engine
        .register_type_with_name::<Calendar>("Calendar")
        .register_fn("is_working_day", |calendar: &mut Calendar, date: Date| {
            calendar.is_working_day(date)
        })
        .register_fn(
            "add_working_days",
            |calendar: &mut Calendar, date: Date, days: INT| -> RhaiResult<Date> {
                // Counted, not timed: the walk is one step per day, so the
                // count bounds the work (ten years of working days).
                if !(0..=MAX_WORKING_DAYS).contains(&days) {
                    return fail(format!(
                        "add_working_days: {days} is outside 0 to {MAX_WORKING_DAYS} working days"
                    ));
                }
                calendar
                    .add_working_days(date, days)
                    .map_or_else(|| fail("working-day arithmetic out of range"), Ok)
            },
        );
}

#[cfg(test)]
mod comparator_tests {
    use super::*;

    #[test]
    fn sort_with_a_comparator_is_ours() {
        let engine = build_engine(&Limits::default());
        let result = engine.eval::<Array>("let a = [3, 1, 2]; a.sort(|p, q| q - p); a");
        assert_eq!(format!("{:?}", result.unwrap()), "[3, 2, 1]");
        let error = engine
            .eval::<Array>("let a = [3, 1, 2]; a.sort(|p, q| true); a")
            .unwrap_err();
        assert!(
            error.to_string().contains("must return an integer"),
            "{error}"
        );
    }

    /// Rhai is built without closures: an anonymous function sees only its
    /// parameters, and one that reaches for a variable around it is a
    /// syntax error where it stands, found when the bundle loads.
    #[test]
    fn anonymous_functions_see_only_their_parameters() {
        let engine = build_engine(&Limits::default());
        let error = engine
            .compile("let limit = 3;\nlet a = [5, 1, 4];\na.sort(|p, q| if p > limit { 1 } else { -1 });")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "Undefined variable: limit (line 3, position 22)"
        );
        let sorted = engine.eval::<Array>("let a = [5, 1, 4]; a.sort(|p, q| p - q); a");
        assert_eq!(format!("{:?}", sorted.unwrap()), "[1, 4, 5]");
    }

    #[test]
    fn sort_without_a_comparator_orders_each_type() {
        let engine = build_engine(&Limits::default());
        let sorted = |script: &str| format!("{:?}", engine.eval::<Array>(script).unwrap());
        assert_eq!(sorted("let a = [3, 1, 2, 1]; a.sort(); a"), "[1, 1, 2, 3]");
        assert_eq!(sorted("let a = [3, 1, 2]; a.sort_desc(); a"), "[3, 2, 1]");
        assert_eq!(
            sorted(r#"let a = ["b", "c", "a"]; a.sort(); a"#),
            r#"["a", "b", "c"]"#
        );
        assert_eq!(
            sorted("let a = [2.50, 0.1, 1.0]; a.sort(); a"),
            "[0.1, 1.0, 2.50]"
        );
        assert_eq!(
            sorted("let a = [true, false]; a.sort(); a"),
            "[false, true]"
        );
    }
}

#[cfg(test)]
mod equality_tests {
    use super::*;

    #[test]
    fn deep_equality_is_structural_and_bounded() {
        let engine = build_engine(&Limits::default());
        let yes = |script: &str| engine.eval::<bool>(script).unwrap();
        assert!(yes("[1, [2, #{a: 3}]] == [1, [2, #{a: 3}]]"));
        assert!(!yes("[1, [2, #{a: 3}]] == [1, [2, #{a: 4}]]"));
        assert!(yes("[1, [2]] != [1, [3]]"));
        assert!(yes("#{a: [1], b: \"x\"} == #{b: \"x\", a: [1]}"));
        assert!(!yes("#{a: 1} == #{b: 1}"));
        assert!(!yes("[1] == [1, 2]"));
        assert!(!yes("[[1]] == [#{}]"));
        let deep = "let a = []; for i in 0..100 { a = [a]; } let b = []; for i in 0..100 { b = [b]; } a == b";
        let error = engine.eval::<bool>(deep).unwrap_err();
        assert!(
            error.to_string().contains("nested deeper than 64"),
            "{error}"
        );
    }
}
