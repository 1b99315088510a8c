//! XLSX: the first visible worksheet, streamed cell by cell into compact rows. Nothing is unpacked
//! before the zip's declared sizes pass a ceiling derived from the cell limit, and calamine's
//! dense `Range` is never built: one stray cell at XFD1048576 would make it 17 billion cells.

use std::borrow::Cow;
use std::io::Cursor;
use std::mem;

use calamine::{Reader, SheetType, SheetVisible, Xlsx};
use csv::StringRecord;

use super::header::{match_headers, ColumnMap};
use super::read::{check_cell, is_blank, Body, Record, Sheet};
use super::template::Template;
use super::xlsx_cell::cell_text;
use super::Limits;
use crate::web::error::RowError;

/// Unpacked bytes one cell may need: its `<c>` element (~45 bytes) plus its share of the shared
/// strings. Real office files stay well under this; a zip bomb declares far more.
const UNPACKED_BYTES_PER_CELL: u64 = 128;
/// Styles, theme, workbook and relationships: tens of KiB in files Excel and WPS write.
const UNPACKED_FIXED: u64 = 8 << 20;
/// A workbook Excel writes has about ten parts; each part costs memory once the directory is read.
const MAX_PARTS: usize = 10_000;

pub(super) struct XlsxBody {
    rows: Vec<XlsxRow>,
}

struct XlsxRow {
    line: u64,
    cells: Result<StringRecord, RowError>,
}

pub(super) fn open(bytes: &[u8], template: &'static Template, limits: &Limits) -> Result<Sheet, Vec<RowError>> {
    check_declared_sizes(bytes, unpacked_ceiling(limits)).map_err(|e| vec![e])?;
    let mut book = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let Some(name) = first_worksheet(&book) else {
        return Err(vec![RowError::file("the workbook has no worksheet")]);
    };
    let mut cells = book.worksheet_cells_reader(&name).map_err(unreadable)?;
    let mut rows = Rows::new(template, *limits);
    while !rows.stopped {
        match cells.next_cell().map_err(unreadable)? {
            Some(cell) => {
                let (row, col) = cell.get_position();
                rows.cell(u64::from(row) + 1, col as usize, cell_text(cell.get_value()))?;
            }
            None => break,
        }
    }
    rows.finish()
}

fn unreadable(e: calamine::XlsxError) -> Vec<RowError> {
    vec![RowError::file(format!(
        "the workbook cannot be read ({e}); save it again as .xlsx from Excel or WPS, or as CSV"
    ))]
}

/// The sheet a person sees first when opening the file: hidden sheets and chart sheets are skipped.
fn first_worksheet(book: &Xlsx<Cursor<&[u8]>>) -> Option<String> {
    let sheets = book.sheets_metadata();
    let worksheets = || sheets.iter().filter(|s| s.typ == SheetType::WorkSheet);
    worksheets().find(|s| s.visible == SheetVisible::Visible).or_else(|| worksheets().next()).map(|s| s.name.clone())
}

pub(super) fn unpacked_ceiling(limits: &Limits) -> u64 {
    (limits.max_cells as u64).saturating_mul(UNPACKED_BYTES_PER_CELL).saturating_add(UNPACKED_FIXED)
}

/// Refuses a workbook whose parts declare, in the zip central directory, more unpacked bytes than
/// `ceiling`. The declared sizes can be trusted after this check: zip 9 stops reading an entry
/// that inflates past its declared size ("File is larger than its declared uncompressed size").
pub(super) fn check_declared_sizes(bytes: &[u8], ceiling: u64) -> Result<(), RowError> {
    let broken = |e: zip::result::ZipError| {
        RowError::file(format!("the file looks like .xlsx but is not a readable zip archive ({e})"))
    };
    let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(broken)?;
    if zip.len() > MAX_PARTS {
        return Err(RowError::file(format!("the workbook has {} parts; an Excel file has a few dozen", zip.len())));
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        total = total.saturating_add(zip.by_index_data(i).map_err(broken)?.size());
    }
    if total > ceiling {
        return Err(RowError::file(format!(
            "the workbook would unpack to {} MiB, more than the {} MiB its cell limit allows; it is damaged or \
             built to exhaust memory, or it must be split",
            total >> 20,
            ceiling >> 20
        )));
    }
    Ok(())
}

/// Builds rows from cells arriving in sheet order. The first row with any value is the header.
struct Rows {
    template: &'static Template,
    limits: Limits,
    map: Option<ColumnMap>,
    header: Vec<String>,
    /// The row being filled (line 0: none yet), and the first problem found in it.
    line: u64,
    pending: StringRecord,
    problem: Option<RowError>,
    rows: Vec<XlsxRow>,
    data_rows: usize,
    cells: usize,
    stopped: bool,
}

impl Rows {
    fn new(template: &'static Template, limits: Limits) -> Rows {
        Rows {
            template,
            limits,
            map: None,
            header: Vec::new(),
            line: 0,
            pending: StringRecord::new(),
            problem: None,
            rows: Vec::new(),
            data_rows: 0,
            cells: 0,
            stopped: false,
        }
    }

    fn cell(&mut self, line: u64, pos: usize, text: Result<Cow<'_, str>, String>) -> Result<(), Vec<RowError>> {
        if line != self.line {
            self.end_row()?;
            self.line = line;
        }
        if self.stopped {
            return Ok(()); // a limit ended the file at the row before
        }
        let Some(map) = &self.map else {
            let text = text.unwrap_or(Cow::Borrowed("#ERROR"));
            if !text.trim().is_empty() {
                if self.header.len() <= pos {
                    self.header.resize(pos + 1, String::new());
                }
                self.header[pos] = text.into_owned();
            }
            return Ok(());
        };
        if self.problem.is_some() {
            return Ok(()); // one problem per row is reported
        }
        let text = match text {
            Ok(t) if t.is_empty() => return Ok(()),
            Ok(t) => t,
            Err(reason) => {
                self.problem = Some(RowError { line, field: map.field(pos), reason });
                return Ok(());
            }
        };
        if let Err(e) = check_cell(map, &self.limits, line, pos, &text) {
            self.problem = Some(e);
            return Ok(());
        }
        self.cells += 1;
        if self.cells > self.limits.max_cells {
            let reason = format!("more than {} cells in all; split the file", self.limits.max_cells);
            self.problem = Some(RowError { line, field: "row".into(), reason });
            self.stopped = true;
            return Ok(());
        }
        if pos < self.pending.len() {
            let reason = "the row lists this cell twice; save the file again from Excel".into();
            self.problem = Some(RowError { line, field: map.field(pos), reason });
            return Ok(());
        }
        // `check_cell` passed a non-empty value, so `pos` is under a header: padding is bounded.
        while self.pending.len() < pos {
            self.pending.push_field("");
        }
        self.pending.push_field(&text);
        Ok(())
    }

    fn end_row(&mut self) -> Result<(), Vec<RowError>> {
        if self.line == 0 {
            return Ok(());
        }
        if self.map.is_none() {
            if !self.header.is_empty() {
                let header = mem::take(&mut self.header);
                self.map = Some(match_headers(header.iter().map(String::as_str), self.template, self.line)?);
            }
            return Ok(());
        }
        let cells = mem::take(&mut self.pending);
        let problem = self.problem.take();
        if problem.is_none() && is_blank(&cells) {
            return Ok(());
        }
        self.data_rows += 1;
        let cells = if self.data_rows > self.limits.max_rows {
            self.stopped = true;
            let reason = format!("more than {} rows; split the file", self.limits.max_rows);
            Err(RowError { line: self.line, field: "row".into(), reason })
        } else {
            problem.map_or(Ok(cells), Err)
        };
        self.rows.push(XlsxRow { line: self.line, cells });
        Ok(())
    }

    fn finish(mut self) -> Result<Sheet, Vec<RowError>> {
        self.end_row()?;
        let Some(map) = self.map else {
            return Err(vec![RowError::file("the first worksheet is empty: it has no header row")]);
        };
        let body = Body::Xlsx(XlsxBody { rows: self.rows });
        Ok(Sheet { template: self.template, map, limits: self.limits, body })
    }
}

impl XlsxBody {
    pub(super) fn records<'a>(&'a self, sheet: &'a Sheet) -> XlsxRecords<'a> {
        XlsxRecords { sheet, rows: self.rows.iter() }
    }

    pub(super) fn rows(&self) -> usize {
        self.rows.len()
    }
}

pub(super) struct XlsxRecords<'a> {
    sheet: &'a Sheet,
    rows: std::slice::Iter<'a, XlsxRow>,
}

impl<'a> Iterator for XlsxRecords<'a> {
    type Item = Result<Record<'a>, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = self.rows.next()?;
        Some(match &row.cells {
            Ok(cells) => Ok(self.sheet.record(row.line, Cow::Borrowed(cells))),
            Err(e) => Err(e.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use rust_xlsxwriter::{Format as CellFormat, Workbook, Worksheet, XlsxError};

    use super::*;
    use crate::tabular::open;
    use crate::tabular::test_template::PEOPLE;
    use crate::tabular::xlsx_cell::LOST_DIGITS;

    const SMALL: Limits = Limits { max_bytes: 1 << 20, max_rows: 100, max_cells: 1000, max_cell_chars: 20 };

    fn workbook(fill: impl FnOnce(&mut Worksheet) -> Result<(), XlsxError>) -> Vec<u8> {
        let mut book = Workbook::new();
        fill(book.add_worksheet()).unwrap();
        book.save_to_buffer().unwrap()
    }

    fn header(sheet: &mut Worksheet, row: u32) -> Result<(), XlsxError> {
        for (c, h) in ["身份证号", "姓名", "联系电话", "住址"].iter().enumerate() {
            sheet.write_string(row, c as u16, *h)?;
        }
        Ok(())
    }

    /// (line, id_number, phone, address) of every row, or the error's (line, field, reason).
    type Row = Result<(u64, String, String, String), (u64, String, String)>;

    fn rows(bytes: &[u8], limits: &Limits) -> Vec<Row> {
        let sheet = open(bytes, &PEOPLE, limits).unwrap();
        assert_eq!(sheet.format(), crate::tabular::Format::Xlsx);
        assert_eq!(sheet.approx_rows(), sheet.records().count());
        let rows = sheet
            .records()
            .map(|r| {
                r.map(|r| (r.line, r.get("id_number").into(), r.get("phone").into(), r.get("address").into()))
                    .map_err(|e| (e.line, e.field, e.reason))
            })
            .collect();
        rows
    }

    fn ok(line: u64, id: &str, phone: &str, address: &str) -> Row {
        Ok((line, id.into(), phone.into(), address.into()))
    }

    #[test]
    fn round_trip_keeps_text_whole_numbers_and_dates_and_flags_lost_digits() {
        let bytes = workbook(|s| {
            header(s, 0)?;
            s.write_string(1, 0, "110101199003070011")?.write_string(1, 1, "张三")?;
            s.write_number(1, 2, 13812345678.0)?.write_string(1, 3, "  北京市 ")?;
            s.write_number(3, 0, 410702199001011234.0)?.write_string(3, 1, "李四")?;
            s.write_string(4, 0, "2")?.write_string(4, 1, "王五")?;
            s.write_number_with_format(4, 3, 45356.0, &CellFormat::new().set_num_format("yyyy-mm-dd"))?;
            s.write_string(5, 0, "3")?.write_string(5, 1, "赵六")?.write_string(5, 5, "无表头")?;
            Ok(())
        });
        let got = rows(&bytes, &Limits::UPLOAD);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], ok(2, "110101199003070011", "13812345678", "北京市"));
        assert_eq!(got[1], Err((4, "身份证号".into(), LOST_DIGITS.into())));
        assert_eq!(got[2], ok(5, "2", "", "2024-03-05"));
        assert_eq!(got[3].clone().unwrap_err().1, "column 6 (F)");
    }

    #[test]
    fn the_header_is_the_first_row_with_a_value_on_the_first_visible_sheet() {
        let mut book = Workbook::new();
        book.add_worksheet().set_hidden(true).write_string(0, 0, "旧数据").unwrap();
        let data = book.add_worksheet().set_active(true);
        header(data, 2).unwrap();
        data.write_string(3, 0, "1").unwrap().write_string(3, 1, "张三").unwrap();
        let got = rows(&book.save_to_buffer().unwrap(), &Limits::UPLOAD);
        assert_eq!(got, vec![ok(4, "1", "", "")]);
    }

    #[test]
    fn header_problems_are_all_reported_on_the_header_row() {
        let bytes = workbook(|s| {
            s.write_string(1, 0, "姓名")?.write_string(1, 1, "手机")?.write_string(1, 2, "Name")?;
            Ok(())
        });
        let errors = open(&bytes, &PEOPLE, &Limits::UPLOAD).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(fields, [(2, "手机"), (2, "Name"), (2, "身份证号")]);
    }

    #[test]
    fn an_empty_sheet_has_no_header() {
        let errors = open(&workbook(|_| Ok(())), &PEOPLE, &Limits::UPLOAD).unwrap_err();
        assert!(errors[0].reason.contains("no header row"));
    }

    #[test]
    fn row_and_cell_length_limits_give_line_numbered_errors() {
        let bytes = workbook(|s| {
            header(s, 0)?;
            for r in 1..=4 {
                s.write_string(r, 0, r.to_string())?.write_string(r, 1, "名")?;
            }
            s.write_string(2, 3, "长".repeat(21))?;
            Ok(())
        });
        let got = rows(&bytes, &Limits { max_rows: 3, ..SMALL });
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], ok(2, "1", "", ""));
        assert_eq!(got[1], Err((3, "住址".into(), "the cell has 21 characters; the limit is 20".into())));
        assert_eq!(got[3], Err((5, "row".into(), "more than 3 rows; split the file".into())));
        let got = rows(&bytes, &Limits { max_cells: 3, ..SMALL });
        assert_eq!(got.last().unwrap().clone().unwrap_err().0, 3);
    }

    #[test]
    fn a_sheet_declaring_a_huge_unpacked_size_is_refused() {
        let mut bytes = workbook(|s| header(s, 0));
        let name = b"xl/worksheets/sheet1.xml";
        let cd = (0..bytes.len() - 46)
            .find(|&i| bytes[i..].starts_with(b"PK\x01\x02") && bytes[i + 46..].starts_with(name))
            .expect("the sheet's central directory entry");
        bytes[cd + 24..cd + 28].copy_from_slice(&0xF000_0000u32.to_le_bytes());
        let errors = open(&bytes, &PEOPLE, &Limits::UPLOAD).unwrap_err();
        assert!(errors[0].reason.contains("would unpack to 3840 MiB"), "{}", errors[0].reason);
    }

    #[test]
    fn declared_sizes_are_summed_against_the_ceiling() {
        let bytes = workbook(|s| header(s, 0));
        assert!(check_declared_sizes(&bytes, 1 << 20).is_ok());
        let e = check_declared_sizes(&bytes, 1000).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (1, "file"));
        assert_eq!(unpacked_ceiling(&Limits::UPLOAD), 4_000_000 * 128 + (8 << 20));
    }

    #[test]
    fn a_zip_that_is_not_a_workbook_is_refused() {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("readme.txt", options).unwrap();
        zip.write_all(b"hello").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let errors = open(&bytes, &PEOPLE, &Limits::UPLOAD).unwrap_err();
        assert!(errors[0].reason.starts_with("the workbook cannot be read"), "{}", errors[0].reason);
        let errors = open(b"PK\x03\x04 but truncated", &PEOPLE, &Limits::UPLOAD).unwrap_err();
        assert!(errors[0].reason.contains("not a readable zip"), "{}", errors[0].reason);
    }
}
