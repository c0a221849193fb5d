//! The self-contained HTML report: inline CSS and SVG, no scripts, no
//! external resources, so it opens offline and can be mailed as one file.

use std::fmt::Write as _;

use crate::report::{Report, StatementReport};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Series<'a> {
    name: &'a str,
    color: &'a str,
    values: Vec<f64>,
}

/// A round number at or above `v`, for the top of an axis.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}

fn line_chart(title: &str, y_unit: &str, series: &[Series<'_>], target: Option<f64>) -> String {
    let (w, h) = (860.0, 280.0);
    let (left, right, top, bottom) = (64.0, 150.0, 30.0, 36.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let n = series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let ymax_data = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .chain(target)
        .fold(0.0_f64, f64::max);
    let ymax = nice_ceiling(ymax_data * 1.05);
    let x = |i: usize| {
        left + if n > 1 {
            i as f64 / (n - 1) as f64 * pw
        } else {
            pw / 2.0
        }
    };
    let y = |v: f64| top + ph - (v / ymax).clamp(0.0, 1.0) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}">"#,
        t = esc(title)
    );
    let _ = write!(
        s,
        r#"<text x="{left}" y="18" class="title">{}</text>"#,
        esc(title)
    );
    for k in 0..=4 {
        let v = ymax * f64::from(k) / 4.0;
        let yy = y(v);
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{} {y_unit}</text>"##,
            left + pw,
            left - 6.0,
            yy + 4.0,
            trim(v)
        );
    }
    let step = (n / 10).max(1);
    for i in (0..n).step_by(step) {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}s</text>"#,
            x(i),
            top + ph + 16.0,
            i + 1
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#888"/>"##,
        top + ph,
        left + pw,
        top + ph
    );
    if let Some(t) = target {
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#999" stroke-dasharray="6 4"/>"##,
            left + pw,
            yy = y(t)
        );
    }
    for (k, ser) in series.iter().enumerate() {
        let pts: Vec<String> = ser
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.8" points="{}"/>"#,
            ser.color,
            pts.join(" ")
        );
        let ly = top + 14.0 + k as f64 * 18.0;
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="14" height="4" fill="{}"/><text x="{:.1}" y="{:.1}" class="tick">{}</text>"#,
            left + pw + 14.0,
            ly - 4.0,
            ser.color,
            left + pw + 34.0,
            ly,
            esc(ser.name)
        );
    }
    if target.is_some() {
        let ly = top + 14.0 + series.len() as f64 * 18.0;
        let _ = write!(
            s,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="6 4"/><text x="{:.1}" y="{ly:.1}" class="tick">target</text>"##,
            left + pw + 14.0,
            ly - 2.0,
            left + pw + 28.0,
            ly - 2.0,
            left + pw + 34.0
        );
    }
    s.push_str("</svg>");
    s
}

fn trim(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn row(out: &mut String, r: &StatementReport) {
    let l = &r.latency;
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td>\
         <td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td>\
         <td>{:.3}</td><td>{:.3}</td></tr>",
        esc(&r.name),
        r.share * 100.0,
        r.count,
        r.errors,
        r.late,
        r.dropped,
        r.rate,
        l.p50_ms,
        l.p90_ms,
        l.p95_ms,
        l.p99_ms,
        l.p999_ms,
        l.max_ms,
        r.service.p50_ms,
        r.service.p99_ms
    );
}

pub(crate) fn render(r: &Report) -> String {
    let m = &r.meta;
    let s = &r.summary;
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>covet loadtest: {} on {}</title><style>\
         body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}}\
         table{{border-collapse:collapse;margin:8px 0 20px}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         td:first-child,th:first-child{{text-align:left}}th{{background:#f3f3f3}}\
         .title{{font-weight:600;font-size:14px}}.tick{{font-size:11px;fill:#444}}\
         .pass{{color:#070}}.fail{{color:#b00;font-weight:600}}</style></head><body>",
        esc(&m.workload),
        esc(&m.engine)
    );
    let _ = write!(
        out,
        "<h1>covet loadtest</h1><p>{} &middot; {} <code>{}</code> &middot; started {} &middot; {}</p>",
        esc(&m.workload),
        esc(&m.engine),
        esc(&m.database),
        esc(&m.started_at),
        esc(&m.tool)
    );
    let _ = write!(
        out,
        "<h2>Run</h2><table><tr><th>setting</th><th>value</th></tr>\
         <tr><td>mode</td><td>{}</td></tr><tr><td>arrivals</td><td>{}</td></tr>\
         <tr><td>target rate</td><td>{:.0}/s</td></tr><tr><td>measured</td><td>{:.0} s after {:.0} s warm-up</td></tr>\
         <tr><td>cap in flight</td><td>{} (at the cap: {})</td></tr><tr><td>seed</td><td>{}</td></tr>{}</table>",
        esc(&m.mode),
        esc(&m.arrival),
        m.target_rate,
        m.duration_s,
        m.warmup_s,
        m.max_in_flight,
        esc(&m.on_overload),
        m.seed,
        m.scale
            .map(|sc| format!("<tr><td>scale factor</td><td>{sc}</td></tr>"))
            .unwrap_or_default()
    );
    let _ = write!(
        out,
        "<h2>Summary</h2><table><tr><th>figure</th><th>value</th></tr>\
         <tr><td>scheduled</td><td>{}</td></tr><tr><td>sent</td><td>{} ({:.1}/s)</td></tr>\
         <tr><td>completed</td><td>{} ({:.1}/s achieved, target {:.0}/s)</td></tr>\
         <tr><td>errors</td><td>{}</td></tr><tr><td>late starts</td><td>{}</td></tr>\
         <tr><td>dropped</td><td>{}</td></tr><tr><td>unfinished</td><td>{}</td></tr>\
         <tr><td>generator lag p50 / p99 / max</td><td>{:.3} / {:.3} / {:.3} ms</td></tr></table>",
        s.scheduled,
        s.sent,
        s.sent_rate,
        s.completed,
        s.achieved_rate,
        s.target_rate,
        s.errors,
        s.late,
        s.dropped,
        s.unfinished,
        r.schedule_lag.p50_ms,
        r.schedule_lag.p99_ms,
        r.schedule_lag.max_ms
    );
    if let Some(why) = &m.interrupted {
        let _ = write!(
            out,
            "<p class=\"fail\">Interrupted ({}) after {:.1} s of the {:.0} s planned: the figures cover that part only.</p>",
            esc(why),
            m.duration_s,
            m.planned_duration_s
        );
    }
    if let Some(e) = &r.error_rate {
        let _ = write!(
            out,
            "<p class=\"{}\">{}</p>",
            if e.passed { "pass" } else { "fail" },
            esc(&e.to_string())
        );
    }
    if !r.slo.is_empty() {
        out.push_str(
            "<h2>SLO</h2><table><tr><th>objective</th><th>actual</th><th>over</th><th>error rate</th><th>verdict</th></tr>",
        );
        for o in &r.slo {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.3}%</td><td class=\"{}\">{}</td></tr>",
                esc(&o.spec),
                esc(&o.actual),
                o.over,
                o.error_rate_pct,
                if o.passed { "pass" } else { "fail" },
                if o.passed { "met" } else { "missed" }
            );
        }
        out.push_str("</table>");
    }
    out.push_str(
        "<h2>Latency of successful statements by statement (ms, from intended start; service time = from actual start)</h2>\
         <table><tr><th>statement</th><th>share</th><th>count</th><th>errors</th><th>late</th><th>dropped</th>\
         <th>rate/s</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th>\
         <th>svc p50</th><th>svc p99</th></tr>",
    );
    for st in r.statements.iter().chain(std::iter::once(&r.overall)) {
        row(&mut out, st);
    }
    out.push_str("</table>");
    let secs = |f: fn(&crate::report::SecondPoint) -> f64| -> Vec<f64> {
        r.series.iter().map(f).collect()
    };
    out.push_str("<h2>Latency over time</h2>");
    out.push_str(&line_chart(
        "latency per second of intended start (ms)",
        "ms",
        &[
            Series {
                name: "p50",
                color: "#2a7",
                values: secs(|p| p.p50_ms),
            },
            Series {
                name: "p95",
                color: "#e80",
                values: secs(|p| p.p95_ms),
            },
            Series {
                name: "p99",
                color: "#c22",
                values: secs(|p| p.p99_ms),
            },
        ],
        None,
    ));
    out.push_str("<h2>Throughput</h2>");
    // With stages the target moves: it is drawn per second as a series,
    // instead of one dashed line at the peak.
    let staged = r.series.iter().any(|p| p.target.is_some());
    let planned = Series {
        name: "target",
        color: "#999",
        values: secs(|p| p.target.unwrap_or(0.0)),
    };
    out.push_str(&line_chart(
        "statements per second",
        "/s",
        &[
            Series {
                name: "sent",
                color: "#36c",
                values: secs(|p| p.sent as f64),
            },
            Series {
                name: "completed",
                color: "#2a7",
                values: secs(|p| p.completed as f64),
            },
            Series {
                name: "errors",
                color: "#c22",
                values: secs(|p| p.errors as f64),
            },
        ]
        .into_iter()
        .chain(staged.then_some(planned))
        .collect::<Vec<_>>(),
        (!staged).then_some(m.target_rate),
    ));
    if r.series.iter().any(|p| p.rss_kb.is_some()) {
        out.push_str("<h2>Memory</h2>");
        out.push_str(&line_chart(
            "resident memory (VmRSS, MiB)",
            "MiB",
            &[Series {
                name: "VmRSS",
                color: "#639",
                values: secs(|p| p.rss_kb.unwrap_or(0) as f64 / 1024.0),
            }],
            None,
        ));
    }
    if let Some(mem) = &r.memory {
        let _ = write!(
            out,
            "<p>Memory: {} KiB after warm-up, {} KiB at the end, peak {} KiB, growth {:+} KiB ({:+.1}%).</p>",
            mem.after_warmup_kb, mem.end_kb, mem.peak_kb, mem.growth_kb, mem.growth_pct
        );
    }
    if !r.errors.is_empty() {
        out.push_str("<h2>Errors by kind</h2><table><tr><th>kind</th><th>count</th><th>first message</th></tr>");
        for e in &r.errors {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                esc(&e.kind),
                e.count,
                esc(&e.example)
            );
        }
        out.push_str("</table>");
    }
    if let Some(l) = &r.layers {
        let _ = write!(
            out,
            "<h2>Layers</h2><p>{}: retries {}, breaker openings {}, slow statements {}</p>",
            esc(&l.stack.join(" → ")),
            l.retries,
            l.breaker_openings,
            l.slow_statements
        );
        if let Some(b) = &l.breaker {
            let _ = write!(out, "<p>Circuit breaker: {}</p>", esc(b));
        }
        if !l.breaker_opened_by.is_empty() {
            out.push_str("<table><tr><th>opened by</th><th>times</th><th>first message</th></tr>");
            for t in &l.breaker_opened_by {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                    esc(&t.kind),
                    t.count,
                    esc(&t.example)
                );
            }
            out.push_str("</table>");
        }
    }
    out.push_str(
        "<h2>Per second</h2><table><tr><th>second</th><th>sent</th><th>completed</th><th>errors</th>\
         <th>late</th><th>dropped</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>",
    );
    for p in &r.series {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            p.second,
            p.sent,
            p.completed,
            p.errors,
            p.late,
            p.dropped,
            p.p50_ms,
            p.p95_ms,
            p.p99_ms,
            p.max_ms
        );
    }
    out.push_str("</table></body></html>\n");
    out
}
