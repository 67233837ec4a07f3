//! The pure parts of RESULTS.md: tables, ratios and the latency-against-load chart (SVG).

use std::fmt::Write;
use std::time::Duration;

/// A Markdown table; the first column is left-aligned, the others right-aligned.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table { headers: headers.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(&self.headers));
        let rule: Vec<String> =
            (0..self.headers.len()).map(|i| if i == 0 { "---".into() } else { "---:".into() }).collect();
        out.push_str(&line(&rule));
        for row in &self.rows {
            let mut cells = row.clone();
            cells.resize(self.headers.len(), String::new());
            out.push_str(&line(&cells));
        }
        out
    }
}

/// Ferrogram's value over the peer's, e.g. `0.42×`; `–` when either is missing or zero.
pub fn ratio(ferrogram: Option<f64>, peer: Option<f64>) -> String {
    match (ferrogram, peer) {
        (Some(f), Some(p)) if p != 0.0 && f.is_finite() && p.is_finite() => format!("{:.2}×", f / p),
        _ => "–".into(),
    }
}

/// A number with a thin space between thousands: `12 345`.
pub fn thousands(value: f64) -> String {
    let rounded = value.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    if rounded < 0 { format!("-{out}") } else { out }
}

/// A latency as the report writes it: `123 ms`, `12.3 ms` or `1.23 ms`.
pub fn fmt_ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// KiB as MiB with one decimal; `–` when unknown.
pub fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or_else(|| "–".into())
}

/// A duration in milliseconds (for ratios and the chart).
pub fn ms_f(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One line of the chart: a framework's (load, p50 ms, p99 ms) points.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(usize, f64, f64)>,
}

const COLORS: [&str; 6] = ["#d9480f", "#1971c2", "#2f9e44", "#9c36b5", "#e8590c", "#495057"];

/// Latency (log scale, ms) against concurrent users: p50 solid, p99 dashed, one colour per
/// framework.
pub fn latency_svg(title: &str, series: &[Series]) -> String {
    let (w, h, left, right, top, bottom) = (720.0, 420.0, 70.0, 170.0, 40.0, 50.0);
    let loads: Vec<usize> = {
        let mut l: Vec<usize> = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    let values: Vec<f64> =
        series.iter().flat_map(|s| s.points.iter().flat_map(|p| [p.1, p.2])).filter(|v| *v > 0.0).collect();
    let lo = values.iter().cloned().fold(f64::INFINITY, f64::min).max(0.01);
    let hi = values.iter().cloned().fold(0.0, f64::max).max(lo * 10.0);
    let (lo_exp, hi_exp) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let x = |load: usize| {
        let i = loads.iter().position(|l| *l == load).unwrap_or(0) as f64;
        left + if loads.len() > 1 { i * plot_w / (loads.len() - 1) as f64 } else { plot_w / 2.0 }
    };
    let y = |ms: f64| {
        let t = (ms.max(10f64.powi(lo_exp)).log10() - lo_exp as f64) / (hi_exp - lo_exp).max(1) as f64;
        top + plot_h * (1.0 - t)
    };
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(svg, r#"<text x="{left}" y="22" font-size="14">{}</text>"#, escape(title));
    for e in lo_exp..=hi_exp {
        let v = 10f64.powi(e);
        let yy = y(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{} ms</text>"##,
            left + plot_w,
            left - 6.0,
            yy + 4.0,
            if v >= 1.0 { format!("{v:.0}") } else { format!("{v}") }
        );
    }
    for load in &loads {
        let xx = x(*load);
        let _ = writeln!(
            svg,
            r##"<line x1="{xx:.1}" y1="{top}" x2="{xx:.1}" y2="{:.1}" stroke="#eee"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{load}</text>"##,
            top + plot_h,
            top + plot_h + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">concurrent users (closed loops)</text>"#,
        left + plot_w / 2.0,
        h - 10.0
    );
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        for (dash, pick) in [("", 1usize), (r#" stroke-dasharray="6 4""#, 2)] {
            let points: Vec<String> =
                s.points.iter().map(|p| format!("{:.1},{:.1}", x(p.0), y(if pick == 1 { p.1 } else { p.2 }))).collect();
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"/>"#,
                points.join(" ")
            );
        }
        let ly = top + 10.0 + i as f64 * 20.0;
        let lx = left + plot_w + 15.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{color}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            escape(&s.name)
        );
    }
    let ly = top + 10.0 + series.len() as f64 * 20.0 + 10.0;
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{ly:.1}" fill="#555">solid: p50</text><text x="{:.1}" y="{:.1}" fill="#555">dashed: p99</text>"##,
        left + plot_w + 15.0,
        left + plot_w + 15.0,
        ly + 16.0
    );
    svg.push_str("</svg>\n");
    svg
}

/// The stateful menu's check of a framework's database: exactly one row per save the bot
/// confirmed, and no two alike (a bot that drops or doubles writes fails it).
pub fn rows_match(confirmed: usize, rows: i64, distinct: i64) -> bool {
    i64::try_from(confirmed).is_ok_and(|c| rows == c) && distinct == rows
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_table() {
        let mut t = Table::new(["framework", "updates/s"]);
        t.row(["ferrogram", "1 234"]);
        t.row(["aiogram"]);
        assert_eq!(t.markdown(), "| framework | updates/s |\n| --- | ---: |\n| ferrogram | 1 234 |\n| aiogram |  |\n");
    }

    #[test]
    fn ratios_and_numbers() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), "1.50×");
        assert_eq!(ratio(Some(3.0), Some(0.0)), "–");
        assert_eq!(ratio(None, Some(2.0)), "–");
        assert_eq!(thousands(1234567.4), "1 234 567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-1000.0), "-1 000");
    }

    #[test]
    fn latencies_and_memory_as_written() {
        assert_eq!(fmt_ms(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(fmt_ms(Duration::from_micros(12_345)), "12.3 ms");
        assert_eq!(fmt_ms(Duration::from_micros(123_456)), "123 ms");
        assert_eq!(mib(Some(1536)), "1.5 MiB");
        assert_eq!(mib(None), "–");
        assert_eq!(ms_f(Duration::from_micros(1500)), 1.5);
    }

    #[test]
    fn rows_must_match_the_confirmed_saves() {
        assert!(rows_match(120, 120, 120));
        assert!(rows_match(0, 0, 0));
        assert!(!rows_match(120, 119, 119), "a dropped write");
        assert!(!rows_match(120, 121, 121), "a write the bot never confirmed");
        assert!(!rows_match(120, 120, 119), "a doubled write");
    }

    #[test]
    fn chart_has_a_line_per_series_and_percentile() {
        let series = vec![
            Series { name: "ferrogram".into(), points: vec![(10, 1.0, 3.0), (50, 2.0, 9.0)] },
            Series { name: "a<b".into(), points: vec![(10, 5.0, 30.0), (50, 20.0, 90.0)] },
        ];
        let svg = latency_svg("echo", &series);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("a&lt;b") && svg.contains(">50</text>"));
    }
}
