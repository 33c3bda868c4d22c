//! JSON, schema `eio.report/v1` — stable: fields are only ever added, never renamed or
//! retyped; a breaking change gets a new schema name.
//!
//! ```json
//! {
//!   "schema": "eio.report/v1",
//!   "report": "rvtools",                  // the report type
//!   "title": "RVTools-compatible inventory",
//!   "generated_at": "2026-01-31T06:00:00Z",  // UTC, RFC 3339
//!   "filters": {"cluster": "prod-a"},     // as given, strings
//!   "sheets": [
//!     {
//!       "name": "vInfo",
//!       "columns": [{"name": "VM", "type": "text"}, {"name": "CPUs", "type": "integer"}, …],
//!       "rows": [["web-01", 4, …], …],    // arrays in column order
//!       "row_count": 1234
//!     }
//!   ]
//! }
//! ```
//! Column types: `text` (string), `integer`, `number`, `boolean`, `datetime` (RFC 3339
//! string in UTC, to the second). Any cell may be `null`. The document is written as the
//! rows stream, one row per line.
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{time_text, Cell, Meta, Sink};
use crate::error::{Error, Result};
use crate::reports::atomic::{io_error, AtomicFile};
use crate::reports::catalog::Sheet;

pub const SCHEMA: &str = "eio.report/v1";

pub struct JsonSink {
    destination: PathBuf,
    file: AtomicFile,
    sheets: usize,
    rows_in_sheet: u64,
}

impl JsonSink {
    pub fn new(destination: &Path, meta: Meta, limit: Option<u64>) -> Result<JsonSink> {
        let mut file = AtomicFile::create(destination, limit)?;
        let head = serde_json::json!({
            "schema": SCHEMA,
            "report": meta.report.report_type.as_str(),
            "title": meta.report.title,
            "generated_at": time_text(&meta.generated_at),
            "filters": meta.filters,
        });
        let head = serde_json::to_string(&head).map_err(|e| Error::internal(e.to_string()))?;
        // `{…,"sheets":[` — the head object without its closing brace.
        let open = format!("{},\"sheets\":[\n", &head[..head.len() - 1]);
        file.write_all(open.as_bytes()).map_err(|e| io_error(e, "cannot write", destination))?;
        Ok(JsonSink { destination: destination.to_path_buf(), file, sheets: 0, rows_in_sheet: 0 })
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.file.write_all(bytes).map_err(|e| io_error(e, "cannot write", &self.destination))
    }
}

impl Sink for JsonSink {
    fn begin_sheet(&mut self, sheet: &'static Sheet) -> Result<()> {
        let columns: Vec<serde_json::Value> =
            sheet.columns.iter().map(|c| serde_json::json!({"name": c.name, "type": c.kind.as_str()})).collect();
        let text = format!(
            "{}{{\"name\":{},\"columns\":{},\"rows\":[\n",
            if self.sheets > 0 { ",\n" } else { "" },
            serde_json::Value::from(sheet.name),
            serde_json::Value::from(columns)
        );
        self.sheets += 1;
        self.rows_in_sheet = 0;
        self.put(text.as_bytes())
    }

    fn row(&mut self, cells: &[Cell<'_>]) -> Result<()> {
        let mut line = String::with_capacity(256);
        if self.rows_in_sheet > 0 {
            line.push_str(",\n");
        }
        line.push('[');
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            match cell {
                Cell::Null => line.push_str("null"),
                Cell::Text(s) => push_json_string(&mut line, s),
                Cell::Int(_) | Cell::Bool(_) => cell.write_text_json(&mut line),
                Cell::Float(f) if f.is_finite() => {
                    use std::fmt::Write as _;
                    let _ = write!(line, "{f:?}");
                }
                Cell::Float(_) => line.push_str("null"),
                Cell::Time(t) => push_json_string(&mut line, &time_text(t)),
            }
        }
        line.push(']');
        self.rows_in_sheet += 1;
        self.put(line.as_bytes())
    }

    fn end_sheet(&mut self, rows: u64) -> Result<()> {
        self.put(format!("\n],\"row_count\":{rows}}}").as_bytes())
    }

    fn finish(mut self: Box<Self>) -> Result<Vec<AtomicFile>> {
        self.put(b"\n]}\n")?;
        Ok(vec![self.file])
    }
}

impl Cell<'_> {
    fn write_text_json(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            Cell::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Cell::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            _ => out.push_str("null"),
        }
    }
}

fn push_json_string(out: &mut String, s: &str) {
    // serde_json's escaping, without an intermediate Value.
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("null"),
    }
}
