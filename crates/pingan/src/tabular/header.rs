//! Matching a file's header row to a template. Offices type headers by hand, in Chinese or English,
//! with full-width letters, stray spaces and required-markers; all of those must still match, and
//! anything that does not match must be reported rather than ignored.

use std::collections::HashMap;

use super::template::Template;
use crate::web::error::RowError;

/// Where each template column sits in the file's rows, and what the file called each position.
#[derive(Debug, Clone)]
pub(super) struct ColumnMap {
    /// Indexed like `Template::columns`: the cell position of that column, if the file has it.
    pub positions: Vec<Option<usize>>,
    /// Indexed by cell position: the header as written in the file ("" for an unnamed column).
    pub headers: Vec<String>,
    /// Indexed by cell position: whether a template column reads it. Checked for every cell of
    /// every row, so it is a lookup, not a search of `positions`.
    pub named: Vec<bool>,
}

impl ColumnMap {
    /// The field name a row error about cell `pos` reports: the file's own header, so the person
    /// fixing the file finds it.
    pub fn field(&self, pos: usize) -> String {
        match self.headers.get(pos).map(|h| h.trim()) {
            Some(h) if !h.is_empty() => h.to_string(),
            _ => format!("column {}", column_label(pos)),
        }
    }
}

/// Matches header cells (in file order) to the template. Every problem is collected: unknown
/// columns, columns given twice, required columns missing.
pub(super) fn match_headers<'h>(
    cells: impl IntoIterator<Item = &'h str>,
    template: &Template,
    line: u64,
) -> Result<ColumnMap, Vec<RowError>> {
    let names = lookup(template);
    let mut positions: Vec<Option<usize>> = vec![None; template.columns.len()];
    let mut headers = Vec::new();
    let mut errors = Vec::new();
    for (pos, raw) in cells.into_iter().enumerate() {
        headers.push(raw.to_string());
        let norm = normalise(raw);
        if norm.is_empty() {
            continue; // an unnamed column; data under it becomes a row error
        }
        // A header swallowing the file through an unclosed quote must not make a 100 MB message.
        let field: String = raw.trim().chars().take(64).collect();
        match names.get(&norm) {
            None => errors.push(RowError {
                line,
                field,
                reason: format!(
                    "unknown column (column {}); this template's columns are: {}",
                    column_label(pos),
                    list(template)
                ),
            }),
            Some(&i) => match positions[i] {
                Some(first) => {
                    let c = &template.columns[i];
                    errors.push(RowError {
                        line,
                        field,
                        reason: format!(
                            "column {} ({}) is given twice: columns {} and {}",
                            c.zh,
                            c.en,
                            column_label(first),
                            column_label(pos)
                        ),
                    })
                }
                None => positions[i] = Some(pos),
            },
        }
    }
    for (c, pos) in template.columns.iter().zip(&positions) {
        if c.required && pos.is_none() {
            errors.push(RowError {
                line,
                field: c.zh.to_string(),
                reason: format!("required column {} ({}) is missing", c.zh, c.en),
            });
        }
    }
    if errors.is_empty() {
        let mut named = vec![false; headers.len()];
        for pos in positions.iter().flatten() {
            named[*pos] = true;
        }
        Ok(ColumnMap { positions, headers, named })
    } else {
        Err(errors)
    }
}

fn lookup(template: &Template) -> HashMap<String, usize> {
    let mut names = HashMap::new();
    for (i, c) in template.columns.iter().enumerate() {
        for name in [c.zh, c.en, c.key].iter().chain(c.aliases) {
            let previous = names.insert(normalise(name), i);
            debug_assert!(previous.is_none_or(|p| p == i), "BUG: template {} reuses the header {name}", template.name);
        }
    }
    names
}

fn list(template: &Template) -> String {
    template.columns.iter().map(|c| format!("{} ({})", c.zh, c.en)).collect::<Vec<_>>().join(", ")
}

/// Folds the ways one header gets typed into one spelling: full-width to half-width (Chinese
/// input methods produce "ＩＤ" and "（必填）"), ASCII case, runs of spaces, and the required-markers
/// "*" and "(必填)" that templates from other systems add.
pub(super) fn normalise(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for ch in raw.chars() {
        let ch = match ch {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
            '\u{FEFF}' => continue,
            _ => ch,
        };
        if ch.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(ch.to_ascii_lowercase());
        }
    }
    let mut s = out.as_str();
    loop {
        let before = s.len();
        s = s.trim();
        s = s.strip_suffix('*').unwrap_or(s);
        s = s.strip_prefix('*').unwrap_or(s);
        s = s.strip_suffix("(必填)").unwrap_or(s);
        if s.len() == before {
            break;
        }
    }
    s.to_string()
}

/// "3 (C)": the position people count and the letter Excel shows.
pub(super) fn column_label(pos: usize) -> String {
    let mut letters = Vec::new();
    let mut n = pos + 1;
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!("{} ({})", pos + 1, String::from_utf8_lossy(&letters))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tabular::test_template::PEOPLE;

    #[test]
    fn normalise_folds_width_case_spaces_and_required_markers() {
        assert_eq!(normalise("  ID   Number "), "id number");
        assert_eq!(normalise("ＩＤ　ｎｕｍｂｅｒ"), "id number");
        assert_eq!(normalise("姓名*"), "姓名");
        assert_eq!(normalise("*姓名"), "姓名");
        assert_eq!(normalise("姓名（必填）"), "姓名");
        assert_eq!(normalise("姓名 (必填) *"), "姓名");
        assert_eq!(normalise("\u{feff}姓名"), "姓名");
        assert_eq!(normalise(" * "), "");
    }

    #[test]
    fn chinese_english_key_and_alias_headers_all_match() {
        let map = match_headers(["公民身份号码", "NAME", "phone", "住址*"], &PEOPLE, 1).unwrap();
        assert_eq!(map.positions, vec![Some(0), Some(1), Some(2), Some(3)]);
        let map = match_headers(["姓名", "", "ＩＤ Number"], &PEOPLE, 1).unwrap();
        assert_eq!(map.positions, vec![Some(2), Some(0), None, None]);
        assert_eq!(map.field(1), "column 2 (B)");
        assert_eq!(map.field(2), "ＩＤ Number");
    }

    #[test]
    fn missing_unknown_and_duplicate_columns_are_reported_together() {
        let errors = match_headers(["姓名", "电话号", "Name", "住址"], &PEOPLE, 1).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors.iter().all(|e| e.line == 1));
        assert_eq!(errors[0].field, "电话号");
        assert!(errors[0].reason.starts_with("unknown column (column 2 (B))"));
        assert_eq!(errors[1].field, "Name");
        assert!(errors[1].reason.contains("given twice: columns 1 (A) and 3 (C)"));
        assert_eq!(errors[2].field, "身份证号");
        assert_eq!(errors[2].reason, "required column 身份证号 (ID number) is missing");
    }

    #[test]
    fn column_labels_follow_excel_letters() {
        assert_eq!(column_label(0), "1 (A)");
        assert_eq!(column_label(25), "26 (Z)");
        assert_eq!(column_label(26), "27 (AA)");
        assert_eq!(column_label(701), "702 (ZZ)");
        assert_eq!(column_label(702), "703 (AAA)");
    }
}
