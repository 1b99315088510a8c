//! CSV: the decoded text (see `decode.rs`) is kept whole and its records are parsed lazily, one
//! owned record per row. Line numbers are physical lines, CRLF or LF, so an office finds the row
//! it must fix even when a quoted cell spans lines.

use std::borrow::Cow;

use csv::StringRecord;

use super::decode::{decode, line_of};
use super::header::match_headers;
use super::read::{is_blank, Body, Record, Sheet};
use super::template::Template;
use super::Limits;
use crate::web::error::RowError;

pub(super) struct CsvBody {
    text: String,
    /// csv's position for the header record; the records iterator skips up to it.
    header_byte: u64,
}

pub(super) fn open(bytes: &[u8], template: &'static Template, limits: &Limits) -> Result<Sheet, Vec<RowError>> {
    let text = decode(bytes).map_err(|e| vec![e])?;
    let mut reader = reader(&text);
    let mut header = StringRecord::new();
    loop {
        match reader.read_record(&mut header) {
            Ok(true) if is_blank(&header) => continue,
            Ok(true) => break,
            Ok(false) => return Err(vec![RowError::file("the file is empty: it has no header row")]),
            Err(e) => return Err(vec![RowError::file(format!("the header row cannot be read: {e}"))]),
        }
    }
    let raw_pos = header.position().cloned().unwrap_or_else(csv::Position::new);
    let pos = record_start(&text, &raw_pos);
    if let Some(line) = unclosed_quote_line(&text, &reader, &pos) {
        return Err(vec![RowError {
            line,
            field: "file".into(),
            reason: "a quote (\") opened on this line is never closed".into(),
        }]);
    }
    let map = match_headers(header.iter(), template, pos.line())?;
    let body = CsvBody { text, header_byte: raw_pos.byte() };
    Ok(Sheet { template, map, limits: *limits, body: Body::Csv(body) })
}

fn reader(text: &str) -> csv::Reader<&[u8]> {
    // Flexible: Excel drops trailing empty cells on some rows and not others.
    csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes())
}

/// csv reports where it started reading a record: before the blank lines it skipped, and before
/// the "\n" of the previous record's CRLF. The record itself starts after those; a record never
/// starts with a line break (a quoted one starts with the quote).
fn record_start(text: &str, raw: &csv::Position) -> csv::Position {
    let rest = &text.as_bytes()[raw.byte() as usize..];
    let skipped = rest.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let newlines = rest[..skipped].iter().filter(|&&b| b == b'\n').count() as u64;
    let mut pos = raw.clone();
    pos.set_byte(raw.byte() + skipped as u64).set_line(raw.line() + newlines);
    pos
}

/// csv reads a quote left open to the end of the file as one long field without complaint, so
/// the last record is checked by hand. Returns the line of the unclosed quote.
fn unclosed_quote_line(text: &str, reader: &csv::Reader<&[u8]>, start: &csv::Position) -> Option<u64> {
    if (reader.position().byte() as usize) < text.len() {
        return None; // not the last record: csv found its end
    }
    let raw = &text.as_bytes()[start.byte() as usize..];
    let open = unclosed_quote(raw)?;
    Some(start.line() + line_of(raw, open) - 1)
}

/// The offset of a quote that opens a field and is never closed, following csv's rules: a quote
/// opens a field only at its start, and `""` inside quotes is a literal quote.
fn unclosed_quote(raw: &[u8]) -> Option<usize> {
    let mut opened_at = None;
    let mut at_field_start = true;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if opened_at.is_some() {
            if b == b'"' {
                if raw.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    opened_at = None;
                }
            }
        } else if b == b'"' && at_field_start {
            opened_at = Some(i);
        } else {
            at_field_start = matches!(b, b',' | b'\n' | b'\r');
            i += 1;
            continue;
        }
        at_field_start = false;
        i += 1;
    }
    opened_at
}

impl CsvBody {
    pub(super) fn records<'a>(&'a self, sheet: &'a Sheet) -> CsvRecords<'a> {
        CsvRecords { sheet, body: self, reader: None, rows: 0, cells: 0, capacity: (0, 0), done: false }
    }

    pub(super) fn approx_rows(&self) -> usize {
        let newlines = self.text.as_bytes().iter().filter(|&&b| b == b'\n').count();
        let unterminated = usize::from(!self.text.ends_with('\n'));
        (newlines + unterminated).saturating_sub(1)
    }
}

pub(super) struct CsvRecords<'a> {
    sheet: &'a Sheet,
    body: &'a CsvBody,
    /// Started on the first `next`, positioned after the header.
    reader: Option<csv::Reader<&'a [u8]>>,
    rows: usize,
    cells: usize,
    /// The last record's buffer sizes: each new record starts this big, so it rarely regrows.
    capacity: (usize, usize),
    done: bool,
}

impl<'a> CsvRecords<'a> {
    fn start(&mut self) -> Result<csv::Reader<&'a [u8]>, RowError> {
        let mut reader = reader(&self.body.text);
        let mut skipped = StringRecord::new();
        while reader.read_record(&mut skipped).map_err(|e| RowError::file(e.to_string()))? {
            if skipped.position().is_some_and(|p| p.byte() == self.body.header_byte) {
                return Ok(reader);
            }
        }
        Err(RowError::file("BUG: the header row was not found again"))
    }

    /// A read error or a passed limit ends the file: what follows cannot be trusted, or is over
    /// the limit anyway. A bad cell fails only its own row.
    fn fatal(&mut self, e: RowError) -> RowError {
        self.done = true;
        e
    }

    fn next_row(&mut self) -> Option<Result<Record<'a>, RowError>> {
        let mut reader = match self.reader.take() {
            Some(r) => r,
            None => match self.start() {
                Ok(r) => r,
                Err(e) => return Some(Err(self.fatal(e))),
            },
        };
        let result = self.read_from(&mut reader);
        self.reader = Some(reader);
        result
    }

    fn read_from(&mut self, reader: &mut csv::Reader<&'a [u8]>) -> Option<Result<Record<'a>, RowError>> {
        let sheet = self.sheet;
        let limits = &sheet.limits;
        loop {
            let mut rec = StringRecord::with_capacity(self.capacity.0, self.capacity.1);
            match reader.read_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    let line = e.position().map_or(1, |p| p.line());
                    return Some(Err(self.fatal(row_error(line, format!("the row cannot be read: {e}")))));
                }
            }
            let pos = record_start(&self.body.text, rec.position().unwrap_or(&csv::Position::new()));
            let line = pos.line();
            if let Some(quote_line) = unclosed_quote_line(&self.body.text, reader, &pos) {
                let reason = "a quote (\") opened on this line is never closed".into();
                return Some(Err(self.fatal(row_error(quote_line, reason))));
            }
            if is_blank(&rec) {
                continue;
            }
            self.capacity = (rec.as_slice().len(), rec.len());
            self.rows += 1;
            if self.rows > limits.max_rows {
                let reason = format!("more than {} rows; split the file", limits.max_rows);
                return Some(Err(self.fatal(row_error(line, reason))));
            }
            self.cells += rec.len();
            if self.cells > limits.max_cells {
                let reason = format!("more than {} cells in all; split the file", limits.max_cells);
                return Some(Err(self.fatal(row_error(line, reason))));
            }
            if let Some(e) = rec.iter().enumerate().find_map(|(i, v)| self.sheet.check_cell(line, i, v).err()) {
                return Some(Err(e));
            }
            return Some(Ok(self.sheet.record(line, Cow::Owned(rec))));
        }
    }
}

impl<'a> Iterator for CsvRecords<'a> {
    type Item = Result<Record<'a>, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_row();
        self.done |= item.is_none();
        item
    }
}

fn row_error(line: u64, reason: String) -> RowError {
    RowError { line, field: "row".into(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tabular::test_template::PEOPLE;
    use crate::tabular::Format;

    const SMALL: Limits = Limits { max_bytes: 1 << 20, max_rows: 100, max_cells: 1000, max_cell_chars: 20 };

    /// (line, name) of a row, or the error's (line, field, reason).
    type Row = Result<(u64, String), (u64, String, String)>;

    fn rows(bytes: &[u8], limits: &Limits) -> Vec<Row> {
        let sheet = open(bytes, &PEOPLE, limits).unwrap();
        assert_eq!(sheet.format(), Format::Csv);
        let rows = sheet
            .records()
            .map(|r| r.map(|r| (r.line, r.get("name").to_string())).map_err(|e| (e.line, e.field, e.reason)))
            .collect();
        rows
    }

    fn names(bytes: &[u8]) -> Vec<(u64, String)> {
        rows(bytes, &Limits::UPLOAD).into_iter().map(Result::unwrap).collect()
    }

    fn file_error(bytes: &[u8]) -> RowError {
        let mut errors = open(bytes, &PEOPLE, &Limits::UPLOAD).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.remove(0)
    }

    #[test]
    fn utf8_reads_with_and_without_bom() {
        let plain = "身份证号,姓名\n1,张三\n2,李四\n";
        let expected = vec![(2, "张三".to_string()), (3, "李四".to_string())];
        assert_eq!(names(plain.as_bytes()), expected);
        assert_eq!(names(format!("\u{feff}{plain}").as_bytes()), expected);
    }

    #[test]
    fn gbk_with_crlf_reads_like_utf8() {
        let text = "身份证号,姓名,住址\r\n1,张三,北京市东城区\r\n2,李四,\r\n";
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(text);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&gbk).is_err(), "the test needs bytes that are not UTF-8");
        let sheet = open(&gbk, &PEOPLE, &Limits::UPLOAD).unwrap();
        let recs: Vec<_> = sheet.records().map(Result::unwrap).collect();
        assert_eq!((recs[0].line, recs[0].get("name"), recs[0].get("address")), (2, "张三", "北京市东城区"));
        assert_eq!((recs[1].line, recs[1].get("name"), recs[1].get("address")), (3, "李四", ""));
    }

    #[test]
    fn a_quoted_newline_shifts_the_next_line_number() {
        let text = "身份证号,姓名,住址\r\n1,张三,\"北京市\r\n东城区\"\r\n2,李四,\n\n3,王五,\n";
        assert_eq!(
            names(text.as_bytes()),
            vec![(2, "张三".to_string()), (4, "李四".to_string()), (6, "王五".to_string())]
        );
        let sheet = open(text.as_bytes(), &PEOPLE, &Limits::UPLOAD).unwrap();
        assert_eq!(sheet.records().next().unwrap().unwrap().get("address"), "北京市\r\n东城区");
    }

    #[test]
    fn blank_rows_and_a_trailing_empty_line_are_skipped() {
        let text = "\n身份证号,姓名\n\n1,张三\n , \n,,\n2,李四\n\n";
        assert_eq!(names(text.as_bytes()), vec![(4, "张三".to_string()), (7, "李四".to_string())]);
        let sheet = open(text.as_bytes(), &PEOPLE, &Limits::UPLOAD).unwrap();
        assert_eq!(sheet.approx_rows(), 7);
    }

    #[test]
    fn header_problems_are_all_reported_on_the_header_line() {
        let errors = open("\n姓名,手机,Name\n1,2,3\n".as_bytes(), &PEOPLE, &Limits::UPLOAD).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(fields, [(2, "手机"), (2, "Name"), (2, "身份证号")]);
    }

    #[test]
    fn an_empty_file_has_no_header() {
        assert!(file_error(b"").reason.contains("no header row"));
        assert!(file_error(b"\r\n\r\n").reason.contains("no header row"));
    }

    #[test]
    fn an_unclosed_quote_is_an_error_on_its_line() {
        let text = "身份证号,姓名\n1,张三\n2,\"李四\n3,王五\n4,赵六\n";
        let got = rows(text.as_bytes(), &Limits::UPLOAD);
        assert_eq!(got[0], Ok((2, "张三".to_string())));
        let (line, field, reason) = got[1].clone().unwrap_err();
        assert_eq!((line, field.as_str()), (3, "row"));
        assert!(reason.contains("never closed"));
        assert_eq!(got.len(), 2);
        let e = file_error(b"\"\xE8\xBA\xAB,x\n1,2\n");
        assert_eq!(e.line, 1);
        assert!(e.reason.contains("never closed"));
    }

    #[test]
    fn unclosed_quote_follows_csv_quoting_rules() {
        assert_eq!(unclosed_quote(b"a,\"b\"\"c\",d"), None);
        assert_eq!(unclosed_quote(b"5'3\",x"), None);
        assert_eq!(unclosed_quote(b"a,\"b\"x,\"c"), Some(7));
        assert_eq!(unclosed_quote(b"a\n\"b"), Some(2));
    }

    #[test]
    fn the_row_limit_is_an_error_on_the_first_row_past_it() {
        let limits = Limits { max_rows: 2, ..SMALL };
        let got = rows("身份证号,姓名\n1,a\n\n2,b\n3,c\n4,d\n".as_bytes(), &limits);
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], Err((5, "row".to_string(), "more than 2 rows; split the file".to_string())));
    }

    #[test]
    fn the_cell_limit_counts_cells_over_all_rows() {
        let limits = Limits { max_cells: 5, ..SMALL };
        let got = rows("身份证号,姓名\n1,a\n2,b\n3,c\n".as_bytes(), &limits);
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].clone().unwrap_err().0, 4);
    }

    #[test]
    fn an_over_long_cell_fails_only_its_row() {
        let long = "长".repeat(21);
        let text = format!("身份证号,姓名 *\n1,{long}\n2,{}\n", "长".repeat(20));
        let got = rows(text.as_bytes(), &SMALL);
        let (line, field, reason) = got[0].clone().unwrap_err();
        assert_eq!((line, field.as_str()), (2, "姓名 *"));
        assert_eq!(reason, "the cell has 21 characters; the limit is 20");
        assert_eq!(got[1], Ok((3, "长".repeat(20))));
    }

    #[test]
    #[ignore = "benchmark: run it with --release -- --ignored --nocapture"]
    fn throughput_of_a_million_rows() {
        let mut text = String::from("身份证号,姓名,联系电话,住址\r\n");
        for i in 0..1_000_000u64 {
            text.push_str(&format!(
                "11010119900307{i:04},张三{i},138{i:08},\"北京市东城区某某街道某某社区{i}号楼 {i} 单元\"\r\n"
            ));
        }
        let mb = text.len() as f64 / 1e6;
        let started = std::time::Instant::now();
        let sheet = open(text.as_bytes(), &PEOPLE, &Limits::CLI).unwrap();
        let opened = started.elapsed();
        let rows = sheet.records().map(Result::unwrap).count();
        let iterated = started.elapsed();
        let mut bytes = 0;
        for r in sheet.records() {
            let r = r.unwrap();
            bytes += ["id_number", "name", "phone", "address"].iter().map(|k| r.get(k).len()).sum::<usize>();
        }
        let with_get = started.elapsed() - iterated;
        assert_eq!(rows, 1_000_000);
        assert!(bytes > 0);
        println!("UTF-8 {mb:.0} MB: open {opened:?}, open+records {iterated:?}, records+get of 4 columns {with_get:?}");

        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let started = std::time::Instant::now();
        let sheet = open(&gbk, &PEOPLE, &Limits::CLI).unwrap();
        let opened = started.elapsed();
        assert_eq!(sheet.records().map(Result::unwrap).count(), 1_000_000);
        println!("GBK {:.0} MB: open {opened:?}, open+records {:?}", gbk.len() as f64 / 1e6, started.elapsed());
    }
}
