//! CSV: RFC 4180 (the `csv` crate), a header row of the column names, then the rows.
//!
//! A single-sheet report is one file at the destination. A multi-sheet report (rvtools,
//! inventory_summary, job_history) is one file per sheet beside it, named
//! `<stem>_<sheet>.csv` (`inventory_vInfo.csv`; a space in a sheet name becomes `_`,
//! `history_Job_events.csv`), as RVTools' own CSV export does; all of them are committed
//! together. Cells as [`Cell::write_text`] prints them.
//!
//! Text comes from whoever may edit vCenter (VM names, notes, custom attributes), so a text
//! cell a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
//! carriage return) is written with a leading `'`, as OWASP's CSV-injection guidance says:
//! `=HYPERLINK(...)` arrives as the text `'=HYPERLINK(...)`, never as a formula. Numbers and
//! dates are ours and are written as they are.
use std::path::{Path, PathBuf};

use super::{Cell, Sink};
use crate::error::{Error, Result};
use crate::reports::atomic::{io_error, AtomicFile};
use crate::reports::catalog::Sheet;

pub struct CsvSink {
    /// Where each sheet goes, in sheet order.
    paths: Vec<PathBuf>,
    limit: Option<u64>,
    current: Option<::csv::Writer<AtomicFile>>,
    done: Vec<AtomicFile>,
    text: String,
}

/// The files a csv rendering of these sheets writes for `destination`.
pub fn sheet_paths(destination: &Path, sheets: &[&'static Sheet]) -> Vec<PathBuf> {
    if sheets.len() <= 1 {
        return vec![destination.to_path_buf()];
    }
    let stem = destination.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    let folder = crate::reports::atomic::folder_of(destination);
    sheets.iter().map(|s| folder.join(format!("{stem}_{}.csv", s.name.replace(' ', "_")))).collect()
}

impl CsvSink {
    pub fn new(destination: &Path, sheets: &[&'static Sheet], limit: Option<u64>) -> Result<CsvSink> {
        Ok(CsvSink {
            paths: sheet_paths(destination, sheets),
            limit,
            current: None,
            done: Vec::new(),
            text: String::new(),
        })
    }

    fn writer(&mut self) -> Result<&mut ::csv::Writer<AtomicFile>> {
        self.current.as_mut().ok_or_else(|| Error::internal("csv row outside a sheet"))
    }
}

fn csv_error(e: ::csv::Error, path: &Path) -> Error {
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => io_error(io, "cannot write", path),
        other => Error::internal(format!("writing {}: {other:?}", path.display())),
    }
}

/// Would a spreadsheet treat a cell starting like this as a formula (OWASP's list)?
fn is_formula_like(s: &str) -> bool {
    matches!(s.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

impl Sink for CsvSink {
    fn begin_sheet(&mut self, sheet: &'static Sheet) -> Result<()> {
        let index = self.done.len();
        let path = self.paths.get(index).cloned().ok_or_else(|| Error::internal("more csv sheets than planned"))?;
        let file = AtomicFile::create(&path, self.limit)?;
        let mut w = ::csv::WriterBuilder::new().buffer_capacity(64 * 1024).from_writer(file);
        w.write_record(sheet.columns.iter().map(|c| c.name)).map_err(|e| csv_error(e, &path))?;
        self.current = Some(w);
        Ok(())
    }

    fn row(&mut self, cells: &[Cell<'_>]) -> Result<()> {
        let mut text = std::mem::take(&mut self.text);
        let w = self.writer()?;
        let mut result = Ok(());
        for cell in cells {
            let field = match cell {
                Cell::Text(s) if is_formula_like(s) => {
                    text.clear();
                    text.push('\'');
                    text.push_str(s);
                    text.as_bytes()
                }
                Cell::Text(s) => s.as_bytes(),
                other => {
                    text.clear();
                    other.write_text(&mut text);
                    text.as_bytes()
                }
            };
            if let Err(e) = w.write_field(field) {
                result = Err(e);
                break;
            }
        }
        let result = result.and_then(|_| w.write_record(None::<&[u8]>));
        self.text = text;
        result.map_err(|e| {
            let path = self.paths.get(self.done.len()).cloned().unwrap_or_default();
            csv_error(e, &path)
        })
    }

    fn end_sheet(&mut self, _rows: u64) -> Result<()> {
        let w = self.current.take().ok_or_else(|| Error::internal("csv sheet ended twice"))?;
        let path = self.paths.get(self.done.len()).cloned().unwrap_or_default();
        let file = w.into_inner().map_err(|e| io_error(e.into_error(), "cannot write", &path))?;
        self.done.push(file);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<AtomicFile>> {
        Ok(self.done)
    }
}

#[cfg(test)]
mod tests {
    use super::is_formula_like;

    #[test]
    fn formula_starts_are_recognised_and_plain_text_is_not() {
        for s in ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(is_formula_like(s), "{s:?}");
        }
        for s in ["app01", "", " =1", "10.0.0.1", "'=1"] {
            assert!(!is_formula_like(s), "{s:?}");
        }
    }
}
