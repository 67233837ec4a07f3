//! A sparkline drawn by the server: a small inline SVG of a series of counts (the bots list's
//! updates per hour over the last 24 hours), no script and no style attribute (the pages'
//! Content-Security-Policy allows neither inline), coloured with `currentColor`.

use std::fmt::Write as _;

/// The drawing's size, in CSS pixels.
const WIDTH: f64 = 120.0;
const HEIGHT: f64 = 24.0;

/// An `<svg role="img">` of `counts` (oldest first) as a line, scaled to the largest; `label`
/// is its accessible name (its `<title>`), already in the reader's language. Only numbers and
/// the escaped label go in.
pub fn svg(counts: &[i64], label: &str) -> String {
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if counts.len() > 1 { WIDTH / (counts.len() - 1) as f64 } else { 0.0 };
    let mut points = String::new();
    for (i, count) in counts.iter().enumerate() {
        let x = i as f64 * step;
        let y = HEIGHT - 1.0 - (*count).max(0) as f64 / max * (HEIGHT - 2.0);
        let _ = write!(points, "{}{x:.1},{y:.1}", if i == 0 { "" } else { " " });
    }
    format!(
        "<svg class=\"spark\" role=\"img\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title><polyline fill=\"none\" stroke=\"currentColor\" \
         stroke-width=\"1.5\" points=\"{points}\"/></svg>",
        escape(label)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_rises_with_the_counts_and_the_label_is_escaped() {
        let drawn = svg(&[0, 5, 10], "<3 updates");
        assert!(drawn.contains("points=\"0.0,23.0 60.0,12.0 120.0,1.0\""), "{drawn}");
        assert!(drawn.contains("<title>&lt;3 updates</title>"), "{drawn}");
        assert!(drawn.starts_with("<svg") && drawn.ends_with("</svg>"));
    }

    #[test]
    fn no_updates_is_a_flat_line_at_the_bottom() {
        let drawn = svg(&[0; 24], "none");
        assert_eq!(drawn.matches(",23.0").count(), 24, "{drawn}");
        assert!(svg(&[], "empty").contains("points=\"\""));
    }
}
