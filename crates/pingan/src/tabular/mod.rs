//! Spreadsheets that offices hand over and take away: CSV and XLSX for bulk imports and exports.
//! A capability describes its columns once as a [`Template`]; [`open`] reads an upload against it
//! and [`csv_bytes`] / [`xlsx_bytes`] write an export. No I/O, no database: bytes in, bytes out.
//!
//! Invariant: a header that matches no template column, a column given twice, or a missing
//! required column refuses the whole file, all reported at once, so a typo never drops data.
//! Invariant: a number Excel stored with lost digits (an ID number typed into a General column) is
//! a row error, never a plausible wrong string.
//! Invariant: memory is bounded by the limits, not by the input: the file size is checked first,
//! and an XLSX whose parts declare more unpacked bytes than its cell limit allows is refused
//! before anything is inflated. Row, cell and cell-length limits give line-numbered errors.
//! Invariant: every exported cell is plain text, neutralised against formula injection.
//!
//! Dependencies: `csv`, `encoding_rs` (GB18030/GBK), `calamine` (reading XLSX), `zip` (sizes in
//! the central directory), `rust_xlsxwriter` (writing XLSX).

mod csv_read;
mod decode;
mod header;
pub mod read;
pub mod template;
pub mod write;
mod xlsx_cell;
mod xlsx_read;

pub use read::{open, Limits, Record, Sheet};
pub use template::{Column, Template};
pub use write::{csv_bytes, neutralise, xlsx_bytes, ExportTable, Format};

/// A small template shared by the tests of every file here.
#[cfg(test)]
pub(crate) mod test_template {
    use super::{Column, Template};

    const fn col(key: &'static str, en: &'static str, zh: &'static str, required: bool) -> Column {
        Column { key, en, zh, required, aliases: &[], note_en: "", note_zh: "" }
    }

    pub static PEOPLE: Template = Template {
        name: "people",
        columns: &[
            Column {
                key: "id_number",
                en: "ID number",
                zh: "身份证号",
                required: true,
                aliases: &["公民身份号码", "证件号码"],
                note_en: "18 characters; format the column as text",
                note_zh: "18位；请将该列设为文本格式",
            },
            col("name", "Name", "姓名", true),
            col("phone", "Phone", "联系电话", false),
            col("address", "Address", "住址", false),
        ],
    };
}
