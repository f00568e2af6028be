//! What a compiled rule file calls, checked when the bundle loads rather
//! than when a household first reaches the call: every function and method
//! it calls must exist with that many arguments, and every `{placeholder}`
//! a rule's message uses must be given by each `ctx.fire("ID", #{...})`
//! that fires it.
//!
//! Read from Rhai's AST, so comments, strings and line breaks inside a call
//! cannot hide one. Where the script decides at run time (a map passed to
//! `fire` from a variable, a function pointer held in a variable), nothing
//! is claimed.

use std::collections::{BTreeMap, BTreeSet};

use rhai::{ASTNode, Engine, Expr, Position, Stmt, AST};

use crate::diagnostics::Diagnostic;
use crate::insert_all::InsertAll;
use crate::manifest::Template;

/// Names Rhai handles itself, not as registered functions.
const KEYWORDS: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_def_fn",
    "is_def_var",
    "is_shared",
];

/// The functions the engine provides natively: name → the argument counts
/// it is registered with.
#[derive(Debug, Default)]
pub(crate) struct NativeFunctions(BTreeMap<String, BTreeSet<usize>>);

impl NativeFunctions {
    /// Every function registered in `engine` (its packages and ours).
    pub(crate) fn of(engine: &Engine) -> NativeFunctions {
        let mut functions: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for (name, arity) in engine.collect_fn_metadata(
            None,
            |info| Some((info.metadata.name.to_string(), info.metadata.num_params)),
            true,
        ) {
            functions.entry(name).or_default().insert(arity);
        }
        NativeFunctions(functions)
    }
}

/// One literal `ctx.fire("ID", #{ ... })`: the keys its map gives.
#[derive(Debug, Clone)]
pub(crate) struct FireCall {
    /// The rule file.
    pub file: String,
    /// Where the call is, 1-based.
    pub line: usize,
    /// The keys of the map literal; `None` when the map is not a literal.
    pub keys: Option<BTreeSet<String>>,
}

/// Rule ID → every literal `fire` of it, across the bundle's rule files.
pub(crate) type FireCalls = BTreeMap<String, Vec<FireCall>>;

/// Checks the calls in `ast` (from `file`), adding problems to `problems`
/// and the `fire` calls found to `fires`.
pub(crate) fn check(
    ast: &AST,
    file: &str,
    natives: &NativeFunctions,
    problems: &mut Vec<Diagnostic>,
    fires: &mut FireCalls,
) {
    let mut scripted: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for function in ast.iter_functions() {
        scripted
            .entry(function.name.to_string())
            .or_default()
            .insert(function.params.len());
    }
    // A function pointer held in a variable or a parameter may be called by
    // name (`cmp(a, b)`), and a map's property may hold one (`m.f()`):
    // names used that way are not checked.
    let mut bound: BTreeSet<String> = BTreeSet::new();
    for function in ast.iter_functions() {
        bound.extend(function.params.iter().map(|p| p.to_string()));
    }
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(declaration, ..))) => {
                bound.insert(declaration.0.name.to_string());
            }
            Some(ASTNode::Expr(Expr::Variable(variable, ..))) => {
                bound.insert(variable.1.to_string());
            }
            Some(ASTNode::Expr(Expr::Property(property, ..))) => {
                bound.insert(property.2.to_string());
            }
            Some(ASTNode::Expr(Expr::Map(map, ..))) => {
                bound.extend(map.0.iter().map(|(key, _)| key.name.to_string()));
            }
            _ => {}
        }
        true
    });

    ast.walk(&mut |path: &[ASTNode]| {
        let (call, position, is_method) = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, position))) => (call, *position, false),
            Some(ASTNode::Expr(Expr::MethodCall(call, position))) => (call, *position, true),
            _ => return true,
        };
        let name = call.name.as_str();
        if call.op_token.is_some()
            || !rhai::is_valid_function_name(name)
            || KEYWORDS.contains(&name)
            || bound.contains(name)
        {
            return true;
        }
        if is_method && name == "fire" {
            record_fire(call, position, file, fires);
        }
        // A method call passes its object first: `x.f(a)` is a native
        // `f(x, a)` or a script `f(a)` with `this` bound to x. `takes`
        // counts the arguments as written.
        let object = usize::from(is_method);
        let takes: BTreeSet<usize> = scripted
            .get(name)
            .into_iter()
            .flatten()
            .copied()
            .chain(
                natives
                    .0
                    .get(name)
                    .into_iter()
                    .flatten()
                    .filter_map(|n| n.checked_sub(object)),
            )
            .insert_all();
        let args = call.args.len();
        let found = takes.contains(&args);
        if found {
            return true;
        }
        let shown = if is_method {
            format!(".{name}(…)")
        } else {
            format!("{name}(…)")
        };
        let message = if takes.is_empty() {
            format!("`{shown}` calls a function that is not defined")
        } else {
            let counts: Vec<String> = takes.iter().map(usize::to_string).collect();
            format!(
                "`{shown}` is called with {args} argument(s); `{name}` takes {}",
                counts.join(" or ")
            )
        };
        problems.push(Diagnostic::error(
            "rhai-undefined-function",
            file,
            position.line().unwrap_or(0),
            position.position().unwrap_or(0),
            message,
        ));
        true
    });
}

fn record_fire(call: &rhai::FnCallExpr, position: Position, file: &str, fires: &mut FireCalls) {
    let Some(Expr::StringConstant(id, _)) = call.args.first() else {
        return;
    };
    let keys = match call.args.get(1) {
        None => Some(BTreeSet::new()),
        Some(Expr::Map(map, _)) => Some(
            map.0
                .iter()
                .map(|(key, _)| key.name.to_string())
                .insert_all(),
        ),
        // A map of constants only, folded by Rhai's optimiser.
        Some(Expr::DynamicConstant(value, _)) => value
            .read_lock::<rhai::Map>()
            .map(|map| map.keys().map(|key| key.to_string()).insert_all()),
        _ => None,
    };
    fires.entry(id.to_string()).or_default().push(FireCall {
        file: file.to_string(),
        line: position.line().unwrap_or(0),
        keys,
    });
}

/// Checks each rule message's placeholders against the `fire` calls of its
/// rule: a placeholder one of them does not give would fail the decision
/// that fires it.
pub(crate) fn check_placeholders(
    file: &str,
    source: &str,
    messages: &BTreeMap<String, Template>,
    fires: &FireCalls,
    problems: &mut Vec<Diagnostic>,
) {
    for (id, template) in messages {
        let Some(calls) = fires.get(id) else { continue };
        for name in template.placeholders() {
            let Some(call) = calls
                .iter()
                .find(|call| call.keys.as_ref().is_some_and(|keys| !keys.contains(name)))
            else {
                continue;
            };
            let line = message_line(source, id);
            let given: Vec<&str> = call.keys.iter().flatten().map(String::as_str).collect();
            problems.push(
                Diagnostic::error(
                    "message-placeholder",
                    file,
                    line,
                    usize::from(line > 0),
                    format!(
                        "the message for `{id}` uses {{{name}}}, which ctx.fire(\"{id}\", #{{...}}) \
                         at {}:{} does not give",
                        call.file, call.line
                    ),
                )
                .with_help(if given.is_empty() {
                    "that call gives no values".to_string()
                } else {
                    format!("that call gives: {}", given.join(", "))
                }),
            );
        }
    }
}

/// The 1-based line of `"ID" =` (or `ID =`) in a messages file; 0 if not
/// found.
fn message_line(source: &str, id: &str) -> usize {
    let quoted = format!("\"{id}\"");
    source
        .lines()
        .position(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix(quoted.as_str())
                .or_else(|| line.strip_prefix(id));
            rest.is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(0, |index| index + 1)
}

#[cfg(test)]
mod tests {
    use crate::{Bundle, BundleFiles, Diagnostic};

    /// A one-entry bundle with `rules` as its rule file and `message` as
    /// the message of its one rule `OK`.
    fn load(rules: &str, message: &str) -> Result<Bundle, Vec<Diagnostic>> {
        let mut files = BundleFiles::new();
        for (name, text) in [
            (
                "bundle.toml",
                "name = \"t\"\nversion = \"1\"\nlanguages = [\"en\"]\n[entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n",
            ),
            ("rules.toml", "[OK]\nentry = \"job\"\nsource = \"s\"\n"),
            ("schema/job.toml", "[fields]\nx = { type = \"integer\" }\n"),
            ("messages/en.toml", &format!("[rules]\n\"OK\" = \"{message}\"\n")),
            ("job.rhai", rules),
        ] {
            files.insert(name, text.as_bytes()).unwrap();
        }
        Bundle::load(files)
    }

    fn errors(rules: &str, message: &str) -> Vec<String> {
        match load(rules, message) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .iter()
                .filter(|p| p.is_error())
                .map(|p| {
                    format!(
                        "{}:{}:{} {} {}",
                        p.file, p.line, p.column, p.code, p.message
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn calls_to_functions_that_exist_load() {
        let rules = "fn helper(a) { a + 1 }\n\
                     fn size() { this.len() }\n\
                     fn decide(input, ctx) {\n\
                       let cmp = |a, b| a < b;\n\
                       let xs = [3, 1, 2];\n\
                       xs.sort(cmp);\n\
                       let m = #{ f: 1 };\n\
                       ctx.fire(\"OK\", #{ x: helper(input.x ?? 0), n: xs.size() });\n\
                       #{ n: max(1, 2), keys: m.keys().len() }\n\
                     }";
        assert_eq!(errors(rules, "{x} {n}"), Vec::<String>::new());
    }

    #[test]
    fn a_call_to_an_undefined_function_is_located() {
        let rules =
            "fn decide(input, ctx) {\n  ctx.fire(\"OK\", #{ x: 1 });\n  #{ y: hepler(2) }\n}";
        assert_eq!(
            errors(rules, "{x}"),
            ["job.rhai:3:9 rhai-undefined-function `hepler(…)` calls a function that is not defined"]
        );
        let method =
            "fn decide(input, ctx) {\n  ctx.fire(\"OK\", #{ x: 1 });\n  #{ y: [1].lenght() }\n}";
        assert_eq!(
            errors(method, "{x}"),
            ["job.rhai:3:13 rhai-undefined-function `.lenght(…)` calls a function that is not defined"]
        );
    }

    #[test]
    fn a_call_with_the_wrong_number_of_arguments_is_located() {
        let rules = "fn helper(a, b) { a + b }\nfn decide(input, ctx) {\n  ctx.fire(\"OK\", #{ x: helper(1) });\n  #{}\n}";
        let found = errors(rules, "{x}");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("job.rhai:3:24 rhai-undefined-function `helper(…)` is called with 1 argument(s); `helper` takes 2"),
            "{found:?}"
        );
    }

    #[test]
    fn a_placeholder_no_fire_call_gives_is_located_in_the_messages_file() {
        let rules = "fn decide(input, ctx) {\n  ctx.fire(\"OK\",\n    #{ x: 1, y: 2 });\n  #{}\n}";
        let found = errors(rules, "{x} and {z}");
        assert_eq!(
            found,
            [
                "messages/en.toml:2:1 message-placeholder the message for `OK` uses {z}, which \
              ctx.fire(\"OK\", #{...}) at job.rhai:2 does not give"
            ]
        );
        let no_map = "fn decide(input, ctx) {\n  ctx.fire(\"OK\");\n  #{}\n}";
        assert_eq!(
            errors(no_map, "{x}"),
            [
                "messages/en.toml:2:1 message-placeholder the message for `OK` uses {x}, which \
              ctx.fire(\"OK\", #{...}) at job.rhai:2 does not give"
            ]
        );
        // A map that is not a literal cannot be checked here: the decision
        // reports a missing value when it happens.
        let dynamic =
            "fn decide(input, ctx) {\n  let args = #{ x: 1 };\n  ctx.fire(\"OK\", args);\n  #{}\n}";
        assert_eq!(errors(dynamic, "{x} and {z}"), Vec::<String>::new());
    }

    fn rule_error(bundle: &Bundle) -> crate::error::RuleLocation {
        let request = crate::DecideRequest {
            entry: "job".to_string(),
            input: serde_json::json!({ "x": 1 }),
            as_of: "2026-11-20T09:00:00+08:00".to_string(),
            mode: crate::Mode::Partial,
            lang: None,
        };
        match bundle.decide(&request) {
            Err(crate::DecideError::Rule(location)) => location,
            other => panic!("expected a rule error, got {other:?}"),
        }
    }

    #[test]
    fn what_only_a_decision_finds_is_located_at_the_call_or_the_function() {
        // A map from a variable: the missing value is found when the rule
        // fires, and located at that call.
        let dynamic =
            "fn decide(input, ctx) {\n  let args = #{ x: 1 };\n  ctx.fire(\"OK\", args);\n  #{}\n}";
        let bundle = load(dynamic, "{x} and {z}").unwrap();
        let location = rule_error(&bundle);
        assert_eq!((location.line, location.column), (3, 7), "{location}");
        assert!(location.message.contains("{z}"), "{location}");
        // A result that is not a map: located at the entry function.
        let unit =
            "fn helper() { 1 }\n\nfn decide(input, ctx) {\n  ctx.fire(\"OK\", #{ x: 1 });\n}";
        let location = rule_error(&load(unit, "{x}").unwrap());
        assert_eq!((location.line, location.column), (3, 1), "{location}");
        assert!(
            location.message.contains("must return an object map"),
            "{location}"
        );
    }
}
