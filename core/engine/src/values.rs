//! Value types that rules see, and the exact conversions between them and JSON.
//!
//! Rules never see binary floating point: money and other fractional numbers
//! are `Decimal`, dates are [`Date`], instants are [`Timestamp`]. Converting a
//! rule's result back to JSON keeps every decimal digit (serde_json's
//! `arbitrary_precision` carries the text of the number).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, FixedOffset, NaiveDate, SecondsFormat};
use rhai::{Dynamic, ImmutableString};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Number, Value};

use crate::path::JsonPath;

/// A local calendar date (`YYYY-MM-DD`), as rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

impl Date {
    /// Parses a strict `YYYY-MM-DD` date: four digits, a dash, two digits,
    /// a dash, two digits, naming a day of the calendar. No other spelling
    /// is a date, however chrono's lenient `%Y-%m-%d` would have read it
    /// (`+026-01-01` as the year 26, `-001-01-01` as the year −1,
    /// ` 2026-01-1` as 2026-01-01); leaving chrono's pattern parsing out
    /// also keeps 28 KB out of the artifact.
    pub fn parse(text: &str) -> Option<Date> {
        let (year, month, day) = digits_ymd(text)?;
        NaiveDate::from_ymd_opt(year, month, day).map(Date)
    }

    /// The date `days` later (earlier when negative); `None` past year 262143.
    /// `None` outside the years 1 to 9999: dates are written `YYYY-MM-DD`
    /// everywhere (year 10000 would print as `+10000-…`).
    pub fn add_days(self, days: i64) -> Option<Date> {
        use chrono::Datelike;
        let magnitude = Days::new(days.unsigned_abs());
        let date = if days >= 0 {
            self.0.checked_add_days(magnitude)
        } else {
            self.0.checked_sub_days(magnitude)
        }?;
        (1..=9999).contains(&date.year()).then_some(Date(date))
    }

    /// Whole days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        (later.0 - self.0).num_days()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::Datelike;
        // Written by hand: chrono's `format` parses its pattern on every
        // call, and dates are written into every reason and envelope.
        let (year, month, day) = (self.0.year(), self.0.month(), self.0.day());
        // Outside 0000–9999 with a sign, as chrono's `%Y` writes it; not
        // through chrono's `format`, whose pattern machinery would otherwise
        // take 13 KB of the wasm artifact for this one line.
        if (0..=9999).contains(&year) {
            write!(f, "{year:04}-{month:02}-{day:02}")
        } else {
            write!(f, "{year:+05}-{month:02}-{day:02}")
        }
    }
}

/// An instant with the UTC offset it was written with (RFC 3339).
///
/// Equality and ordering compare instants; the offset decides the local date
/// and clock time (a deadline "at the same clock time" keeps it).
#[derive(Debug, Clone, Copy)]
pub struct Timestamp(pub DateTime<FixedOffset>);

impl Timestamp {
    /// Parses an RFC 3339 timestamp; the offset (`Z` or `±hh:mm`) is required.
    pub fn parse(text: &str) -> Option<Timestamp> {
        DateTime::parse_from_rfc3339(text).ok().map(Timestamp)
    }

    /// The local calendar date in the timestamp's own offset.
    pub fn date(self) -> Date {
        Date(self.0.date_naive())
    }

    /// Whole seconds from `self` to `later` (negative when `later` is earlier).
    pub fn seconds_until(self, later: Timestamp) -> i64 {
        (later.0 - self.0).num_seconds()
    }

    /// The same local clock time and offset on another date.
    pub fn on_date(self, date: Date) -> Option<Timestamp> {
        let local = date.0.and_time(self.0.time());
        local
            .and_local_timezone(*self.0.offset())
            .single()
            .map(Timestamp)
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

/// A `YYYY-MM` month is valid when it names a real month.
pub fn is_month(text: &str) -> bool {
    text.len() == 7 && text.as_bytes()[4] == b'-' && Date::parse(&format!("{text}-01")).is_some()
}

/// `YYYY-MM-DD` written with ASCII digits only: its three numbers.
fn digits_ymd(text: &str) -> Option<(i32, u32, u32)> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes[range].iter().try_fold(0_u32, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    Some((digits(0..4)? as i32, digits(5..7)?, digits(8..10)?))
}

/// Parses the exact decimal text of a JSON number (`12.30`, `1e3`).
pub fn decimal_from_number(number: &Number) -> Option<Decimal> {
    // With `arbitrary_precision` the number keeps its text.
    decimal_from_text(number.as_str())
}

/// Parses decimal text, scientific notation included, without rounding.
pub fn decimal_from_text(text: &str) -> Option<Decimal> {
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        Decimal::from_str(text).ok()
    }
}

/// The number of digits after the decimal point once trailing zeros go.
pub fn significant_decimals(value: Decimal) -> u32 {
    value.normalize().scale()
}

/// Rounds half away from zero to `places` digits and shows exactly that many.
pub fn round_half_up(value: Decimal, places: u32) -> Decimal {
    let mut rounded = value.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(places);
    if rounded.is_zero() {
        rounded.set_sign_positive(true);
    }
    rounded
}

/// A JSON number carrying the decimal's exact text.
pub fn decimal_to_json(value: Decimal) -> Value {
    let mut value = value;
    if value.is_zero() {
        value.set_sign_positive(true);
    }
    // The text of a Decimal is always a valid JSON number.
    Value::Number(Number::from_str(&value.to_string()).expect("decimal text is a JSON number"))
}

/// Why a rule's value has no JSON form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionError {
    pub path: String,
    pub type_name: String,
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.type_name.starts_with("nested") {
            return write!(
                f,
                "the rules returned a value at `{}` {}",
                self.path, self.type_name
            );
        }
        write!(
            f,
            "the rules returned a value of type `{}` at `{}`, which has no JSON form",
            self.type_name, self.path
        )
    }
}

/// How deeply a rule's result may nest arrays and maps.
pub const MAX_RESULT_DEPTH: usize = 32;

/// Converts a rule's value to JSON. Maps come out with sorted keys, so the
/// output never depends on insertion or hash order.
pub fn dynamic_to_json(value: &Dynamic, path: &str) -> Result<Value, ConversionError> {
    to_json_at(value, &JsonPath::Root(path), 0)
}

fn to_json_at(
    value: &Dynamic,
    path: &JsonPath<'_>,
    depth: usize,
) -> Result<Value, ConversionError> {
    if depth > MAX_RESULT_DEPTH {
        return Err(ConversionError {
            path: path.to_string(),
            type_name: format!("nested more than {MAX_RESULT_DEPTH} levels deep"),
        });
    }
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(flag) = value.as_bool() {
        return Ok(Value::Bool(flag));
    }
    if let Ok(int) = value.as_int() {
        return Ok(Value::Number(int.into()));
    }
    if let Ok(decimal) = value.as_decimal() {
        return Ok(decimal_to_json(decimal));
    }
    if value.is_string() {
        return Ok(Value::String(
            value
                .clone()
                .into_immutable_string()
                .unwrap_or_default()
                .to_string(),
        ));
    }
    if let Ok(ch) = value.as_char() {
        return Ok(Value::String(ch.to_string()));
    }
    if let Some(date) = value.read_lock::<Date>() {
        return Ok(Value::String(date.to_string()));
    }
    if let Some(ts) = value.read_lock::<Timestamp>() {
        return Ok(Value::String(ts.to_string()));
    }
    if value.is_array() {
        let array = value.read_lock::<rhai::Array>().expect("checked array");
        return array
            .iter()
            .enumerate()
            .map(|(i, item)| to_json_at(item, &path.index(i), depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if value.is_map() {
        let map = value.read_lock::<rhai::Map>().expect("checked map");
        let mut object = serde_json::Map::new();
        for (key, item) in map.iter() {
            let child = to_json_at(item, &path.field(key), depth + 1)?;
            object.insert(key.to_string(), child);
        }
        return Ok(Value::Object(object));
    }
    Err(ConversionError {
        path: path.to_string(),
        type_name: value.type_name().to_string(),
    })
}

/// Text for a value interpolated into a reason message.
pub fn dynamic_to_text(value: &Dynamic) -> String {
    if value.is_array() {
        let array = value.read_lock::<rhai::Array>().expect("checked array");
        return array
            .iter()
            .map(dynamic_to_text)
            .collect::<Vec<_>>()
            .join(", ");
    }
    if let Some(date) = value.read_lock::<Date>() {
        return date.to_string();
    }
    if let Some(ts) = value.read_lock::<Timestamp>() {
        return ts.to_string();
    }
    if value.is_unit() {
        return String::new();
    }
    value.to_string()
}

/// A string as rules see it.
pub fn text(value: &str) -> Dynamic {
    Dynamic::from(ImmutableString::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_only_in_their_one_spelling() {
        for (text, read) in [
            ("2026-11-24", Some("2026-11-24")),
            ("2024-02-29", Some("2024-02-29")),
            ("0000-01-01", Some("0000-01-01")),
            ("9999-12-31", Some("9999-12-31")),
            ("2026-02-29", None),
            ("2026-04-31", None),
            ("2026-13-01", None),
            ("2026-00-10", None),
            ("2026-01-00", None),
            // Other spellings; chrono's lenient `%Y-%m-%d` reads the first
            // three as dates.
            ("+026-01-01", None),
            ("-001-01-01", None),
            (" 2026-01-1", None),
            ("02026-1-01", None),
            ("2026-1-011", None),
            ("2026/01/01", None),
            ("2026-01-1a", None),
            ("2026-01-01 ", None),
            ("２０２６-01-01", None),
        ] {
            let parsed = Date::parse(text).map(|date| date.to_string());
            assert_eq!(parsed.as_deref(), read, "{text}");
            if let Some(read) = read {
                // The digits read are chrono's reading of them.
                let chrono = NaiveDate::parse_from_str(text, "%Y-%m-%d").map(Date);
                assert_eq!(Date::parse(text), chrono.ok(), "{text}");
                assert_eq!(read, text);
            }
        }
    }

    #[test]
    fn dates_display_as_chrono_writes_them_in_every_year() {
        for year in [
            -262_000, -10_000, -1, 0, 1, 999, 2026, 9999, 10_000, 262_000,
        ] {
            let date = NaiveDate::from_ymd_opt(year, 3, 7).expect("a valid date");
            assert_eq!(
                Date(date).to_string(),
                date.format("%Y-%m-%d").to_string(),
                "{year}"
            );
        }
    }

    #[test]
    fn dates_stay_within_four_digit_years() {
        let last = Date(NaiveDate::from_ymd_opt(9999, 12, 31).unwrap());
        assert!(last.add_days(1).is_none());
        assert_eq!(last.add_days(-1).unwrap().to_string(), "9999-12-30");
        let first = Date(NaiveDate::from_ymd_opt(1, 1, 1).unwrap());
        assert!(first.add_days(-1).is_none());
        assert!(first.add_days(i64::MAX).is_none());
    }

    #[test]
    fn money_round_trips_exactly_through_json() {
        let number: Number = "1000.10".parse().unwrap();
        let decimal = decimal_from_number(&number).unwrap();
        assert_eq!(decimal.to_string(), "1000.10");
        assert_eq!(
            serde_json::to_string(&decimal_to_json(decimal)).unwrap(),
            "1000.10"
        );
    }

    #[test]
    fn half_up_rounding_keeps_places() {
        let third = Decimal::from(1000) / Decimal::from(3);
        assert_eq!(round_half_up(third, 2).to_string(), "333.33");
        assert_eq!(round_half_up(Decimal::new(5, 3), 2).to_string(), "0.01");
        assert_eq!(round_half_up(Decimal::from(1), 4).to_string(), "1.0000");
        assert_eq!(round_half_up(Decimal::new(-1, 3), 2).to_string(), "0.00");
    }

    #[test]
    fn timestamps_compare_as_instants_and_keep_their_offset() {
        let a = Timestamp::parse("2026-11-20T09:00:00+08:00").unwrap();
        let b = Timestamp::parse("2026-11-20T01:00:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.date().to_string(), "2026-11-20");
        assert_eq!(b.date().to_string(), "2026-11-20");
        let later = a.on_date(Date::parse("2026-11-25").unwrap()).unwrap();
        assert_eq!(later.to_string(), "2026-11-25T09:00:00+08:00");
        assert_eq!(a.seconds_until(later), 5 * 86_400);
        assert!(Timestamp::parse("2026-11-20T09:00:00").is_none());
    }

    #[test]
    fn dates_are_strict() {
        assert!(Date::parse("2026-02-29").is_none());
        assert!(Date::parse("2026-2-28").is_none());
        assert_eq!(
            Date::parse("2026-02-28")
                .unwrap()
                .add_days(1)
                .unwrap()
                .to_string(),
            "2026-03-01"
        );
        assert!(is_month("2026-12"));
        assert!(!is_month("2026-13"));
        assert!(!is_month("2026-1"));
    }
}
