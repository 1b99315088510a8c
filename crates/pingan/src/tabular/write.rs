//! Exports: a table of strings to CSV or XLSX. Every export carries a watermark naming who took it
//! and when, and every cell is inert text: a value starting "=" from a resident's record must not
//! run as a formula on the desk of the officer who opens the file.

use std::borrow::Cow;
use std::fmt;

use rust_xlsxwriter::{Format as CellFormat, Workbook, Worksheet, XlsxError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::template::{col_num, display_width};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn content_type(&self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    pub fn extension(&self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

#[derive(Clone, Default)]
pub struct ExportTable {
    pub title: String,
    /// e.g. "导出: 张三 (zhangsan) 2026-11-23 14:05 北京时间".
    pub watermark: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Never shows rows: they hold personal data.
impl fmt::Debug for ExportTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportTable")
            .field("title", &self.title)
            .field("headers", &self.headers)
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

/// Formula-injection neutralising (OWASP CSV injection): a cell starting with = + - @ TAB or CR
/// gets a leading apostrophe, which Excel and WPS show as text. Applied to every cell of both
/// formats, headers and watermark included.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// UTF-8 with BOM, CRLF (what Excel on Chinese Windows reads right); the first line is the
/// watermark, then headers, then rows.
pub fn csv_bytes(t: &ExportTable) -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).flexible(true).from_writer(&mut out);
    let mut record = csv::ByteRecord::new();
    for row in [std::slice::from_ref(&t.watermark), &t.headers].into_iter().chain(t.rows.iter().map(Vec::as_slice)) {
        record.clear();
        for cell in row {
            record.push_field(neutralise(cell).as_bytes());
        }
        w.write_byte_record(&record).expect("BUG: writing CSV to memory cannot fail");
    }
    w.flush().expect("BUG: writing CSV to memory cannot fail");
    drop(w);
    out
}

/// Every cell written as a string (never a formula); watermark as the first row and in the page
/// header and footer, so a printout carries it too; header row bold and frozen.
pub fn xlsx_bytes(t: &ExportTable) -> Vec<u8> {
    build(t, MAX_DATA_ROWS).expect("BUG: cell sizes and counts are clamped to Excel's limits before writing")
}

/// Excel's 1,048,576 rows, less the watermark, the header and the truncation note.
const MAX_DATA_ROWS: usize = 1_048_576 - 3;
/// Excel's 16,384 columns.
const MAX_COLS: usize = 16_384;
/// Excel refuses longer cells.
const MAX_CELL_CHARS: usize = 32_767;
/// Excel refuses header/footer strings over 255 characters, codes included.
const MAX_WATERMARK_IN_HEADER: usize = 200;

fn build(t: &ExportTable, max_rows: usize) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    if sheet.set_name(sheet_name(&t.title)).is_err() {
        sheet.set_name("导出")?;
    }
    let mark = page_text(&t.watermark);
    sheet.set_header(format!("&C{mark}"));
    sheet.set_footer(format!("&L{mark}&R&P / &N"));
    let grey = CellFormat::new().set_italic().set_font_color("#7F7F7F");
    sheet.write_string_with_format(0, 0, cell(&t.watermark), &grey)?;
    let bold = CellFormat::new().set_bold();
    for (c, h) in t.headers.iter().enumerate().take(MAX_COLS) {
        sheet.write_string_with_format(1, col_num(c), cell(h), &bold)?;
    }
    sheet.set_freeze_panes(2, 0)?;
    write_rows(sheet, &t.rows, max_rows)?;
    set_widths(sheet, t)?;
    book.save_to_buffer()
}

fn write_rows(sheet: &mut Worksheet, rows: &[Vec<String>], max_rows: usize) -> Result<(), XlsxError> {
    for (r, row) in rows.iter().take(max_rows).enumerate() {
        for (c, value) in row.iter().enumerate().take(MAX_COLS) {
            sheet.write_string(r as u32 + 2, col_num(c), cell(value))?;
        }
    }
    if rows.len() > max_rows {
        let note = format!(
            "已截断: 还有 {} 行未写入，请改用 CSV 导出 / truncated: {} more rows, export as CSV",
            rows.len() - max_rows,
            rows.len() - max_rows
        );
        sheet.write_string(max_rows as u32 + 2, 0, note)?;
    }
    Ok(())
}

/// Widths from the header and the first rows: enough to read, without scanning a million rows.
fn set_widths(sheet: &mut Worksheet, t: &ExportTable) -> Result<(), XlsxError> {
    for (c, h) in t.headers.iter().enumerate().take(MAX_COLS) {
        let widest = t.rows.iter().take(200).filter_map(|r| r.get(c)).map(|v| display_width(v)).max().unwrap_or(0);
        let width = widest.max(display_width(h)).clamp(8, 60);
        sheet.set_column_width(col_num(c), width as f64 + 1.0)?;
    }
    Ok(())
}

fn cell(value: &str) -> String {
    let value = neutralise(value);
    match value.char_indices().nth(MAX_CELL_CHARS - 1) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.into_owned(),
    }
}

/// In header/footer strings "&" starts a code; a literal one is doubled.
fn page_text(watermark: &str) -> String {
    watermark.chars().take(MAX_WATERMARK_IN_HEADER).collect::<String>().replace('&', "&&")
}

/// Excel sheet names: at most 31 characters, none of []:*?/\ and no leading or trailing quote.
fn sheet_name(title: &str) -> String {
    let cleaned: String =
        title.chars().map(|c| if "[]:*?/\\".contains(c) || c.is_control() { '_' } else { c }).take(31).collect();
    let trimmed = cleaned.trim().trim_matches('\'');
    if trimmed.is_empty() {
        "导出".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use calamine::{Data, Reader, Xlsx};

    use super::*;

    fn table() -> ExportTable {
        ExportTable {
            title: "人口: 东城/2026".into(),
            watermark: "导出: 张三 (zhangsan) 2026-11-23 14:05 北京时间".into(),
            headers: vec!["姓名".into(), "备注".into()],
            rows: vec![vec!["李四".into(), "=1+1".into()], vec!["王五".into(), "含,逗号\n和换行".into()]],
        }
    }

    fn read_back(bytes: Vec<u8>) -> (Vec<String>, Vec<Vec<Data>>) {
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let names = book.sheet_names();
        let range = book.worksheet_range(&names[0]).unwrap();
        (names, range.rows().map(|r| r.to_vec()).collect())
    }

    #[test]
    fn neutralise_prefixes_each_trigger_character() {
        for trigger in ["=", "+", "-", "@", "\t", "\r"] {
            let cell = format!("{trigger}SUM(A1)");
            assert_eq!(neutralise(&cell), format!("'{cell}"));
        }
        assert!(matches!(neutralise("张三"), Cow::Borrowed("张三")));
        assert_eq!(neutralise(""), "");
        assert_eq!(neutralise("a=b"), "a=b");
    }

    #[test]
    fn csv_starts_with_bom_then_watermark_and_neutralises() {
        let bytes = csv_bytes(&table());
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("\u{feff}导出: 张三 (zhangsan) 2026-11-23 14:05 北京时间\r\n姓名,备注\r\n"));
        assert!(text.contains("李四,'=1+1\r\n"));
        assert!(text.ends_with("王五,\"含,逗号\n和换行\"\r\n"));
    }

    #[test]
    fn xlsx_reads_back_as_strings_with_watermark_first_and_formulas_neutralised() {
        let (names, rows) = read_back(xlsx_bytes(&table()));
        assert_eq!(names, ["人口_ 东城_2026"]);
        assert_eq!(rows[0][0], Data::String("导出: 张三 (zhangsan) 2026-11-23 14:05 北京时间".into()));
        assert_eq!(rows[1], [Data::String("姓名".into()), Data::String("备注".into())]);
        assert_eq!(rows[2], [Data::String("李四".into()), Data::String("'=1+1".into())]);
        assert_eq!(rows[3][1], Data::String("含,逗号\n和换行".into()));
    }

    #[test]
    fn xlsx_past_the_row_limit_ends_with_a_note() {
        let t = ExportTable { rows: vec![vec!["x".into()]; 5], ..table() };
        let mut book = Xlsx::new(std::io::Cursor::new(build(&t, 3).unwrap())).unwrap();
        let range = book.worksheet_range_at(0).unwrap().unwrap();
        let last = range.rows().next_back().unwrap()[0].to_string();
        assert_eq!(range.rows().count(), 2 + 3 + 1);
        assert!(last.contains("2 more rows"), "{last}");
    }

    #[test]
    fn over_long_cells_and_odd_titles_are_clamped_for_excel() {
        let long = "字".repeat(MAX_CELL_CHARS + 10);
        assert_eq!(cell(&long).chars().count(), MAX_CELL_CHARS);
        assert_eq!(sheet_name("'[]'"), "__");
        assert_eq!(sheet_name(""), "导出");
        assert_eq!(page_text("A&B"), "A&&B");
        let t = ExportTable { rows: vec![vec![long]], ..table() };
        let (_, rows) = read_back(xlsx_bytes(&t));
        assert!(rows[2][0].to_string().ends_with('…'));
    }

    #[test]
    #[ignore = "benchmark: run it with --release -- --ignored --nocapture"]
    fn export_throughput() {
        let row: Vec<String> = (0..10).map(|c| format!("北京市东城区某某街道 {c}")).collect();
        let t = ExportTable { rows: vec![row; 200_000], ..table() };
        let started = std::time::Instant::now();
        let xlsx = xlsx_bytes(&t).len();
        let xlsx_took = started.elapsed();
        let csv = csv_bytes(&t).len();
        println!(
            "200,000 x 10: xlsx {xlsx} bytes in {xlsx_took:?}, csv {csv} bytes in {:?}",
            started.elapsed() - xlsx_took
        );
    }

    #[test]
    fn format_names_its_type_and_parses_lowercase() {
        assert_eq!(Format::Xlsx.extension(), "xlsx");
        assert_eq!(Format::Csv.content_type(), "text/csv; charset=utf-8");
        let f: Format = serde_json::from_str("\"xlsx\"").unwrap();
        assert_eq!(f, Format::Xlsx);
    }
}
