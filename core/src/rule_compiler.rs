//! Compiles a bundle's Rhai rules, when they keep to the subset it covers,
//! into the program `eligo_engine::compiled` runs: the rule compiler.
//!
//! Compiling is part of loading a bundle, so it is here, with the loader,
//! compiled for size in the artifact; running the program is the decision
//! path's. What the subset is, and why it counts operations exactly as Rhai
//! does, is told at the head of `eligo_engine::compiled`.

use std::sync::Arc;

use rhai::{Dynamic, ImmutableString, Position, AST};

use crate::compiled::*;
use crate::context::{ParameterUse, RuleContext};
use crate::manifest::Limits;
use crate::params::ParamStore;
use crate::schema::{Kind, ObjectType};
use crate::values::{Date, Timestamp};

/// Every name the program uses as a key, once: maps built by the rules and
/// read from the input share these strings.
#[derive(Debug, Default)]
struct Names(std::collections::BTreeMap<Box<str>, ImmutableString>);

impl Names {
    fn intern(&mut self, name: &str) -> ImmutableString {
        if let Some(known) = self.0.get(name) {
            return known.clone();
        }
        let interned = ImmutableString::from(name);
        self.0.insert(name.into(), interned.clone());
        interned
    }

    /// Makes `name` the string used for its text.
    fn adopt(&mut self, name: &ImmutableString) {
        self.0
            .entry(name.as_str().into())
            .or_insert_with(|| name.clone());
    }

    /// Adopts every field name of `object` and of the objects inside it.
    fn adopt_schema(&mut self, object: &ObjectType) {
        fn adopt_kind(names: &mut Names, kind: &Kind) {
            match kind {
                Kind::Object { object } => names.adopt_schema(object),
                Kind::Array { items, .. } => adopt_kind(names, items),
                Kind::Enum { names: values, .. } => values.iter().for_each(|v| names.adopt(v)),
                _ => {}
            }
        }
        for key in &object.keys {
            self.adopt(key);
        }
        for field in object.fields.values() {
            adopt_kind(self, &field.kind);
        }
    }

    fn get(&self, name: &str) -> ImmutableString {
        self.0
            .get(name)
            .cloned()
            .unwrap_or_else(|| ImmutableString::from(name))
    }
}

/// A Rhai value as the compiled evaluator's, when it can hold it.
fn value_from_dynamic(value: &Dynamic, names: &Names) -> Option<Value> {
    Some(if value.is_unit() {
        Value::Unit
    } else if let Ok(b) = value.as_bool() {
        Value::Bool(b)
    } else if let Ok(i) = value.as_int() {
        Value::Int(i)
    } else if let Ok(d) = value.as_decimal() {
        Value::Decimal(d)
    } else if value.is_string() {
        Value::Str(value.clone().into_immutable_string().ok()?)
    } else if let Some(date) = value.read_lock::<Date>() {
        Value::Date(*date)
    } else if let Some(ts) = value.read_lock::<Timestamp>() {
        Value::Timestamp(*ts)
    } else if value.is_array() {
        let array = value.as_array_ref().ok()?;
        let items = array
            .iter()
            .map(|item| value_from_dynamic(item, names))
            .collect::<Option<Vec<_>>>()?;
        Value::Array(Arc::new(items))
    } else if value.is_map() {
        Value::Map(Arc::new(record_from_map(
            &*value.as_map_ref().ok()?,
            names,
        )?))
    } else if value.is::<RuleContext>() {
        Value::Context
    } else {
        Value::Opaque(value.clone())
    })
}

fn record_from_map(map: &rhai::Map, names: &Names) -> Option<Record> {
    map.iter()
        .map(|(key, value)| Some((names.get(key), value_from_dynamic(value, names)?)))
        .collect::<Option<Vec<_>>>()
        .map(Record)
}

/// The native a call by this name and argument count (counting the
/// object of a method call) resolves to.
fn resolve_native(name: &str, arity: usize) -> Option<Native> {
    Some(match (name, arity) {
        ("param", 2) => Native::Param,
        ("fire", 2 | 3) => Native::Fire,
        ("need", 3) => Native::Need,
        ("len", 1) => Native::Len,
        ("push", 2) => Native::Push,
        ("contains", 2) => Native::Contains,
        ("max", 2) => Native::Max,
        ("min", 2) => Native::Min,
        ("money", 1) => Native::Money,
        ("fixed", 2) => Native::Fixed,
        ("to_decimal", 1) => Native::ToDecimal,
        ("type_of", 1) => Native::TypeOf,
        ("seconds_until", 2) => Native::SecondsUntil,
        ("on_date", 2) => Native::OnDate,
        ("days_until", 2) => Native::DaysUntil,
        ("add_working_days", 3) => Native::AddWorkingDays,
        _ => return None,
    })
}

/// `node` built, when it is a literal of literals; `None` otherwise.
fn fold_literal(node: &Node) -> Option<Literal> {
    // One item: the operation of its evaluation, its own counts, and
    // what `grow` adds when it is placed.
    fn item(node: &Node) -> Option<(Value, u64, usize, usize)> {
        let (value, operations, items, entries) = match node {
            Node::Const(value) => (value.clone(), 0, 0, 0),
            Node::Literal(literal) => (
                literal.value.clone(),
                literal.operations,
                literal.items,
                literal.entries,
            ),
            _ => return None,
        };
        let (nested_items, nested_entries) = value_size(&value);
        Some((
            value,
            operations + 1,
            items + nested_items,
            entries + nested_entries,
        ))
    }
    let mut literal = Literal {
        value: Value::Unit,
        operations: 0,
        items: 0,
        entries: 0,
    };
    let mut add = |operations: u64, items: usize, entries: usize| {
        literal.operations += operations;
        literal.items += items;
        literal.entries += entries;
    };
    let value = match node {
        Node::Array(nodes) => {
            let mut values = Vec::with_capacity(nodes.len());
            for node in nodes {
                let (value, operations, items, entries) = item(node)?;
                add(operations, items + 1, entries);
                values.push(value);
            }
            Value::Array(Arc::new(values))
        }
        Node::Map(map) => {
            let mut entries: Vec<(ImmutableString, Value)> = map
                .keys
                .iter()
                .map(|key| (key.clone(), Value::Unit))
                .collect();
            for (at, node) in &map.values {
                let (value, operations, items, nested) = item(node)?;
                add(operations, items, nested + 1);
                entries[*at].1 = value;
            }
            Value::Map(Arc::new(Record(entries)))
        }
        _ => return None,
    };
    literal.value = value;
    Some(literal)
}

/// `node`, or the literal it folds to.
fn literal_or_node(node: Node) -> Node {
    match fold_literal(&node) {
        Some(literal) => Node::Literal(Box::new(literal)),
        None => node,
    }
}

/// Compiles `ast`'s functions, or says where the file first uses
/// something the compiled evaluator does not cover (Rhai then runs it).
pub fn compile(
    ast: &AST,
    entry: &str,
    limits: &Limits,
    input: &ObjectType,
    params: &ParamStore,
) -> Result<Program, (Position, String)> {
    let mut refused = None;
    try_compile(ast, entry, limits, input, params, &mut refused).ok_or_else(|| {
        refused.unwrap_or((Position::NONE, "a value this evaluator cannot hold".into()))
    })
}

fn try_compile(
    ast: &AST,
    entry: &str,
    limits: &Limits,
    input: &ObjectType,
    params: &ParamStore,
    refused: &mut Option<(Position, String)>,
) -> Option<Program> {
    let definitions: Vec<_> = ast.iter_fn_def().collect();
    let signatures: Vec<(String, usize)> = definitions
        .iter()
        .map(|f| (f.name.to_string(), f.params.len()))
        .collect();
    let mut functions = Vec::with_capacity(definitions.len());
    let mut names = Names::default();
    names.adopt_schema(input);
    let params = params
        .iter()
        .map(|param| {
            let values = param
                .values
                .iter()
                .map(|value| {
                    let record = ParameterUse {
                        name: param.name.as_str().into(),
                        value: Arc::new(value.json.clone()),
                        from: value.from.to_string().into(),
                        source: value.source.as_str().into(),
                    };
                    let converted = value_from_dynamic(&value.rule_value, &names);
                    if converted.is_none() {
                        let what = format!("the value of parameter `{}`", param.name);
                        *refused = Some((Position::NONE, what));
                    }
                    let converted = converted?;
                    Some((value.from, converted, record))
                })
                .collect::<Option<_>>()?;
            Some(Param {
                name: names.intern(&param.name),
                values,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let param_names: Vec<ImmutableString> = params.iter().map(|p| p.name.clone()).collect();
    for definition in &definitions {
        if definition.this_type.is_some() {
            let what = "a function for one type (`fn Type.name`)";
            *refused = Some((definition.body.start_position(), what.into()));
            return None;
        }
        let rhai::ScriptFuncPayload::Statements(body) = &definition.body;
        let mut compiler = Compiler {
            signatures: &signatures,
            params: &param_names,
            names: &mut names,
            refused: None,
            scopes: vec![definition.params.iter().map(|p| p.to_string()).collect()],
            slots: definition.params.len(),
            max_slots: definition.params.len(),
        };
        let Some(body) = compiler.block(body.statements()) else {
            *refused = compiler.refused;
            return None;
        };
        // Rhai refuses a scope of more variables than this (each a slot
        // here); such a function is left to it.
        if compiler.max_slots >= crate::sandbox::MAX_VARIABLES {
            let what = format!("a function with {} variables", compiler.max_slots);
            *refused = Some((definition.body.start_position(), what));
            return None;
        }
        functions.push(Function {
            name: definition.name.to_string(),
            params: definition.params.len(),
            slots: compiler.max_slots,
            body,
        });
    }
    let entry = functions
        .iter()
        .position(|f| f.name == entry && f.params == 2)?;
    Some(Program {
        functions,
        entry,
        params,
        max_operations: limits.max_operations,
        max_call_depth: limits.max_call_depth,
        max_array_size: limits.max_array_size,
        max_map_size: limits.max_map_size,
    })
}

/// Compiles one function body.
struct Compiler<'a> {
    signatures: &'a [(String, usize)],
    /// The bundle's parameter names, by index.
    params: &'a [ImmutableString],
    names: &'a mut Names,
    /// The first construct refused, and where.
    refused: Option<(Position, String)>,
    /// Names in scope, innermost block last; a name's slot is its index in
    /// the flattened list.
    scopes: Vec<Vec<String>>,
    slots: usize,
    max_slots: usize,
}

impl Compiler<'_> {
    /// Refuses the rule file: records the first reason and answers `None`.
    fn refuse<T>(&mut self, position: Position, what: impl Into<String>) -> Option<T> {
        if self.refused.is_none() {
            self.refused = Some((position, what.into()));
        }
        None
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        let mut base = self.slots;
        for scope in self.scopes.iter().rev() {
            base -= scope.len();
            if let Some(at) = scope.iter().rposition(|n| n == name) {
                return Some(base + at);
            }
        }
        None
    }

    fn declare(&mut self, name: &str) -> usize {
        self.scopes
            .last_mut()
            .expect("a scope")
            .push(name.to_string());
        self.slots += 1;
        self.max_slots = self.max_slots.max(self.slots);
        self.slots - 1
    }

    fn scoped<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        self.scopes.push(Vec::new());
        let result = f(self);
        let scope = self.scopes.pop().expect("the pushed scope");
        self.slots -= scope.len();
        result
    }

    fn block(&mut self, statements: &[rhai::Stmt]) -> Option<Vec<Stmt>> {
        self.scoped(|c| statements.iter().map(|s| c.stmt(s)).collect())
    }

    fn script(&self, name: &str, arity: usize) -> Option<usize> {
        self.signatures
            .iter()
            .position(|(n, p)| n == name && *p == arity)
    }

    fn stmt(&mut self, stmt: &rhai::Stmt) -> Option<Stmt> {
        use rhai::Stmt as S;
        Some(match stmt {
            S::Noop(_) => Stmt::Noop,
            S::Expr(expr) => Stmt::Expr(self.expr(expr)?, true),
            S::FnCall(call, position) => Stmt::Expr(self.call(call, *position)?, false),
            S::Block(block) => Stmt::Block(self.block(block.statements())?),
            S::Var(x, flags, _) => {
                let (name, value, _) = &**x;
                if flags.intersects(rhai::ASTFlags::EXPORTED | rhai::ASTFlags::CONSTANT) {
                    return self.refuse(stmt.position(), "`const`");
                }
                let value = self.expr(value)?;
                Stmt::Let(self.declare(name.as_str()), value)
            }
            S::If(x, _) => Stmt::If(
                self.expr(&x.expr)?,
                self.block(x.body.statements())?,
                self.block(x.branch.statements())?,
            ),
            S::For(x, _) => {
                let (name, counter, flow) = &**x;
                if counter.is_some() {
                    return self.refuse(stmt.position(), "a `for` loop with a counter");
                }
                if flow.body.is_empty() {
                    return self.refuse(stmt.position(), "a `for` loop with an empty body");
                }
                let iterable = self.expr(&flow.expr)?;
                self.scoped(|c| {
                    let local = c.declare(name.as_str());
                    let body = c.block(flow.body.statements())?;
                    Some(Stmt::For {
                        local,
                        iterable,
                        body,
                    })
                })?
            }
            S::Return(value, flags, _) => {
                if flags.contains(rhai::ASTFlags::BREAK) {
                    return self.refuse(stmt.position(), "`throw`");
                }
                Stmt::Return(match value {
                    Some(value) => Some(self.expr(value)?),
                    None => None,
                })
            }
            S::Assignment(x) => {
                let (op, binary) = &**x;
                let op = match op.get_op_assignment_info() {
                    None => None,
                    Some((.., op_str)) => match binary_op(op_str) {
                        Some(op) => Some(op),
                        None => {
                            let what = format!("the `{op_str}=` operator");
                            return self.refuse(op.position(), what);
                        }
                    },
                };
                let value = self.expr(&binary.rhs)?;
                let place = match &binary.lhs {
                    // `eval_stmt` counts the variable after the value.
                    rhai::Expr::Variable(x, _, _) => Chain {
                        root: Node::Local(self.lookup(x.1.as_str())?),
                        pass: Vec::new(),
                        steps: Vec::new(),
                        cost: 1,
                    },
                    chain @ (rhai::Expr::Dot(..) | rhai::Expr::Index(..)) => {
                        let chain = self.chain(chain)?;
                        let assignable = matches!(chain.root, Node::Local(_))
                            && chain
                                .steps
                                .iter()
                                .all(|s| !matches!(s, Step::Method { .. }));
                        if !assignable {
                            let what = "an assignment to something other than a variable's \
                                        properties and items";
                            return self.refuse(binary.lhs.start_position(), what);
                        }
                        chain
                    }
                    other => {
                        let what = "an assignment to something other than a variable";
                        return self.refuse(other.start_position(), what);
                    }
                };
                Stmt::Assign {
                    place: Box::new(place),
                    op,
                    value,
                }
            }
            S::While(..) | S::Do(..) => {
                return self.refuse(stmt.position(), "a `while`, `do` or `loop` loop")
            }
            S::BreakLoop(..) => return self.refuse(stmt.position(), "`break` or `continue`"),
            S::Switch(..) => return self.refuse(stmt.position(), "`switch`"),
            S::TryCatch(..) => return self.refuse(stmt.position(), "`try`/`catch`"),
            _ => return self.refuse(stmt.position(), "this statement"),
        })
    }

    fn exprs(&mut self, exprs: &[rhai::Expr]) -> Option<Vec<Node>> {
        exprs.iter().map(|e| self.expr(e)).collect()
    }

    /// A call's arguments. Rhai takes an argument that is an array or map
    /// of literals as one literal (one operation, however many items),
    /// where the same literal elsewhere costs an operation per item too.
    fn args(&mut self, args: &[rhai::Expr]) -> Option<Vec<Node>> {
        use rhai::Expr as E;
        args.iter()
            .map(|arg| match arg {
                E::Array(..) | E::Map(..) => match arg.get_literal_value(None) {
                    Some(value) => match constant(&value, self.names) {
                        Some(value) => Some(Node::Const(value)),
                        None => self.refuse(arg.start_position(), "this constant"),
                    },
                    None => self.expr(arg),
                },
                _ => self.expr(arg),
            })
            .collect()
    }

    fn expr(&mut self, expr: &rhai::Expr) -> Option<Node> {
        use rhai::Expr as E;
        Some(match expr {
            E::DynamicConstant(value, position) => match constant(value, self.names) {
                Some(value) => Node::Const(value),
                None => return self.refuse(*position, "this constant"),
            },
            E::BoolConstant(b, _) => Node::Const(Value::Bool(*b)),
            E::IntegerConstant(i, _) => Node::Const(Value::Int(*i)),
            E::StringConstant(s, _) => Node::Const(Value::Str(self.names.intern(s))),
            E::Unit(_) => Node::Const(Value::Unit),
            E::Variable(x, _, _) => Node::Local(self.lookup(x.1.as_str())?),
            E::ThisPtr(_) => Node::This,
            E::Array(items, _) => literal_or_node(Node::Array(self.exprs(items)?)),
            E::Map(x, _) => {
                let mut keys: Vec<ImmutableString> =
                    x.0.iter()
                        .map(|(key, _)| self.names.intern(&key.name))
                        .collect();
                crate::sort::sort_by(&mut keys, |a, b| a.as_str().cmp(b.as_str()));
                keys.dedup_by(|a, b| a.as_str() == b.as_str());
                let mut values = Vec::with_capacity(x.0.len());
                for (key, value) in &x.0 {
                    let at = keys.iter().position(|k| k.as_str() == key.name.as_str())?;
                    values.push((at, self.expr(value)?));
                }
                literal_or_node(Node::Map(Box::new(MapLiteral { keys, values })))
            }
            E::And(items, _) => Node::And(self.exprs(items)?),
            E::Or(items, _) => Node::Or(self.exprs(items)?),
            E::Stmt(block) => Node::Block(self.block(block.statements())?),
            E::FnCall(call, position) => self.call(call, *position)?,
            E::Dot(..) | E::Index(..) => {
                let chain = self.chain(expr)?;
                let mutates = matches!(
                    chain.steps.last(),
                    Some(Step::Method {
                        callee: Callee::Native(Native::Push),
                        ..
                    })
                );
                if mutates {
                    let fits = matches!(chain.root, Node::Local(_))
                        && chain.steps[..chain.steps.len() - 1]
                            .iter()
                            .all(|s| !matches!(s, Step::Method { .. }));
                    if !fits {
                        let what = "`push` on something other than a variable's properties \
                                    and items";
                        return self.refuse(expr.start_position(), what);
                    }
                    Node::Mutate(Box::new(chain))
                } else {
                    let param = match (&chain.root, chain.steps.as_slice(), chain.pass.as_slice()) {
                        (
                            Node::Local(slot),
                            [Step::Method {
                                callee: Callee::Native(Native::Param),
                                args: 1,
                                ..
                            }],
                            [Node::Const(Value::Str(name))],
                        ) => self
                            .params
                            .iter()
                            .position(|p| p == name)
                            .map(|index| (*slot, index)),
                        _ => None,
                    };
                    if let Some((slot, index)) = param {
                        return Some(Node::Param(slot, index));
                    }
                    match (&chain.root, chain.steps.as_slice(), chain.cost) {
                        (Node::Local(slot), [Step::Property(name)], 1) => {
                            Node::LocalProperty(*slot, name.clone())
                        }
                        (Node::This, [Step::Property(name)], 1) => Node::ThisProperty(name.clone()),
                        _ => Node::Chain(Box::new(chain)),
                    }
                }
            }
            E::InterpolatedString(..) => {
                return self.refuse(expr.start_position(), "an interpolated string")
            }
            E::CharConstant(..) => return self.refuse(expr.start_position(), "a character"),
            E::Coalesce(..) => return self.refuse(expr.start_position(), "`??`"),
            _ => return self.refuse(expr.start_position(), "this expression"),
        })
    }

    fn call(&mut self, call: &rhai::FnCallExpr, position: Position) -> Option<Node> {
        if call.capture_parent_scope {
            return self.refuse(position, "a call with `!` (capturing the caller's scope)");
        }
        let name = call.name.as_str();
        if call.is_operator_call() {
            return match (call.args.len(), name) {
                (1, "!") => Some(Node::Not(Box::new(self.args(&call.args)?.pop()?))),
                (1, "-") => Some(Node::Neg(Box::new(self.args(&call.args)?.pop()?))),
                (2, _) => match binary_op(name) {
                    Some(op) => {
                        let mut args = self.args(&call.args)?;
                        let right = args.pop()?;
                        let left = args.pop()?;
                        Some(Node::Binary(op, Box::new(left), Box::new(right)))
                    }
                    None => self.refuse(position, format!("the `{name}` operator")),
                },
                _ => self.refuse(position, format!("the `{name}` operator")),
            };
        }
        let args = self.args(&call.args)?;
        let callee = match self.script(name, args.len()) {
            Some(index) => Callee::Script(index),
            None => match resolve_native(name, args.len()) {
                // A native that changes its first argument would change a
                // copy here and the variable in Rhai; `ctx` functions are
                // written as methods.
                Some(Native::Push | Native::Param | Native::Fire | Native::Need) | None => {
                    let what = format!("`{name}` called with {} arguments", args.len());
                    return self.refuse(position, what);
                }
                Some(native) => Callee::Native(native),
            },
        };
        Some(Node::Call {
            callee,
            args,
            position,
        })
    }

    /// Compiles a dot/index chain, counting what Rhai's
    /// `eval_dot_index_chain` counts besides the expressions it evaluates.
    fn chain(&mut self, expr: &rhai::Expr) -> Option<Chain> {
        use rhai::Expr as E;
        let (x, dotting) = match expr {
            E::Dot(x, ..) => (x, true),
            E::Index(x, ..) => (x, false),
            _ => return None,
        };
        if is_special_chain(expr) {
            return self.refuse(expr.start_position(), "`?.` or `?[`");
        }
        let mut chain = Chain {
            root: Node::Const(Value::Unit),
            pass: Vec::new(),
            steps: Vec::new(),
            cost: 0,
        };
        // The short cuts: a plain property, a literal index or a method call
        // without arguments skip the argument pass (and a literal index is
        // never evaluated as an expression).
        match (&x.rhs, dotting) {
            (E::Property(p, _), true) => chain.steps.push(Step::Property(self.names.intern(&p.2))),
            (E::MethodCall(call, position), true) if call.args.is_empty() => {
                let step = self.method(call, *position, &mut chain)?;
                chain.steps.push(step);
            }
            (index, false) if is_literal(index) => {
                let Node::Const(value) = self.expr(index)? else {
                    return None;
                };
                chain.steps.push(Step::Index(Some(value)));
            }
            (rhs, _) => self.level(rhs, expr, &mut chain)?,
        }
        // The root: a variable or `this` counts one; any other expression
        // counts as it evaluates.
        chain.root = match &x.lhs {
            E::Variable(..) | E::ThisPtr(..) => {
                chain.cost += 1;
                self.expr(&x.lhs)?
            }
            other => self.expr(other)?,
        };
        Some(chain)
    }

    /// One level of the argument pass: `rhs` under `parent`, a dot or an
    /// index. An index marked as the end of its chain (`a[b.c]`, Rhai's
    /// `BREAK` flag) takes all of `rhs` as the index.
    fn level(&mut self, rhs: &rhai::Expr, parent: &rhai::Expr, chain: &mut Chain) -> Option<()> {
        use rhai::Expr as E;
        chain.cost += 1;
        let dotting = matches!(parent, E::Dot(..));
        let end = parent.options().contains(rhai::ASTFlags::BREAK);
        match (rhs, dotting) {
            (index, false) if end => {
                let node = self.expr(index)?;
                chain.pass.push(node);
                chain.steps.push(Step::Index(None));
            }
            (E::Property(p, _), true) => chain.steps.push(Step::Property(self.names.intern(&p.2))),
            (E::MethodCall(call, position), true) => {
                let step = self.method(call, *position, chain)?;
                chain.steps.push(step);
            }
            (E::Dot(x, ..) | E::Index(x, ..), _) => {
                if is_special_chain(rhs) {
                    return self.refuse(rhs.start_position(), "`?.` or `?[`");
                }
                match (&x.lhs, dotting) {
                    (E::Property(p, _), true) => {
                        chain.steps.push(Step::Property(self.names.intern(&p.2)))
                    }
                    (E::MethodCall(call, position), true) => {
                        let step = self.method(call, *position, chain)?;
                        chain.steps.push(step);
                    }
                    (index, false) => {
                        let node = self.expr(index)?;
                        chain.pass.push(node);
                        chain.steps.push(Step::Index(None));
                    }
                    (other, _) => return self.refuse(other.start_position(), "this chain"),
                }
                self.level(&x.rhs, rhs, chain)?;
            }
            (index, false) => {
                let node = self.expr(index)?;
                chain.pass.push(node);
                chain.steps.push(Step::Index(None));
            }
            (other, _) => return self.refuse(other.start_position(), "this chain"),
        }
        Some(())
    }

    fn method(
        &mut self,
        call: &rhai::FnCallExpr,
        position: Position,
        chain: &mut Chain,
    ) -> Option<Step> {
        let args = self.args(&call.args)?;
        let count = args.len();
        chain.pass.extend(args);
        // A script function called as a method: its arity leaves out `this`.
        let name = call.name.as_str();
        let callee = match self.script(name, count) {
            Some(index) => Callee::Script(index),
            None => match resolve_native(name, count + 1) {
                Some(native) => Callee::Native(native),
                None => {
                    let what = format!("the method `{name}` with {count} arguments");
                    return self.refuse(position, what);
                }
            },
        };
        Some(Step::Method {
            callee,
            args: count,
            position,
        })
    }
}

/// `?.` and `?[`: left to Rhai.
fn is_special_chain(expr: &rhai::Expr) -> bool {
    expr.options().contains(rhai::ASTFlags::NEGATED)
}

fn is_literal(expr: &rhai::Expr) -> bool {
    use rhai::Expr as E;
    matches!(
        expr,
        E::DynamicConstant(..)
            | E::BoolConstant(..)
            | E::IntegerConstant(..)
            | E::StringConstant(..)
            | E::CharConstant(..)
            | E::Unit(..)
    )
}

/// A literal the optimiser folded (a decimal, or an array or map of
/// literals).
fn constant(value: &Dynamic, names: &Names) -> Option<Value> {
    match value_from_dynamic(value, names)? {
        Value::Opaque(_) | Value::Context => None,
        value => Some(value),
    }
}

fn binary_op(name: &str) -> Option<Op> {
    Some(match name {
        "+" => Op::Add,
        "-" => Op::Sub,
        "*" => Op::Mul,
        "/" => Op::Div,
        "==" => Op::Eq,
        "!=" => Op::Ne,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        _ => return None,
    })
}
