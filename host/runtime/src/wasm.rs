//! Running the engine's `.wasm` artifact in wasmtime: the same bytes the
//! browser loads decide on the server.
//!
//! - The module is compiled once per artifact and wasmtime build, and the
//!   machine code cached on disk (keyed by artifact sha256, wasmtime version
//!   and engine configuration); later runs deserialize it in a few
//!   milliseconds instead of compiling for seconds.
//! - One [`WasmEngine`] per process, shared by every bundle the process
//!   holds: the artifact compiled twice, once for each way of stopping a
//!   call at its deadline ([`Stopping`]), each with its wasmtime `Engine`,
//!   `Module` and `InstancePre`, and one epoch ticker.
//! - One [`WasmRuntime`] per loaded bundle: instances come from the pooling
//!   allocator through the shared `InstancePre`; each loads the bundle once
//!   and then stays warm in the runtime's pool, shared by all threads. At
//!   most [`CallLimits::max_instances`] exist at once; callers beyond that
//!   wait for one to come free rather than fail.
//! - Every call is bounded: Rhai's operation limit inside (deterministic, the
//!   same in the browser), and here a deadline and a memory cap as a
//!   backstop. An instance that traps is dropped and replaced.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use eligo_core::wire::{DecideRequest, ErrorBody, ErrorKind, LoadRequest};
use eligo_core::BundleFiles;
use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::{
    Caller, Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module,
    PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder, TypedFunc,
};

/// The wasmtime this host is built with; part of the cache key.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Instance slots in the pooling allocator: the most instances all the
/// runtimes of a process can have at once.
pub const MAX_INSTANCES: usize = 64;

/// Set in an answer's packed `u64` when it is an error answer (the
/// artifact's C ABI, `wasm/src/abi.rs`).
const ERROR_FLAG: u64 = 1 << 31;

/// How the name of the artifact's one host import begins: the rules ask it
/// whether their call is past its deadline (`HOST_DEADLINE_IMPORT` in
/// `wasm/src/abi.rs`; wasm-bindgen appends a hash).
const HOST_DEADLINE_IMPORT: &str = "__wbg_eligoHostDeadlinePassed_";

/// How an instance's call is stopped at its deadline.
///
/// The epoch checks wasmtime compiles into every function entry and loop
/// back-edge cost a household decision 15 % of its time (`perf` of
/// `eligo batch --runtime wasm`: 19,360 samples against 16,458 without;
/// the benchmark 27.2 µs against 23.9). Decisions therefore run without
/// them, and everything before a bundle has proved itself keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopping {
    /// Epoch checks compiled in: the ticker interrupts the instance
    /// wherever it is, whatever the code. For a bundle's first load
    /// ([`WasmRuntime::new`]), its test suite ([`WasmRuntime::test_json`])
    /// and [`AbiSession`].
    Interrupted,
    /// No compiled checks: the rules ask the host every
    /// [`HOST_STOP_EVERY`](eligo_core::sandbox::HOST_STOP_EVERY) operations
    /// (the deadline import) and stop where they are, as native decisions
    /// do, with the same `stopped` answer. Everything else a call does is
    /// bounded by the core's size limits. Instances that decide are of
    /// this kind when the artifact asks the question (older ones do not:
    /// [`WasmEngine::deciding_instances`]); they load a bundle only after
    /// an interrupted instance loaded it within its deadline (the same
    /// bytes into the same code run the same steps, so the load ends here
    /// too).
    Polled,
}

/// The deadline of loading a bundle into an instance, in epoch ticks: a
/// backstop like the decision's. Loading is bounded by the core's size
/// limits; a bundle at those limits (4 MiB of parameters, 45,000 of them)
/// loads in 1.5 s in the artifact, so this is never reached by a bundle
/// the core accepts.
const LOAD_DEADLINE_TICKS: u64 = 3_000;

/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-call bounds the host enforces on top of the rules' own limits.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Wall-clock budget of one call, in epoch ticks of 10 ms.
    pub deadline_ticks: u64,
    /// Largest linear memory an instance may grow to.
    pub memory_bytes: usize,
    /// Most instances alive at once (capped at [`MAX_INSTANCES`]), so memory
    /// stays bounded however many threads call; further calls wait.
    pub max_instances: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            deadline_ticks: 500,
            memory_bytes: 256 << 20,
            max_instances: MAX_INSTANCES,
        }
    }
}

impl CallLimits {
    /// The deadline as a duration.
    fn deadline(&self) -> Duration {
        EPOCH_TICK.saturating_mul(u32::try_from(self.deadline_ticks).unwrap_or(u32::MAX))
    }

    /// These limits with the deadline of loading a bundle.
    fn for_loading(self) -> CallLimits {
        CallLimits {
            deadline_ticks: self.deadline_ticks.max(LOAD_DEADLINE_TICKS),
            ..self
        }
    }
}

/// Why a call through the runtime failed.
#[derive(Debug)]
pub enum RuntimeError {
    /// The artifact could not be read, compiled or instantiated.
    Artifact(String),
    /// The instance trapped (deadline, memory cap, or a crash inside); it
    /// was discarded.
    Trap(String),
    /// The bundle did not load inside the instance.
    Load(ErrorBody),
}

impl std::fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuntimeError::Artifact(message) => write!(f, "wasm artifact: {message}"),
            RuntimeError::Trap(message) => write!(f, "the decision was stopped: {message}"),
            RuntimeError::Load(error) => {
                write!(f, "the bundle did not load in the wasm engine: {error}")
            }
        }
    }
}

impl std::error::Error for RuntimeError {}

impl RuntimeError {
    /// The error answer a host gives for it.
    pub fn body(&self) -> ErrorBody {
        match self {
            RuntimeError::Load(error) => error.clone(),
            RuntimeError::Trap(_) => ErrorBody::new(ErrorKind::Stopped, self.to_string()),
            RuntimeError::Artifact(_) => ErrorBody::new(ErrorKind::HostError, self.to_string()),
        }
    }
}

/// An answer read back from the instance: its JSON text, and whether it is
/// an error answer.
struct RawAnswer {
    text: String,
    is_error: bool,
}

fn artifact_error(context: &str) -> impl Fn(wasmtime::Error) -> RuntimeError + '_ {
    move |error| RuntimeError::Artifact(format!("{context}: {error:#}"))
}

/// The exports of one instance.
struct Exports {
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    dealloc: TypedFunc<(u32, u32), ()>,
    load: TypedFunc<(u32, u32), u64>,
    decide: TypedFunc<(u32, u32), u64>,
    check: TypedFunc<(u32, u32), u64>,
    test: TypedFunc<(), u64>,
    describe: TypedFunc<(), u64>,
}

/// What a store holds for its instance's calls.
struct CallState {
    limits: StoreLimits,
    /// When the running call's time is up, for the deadline import; `None`
    /// in an interrupted instance, where the epoch stops calls.
    deadline: Option<Instant>,
}

/// A live instance with the bundle loaded.
struct Warm {
    store: Store<CallState>,
    exports: Exports,
}

impl Warm {
    /// Starts the clock of a call under `limits`.
    fn start_call(&mut self, limits: &CallLimits) {
        self.store.set_epoch_deadline(limits.deadline_ticks);
        let state = self.store.data_mut();
        if state.deadline.is_some() {
            state.deadline = Some(Instant::now() + limits.deadline());
        }
    }
}

/// Increments the interrupting engines' epochs until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Ticks the epoch of every engine of `compiled` that interrupts.
    fn start(compiled: &[&Compiled]) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let engines: Vec<Engine> = compiled
            .iter()
            .filter(|compiled| compiled.stopping == Stopping::Interrupted)
            .map(|compiled| compiled.engine.clone())
            .collect();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("eligo-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    for engine in &engines {
                        engine.increment_epoch();
                    }
                }
            })
            .ok();
        Ticker { stop, thread }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The artifact compiled for one way of stopping.
struct Compiled {
    engine: Engine,
    pre: InstancePre<CallState>,
    stopping: Stopping,
}

impl Compiled {
    /// Compiles (or loads from `cache_dir`) and links the artifact.
    fn new(
        stopping: Stopping,
        pooled: bool,
        plan: MemoryPlan,
        artifact: &[u8],
        artifact_sha256: &str,
        cache_dir: Option<&Path>,
    ) -> Result<Compiled, RuntimeError> {
        let engine = engine(plan, stopping, pooled)?;
        let module = module(&engine, artifact, artifact_sha256, cache_dir)?;
        let mut linker = Linker::new(&engine);
        if let Some(import) = deadline_import(&module) {
            linker
                .func_wrap(
                    import.module(),
                    import.name(),
                    |caller: Caller<'_, CallState>| -> i32 {
                        caller
                            .data()
                            .deadline
                            .is_some_and(|deadline| Instant::now() >= deadline)
                            .into()
                    },
                )
                .map_err(artifact_error("linking"))?;
        }
        // wasm-bindgen's JS imports are only reached through its JS API; the
        // C ABI never calls them, so here they trap if anything ever does.
        linker
            .define_unknown_imports_as_traps(&module)
            .map_err(artifact_error("linking"))?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(artifact_error("linking"))?;
        Ok(Compiled {
            engine,
            pre,
            stopping,
        })
    }
}

/// The artifact's deadline question, if it asks one: artifacts built before
/// it (kept in audit stores, replayed) do not.
fn deadline_import(module: &Module) -> Option<wasmtime::ImportType<'_>> {
    module
        .imports()
        .find(|import| import.name().starts_with(HOST_DEADLINE_IMPORT))
}

/// The artifact compiled once for the process: shared by every bundle's
/// [`WasmRuntime`], with one epoch ticker for all their deadlines.
pub struct WasmEngine {
    /// Instances that decide, from the pool: [`Stopping::Polled`], or for
    /// an artifact that asks no deadline question, interrupted ones.
    deciding: Compiled,
    /// Instances that load a bundle first ([`Stopping::Interrupted`]).
    interrupted: Compiled,
    artifact_sha256: String,
    /// Deciding instances the pool can hold at once ([`MemoryPlan`]).
    slots: usize,
    _ticker: Ticker,
}

impl std::fmt::Debug for WasmEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEngine")
            .field("artifact", &self.artifact_sha256)
            .finish_non_exhaustive()
    }
}

impl WasmEngine {
    /// Compiles the artifact (or loads its machine code from `cache_dir`)
    /// and links it.
    pub fn new(artifact: &[u8], cache_dir: Option<&Path>) -> Result<Arc<WasmEngine>, RuntimeError> {
        let plan = MemoryPlan::of_this_process();
        let artifact_sha256 = format!("sha256:{}", hex::encode(Sha256::digest(artifact)));
        let compile = |stopping, pooled| {
            Compiled::new(
                stopping,
                pooled,
                plan,
                artifact,
                &artifact_sha256,
                cache_dir,
            )
        };
        let interrupted = compile(Stopping::Interrupted, false)?;
        // Without the deadline question nothing would stop a polled call:
        // such an artifact decides in interrupted instances from the pool,
        // as it did when it was built.
        let deciding = if deadline_import(interrupted.pre.module()).is_some() {
            compile(Stopping::Polled, true)?
        } else {
            compile(Stopping::Interrupted, true)?
        };
        Ok(Arc::new(WasmEngine {
            _ticker: Ticker::start(&[&interrupted, &deciding]),
            deciding,
            interrupted,
            artifact_sha256,
            slots: plan.slots,
        }))
    }

    /// `sha256:<hex>` of the artifact, as envelopes report it.
    pub fn artifact_sha256(&self) -> &str {
        &self.artifact_sha256
    }

    /// How the instances that decide are stopped at their deadline.
    pub fn deciding_instances(&self) -> Stopping {
        self.deciding.stopping
    }
}

/// One bundle loaded into warm instances of the shared [`WasmEngine`].
pub struct WasmRuntime {
    engine: Arc<WasmEngine>,
    load_request: Vec<u8>,
    limits: CallLimits,
    pool: Mutex<Pool>,
    /// Signalled when an instance comes back or a slot frees up.
    freed: Condvar,
}

impl std::fmt::Debug for WasmRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmRuntime")
            .field("engine", &self.engine)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The runtime's instances: the idle ones, and how many exist in all.
#[derive(Default)]
struct Pool {
    idle: Vec<Warm>,
    live: usize,
    peak: usize,
    /// Calls that found every instance busy and waited.
    waits: u64,
    /// Calls waiting now: only then does a returned instance wake one.
    waiting: usize,
}

/// A snapshot of a runtime's instance pool (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Instances that exist now.
    pub live: usize,
    /// Of those, waiting for a call.
    pub idle: usize,
    /// Most that may exist.
    pub limit: usize,
    /// Calls so far that had to wait for an instance.
    pub waits: u64,
}

impl WasmRuntime {
    /// Loads the bundle (`files`: path → text) into a first instance, so a
    /// bundle that does not load fails here.
    pub fn new(
        engine: Arc<WasmEngine>,
        files: &BundleFiles,
        limits: CallLimits,
    ) -> Result<WasmRuntime, RuntimeError> {
        let request = LoadRequest {
            bundle: eligo_core::wire::BundleSource::Files(
                files
                    .iter()
                    .map(|(path, text)| (path.to_string(), text.to_string()))
                    .collect(),
            ),
            artifact: Some(engine.artifact_sha256.clone()),
            tests: true,
        };
        let load_request = serde_json::to_vec(&request).expect("a load request serialises");
        let runtime = WasmRuntime {
            engine,
            load_request,
            limits,
            pool: Mutex::new(Pool::default()),
            freed: Condvar::new(),
        };
        // Proved in an interrupted instance first: only a bundle that loads
        // within the deadline there is loaded where nothing interrupts.
        runtime.load_into(&runtime.engine.interrupted)?;
        let first = runtime.acquire()?;
        runtime.give_back(first);
        Ok(runtime)
    }

    /// Compiles the artifact for this runtime alone and loads the bundle:
    /// for one-bundle tools; a process holding several bundles shares one
    /// [`WasmEngine`] through [`WasmRuntime::new`].
    pub fn standalone(
        artifact: &[u8],
        files: &BundleFiles,
        cache_dir: Option<&Path>,
        limits: CallLimits,
    ) -> Result<WasmRuntime, RuntimeError> {
        WasmRuntime::new(WasmEngine::new(artifact, cache_dir)?, files, limits)
    }

    /// `sha256:<hex>` of the artifact, as envelopes report it.
    pub fn artifact_sha256(&self) -> &str {
        &self.engine.artifact_sha256
    }

    /// The engine this runtime's instances come from.
    pub fn engine(&self) -> &Arc<WasmEngine> {
        &self.engine
    }

    /// Decides one request: the envelope's JSON text as the engine wrote
    /// it, or the error (a trap or the deadline is `stopped`).
    pub fn decide<I: Serialize>(
        &self,
        request: &DecideRequest<I>,
    ) -> Result<crate::EnvelopeJson, ErrorBody> {
        let json = serde_json::to_string(request).map_err(|e| {
            ErrorBody::new(
                ErrorKind::BadRequest,
                format!("the request does not serialise: {e}"),
            )
        })?;
        self.decide_json(&json)
    }

    /// Decides one decide request given as JSON text.
    pub fn decide_json(&self, request: &str) -> Result<crate::EnvelopeJson, ErrorBody> {
        let answer = self
            .call(|warm| {
                let (ptr, len) = write(warm, request.as_bytes())?;
                let packed = warm.exports.decide.call(&mut warm.store, (ptr, len));
                free(warm, ptr, len)?;
                read_answer(warm, packed?)
            })
            .map_err(|error| error.body())?;
        if answer.is_error {
            Err(error_body(&answer.text))
        } else {
            Ok(crate::EnvelopeJson::new(answer.text))
        }
    }

    /// The bundle's test report (JSON).
    ///
    /// The whole suite runs under one deadline, in an interrupted instance
    /// of its own: a suite past it is one `stopped` error, as it always
    /// was, not its remaining cases stopped one by one and reported as
    /// failures.
    pub fn test_json(&self) -> Result<String, RuntimeError> {
        let mut warm = self.load_into(&self.engine.interrupted)?;
        warm.start_call(&self.limits);
        let packed = warm.exports.test.call(&mut warm.store, ());
        packed
            .and_then(|packed| read_answer(&mut warm, packed))
            .map(|answer| answer.text)
            .map_err(|error| RuntimeError::Trap(trap_message(&error, &self.limits)))
    }

    /// The bundle's description (JSON).
    pub fn describe_json(&self) -> Result<String, RuntimeError> {
        self.call(|warm| {
            let packed = warm.exports.describe.call(&mut warm.store, ())?;
            read_answer(warm, packed)
        })
        .map(|answer| answer.text)
    }

    /// Runs `work` on a warm instance under the call limits. The instance
    /// goes back to the pool only if nothing trapped.
    fn call(
        &self,
        work: impl FnOnce(&mut Warm) -> wasmtime::Result<RawAnswer>,
    ) -> Result<RawAnswer, RuntimeError> {
        let mut warm = self.acquire()?;
        warm.start_call(&self.limits);
        match work(&mut warm) {
            Ok(answer) => {
                self.give_back(warm);
                Ok(answer)
            }
            // A trapped instance may be in any state: drop it.
            Err(error) => {
                drop(warm);
                self.release_slot();
                Err(RuntimeError::Trap(trap_message(&error, &self.limits)))
            }
        }
    }

    /// Most instances that existed at once so far.
    pub fn peak_instances(&self) -> usize {
        self.lock_pool().peak
    }

    /// The pool now: instances alive, idle, and how many calls so far had
    /// to wait for one to come free.
    pub fn pool_stats(&self) -> PoolStats {
        let pool = self.lock_pool();
        PoolStats {
            live: pool.live,
            idle: pool.idle.len(),
            limit: self.instance_limit(),
            waits: pool.waits,
        }
    }

    /// Most instances of this bundle at once: as asked, within what the
    /// engine's pool holds.
    fn instance_limit(&self) -> usize {
        self.limits.max_instances.clamp(1, self.engine.slots)
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle instance, a new one if the limit allows, or else the next one
    /// that comes back.
    fn acquire(&self) -> Result<Warm, RuntimeError> {
        let limit = self.instance_limit();
        let mut pool = self.lock_pool();
        loop {
            if let Some(warm) = pool.idle.pop() {
                return Ok(warm);
            }
            if pool.live < limit {
                pool.live += 1;
                pool.peak = pool.peak.max(pool.live);
                break;
            }
            pool.waits += 1;
            pool.waiting += 1;
            pool = self.freed.wait(pool).unwrap_or_else(|p| p.into_inner());
            pool.waiting -= 1;
        }
        // Instantiating takes milliseconds: not under the lock.
        drop(pool);
        self.load_into(&self.engine.deciding)
            .inspect_err(|_| self.release_slot())
    }

    fn give_back(&self, warm: Warm) {
        let mut pool = self.lock_pool();
        pool.idle.push(warm);
        self.wake_one_waiting(pool);
    }

    /// An instance is gone for good; its slot may be filled again.
    fn release_slot(&self) {
        let mut pool = self.lock_pool();
        pool.live -= 1;
        self.wake_one_waiting(pool);
    }

    /// Wakes one caller waiting for an instance, if any is. A waiter
    /// registers under the lock before it waits, so this never misses one;
    /// waking nobody still cost a futex system call on every call (2.20 →
    /// 1.88 µs for the host's round trip of a request refused at once).
    fn wake_one_waiting(&self, pool: std::sync::MutexGuard<'_, Pool>) {
        let waiting = pool.waiting > 0;
        drop(pool);
        if waiting {
            self.freed.notify_one();
        }
    }

    fn bare_instance(&self) -> Result<(Store<CallState>, wasmtime::Instance), RuntimeError> {
        bare_instance(&self.engine.deciding, &self.limits)
    }

    /// Instantiates and drops one bare instance: what the pooling allocator
    /// and `InstancePre` make an instance cost (for the benchmark).
    pub fn time_bare_instance(&self) -> Result<(), RuntimeError> {
        self.bare_instance().map(drop)
    }

    /// Instantiates one instance and loads the bundle into it, then drops
    /// it: what replacing a trapped instance costs (for the benchmark).
    pub fn time_loaded_instance(&self) -> Result<(), RuntimeError> {
        self.load_into(&self.engine.deciding).map(drop)
    }

    /// A new instance of `compiled` with the bundle loaded.
    fn load_into(&self, compiled: &Compiled) -> Result<Warm, RuntimeError> {
        let mut warm = Warm::new(compiled, &self.limits)?;
        let load_limits = self.limits.for_loading();
        warm.start_call(&load_limits);
        let loaded = (|| {
            let (ptr, len) = write(&mut warm, &self.load_request)?;
            let packed = warm.exports.load.call(&mut warm.store, (ptr, len));
            free(&mut warm, ptr, len)?;
            read_answer(&mut warm, packed?)
        })()
        .map_err(|error| RuntimeError::Trap(trap_message(&error, &load_limits)))?;
        if loaded.is_error {
            return Err(RuntimeError::Load(error_body(&loaded.text)));
        }
        Ok(warm)
    }
}

/// A new instance, nothing run in it yet.
fn bare_instance(
    compiled: &Compiled,
    limits: &CallLimits,
) -> Result<(Store<CallState>, wasmtime::Instance), RuntimeError> {
    let state = CallState {
        limits: StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .trap_on_grow_failure(true)
            .build(),
        deadline: (compiled.stopping == Stopping::Polled)
            .then(|| Instant::now() + limits.deadline()),
    };
    let mut store = Store::new(&compiled.engine, state);
    store.limiter(|state| &mut state.limits);
    store.set_epoch_deadline(limits.deadline_ticks);
    let instance = compiled
        .pre
        .instantiate(&mut store)
        .map_err(artifact_error("instantiating"))?;
    Ok((store, instance))
}

impl Warm {
    /// A new instance with its exports, nothing loaded.
    fn new(compiled: &Compiled, limits: &CallLimits) -> Result<Warm, RuntimeError> {
        let (mut store, instance) = bare_instance(compiled, limits)?;
        let exports = Exports {
            memory: instance
                .get_memory(&mut store, "memory")
                .ok_or_else(|| RuntimeError::Artifact("no `memory` export".into()))?,
            alloc: typed(&instance, &mut store, "eligo_alloc")?,
            dealloc: typed(&instance, &mut store, "eligo_dealloc")?,
            load: typed(&instance, &mut store, "eligo_load")?,
            decide: typed(&instance, &mut store, "eligo_decide")?,
            check: typed(&instance, &mut store, "eligo_check")?,
            test: typed(&instance, &mut store, "eligo_test")?,
            describe: typed(&instance, &mut store, "eligo_describe")?,
        };
        Ok(Warm { store, exports })
    }
}

/// One call of the artifact's C ABI (`wasm/src/abi.rs`), with its request
/// bytes as the host writes them (not necessarily UTF-8 or JSON).
#[derive(Debug, Clone, Copy)]
pub enum AbiCall<'a> {
    /// `eligo_load`: a load request.
    Load(&'a [u8]),
    /// `eligo_decide`: a decide request, for the loaded bundle.
    Decide(&'a [u8]),
    /// `eligo_check`: a load request, checked without loading.
    Check(&'a [u8]),
    /// `eligo_test`: the loaded bundle's test cases.
    Test,
    /// `eligo_describe`: the loaded bundle's description.
    Describe,
}

/// An answer of the C ABI: its text and the error flag the artifact set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiAnswer {
    /// The answer's bytes, which must be UTF-8 JSON.
    pub text: String,
    /// Whether the artifact flagged it as an error answer.
    pub is_error: bool,
}

/// A fresh instance driven call by call through the C ABI, with nothing
/// loaded until a [`AbiCall::Load`]: the byte protocol itself, for tests
/// and fuzzing. Each call copies the request in, calls the export, reads
/// the answer back and frees both buffers, as [`WasmRuntime`] does. Its
/// instance is interrupted ([`Stopping::Interrupted`]): any bytes may come.
pub struct AbiSession {
    warm: Warm,
    limits: CallLimits,
}

impl AbiSession {
    /// A new instance of `engine`'s artifact under `limits`.
    pub fn new(engine: &WasmEngine, limits: CallLimits) -> Result<AbiSession, RuntimeError> {
        Ok(AbiSession {
            warm: Warm::new(&engine.interrupted, &limits)?,
            limits,
        })
    }

    /// Makes one call. A trap (or an answer that is not UTF-8) is an
    /// error; the instance should not be used after one.
    pub fn call(&mut self, call: AbiCall<'_>) -> Result<AbiAnswer, RuntimeError> {
        let warm = &mut self.warm;
        let limits = match call {
            AbiCall::Load(_) | AbiCall::Check(_) => self.limits.for_loading(),
            _ => self.limits,
        };
        warm.start_call(&limits);
        let packed = (|| {
            let with_request = |warm: &mut Warm,
                                func: TypedFunc<(u32, u32), u64>,
                                bytes: &[u8]|
             -> wasmtime::Result<u64> {
                let (ptr, len) = write(warm, bytes)?;
                let packed = func.call(&mut warm.store, (ptr, len))?;
                free(warm, ptr, len)?;
                Ok(packed)
            };
            let exports = &warm.exports;
            let packed = match call {
                AbiCall::Load(bytes) => with_request(warm, exports.load.clone(), bytes)?,
                AbiCall::Decide(bytes) => with_request(warm, exports.decide.clone(), bytes)?,
                AbiCall::Check(bytes) => with_request(warm, exports.check.clone(), bytes)?,
                AbiCall::Test => exports.test.clone().call(&mut warm.store, ())?,
                AbiCall::Describe => exports.describe.clone().call(&mut warm.store, ())?,
            };
            read_answer(warm, packed)
        })()
        .map_err(|error| RuntimeError::Trap(trap_message(&error, &limits)))?;
        Ok(AbiAnswer {
            text: packed.text,
            is_error: packed.is_error,
        })
    }
}

/// An error answer's body; an answer flagged as an error that does not
/// read as one is the host's problem, said so.
fn error_body(answer: &str) -> ErrorBody {
    match serde_json::from_str::<eligo_core::wire::ErrorAnswer>(answer) {
        Ok(answer) => answer.error,
        Err(error) => ErrorBody::new(
            ErrorKind::HostError,
            format!("the engine's error answer does not read: {error}"),
        ),
    }
}

fn typed<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    instance: &wasmtime::Instance,
    store: &mut Store<CallState>,
    name: &str,
) -> Result<TypedFunc<P, R>, RuntimeError> {
    instance
        .get_typed_func::<P, R>(store, name)
        .map_err(|e| RuntimeError::Artifact(format!("export `{name}`: {e:#}")))
}

/// Copies `bytes` into a fresh buffer inside the instance.
fn write(warm: &mut Warm, bytes: &[u8]) -> wasmtime::Result<(u32, u32)> {
    let len = u32::try_from(bytes.len())?;
    let ptr = warm.exports.alloc.call(&mut warm.store, len)?;
    warm.exports
        .memory
        .write(&mut warm.store, ptr as usize, bytes)?;
    Ok((ptr, len))
}

fn free(warm: &mut Warm, ptr: u32, len: u32) -> wasmtime::Result<()> {
    warm.exports.dealloc.call(&mut warm.store, (ptr, len))
}

/// Reads and frees an answer returned as `ptr << 32 | error flag | len`.
fn read_answer(warm: &mut Warm, packed: u64) -> wasmtime::Result<RawAnswer> {
    let is_error = packed & ERROR_FLAG != 0;
    let (ptr, len) = ((packed >> 32) as u32, (packed & (ERROR_FLAG - 1)) as u32);
    // Checked in the instance's memory, then copied once into the String.
    let text = warm
        .exports
        .memory
        .data(&warm.store)
        .get(ptr as usize..)
        .and_then(|rest| rest.get(..len as usize))
        .ok_or_else(|| wasmtime::format_err!("the answer lies outside the instance's memory"))
        .and_then(|bytes| {
            simdutf8::compat::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|e| wasmtime::format_err!("the answer is not UTF-8: {e}"))
        })?;
    free(warm, ptr, len)?;
    Ok(RawAnswer { text, is_error })
}

fn trap_message(error: &wasmtime::Error, limits: &CallLimits) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => format!(
            "it ran longer than the host's deadline of {} ms",
            limits.deadline_ticks * EPOCH_TICK.as_millis() as u64
        ),
        Some(trap) => format!("the wasm instance trapped: {trap}"),
        None => format!("{error:#}"),
    }
}

/// How instances get address space for their linear memories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MemoryPlan {
    /// Most instances alive at once, in all of the process's runtimes.
    slots: usize,
    /// `None`: a pool of [`MAX_INSTANCES`] slots reserved up front, each
    /// 4 GiB + 32 MiB so that compiled code needs no bounds checks.
    /// `Some(bytes)`: each instance reserves this much when it is created
    /// and gives it back when it is dropped (bounds-checked code).
    reservation: Option<u64>,
}

/// The guard after a bounds-checked memory.
const CHECKED_GUARD: u64 = 64 << 10;

impl MemoryPlan {
    /// The plan for a process limited to `address_space` bytes of virtual
    /// memory (`None`: unlimited).
    ///
    /// Unlimited, the pool reserves 4 GiB per slot, 258 GB for 64 slots,
    /// which no `ulimit -v` admits. Under a limit, an instance reserves
    /// only the 256 MiB it may use (bounds-checked: a 32,000-line batch took
    /// 3.33-3.55 s against 2.84-2.98 s) and at most as many live at once as
    /// fill half the limit, the rest being the process's own.
    fn for_address_space(address_space: Option<u64>) -> MemoryPlan {
        let Some(limit) = address_space else {
            return MemoryPlan {
                slots: MAX_INSTANCES,
                reservation: None,
            };
        };
        let memory = CallLimits::default().memory_bytes as u64;
        MemoryPlan {
            slots: ((limit / 2 / (memory + CHECKED_GUARD)) as usize).clamp(1, MAX_INSTANCES),
            reservation: Some(memory),
        }
    }

    /// This process's plan, from its `RLIMIT_AS`.
    fn of_this_process() -> MemoryPlan {
        MemoryPlan::for_address_space(address_space_limit())
    }
}

#[cfg(unix)]
fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0;
    // rlim_t is u64 on Linux, not on every Unix.
    #[allow(clippy::unnecessary_cast)]
    (read && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur as u64)
}

#[cfg(not(unix))]
fn address_space_limit() -> Option<u64> {
    None
}

/// The engine configuration: Cranelift; for deciding instances (`pooled`)
/// the pool of [`MemoryPlan`], for the others (a few per bundle,
/// short-lived) memories made on demand with the same bounds-checking
/// choice.
fn engine(plan: MemoryPlan, stopping: Stopping, pooled: bool) -> Result<Engine, RuntimeError> {
    let mut config = Config::new();
    config.epoch_interruption(stopping == Stopping::Interrupted);
    match plan.reservation {
        None if !pooled => {
            config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
        }
        None => {
            let slots = plan.slots as u32;
            let mut pool = PoolingAllocationConfig::default();
            pool.total_core_instances(slots)
                .total_memories(slots)
                .total_tables(2 * slots)
                // wasm-bindgen adds an externref table beside the function table.
                .max_tables_per_module(2)
                .total_gc_heaps(slots)
                .max_memory_size(CallLimits::default().memory_bytes);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        Some(reservation) => {
            config
                .allocation_strategy(InstanceAllocationStrategy::OnDemand)
                .memory_reservation(reservation)
                .memory_guard_size(CHECKED_GUARD)
                .memory_reservation_for_growth(0);
        }
    }
    Engine::new(&config).map_err(artifact_error("configuring wasmtime"))
}

/// The compiled module: from the cache when this artifact was compiled by
/// this wasmtime with this configuration before, else compiled and cached.
///
/// Loading machine code runs it, so a cache entry is used only when it
/// provably came from these artifact bytes: it lives in a directory only
/// this user can write (checked, not assumed), and it carries the artifact's
/// sha256 and a digest of its machine code, both checked before wasmtime
/// sees a byte. Anything else is ignored and compiled afresh.
fn module(
    engine: &Engine,
    artifact: &[u8],
    artifact_sha256: &str,
    cache_dir: Option<&Path>,
) -> Result<Module, RuntimeError> {
    let Some(dir) = cache_dir.filter(|dir| private_dir(dir)) else {
        return Module::new(engine, artifact).map_err(artifact_error("compiling"));
    };
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let artifact_hex = artifact_sha256.trim_start_matches("sha256:");
    let key = format!(
        "{artifact_hex}-wasmtime-{WASMTIME_VERSION}-{:016x}.cwasm",
        hasher.finish()
    );
    let path = dir.join(key);
    let artifact_digest: [u8; 32] = Sha256::digest(artifact).into();
    if let Some(compiled) = read_cache_entry(&path, &artifact_digest) {
        // SAFETY: the bytes are what this user's process wrote for exactly
        // these artifact bytes (artifact digest and machine-code digest
        // checked, in a directory nobody else can write); wasmtime checks
        // its version and configuration on top.
        if let Ok(module) = unsafe { Module::deserialize(engine, compiled.as_slice()) } {
            return Ok(module);
        }
    }
    let compiled = engine
        .precompile_module(artifact)
        .map_err(artifact_error("compiling"))?;
    // A cache that cannot be written only costs the next run a compile.
    let _ = write_cache_entry(&path, &artifact_digest, &compiled);
    // SAFETY: the bytes were produced just now by this engine.
    unsafe { Module::deserialize(engine, &compiled) }.map_err(artifact_error("loading"))
}

/// A cache entry: this magic, the artifact's sha256, the machine code's
/// sha256, then the machine code.
const CACHE_MAGIC: &[u8] = b"eligo-cwasm-v1\n";

fn cache_entry(artifact_digest: &[u8; 32], compiled: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(CACHE_MAGIC.len() + 64 + compiled.len());
    entry.extend_from_slice(CACHE_MAGIC);
    entry.extend_from_slice(artifact_digest);
    entry.extend_from_slice(&Sha256::digest(compiled));
    entry.extend_from_slice(compiled);
    entry
}

/// The machine code in the entry at `path`, if it is a regular file of this
/// user's, for these artifact bytes, and undamaged.
fn read_cache_entry(path: &Path, artifact_digest: &[u8; 32]) -> Option<Vec<u8>> {
    let metadata = fs::symlink_metadata(path).ok()?;
    if !metadata.file_type().is_file() || !owned_privately(&metadata) {
        return None;
    }
    let mut entry = fs::read(path).ok()?;
    let rest = entry.strip_prefix(CACHE_MAGIC)?;
    if rest.len() < 64 || rest[..32] != artifact_digest[..] {
        return None;
    }
    let (digest, compiled) = rest[32..].split_at(32);
    if Sha256::digest(compiled)[..] != digest[..] {
        return None;
    }
    Some(entry.split_off(CACHE_MAGIC.len() + 64))
}

fn write_cache_entry(
    path: &Path,
    artifact_digest: &[u8; 32],
    compiled: &[u8],
) -> std::io::Result<()> {
    // Unique per writer, so concurrent first runs never rename a half-written file.
    let partial = path.with_extension(format!(
        "partial-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&partial).and_then(|mut file| {
        std::io::Write::write_all(&mut file, &cache_entry(artifact_digest, compiled))
    });
    if let Err(error) = written {
        let _ = fs::remove_file(&partial);
        return Err(error);
    }
    fs::rename(&partial, path)
}

/// Creates `dir` (mode 0700) if needed; true when it is a real directory
/// that only this user can write.
fn private_dir(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        let _ = fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir);
    }
    #[cfg(not(unix))]
    let _ = fs::create_dir_all(dir);
    fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_dir() && owned_privately(&m))
}

/// Owned by this user and writable by no one else.
#[cfg(unix)]
fn owned_privately(metadata: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    metadata.uid() == me && metadata.mode() & 0o022 == 0
}

#[cfg(not(unix))]
fn owned_privately(_metadata: &fs::Metadata) -> bool {
    // No portable owner check: only a per-user profile directory is used.
    true
}

/// The steps of getting the artifact ready, one by one, for the benchmark
/// that times Cranelift compiling against loading a precompiled module.
pub mod stages {
    use super::{artifact_error, Engine, Module, RuntimeError};

    /// The engine configured as the runtime's deciding instances use it.
    pub fn engine() -> Result<Engine, RuntimeError> {
        super::engine(
            super::MemoryPlan::of_this_process(),
            super::Stopping::Polled,
            true,
        )
    }

    /// Compiles the artifact to machine code (what the cache saves).
    pub fn compile(engine: &Engine, artifact: &[u8]) -> Result<Vec<u8>, RuntimeError> {
        engine
            .precompile_module(artifact)
            .map_err(artifact_error("compiling"))
    }

    /// Loads machine code that [`compile`] produced with the same engine.
    pub fn deserialize(engine: &Engine, compiled: &[u8]) -> Result<Module, RuntimeError> {
        // SAFETY: callers pass bytes from `compile` with this configuration;
        // wasmtime still checks the version and configuration it was made by.
        unsafe { Module::deserialize(engine, compiled) }.map_err(artifact_error("loading"))
    }
}

/// Where compiled modules are cached: `$ELIGO_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/eligo`, else `~/.cache/eligo`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ELIGO_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("eligo"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/eligo"))
}

/// Where the artifact is looked for, in order: `$ELIGO_WASM`, next to the
/// `eligo` executable, and the workspace's `target/wasm/` (what
/// `cargo xtask wasm` builds).
pub fn artifact_candidates() -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("ELIGO_WASM") {
        candidates.push(PathBuf::from(path));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join("eligo_bg.wasm"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/wasm/eligo_bg.wasm"));
    candidates
}

/// Reads the first artifact that exists.
pub fn read_artifact(explicit: Option<&Path>) -> Result<(PathBuf, Vec<u8>), RuntimeError> {
    let candidates = match explicit {
        Some(path) => vec![path.to_path_buf()],
        None => artifact_candidates(),
    };
    for path in &candidates {
        if let Ok(bytes) = fs::read(path) {
            return Ok((path.clone(), bytes));
        }
    }
    let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(RuntimeError::Artifact(format!(
        "eligo_bg.wasm not found (looked at: {}); build it with `cargo xtask wasm`, or use --runtime native",
        tried.join(", ")
    )))
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn a_cache_entry_is_used_only_for_its_own_artifact_and_intact() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        assert!(private_dir(&dir));
        let path = dir.join("entry.cwasm");
        let artifact: [u8; 32] = Sha256::digest(b"artifact").into();
        write_cache_entry(&path, &artifact, b"machine code").unwrap();
        assert_eq!(read_cache_entry(&path, &artifact).unwrap(), b"machine code");

        // Named right but compiled from other bytes: refused.
        let other: [u8; 32] = Sha256::digest(b"other artifact").into();
        assert!(read_cache_entry(&path, &other).is_none());

        // One byte of machine code changed: refused.
        let mut bytes = fs::read(&path).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(read_cache_entry(&path, &artifact).is_none());

        // A planted file without the header: refused.
        fs::write(&path, b"\x7fELF planted").unwrap();
        assert!(read_cache_entry(&path, &artifact).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn a_cache_others_can_write_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("shared");
        assert!(private_dir(&dir));
        let path = dir.join("entry.cwasm");
        let artifact: [u8; 32] = Sha256::digest(b"artifact").into();
        write_cache_entry(&path, &artifact, b"code").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(read_cache_entry(&path, &artifact).is_none());
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!private_dir(&dir));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
        assert!(!private_dir(&link));
    }
}

#[cfg(test)]
mod memory_plan_tests {
    use super::*;

    #[test]
    fn unlimited_address_space_keeps_unchecked_4_gib_slots() {
        assert_eq!(
            MemoryPlan::for_address_space(None),
            MemoryPlan {
                slots: MAX_INSTANCES,
                reservation: None
            }
        );
    }

    #[test]
    fn a_limited_address_space_gets_checked_memories_within_half_of_it() {
        let memory = CallLimits::default().memory_bytes as u64;
        for limit in [4_000_000_000u64, 20_000_000_000, 1 << 30, 1] {
            let plan = MemoryPlan::for_address_space(Some(limit));
            assert_eq!(plan.reservation, Some(memory));
            let reserved = plan.slots as u64 * (memory + CHECKED_GUARD);
            assert!(
                plan.slots == 1 || reserved <= limit / 2,
                "{limit}: {plan:?}"
            );
        }
        assert_eq!(MemoryPlan::for_address_space(Some(4_000_000_000)).slots, 7);
        assert_eq!(
            MemoryPlan::for_address_space(Some(1 << 50)).slots,
            MAX_INSTANCES
        );
    }
}

#[cfg(test)]
mod older_artifact_tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, ConstExpr, DataSection, ExportKind, ExportSection, Function, FunctionSection,
        MemorySection, MemoryType, Module as Encoded, TypeSection, ValType,
    };

    /// A stand-in for an artifact built before the deadline question: the
    /// C ABI without the import; every answer is `{}` and `eligo_decide`
    /// counts down from 3·10⁹ first (about a second where nothing stops it).
    fn artifact_without_the_question() -> Vec<u8> {
        let (i32_, i64_) = (ValType::I32, ValType::I64);
        let mut types = TypeSection::new();
        types.ty().function([i32_], [i32_]);
        types.ty().function([i32_, i32_], []);
        types.ty().function([i32_, i32_], [i64_]);
        types.ty().function([], [i64_]);
        let exports_by_type = [
            ("eligo_alloc", 0),
            ("eligo_dealloc", 1),
            ("eligo_load", 2),
            ("eligo_decide", 2),
            ("eligo_check", 2),
            ("eligo_test", 3),
            ("eligo_describe", 3),
        ];
        let mut functions = FunctionSection::new();
        let mut exports = ExportSection::new();
        let mut code = CodeSection::new();
        // The answer `{}` lies at 2048: pointer << 32 | length.
        let answer = (2048_i64 << 32) | 2;
        for (index, (name, ty)) in exports_by_type.into_iter().enumerate() {
            functions.function(ty);
            exports.export(name, ExportKind::Func, index as u32);
            let mut body = Function::new([(1, i64_)]);
            let mut sink = body.instructions();
            match name {
                "eligo_alloc" => drop(sink.i32_const(1024)),
                "eligo_dealloc" => {}
                "eligo_decide" => {
                    sink.i64_const(3_000_000_000)
                        .local_set(2)
                        .loop_(wasm_encoder::BlockType::Empty)
                        .local_get(2)
                        .i64_const(1)
                        .i64_sub()
                        .local_tee(2)
                        .i64_const(0)
                        .i64_ne()
                        .br_if(0)
                        .end()
                        .i64_const(answer);
                }
                _ => drop(sink.i64_const(answer)),
            }
            sink.end();
            code.function(&body);
        }
        exports.export("memory", ExportKind::Memory, 0);
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut data = DataSection::new();
        data.active(0, &ConstExpr::i32_const(2048), b"{}".iter().copied());
        let mut module = Encoded::new();
        module
            .section(&types)
            .section(&functions)
            .section(&memories)
            .section(&exports)
            .section(&code)
            .section(&data);
        module.finish()
    }

    #[test]
    fn an_artifact_without_the_deadline_question_decides_in_interrupted_instances() {
        let engine = WasmEngine::new(&artifact_without_the_question(), None).unwrap();
        assert_eq!(engine.deciding_instances(), Stopping::Interrupted);
        let files = BundleFiles::from_pairs([("bundle.toml", "")]).unwrap();
        let limits = CallLimits {
            deadline_ticks: 5,
            max_instances: 1,
            ..CallLimits::default()
        };
        let runtime = WasmRuntime::new(engine, &files, limits).unwrap();
        // Polled, nothing would stop the count; interrupted, the epoch does.
        let error = runtime.decide_json("{}").unwrap_err();
        assert_eq!(error.kind, ErrorKind::Stopped, "{error}");
        assert!(
            error
                .message
                .contains("ran longer than the host's deadline of 50 ms"),
            "{error}"
        );
    }
}
