//! HTML: one self-contained page — inline CSS (screen and print), the chart as inline SVG,
//! no script, no external resource — that opens anywhere and prints cleanly.
//!
//! Layout: a header (title, description, generation time, filters), the chart (a bar
//! chart of the report's key figure), then one `<section>` per sheet with an `<h2>`, a
//! `<table>` (`<thead>` repeats on every printed page) and a row count. Number cells carry
//! `class="n"`; every cell is HTML-escaped.
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{time_text, Cell, Meta, Sink};
use crate::error::Result;
use crate::reports::atomic::{io_error, AtomicFile};
use crate::reports::catalog::{Kind, Sheet};

const STYLE: &str = r#"
:root { --ink: #1f2937; --muted: #6b7280; --line: #d1d5db; --head: #dbe4f3; --bar: #2f6fb2; }
* { box-sizing: border-box; }
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 24px; }
header h1 { font-size: 22px; margin: 0 0 4px; }
header p { margin: 2px 0; color: var(--muted); }
dl.filters { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 8px 0; }
dl.filters dt { font-weight: 600; } dl.filters dd { margin: 0 8px 0 4px; }
figure { margin: 16px 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
svg text { font: 11px system-ui, sans-serif; fill: var(--ink); }
svg rect { fill: var(--bar); }
section { margin-top: 24px; }
h2 { font-size: 16px; margin: 0 0 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
thead th { background: var(--head); position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #f7f9fc; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
p.count { color: var(--muted); margin: 4px 0 0; }
@media print {
  body { margin: 0; font-size: 9pt; }
  thead { display: table-header-group; }
  tr { page-break-inside: avoid; }
  thead th { position: static; }
  section { page-break-before: auto; }
}
"#;

pub struct HtmlSink {
    destination: PathBuf,
    file: AtomicFile,
    kinds: Vec<Kind>,
    line: String,
}

pub fn escape(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape(s, &mut out);
    out
}

/// A horizontal bar chart as inline SVG.
pub fn bar_chart(bars: &[(String, f64)]) -> String {
    const LABEL_W: f64 = 220.0;
    const BAR_W: f64 = 440.0;
    const ROW_H: f64 = 22.0;
    let max = bars.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let height = ROW_H * bars.len() as f64 + 8.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\">",
        w = LABEL_W + BAR_W + 80.0
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = i as f64 * ROW_H + 4.0;
        let width = if max > 0.0 { (value / max * BAR_W).max(1.0) } else { 1.0 };
        let shown: String = label.chars().take(34).collect();
        svg.push_str(&format!(
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{}</text><rect x=\"{LABEL_W}\" y=\"{y}\" width=\"{width:.1}\" height=\"{bh}\" rx=\"2\"><title>{}: {value}</title></rect><text x=\"{vx:.1}\" y=\"{ty}\">{value}</text>",
            esc(&shown),
            esc(label),
            lx = LABEL_W - 6.0,
            ty = y + 14.0,
            bh = ROW_H - 6.0,
            vx = LABEL_W + width + 4.0,
        ));
    }
    svg.push_str("</svg>");
    svg
}

impl HtmlSink {
    pub fn new(destination: &Path, meta: Meta, limit: Option<u64>) -> Result<HtmlSink> {
        let mut file = AtomicFile::create(destination, limit)?;
        let r = meta.report;
        let mut head = String::with_capacity(4096);
        head.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        head.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        head.push_str(&format!("<meta name=\"generator\" content=\"EIO report {}\">\n", r.report_type.as_str()));
        head.push_str(&format!("<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n", esc(r.title)));
        head.push_str(&format!("<h1>{}</h1>\n<p>{}</p>\n", esc(r.title), esc(r.description)));
        head.push_str(&format!(
            "<p>Generated <time datetime=\"{t}\">{t}</time> (UTC) by EIO</p>\n",
            t = time_text(&meta.generated_at)
        ));
        if !meta.filters.is_empty() {
            head.push_str("<dl class=\"filters\">");
            for (k, v) in &meta.filters {
                head.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(v)));
            }
            head.push_str("</dl>\n");
        }
        head.push_str("</header>\n");
        if let Some(chart) = &r.chart {
            if !meta.chart.is_empty() {
                head.push_str(&format!(
                    "<figure class=\"chart\">\n<figcaption>{}</figcaption>\n{}\n</figure>\n",
                    esc(chart.title),
                    bar_chart(&meta.chart)
                ));
            }
        }
        file.write_all(head.as_bytes()).map_err(|e| io_error(e, "cannot write", destination))?;
        Ok(HtmlSink { destination: destination.to_path_buf(), file, kinds: Vec::new(), line: String::new() })
    }

    fn put(&mut self, text: &str) -> Result<()> {
        self.file.write_all(text.as_bytes()).map_err(|e| io_error(e, "cannot write", &self.destination))
    }
}

impl Sink for HtmlSink {
    fn begin_sheet(&mut self, sheet: &'static Sheet) -> Result<()> {
        self.kinds = sheet.columns.iter().map(|c| c.kind).collect();
        let mut s = format!("<section>\n<h2>{}</h2>\n<table>\n<thead><tr>", esc(sheet.name));
        for c in sheet.columns {
            s.push_str(&format!("<th>{}</th>", esc(c.name)));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        self.put(&s)
    }

    fn row(&mut self, cells: &[Cell<'_>]) -> Result<()> {
        let mut line = std::mem::take(&mut self.line);
        let mut text = String::new();
        line.clear();
        line.push_str("<tr>");
        for (i, cell) in cells.iter().enumerate() {
            let numeric = matches!(self.kinds.get(i), Some(Kind::Int | Kind::Float));
            line.push_str(if numeric { "<td class=\"n\">" } else { "<td>" });
            text.clear();
            cell.write_text(&mut text);
            escape(&text, &mut line);
            line.push_str("</td>");
        }
        line.push_str("</tr>\n");
        let r = self.put(&line);
        self.line = line;
        r
    }

    fn end_sheet(&mut self, rows: u64) -> Result<()> {
        self.put(&format!(
            "</tbody>\n</table>\n<p class=\"count\">{rows} row{}</p>\n</section>\n",
            if rows == 1 { "" } else { "s" }
        ))
    }

    fn finish(mut self: Box<Self>) -> Result<Vec<AtomicFile>> {
        self.put("</body>\n</html>\n")?;
        Ok(vec![self.file])
    }
}
