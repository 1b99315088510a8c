//! Reading an uploaded spreadsheet against a template: format detection, limits, and the rows as
//! [`Record`]s. CSV decoding lives in `csv_read.rs`, XLSX in `xlsx_read.rs`; both end in a
//! [`Sheet`] whose rows read alike.

use std::borrow::Cow;
use std::fmt;

use csv::StringRecord;

use super::header::{column_label, ColumnMap};
use super::template::Template;
use super::write::Format;
use super::{csv_read, xlsx_read};
use crate::web::error::RowError;

/// How much a single file may hold. Each is checked as the file is read, never after
/// materialising it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    /// Data rows, not counting the header and blank rows.
    pub max_rows: usize,
    /// Cells over all data rows.
    pub max_cells: usize,
    /// Characters (not bytes) in one cell.
    pub max_cell_chars: usize,
}

impl Limits {
    /// Uploads through the web: a city district's population register is ~150,000 rows.
    pub const UPLOAD: Limits =
        Limits { max_bytes: 64 << 20, max_rows: 200_000, max_cells: 4_000_000, max_cell_chars: 2_000 };
    /// The command line, run by an operator on the server: bounded only so a wrong file fails
    /// with a message instead of exhausting memory.
    pub const CLI: Limits = Limits {
        max_bytes: if usize::BITS >= 64 { 4 << 30 } else { usize::MAX },
        max_rows: 50_000_000,
        max_cells: 1_000_000_000,
        max_cell_chars: 2_000,
    };
}

/// Detects the format: XLSX (zip magic `PK\x03\x04`) or CSV text, and reads the header row.
/// CSV: UTF-8 with or without BOM, else GB18030 (a superset of GBK); UTF-16 is refused with a
/// hint. XLSX: the first visible worksheet; the zip's declared sizes are checked before anything
/// is unpacked. Header problems are all reported, on the header's line.
pub fn open(bytes: &[u8], template: &'static Template, limits: &Limits) -> Result<Sheet, Vec<RowError>> {
    if bytes.len() > limits.max_bytes {
        return Err(vec![RowError::file(format!(
            "the file is {} bytes; the limit is {} bytes ({} MiB)",
            bytes.len(),
            limits.max_bytes,
            limits.max_bytes >> 20
        ))]);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        xlsx_read::open(bytes, template, limits)
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        // The OLE container: an Excel 97-2003 .xls, or any password-protected workbook.
        Err(vec![RowError::file(
            "this is an old-format .xls workbook or a password-protected one; save it as .xlsx without a \
             password, or as CSV",
        )])
    } else {
        csv_read::open(bytes, template, limits)
    }
}

/// A file whose header matched its template; its rows are read by [`Sheet::records`].
pub struct Sheet {
    pub(super) template: &'static Template,
    pub(super) map: ColumnMap,
    pub(super) limits: Limits,
    pub(super) body: Body,
}

pub(super) enum Body {
    Csv(csv_read::CsvBody),
    Xlsx(xlsx_read::XlsxBody),
}

impl Sheet {
    pub fn format(&self) -> Format {
        match self.body {
            Body::Csv(_) => Format::Csv,
            Body::Xlsx(_) => Format::Xlsx,
        }
    }

    pub fn template(&self) -> &'static Template {
        self.template
    }

    /// Whether the file has this column at all, so an update can tell "left empty" from "not
    /// given".
    pub fn has_column(&self, key: &str) -> bool {
        self.template.columns.iter().zip(&self.map.positions).any(|(c, p)| c.key == key && p.is_some())
    }

    /// Rows in file order; `line` is the 1-based line (CSV: physical line where the record
    /// starts, so a quoted newline shifts later lines correctly; XLSX: the spreadsheet row
    /// number). Blank rows are skipped. A row that cannot be read yields `Err` naming its line;
    /// after a limit is passed the iteration ends with that error.
    pub fn records(&self) -> impl Iterator<Item = Result<Record<'_>, RowError>> + '_ {
        match &self.body {
            Body::Csv(body) => Records::Csv(body.records(self)),
            Body::Xlsx(body) => Records::Xlsx(body.records(self)),
        }
    }

    /// For progress bars: CSV counts newlines (a quoted newline counts too), XLSX is exact.
    pub fn approx_rows(&self) -> usize {
        match &self.body {
            Body::Csv(body) => body.approx_rows(),
            Body::Xlsx(body) => body.rows(),
        }
    }

    pub(super) fn record<'a>(&'a self, line: u64, cells: Cow<'a, StringRecord>) -> Record<'a> {
        Record { line, cells, sheet: self }
    }

    pub(super) fn check_cell(&self, line: u64, pos: usize, value: &str) -> Result<(), RowError> {
        check_cell(&self.map, &self.limits, line, pos, value)
    }
}

/// Checks one cell of a data row: a value under no header would be lost, so it is an error; so is
/// a cell over the length limit.
pub(super) fn check_cell(map: &ColumnMap, limits: &Limits, line: u64, pos: usize, value: &str) -> Result<(), RowError> {
    if !map.named.get(pos).copied().unwrap_or(false) && !value.trim().is_empty() {
        return Err(RowError {
            line,
            field: format!("column {}", column_label(pos)),
            reason: "a value in a column without a header; add the header or delete the value".into(),
        });
    }
    let max = limits.max_cell_chars;
    // Bytes bound characters from above, so most cells never need counting.
    if value.len() > max {
        let chars = value.chars().count();
        if chars > max {
            return Err(RowError {
                line,
                field: map.field(pos),
                reason: format!("the cell has {chars} characters; the limit is {max}"),
            });
        }
    }
    Ok(())
}

/// Never shows cell contents: a sheet holds ID numbers and addresses.
impl fmt::Debug for Sheet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sheet")
            .field("template", &self.template.name)
            .field("format", &self.format())
            .field("approx_rows", &self.approx_rows())
            .finish_non_exhaustive()
    }
}

enum Records<'a> {
    Csv(csv_read::CsvRecords<'a>),
    Xlsx(xlsx_read::XlsxRecords<'a>),
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Records::Csv(r) => r.next(),
            Records::Xlsx(r) => r.next(),
        }
    }
}

/// One data row. Cells are read by template key, so code never depends on the file's column
/// order or on which spelling of a header the office used.
pub struct Record<'a> {
    pub line: u64,
    cells: Cow<'a, StringRecord>,
    sheet: &'a Sheet,
}

impl Record<'_> {
    /// The trimmed cell for a template column key; "" when the column is absent or empty.
    pub fn get(&self, key: &str) -> &str {
        let columns = self.sheet.template.columns;
        let Some(i) = columns.iter().position(|c| c.key == key) else {
            debug_assert!(false, "BUG: template {} has no column {key}", self.sheet.template.name);
            return "";
        };
        self.sheet.map.positions[i].and_then(|pos| self.cells.get(pos)).map_or("", str::trim)
    }
}

/// Never shows cell contents, for the same reason as [`Sheet`].
impl fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record").field("line", &self.line).field("cells", &self.cells.len()).finish_non_exhaustive()
    }
}

/// A CSV record or XLSX row is blank when every cell is empty or whitespace.
pub(super) fn is_blank(cells: &StringRecord) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tabular::test_template::PEOPLE;

    #[test]
    fn get_reads_by_key_whatever_the_column_order() {
        let csv = "住址,Name,ID number\n 北京市 , 张三 ,110101199003070011\n";
        let sheet = open(csv.as_bytes(), &PEOPLE, &Limits::UPLOAD).unwrap();
        let rec = sheet.records().next().unwrap().unwrap();
        assert_eq!(rec.line, 2);
        assert_eq!(rec.get("name"), "张三");
        assert_eq!(rec.get("address"), "北京市");
        assert_eq!(rec.get("id_number"), "110101199003070011");
        assert_eq!(rec.get("phone"), "");
        assert!(sheet.has_column("address"));
        assert!(!sheet.has_column("phone"));
    }

    #[test]
    fn debug_output_hides_cell_contents() {
        let csv = "身份证号,姓名\n110101199003070011,张三\n";
        let sheet = open(csv.as_bytes(), &PEOPLE, &Limits::UPLOAD).unwrap();
        let rec = sheet.records().next().unwrap().unwrap();
        let shown = format!("{sheet:?} {rec:?}");
        assert!(!shown.contains("110101") && !shown.contains("张三"), "{shown}");
    }

    #[test]
    fn a_file_over_max_bytes_is_refused_before_reading() {
        let limits = Limits { max_bytes: 10, ..Limits::UPLOAD };
        let errors = open(b"\xD0\xCF\x11\xE0 any bytes at all", &PEOPLE, &limits).unwrap_err();
        assert!(errors[0].reason.starts_with("the file is 21 bytes; the limit is 10 bytes"));
    }

    #[test]
    fn an_old_xls_is_refused_with_a_hint() {
        let errors = open(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", &PEOPLE, &Limits::UPLOAD).unwrap_err();
        assert_eq!((errors[0].line, errors[0].field.as_str()), (1, "file"));
        assert!(errors[0].reason.contains("save it as .xlsx"));
    }

    #[test]
    fn a_value_under_no_header_is_a_row_error() {
        let csv = "身份证号,姓名,\n1,张三,\n2,李四,多出来的\n";
        let sheet = open(csv.as_bytes(), &PEOPLE, &Limits::UPLOAD).unwrap();
        let rows: Vec<_> = sheet.records().collect();
        assert!(rows[0].is_ok());
        let err = rows[1].as_ref().unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (3, "column 3 (C)"));
    }
}
