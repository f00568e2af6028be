//! The audit log as a population for `eligo impact --audit`: the stored
//! decisions of a time range, each with its input, its `as_of` and the
//! envelope that was answered. The impact run re-decides each input under
//! the draft at its own `as_of` and compares with what was really decided
//! ("what would the draft have changed for last month's decisions?").
//!
//! Read page by page (newest first, as the log lists them), so memory stays
//! bounded whatever the log's size.

use std::io;
use std::path::Path;

use eligo_runtime::batch::CHUNK_LINES;
use eligo_runtime::sources::{Household, Population};

use crate::store::{AuditStore, DecisionFilter};
use crate::ServeError;

/// Which stored decisions to read.
#[derive(Debug, Clone, Default)]
pub struct AuditRange {
    pub entry: String,
    /// Received at or after (RFC 3339, UTC).
    pub since: Option<String>,
    /// Received before (RFC 3339, UTC).
    pub until: Option<String>,
}

/// Stored decisions, a page at a time.
pub struct AuditPopulation {
    runtime: tokio::runtime::Runtime,
    store: Option<AuditStore>,
    writer: Option<tokio::task::JoinHandle<()>>,
    filter: DecisionFilter,
    read: usize,
    done: bool,
}

impl AuditPopulation {
    /// Opens the audit log of `data_dir` (or the PostgreSQL one).
    pub fn open(
        data_dir: &Path,
        database_url: Option<&str>,
        range: AuditRange,
    ) -> Result<AuditPopulation, ServeError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ServeError(format!("cannot start the async runtime: {e}")))?;
        if database_url.is_none() && !data_dir.join("audit.db").is_file() {
            return Err(ServeError(format!(
                "{} has no audit log (audit.db); give the server's data directory or --database-url",
                data_dir.display()
            )));
        }
        let (store, writer) = runtime
            .block_on(AuditStore::open(data_dir, database_url, 1))
            .map_err(|e| ServeError(e.to_string()))?;
        Ok(AuditPopulation {
            runtime,
            store: Some(store),
            writer: Some(writer),
            filter: DecisionFilter {
                entry: Some(range.entry),
                since: range.since,
                until: range.until,
                limit: Some(500),
                ..DecisionFilter::default()
            },
            read: 0,
            done: false,
        })
    }
}

impl Population for AuditPopulation {
    fn next_chunk(&mut self) -> io::Result<Vec<Household>> {
        let mut chunk = Vec::new();
        let Some(store) = &self.store else {
            return Ok(chunk);
        };
        while !self.done && chunk.len() < CHUNK_LINES {
            let (records, next) = self
                .runtime
                .block_on(store.list(&self.filter))
                .map_err(io::Error::other)?;
            for record in records {
                self.read += 1;
                chunk.push(Household {
                    line: self.read,
                    input: Ok(record.input.into_bytes()),
                    as_of: Some(record.as_of),
                    decided: Some(record.envelope),
                });
            }
            match next {
                Some(cursor) => self.filter.cursor = Some(cursor),
                None => self.done = true,
            }
        }
        Ok(chunk)
    }
}

impl Drop for AuditPopulation {
    fn drop(&mut self) {
        // Close the store, then let its writer task finish.
        self.store = None;
        if let Some(writer) = self.writer.take() {
            let _ = self.runtime.block_on(writer);
        }
    }
}
