//! Turning streamed rows into files: one [`Sink`] per format, fed sheet by sheet and row by
//! row, so no format ever holds more than a row (and the HTML chart's few bars) in memory.
//!
//! Owns the cell model ([`Cell`]), the formats' files and their layout (documented per
//! renderer: [`xlsx`], [`csv`], [`json`], [`html`]). Every renderer writes through
//! [`AtomicFile`]s that are committed only by the caller after the whole report succeeded;
//! a renderer must never write the destination directly, and never drop or reorder rows.
pub mod csv;
pub mod html;
pub mod json;
pub mod xlsx;

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};

use super::atomic::AtomicFile;
use super::catalog::{Report, Sheet};
use super::{Filters, ReportFormat};
use crate::error::Result;

/// One value, typed as its column. Text borrows from the [`Rows`] batch it came in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Time(DateTime<Utc>),
}

impl Cell<'_> {
    /// The text csv and html show: integers and floats as Rust prints them (shortest
    /// round-trip form), booleans as `True`/`False` (as RVTools writes them), times in UTC
    /// as RFC 3339 to the second, NULL as nothing.
    pub fn write_text(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            Cell::Null => {}
            Cell::Text(s) => out.push_str(s),
            Cell::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Cell::Float(f) if f.is_finite() => {
                let _ = write!(out, "{f}");
            }
            Cell::Float(_) => {}
            Cell::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            Cell::Time(t) => out.push_str(&time_text(t)),
        }
    }
}

/// A batch of rows of one sheet, as the database side hands them to a renderer: the text of
/// all its cells in one buffer and every cell a fixed-size slot, so a batch costs a couple
/// of allocations however many text cells it holds (not one `String` per cell).
#[derive(Debug)]
pub struct Rows {
    width: usize,
    text: String,
    slots: Vec<Slot>,
}

/// A [`Cell`] with its text as a range of the batch's buffer.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Null,
    Text(usize, usize),
    Int(i64),
    Float(f64),
    Bool(bool),
    Time(DateTime<Utc>),
}

impl Rows {
    /// An empty batch of rows `width` cells wide, with room for `rows` rows.
    pub fn new(width: usize, rows: usize) -> Rows {
        Rows { width, text: String::with_capacity(rows * width * 16), slots: Vec::with_capacity(rows * width) }
    }

    /// Append the next cell (rows are filled left to right, top to bottom).
    pub fn push(&mut self, cell: Cell<'_>) {
        let slot = match cell {
            Cell::Null => Slot::Null,
            Cell::Text(s) => {
                let start = self.text.len();
                self.text.push_str(s);
                Slot::Text(start, self.text.len())
            }
            Cell::Int(n) => Slot::Int(n),
            Cell::Float(f) => Slot::Float(f),
            Cell::Bool(b) => Slot::Bool(b),
            Cell::Time(t) => Slot::Time(t),
        };
        self.slots.push(slot);
    }

    /// Complete rows held.
    pub fn len(&self) -> usize {
        self.slots.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes of text held.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Call `f` with each complete row's cells, in order.
    pub fn try_for_each<E>(
        &self,
        mut f: impl FnMut(&[Cell<'_>]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut row = Vec::with_capacity(self.width);
        for slots in self.slots.chunks_exact(self.width.max(1)) {
            row.clear();
            row.extend(slots.iter().map(|s| match *s {
                Slot::Null => Cell::Null,
                Slot::Text(a, b) => Cell::Text(&self.text[a..b]),
                Slot::Int(n) => Cell::Int(n),
                Slot::Float(x) => Cell::Float(x),
                Slot::Bool(v) => Cell::Bool(v),
                Slot::Time(t) => Cell::Time(t),
            }));
            f(&row)?;
        }
        Ok(())
    }
}

/// How every format prints a time: UTC, RFC 3339, whole seconds.
pub fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What a renderer shows about the report besides its rows.
#[derive(Debug, Clone)]
pub struct Meta {
    pub report: &'static Report,
    pub generated_at: DateTime<Utc>,
    pub filters: Filters,
    /// Bars for the HTML chart: (label, value).
    pub chart: Vec<(String, f64)>,
}

/// A format's writer. Called as: (`begin_sheet`, `row`*, `end_sheet`)* then `finish`.
pub trait Sink: Send {
    fn begin_sheet(&mut self, sheet: &'static Sheet) -> Result<()>;
    /// The cells of one row, in column order.
    fn row(&mut self, cells: &[Cell<'_>]) -> Result<()>;
    fn end_sheet(&mut self, rows: u64) -> Result<()>;
    /// Write what remains; the files are committed by the caller once everything succeeded.
    fn finish(self: Box<Self>) -> Result<Vec<AtomicFile>>;
}

/// The sink for `format` writing `destination` (csv of a multi-sheet report: one file per
/// sheet beside it, see [`csv`]). `limit` caps each file's size, failing like a full disk.
pub fn open(
    format: ReportFormat,
    destination: &Path,
    meta: Meta,
    sheets: &[&'static Sheet],
    limit: Option<u64>,
) -> Result<Box<dyn Sink>> {
    Ok(match format {
        ReportFormat::Xlsx => Box::new(xlsx::XlsxSink::new(destination, limit)?),
        ReportFormat::Csv => Box::new(csv::CsvSink::new(destination, sheets, limit)?),
        ReportFormat::Json => Box::new(json::JsonSink::new(destination, meta, limit)?),
        ReportFormat::Html => Box::new(html::HtmlSink::new(destination, meta, limit)?),
    })
}
