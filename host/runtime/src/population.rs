//! A synthetic population of households for the default bundle's
//! `household` entry, for demos and benchmarks of `eligo impact`: the same
//! seed gives the same bytes on every platform (xorshift64*, integers only,
//! money written from whole fen).
//!
//! The distributions, per household (documented in `eligo population
//! --help` too; plausible for a mixed Chinese street office, not data):
//!
//! - district: urban 55 %, suburban 25 %, rural 20 %;
//! - size: 1 person 22 %, 2: 30 %, 3: 26 %, 4: 12 %, 5: 6 %, 6: 4 %;
//!   one-person households are mostly (60 %) people aged 60 or more;
//! - ages: adults 18–89, children 0–17 in households of three or more;
//! - income per earning adult, monthly: around a district median (urban
//!   3,200, suburban 2,400, rural 1,500 yuan), from 0.2× to 2.5× of it;
//!   retired people a pension of 0.3–0.9× the median; unemployed 6 % of
//!   working-age adults (a third of them through the epidemic), no income;
//! - rolls: dibao 12 % of households under 1,000 yuan per head, 2 %
//!   otherwise; tekun 1 %; migrant renters 14 % in town, 3 % rural;
//! - chronic illness 12 % (35 % at 60+), disability 4 %, severe mental
//!   disorder 0.8 % (a guardian in 85 % of those), frontline workers 5 %
//!   of the employed, difficult children 4 % of children;
//! - relatives in the city 85 %; last visit 0–150 days ago, never 8 %;
//! - cases: none 70 %, one 20 %, two or three 10 %, opened within the
//!   last 60 days, a fifth of them resolved.

use std::fmt::Write;

/// xorshift64*: small, fixed-seed, the same on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Zero would stay zero; mix the seed so nearby seeds differ at once.
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    /// An index by cumulative weights (per mille).
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut roll = self.below(weights.iter().sum());
        for (index, weight) in weights.iter().enumerate() {
            if roll < *weight {
                return index;
            }
            roll -= weight;
        }
        weights.len() - 1
    }
}

const AS_OF_DAY: (i32, u32, u32) = (2026, 11, 20);

fn money(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn day_before(days: u64) -> String {
    let (y, m, d) = AS_OF_DAY;
    let date = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("a date")
        - chrono::Duration::days(days as i64);
    date.format("%Y-%m-%d").to_string()
}

/// Household `index` of the population for `seed`, as one JSON line.
fn household(rng: &mut Rng, index: u64, out: &mut String) {
    let districts = ["urban", "suburban", "rural"];
    let district = rng.weighted(&[550, 250, 200]);
    let median_fen = [320_000, 240_000, 150_000][district];
    let size = 1 + rng.weighted(&[220, 300, 260, 120, 60, 40]) as u64;
    let mut members = Vec::new();
    for m in 0..size {
        let elderly = if size == 1 {
            rng.chance(600)
        } else {
            rng.chance(180)
        };
        let age = if m >= 2 && rng.chance(700) {
            rng.below(18)
        } else if elderly {
            60 + rng.below(30)
        } else {
            18 + rng.below(42)
        };
        let working_age = (18..60).contains(&age);
        let (employment, fen) = if age < 18 {
            ("student", 0)
        } else if age >= 60 {
            ("retired", median_fen * (30 + rng.below(61)) / 100)
        } else if rng.chance(60) {
            let kind = if rng.chance(333) {
                "unemployed_epidemic"
            } else {
                "unemployed"
            };
            (kind, 0)
        } else {
            ("employed", median_fen * (20 + rng.below(231)) / 100)
        };
        let mut member = format!(
            r#"{{"age":{age},"monthly_income":{},"employment":"{employment}""#,
            money(fen)
        );
        let chronic = if age >= 60 {
            rng.chance(350)
        } else {
            rng.chance(120)
        };
        if chronic {
            member.push_str(r#","chronic_illness":true"#);
        }
        if rng.chance(40) {
            member.push_str(r#","disability":true"#);
        }
        if rng.chance(8) {
            member.push_str(r#","severe_mental_disorder":true"#);
            if !rng.chance(850) {
                member.push_str(r#","has_guardian":false"#);
            }
        }
        if employment == "employed" && working_age && rng.chance(50) {
            member.push_str(r#","frontline_worker":true"#);
        }
        if age < 18 && rng.chance(40) {
            member.push_str(r#","difficult_child":true"#);
        }
        member.push('}');
        members.push((member, fen));
    }
    let total_fen: u64 = members.iter().map(|(_, fen)| fen).sum();
    let poor = total_fen / size < 100_000;
    let on_dibao = if poor {
        rng.chance(120)
    } else {
        rng.chance(20)
    };
    let on_tekun = rng.chance(10);
    let migrant = if district == 2 {
        rng.chance(30)
    } else {
        rng.chance(140)
    };
    let _ = write!(
        out,
        r#"{{"id":"P-{index:07}","district":"{}","on_dibao":{on_dibao},"on_tekun":{on_tekun},"migrant_renter":{migrant},"relatives_in_city":{}"#,
        districts[district],
        rng.chance(850)
    );
    if rng.chance(80) {
        out.push_str(r#","last_visit":null"#);
    } else {
        let _ = write!(out, r#","last_visit":"{}""#, day_before(rng.below(151)));
    }
    out.push_str(r#","members":["#);
    for (i, (member, _)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(member);
    }
    out.push_str(r#"],"cases":["#);
    let cases = match rng.weighted(&[700, 200, 100]) {
        0 => 0,
        1 => 1,
        _ => 2 + rng.below(2),
    };
    for c in 0..cases {
        let kinds = [
            "emergency",
            "general_request",
            "immediate",
            "coordination",
            "long_term",
        ];
        let kind = kinds[rng.weighted(&[50, 450, 150, 200, 150])];
        let minutes = rng.below(60 * 24 * 60);
        let opened = chrono::NaiveDate::from_ymd_opt(AS_OF_DAY.0, AS_OF_DAY.1, AS_OF_DAY.2)
            .expect("a date")
            .and_hms_opt(9, 0, 0)
            .expect("a time")
            - chrono::Duration::minutes(minutes as i64);
        if c > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"id":"C-{index}-{c}","kind":"{kind}","opened_at":"{}+08:00","resolved":{}}}"#,
            opened.format("%Y-%m-%dT%H:%M:%S"),
            rng.chance(200)
        );
    }
    out.push_str("]}");
}

/// Writes `households` lines of JSON for `seed` to `out`.
pub fn write(households: u64, seed: u64, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut rng = Rng::new(seed);
    let mut line = String::with_capacity(1024);
    for index in 0..households {
        line.clear();
        household(&mut rng, index, &mut line);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_every_line_is_json() {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        write(300, 7, &mut a).unwrap();
        write(300, 7, &mut b).unwrap();
        write(300, 8, &mut c).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let text = String::from_utf8(a).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 300);
        let urban = lines.iter().filter(|h| h["district"] == "urban").count();
        assert!((120..=210).contains(&urban), "{urban} urban of 300");
    }
}
