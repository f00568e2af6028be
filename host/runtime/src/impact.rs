//! The impact job: every household of a population decided under a base
//! and a draft policy (or one policy at two dates), the differences
//! accumulated by [`eligo_core::impact::Impact`].
//!
//! Lines are read in chunks, each chunk decided in parallel and folded
//! into accumulators that are merged in input order, so memory stays
//! bounded (counts, totals, a few example ids) whatever the population
//! size, and the examples are the first households in the file.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use eligo_core::impact::{Impact, Outcome};
use eligo_core::param_changes::ParamChanges;
use eligo_core::wire::DecideRequest;
use eligo_core::Mode;
use rayon::prelude::*;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::decider::Decider;
use crate::sources::{Household, Population};

/// One side of the comparison.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub decider: &'a Decider,
    pub as_of: &'a str,
}

/// What every household shares.
#[derive(Debug, Clone, Copy)]
pub struct ImpactOptions<'a> {
    pub entry: &'a str,
    pub mode: Mode,
    pub lang: Option<&'a str>,
    /// Groupings: an input field path (`district`) or a base result path
    /// (`class`, `size`); a list counts as its length.
    pub by: &'a [String],
    /// When the draft differs from the base only in these parameters
    /// ([`ParamChanges::between`]), a household whose base decision read
    /// none of them keeps its base decision instead of being decided again.
    pub param_changes: Option<&'a ParamChanges>,
}

/// A household that cannot be decided (not UTF-8, not JSON, too long, a bad
/// CSV cell), by the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct ImpactRun {
    pub impact: Impact,
    /// Households read (lines of JSON Lines), bad ones included.
    pub lines: usize,
    /// Bad lines, counted; the first [`KEPT_BAD_LINES`] kept.
    pub bad_count: usize,
    pub bad_lines: Vec<BadLine>,
    /// Households whose draft decision was known from the base decision
    /// (see [`ImpactOptions::param_changes`]).
    pub reused: usize,
    /// Stopped early (by the caller's stop flag): the counts cover the
    /// lines before.
    pub stopped: bool,
}

/// Bad lines reported by number, at most.
pub const KEPT_BAD_LINES: usize = 20;

/// The value at a dotted path, as a group label.
fn label_at(value: &Value, path: &str) -> Option<String> {
    let found = path
        .split('.')
        .try_fold(value, |value, key| value.get(key))?;
    Some(match found {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.len().to_string(),
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    })
}

/// A household line's `id` as a full parse reads it (`null` kept, the
/// last of repeated keys), every other field skipped unbuilt.
struct IdOnly {
    id: Option<Value>,
}

impl<'de> serde::Deserialize<'de> for IdOnly {
    fn deserialize<D: serde::Deserializer<'de>>(line: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = IdOnly;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<IdOnly, A::Error> {
                let mut id = None;
                while let Some(IsId(is_id)) = map.next_key()? {
                    if is_id {
                        id = Some(map.next_value()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(IdOnly { id })
            }
        }
        line.deserialize_map(Fields)
    }
}

/// Whether a key is `id`, read without copying it.
struct IsId(bool);

impl<'de> serde::Deserialize<'de> for IsId {
    fn deserialize<D: serde::Deserializer<'de>>(key: D) -> Result<Self, D::Error> {
        struct Key;
        impl serde::de::Visitor<'_> for Key {
            type Value = IsId;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, key: &str) -> Result<IsId, E> {
                Ok(IsId(key == "id"))
            }
        }
        key.deserialize_identifier(Key)
    }
}

enum Decided {
    Household {
        id: String,
        groups: Vec<(String, String)>,
        before: Result<Value, String>,
        after: Result<Value, String>,
        reused: bool,
    },
    Bad(BadLine),
}

fn decide(
    base: Side<'_>,
    draft: Side<'_>,
    options: &ImpactOptions<'_>,
    household: &Household,
) -> Decided {
    let number = household.line;
    let bad = |message: String| {
        Decided::Bad(BadLine {
            line: number,
            message,
        })
    };
    let line = match &household.input {
        Ok(line) => line,
        Err(message) => return bad(message.clone()),
    };
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(error) => return bad(format!("not UTF-8: {error}")),
    };
    let input: &RawValue = match serde_json::from_str(text) {
        Ok(input) => input,
        Err(error) => return bad(format!("not JSON: {error}")),
    };
    let worker = rayon::current_thread_index().unwrap_or(0);
    let run = |side: Side<'_>| {
        let request = DecideRequest {
            entry: options.entry.to_string(),
            input,
            as_of: household.as_of.as_deref().unwrap_or(side.as_of).to_string(),
            mode: options.mode,
            lang: options.lang.map(str::to_string),
        };
        side.decider
            .decide_summary(worker, &request)
            .map_err(|error| error.kind.to_string())
    };
    let before = match &household.decided {
        Some(envelope) => match serde_json::from_str::<Value>(envelope) {
            Ok(envelope) => Ok(envelope),
            Err(error) => return bad(format!("the stored decision is not JSON: {error}")),
        },
        None => run(base),
    };
    let reused = match (&before, options.param_changes) {
        (Ok(envelope), Some(changes)) => changes.leaves_unchanged(envelope),
        _ => false,
    };
    let after = if reused { before.clone() } else { run(draft) };
    // Without groupings only the id is read: the rest of the line is
    // skipped, not built into a value.
    let input_value: Value = if options.by.is_empty() {
        serde_json::from_str::<IdOnly>(text)
            .ok()
            .and_then(|line| line.id)
            .map(|id| Value::Object([("id".to_string(), id)].into_iter().collect()))
            .unwrap_or(Value::Null)
    } else {
        serde_json::from_str(text).unwrap_or(Value::Null)
    };
    let id = label_at(&input_value, "id").unwrap_or_else(|| format!("line {number}"));
    let groups = options
        .by
        .iter()
        .map(|name| {
            let label = label_at(&input_value, name)
                .or_else(|| {
                    before
                        .as_ref()
                        .ok()
                        .and_then(|envelope| label_at(&envelope["result"], name))
                })
                .unwrap_or_else(|| "(none)".to_string());
            (name.clone(), label)
        })
        .collect();
    Decided::Household {
        id,
        groups,
        before,
        after,
        reused,
    }
}

fn outcome(side: &Result<Value, String>) -> Outcome<'_> {
    match side {
        Ok(envelope) => Outcome::Envelope(envelope),
        Err(kind) => Outcome::Error(kind),
    }
}

/// Decides every household of `population` under both sides and
/// accumulates the differences. `progress` hears the number of households
/// done after each chunk; setting `stop` ends the run after the chunk in
/// progress.
pub fn run(
    base: Side<'_>,
    draft: Side<'_>,
    options: &ImpactOptions<'_>,
    pool: &rayon::ThreadPool,
    population: &mut dyn Population,
    progress: &(dyn Fn(usize) + Sync),
    stop: &AtomicBool,
) -> io::Result<ImpactRun> {
    let mut run = ImpactRun::default();
    loop {
        if stop.load(Ordering::Relaxed) {
            run.stopped = true;
            break;
        }
        let chunk = population.next_chunk()?;
        if chunk.is_empty() {
            break;
        }
        let (impact, bad, reused): (Impact, Vec<BadLine>, usize) = pool.install(|| {
            chunk
                .par_iter()
                .fold(
                    || (Impact::new(), Vec::new(), 0),
                    |(mut impact, mut bad, mut reused_count), household| {
                        match decide(base, draft, options, household) {
                            Decided::Bad(line) => bad.push(line),
                            Decided::Household {
                                id,
                                groups,
                                before,
                                after,
                                reused,
                            } => {
                                impact.add(&id, &groups, outcome(&before), outcome(&after));
                                reused_count += usize::from(reused);
                            }
                        }
                        (impact, bad, reused_count)
                    },
                )
                .reduce(
                    || (Impact::new(), Vec::new(), 0),
                    |(mut impact, mut bad, reused), (other, other_bad, other_reused)| {
                        impact.merge(other);
                        bad.extend(other_bad);
                        (impact, bad, reused + other_reused)
                    },
                )
        });
        run.impact.merge(impact);
        run.bad_count += bad.len();
        run.reused += reused;
        let room = KEPT_BAD_LINES.saturating_sub(run.bad_lines.len());
        run.bad_lines.extend(bad.into_iter().take(room));
        run.lines += chunk.len();
        progress(run.lines);
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id alone reads as the full parse reads it.
    #[test]
    fn the_id_alone_is_the_id_a_full_parse_reads() {
        for line in [
            r#"{"id": "h1", "members": [{"age": 3}], "x": {"id": "inner"}}"#,
            r#"{"members": [], "id": 17}"#,
            r#"{"id": null}"#,
            r#"{"id": "first", "id": "last"}"#,
            r#"{"\u0069d": "escaped key"}"#,
            r#"{"members": []}"#,
            r#"[1, 2]"#,
        ] {
            let full: Value = serde_json::from_str(line).unwrap();
            let alone = serde_json::from_str::<IdOnly>(line).ok().and_then(|l| l.id);
            assert_eq!(alone.as_ref(), full.get("id"), "{line}");
        }
    }
}
