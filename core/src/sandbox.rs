//! The Rhai engine rules run in: narrowed to what policy needs, limited, and
//! extended with exact date, time, money and working-day helpers.
//!
//! Built without floats (decimal literals such as `0.80` are exact
//! `Decimal`s), without a clock, without modules or imports, and without
//! `eval`. Every run is bounded by the bundle's [`Limits`].

use std::sync::{Arc, Mutex};

use rhai::packages::{
    BasicArrayPackage, BasicMapPackage, BasicMathPackage, CorePackage, LogicPackage, Package,
};
use rhai::{Engine, EvalAltResult, Position, INT};
use rust_decimal::Decimal;

use crate::context::RuleContext;
use crate::manifest::Limits;
use crate::params::Calendar;
use crate::values::{round_half_up, Date, Timestamp};

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
    engine
        .set_max_strings_interned(256)
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_depth)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_variables(1_000)
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
    RuleContext::register(&mut engine);
    engine
}

/// Where a rule was when a sandbox limit stopped it.
///
/// Rhai reports limit errors (operations, call depth, data size) without a
/// position once they leave the function they happened in. The locator is a
/// second engine with a debugger that remembers the last node it stepped on;
/// re-running a failed decision in it (decisions are deterministic) finds
/// the exact line and column. It only runs after such a failure.
pub struct Locator {
    pub engine: Engine,
    last: Arc<Mutex<Option<(String, Position)>>>,
}

impl Locator {
    pub fn new(limits: &Limits) -> Locator {
        let last: Arc<Mutex<Option<(String, Position)>>> = Arc::new(Mutex::new(None));
        let mut engine = build_engine(limits);
        let record = Arc::clone(&last);
        #[allow(deprecated)] // "volatile", not deprecated
        engine.register_debugger(
            |_, debugger| debugger,
            move |_, event, _, source, position| {
                let stepped = matches!(event, rhai::debugger::DebuggerEvent::Step);
                if stepped && !position.is_none() {
                    let mut last = record.lock().unwrap_or_else(|p| p.into_inner());
                    *last = Some((source.unwrap_or_default().to_string(), position));
                }
                Ok(rhai::debugger::DebuggerCommand::StepInto)
            },
        );
        Locator { engine, last }
    }

    /// Forgets the last position, before a run.
    pub fn reset(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The source and position of the last node stepped on.
    pub fn last(&self) -> Option<(String, Position)> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
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
                calendar
                    .add_working_days(date, days)
                    .map_or_else(|| fail("working-day arithmetic out of range"), Ok)
            },
        );
}
