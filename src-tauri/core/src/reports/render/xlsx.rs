//! XLSX with `rust_xlsxwriter` in constant-memory mode: each sheet's rows go to a
//! temporary file (in the destination's folder) as they arrive, and the workbook is zipped
//! into the destination's temporary file at the end.
//!
//! One worksheet per sheet, named as the sheet (RVTools' `vInfo`, …). Row 1 is the header:
//! bold on a tinted fill with a border, frozen, with an autofilter over the data. Cells
//! are typed: numbers as numbers, booleans as booleans, times as Excel date-times in UTC
//! (`yyyy-mm-dd hh:mm:ss`), text as inline strings (cut at Excel's limit of 32,767 UTF-16 units).
//! Column widths come from the catalog. The zip container is deflated at level 1
//! (see [`ZIP_LEVEL`]).
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, FormatBorder, Workbook, Worksheet, XlsxError};

use super::{Cell, Sink};
use crate::error::{Error, Result};
use crate::reports::atomic::{io_error, AtomicFile};
use crate::reports::catalog::Sheet;

/// Deflate level of the zip container. Level 1 (zlib-rs' quick deflate) compresses the
/// sheet XML several times faster than the default 6, for a file about 1.6× larger
/// (100k-VM vInfo: 22 MiB instead of 14 MiB); the compression runs after the last row, so
/// it is time the user waits.
const ZIP_LEVEL: u8 = 1;
/// Excel's last row (1,048,576) minus the header.
const MAX_DATA_ROWS: u32 = 1_048_575;
/// Excel's limit on a cell's text, in UTF-16 code units.
const MAX_CELL_UNITS: usize = 32_767;

pub struct XlsxSink {
    destination: PathBuf,
    limit: Option<u64>,
    workbook: Workbook,
    header: Format,
    datetime: Format,
    /// The sheet being written: its index in the workbook and its catalog entry.
    current: Option<(usize, &'static Sheet)>,
    sheets: usize,
    next_row: u32,
}

impl XlsxSink {
    pub fn new(destination: &Path, limit: Option<u64>) -> Result<XlsxSink> {
        let mut workbook = Workbook::new();
        let folder = crate::reports::atomic::folder_of(destination);
        // Sheet data waits on the same disk as the report, not in a RAM-backed /tmp.
        workbook.set_tempdir(&folder).map_err(|e| xlsx_error(e, destination))?;
        workbook.set_zip_compression_level(ZIP_LEVEL);
        let header = Format::new()
            .set_bold()
            .set_background_color(0xD9E2F3)
            .set_border_bottom(FormatBorder::Medium)
            .set_text_wrap();
        let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        Ok(XlsxSink {
            destination: destination.to_path_buf(),
            limit,
            workbook,
            header,
            datetime,
            current: None,
            sheets: 0,
            next_row: 1,
        })
    }

    fn sheet(&mut self) -> Result<(&mut Worksheet, &'static Sheet)> {
        let (index, sheet) = self.current.ok_or_else(|| Error::internal("xlsx row outside a sheet"))?;
        let ws = self.workbook.worksheet_from_index(index).map_err(|e| xlsx_error(e, &self.destination))?;
        Ok((ws, sheet))
    }
}

/// A writer error as a sentence; I/O failures (a full disk) say so plainly.
fn xlsx_error(e: XlsxError, path: &Path) -> Error {
    match e {
        XlsxError::IoError(io) | XlsxError::TempFileError(_, io) => io_error(io, "cannot write", path),
        XlsxError::ZipError(z) => {
            // The zip writer wraps the I/O error of the file underneath.
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&z);
            while let Some(c) = cause {
                if let Some(io) = c.downcast_ref::<std::io::Error>() {
                    return io_error(std::io::Error::new(io.kind(), io.to_string()), "cannot write", path);
                }
                cause = c.source();
            }
            Error::invalid(format!("cannot write {}: {z}", path.display()))
        }
        other => Error::internal(format!("writing {}: {other}", path.display())),
    }
}

/// `s` cut to what an Excel cell holds: 32,767 UTF-16 code units, on a character boundary.
fn excel_text(s: &str) -> &str {
    // A UTF-8 string has at least as many bytes as UTF-16 units.
    if s.len() <= MAX_CELL_UNITS {
        return s;
    }
    let mut units = 0;
    for (at, c) in s.char_indices() {
        units += c.len_utf16();
        if units > MAX_CELL_UNITS {
            return &s[..at];
        }
    }
    s
}

/// Excel's serial date-time (days since 1899-12-30), to the second.
fn excel_serial(t: &chrono::DateTime<chrono::Utc>) -> f64 {
    t.timestamp() as f64 / 86_400.0 + 25_569.0
}

impl Sink for XlsxSink {
    fn begin_sheet(&mut self, sheet: &'static Sheet) -> Result<()> {
        let dest = self.destination.clone();
        let ws = self.workbook.add_worksheet_with_constant_memory().map_err(|e| xlsx_error(e, &dest))?;
        ws.set_name(sheet.name).map_err(|e| xlsx_error(e, &dest))?;
        for (i, c) in sheet.columns.iter().enumerate() {
            ws.write_string_with_format(0, i as u16, c.name, &self.header).map_err(|e| xlsx_error(e, &dest))?;
        }
        ws.set_freeze_panes(1, 0).map_err(|e| xlsx_error(e, &dest))?;
        self.current = Some((self.sheets, sheet));
        self.sheets += 1;
        self.next_row = 1;
        Ok(())
    }

    fn row(&mut self, cells: &[Cell<'_>]) -> Result<()> {
        let row = self.next_row;
        if row > MAX_DATA_ROWS {
            let name = self.current.map(|(_, s)| s.name).unwrap_or_default();
            return Err(Error::invalid(format!(
                "sheet {name} has more than {MAX_DATA_ROWS} rows, more than xlsx can hold; use csv or json, or filter the report"
            )));
        }
        let XlsxSink { workbook, datetime, destination, current, .. } = self;
        let (index, _) = current.ok_or_else(|| Error::internal("xlsx row outside a sheet"))?;
        let ws = workbook.worksheet_from_index(index).map_err(|e| xlsx_error(e, destination))?;
        for (i, cell) in cells.iter().enumerate() {
            let col = i as u16;
            let r = match *cell {
                Cell::Null => continue,
                Cell::Text(s) => ws.write_string(row, col, excel_text(s)),
                Cell::Int(n) => ws.write_number(row, col, n as f64),
                Cell::Float(f) if f.is_finite() => ws.write_number(row, col, f),
                Cell::Float(_) => continue,
                Cell::Bool(b) => ws.write_boolean(row, col, b),
                Cell::Time(t) => ws.write_number_with_format(row, col, excel_serial(&t), datetime),
            };
            r.map_err(|e| xlsx_error(e, destination))?;
        }
        self.next_row += 1;
        Ok(())
    }

    fn end_sheet(&mut self, rows: u64) -> Result<()> {
        let dest = self.destination.clone();
        let (ws, sheet) = self.sheet()?;
        let last_col = sheet.columns.len().saturating_sub(1) as u16;
        ws.autofilter(0, 0, rows.min(MAX_DATA_ROWS as u64) as u32, last_col).map_err(|e| xlsx_error(e, &dest))?;
        // Widths go in only now: the sheet's `<cols>` are written when the workbook is
        // saved, and while any column is set, every cell written looks its column up.
        for (i, c) in sheet.columns.iter().enumerate() {
            ws.set_column_width(i as u16, c.width.max(c.name.len() as f64 * 1.1 + 3.0).min(60.0))
                .map_err(|e| xlsx_error(e, &dest))?;
        }
        self.current = None;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Vec<AtomicFile>> {
        let mut file = AtomicFile::create(&self.destination, self.limit)?;
        let dest = self.destination.clone();
        self.workbook.save_to_writer(&mut file).map_err(|e| xlsx_error(e, &dest))?;
        Ok(vec![file])
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::reports::catalog::RVTOOLS;

    fn sheet_xml(path: &Path) -> String {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("zip");
        let mut xml = String::new();
        zip.by_name("xl/worksheets/sheet1.xml").expect("sheet1").read_to_string(&mut xml).expect("read");
        xml
    }

    #[test]
    fn a_sheet_keeps_its_layout_and_cuts_text_to_what_excel_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("vinfo.xlsx");
        let sheet = &RVTOOLS.sheets[0];
        assert_eq!((sheet.name, sheet.columns.len()), ("vInfo", 23));
        let mut sink = Box::new(XlsxSink::new(&dest, None).expect("sink"));
        sink.begin_sheet(sheet).expect("begin");
        // 40,000 UTF-16 units: more than a cell holds, though fewer characters.
        let long = "\u{1F600}".repeat(20_000);
        let mut cells = vec![Cell::Null; sheet.columns.len()];
        cells[0] = Cell::Text(&long);
        cells[4] = Cell::Int(4);
        sink.row(&cells).expect("row 1");
        sink.row(&cells).expect("row 2");
        sink.end_sheet(2).expect("end");
        for f in sink.finish().expect("finish") {
            f.commit().expect("commit");
        }

        let xml = sheet_xml(&dest);
        assert!(xml.contains(r#"ySplit="1""#) && xml.contains(r#"state="frozen""#), "header row frozen");
        assert!(xml.contains(r#"<autoFilter ref="A1:W3"/>"#), "autofilter over header and rows");
        assert!(xml.contains("<cols>") && xml.contains(r#"max="23""#), "column widths set");
        let e2 = xml.split(r#"<c r="E2""#).nth(1).and_then(|rest| rest.split("</c>").next());
        assert_eq!(e2, Some("><v>4</v>"), "numbers typed");
        let kept = format!("<t>{}</t>", "\u{1F600}".repeat(16_383));
        assert_eq!(xml.matches(&kept).count(), 2, "text cut at 32,767 UTF-16 units");
    }
}
