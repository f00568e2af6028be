//! Deciding a stream of JSON Lines on every core, output in input order.
//!
//! Lines are read in chunks; each chunk is decided in parallel while the
//! one before is written and the one after is read, so memory stays
//! bounded however long the stream.
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
///
/// While the pool decides one chunk, this thread writes the results of the
/// one before and reads the one after: done in turn, the pool sat idle
/// while they were, and reading and writing a chunk of the synthetic
/// population took about a tenth of the time its deciding took on two
/// threads. At most three chunks are held at once.
pub fn run(
    decider: &Decider,
    options: &BatchOptions<'_>,
    pool: &rayon::ThreadPool,
    input: impl BufRead,
    mut output: impl Write,
) -> io::Result<BatchSummary> {
    let mut summary = BatchSummary::default();
    let mut input = input;
    let mut chunk = read_chunk(&mut input)?;
    let mut decided: Option<Vec<(String, bool)>> = None;
    std::thread::scope(|scope| {
        while !chunk.is_empty() {
            let first = summary.lines + 1;
            summary.lines += chunk.len();
            let deciding = std::mem::take(&mut chunk);
            let deciding =
                scope.spawn(move || decide_chunk(decider, options, pool, first, &deciding));
            if let Some(results) = decided.take() {
                summary.errors += write_results(&mut output, &results)?;
            }
            chunk = read_chunk(&mut input)?;
            decided = Some(
                deciding
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        if let Some(results) = decided.take() {
            summary.errors += write_results(&mut output, &results)?;
        }
        output.flush()?;
        Ok(summary)
    })
}

/// Decides one chunk on `pool`: each line's answer and whether it is an
/// envelope, in order; `first` is the chunk's first line number.
fn decide_chunk(
    decider: &Decider,
    options: &BatchOptions<'_>,
    pool: &rayon::ThreadPool,
    first: usize,
    chunk: &[Option<Vec<u8>>],
) -> Vec<(String, bool)> {
    pool.install(|| {
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
    })
}

/// Writes one line per result; how many were errors.
fn write_results(output: &mut impl Write, results: &[(String, bool)]) -> io::Result<usize> {
    let mut errors = 0;
    for (text, ok) in results {
        output.write_all(text.as_bytes())?;
        output.write_all(b"\n")?;
        if !ok {
            errors += 1;
        }
    }
    Ok(errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decider::tests::tiny;

    /// Several chunks, with bad lines in each: every answer is on its
    /// input's line, numbered as that line, the same text as deciding the
    /// line alone; the summary counts every line and every error.
    #[test]
    fn lines_across_chunks_answer_in_order_as_each_alone() {
        let decider = Decider::native(tiny(), 2).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let options = BatchOptions {
            entry: "job",
            as_of: "2026-11-20T09:00:00+08:00",
            mode: Mode::Strict,
            lang: None,
        };
        let count = 2 * CHUNK_LINES + 300;
        let bad = [5, CHUNK_LINES - 1, CHUNK_LINES, CHUNK_LINES + 17, count - 1];
        let lines: Vec<String> = (0..count)
            .map(|i| match bad.iter().position(|&at| at == i) {
                Some(k) if k % 2 == 0 => "{not json".to_string(),
                Some(_) => "{\"x\": \"a\"}".to_string(),
                None => format!("{{\"x\": {i}.25}}"),
            })
            .collect();
        let input = lines.join("\n") + "\n";
        let mut output = Vec::new();
        let summary = run(&decider, &options, &pool, input.as_bytes(), &mut output).unwrap();
        assert_eq!(
            summary,
            BatchSummary {
                lines: count,
                errors: bad.len()
            }
        );
        let answers: Vec<&str> = std::str::from_utf8(&output).unwrap().lines().collect();
        assert_eq!(answers.len(), count);
        for (i, (line, answer)) in lines.iter().zip(&answers).enumerate() {
            let (alone, _) = decide_line(&decider, 0, &options, i + 1, line.as_bytes());
            assert_eq!(*answer, alone, "line {}", i + 1);
            if bad.contains(&i) {
                assert!(
                    answer.ends_with(&format!(",\"line\":{}}}", i + 1)),
                    "{answer}"
                );
            } else {
                assert!(
                    answer.contains(&format!("\"text\":\"ok {i}.25\"")),
                    "{answer}"
                );
            }
        }
    }
}
