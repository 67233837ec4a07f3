//! A line chart drawn by the server, [`sparkline`](super::sparkline)'s approach grown up: an
//! inline SVG of one or more series over the days of a range, with a y axis (four gridlines
//! labelled with round numbers), the first, middle and last days under the x axis, and a
//! legend. No script and no style attribute (the pages' Content-Security-Policy allows neither
//! inline): each series is coloured by its class (`series-0`, `series-1`, … in the stylesheet)
//! through `currentColor`. It is an `<svg role="img">` named by its `<title>` and described by
//! its `<desc>` (both already in the reader's language); the page puts the numbers in a table
//! beside it for whoever cannot see the drawing.

use std::fmt::Write as _;

/// The drawing's size and margins, in CSS pixels.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 28.0;
/// Gridlines above the x axis.
const TICKS: u32 = 4;

/// One line of a chart: its name in the legend and a value per day (`None`: no value that day,
/// a gap in the line).
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<Option<f64>>,
}

/// The chart's SVG. `id` makes the title's and description's ids unique on the page; `days`
/// are the x axis's labels (`YYYY-MM-DD`, one per value); `unit` follows the y axis's numbers
/// (`""` for counts, `" ms"`).
pub fn svg(id: &str, title: &str, desc: &str, days: &[String], series: &[Series<'_>], unit: &str) -> String {
    let largest = series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0_f64, |a, b| a.max(*b));
    let top = tick_step(largest) * f64::from(TICKS);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let count = days.len().max(series.iter().map(|s| s.values.len()).max().unwrap_or(0));
    let x = |i: usize| if count > 1 { LEFT + i as f64 * plot_w / (count - 1) as f64 } else { LEFT + plot_w / 2.0 };
    let y = |v: f64| TOP + plot_h - v.max(0.0) / top * plot_h;
    let id = escape(id);
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" width=\"{WIDTH}\" \
         height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape(title),
        escape(desc)
    );
    // The y axis: gridlines and their numbers.
    out.push_str("<g class=\"axis\">");
    for tick in 0..=TICKS {
        let value = top * f64::from(tick) / f64::from(TICKS);
        let at = y(value);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{at:.1}\" y2=\"{at:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            at + 4.0,
            number(value),
            escape(unit)
        );
    }
    // The x axis: the first, middle and last days.
    let mut labelled: Vec<usize> = vec![0, count / 2, count.saturating_sub(1)];
    labelled.dedup();
    for i in labelled.into_iter().filter(|i| *i < days.len()) {
        let anchor = if count > 1 && i == 0 {
            "start"
        } else if count > 1 && i == count - 1 {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            x(i),
            HEIGHT - 8.0,
            escape(days[i].get(5..).unwrap_or(&days[i]))
        );
    }
    out.push_str("</g>");
    // The series: a polyline for each run of days with values, a dot where a run is one day.
    for (n, one) in series.iter().enumerate() {
        let _ = write!(out, "<g class=\"series-{n}\">");
        let mut run: Vec<(f64, f64)> = Vec::new();
        let flush = |run: &mut Vec<(f64, f64)>, out: &mut String| {
            match run.as_slice() {
                [] => {}
                [(px, py)] => {
                    let _ = write!(out, "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"2.5\" fill=\"currentColor\"/>");
                }
                points => {
                    let text: Vec<String> = points.iter().map(|(px, py)| format!("{px:.1},{py:.1}")).collect();
                    let _ = write!(
                        out,
                        "<polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\" points=\"{}\"/>",
                        text.join(" ")
                    );
                }
            }
            run.clear();
        };
        for (i, value) in one.values.iter().enumerate() {
            match value {
                Some(v) => run.push((x(i), y(*v))),
                None => flush(&mut run, &mut out),
            }
        }
        flush(&mut run, &mut out);
        // The legend, across the top.
        let lx = LEFT + n as f64 * 150.0;
        let _ = write!(
            out,
            "<rect x=\"{lx:.1}\" y=\"8\" width=\"12\" height=\"4\" fill=\"currentColor\"/>\
             <text class=\"legend\" x=\"{:.1}\" y=\"14\">{}</text></g>",
            lx + 16.0,
            escape(one.name)
        );
    }
    out.push_str("</svg>");
    out
}

/// The step between gridlines: the smallest of 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500…
/// that puts the largest value under the top one. The series are counts and milliseconds,
/// whole numbers: so are the gridlines.
fn tick_step(largest: f64) -> f64 {
    let wanted = if largest.is_finite() { largest / f64::from(TICKS) } else { 0.0 };
    let mut magnitude = 1.0;
    loop {
        for step in [1.0, 2.0, 2.5, 5.0] {
            // 2.5 is whole from 25 on.
            if (step != 2.5 || magnitude >= 10.0) && step * magnitude >= wanted {
                return step * magnitude;
            }
        }
        magnitude *= 10.0;
    }
}

/// A gridline's number (whole: see [`tick_step`]).
fn number(value: f64) -> String {
    format!("{value:.0}")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: usize) -> Vec<String> {
        (1..=n).map(|d| format!("2026-03-{d:02}")).collect()
    }

    #[test]
    fn gridlines_fall_on_round_whole_numbers() {
        assert_eq!(tick_step(0.0), 1.0);
        assert_eq!(tick_step(3.0), 1.0);
        assert_eq!(tick_step(5.0), 2.0);
        assert_eq!(tick_step(10.0), 5.0);
        assert_eq!(tick_step(40.0), 10.0);
        assert_eq!(tick_step(100.0), 25.0);
        assert_eq!(tick_step(2_100.0), 1_000.0);
        assert_eq!(tick_step(f64::INFINITY), 1.0);
    }

    #[test]
    fn a_series_is_drawn_to_scale_with_labelled_axes() {
        let drawn = svg(
            "u",
            "Updates <per day>",
            "3 days",
            &days(3),
            &[Series { name: "updates", values: vec![Some(0.0), Some(10.0), Some(20.0)] }],
            "",
        );
        // 20 is the top: the plot is 164 px high from y=28; x from 56 to 628.
        assert!(drawn.contains("points=\"56.0,192.0 342.0,110.0 628.0,28.0\""), "{drawn}");
        assert!(drawn.contains("<title id=\"u-title\">Updates &lt;per day&gt;</title>"), "{drawn}");
        assert!(drawn.contains("aria-labelledby=\"u-title u-desc\""), "{drawn}");
        for label in [">0</text>", ">5</text>", ">15</text>", ">20</text>", ">03-01</text>", ">03-03</text>"] {
            assert!(drawn.contains(label), "{label} in {drawn}");
        }
        assert!(drawn.contains(">updates</text>"), "the legend: {drawn}");
    }

    #[test]
    fn days_without_a_value_break_the_line() {
        let values = vec![Some(100.0), Some(50.0), None, Some(20.0), None];
        let drawn = svg("l", "p50", "", &days(5), &[Series { name: "p50", values }], " ms");
        assert_eq!(drawn.matches("<polyline").count(), 1, "{drawn}");
        assert_eq!(drawn.matches("<circle").count(), 1, "the lone day is a dot: {drawn}");
        assert!(drawn.contains(">100 ms</text>"), "{drawn}");
        // Nothing at all: an empty plot, still labelled.
        let empty = svg("e", "none", "", &[], &[Series { name: "x", values: vec![] }], "");
        assert!(empty.contains(">1</text>") && !empty.contains("<polyline"), "{empty}");
    }
}
