//! Thousands of generated households and communities (fixed seed, values
//! clustered on the policy's boundaries) through the default bundle, checked
//! against invariants and an independent re-statement of the money rules.

use eligo_core::{Bundle, DecideError, DecideRequest, Mode};
use eligo_tests::default_bundle;
use serde_json::{json, Value};

/// xorshift64*: small, fixed-seed, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const AS_OF: &str = "2026-11-20T09:00:00+08:00";

fn timestamp_before_as_of(rng: &mut Rng) -> String {
    // Around each deadline: 15 min, 2 h, 24 h, 30 days, plus anything up to 60 days.
    let deadlines = [15 * 60, 2 * 3600, 24 * 3600, 30 * 86400];
    let seconds: i64 = if rng.chance(60) {
        deadlines[rng.below(4) as usize] + rng.below(3) as i64 - 1
    } else {
        rng.below(60 * 86400) as i64
    };
    let as_of = chrono::DateTime::parse_from_rfc3339(AS_OF).unwrap();
    (as_of - chrono::Duration::seconds(seconds)).to_rfc3339()
}

fn household(rng: &mut Rng, index: usize) -> Value {
    let size = if rng.chance(40) { 1 } else { 1 + rng.below(6) };
    let per_head_fen = if rng.chance(50) {
        100_000 + rng.below(3) as i64 - 1
    } else {
        rng.below(400_000) as i64
    };
    let mut members = Vec::new();
    for m in 0..size {
        let age = if rng.chance(30) {
            59 + rng.below(2)
        } else {
            rng.below(100)
        };
        let fen = if m == 0 {
            per_head_fen * size as i64 - rng.below(2) as i64
        } else {
            0
        };
        let fen = fen.max(0);
        let mut member = json!({
            "age": age,
            "monthly_income": format!("{}.{:02}", fen / 100, fen % 100).parse::<serde_json::Number>().unwrap(),
            "employment": rng.pick(&["employed", "unemployed", "unemployed_epidemic", "retired", "student", "none"]),
        });
        for flag in [
            "disability",
            "chronic_illness",
            "severe_mental_disorder",
            "frontline_worker",
        ] {
            if rng.chance(10) {
                member[flag] = json!(true);
            }
        }
        if rng.chance(20) {
            member["has_guardian"] = json!(false);
        }
        if age < 18 && rng.chance(30) {
            member["difficult_child"] = json!(true);
        }
        members.push(member);
    }
    let mut cases = Vec::new();
    for c in 0..rng.below(4) {
        let kind = rng.pick(&[
            "emergency",
            "general_request",
            "immediate",
            "coordination",
            "long_term",
        ]);
        let mut case = json!({ "id": format!("c{c}"), "kind": kind, "opened_at": timestamp_before_as_of(rng) });
        if rng.chance(20) {
            case["resolved"] = json!(true);
        }
        if kind == "long_term" && rng.chance(50) {
            case["last_follow_up"] = json!(timestamp_before_as_of(rng));
        }
        cases.push(case);
    }
    let mut input = json!({
        "id": format!("g{index}"),
        "district": rng.pick(&["urban", "suburban", "rural"]),
        "members": members,
        "on_dibao": rng.chance(15),
        "on_tekun": rng.chance(5),
        "migrant_renter": rng.chance(10),
        "cases": cases,
    });
    if rng.chance(70) {
        input["relatives_in_city"] = json!(rng.chance(50));
    }
    if rng.chance(80) {
        let days = if rng.chance(50) {
            [7, 30, 90][rng.below(3) as usize] + rng.below(3) - 1
        } else {
            rng.below(200)
        };
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
            - chrono::Duration::days(days as i64);
        input["last_visit"] = json!(date.to_string());
    }
    input
}

fn decide(bundle: &Bundle, entry: &str, input: &Value, mode: Mode) -> Result<Value, DecideError> {
    bundle
        .decide(&DecideRequest {
            entry,
            input,
            as_of: AS_OF,
            mode,
            lang: None,
        })
        .map(|e| serde_json::from_str(&e.to_json()).unwrap())
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
        let reasons: Vec<String> = partial["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rule"].as_str().unwrap().to_string())
            .collect();
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
        let months: Vec<Value> = (0..1 + rng.below(4))
            .map(|m| {
                let found = rng.below(30);
                let planned = [0, 10, 100][rng.below(3) as usize];
                json!({
                    "month": format!("2026-{:02}", m + 1),
                    "problems_found": found,
                    "problems_resolved": if found == 0 { 0 } else { rng.below(found + 1) },
                    "visits_planned": planned,
                    "visits_done": if planned == 0 { 0 } else { rng.below(planned + 1) },
                    "refusals": if planned == 0 { 0 } else { rng.below(planned / 2 + 1) },
                    "satisfaction": if rng.chance(20) { Value::Null } else {
                        format!("0.{:02}", 60 + rng.below(30)).parse::<serde_json::Number>().unwrap().into()
                    },
                })
            })
            .collect();
        let gridworkers = rng.below(4);
        let input = json!({
            "id": format!("k{index}"),
            "households": 500 * gridworkers + rng.below(3) + (gridworkers == 0) as u64 - 1,
            "gridworkers": gridworkers,
            "months": months,
        });
        let envelope = decide(&bundle, "community", &input, Mode::Strict)
            .unwrap_or_else(|e| panic!("{input}: {e}"));
        let result = &envelope["result"];
        let rules = strings(&result["rules"]);
        let reasons: Vec<String> = envelope["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rule"].as_str().unwrap().to_string())
            .collect();
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
