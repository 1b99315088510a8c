//! Decoding CSV bytes to one UTF-8 string up front, so the parser and every cell work on `str`.
//! Offices save CSV from Excel on Chinese Windows (GBK), from WPS or Excel's "CSV UTF-8" (UTF-8
//! with BOM), and from other systems (UTF-8); Excel's "Unicode Text" (UTF-16) is refused with a hint.

use crate::web::error::RowError;

/// UTF-8 (with or without BOM), else GB18030, which decodes every GBK file the same way.
pub(super) fn decode(bytes: &[u8]) -> Result<String, RowError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(RowError::file(
            "the file is UTF-16 text (Excel's \"Unicode Text\"); save it as \"CSV UTF-8\" or as a GBK CSV",
        ));
    }
    // UTF-16 without a BOM is valid UTF-8 full of NULs; no CSV an office writes has a NUL.
    if bytes.iter().take(4096).any(|&b| b == 0) {
        return Err(RowError::file(
            "the file contains NUL bytes: it is UTF-16 or not text at all; save it as \"CSV UTF-8\" or .xlsx",
        ));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest).map(str::to_owned).map_err(|e| {
            let line = line_of(rest, e.valid_up_to());
            RowError {
                line,
                field: "file".into(),
                reason: "the file is marked as UTF-8 but this line is not valid UTF-8".into(),
            }
        });
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    match encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes) {
        Some(text) => Ok(text.into_owned()),
        None => {
            Err(RowError::file("the file is neither UTF-8 nor GBK/GB18030 text; save it as \"CSV UTF-8\" or as .xlsx"))
        }
    }
}

/// The 1-based line holding byte `offset`.
pub(super) fn line_of(bytes: &[u8], offset: usize) -> u64 {
    bytes[..offset].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(bytes: &[u8]) -> RowError {
        decode(bytes).unwrap_err()
    }

    #[test]
    fn utf8_with_bom_loses_the_bom_and_gbk_decodes() {
        assert_eq!(decode("\u{feff}姓名".as_bytes()).unwrap(), "姓名");
        assert_eq!(decode("姓名".as_bytes()).unwrap(), "姓名");
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名,住址\r\n");
        assert_eq!(decode(&gbk).unwrap(), "姓名,住址\r\n");
        // GB18030's four-byte sequences reach characters GBK lacks, e.g. in rare name characters.
        let (gb18030, _, _) = encoding_rs::GB18030.encode("䶮");
        assert_eq!(decode(&gb18030).unwrap(), "䶮");
    }

    #[test]
    fn utf16_is_refused_with_a_hint() {
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend("身份证号,姓名\r\n".encode_utf16().flat_map(u16::to_le_bytes));
        let e = refused(&utf16);
        assert_eq!((e.line, e.field.as_str()), (1, "file"));
        assert!(e.reason.contains("UTF-16") && e.reason.contains("CSV UTF-8"), "{}", e.reason);
        let without_bom: Vec<u8> = "身份证号,姓名\r\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(refused(&without_bom).reason.contains("NUL"));
    }

    #[test]
    fn bytes_that_are_neither_utf8_nor_gb18030_are_refused() {
        let e = refused(b"\xFF\xFF,\xFF\n");
        assert!(e.reason.contains("neither UTF-8 nor GBK/GB18030"), "{}", e.reason);
        let e = refused(b"\xEF\xBB\xBF\xE8\xBA\xAB,x\n\xFF\n");
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("marked as UTF-8"));
    }
}
