//! Thousands of generated households and communities (fixed seed, values
//! clustered on the policy's boundaries) through the default bundle, checked
//! against invariants and an independent re-statement of the money rules.

use eligo_core::{Bundle, DecideError, Mode};
use eligo_tests::default_bundle;
use eligo_tests::generate::{community, household, Rng, AS_OF};
use serde_json::{json, Value};

fn decide(bundle: &Bundle, entry: &str, input: &Value, mode: Mode) -> Result<Value, DecideError> {
    bundle
        .decide(&eligo_tests::request(entry, input, AS_OF, mode, None))
        .map(|e| serde_json::from_str(&e.to_json()).unwrap())
}

/// The rule IDs of an envelope's reasons, in order.
fn reason_rules(envelope: &Value) -> Vec<String> {
    envelope["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_string())
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn level_rank(level: &str) -> usize {
    ["none", "blue", "yellow", "red"]
        .iter()
        .position(|l| *l == level)
        .unwrap()
}

fn rule_level(rule: &str) -> usize {
    match rule {
        r if r.starts_with("ES-RED") || r == "CM-SPECIAL" => 3,
        "ES-BLUE-1" | "ES-BLUE-2" | "CM-STAFF" => 1,
        _ => 2,
    }
}

#[test]
fn generated_households_keep_the_policy_invariants() {
    let bundle = default_bundle();
    let mut rng = Rng(0x5eed_e11e_0000_0001);
    let mut counts = [0usize; 3];
    for index in 0..4000 {
        let input = household(&mut rng, index);
        let partial = decide(&bundle, "household", &input, Mode::Partial)
            .unwrap_or_else(|e| panic!("{input}: {e}"));
        let strict = decide(&bundle, "household", &input, Mode::Strict);
        let members = input["members"].as_array().unwrap();
        let solitary = members.len() == 1 && members[0]["age"].as_u64().unwrap() >= 60;
        let asked = input.get("relatives_in_city").is_some();
        match &strict {
            Ok(_) => counts[0] += 1,
            Err(DecideError::MissingNeeded(problems)) => {
                assert!(solitary && !asked, "{input}");
                assert_eq!(problems[0].path, "relatives_in_city");
                counts[1] += 1;
            }
            Err(other) => panic!("{input}: {other}"),
        }
        if partial["status"] == "undetermined" {
            counts[2] += 1;
            assert_eq!(partial["needs"][0]["path"], "relatives_in_city");
        }

        let result = &partial["result"];
        // Reasons are exactly the rule lists of the result, in result order.
        let mut listed = Vec::new();
        for program in [
            "temporary_relief",
            "solitary_elderly_care",
            "chronic_medicine_delivery",
            "frontline_health_pack",
        ] {
            listed.extend(strings(&result["programs"][program]["rules"]));
        }
        listed.extend(strings(&result["visits"]["rules"]));
        listed.extend(strings(&result["escalation"]["rules"]));
        let reasons = reason_rules(&partial);
        assert_eq!(reasons, listed, "{input}");

        // The level is the highest of the escalation rules that fired.
        let escalation = strings(&result["escalation"]["rules"]);
        let expected_level = escalation.iter().map(|r| rule_level(r)).max().unwrap_or(0);
        assert_eq!(
            level_rank(result["escalation"]["level"].as_str().unwrap()),
            expected_level,
            "{input}"
        );

        // Temporary relief, restated in integer fen.
        let fen: i64 = members
            .iter()
            .map(|m| {
                let text = m["monthly_income"].to_string();
                let (yuan, cents) = text.split_once('.').unwrap_or((&text, "0"));
                yuan.parse::<i64>().unwrap() * 100 + format!("{cents:0<2}").parse::<i64>().unwrap()
            })
            .sum();
        let size = members.len() as i64;
        let on_roll = input["on_dibao"] == true || input["on_tekun"] == true;
        let marginal = fen < 100_000 * size
            && members
                .iter()
                .any(|m| m["employment"] == "unemployed_epidemic");
        let relief = &result["programs"]["temporary_relief"];
        assert_eq!(relief["eligible"], json!(on_roll || marginal), "{input}");
        let amount = if on_roll || marginal {
            60_000 * size
        } else {
            0
        };
        assert_eq!(
            relief["monthly_amount"].to_string(),
            format!("{}.{:02}", amount / 100, amount % 100)
        );
        assert_eq!(
            result["income_total"].to_string(),
            format!("{}.{:02}", fen / 100, fen % 100)
        );

        // Strict and partial agree whenever strict decides.
        if let Ok(strict) = strict {
            assert_eq!(strict["result"], partial["result"]);
        }
    }
    // The generator reaches every outcome.
    assert!(counts.iter().all(|c| *c > 100), "{counts:?}");
}

#[test]
fn generated_communities_keep_their_invariants() {
    let bundle = default_bundle();
    let mut rng = Rng(0xc0ff_ee00_0000_0002);
    for index in 0..4000 {
        let input = community(&mut rng, index);
        let envelope = decide(&bundle, "community", &input, Mode::Strict)
            .unwrap_or_else(|e| panic!("{input}: {e}"));
        let result = &envelope["result"];
        let rules = strings(&result["rules"]);
        let reasons = reason_rules(&envelope);
        assert_eq!(rules, reasons);
        assert_eq!(rules.len(), result["actions"].as_array().unwrap().len());
        let expected = rules.iter().map(|r| rule_level(r)).max().unwrap_or(0);
        assert_eq!(
            level_rank(result["level"].as_str().unwrap()),
            expected,
            "{input}"
        );
        assert!(
            !(rules.contains(&"CM-SPECIAL".to_string())
                && rules.contains(&"CM-RECTIFY".to_string()))
        );
        let gridworkers = input["gridworkers"].as_u64().unwrap();
        let staff = input["households"].as_u64().unwrap() > 500 * gridworkers;
        assert_eq!(rules.contains(&"CM-STAFF".to_string()), staff, "{input}");
    }
}

#[test]
fn decisions_on_many_threads_equal_decisions_on_one() {
    let bundle = default_bundle();
    let mut rng = Rng(7);
    let inputs: Vec<Value> = (0..800).map(|i| household(&mut rng, i)).collect();
    let one: Vec<String> = inputs
        .iter()
        .map(|input| format!("{:?}", decide(&bundle, "household", input, Mode::Partial)))
        .collect();
    let many: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = inputs
            .chunks(100)
            .map(|chunk| {
                let bundle = &bundle;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|input| {
                            format!("{:?}", decide(bundle, "household", input, Mode::Partial))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(one, many);
}
