//! Generated inputs for the default policy: fixed seed, values clustered on
//! every boundary of DEFAULT-POLICY.md (ages 59/60, 1000 per head, 15 min,
//! 2 h, 24 h, 30 days, 7/30/90-day visits, rates and staffing thresholds),
//! random otherwise. The same seed gives the same inputs on every platform.

use serde_json::{json, Value};

/// xorshift64*: small, fixed-seed, and the same on every platform.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

pub const AS_OF: &str = "2026-11-20T09:00:00+08:00";

pub fn timestamp_before_as_of(rng: &mut Rng) -> String {
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

/// A household clustered on the policy's boundaries.
pub fn household(rng: &mut Rng, index: usize) -> Value {
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

/// A community whose figures sit on and around every threshold.
pub fn community(rng: &mut Rng, index: usize) -> Value {
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
    input
}
