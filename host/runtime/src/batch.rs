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

/// One input line, or the news that it was longer than an input may be.
enum Line {
    Text(Vec<u8>),
    TooLong,
}

/// The next line without its `\n`, keeping at most `cap` bytes: a longer
/// line is skipped to its end without being kept, so an endless line
/// (`/dev/zero`) costs no memory. `None` at the end of the input.
fn next_line(input: &mut impl BufRead, cap: usize) -> io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut too_long = false;
    let mut read_any = false;
    loop {
        let available = match input.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            break;
        }
        read_any = true;
        let newline = available.iter().position(|&byte| byte == b'\n');
        let part = &available[..newline.unwrap_or(available.len())];
        if !too_long {
            if line.len() + part.len() > cap {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(part);
            }
        }
        let used = newline.map_or(available.len(), |at| at + 1);
        input.consume(used);
        if newline.is_some() {
            break;
        }
    }
    Ok(match (read_any, too_long) {
        (false, _) => None,
        (true, true) => Some(Line::TooLong),
        (true, false) => Some(Line::Text(line)),
    })
}

/// The next [`CHUNK_LINES`] lines (fewer at the end, none when done),
/// each without its line ending; `None` for a line longer than an input
/// may be.
pub(crate) fn read_chunk(input: &mut impl BufRead) -> io::Result<Vec<Option<Vec<u8>>>> {
    let mut chunk = Vec::with_capacity(CHUNK_LINES);
    while chunk.len() < CHUNK_LINES {
        match next_line(input, eligo_core::api::MAX_INPUT_BYTES)? {
            None => break,
            Some(Line::Text(mut line)) => {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                chunk.push(Some(line));
            }
            Some(Line::TooLong) => chunk.push(None),
        }
    }
    Ok(chunk)
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
    let mut input = input;
    loop {
        let chunk = read_chunk(&mut input)?;
        if chunk.is_empty() {
            break;
        }
        let first = summary.lines + 1;
        let results: Vec<(String, bool)> = pool.install(|| {
            chunk
                .par_iter()
                .enumerate()
                .map(|(i, line)| match line {
                    Some(line) => {
                        let worker = rayon::current_thread_index().unwrap_or(0);
                        decide_line(decider, worker, options, first + i, line)
                    }
                    None => (
                        line_error(&eligo_core::api::input_too_large(), first + i),
                        false,
                    ),
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
