//! Citizen ID numbers (公民身份号码, GB 11643), parsed once at the edge: an `IdNumber` exists
//! only if its check digit and date of birth hold.
//!
//! Accepted: 18-digit numbers with any province prefix of GB/T 2260 (so retired county codes,
//! e.g. 410728 长垣县 for people born there before 2019, still pass: the county part of a
//! number never changes when a county is renamed or merged); the residence permits of Hong Kong,
//! Macau and Taiwan residents (prefix 81, 82, 83); the foreigners' permanent residence numbers
//! that begin with 9; and legacy 15-digit numbers, upgraded to 18 digits.

use chrono::NaiveDate;

/// Province-level prefixes of GB/T 2260 (31 provinces, Taiwan 71) and the 81/82/83 permits.
const PROVINCES: &[u8] = &[
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65, 71, 81, 82, 83,
];

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Resident,
    /// 港澳台居民居住证.
    ResidencePermit,
    /// 外国人永久居留身份证 (2023 format, leading 9).
    ForeignPermanentResident,
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    /// Parses and normalises (upper-case X, 15 digits upgraded to 18). `today` bounds the date
    /// of birth. Errors are English reasons naming what is wrong, never echoing the value.
    pub fn parse(input: &str, today: NaiveDate) -> Result<IdNumber, &'static str> {
        let s: String = input.trim().chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let s = match s.len() {
            18 => s,
            15 => upgrade(&s)?,
            _ => return Err("an ID number has 18 characters (or 15 for old numbers)"),
        };
        let bytes = s.as_bytes();
        if !bytes[..17].iter().all(u8::is_ascii_digit) || !(bytes[17].is_ascii_digit() || bytes[17] == b'X') {
            return Err("an ID number is 17 digits and a check digit or X");
        }
        let province = if bytes[0] == b'9' { two(&bytes[1..3]) } else { two(&bytes[0..2]) };
        if !PROVINCES.contains(&province) {
            return Err("the region code is not a province of GB/T 2260");
        }
        let birth = NaiveDate::parse_from_str(&s[6..14], "%Y%m%d").map_err(|_| "the date of birth is not a date")?;
        if birth > today || birth < NaiveDate::from_ymd_opt(1890, 1, 1).expect("BUG: a valid date") {
            return Err("the date of birth is impossible");
        }
        if CHECK[checksum(&bytes[..17])] as u8 != bytes[17] {
            return Err("the check digit is wrong");
        }
        Ok(IdNumber(s))
    }

    /// The full number. Callers show it only after an audited unmask.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> IdKind {
        match &self.0[..2] {
            _ if self.0.starts_with('9') => IdKind::ForeignPermanentResident,
            "81" | "82" | "83" => IdKind::ResidencePermit,
            _ => IdKind::Resident,
        }
    }

    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("BUG: checked at parse")
    }

    /// The 17th digit: odd for men, even for women.
    pub fn is_male(&self) -> bool {
        (self.0.as_bytes()[16] - b'0') % 2 == 1
    }

    pub fn region_code(&self) -> &str {
        &self.0[..6]
    }
}

fn two(b: &[u8]) -> u8 {
    (b[0].wrapping_sub(b'0')).wrapping_mul(10).wrapping_add(b[1].wrapping_sub(b'0'))
}

fn checksum(digits: &[u8]) -> usize {
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    (sum % 11) as usize
}

/// 15-digit numbers (before 1999) have a two-digit year of the 1900s and no check digit.
fn upgrade(s: &str) -> Result<String, &'static str> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an old 15-digit ID number is digits only");
    }
    let seventeen = format!("{}19{}", &s[..6], &s[6..]);
    let check = CHECK[checksum(seventeen.as_bytes())];
    Ok(format!("{seventeen}{check}"))
}

impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", super::mask::mask_id_number(&self.0, super::mask::Viewer::Civilian))
    }
}

impl std::fmt::Display for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&super::mask::mask_id_number(&self.0, super::mask::Viewer::Civilian))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    /// Builds a valid number from 17 digits by appending the right check digit.
    fn with_check(seventeen: &str) -> String {
        format!("{seventeen}{}", CHECK[checksum(seventeen.as_bytes())])
    }

    #[test]
    fn the_gb_11643_example_number_is_valid() {
        // The worked example of GB 11643-1999 annex: 11010519491231002X.
        let id = IdNumber::parse("11010519491231002x", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31).unwrap());
        assert!(!id.is_male());
    }

    #[test]
    fn a_wrong_check_digit_is_refused() {
        assert_eq!(IdNumber::parse("110105194912310021", today()), Err("the check digit is wrong"));
    }

    #[test]
    fn retired_county_codes_still_pass() {
        let changyuan = with_check("41072819850612123");
        assert_eq!(IdNumber::parse(&changyuan, today()).unwrap().region_code(), "410728");
    }

    #[test]
    fn residence_permits_and_foreign_permanent_residents_pass() {
        for (seventeen, kind) in [
            ("81000019900101123", IdKind::ResidencePermit),
            ("82000019900101123", IdKind::ResidencePermit),
            ("83000019900101123", IdKind::ResidencePermit),
            ("93115619900101123", IdKind::ForeignPermanentResident),
        ] {
            assert_eq!(IdNumber::parse(&with_check(seventeen), today()).unwrap().kind(), kind, "{seventeen}");
        }
    }

    #[test]
    fn impossible_dates_and_regions_are_refused() {
        assert_eq!(IdNumber::parse(&with_check("41070219900230123"), today()), Err("the date of birth is not a date"));
        assert_eq!(IdNumber::parse(&with_check("41070220300101123"), today()), Err("the date of birth is impossible"));
        assert!(IdNumber::parse(&with_check("99070219900101123"), today()).is_err());
        assert!(IdNumber::parse(&with_check("00070219900101123"), today()).is_err());
        assert!(IdNumber::parse("4107021990", today()).is_err());
    }

    #[test]
    fn fifteen_digit_numbers_are_upgraded() {
        let id = IdNumber::parse("410702850612123", today()).unwrap();
        assert_eq!(id.as_str(), with_check("41070219850612123"));
        assert!(id.is_male());
    }

    #[test]
    fn debug_and_display_never_show_the_number() {
        let id = IdNumber::parse("11010519491231002X", today()).unwrap();
        assert!(!format!("{id:?}").contains("19491231"));
        assert!(!id.to_string().contains("19491231"));
    }
}
