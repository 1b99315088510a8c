//! Turning an XLSX cell into the text a person saw in it. Excel keeps numbers as doubles with 15
//! significant digits, so an 18-digit ID number typed into a General column is already damaged in
//! the file: that must become a row error, never a plausible-looking wrong number.

use std::borrow::Cow;

use calamine::{DataRef, ExcelDateTime};

/// Excel keeps 15 significant digits: a whole number from here up may have lost some.
const EXACT_BELOW: f64 = 1e15;

pub(super) const LOST_DIGITS: &str =
    "the value was stored as a number in Excel and lost digits; format the column as text and type it again";

/// The cell as text, or the reason it cannot be trusted.
pub(super) fn cell_text<'c>(value: &'c DataRef<'_>) -> Result<Cow<'c, str>, String> {
    Ok(match value {
        DataRef::Empty => Cow::Borrowed(""),
        DataRef::String(s) => Cow::Borrowed(s.as_str()),
        DataRef::SharedString(s) => Cow::Borrowed(*s),
        DataRef::Int(i) => Cow::Owned(i.to_string()),
        DataRef::Float(f) => Cow::Owned(number(*f)?),
        DataRef::Bool(b) => Cow::Borrowed(if *b { "TRUE" } else { "FALSE" }),
        DataRef::DateTime(dt) => Cow::Owned(date_time(dt)),
        DataRef::DateTimeIso(s) => Cow::Borrowed(s.strip_suffix("T00:00:00").unwrap_or(s)),
        DataRef::DurationIso(s) => Cow::Borrowed(s.as_str()),
        DataRef::Error(e) => return Err(format!("the cell shows the Excel error {e}; type the value itself")),
    })
}

/// Whole numbers without ".0" (a phone typed as a number is 13812345678, not 13812345678.0);
/// fractions rounded to the 15 digits Excel displays, so a formula's 0.30000000000000004 reads
/// as the 0.3 on screen.
fn number(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err("the cell holds a number Excel cannot show".into());
    }
    if f.fract() == 0.0 {
        if f.abs() >= EXACT_BELOW {
            return Err(LOST_DIGITS.into());
        }
        return Ok((f as i64).to_string());
    }
    let shown: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    Ok(shown.to_string())
}

/// Dates as YYYY-MM-DD, with the time only when there is one.
fn date_time(dt: &ExcelDateTime) -> String {
    let serial = dt.as_f64();
    if dt.is_duration() {
        let secs = (serial * 86_400.0).round() as i64;
        return format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    }
    let (y, mo, d, h, mi, s, _ms) = dt.to_ymd_hms_milli();
    if (0.0..1.0).contains(&serial) {
        format!("{h:02}:{mi:02}:{s:02}")
    } else if (h, mi, s) == (0, 0, 0) {
        format!("{y:04}-{mo:02}-{d:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use calamine::ExcelDateTimeType;

    use super::*;

    fn text(v: DataRef<'_>) -> Result<String, String> {
        cell_text(&v).map(Cow::into_owned)
    }

    #[test]
    fn whole_numbers_have_no_decimal_point() {
        assert_eq!(text(DataRef::Float(13812345678.0)).unwrap(), "13812345678");
        assert_eq!(text(DataRef::Float(-42.0)).unwrap(), "-42");
        assert_eq!(text(DataRef::Float(999_999_999_999_999.0)).unwrap(), "999999999999999");
        assert_eq!(text(DataRef::Int(7)).unwrap(), "7");
    }

    #[test]
    fn an_id_number_stored_as_a_number_is_an_error_not_a_rounded_value() {
        assert_eq!(text(DataRef::Float(410702199001011234.0)).unwrap_err(), LOST_DIGITS);
        assert_eq!(text(DataRef::Float(1e15)).unwrap_err(), LOST_DIGITS);
    }

    #[test]
    fn fractions_read_as_excel_shows_them() {
        assert_eq!(text(DataRef::Float(0.1 + 0.2)).unwrap(), "0.3");
        assert_eq!(text(DataRef::Float(116.397_128)).unwrap(), "116.397128");
        assert_eq!(text(DataRef::Float(-0.5)).unwrap(), "-0.5");
    }

    #[test]
    fn dates_read_as_iso_dates() {
        let at = |v| DataRef::DateTime(ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false));
        assert_eq!(text(at(45356.0)).unwrap(), "2024-03-05");
        assert_eq!(text(at(45356.5)).unwrap(), "2024-03-05 12:00:00");
        assert_eq!(text(at(0.75)).unwrap(), "18:00:00");
        let iso = DataRef::DateTimeIso("2024-03-05T00:00:00".into());
        assert_eq!(text(iso).unwrap(), "2024-03-05");
        let long = DataRef::DateTime(ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false));
        assert_eq!(text(long).unwrap(), "36:00:00");
    }

    #[test]
    fn other_cells() {
        assert_eq!(text(DataRef::Bool(true)).unwrap(), "TRUE");
        assert_eq!(text(DataRef::SharedString("张三")).unwrap(), "张三");
        assert_eq!(text(DataRef::Empty).unwrap(), "");
        let err = text(DataRef::Error(calamine::CellErrorType::NA)).unwrap_err();
        assert!(err.contains("#N/A"), "{err}");
    }
}
