//! Output: aligned tables for people, JSON for scripts. Every command builds one JSON view of
//! what the server answered and, unless `--json` was given, a table (or key/value block) of
//! the same data. Tables count East Asian wide characters as two columns so Chinese names
//! line up in a terminal.

use serde_json::Value;

/// Where and how a command prints.
#[derive(Clone, Copy, Debug)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `view` as JSON, or the table `render` builds.
    pub fn emit(&self, view: &Value, render: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(view).unwrap_or_default());
        } else {
            let text = render();
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
        }
    }
}

/// A table with a header row; cells longer than the column cap are cut with `…`.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    cap: usize,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            cap: 40,
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, columns separated by two spaces, no trailing spaces.
    pub fn render(&self) -> String {
        let n = self.headers.len();
        let cut: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                (0..n)
                    .map(|i| clip(r.get(i).map_or("", String::as_str), self.cap))
                    .collect()
            })
            .collect();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for r in &cut {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(width(c));
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(widths[i] - width(c)));
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&self.headers, &mut out);
        for r in &cut {
            line(r, &mut out);
        }
        out
    }
}

/// Appends a note when the list was cut at `--limit`.
pub fn with_more(mut text: String, more: bool) -> String {
    if more {
        text.push_str("(more rows on the server; raise --limit)\n");
    }
    text
}

/// A key/value block for one record: keys right-padded to one width.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| width(k)).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(k);
        out.push_str(&" ".repeat(w - width(k) + 2));
        out.push_str(v);
        out.push('\n');
    }
    out
}

/// Display width: East Asian wide and fullwidth characters take two columns.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let u = c as u32;
    let wide = matches!(u,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD);
    if c.is_control() {
        0
    } else if wide {
        2
    } else {
        1
    }
}

/// `s` cut to at most `cap` columns (with `…`), on one line.
fn clip(s: &str, cap: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if width(&one_line) <= cap {
        return one_line;
    }
    let mut out = String::new();
    let mut w = 0;
    for c in one_line.chars() {
        let cw = char_width(c);
        if w + cw > cap - 1 {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// The short, lower-case name of a proto enum value: `CHANNEL_HOTLINE_12345` with prefix
/// `CHANNEL_` gives `hotline_12345`; UNSPECIFIED gives an empty string, an unknown value its
/// number.
pub fn short_name(name: Option<&str>, prefix: &str, raw: i32) -> String {
    match name {
        Some(n) if n.ends_with("_UNSPECIFIED") => String::new(),
        Some(n) => n.strip_prefix(prefix).unwrap_or(n).to_ascii_lowercase(),
        None => raw.to_string(),
    }
}

/// `enum_name!(Channel, value)`: the short name of a proto enum's i32 value.
#[macro_export]
macro_rules! enum_name {
    ($ty:ident, $v:expr, $prefix:literal) => {{
        let raw: i32 = $v;
        $crate::output::short_name(
            gridloop_proto::v1::$ty::try_from(raw)
                .ok()
                .map(|e| e.as_str_name()),
            $prefix,
            raw,
        )
    }};
}

/// A rate (0..1) as a percentage with one decimal, `-` when undefined.
pub fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// JSON null for an empty string, else the string.
pub fn opt_str(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_with_wide_characters() {
        let mut t = Table::new(&["CODE", "NAME", "LEVEL"]);
        t.row(vec!["341504100".into(), "城关镇".into(), "town".into()]);
        t.row(vec![
            "341504100201".into(),
            "幸福村3组".into(),
            "group".into(),
        ]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "CODE          NAME       LEVEL");
        assert_eq!(lines[1], "341504100     城关镇     town");
        assert_eq!(lines[2], "341504100201  幸福村3组  group");
        // Every LEVEL cell starts at the same display column.
        let col = |l: &str| width(&l[..l.rfind("  ").unwrap() + 2]);
        assert!(lines.iter().all(|l| col(l) == col(lines[0])));
    }

    #[test]
    fn long_and_multiline_cells_are_clipped() {
        let mut t = Table::new(&["ID", "CONTENT"]);
        t.row(vec!["1".into(), "噪".repeat(30)]);
        t.row(vec!["2".into(), "line one\nline two".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].ends_with('…'));
        assert!(width(lines[1]) <= 1 + 2 + 40);
        assert_eq!(lines[2], "2   line one line two");
        // Missing cells render empty, no trailing spaces.
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["x".into()]);
        assert_eq!(t.render(), "A  B\nx\n");
    }

    #[test]
    fn enum_names_and_rates() {
        use gridloop_proto::v1::Channel;
        assert_eq!(
            enum_name!(Channel, Channel::Hotline12345 as i32, "CHANNEL_"),
            "hotline_12345"
        );
        assert_eq!(enum_name!(Channel, 0, "CHANNEL_"), "");
        assert_eq!(enum_name!(Channel, 99, "CHANNEL_"), "99");
        assert_eq!(pct(Some(0.8766)), "87.7%");
        assert_eq!(pct(None), "-");
        let f = fields(&[("ticket", "t1".into()), ("状态", "closed".into())]);
        assert_eq!(f, "ticket  t1\n状态    closed\n");
    }
}
