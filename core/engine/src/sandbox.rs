//! The sandbox's counted limits at run time: the operations of the running
//! decision at every depth, the host's "stop now", which evaluator ran, and
//! the locator that finds where a limit stopped a rule.
//!
//! The engine itself is built by `eligo_core` when it loads a bundle; what
//! runs during every decision is here.

use std::sync::{Arc, Mutex};

use rhai::{Dynamic, Engine, Position, INT};

thread_local! {
    /// Operations of the decision running on this thread, at every depth.
    static OPERATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// The host's "stop now" question for runs on this thread, if it set one.
    static HOST_STOP: std::cell::RefCell<Option<Box<dyn Fn() -> bool>>> =
        const { std::cell::RefCell::new(None) };
}

/// The message of a decision the host stopped ([`with_host_stop`]).
pub const HOST_STOPPED: &str = "stopped by the host: the decision ran past its deadline";

/// How many operations pass between two questions to the host: asking
/// reads a clock (tens of nanoseconds) and an operation costs about 170 ns,
/// so the question adds well under 1 % and a stop comes within ~0.2 ms.
pub const HOST_STOP_EVERY: u64 = 1024;

/// Runs `run` with `should_stop` asked every [`HOST_STOP_EVERY`] operations
/// of the rules; once it answers true, the rules stop with [`HOST_STOPPED`].
/// The core has no clock: a host brings its own deadline this way (the
/// artifact's C ABI asks the wasmtime host through its one import).
pub fn with_host_stop<R>(should_stop: impl Fn() -> bool + 'static, run: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            HOST_STOP.with(|stop| stop.borrow_mut().take());
        }
    }
    HOST_STOP.with(|stop| *stop.borrow_mut() = Some(Box::new(should_stop)));
    let _reset = Reset;
    run()
}

/// Whether the host asked the running decision to stop.
pub fn host_says_stop() -> bool {
    HOST_STOP.with(|stop| {
        stop.borrow()
            .as_ref()
            .is_some_and(|should_stop| should_stop())
    })
}

/// The message of a decision stopped by the bundle's operation limit
/// (Rhai's own words for it, so both ways of stopping read the same).
pub const OPERATIONS_EXCEEDED: &str = "Too many operations";

/// Operations the rules have run on this thread since the last
/// [`reset_operations`]: what a decision costs, in the unit its limit counts.
pub fn operations() -> u64 {
    OPERATIONS.with(|count| count.get())
}

/// Starts the operation count of a new run of the rules on this thread.
pub fn reset_operations() {
    OPERATIONS.with(|count| count.set(0));
}

/// Records the count of a run the compiled evaluator made.
pub fn set_operations(operations: u64) {
    OPERATIONS.with(|count| count.set(operations));
}

thread_local! {
    /// Whether the last decision on this thread ran compiled.
    static LAST_RUN_COMPILED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the last decision on this thread ran in the compiled evaluator
/// (true) or in Rhai (false: a bundle outside the compiled subset, a run
/// that fell back, or `Bundle::decide_in_rhai`).
pub fn last_run_compiled() -> bool {
    LAST_RUN_COMPILED.with(|flag| flag.get())
}

/// Records which evaluator ran the decision that just finished.
pub fn set_last_run_compiled(compiled: bool) {
    LAST_RUN_COMPILED.with(|flag| flag.set(compiled));
}

/// Counts one Rhai operation of the running decision (the engine's
/// progress hook): the value that stops the run when it is over
/// `max_operations` or the host asked it to stop.
pub fn count_operation(max_operations: u64) -> Option<Dynamic> {
    let done = OPERATIONS.with(|count| {
        let done = count.get() + 1;
        count.set(done);
        done
    });
    if done > max_operations {
        return Some(Dynamic::from(OPERATIONS_EXCEEDED));
    }
    (done % HOST_STOP_EVERY == 0 && host_says_stop()).then(|| Dynamic::from(HOST_STOPPED))
}

/// The most variables one function's scope may hold.
pub const MAX_VARIABLES: usize = 1_000;

/// Where a rule was when a sandbox limit stopped it.
///
/// Rhai reports limit errors (operations, call depth, data size) without a
/// position once they leave the function they happened in. The locator is a
/// second engine with a debugger that remembers the last node it stepped on;
/// re-running a failed decision in it (decisions are deterministic) finds
/// the exact line and column. It only runs after such a failure.
pub struct Locator {
    /// The engine with the debugger attached.
    pub engine: Engine,
    last: Arc<Mutex<Option<(String, Position)>>>,
}

impl Locator {
    /// A locator stepping through `engine`, an engine like the one the
    /// rules ran in.
    pub fn new(mut engine: Engine) -> Locator {
        let last: Arc<Mutex<Option<(String, Position)>>> = Arc::new(Mutex::new(None));
        let record = Arc::clone(&last);
        #[allow(deprecated)] // "volatile", not deprecated
        engine.register_debugger(
            |_, debugger| debugger,
            move |_, event, _, source, position| {
                let stepped = matches!(event, rhai::debugger::DebuggerEvent::Step);
                if stepped && !position.is_none() {
                    let mut last = record.lock().unwrap_or_else(|p| p.into_inner());
                    *last = Some((source.unwrap_or_default().to_string(), position));
                }
                Ok(rhai::debugger::DebuggerCommand::StepInto)
            },
        );
        Locator { engine, last }
    }

    /// Forgets the last position, before a run.
    pub fn reset(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The source and position of the last node stepped on.
    pub fn last(&self) -> Option<(String, Position)> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The most working days one `add_working_days` may step over.
pub const MAX_WORKING_DAYS: INT = 2_500;
