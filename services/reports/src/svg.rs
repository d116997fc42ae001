//! Charts drawn on the server as inline SVG: a line chart of a rate over time and a bar chart
//! of a ranking. No script: the page reads the same with JavaScript off.
//!
//! Written with maud like the page around them, so labels (grid names among them) are escaped
//! by construction. SVG elements are closed with `{}` rather than maud's `;`: inside `<svg>`
//! the HTML parser treats an unclosed `<line>` as the parent of everything after it.

use maud::{Markup, html};

const W: f64 = 560.0;
const H: f64 = 220.0;
const PAD_L: f64 = 44.0;
const PAD_B: f64 = 36.0;
const PAD_T: f64 = 16.0;

/// A coordinate with one decimal, as the charts' attributes show them.
fn d1(v: f64) -> String {
    format!("{v:.1}")
}

/// A rate (0..1, or missing) per labelled point, as a polyline with dots and axis labels.
pub fn line_chart(id: &str, title: &str, points: &[(String, Option<f64>)]) -> Markup {
    let plot_h = H - PAD_B - PAD_T;
    let plot_w = W - PAD_L - 12.0;
    let n = points.len().max(1);
    let step = if n > 1 { plot_w / (n - 1) as f64 } else { 0.0 };
    let xy = |i: usize, v: f64| {
        (
            PAD_L + step * i as f64,
            PAD_T + plot_h * (1.0 - v.clamp(0.0, 1.0)),
        )
    };
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .filter_map(|(i, (_, v))| v.map(|v| xy(i, v)))
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    let every = n.div_ceil(8).max(1);
    html! {
        svg id=(id) role="img" aria-label=(title) width=(W) height=(H) viewBox={ "0 0 " (W) " " (H) }
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for pct in [0, 25, 50, 75, 100] {
                @let y = PAD_T + plot_h * (1.0 - f64::from(pct) / 100.0);
                line x1=(PAD_L) x2=(W - 12.0) y1=(d1(y)) y2=(d1(y)) stroke="#ddd" {}
                text x=(PAD_L - 4.0) y=(d1(y + 4.0)) font-size="11" text-anchor="end" fill="#555" {
                    (pct) "%"
                }
            }
            @if path.len() > 1 {
                polyline fill="none" stroke="#1f6feb" stroke-width="2" points=(path.join(" ")) {}
            }
            @for (i, (label, v)) in points.iter().enumerate() {
                @if let Some(v) = v {
                    @let (x, y) = xy(i, *v);
                    circle cx=(d1(x)) cy=(d1(y)) r="3" fill="#1f6feb" data-label=(label) data-value=(v) {
                        title { (label) ": " (d1(v * 100.0)) "%" }
                    }
                }
                @if i % every == 0 {
                    text x=(d1(PAD_L + step * i as f64)) y=(H - PAD_B + 16.0) font-size="10"
                        text-anchor="middle" fill="#555" {
                        (label)
                    }
                }
            }
        }
    }
}

/// Horizontal bars, one per (label, rate 0..1).
pub fn bar_chart(id: &str, title: &str, bars: &[(String, f64)]) -> Markup {
    let row = 22.0;
    let label_w = 150.0;
    let h = PAD_T + row * bars.len().max(1) as f64 + 8.0;
    let full = W - label_w - 70.0;
    html! {
        svg id=(id) role="img" aria-label=(title) width=(W) height=(h) viewBox={ "0 0 " (W) " " (h) }
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for (i, (label, v)) in bars.iter().enumerate() {
                @let y = PAD_T + row * i as f64;
                @let w = full * v.clamp(0.0, 1.0);
                @let ty = d1(y + 14.0);
                text x=(label_w - 6.0) y=(ty) font-size="12" text-anchor="end" fill="#222" { (label) }
                rect x=(label_w) y=(d1(y)) width=(d1(w)) height=(row - 6.0) fill="#2da44e"
                    data-label=(label) data-value=(v) {}
                text x=(d1(label_w + w + 6.0)) y=(ty) font-size="12" fill="#222" {
                    (d1(v * 100.0)) "%"
                }
            }
        }
    }
}
