//! Deciding a stream of JSON Lines on every core, output in input order.
//!
//! Lines are read in chunks; each chunk is decided in parallel and written
//! before the next is read, so memory stays bounded however long the stream.
//! A bad line gives an error object (with its line number) on its own output
//! line; it never stops the batch.

use std::io::{self, BufRead, Write};

use eligo_core::Mode;
use rayon::prelude::*;

use crate::runtime::{decide_request, Decider};

/// Lines decided together; large enough to keep both cores busy.
pub const CHUNK_LINES: usize = 2048;

/// What every line of a batch shares.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions<'a> {
    pub entry: &'a str,
    pub as_of: &'a str,
    pub mode: Mode,
    pub lang: Option<&'a str>,
}

/// Counts of a finished batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    pub lines: usize,
    pub errors: usize,
}

/// Decides one line: the envelope, or `{"error": {...}, "line": n}`.
pub fn decide_line(
    decider: &Decider,
    worker: usize,
    options: &BatchOptions<'_>,
    number: usize,
    line: &str,
) -> (String, bool) {
    if let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(line) {
        let body = serde_json::json!({
            "line": number,
            "error": { "kind": "bad_json", "message": format!("line {number} is not JSON: {error}") },
        });
        return (body.to_string(), false);
    }
    let request = decide_request(
        options.entry,
        options.as_of,
        options.mode,
        options.lang,
        line,
    );
    let answer = decider.decide(worker, &request);
    if answer.starts_with("{\"error\"") {
        // `{"error":{…}}` → `{"error":{…},"line":n}`
        (
            format!("{},\"line\":{number}}}", &answer[..answer.len() - 1]),
            false,
        )
    } else {
        (answer, true)
    }
}

/// Decides every line of `input` on `pool`, writing one result line per
/// input line.
pub fn run(
    decider: &Decider,
    options: &BatchOptions<'_>,
    pool: &rayon::ThreadPool,
    input: impl BufRead,
    mut output: impl Write,
) -> io::Result<BatchSummary> {
    let mut summary = BatchSummary::default();
    let mut lines = input.lines();
    loop {
        let mut chunk = Vec::with_capacity(CHUNK_LINES);
        for line in lines.by_ref().take(CHUNK_LINES) {
            chunk.push(line?);
        }
        if chunk.is_empty() {
            break;
        }
        let first = summary.lines + 1;
        let results: Vec<(String, bool)> = pool.install(|| {
            chunk
                .par_iter()
                .enumerate()
                .map(|(i, line)| {
                    let worker = rayon::current_thread_index().unwrap_or(0);
                    decide_line(decider, worker, options, first + i, line)
                })
                .collect()
        });
        for (text, ok) in &results {
            output.write_all(text.as_bytes())?;
            output.write_all(b"\n")?;
            if !ok {
                summary.errors += 1;
            }
        }
        summary.lines += chunk.len();
    }
    output.flush()?;
    Ok(summary)
}
