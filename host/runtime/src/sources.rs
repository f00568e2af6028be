//! Where a population's households come from, in chunks: JSON Lines (one
//! input per line) or CSV (one row per member, see [`crate::population_csv`]).
//! Each household carries the line it starts on, so a bad one is reported
//! where a person can find it.

use std::io::{self, BufRead};

use crate::batch::read_chunk;

/// One household: the line it starts on, and its input as JSON text or why
/// it is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Household {
    pub line: usize,
    pub input: Result<Vec<u8>, String>,
    /// Its own moment to decide for (an audit log's record), instead of
    /// the run's.
    pub as_of: Option<String>,
    /// Its base decision, already made (an audit log's stored envelope):
    /// only the draft decides it again.
    pub decided: Option<String>,
}

impl Household {
    /// A household from a file: its line and input.
    pub fn at_line(line: usize, input: Result<Vec<u8>, String>) -> Household {
        Household {
            line,
            input,
            as_of: None,
            decided: None,
        }
    }
}

/// A stream of households, read a chunk at a time so memory stays bounded.
pub trait Population {
    /// The next households (none when the population is done).
    fn next_chunk(&mut self) -> io::Result<Vec<Household>>;
}

/// JSON Lines: every line one household.
pub struct JsonLines<R> {
    input: R,
    lines: usize,
}

impl<R: BufRead> JsonLines<R> {
    pub fn new(input: R) -> JsonLines<R> {
        JsonLines { input, lines: 0 }
    }
}

impl<R: BufRead> Population for JsonLines<R> {
    fn next_chunk(&mut self) -> io::Result<Vec<Household>> {
        let chunk = read_chunk(&mut self.input)?;
        let first = self.lines + 1;
        self.lines += chunk.len();
        Ok(chunk
            .into_iter()
            .enumerate()
            .map(|(i, line)| {
                Household::at_line(
                    first + i,
                    line.ok_or_else(|| eligo_core::api::input_too_large().to_string()),
                )
            })
            .collect())
    }
}
