//! The columns an import expects, and the blank files offices download to fill in.

use rust_xlsxwriter::{Format as CellFormat, Workbook, Worksheet, XlsxError};

/// One column of a template. `key` is what code asks a [`super::Record`] for; `zh` is the header
/// written in downloaded templates; `en`, `key` and `aliases` are also accepted as headers.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub key: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
    pub required: bool,
    pub aliases: &'static [&'static str],
    pub note_en: &'static str,
    pub note_zh: &'static str,
}

/// A column, in the order templates write them: key, Chinese header, English header, required,
/// other accepted headers, then the Chinese and English notes of the explanation sheet.
pub const fn column(
    key: &'static str,
    zh: &'static str,
    en: &'static str,
    required: bool,
    aliases: &'static [&'static str],
    note_zh: &'static str,
    note_en: &'static str,
) -> Column {
    Column { key, en, zh, required, aliases, note_en, note_zh }
}

#[derive(Debug)]
pub struct Template {
    pub name: &'static str,
    pub columns: &'static [Column],
}

impl Template {
    pub fn column(&self, key: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.key == key)
    }

    /// A CSV file with only the header row (Chinese headers), UTF-8 with BOM and CRLF so Excel on
    /// a Chinese Windows opens it right: without the BOM it guesses GBK and shows mojibake.
    pub fn csv_header_file(&self) -> Vec<u8> {
        let mut out = b"\xEF\xBB\xBF".to_vec();
        let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(&mut out);
        w.write_record(self.columns.iter().map(|c| c.zh)).expect("BUG: writing CSV to memory cannot fail");
        w.flush().expect("BUG: writing CSV to memory cannot fail");
        drop(w);
        out
    }

    /// An XLSX: sheet 1 the header row (Chinese), sheet 2 "说明" one line per column: zh, en,
    /// key, required, note_zh, note_en.
    pub fn xlsx_file(&self) -> Vec<u8> {
        self.build_xlsx().expect("BUG: the template workbook is built from static, valid parts")
    }

    fn build_xlsx(&self) -> Result<Vec<u8>, XlsxError> {
        let mut book = Workbook::new();
        self.data_sheet(book.add_worksheet())?;
        self.notes_sheet(book.add_worksheet())?;
        book.save_to_buffer()
    }

    fn data_sheet(&self, sheet: &mut Worksheet) -> Result<(), XlsxError> {
        // Text format ("@") on every column stops Excel turning an ID number typed later into
        // 4.10702199001011E+17, the commonest way an import loses data.
        let text = CellFormat::new().set_num_format("@");
        let head = CellFormat::new().set_bold().set_num_format("@");
        let required = head.clone().set_background_color("#FCE4D6");
        sheet.set_name("数据")?;
        for (i, c) in self.columns.iter().enumerate() {
            let col = col_num(i);
            sheet.set_column_format(col, &text)?;
            sheet.set_column_width(col, display_width(c.zh).max(12) as f64 + 2.0)?;
            sheet.write_string_with_format(0, col, c.zh, if c.required { &required } else { &head })?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(())
    }

    fn notes_sheet(&self, sheet: &mut Worksheet) -> Result<(), XlsxError> {
        let bold = CellFormat::new().set_bold();
        sheet.set_name("说明")?;
        let headers = ["列名", "Column", "键 (key)", "必填 / required", "说明", "Note"];
        for (i, h) in headers.iter().enumerate() {
            sheet.write_string_with_format(0, col_num(i), *h, &bold)?;
        }
        for (r, c) in self.columns.iter().enumerate() {
            let row = r as u32 + 1;
            let req = if c.required { "是 / yes" } else { "否 / no" };
            for (i, v) in [c.zh, c.en, c.key, req, c.note_zh, c.note_en].iter().enumerate() {
                sheet.write_string(row, col_num(i), *v)?;
            }
        }
        for (i, width) in [16.0, 20.0, 16.0, 14.0, 40.0, 48.0].iter().enumerate() {
            sheet.set_column_width(col_num(i), *width)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(())
    }

    /// Markdown table of the columns for the README (zh | en | required | note_en).
    pub fn markdown(&self) -> String {
        let mut out = String::from("| 列名 | Column | Required | Note |\n| --- | --- | --- | --- |\n");
        for c in self.columns {
            let req = if c.required { "yes" } else { "no" };
            let cells = [md_cell(c.zh), md_cell(c.en), req.to_string(), md_cell(c.note_en)];
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }
}

/// Templates have a handful of columns; Excel's limit (16,384) is far above anything static.
pub(crate) fn col_num(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// Column width in Excel units: a CJK character takes two.
pub(crate) fn display_width(s: &str) -> usize {
    s.chars().map(|c| if (c as u32) < 0x1100 { 1 } else { 2 }).sum()
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use calamine::{Data, Reader, Xlsx};

    use crate::tabular::test_template::PEOPLE;

    #[test]
    fn csv_header_file_has_bom_chinese_headers_and_crlf() {
        let bytes = PEOPLE.csv_header_file();
        assert_eq!(bytes, "\u{feff}身份证号,姓名,联系电话,住址\r\n".as_bytes());
    }

    #[test]
    fn xlsx_file_has_header_sheet_and_notes_sheet() {
        let bytes = PEOPLE.xlsx_file();
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(book.sheet_names(), vec!["数据".to_string(), "说明".to_string()]);
        let data = book.worksheet_range("数据").unwrap();
        let header: Vec<String> = data.rows().next().unwrap().iter().map(|d| d.to_string()).collect();
        assert_eq!(header, ["身份证号", "姓名", "联系电话", "住址"]);
        let notes = book.worksheet_range("说明").unwrap();
        let first = notes.rows().nth(1).unwrap();
        assert_eq!(first[0], Data::String("身份证号".into()));
        assert_eq!(first[1], Data::String("ID number".into()));
        assert_eq!(first[2], Data::String("id_number".into()));
        assert_eq!(first[3], Data::String("是 / yes".into()));
        assert_eq!(first[4], Data::String("18位；请将该列设为文本格式".into()));
        assert_eq!(notes.rows().count(), PEOPLE.columns.len() + 1);
    }

    #[test]
    fn the_template_it_hands_out_opens_as_an_empty_import() {
        use crate::tabular::{open, Limits};
        for bytes in [PEOPLE.csv_header_file(), PEOPLE.xlsx_file()] {
            let sheet = open(&bytes, &PEOPLE, &Limits::UPLOAD).unwrap();
            assert_eq!(sheet.records().count(), 0);
        }
    }

    #[test]
    fn markdown_lists_every_column() {
        let md = PEOPLE.markdown();
        assert!(md.starts_with("| 列名 | Column | Required | Note |\n| --- |"));
        assert!(md.contains("| 身份证号 | ID number | yes | 18 characters; format the column as text |\n"));
        assert!(md.contains("| 住址 | Address | no |  |\n"));
        assert_eq!(md.lines().count(), PEOPLE.columns.len() + 2);
    }
}
