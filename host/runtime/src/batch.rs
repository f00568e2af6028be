//! Deciding a stream of JSON Lines on every core, output in input order.
//!
//! Lines are read in chunks; each chunk is decided in parallel and written
//! before the next is read, so memory stays bounded however long the stream.
//! A bad line (not UTF-8, not JSON, or an input the engine refuses) gives an
//! error object with its line number on its own output line; it never stops
//! the batch.

use std::io::{self, BufRead, Write};

use eligo_core::wire::{DecideRequest, ErrorBody, ErrorKind};
use eligo_core::Mode;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::decider::Decider;

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

/// A line's error answer: `{"error": {…}, "line": n}`.
#[derive(Serialize)]
struct LineError<'a> {
    error: &'a ErrorBody,
    line: usize,
}

fn line_error(error: &ErrorBody, number: usize) -> String {
    serde_json::to_string(&LineError {
        error,
        line: number,
    })
    .expect("an error serialises")
}

/// Decides one line: the envelope, or `{"error": {...}, "line": n}`.
pub fn decide_line(
    decider: &Decider,
    worker: usize,
    options: &BatchOptions<'_>,
    number: usize,
    line: &[u8],
) -> (String, bool) {
    let input = std::str::from_utf8(line)
        .map_err(|error| format!("line {number} is not UTF-8: {error}"))
        .and_then(|text| {
            serde_json::from_str::<&RawValue>(text)
                .map_err(|error| format!("line {number} is not JSON: {error}"))
        });
    let input = match input {
        Ok(input) => input,
        Err(message) => {
            return (
                line_error(&ErrorBody::new(ErrorKind::BadJson, message), number),
                false,
            )
        }
    };
    let request = DecideRequest {
        entry: options.entry.to_string(),
        input,
        as_of: options.as_of.to_string(),
        mode: options.mode,
        lang: options.lang.map(str::to_string),
    };
    match decider.decide(worker, &request) {
        Ok(envelope) => (envelope.into_string(), true),
        Err(error) => (line_error(&error, number), false),
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
    let mut lines = input.split(b'\n');
    loop {
        let mut chunk = Vec::with_capacity(CHUNK_LINES);
        for line in lines.by_ref().take(CHUNK_LINES) {
            let mut line = line?;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            chunk.push(line);
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
