//! The rules compiled ahead of time: a faster evaluator for the Rhai subset
//! policy is written in, answering exactly as Rhai does.
//!
//! Rhai walks its syntax tree and keeps every value in string-keyed maps it
//! copies by value: about 80 ns per counted operation, 904 operations for a
//! three-member household. Here each rule file is compiled once, at load,
//! into a tree whose variables are slots, whose functions are resolved, and
//! whose maps and arrays are shared until written (copy on write), so
//! reading `this.size` or passing `facts` costs a pointer, not a copy.
//!
//! Rhai stays the reference. The compiled tree is used only for what it
//! covers, and only on the successful path:
//! - a rule file using anything outside the subset is not compiled at all
//!   (`eligo_core`'s rule compiler says what and where, for a load warning) and
//!   Rhai runs it;
//! - any run that would end in an error (a type mismatch, an arithmetic
//!   overflow, a missing property, a limit) stops with [`Fallback`], and the
//!   caller runs the same decision again in Rhai, which gives the error, its
//!   message and its position. Decisions are pure, so the second run is the
//!   run Rhai alone would have made.
//!
//! It counts operations exactly where Rhai counts them (the `cost` notes
//! below name the Rhai code that counts), so `max_operations` decides the
//! same way and `eligo test` reports the same numbers either way. The
//! parity tests compare both evaluators' envelopes and counts case by case.

use std::sync::Arc;

use rhai::{Dynamic, ImmutableString, Position};
use rust_decimal::Decimal;
use smallvec::SmallVec;

use crate::context::{ParameterUse, RuleContext};
use crate::insert_all::InsertAll;
use crate::schema::{Kind, ObjectType};
use crate::validate::{Build, FieldProblem};
use crate::values::{round_half_up, Date, Timestamp};

/// A run that cannot finish on the compiled path; the caller runs Rhai.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback;

pub type Flow<T> = Result<T, Exit>;

/// A call's arguments (a method's object first): at most four inline,
/// without allocating.
pub type Args = SmallVec<[Value; 4]>;

/// Why evaluation leaves a node early.
pub enum Exit {
    Return(Value),
    Fallback,
}

impl From<Fallback> for Exit {
    fn from(_: Fallback) -> Self {
        Exit::Fallback
    }
}

/// A map as rules see it: entries sorted by key, the order Rhai's maps
/// iterate in. Keys are interned (the rule compiler's `Names`), so a lookup first compares
/// pointers (a record has a few dozen entries at most) and compares text
/// only for a key that came from elsewhere.
#[derive(Debug, Clone, Default)]
pub struct Record(pub Vec<(ImmutableString, Value)>);

impl Record {
    /// Where `key` is, or where it would go.
    pub fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn find(&self, key: &ImmutableString) -> Option<usize> {
        self.0
            .iter()
            .position(|(k, _)| k.ptr_eq(key))
            .or_else(|| self.position(key).ok())
    }

    pub fn get(&self, key: &ImmutableString) -> Option<&Value> {
        self.find(key).map(|at| &self.0[at].1)
    }

    pub fn contains_key(&self, key: &ImmutableString) -> bool {
        self.find(key).is_some()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }

    /// The value at `key`, added as `()` if absent.
    pub fn entry(&mut self, key: ImmutableString) -> &mut Value {
        let at = match self.position(&key) {
            Ok(at) => at,
            Err(at) => {
                self.0.insert(at, (key, Value::Unit));
                at
            }
        };
        &mut self.0[at].1
    }
}

/// A value in the compiled evaluator. Containers are shared and copied only
/// when written, which gives Rhai's by-value semantics without its copies.
#[derive(Debug, Clone)]
pub enum Value {
    Unit,
    Bool(bool),
    Int(i64),
    Decimal(Decimal),
    Str(ImmutableString),
    Date(Date),
    Timestamp(Timestamp),
    Array(Arc<Vec<Value>>),
    Map(Arc<Record>),
    /// A value only native functions look into (a working calendar).
    Opaque(Dynamic),
    /// `ctx`.
    Context,
}

impl Value {
    pub fn to_dynamic(&self, ctx: &RuleContext) -> Dynamic {
        match self {
            Value::Unit => Dynamic::UNIT,
            Value::Bool(b) => Dynamic::from_bool(*b),
            Value::Int(i) => Dynamic::from_int(*i),
            Value::Decimal(d) => Dynamic::from_decimal(*d),
            Value::Str(s) => Dynamic::from(s.clone()),
            Value::Date(d) => Dynamic::from(*d),
            Value::Timestamp(t) => Dynamic::from(*t),
            Value::Array(items) => {
                Dynamic::from_array(items.iter().map(|v| v.to_dynamic(ctx)).collect())
            }
            Value::Map(record) => Dynamic::from_map(map_from_record(record, ctx)),
            Value::Opaque(d) => d.clone(),
            Value::Context => Dynamic::from(ctx.clone()),
        }
    }

    /// Writes the value as compact JSON text, byte for byte what
    /// [`crate::values::dynamic_to_json`] and serde_json would write; `false`
    /// where that conversion gives an error (the caller then takes that path
    /// for the error's words).
    pub fn write_json(&self, out: &mut Vec<u8>, depth: usize) -> bool {
        use std::io::Write;
        let text = crate::json_text::write_str;
        if depth > crate::values::MAX_RESULT_DEPTH {
            return false;
        }
        match self {
            Value::Unit => out.extend_from_slice(b"null"),
            Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Decimal(d) => {
                // As `decimal_to_json`: no negative zero, every digit kept.
                let mut d = *d;
                if d.is_zero() {
                    d.set_sign_positive(true);
                }
                let _ = write!(out, "{d}");
            }
            Value::Str(s) => text(out, s),
            Value::Date(d) => text(out, &d.to_string()),
            Value::Timestamp(t) => text(out, &t.to_string()),
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    if !item.write_json(out, depth + 1) {
                        return false;
                    }
                }
                out.push(b']');
            }
            Value::Map(record) => {
                out.push(b'{');
                for (i, (key, item)) in record.0.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    text(out, key);
                    out.push(b':');
                    if !item.write_json(out, depth + 1) {
                        return false;
                    }
                }
                out.push(b'}');
            }
            Value::Opaque(_) | Value::Context => return false,
        }
        true
    }

    /// The value as a message shows it, as
    /// [`crate::values::dynamic_to_text`] writes it.
    pub fn to_text(&self, ctx: &RuleContext) -> String {
        match self {
            Value::Unit => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Decimal(d) => d.to_string(),
            Value::Str(s) => s.to_string(),
            Value::Date(d) => d.to_string(),
            Value::Timestamp(t) => t.to_string(),
            Value::Array(items) => items
                .iter()
                .map(|item| item.to_text(ctx))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Map(_) | Value::Opaque(_) | Value::Context => {
                crate::values::dynamic_to_text(&self.to_dynamic(ctx))
            }
        }
    }

    /// Rhai's name for the value's type (`type_of`).
    pub fn type_name(&self) -> Option<&'static str> {
        Some(match self {
            Value::Unit => "()",
            Value::Bool(_) => "bool",
            Value::Int(_) => "i64",
            Value::Decimal(_) => "decimal",
            Value::Str(_) => "string",
            Value::Date(_) => "Date",
            Value::Timestamp(_) => "Timestamp",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Opaque(_) | Value::Context => return None,
        })
    }

    /// A type Rhai holds as a registered custom type: its operators are
    /// registered functions, which count one operation more than built-ins.
    pub fn is_custom(&self) -> bool {
        matches!(
            self,
            Value::Date(_) | Value::Timestamp(_) | Value::Opaque(_) | Value::Context
        )
    }

    pub fn as_bool(&self) -> Result<bool, Fallback> {
        match self {
            Value::Bool(b) => Ok(*b),
            _ => Err(Fallback),
        }
    }
}

pub fn map_from_record(record: &Record, ctx: &RuleContext) -> rhai::Map {
    record
        .0
        .iter()
        .map(|(key, value)| (key.as_str().into(), value.to_dynamic(ctx)))
        .insert_all()
}

/// Binary operators with built-in meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Native functions the subset calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Native {
    Param,
    Fire,
    Need,
    Len,
    Push,
    Contains,
    Max,
    Min,
    Money,
    Fixed,
    ToDecimal,
    TypeOf,
    SecondsUntil,
    OnDate,
    DaysUntil,
    AddWorkingDays,
}

impl Native {
    /// Operations Rhai counts for running the function itself
    /// (`exec_native_fn_call`); `type_of` is answered before that.
    pub fn cost(self) -> u64 {
        match self {
            Native::TypeOf => 0,
            _ => 1,
        }
    }
}

/// What a call runs.
#[derive(Debug, Clone, Copy)]
pub enum Callee {
    Script(usize),
    Native(Native),
}

/// An expression. Evaluating one counts one operation (`eval_expr`);
/// what else Rhai counts for it is in the `cost` fields.
#[derive(Debug)]
pub enum Node {
    Const(Value),
    Local(usize),
    This,
    Array(Vec<Node>),
    Map(Box<MapLiteral>),
    /// An array or map literal of literals, built when the rules compile.
    Literal(Box<Literal>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Binary(Op, Box<Node>, Box<Node>),
    Call {
        callee: Callee,
        args: Vec<Node>,
        position: Position,
    },
    /// `root.step.step…`: property reads, index reads and method calls.
    Chain(Box<Chain>),
    /// `variable.name`, the commonest chain, without the general machinery
    /// (Rhai counts one for the variable and one for the property).
    LocalProperty(usize, ImmutableString),
    /// `this.name`, likewise.
    ThisProperty(ImmutableString),
    /// `ctx.param("name")` for a parameter the bundle defines: the variable
    /// holding `ctx` and the parameter's index (Rhai counts four: the
    /// argument pass, `ctx`, the name and the call).
    Param(usize, usize),
    /// `place.method(args)` for a method that changes its object (`push`).
    Mutate(Box<Chain>),
    Block(Vec<Stmt>),
}

/// `#{ key: value, … }`: values are evaluated in the order written and
/// stored in key order.
#[derive(Debug)]
pub struct MapLiteral {
    /// The keys, sorted.
    pub keys: Vec<ImmutableString>,
    /// The values in the order written, each with its key's index in `keys`.
    pub values: Vec<(usize, Node)>,
}

/// An array or map literal whose items are all literals (`#{ eligible:
/// false, rules: [] }`), built once. Rhai evaluates such a literal item by
/// item, so a run clones the value and counts what building it would have
/// counted: the items' operations and the items and entries placed (see
/// [`Run::grow`]). Rhai's optimiser, which folded these, is not built in.
#[derive(Debug)]
pub struct Literal {
    pub value: Value,
    pub operations: u64,
    pub items: usize,
    pub entries: usize,
}

/// A dot/index chain as Rhai runs it: first its argument pass (every
/// method argument and index, left to right), then its root, then its
/// steps on the values the pass produced.
#[derive(Debug)]
pub struct Chain {
    pub root: Node,
    pub pass: Vec<Node>,
    pub steps: Vec<Step>,
    /// Counted besides the pass's own expressions: one per level the pass
    /// visits (`eval_dot_index_chain_arguments`) and one for a variable or
    /// `this` root.
    pub cost: u64,
}

#[derive(Debug)]
pub enum Step {
    Property(ImmutableString),
    /// An index: the next pass value, or a literal Rhai does not evaluate.
    Index(Option<Value>),
    /// A method call taking the next `args` pass values.
    Method {
        callee: Callee,
        args: usize,
        position: Position,
    },
}

#[derive(Debug)]
pub enum Stmt {
    /// An expression statement; `counted` is false for a bare call, which
    /// Rhai evaluates without `eval_expr`.
    Expr(Node, bool),
    Let(usize, Node),
    /// `place = value` or `place op= value`: the value first, then the
    /// place (a variable or a chain whose last step is a property/index).
    Assign {
        place: Box<Chain>,
        op: Option<Op>,
        value: Node,
    },
    If(Node, Vec<Stmt>, Vec<Stmt>),
    For {
        local: usize,
        iterable: Node,
        body: Vec<Stmt>,
    },
    Return(Option<Node>),
    Block(Vec<Stmt>),
    Noop,
}

#[derive(Debug)]
pub struct Function {
    pub name: String,
    pub params: usize,
    pub slots: usize,
    pub body: Vec<Stmt>,
}

/// A parameter as `ctx.param` gives it here: each value converted once,
/// with what the envelope reports when a decision reads it.
#[derive(Debug)]
pub struct Param {
    pub name: ImmutableString,
    /// Sorted by the date each is in force from.
    pub values: Vec<(Date, Value, ParameterUse)>,
}

/// A rule file compiled for the fast path.
#[derive(Debug)]
pub struct Program {
    pub functions: Vec<Function>,
    pub entry: usize,
    pub params: Vec<Param>,
    pub max_operations: u64,
    pub max_call_depth: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
}

impl Program {
    /// Runs the entry function on `input`, or [`Fallback`]. On success the
    /// thread's operation count ([`crate::sandbox::operations`]) is what
    /// Rhai would have counted, and the answer is the returned map as JSON
    /// text (`Ok`) or, when it is not a map or not writable as JSON, as the value
    /// Rhai would have returned (`Err`), for the caller's error.
    pub fn run(
        &self,
        input: &Input,
        ctx: &RuleContext,
    ) -> Result<Result<String, Dynamic>, Fallback> {
        let input = input.0.clone();
        let mut run = Run {
            program: self,
            ctx,
            today: ctx.today(),
            params_read: Vec::new(),
            operations: 0,
            depth: 0,
            array_items: 0,
            map_entries: 0,
            next_question: 0,
        };
        let result = run
            .call_script(self.entry, None, [input, Value::Context].into_iter())
            .map_err(|_| Fallback)?;
        crate::sandbox::set_operations(run.operations);
        // What `ctx.param` records in Rhai, recorded once at the end.
        let mut state = ctx.state();
        for (param, value) in run.params_read {
            let record = &self.params[param].values[value].2;
            if !state.params_used.contains_key(&record.name) {
                state
                    .params_used
                    .insert(record.name.clone(), record.clone());
            }
        }
        drop(state);
        let mut json = Vec::with_capacity(1024);
        Ok(match &result {
            Value::Map(_) if result.write_json(&mut json, 0) => {
                // Only `write_json`'s output: valid UTF-8.
                Ok(String::from_utf8(json).map_err(|_| Fallback)?)
            }
            _ => Err(result.to_dynamic(ctx)),
        })
    }
}

/// A validated input as the compiled evaluator reads it.
pub struct Input(pub Value);

impl Input {
    /// Validates `input` against `root`, building the compiled evaluator's
    /// values directly; a run in Rhai gets them through [`Input::to_rhai`].
    pub fn validate(
        root: &ObjectType,
        input: &serde_json::Value,
    ) -> Result<Input, Vec<FieldProblem>> {
        let record = crate::validate::validate_into(&Values, root, input)?;
        Ok(Input(Value::Map(Arc::new(Record(record)))))
    }

    /// The same input as Rhai's values, for a run that falls back.
    pub fn to_rhai(&self, ctx: &RuleContext) -> rhai::Map {
        match &self.0 {
            Value::Map(record) => map_from_record(record, ctx),
            _ => rhai::Map::new(),
        }
    }
}

/// Adds to `problems` what input validation finds wrong with `value` as a
/// value of `kind`: how a schema's defaults are checked when it loads, by
/// the same code (and the same one copy of it) that validates inputs.
pub fn check_value(
    kind: &Kind,
    value: &serde_json::Value,
    path: &crate::path::JsonPath<'_>,
    problems: &mut Vec<FieldProblem>,
) {
    let _ = crate::validate::convert(&Values, kind, value, path, problems);
}

/// Builds validated input as compiled values; an object's keys are its
/// schema's strings, which the program adopted (`Names::adopt_schema` in the rule compiler).
pub struct Values;

impl Build for Values {
    type Value = Value;
    type Object = Vec<(ImmutableString, Value)>;
    fn unit(&self) -> Value {
        Value::Unit
    }
    fn bool(&self, flag: bool) -> Value {
        Value::Bool(flag)
    }
    fn int(&self, int: i64) -> Value {
        Value::Int(int)
    }
    fn decimal(&self, decimal: Decimal) -> Value {
        Value::Decimal(decimal)
    }
    fn text(&self, text: &str) -> Value {
        Value::Str(text.into())
    }
    fn name(&self, name: &ImmutableString) -> Value {
        Value::Str(name.clone())
    }
    fn date(&self, date: Date) -> Value {
        Value::Date(date)
    }
    fn timestamp(&self, timestamp: Timestamp) -> Value {
        Value::Timestamp(timestamp)
    }
    fn array(&self, items: Vec<Value>) -> Value {
        Value::Array(Arc::new(items))
    }
    fn new_object(&self, fields: usize) -> Self::Object {
        Vec::with_capacity(fields)
    }
    fn insert(
        &self,
        object: &mut Self::Object,
        object_type: &ObjectType,
        index: usize,
        value: Value,
    ) {
        // Fields come in name order, so the record stays sorted.
        object.push((object_type.keys[index].clone(), value));
    }
    fn object(&self, object: Self::Object) -> Value {
        Value::Map(Arc::new(Record(object)))
    }
}

/// One evaluation.
pub struct Run<'a> {
    pub program: &'a Program,
    pub ctx: &'a RuleContext,
    /// `ctx.today`, the date parameters are read at.
    pub today: Date,
    /// The parameters read (index, value index), each once.
    pub params_read: Vec<(usize, usize)>,
    pub operations: u64,
    pub depth: usize,
    pub array_items: usize,
    pub map_entries: usize,
    /// The count at which to ask the host again.
    pub next_question: u64,
}

pub struct Frame {
    pub locals: Vec<Value>,
    pub this: Option<Value>,
}

impl Run<'_> {
    /// Asks the host's "stop now" question as often as Rhai's progress
    /// hook does; a stopped run falls back and Rhai reports the stop.
    pub fn ask_host(&mut self) -> Result<(), Fallback> {
        if self.operations >= self.next_question {
            self.next_question = self.operations + crate::sandbox::HOST_STOP_EVERY;
            if crate::sandbox::host_says_stop() {
                return Err(Fallback);
            }
        }
        Ok(())
    }

    pub fn count(&mut self, n: u64) -> Result<(), Fallback> {
        self.operations += n;
        if self.operations > self.program.max_operations {
            return Err(Fallback);
        }
        Ok(())
    }

    /// Adds what rules put into arrays and maps. Rhai refuses a value with
    /// more nested items or entries than the limits; counting every item
    /// ever placed bounds any one value's size, so staying under the limits
    /// here means Rhai would not have refused.
    pub fn grow(&mut self, value: &Value, items: usize, entries: usize) -> Result<(), Fallback> {
        let (nested_items, nested_entries) = value_size(value);
        self.add_sizes(items + nested_items, entries + nested_entries)
    }

    /// Adds `items` and `entries` to what rules placed, as [`Run::grow`].
    pub fn add_sizes(&mut self, items: usize, entries: usize) -> Result<(), Fallback> {
        self.array_items += items;
        self.map_entries += entries;
        if self.array_items > self.program.max_array_size
            || self.map_entries > self.program.max_map_size
        {
            return Err(Fallback);
        }
        Ok(())
    }

    pub fn call_script(
        &mut self,
        index: usize,
        this: Option<Value>,
        args: impl Iterator<Item = Value>,
    ) -> Flow<Value> {
        let function = &self.program.functions[index];
        if function.body.is_empty() {
            return Ok(Value::Unit);
        }
        // `call_script_fn` counts the call.
        self.count(1)?;
        // Rhai refuses a call once more than `max_call_depth` calls are
        // under way beneath the entry function's.
        if self.depth > self.program.max_call_depth {
            return Err(Exit::Fallback);
        }
        self.ask_host()?;
        self.depth += 1;
        let mut locals = Vec::with_capacity(function.slots);
        locals.extend(args);
        locals.resize(function.slots, Value::Unit);
        let mut frame = Frame { locals, this };
        let result = match self.block(&function.body, &mut frame) {
            Ok(value) | Err(Exit::Return(value)) => Ok(value),
            Err(Exit::Fallback) => Err(Exit::Fallback),
        };
        self.depth -= 1;
        result
    }

    pub fn block(&mut self, statements: &[Stmt], frame: &mut Frame) -> Flow<Value> {
        // Values are returned through memory; only the last statement's is
        // passed on (the others are dropped where they are), and the
        // callers below return their callees' results as they are rather
        // than unwrapping and rewrapping them. Each copy of a value just
        // written stalls on store forwarding: household 25.0 → 22.4 µs.
        let Some((last, before)) = statements.split_last() else {
            return Ok(Value::Unit);
        };
        for statement in before {
            // Checked and dropped where it is: `?` would move the value out
            // first (22.8 → 22.4 µs).
            #[allow(clippy::question_mark)]
            if let Err(exit) = self.stmt(statement, frame) {
                return Err(exit);
            }
        }
        self.stmt(last, frame)
    }

    pub fn stmt(&mut self, statement: &Stmt, frame: &mut Frame) -> Flow<Value> {
        // `eval_stmt` counts every statement.
        self.count(1)?;
        match statement {
            Stmt::Noop => Ok(Value::Unit),
            Stmt::Expr(node, true) => self.eval(node, frame),
            Stmt::Expr(node, false) => self.eval_uncounted(node, frame),
            Stmt::Let(slot, node) => {
                let value = self.eval(node, frame)?;
                frame.locals[*slot] = value;
                Ok(Value::Unit)
            }
            Stmt::If(condition, then, otherwise) => {
                let branch = if self.eval(condition, frame)?.as_bool()? {
                    then
                } else {
                    otherwise
                };
                self.block(branch, frame)
            }
            Stmt::For {
                local,
                iterable,
                body,
            } => {
                let Value::Array(items) = self.eval(iterable, frame)? else {
                    return Err(Exit::Fallback);
                };
                for item in items.iter() {
                    self.ask_host()?;
                    frame.locals[*local] = item.clone();
                    self.block(body, frame)?;
                }
                Ok(Value::Unit)
            }
            Stmt::Return(value) => Err(Exit::Return(match value {
                Some(node) => self.eval(node, frame)?,
                None => Value::Unit,
            })),
            Stmt::Block(statements) => self.block(statements, frame),
            Stmt::Assign { place, op, value } => {
                let value = self.eval(value, frame)?;
                let indices = self.pass(place, frame)?;
                self.count(place.cost + place.steps.len() as u64)?;
                if op.is_none() && !place.steps.is_empty() {
                    self.grow(&value, 0, 0)?;
                }
                let max_map_size = self.program.max_map_size;
                let steps = &place.steps;
                let (target, added) =
                    place_mut(place, steps, indices, frame, op.is_none(), max_map_size)?;
                match op {
                    None => *target = value,
                    Some(op) => {
                        // Built-in op-assignments only: on numbers.
                        if target.is_custom() || value.is_custom() {
                            return Err(Exit::Fallback);
                        }
                        *target = binary(*op, target, &value)?;
                    }
                }
                if added {
                    self.grow(&Value::Unit, 0, 1)?;
                }
                Ok(Value::Unit)
            }
        }
    }

    /// Evaluates a chain's argument pass.
    pub fn pass(&mut self, chain: &Chain, frame: &mut Frame) -> Flow<Args> {
        let mut values = Args::with_capacity(chain.pass.len());
        for node in &chain.pass {
            values.push(self.eval(node, frame)?);
        }
        Ok(values)
    }

    pub fn eval(&mut self, node: &Node, frame: &mut Frame) -> Flow<Value> {
        // `eval_expr` counts every expression it evaluates.
        self.count(1)?;
        self.eval_uncounted(node, frame)
    }

    pub fn eval_uncounted(&mut self, node: &Node, frame: &mut Frame) -> Flow<Value> {
        Ok(match node {
            Node::Const(value) => value.clone(),
            Node::Literal(literal) => {
                self.count(literal.operations)?;
                self.add_sizes(literal.items, literal.entries)?;
                literal.value.clone()
            }
            Node::Local(slot) => frame.locals[*slot].clone(),
            Node::This => frame.this.clone().ok_or(Fallback)?,
            Node::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    let value = self.eval(item, frame)?;
                    self.grow(&value, 1, 0)?;
                    values.push(value);
                }
                Value::Array(Arc::new(values))
            }
            Node::Map(literal) => {
                let mut entries: Vec<(ImmutableString, Value)> = literal
                    .keys
                    .iter()
                    .map(|key| (key.clone(), Value::Unit))
                    .collect();
                for (at, node) in &literal.values {
                    let value = self.eval(node, frame)?;
                    self.grow(&value, 0, 1)?;
                    entries[*at].1 = value;
                }
                Value::Map(Arc::new(Record(entries)))
            }
            Node::And(items) => {
                for item in items {
                    if !self.eval(item, frame)?.as_bool()? {
                        return Ok(Value::Bool(false));
                    }
                }
                Value::Bool(true)
            }
            Node::Or(items) => {
                for item in items {
                    if self.eval(item, frame)?.as_bool()? {
                        return Ok(Value::Bool(true));
                    }
                }
                Value::Bool(false)
            }
            Node::Not(operand) => Value::Bool(!self.eval(operand, frame)?.as_bool()?),
            Node::Neg(operand) => match self.eval(operand, frame)? {
                Value::Int(i) => Value::Int(i.checked_neg().ok_or(Fallback)?),
                Value::Decimal(d) => Value::Decimal(-d),
                _ => return Err(Exit::Fallback),
            },
            Node::Binary(op, left, right) => {
                let left = self.eval(left, frame)?;
                let right = self.eval(right, frame)?;
                // Operators on custom types are registered functions, which
                // count their call; built-in ones do not.
                if left.is_custom() || right.is_custom() {
                    self.count(1)?;
                }
                binary(*op, &left, &right)?
            }
            Node::Call {
                callee,
                args,
                position,
            } => {
                let mut values = Args::with_capacity(args.len());
                for arg in args {
                    values.push(self.eval(arg, frame)?);
                }
                return self.call(*callee, false, values, *position);
            }
            Node::LocalProperty(slot, name) => {
                self.count(2)?;
                return self.property(&frame.locals[*slot], name);
            }
            Node::Param(slot, index) => {
                self.count(4)?;
                if !matches!(frame.locals[*slot], Value::Context) {
                    return Err(Exit::Fallback);
                }
                return Ok(self.param_at(*index)?);
            }
            Node::ThisProperty(name) => {
                self.count(2)?;
                let this = frame.this.as_ref().ok_or(Fallback)?;
                return self.property(this, name);
            }
            Node::Chain(chain) => {
                let mut pass = self.pass(chain, frame)?.into_iter();
                self.count(chain.cost)?;
                let mut current = match &chain.root {
                    Node::Local(slot) => Cursor::Local(*slot),
                    Node::This => Cursor::This,
                    other => Cursor::Owned(self.eval(other, frame)?),
                };
                for step in &chain.steps {
                    // Each step counts one: `get_indexed_mut` for a map
                    // property or an index, the getter or method otherwise.
                    current = Cursor::Owned(match step {
                        Step::Property(name) => {
                            self.count(1)?;
                            self.property(current.get(frame), name)?
                        }
                        Step::Index(literal) => {
                            let index = match literal {
                                Some(value) => value.clone(),
                                None => pass.next().ok_or(Fallback)?,
                            };
                            self.count(1)?;
                            index_of(current.get(frame), &index)?
                        }
                        Step::Method {
                            callee,
                            args,
                            position,
                        } => {
                            let mut values = Args::with_capacity(args + 1);
                            values.push(current.get(frame).clone());
                            values.extend(pass.by_ref().take(*args));
                            self.call(*callee, true, values, *position)?
                        }
                    });
                }
                match current {
                    Cursor::Owned(value) => value,
                    held => held.get(frame).clone(),
                }
            }
            Node::Mutate(chain) => {
                let mut values = self.pass(chain, frame)?;
                self.count(chain.cost + chain.steps.len() as u64)?;
                let Some(Step::Method {
                    callee: Callee::Native(Native::Push),
                    args: 1,
                    ..
                }) = chain.steps.last()
                else {
                    return Err(Exit::Fallback);
                };
                let value = values.pop().ok_or(Fallback)?;
                self.grow(&value, 1, 0)?;
                let max_map_size = self.program.max_map_size;
                let steps = &chain.steps[..chain.steps.len() - 1];
                let (target, _) = place_mut(chain, steps, values, frame, false, max_map_size)?;
                let Value::Array(items) = target else {
                    return Err(Exit::Fallback);
                };
                Arc::make_mut(items).push(value);
                Value::Unit
            }
            Node::Block(statements) => return self.block(statements, frame),
        })
    }

    pub fn property(&self, object: &Value, name: &ImmutableString) -> Flow<Value> {
        Ok(match object {
            Value::Map(record) => record.get(name).cloned().ok_or(Fallback)?,
            Value::Timestamp(ts) if name.as_str() == "date" => Value::Date(ts.date()),
            Value::Context if name.as_str() == "today" => Value::Date(self.today),
            Value::Context if name.as_str() == "as_of" => Value::Timestamp(self.ctx.as_of()),
            _ => return Err(Exit::Fallback),
        })
    }

    /// Calls `callee` with `args`; for a method call the first is the
    /// object, `this` to a script function.
    pub fn call(
        &mut self,
        callee: Callee,
        is_method: bool,
        args: Args,
        position: Position,
    ) -> Flow<Value> {
        match callee {
            Callee::Script(index) => {
                let mut args = args.into_iter();
                let this = if is_method { args.next() } else { None };
                self.call_script(index, this, args)
            }
            Callee::Native(native) => {
                self.count(native.cost())?;
                self.native(native, args, position)
            }
        }
    }

    pub fn native(&mut self, native: Native, args: Args, position: Position) -> Flow<Value> {
        use Value as V;
        Ok(match (native, args.as_slice()) {
            (Native::Param, [V::Context, V::Str(name)]) => self.param(name)?,
            (Native::Fire, [V::Context, V::Str(rule)]) => self.fire(rule, Vec::new(), position)?,
            (Native::Fire, [V::Context, V::Str(rule), V::Map(args)]) => {
                let texts = args
                    .0
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_text(self.ctx)))
                    .collect();
                self.fire(rule, texts, position)?
            }
            (Native::Need, [V::Context, V::Str(path), V::Str(rule)]) => {
                self.ctx.state().need(path, rule).map_err(|_| Fallback)?;
                V::Unit
            }
            (Native::Len, [V::Array(items)]) => V::Int(items.len() as i64),
            (Native::Len, [V::Map(record)]) => V::Int(record.len() as i64),
            (Native::Contains, [V::Map(record), V::Str(key)]) => V::Bool(record.contains_key(key)),
            (Native::Max, [V::Int(a), V::Int(b)]) => V::Int(*a.max(b)),
            (Native::Min, [V::Int(a), V::Int(b)]) => V::Int(*a.min(b)),
            (Native::Money, [V::Decimal(d)]) => V::Decimal(round_half_up(*d, 2)),
            (Native::Money, [V::Int(i)]) => V::Decimal(round_half_up(Decimal::from(*i), 2)),
            (Native::Fixed, [V::Decimal(d), V::Int(places)]) => V::Decimal(fixed(*d, *places)?),
            (Native::Fixed, [V::Int(i), V::Int(places)]) => {
                V::Decimal(fixed(Decimal::from(*i), *places)?)
            }
            (Native::ToDecimal, [V::Int(i)]) => V::Decimal(Decimal::from(*i)),
            (Native::TypeOf, [value]) => V::Str(value.type_name().ok_or(Fallback)?.into()),
            (Native::SecondsUntil, [V::Timestamp(from), V::Timestamp(to)]) => {
                V::Int(from.seconds_until(*to))
            }
            (Native::OnDate, [V::Timestamp(ts), V::Date(date)]) => {
                V::Timestamp(ts.on_date(*date).ok_or(Fallback)?)
            }
            (Native::DaysUntil, [V::Date(from), V::Date(to)]) => V::Int(from.days_until(*to)),
            (Native::AddWorkingDays, [V::Opaque(calendar), V::Date(date), V::Int(days)]) => {
                let calendar = calendar
                    .read_lock::<crate::params::Calendar>()
                    .ok_or(Fallback)?;
                if !(0..=crate::sandbox::MAX_WORKING_DAYS).contains(days) {
                    return Err(Exit::Fallback);
                }
                V::Date(calendar.add_working_days(*date, *days).ok_or(Fallback)?)
            }
            _ => return Err(Exit::Fallback),
        })
    }

    /// `ctx.param(name)`: the value in force on `ctx.today`. An unknown
    /// name or a date before the first value is Rhai's error to report.
    pub fn param(&mut self, name: &ImmutableString) -> Result<Value, Fallback> {
        let params = &self.program.params;
        let index = params
            .iter()
            .position(|p| p.name.ptr_eq(name))
            .or_else(|| params.iter().position(|p| p.name == *name))
            .ok_or(Fallback)?;
        self.param_at(index)
    }

    /// The value in force on `ctx.today` of parameter `index`.
    pub fn param_at(&mut self, index: usize) -> Result<Value, Fallback> {
        let values = &self.program.params[index].values;
        let at = values
            .iter()
            .rposition(|(from, ..)| *from <= self.today)
            .ok_or(Fallback)?;
        if !self.params_read.contains(&(index, at)) {
            self.params_read.push((index, at));
        }
        Ok(values[at].1.clone())
    }

    pub fn fire(
        &mut self,
        rule: &str,
        args: Vec<(ImmutableString, String)>,
        position: Position,
    ) -> Flow<Value> {
        let fired = self
            .ctx
            .state()
            .fire(rule, args, position)
            .map_err(|_| Fallback)?;
        Ok(Value::Str(fired))
    }
}

/// `fixed(value, places)`: rounded half up to 0 to 12 places.
pub fn fixed(value: Decimal, places: i64) -> Result<Decimal, Fallback> {
    match u32::try_from(places) {
        Ok(places) if places <= 12 => Ok(round_half_up(value, places)),
        _ => Err(Fallback),
    }
}

/// `object[index]` for a map's key or an array's position (negative from
/// the end, as in Rhai).
pub fn index_of(object: &Value, index: &Value) -> Result<Value, Fallback> {
    match (object, index) {
        (Value::Map(record), Value::Str(key)) => record.get(key).cloned().ok_or(Fallback),
        (Value::Array(items), Value::Int(i)) => {
            let len = items.len() as i64;
            let at = if *i < 0 { i + len } else { *i };
            if !(0..len).contains(&at) {
                return Err(Fallback);
            }
            Ok(items[at as usize].clone())
        }
        _ => Err(Fallback),
    }
}

/// The value a place names, made unique for writing; `may_add` lets the
/// last property be a new key of its map (an assignment). Also says
/// whether it added one.
pub fn place_mut<'f>(
    place: &Chain,
    steps: &[Step],
    indices: Args,
    frame: &'f mut Frame,
    may_add: bool,
    max_map_size: usize,
) -> Result<(&'f mut Value, bool), Fallback> {
    let Node::Local(slot) = place.root else {
        return Err(Fallback);
    };
    let mut target = &mut frame.locals[slot];
    let mut indices = indices.into_iter();
    let mut added = false;
    for (at, step) in steps.iter().enumerate() {
        let index;
        let key = match step {
            Step::Property(name) => Key::Name(name),
            Step::Index(literal) => {
                index = match literal {
                    Some(literal) => literal.clone(),
                    None => indices.next().ok_or(Fallback)?,
                };
                match &index {
                    Value::Str(name) => Key::Name(name),
                    Value::Int(i) => Key::Position(*i),
                    _ => return Err(Fallback),
                }
            }
            Step::Method { .. } => return Err(Fallback),
        };
        let last = at + 1 == steps.len();
        target = match (target, key) {
            (Value::Map(record), Key::Name(name)) => {
                let record = Arc::make_mut(record);
                match record.find(name) {
                    Some(found) => &mut record.0[found].1,
                    None if last && may_add => {
                        if record.len() >= max_map_size {
                            return Err(Fallback);
                        }
                        added = true;
                        record.entry(name.clone())
                    }
                    None => return Err(Fallback),
                }
            }
            (Value::Array(items), Key::Position(i)) => {
                let items = Arc::make_mut(items);
                let len = items.len() as i64;
                let at = if i < 0 { i + len } else { i };
                if !(0..len).contains(&at) {
                    return Err(Fallback);
                }
                &mut items[at as usize]
            }
            _ => return Err(Fallback),
        };
    }
    Ok((target, added))
}

/// A step of a place: a map's key or an array's position.
pub enum Key<'k> {
    Name(&'k ImmutableString),
    Position(i64),
}

/// Where a chain is: still on a variable (read in place) or on a value.
pub enum Cursor {
    Local(usize),
    This,
    Owned(Value),
}

impl Cursor {
    pub fn get<'f>(&'f self, frame: &'f Frame) -> &'f Value {
        match self {
            Cursor::Owned(value) => value,
            Cursor::Local(slot) => &frame.locals[*slot],
            Cursor::This => frame.this.as_ref().unwrap_or(&Value::Unit),
        }
    }
}

/// The array items and map entries nested in a value (Rhai's data sizes).
#[inline]
pub fn value_size(value: &Value) -> (usize, usize) {
    match value {
        Value::Array(_) | Value::Map(_) => container_size(value),
        // Most values placed are scalars: no call for them.
        _ => (0, 0),
    }
}

fn container_size(value: &Value) -> (usize, usize) {
    match value {
        Value::Array(items) => items.iter().fold((items.len(), 0), |(a, m), item| {
            let (x, y) = value_size(item);
            (a + x, m + y)
        }),
        Value::Map(record) => record.values().fold((0, record.len()), |(a, m), item| {
            let (x, y) = value_size(item);
            (a + x, m + y)
        }),
        _ => (0, 0),
    }
}

/// A built-in operator, as Rhai's `builtin` module computes it for the
/// types rules use; anything else falls back.
pub fn binary(op: Op, left: &Value, right: &Value) -> Result<Value, Fallback> {
    use std::cmp::Ordering;
    use Value as V;
    let compare = |ordering: Ordering| {
        V::Bool(match op {
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Gt => ordering == Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
            _ => unreachable!("arithmetic is not a comparison"),
        })
    };
    let is_comparison = !matches!(op, Op::Add | Op::Sub | Op::Mul | Op::Div);
    Ok(match (left, right) {
        (V::Int(a), V::Int(b)) => {
            if is_comparison {
                compare(a.cmp(b))
            } else {
                V::Int(
                    match op {
                        Op::Add => a.checked_add(*b),
                        Op::Sub => a.checked_sub(*b),
                        Op::Mul => a.checked_mul(*b),
                        _ if *b == 0 => None,
                        _ => a.checked_div(*b),
                    }
                    .ok_or(Fallback)?,
                )
            }
        }
        (V::Decimal(_) | V::Int(_), V::Decimal(_) | V::Int(_)) => {
            let as_decimal = |v: &Value| match v {
                V::Decimal(d) => *d,
                V::Int(i) => Decimal::from(*i),
                _ => unreachable!("matched as a number"),
            };
            let (a, b) = (as_decimal(left), as_decimal(right));
            if is_comparison {
                compare(a.cmp(&b))
            } else {
                V::Decimal(
                    match op {
                        Op::Add => a.checked_add(b),
                        Op::Sub => a.checked_sub(b),
                        Op::Mul => a.checked_mul(b),
                        _ if b.is_zero() => None,
                        _ => a.checked_div(b),
                    }
                    .ok_or(Fallback)?,
                )
            }
        }
        // The schema's enum values and the rules' texts are one string
        // each (the rule compiler's `Names`): equal ones are usually the same pointer.
        (V::Str(a), V::Str(b)) if matches!(op, Op::Eq | Op::Ne) => {
            V::Bool((a.ptr_eq(b) || a.as_str() == b.as_str()) == (op == Op::Eq))
        }
        (V::Str(a), V::Str(b)) if is_comparison => compare(a.as_str().cmp(b.as_str())),
        (V::Bool(a), V::Bool(b)) if matches!(op, Op::Eq | Op::Ne) => compare(a.cmp(b)),
        (V::Date(a), V::Date(b)) if is_comparison => compare(a.cmp(b)),
        (V::Date(later), V::Date(earlier)) if op == Op::Sub => V::Int(earlier.days_until(*later)),
        (V::Date(date), V::Int(days)) if op == Op::Add => {
            V::Date(date.add_days(*days).ok_or(Fallback)?)
        }
        (V::Date(date), V::Int(days)) if op == Op::Sub => V::Date(
            date.add_days(days.checked_neg().ok_or(Fallback)?)
                .ok_or(Fallback)?,
        ),
        (V::Timestamp(a), V::Timestamp(b)) if is_comparison => compare(a.0.cmp(&b.0)),
        _ => return Err(Fallback),
    })
}
