//! XLSX with `rust_xlsxwriter` in constant-memory mode: each sheet's rows go to a
//! temporary file (in the destination's folder) as they arrive, and the workbook is zipped
//! into the destination's temporary file at the end.
//!
//! One worksheet per sheet, named as the sheet (RVTools' `vInfo`, …). Row 1 is the header:
//! bold on a tinted fill with a border, frozen, with an autofilter over the data. Cells
//! are typed: numbers as numbers, booleans as booleans, times as Excel date-times in UTC
//! (`yyyy-mm-dd hh:mm:ss`), text as inline strings (cut at Excel's 32,767 characters).
//! Column widths come from the catalog.
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, FormatBorder, Workbook, Worksheet, XlsxError};

use super::{Cell, Sink};
use crate::error::{Error, Result};
use crate::reports::atomic::{io_error, AtomicFile};
use crate::reports::catalog::Sheet;

/// Excel's last row (1,048,576) minus the header.
const MAX_DATA_ROWS: u32 = 1_048_575;
const MAX_CELL_CHARS: usize = 32_767;

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
            let col = i as u16;
            ws.set_column_width(col, c.width.max(c.name.len() as f64 * 1.1 + 3.0).min(60.0))
                .map_err(|e| xlsx_error(e, &dest))?;
            ws.write_string_with_format(0, col, c.name, &self.header).map_err(|e| xlsx_error(e, &dest))?;
        }
        ws.set_freeze_panes(1, 0).map_err(|e| xlsx_error(e, &dest))?;
        self.current = Some((self.sheets, sheet));
        self.sheets += 1;
        self.next_row = 1;
        Ok(())
    }

    fn row(&mut self, cells: &mut [Cell]) -> Result<()> {
        let row = self.next_row;
        if row > MAX_DATA_ROWS {
            let name = self.current.map(|(_, s)| s.name).unwrap_or_default();
            return Err(Error::invalid(format!(
                "sheet {name} has more than {MAX_DATA_ROWS} rows, more than xlsx can hold; use csv or json, or filter the report"
            )));
        }
        let dest = self.destination.clone();
        let datetime = self.datetime.clone();
        let (ws, _) = self.sheet()?;
        for (i, cell) in cells.iter_mut().enumerate() {
            let col = i as u16;
            let r = match cell {
                Cell::Null => continue,
                Cell::Text(s) => {
                    let mut s = std::mem::take(s);
                    if s.len() > MAX_CELL_CHARS {
                        let cut = s.char_indices().nth(MAX_CELL_CHARS).map(|(at, _)| at).unwrap_or(s.len());
                        s.truncate(cut);
                    }
                    ws.write_string(row, col, s)
                }
                Cell::Int(n) => ws.write_number(row, col, *n as f64),
                Cell::Float(f) if f.is_finite() => ws.write_number(row, col, *f),
                Cell::Float(_) => continue,
                Cell::Bool(b) => ws.write_boolean(row, col, *b),
                Cell::Time(t) => ws.write_number_with_format(row, col, excel_serial(t), &datetime),
            };
            r.map_err(|e| xlsx_error(e, &dest))?;
        }
        self.next_row += 1;
        Ok(())
    }

    fn end_sheet(&mut self, rows: u64) -> Result<()> {
        let dest = self.destination.clone();
        let (ws, sheet) = self.sheet()?;
        let last_col = sheet.columns.len().saturating_sub(1) as u16;
        ws.autofilter(0, 0, rows.min(MAX_DATA_ROWS as u64) as u32, last_col).map_err(|e| xlsx_error(e, &dest))?;
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
