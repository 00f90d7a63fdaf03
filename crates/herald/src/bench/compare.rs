//! `herald bench --compare BEFORE.json AFTER.json`: two runs' figures (as written by `--json`) side by side, matched
//! by scenario and metric, with after ÷ before. No Herald runs.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::Figure;

/// A file written by `herald bench --json`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    #[serde(default)]
    loopback_limit: Option<f64>,
    #[serde(default)]
    quick: Option<bool>,
    #[serde(default)]
    database: Option<String>,
    figures: Vec<Figure>,
}

/// One line of the comparison: a figure of either run or of both.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    pub unit: String,
    pub before: Option<f64>,
    pub after: Option<f64>,
    /// The ratio to each run's own loopback limit, for rates.
    pub before_ratio: Option<f64>,
    pub after_ratio: Option<f64>,
}

impl Row {
    /// after ÷ before, when both runs have the figure and before is not zero.
    pub fn change(&self) -> Option<f64> {
        match (self.before, self.after) {
            (Some(b), Some(a)) if b != 0.0 => Some(a / b),
            _ => None,
        }
    }
}

/// The rows of two runs' figures: every figure of `before` in its order, each with the same (scenario, metric) of
/// `after` when it has one, then the figures only `after` has. A (scenario, metric) that occurs more than once in a
/// run is matched occurrence by occurrence.
pub fn rows(before: &[Figure], after: &[Figure]) -> Vec<Row> {
    let key = |f: &Figure| (f.scenario.clone(), f.metric.clone());
    let mut after_at: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (i, f) in after.iter().enumerate() {
        after_at.entry(key(f)).or_default().push(i);
    }
    for at in after_at.values_mut() {
        at.reverse(); // popped from the end: first occurrence first
    }
    let mut used = vec![false; after.len()];
    let mut rows = Vec::new();
    for b in before {
        let a = after_at.get_mut(&key(b)).and_then(|at| at.pop()).map(|i| {
            used[i] = true;
            &after[i]
        });
        rows.push(Row {
            scenario: b.scenario.clone(),
            metric: b.metric.clone(),
            unit: b.unit.clone(),
            before: Some(b.value),
            after: a.map(|a| a.value),
            before_ratio: b.ratio,
            after_ratio: a.and_then(|a| a.ratio),
        });
    }
    for (a, _) in after.iter().zip(&used).filter(|(_, used)| !**used) {
        rows.push(Row {
            scenario: a.scenario.clone(),
            metric: a.metric.clone(),
            unit: a.unit.clone(),
            before: None,
            after: Some(a.value),
            before_ratio: None,
            after_ratio: a.ratio,
        });
    }
    rows
}

/// The comparison as a table.
pub fn render(rows: &[Row]) -> String {
    let num = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_default();
    let pct = |v: Option<f64>| v.map(|v| format!("{:.1} %", v * 100.0)).unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:<28} {:<6} {:>12} {:>12} {:>9} {:>10} {:>10}  note",
        "scenario", "metric", "unit", "before", "after", "after÷bef", "bef÷limit", "aft÷limit"
    );
    let _ = writeln!(out, "{}", "-".repeat(132));
    for r in rows {
        let change = r.change().map(|c| format!("{c:.2} ×")).unwrap_or_default();
        let note = match (r.before, r.after) {
            (Some(_), None) => "only before",
            (None, Some(_)) => "only after",
            _ => "",
        };
        let _ = writeln!(
            out,
            "{:<28} {:<28} {:<6} {:>12} {:>12} {:>9} {:>10} {:>10}  {note}",
            r.scenario,
            r.metric,
            r.unit,
            num(r.before),
            num(r.after),
            change,
            pct(r.before_ratio),
            pct(r.after_ratio)
        );
    }
    out
}

fn read(path: &Path) -> anyhow::Result<Run> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a file written by `herald bench --json`", path.display()))
}

fn describe(path: &Path, run: &Run) -> String {
    let limit = run.loopback_limit.map(|l| format!(", loopback limit {l:.0}/s")).unwrap_or_default();
    let quick = match run.quick {
        Some(true) => ", --quick",
        _ => "",
    };
    format!("{} ({}{quick}{limit})", path.display(), run.database.as_deref().unwrap_or("?"))
}

/// Reads two files written by `herald bench --json` and prints their figures side by side.
pub fn compare(before: &Path, after: &Path) -> anyhow::Result<()> {
    let (b, a) = (read(before)?, read(after)?);
    println!("before: {}", describe(before, &b));
    println!("after:  {}", describe(after, &a));
    println!();
    print!("{}", render(&rows(&b.figures, &a.figures)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(figures: serde_json::Value) -> Vec<Figure> {
        let run: Run = serde_json::from_value(
            serde_json::json!({"loopbackLimit": 1000.0, "quick": true, "database": "sqlite", "figures": figures}),
        )
        .unwrap();
        run.figures
    }

    #[test]
    fn matches_figures_by_scenario_and_metric_and_lists_the_rest() {
        let before = doc(serde_json::json!([
            {"scenario": "1 webhook", "metric": "deliveries", "value": 100.0, "unit": "/s", "ratio": 0.1},
            {"scenario": "1 webhook", "metric": "latency p99", "value": 20.0, "unit": "ms", "ratio": null},
            {"scenario": "gone", "metric": "deliveries", "value": 5.0, "unit": "/s", "ratio": 0.005},
        ]));
        let after = doc(serde_json::json!([
            {"scenario": "new", "metric": "latency p99", "value": 3.0, "unit": "ms"},
            {"scenario": "1 webhook", "metric": "latency p99", "value": 10.0, "unit": "ms", "ratio": null},
            {"scenario": "1 webhook", "metric": "deliveries", "value": 150.0, "unit": "/s", "ratio": 0.12},
        ]));
        let rows = rows(&before, &after);
        type Summary<'a> = (&'a str, &'a str, Option<f64>, Option<f64>, Option<f64>);
        let summary: Vec<Summary> =
            rows.iter().map(|r| (r.scenario.as_str(), r.metric.as_str(), r.before, r.after, r.change())).collect();
        let expected: Vec<Summary> = vec![
            ("1 webhook", "deliveries", Some(100.0), Some(150.0), Some(1.5)),
            ("1 webhook", "latency p99", Some(20.0), Some(10.0), Some(0.5)),
            ("gone", "deliveries", Some(5.0), None, None),
            ("new", "latency p99", None, Some(3.0), None),
        ];
        assert_eq!(summary, expected);
        assert_eq!((rows[0].before_ratio, rows[0].after_ratio), (Some(0.1), Some(0.12)));
        let table = render(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 6, "{table}");
        assert!(lines[2].contains("1.50 ×") && lines[2].contains("10.0 %") && lines[2].contains("12.0 %"), "{table}");
        assert!(lines[4].trim_end().ends_with("only before"), "{table}");
        assert!(lines[5].trim_end().ends_with("only after"), "{table}");
    }

    #[test]
    fn repeated_figures_are_matched_in_order() {
        let fig = |v: f64| serde_json::json!({"scenario": "s", "metric": "m", "value": v, "unit": "/s"});
        let rows = rows(&doc(serde_json::json!([fig(1.0), fig(2.0)])), &doc(serde_json::json!([fig(4.0)])));
        let pairs: Vec<(Option<f64>, Option<f64>)> = rows.iter().map(|r| (r.before, r.after)).collect();
        assert_eq!(pairs, vec![(Some(1.0), Some(4.0)), (Some(2.0), None)]);
    }

    #[test]
    fn reads_files_and_refuses_other_json() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("a.json");
        std::fs::write(
            &good,
            r#"{"loopbackLimit": 10, "figures": [{"scenario":"s","metric":"m","value":1,"unit":"/s"}]}"#,
        )
        .unwrap();
        assert_eq!(read(&good).unwrap().figures.len(), 1);
        let bad = dir.path().join("b.json");
        std::fs::write(&bad, r#"{"something": "else"}"#).unwrap();
        let err = read(&bad).unwrap_err().to_string();
        assert!(err.contains("not a file written by `herald bench --json`"), "{err}");
        assert!(read(&dir.path().join("missing.json")).is_err());
    }
}
