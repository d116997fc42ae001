//! Charts drawn on the server as inline SVG: a line chart of a rate over time and a bar chart
//! of a ranking. No script: the page reads the same with JavaScript off.

use std::fmt::Write;

use crate::web::esc;

const W: f64 = 560.0;
const H: f64 = 220.0;
const PAD_L: f64 = 44.0;
const PAD_B: f64 = 36.0;
const PAD_T: f64 = 16.0;

/// A rate (0..1, or missing) per labelled point, as a polyline with dots and axis labels.
pub fn line_chart(id: &str, title: &str, points: &[(String, Option<f64>)]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="{id}" role="img" aria-label="{t}" width="{W}" height="{H}" viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    let plot_h = H - PAD_B - PAD_T;
    let plot_w = W - PAD_L - 12.0;
    for pct in [0, 25, 50, 75, 100] {
        let y = PAD_T + plot_h * (1.0 - f64::from(pct) / 100.0);
        let _ = write!(
            s,
            r##"<line x1="{PAD_L}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" font-size="11" text-anchor="end" fill="#555">{pct}%</text>"##,
            x2 = W - 12.0,
            tx = PAD_L - 4.0,
            ty = y + 4.0
        );
    }
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
    if path.len() > 1 {
        let _ = write!(
            s,
            r##"<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="{}"/>"##,
            path.join(" ")
        );
    }
    let every = n.div_ceil(8).max(1);
    for (i, (label, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let (x, y) = xy(i, *v);
            let _ = write!(
                s,
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="#1f6feb" data-label="{l}" data-value="{v}"><title>{l}: {p:.1}%</title></circle>"##,
                l = esc(label),
                p = v * 100.0
            );
        }
        if i % every == 0 {
            let x = PAD_L + step * i as f64;
            let _ = write!(
                s,
                r##"<text x="{x:.1}" y="{y}" font-size="10" text-anchor="middle" fill="#555">{}</text>"##,
                esc(label),
                y = H - PAD_B + 16.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars, one per (label, rate 0..1).
pub fn bar_chart(id: &str, title: &str, bars: &[(String, f64)]) -> String {
    let row = 22.0;
    let label_w = 150.0;
    let h = PAD_T + row * bars.len().max(1) as f64 + 8.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="{id}" role="img" aria-label="{t}" width="{W}" height="{h}" viewBox="0 0 {W} {h}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    let full = W - label_w - 70.0;
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = PAD_T + row * i as f64;
        let w = full * v.clamp(0.0, 1.0);
        let _ = write!(
            s,
            r##"<text x="{tx}" y="{ty:.1}" font-size="12" text-anchor="end" fill="#222">{l}</text><rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="{bh}" fill="#2da44e" data-label="{l}" data-value="{v}"/><text x="{vx:.1}" y="{ty:.1}" font-size="12" fill="#222">{p:.1}%</text>"##,
            tx = label_w - 6.0,
            ty = y + 14.0,
            bh = row - 6.0,
            vx = label_w + w + 6.0,
            l = esc(label),
            p = v * 100.0
        );
    }
    s.push_str("</svg>");
    s
}
