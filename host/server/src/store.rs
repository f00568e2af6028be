//! The audit store: decision records, and every bundle and artifact that
//! ever decided, in SQLite (a file under the data directory, WAL) or
//! PostgreSQL, through one schema and one set of migrations.
//!
//! Decisions are written by one writer task with group commit: records from
//! many requests go into one transaction, and each request is answered only
//! after the transaction that holds its record has committed. Durability
//! costs one fsync per batch, not per decision.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

/// One authoritative decision, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// UUID v7: unique, and ordered by time.
    pub id: String,
    /// When the server received the request (UTC, RFC 3339).
    pub received_at: String,
    /// The name the policy is served under.
    pub policy_name: String,
    /// The entry point.
    pub entry: String,
    /// The input's `id`, when it has a string one (households do).
    pub household_id: Option<String>,
    /// `decided` (authoritative decisions are strict).
    pub status: String,
    /// The moment decided for.
    pub as_of: String,
    /// The input's canonical JSON.
    pub input: String,
    /// The envelope's JSON, as the engine wrote it.
    pub envelope: String,
    /// The bundle's hash.
    pub policy_hash: String,
    /// sha256 of the artifact that decided.
    pub artifact_sha256: String,
    /// Who asked (a token's name, or `anonymous`).
    pub caller: String,
    /// The client's `Idempotency-Key`, if it sent one.
    pub idempotency_key: Option<String>,
    /// The signed receipt's JSON.
    pub receipt: String,
}

/// Why the store failed.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError(error.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError(error.to_string())
    }
}

/// What a write gives back: the record now in the log, which for a retried
/// `Idempotency-Key` is the first one, not the new one.
pub type WriteResult = Result<DecisionRecord, StoreError>;

struct WriteRequest {
    record: DecisionRecord,
    done: oneshot::Sender<WriteResult>,
}

/// Filters of the decision listing.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DecisionFilter {
    /// Only this household.
    pub household: Option<String>,
    /// Only this entry.
    pub entry: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only decisions by this bundle hash.
    pub policy_hash: Option<String>,
    /// Received at or after (RFC 3339, UTC).
    pub since: Option<String>,
    /// Received before (RFC 3339, UTC).
    pub until: Option<String>,
    /// Continue after this decision id (the previous page's `next`).
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
}

/// One publication: from then on, `name` served the bundle `hash`.
#[derive(Debug, Clone, Serialize)]
pub struct Publication {
    /// Order among all publications.
    pub seq: i64,
    /// The policy name.
    pub name: String,
    /// The bundle's hash.
    pub hash: String,
    /// `disk:<path>` (read at start or on reload) or `api` (published).
    pub source: String,
    /// Who published: a token id, `loopback`, or `startup`.
    pub by: String,
    /// When, UTC.
    pub at: String,
}

/// The audit store's handle: queries, and the writer's queue.
#[derive(Clone)]
pub struct AuditStore {
    pool: AnyPool,
    writer: mpsc::Sender<WriteRequest>,
    backend: &'static str,
}

impl std::fmt::Debug for AuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// The writer task; await it after the last [`AuditStore`] clone is dropped
/// to know every queued record was written.
pub type WriterTask = tokio::task::JoinHandle<()>;

const COLUMNS: &str = "id, received_at, policy_name, entry, household_id, status, as_of, input, envelope, policy_hash, artifact_sha256, caller, idempotency_key, receipt";

impl AuditStore {
    /// Opens (creating and migrating) the store: PostgreSQL at
    /// `database_url`, else SQLite at `data_dir/audit.db`.
    pub async fn open(
        data_dir: &Path,
        database_url: Option<&str>,
        max_batch: usize,
    ) -> Result<(AuditStore, WriterTask), StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = match database_url {
            Some(url) => (url.to_string(), "postgres"),
            None => (
                format!("sqlite://{}?mode=rwc", data_dir.join("audit.db").display()),
                "sqlite",
            ),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == "sqlite" { 4 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == "sqlite" {
                        // WAL: readers never block the writer. FULL: a
                        // commit is on disk before it returns, so an
                        // answered decision survives a power cut too.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = FULL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let (writer, queue) = mpsc::channel(max_batch.max(1) * 4);
        let task = tokio::spawn(write_loop(pool.clone(), queue, max_batch.max(1)));
        Ok((
            AuditStore {
                pool,
                writer,
                backend,
            },
            task,
        ))
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Writes a decision record and returns once it is committed.
    pub async fn write(&self, record: DecisionRecord) -> WriteResult {
        let (done, answer) = oneshot::channel();
        self.writer
            .send(WriteRequest { record, done })
            .await
            .map_err(|_| StoreError("the audit writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError("the audit writer stopped before committing".into()))?
    }

    /// A decision by id.
    pub async fn decision(&self, id: &str) -> Result<Option<DecisionRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM decisions WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(record_of))
    }

    /// The decision a client's idempotency key already made, if any.
    pub async fn by_idempotency_key(
        &self,
        key: &str,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM decisions WHERE idempotency_key = $1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(record_of))
    }

    /// Decisions matching `filter`, newest first, and the cursor of the next
    /// page if there may be one.
    pub async fn list(
        &self,
        filter: &DecisionFilter,
    ) -> Result<(Vec<DecisionRecord>, Option<String>), StoreError> {
        let limit = filter.limit.unwrap_or(50).clamp(1, 500);
        let mut conditions = Vec::new();
        let mut values: Vec<&str> = Vec::new();
        for (condition, value) in [
            ("household_id = ?", &filter.household),
            ("entry = ?", &filter.entry),
            ("status = ?", &filter.status),
            ("policy_hash = ?", &filter.policy_hash),
            ("received_at >= ?", &filter.since),
            ("received_at < ?", &filter.until),
            ("id < ?", &filter.cursor),
        ] {
            if let Some(value) = value {
                values.push(value);
                conditions.push(condition.replace('?', &format!("${}", values.len())));
            }
        }
        let filter_sql = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM decisions {filter_sql} ORDER BY id DESC LIMIT {}",
            limit
        );
        let mut query = sqlx::query(&sql);
        for value in values {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let records: Vec<DecisionRecord> = rows.iter().map(record_of).collect();
        let next = (records.len() == limit as usize)
            .then(|| records.last().map(|r| r.id.clone()))
            .flatten();
        Ok((records, next))
    }

    /// Keeps a bundle by hash (once).
    pub async fn keep_bundle(
        &self,
        hash: &str,
        name: &str,
        version: &str,
        packed: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO bundles (hash, name, version, packed, first_served_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(hash)
        .bind(name)
        .bind(version)
        .bind(packed)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A kept bundle's packed JSON.
    pub async fn bundle(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT packed FROM bundles WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.get::<String, _>(0)))
    }

    /// Keeps an artifact by sha256 (once).
    pub async fn keep_artifact(
        &self,
        sha256: &str,
        wasm: &[u8],
        now: &str,
    ) -> Result<(), StoreError> {
        let exists = sqlx::query("SELECT 1 FROM artifacts WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            sqlx::query(
                "INSERT INTO artifacts (sha256, wasm_hex, first_served_at) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(sha256)
            .bind(hex::encode(wasm))
            .bind(now)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// A kept artifact's bytes.
    pub async fn artifact(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT wasm_hex FROM artifacts WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| hex::decode(row.get::<String, _>(0)).map_err(|e| StoreError(e.to_string())))
            .transpose()
    }

    /// Records that `name` now serves `hash`; returns the publication's
    /// sequence number. Sequence numbers are dense and ordered across
    /// replicas: two replicas publishing at once collide on the key and the
    /// loser takes the next one.
    pub async fn publish(
        &self,
        name: &str,
        hash: &str,
        source: &str,
        by: &str,
        now: &str,
    ) -> Result<i64, StoreError> {
        let mut last_error = None;
        for _ in 0..8 {
            let inserted = sqlx::query(
                "INSERT INTO publications (seq, policy_name, bundle_hash, source, published_by, published_at) \
                 SELECT COALESCE(MAX(seq), 0) + 1, $1, $2, $3, $4, $5 FROM publications RETURNING seq",
            )
            .bind(name)
            .bind(hash)
            .bind(source)
            .bind(by)
            .bind(now)
            .fetch_one(&self.pool)
            .await;
            match inserted {
                Ok(row) => return Ok(row.get::<i64, _>(0)),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.map_or_else(|| StoreError("publishing failed".into()), StoreError::from))
    }

    /// Publications after sequence number `seq`, in order.
    pub async fn publications_after(&self, seq: i64) -> Result<Vec<Publication>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, policy_name, bundle_hash, source, published_by, published_at FROM publications WHERE seq > $1 ORDER BY seq",
        )
        .bind(seq)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| Publication {
                seq: row.get(0),
                name: row.get(1),
                hash: row.get(2),
                source: row.get(3),
                by: row.get(4),
                at: row.get(5),
            })
            .collect())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

fn record_of(row: &AnyRow) -> DecisionRecord {
    DecisionRecord {
        id: row.get("id"),
        received_at: row.get("received_at"),
        policy_name: row.get("policy_name"),
        entry: row.get("entry"),
        household_id: row.get("household_id"),
        status: row.get("status"),
        as_of: row.get("as_of"),
        input: row.get("input"),
        envelope: row.get("envelope"),
        policy_hash: row.get("policy_hash"),
        artifact_sha256: row.get("artifact_sha256"),
        caller: row.get("caller"),
        idempotency_key: row.get("idempotency_key"),
        receipt: row.get("receipt"),
    }
}

/// Statistics of the writer, for `/metrics`.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: std::sync::atomic::AtomicU64,
    /// Records committed.
    pub records: std::sync::atomic::AtomicU64,
    /// Total commit time, microseconds.
    pub commit_micros: std::sync::atomic::AtomicU64,
}

/// The process's writer statistics.
pub static WRITER_STATS: WriterStats = WriterStats {
    batches: std::sync::atomic::AtomicU64::new(0),
    records: std::sync::atomic::AtomicU64::new(0),
    commit_micros: std::sync::atomic::AtomicU64::new(0),
};

/// Takes whatever is queued (up to `max_batch`), writes it in one
/// transaction, answers every request, repeats; ends when every sender is
/// gone and the queue is empty.
async fn write_loop(pool: AnyPool, mut queue: mpsc::Receiver<WriteRequest>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    while queue.recv_many(&mut batch, max_batch).await > 0 {
        let started = Instant::now();
        let results = write_batch(&pool, &batch).await;
        let elapsed = started.elapsed();
        match results {
            Ok(results) => {
                use std::sync::atomic::Ordering::Relaxed;
                WRITER_STATS.batches.fetch_add(1, Relaxed);
                WRITER_STATS.records.fetch_add(batch.len() as u64, Relaxed);
                WRITER_STATS
                    .commit_micros
                    .fetch_add(elapsed.as_micros() as u64, Relaxed);
                for (request, result) in batch.drain(..).zip(results) {
                    let _ = request.done.send(result);
                }
            }
            Err(error) => {
                tracing::error!(%error, records = batch.len(), "audit batch failed; nothing of it was acknowledged");
                for request in batch.drain(..) {
                    let _ = request.done.send(Err(StoreError(error.to_string())));
                }
                // Do not spin on a database that is down.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One transaction for the batch. A record whose idempotency key is
/// already in the log is not inserted; its answer is the first record.
async fn write_batch(
    pool: &AnyPool,
    batch: &[WriteRequest],
) -> Result<Vec<WriteResult>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for request in batch {
        let r = &request.record;
        let inserted = sqlx::query(&format!(
            "INSERT INTO decisions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (idempotency_key) DO NOTHING"
        ))
        .bind(&r.id)
        .bind(&r.received_at)
        .bind(&r.policy_name)
        .bind(&r.entry)
        .bind(&r.household_id)
        .bind(&r.status)
        .bind(&r.as_of)
        .bind(&r.input)
        .bind(&r.envelope)
        .bind(&r.policy_hash)
        .bind(&r.artifact_sha256)
        .bind(&r.caller)
        .bind(&r.idempotency_key)
        .bind(&r.receipt)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            results.push(Ok(r.clone()));
        } else {
            let key = r.idempotency_key.as_deref().unwrap_or_default();
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM decisions WHERE idempotency_key = $1"
            ))
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            results.push(Ok(record_of(&row)));
        }
    }
    tx.commit().await?;
    Ok(results)
}
