//! Presenting the figures: the Markdown table (also what the README carries), the legend, JSON
//! for `--json`, and the kernel's own before/after figures.

use super::{Metric, Report, UNIT, info};

/// The figures as a Markdown table (aligned, so it reads in a terminal as well as in the
/// README).
pub fn table(metrics: &[Metric]) -> String {
    let header = ["metric", "min", "median", "mean", "max", "n", "target"];
    let rows: Vec<[String; 7]> = metrics
        .iter()
        .map(|m| {
            let s = &m.summary;
            let target = info(&m.name)
                .and_then(|i| i.target)
                .map_or(String::new(), |t| {
                    let verdict = if s.median <= t { "met" } else { "MISSED" };
                    format!("<= {t:.0} ({verdict})")
                });
            [
                m.name.clone(),
                format!("{:.1}", s.min),
                format!("{:.1}", s.median),
                format!("{:.1}", s.mean),
                format!("{:.1}", s.max),
                s.n.to_string(),
                target,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 || i == 6 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&header.map(String::from));
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 || i == 6 {
                "-".repeat(*w)
            } else {
                format!("{}:", "-".repeat(w - 1))
            }
        })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

/// What each metric measures, one line each.
pub fn legend(metrics: &[Metric]) -> String {
    metrics
        .iter()
        .filter_map(|m| info(&m.name).map(|i| format!("  {:<26} {}\n", m.name, i.what)))
        .collect()
}

/// The figures as JSON: an array with one object per metric.
pub fn json(metrics: &[Metric]) -> String {
    let objects: Vec<String> = metrics
        .iter()
        .map(|m| {
            let s = &m.summary;
            format!(
                "  {{\"name\": {}, \"unit\": {}, \"min\": {:.1}, \"median\": {:.1}, \"mean\": {:.1}, \"max\": {:.1}, \"n\": {}}}",
                json_string(&m.name),
                json_string(UNIT),
                s.min,
                s.median,
                s.mean,
                s.max,
                s.n
            )
        })
        .collect();
    format!("[\n{}\n]\n", objects.join(",\n"))
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The kernel's own figures: start-up time, and memory and objects before and after the
/// benchmarks (equal figures after mean nothing leaked).
pub fn kernel_summary(r: &Report) -> String {
    let mut out = String::new();
    if let Some(ms) = r.kernel_ready_ms {
        out.push_str(&format!(
            "  kernel ready after {ms} virtual ms (~{ms} million instructions, all CPUs)\n"
        ));
    }
    let get = |when: &str| r.kernel.iter().find(|(w, _)| w == when).map(|(_, f)| f);
    if let (Some(before), Some(after)) = (get("before"), get("after")) {
        for (key, b) in before {
            if key == "uptime_ns" {
                continue;
            }
            if let Some((_, a)) = after.iter().find(|(k, _)| k == key) {
                let change = if a == b {
                    String::from("unchanged")
                } else {
                    format!("{:+}", *a as i128 - *b as i128)
                };
                out.push_str(&format!("  {key:<12} {b:>10} -> {a:>10}  ({change})\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nimbus_bench_stats::Summary;

    fn metric(name: &str, values: &[f64]) -> Metric {
        Metric {
            name: name.into(),
            ops: 1,
            summary: Summary::of(values).unwrap(),
        }
    }

    #[test]
    fn json_has_one_object_per_metric() {
        let metrics = [
            metric("null_syscall", &[140.0, 141.5]),
            metric("spawn", &[9.0]),
        ];
        assert_eq!(
            json(&metrics),
            "[\n  {\"name\": \"null_syscall\", \"unit\": \"instructions\", \"min\": 140.0, \
             \"median\": 140.8, \"mean\": 140.8, \"max\": 141.5, \"n\": 2},\n  \
             {\"name\": \"spawn\", \"unit\": \"instructions\", \"min\": 9.0, \"median\": 9.0, \
             \"mean\": 9.0, \"max\": 9.0, \"n\": 1}\n]\n"
        );
        assert_eq!(json(&[]), "[\n\n]\n");
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }

    #[test]
    fn table_shows_targets() {
        let metrics = [
            metric("null_syscall", &[140.0]),
            metric("ipc_call_reply_same_cpu", &[650.0]),
            metric("spawn", &[123_456.0]),
        ];
        let t = table(&metrics);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].starts_with("| metric "));
        assert!(lines[1].starts_with("| ---") && lines[1].contains("-: |"));
        assert!(lines[2].contains("<= 150 (met)"), "{t}");
        assert!(lines[3].contains("<= 600 (MISSED)"), "{t}");
        assert!(lines[4].contains("123456.0"), "{t}");
        assert!(lines.iter().all(|l| l.len() == lines[0].len()), "{t}");
        assert!(legend(&metrics).contains("null_syscall"));
    }
}
