//! The impact report as one self-contained HTML page: no script, no
//! network, styles inline and charts as SVG generated here, so it opens
//! offline and can be mailed as it is.

use std::fmt::Write;

use serde_json::Value;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        Value::Null => "–".to_string(),
        other => escape(&other.to_string()),
    }
}

/// A horizontal bar chart of (label, value) pairs, values ≥ 0.
fn bars(rows: &[(String, f64)], unit: &str) -> String {
    let max = rows
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let height = rows.len() * 22 + 4;
    let mut svg = format!(
        r#"<svg class="chart" role="img" viewBox="0 0 800 {height}" width="800" height="{height}">"#
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = i * 22 + 2;
        let width = (value / max * 380.0).max(1.0);
        let _ = write!(
            svg,
            r##"<text x="0" y="{}" font-size="12">{}</text><rect x="260" y="{y}" width="{width:.1}" height="16" fill="#1f6f5c"/><text x="{:.1}" y="{}" font-size="12">{} {unit}</text>"##,
            y + 13,
            escape(label),
            260.0 + width + 6.0,
            y + 13,
            value
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Why a decision came out as it did: its status and reasons, or its error.
fn explanation(side: &Value) -> String {
    if let Some(kind) = side["error"].as_str() {
        return format!("<p>error: <code>{}</code></p>", escape(kind));
    }
    let mut html = format!(
        "<p>{}</p><ul>",
        escape(side["status"].as_str().unwrap_or(""))
    );
    for reason in side["reasons"].as_array().into_iter().flatten() {
        let _ = write!(
            html,
            "<li><b>{}</b> {}</li>",
            escape(reason["rule"].as_str().unwrap_or("")),
            escape(reason["text"].as_str().unwrap_or(""))
        );
    }
    html.push_str("</ul>");
    html
}

/// The first changed households: what changed, and the reasons before and
/// after side by side.
fn examples_section(examples: &[Value]) -> String {
    let mut html = String::from("<h2>Example households, before and after</h2>");
    for example in examples {
        let id = escape(example["id"].as_str().unwrap_or(""));
        let _ = write!(
            html,
            "<h3 id=\"example-{id}\">{id}</h3><table><tr><th>changed</th><th>before</th><th>after</th></tr>"
        );
        for change in example["changes"].as_array().into_iter().flatten() {
            let _ = write!(
                html,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape(change["path"].as_str().unwrap_or("")),
                escape(change["before"].as_str().unwrap_or("")),
                escape(change["after"].as_str().unwrap_or(""))
            );
        }
        let _ = write!(
            html,
            "</table><div class=pair><div><h4>before</h4>{}</div><div><h4>after</h4>{}</div></div>",
            explanation(&example["before"]),
            explanation(&example["after"])
        );
    }
    html
}

fn transitions_table(path: &str, t: &Value) -> String {
    let mut html = format!("<h3><code>{}</code></h3>", escape(path));
    let _ = write!(html, "<p>{} unchanged.</p>", num(&t["unchanged"]));
    let changed = t["changed"].as_array().cloned().unwrap_or_default();
    if changed.is_empty() {
        return html;
    }
    html.push_str(
        "<table><tr><th>before</th><th>after</th><th>households</th><th>examples</th></tr>",
    );
    for cell in changed {
        let examples: Vec<String> = cell["examples"]
            .as_array()
            .map(|e| e.iter().filter_map(Value::as_str).map(escape).collect())
            .unwrap_or_default();
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td>{}</td></tr>",
            escape(cell["from"].as_str().unwrap_or("")),
            escape(cell["to"].as_str().unwrap_or("")),
            num(&cell["count"]),
            examples.join(", ")
        );
    }
    html.push_str("</table>");
    html
}

/// The page for an impact report (as `Impact::to_json` and `eligo impact`
/// build it).
pub fn render(report: &Value) -> String {
    let mut html = String::from(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Policy impact</title><style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1b1b}
h1{color:#0f4d3f}table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.cards{display:flex;flex-wrap:wrap;gap:1rem}
.card{border:1px solid #ccc;border-radius:8px;padding:.6rem 1rem;min-width:12rem}.big{font-size:1.6rem;font-weight:600}
.up{color:#0a6b2f}.down{color:#a11}code{background:#f2f2f2;padding:0 .2rem}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem}.stopped{background:#fff3cd;border:1px solid #e0c36a;padding:.5rem 1rem}</style></head><body>"#,
    );
    let _ = write!(
        html,
        "<h1>Policy impact: <code>{}</code></h1><p>Base <code>{}</code> ({}) at {} · draft <code>{}</code> ({}) at {}.</p>",
        escape(report["entry"].as_str().unwrap_or("")),
        escape(report["base"]["bundle"].as_str().unwrap_or("")),
        escape(report["base"]["hash"].as_str().unwrap_or("")),
        escape(report["base"]["as_of"].as_str().unwrap_or("")),
        escape(report["draft"]["bundle"].as_str().unwrap_or("")),
        escape(report["draft"]["hash"].as_str().unwrap_or("")),
        escape(report["draft"]["as_of"].as_str().unwrap_or("")),
    );
    if report["stopped"] == true {
        html.push_str("<p class=stopped>Stopped by Ctrl-C: these numbers cover only the households decided before it.</p>");
    }
    // Headline: households, changed, eligibility gained and lost per program.
    html.push_str("<div class=cards>");
    let _ = write!(
        html,
        "<div class=card>Households<div class=big>{}</div></div><div class=card>Decision changed<div class=big>{}</div></div><div class=card>Bad lines<div class=big>{}</div></div>",
        num(&report["households"]),
        num(&report["changed"]),
        num(&report["bad_lines"])
    );
    html.push_str("</div><h2>Eligibility</h2><table><tr><th>program</th><th>gain</th><th>lose</th><th>other changes</th><th>unchanged</th></tr>");
    let transitions = report["transitions"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (path, t) in &transitions {
        let Some(program) = path.strip_suffix(".eligible") else {
            continue;
        };
        let (mut gain, mut lose, mut other) = (0, 0, 0);
        for cell in t["changed"].as_array().into_iter().flatten() {
            let count = cell["count"].as_u64().unwrap_or(0);
            match (cell["from"].as_str(), cell["to"].as_str()) {
                (Some("false"), Some("true")) => gain += count,
                (Some("true"), Some("false")) => lose += count,
                _ => other += count,
            }
        }
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td class='n up'>+{gain}</td><td class='n down'>−{lose}</td><td class=n>{other}</td><td class=n>{}</td></tr>",
            escape(program),
            num(&t["unchanged"])
        );
    }
    html.push_str("</table>");
    // Money and workload.
    html.push_str("<h2>Totals</h2><table><tr><th>amount</th><th>before</th><th>after</th><th>change</th><th>households changed</th></tr>");
    let totals = report["totals"].as_object().cloned().unwrap_or_default();
    let mut chart = Vec::new();
    for (path, t) in &totals {
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            escape(path),
            num(&t["before"]),
            num(&t["after"]),
            num(&t["delta"]),
            num(&t["changed"])
        );
        if path.ends_with("_amount") {
            let delta = t["delta"].to_string().parse::<f64>().unwrap_or(0.0);
            let short = path
                .trim_start_matches("programs.")
                .trim_end_matches(".monthly_amount");
            chart.push((format!("Δ {short}"), delta.abs()));
        }
    }
    html.push_str("</table>");
    if !chart.is_empty() {
        html.push_str(&bars(&chart, "yuan"));
    }
    // Groups: changed households per group value.
    if let Some(groups) = report["groups"].as_object() {
        html.push_str("<h2>By group</h2>");
        for (name, values) in groups {
            let _ = write!(html, "<h3>{}</h3>", escape(name));
            let rows: Vec<(String, f64)> = values
                .as_object()
                .into_iter()
                .flatten()
                .map(|(value, impact)| (value.clone(), impact["changed"].as_f64().unwrap_or(0.0)))
                .collect();
            html.push_str(&bars(&rows, "changed"));
            html.push_str("<table><tr><th>value</th><th>households</th><th>changed</th></tr>");
            for (value, impact) in values.as_object().into_iter().flatten() {
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                    escape(value),
                    num(&impact["households"]),
                    num(&impact["changed"])
                );
            }
            html.push_str("</table>");
        }
    }
    html.push_str("<h2>Transitions, with example households</h2>");
    for (path, t) in &transitions {
        if t["changed"].as_array().is_some_and(|c| !c.is_empty()) {
            html.push_str(&transitions_table(path, t));
        }
    }
    if let Some(examples) = report["examples"].as_array().filter(|e| !e.is_empty()) {
        html.push_str(&examples_section(examples));
    }
    html.push_str("<h2>Rules fired</h2><table><tr><th>rule</th><th>before</th><th>after</th></tr>");
    for (rule, counts) in report["rules"].as_object().into_iter().flatten() {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            escape(rule),
            num(&counts["before"]),
            num(&counts["after"])
        );
    }
    html.push_str("</table>");
    if let Some(errors) = report["errors"].as_array().filter(|e| !e.is_empty()) {
        html.push_str(
            "<h2>Errors</h2><table><tr><th>before</th><th>after</th><th>households</th></tr>",
        );
        for error in errors {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td class=n>{}</td></tr>",
                escape(error["before"].as_str().unwrap_or("")),
                escape(error["after"].as_str().unwrap_or("")),
                num(&error["count"])
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</body></html>\n");
    html
}
