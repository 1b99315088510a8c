//! Masking of personal data by viewer, and the one parsed phone number type.
//!
//! Everything works on chars, never bytes, so Chinese names and full-width
//! input cannot be cut mid-character.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewer {
    Police,
    Civilian,
}

/// Compound (two-character) surnames, so that 欧阳修 shows as 欧阳* rather than
/// 欧* (which would look like a different person). Only surnames whose first
/// character is rare as a single surname are listed: a wrong match here would
/// reveal one character of a given name.
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "令狐",
    "端木", "南宫", "西门", "独孤", "轩辕", "呼延", "澹台", "公冶", "宗政", "濮阳", "淳于", "申屠", "司空",
    // Traditional forms, for names entered from Hong Kong, Macao or Taiwan documents.
    "歐陽", "司馬", "諸葛", "東方", "尉遲", "公孫", "長孫", "軒轅",
];

/// Keeps `head` leading and `tail` trailing chars, one `*` per hidden char;
/// anything not longer than what would be kept becomes all `*`, as showing it
/// whole would defeat the mask.
fn mask_middle(chars: &[char], head: usize, tail: usize) -> String {
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(chars.len() * 3);
    out.extend(&chars[..head]);
    out.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Police see the first 4 (province and prefecture of registration) and last 4;
/// others see the first 3 and last 4.
pub fn mask_id_number(value: &str, viewer: Viewer) -> String {
    let chars: Vec<char> = value.trim().chars().collect();
    let head = match viewer {
        Viewer::Police => 4,
        Viewer::Civilian => 3,
    };
    mask_middle(&chars, head, 4)
}

/// Masks a phone number for display. Values that parse as a [`Phone`] are shown
/// in normalised masked form; anything else is masked as it stands.
pub fn mask_phone(value: &str) -> String {
    if let Ok(phone) = Phone::parse(value) {
        return phone.masked();
    }
    let value = value.trim();
    let chars: Vec<char> = value.chars().collect();
    // An unparsed landline written with a dash still keeps its area code.
    if let Some(dash) = chars.iter().position(|&c| c == '-') {
        if chars.first() == Some(&'0') && (3..=4).contains(&dash) {
            let rest = &chars[dash + 1..];
            if rest.len() > 4 {
                let mut out: String = chars[..=dash].iter().collect();
                out.push_str(&mask_middle(rest, 0, 4));
                return out;
            }
        }
    }
    mask_middle(&chars, 3, 4)
}

/// Police see the full name; others see the surname and a single `*`, which
/// also hides the length of the given name.
pub fn mask_name(value: &str, viewer: Viewer) -> String {
    let value = value.trim();
    if viewer == Viewer::Police {
        return value.to_string();
    }
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 2 {
        return "*".repeat(chars.len());
    }
    // A two-char name such as 欧阳 is surname 欧 plus given name 阳.
    let surname_len = if chars.len() >= 3 && COMPOUND_SURNAMES.iter().any(|s| s.chars().eq(chars[..2].iter().copied()))
    {
        2
    } else {
        1
    };
    let mut out: String = chars[..surname_len].iter().collect();
    out.push('*');
    out
}

/// A Chinese phone number, parsed once at the edge: mobile `1[3-9]` + 9 digits
/// (optional +86 / 86 prefix stripped, spaces and dashes ignored), or landline
/// `0` + 2–3 digit area code + 7–8 digit number (dash optional). Normalised
/// form: digits only for mobile; "0AAA-NNNNNNN" for landline. Debug and Display
/// print the masked form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Phone, &'static str> {
        let mut plus = false;
        let mut digits = String::with_capacity(s.len());
        for (i, c) in s.trim().chars().enumerate() {
            match normalize_char(c) {
                Some(d @ '0'..='9') => digits.push(d),
                Some('+') if i == 0 => plus = true,
                Some('+') => return Err("a plus sign may only start the number"),
                Some(' ' | '-') => {}
                _ => return Err("a phone number may contain only digits, spaces, dashes and a leading +"),
            }
        }
        if digits.is_empty() {
            return Err("the phone number is empty");
        }

        if plus {
            let Some(national) = digits.strip_prefix("86") else {
                return Err("only Chinese (+86) phone numbers are accepted");
            };
            if is_mobile(national) {
                return Ok(Phone(national.to_string()));
            }
            // International form drops the trunk 0 of a landline.
            return match parse_landline(&format!("0{national}")) {
                Ok(p) => Ok(p),
                Err(_) => Err("not a valid Chinese mobile or landline number after +86"),
            };
        }
        if is_mobile(&digits) {
            return Ok(Phone(digits));
        }
        if let Some(national) = digits.strip_prefix("86") {
            if is_mobile(national) {
                return Ok(Phone(national.to_string()));
            }
        }
        if digits.starts_with('0') {
            return parse_landline(&digits);
        }
        if digits.starts_with('1') {
            return Err("a mobile number has 11 digits starting with 13 to 19");
        }
        Err("not a Chinese mobile number (11 digits starting with 1) or landline (starting with an area code such as 010)")
    }

    /// The full number. Callers that show or export it must record an audit entry.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        match self.0.split_once('-') {
            Some((area, local)) => {
                let local: Vec<char> = local.chars().collect();
                format!("{area}-{}", mask_middle(&local, 0, 4))
            }
            None => {
                let chars: Vec<char> = self.0.chars().collect();
                mask_middle(&chars, 3, 4)
            }
        }
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Phone").field(&self.masked()).finish()
    }
}

/// Chinese input methods often produce full-width digits and punctuation.
fn normalize_char(c: char) -> Option<char> {
    match c {
        '0'..='9' | '+' | '-' | ' ' => Some(c),
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
        '＋' => Some('+'),
        '－' | '‐' | '‑' | '–' | '—' => Some('-'),
        '\t' | '\u{3000}' | '\u{a0}' => Some(' '),
        _ => None,
    }
}

fn is_mobile(digits: &str) -> bool {
    let b = digits.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

/// The area code length follows from its digits: 010 and 02x are the only
/// two-digit codes, every other code (0311, 0755, …) has three. Deriving it
/// rather than trusting where a dash was typed gives every number one
/// normalised form, which the lookup hash relies on for deduplication.
fn parse_landline(digits: &str) -> Result<Phone, &'static str> {
    let b = digits.as_bytes();
    if b.len() < 2 || b[0] != b'0' {
        return Err("a landline number starts with 0 and an area code");
    }
    let area_len = match b[1] {
        b'1' if digits.starts_with("010") => 2,
        b'2' => 2,
        b'3'..=b'9' => 3,
        _ => return Err("unknown area code"),
    };
    // "07" or "010" alone: nothing after the area code (and no slice past the end).
    let local = digits.get(1 + area_len..).unwrap_or("");
    if !(7..=8).contains(&local.len()) {
        return Err("a landline number has 7 or 8 digits after the area code");
    }
    if local.starts_with('0') {
        return Err("a landline number cannot start with 0 after the area code");
    }
    Ok(Phone(format!("{}-{local}", &digits[..1 + area_len])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_number_by_viewer() {
        let id = "110101199003071234";
        assert_eq!(mask_id_number(id, Viewer::Police), "1101**********1234");
        assert_eq!(mask_id_number(id, Viewer::Civilian), "110***********1234");
        assert_eq!(mask_id_number("11010119900307123X", Viewer::Civilian), "110***********123X");
        // 15-digit legacy IDs keep the same rule, one * per hidden char.
        assert_eq!(mask_id_number("110101900307123", Viewer::Police), "1101*******7123");
        assert_eq!(mask_id_number(" 110101199003071234 ", Viewer::Civilian), "110***********1234");
    }

    #[test]
    fn short_values_become_all_stars() {
        assert_eq!(mask_id_number("12345678", Viewer::Police), "********");
        assert_eq!(mask_id_number("1234567", Viewer::Civilian), "*******");
        assert_eq!(mask_id_number("12345678", Viewer::Civilian), "123*5678");
        assert_eq!(mask_id_number("", Viewer::Police), "");
        assert_eq!(mask_phone("1234567"), "*******");
        assert_eq!(mask_name("张", Viewer::Civilian), "*");
        assert_eq!(mask_name("", Viewer::Civilian), "");
    }

    #[test]
    fn works_on_chars_not_bytes() {
        // Multi-byte chars must be counted and kept whole.
        assert_eq!(mask_id_number("港澳台居民证件一二三四五", Viewer::Civilian), "港澳台*****二三四五");
        assert_eq!(mask_phone("１３８１２３４５６７８"), "138****5678");
    }

    #[test]
    fn a_bare_area_code_is_refused_not_a_panic() {
        for s in ["07-", "07", "010", "0", "02-"] {
            assert!(Phone::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn phones() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("+86 138-1234-5678"), "138****5678");
        assert_eq!(mask_phone("010-12345678"), "010-****5678");
        assert_eq!(mask_phone("0755-1234567"), "0755-***4567");
        assert_eq!(mask_phone("075512345678"), "0755-****5678");
        // Unparseable values are still masked, never shown.
        assert_eq!(mask_phone("12345"), "*****");
        assert_eq!(mask_phone("0999-12"), "*******");
        assert_eq!(mask_phone("0999-123456789"), "0999-*****6789");
        assert_eq!(mask_phone("400 800 1234"), "400*****1234");
    }

    #[test]
    fn names() {
        assert_eq!(mask_name("张三", Viewer::Civilian), "张*");
        assert_eq!(mask_name("张三丰", Viewer::Civilian), "张*");
        assert_eq!(mask_name("欧阳修", Viewer::Civilian), "欧阳*");
        assert_eq!(mask_name("诸葛孔明", Viewer::Civilian), "诸葛*");
        assert_eq!(mask_name("司马光", Viewer::Civilian), "司马*");
        assert_eq!(mask_name("歐陽修", Viewer::Civilian), "歐陽*");
        // Two chars: compound surname cannot apply, the second char is the given name.
        assert_eq!(mask_name("欧阳", Viewer::Civilian), "欧*");
        assert_eq!(mask_name("买买提·艾力", Viewer::Civilian), "买*");
        assert_eq!(mask_name("John Smith", Viewer::Civilian), "J*");
        assert_eq!(mask_name("欧阳修", Viewer::Police), "欧阳修");
        assert_eq!(mask_name(" 张三 ", Viewer::Police), "张三");
    }

    #[test]
    fn phone_parse_mobile() {
        for input in [
            "13812345678",
            "138 1234 5678",
            "138-1234-5678",
            "+8613812345678",
            "+86 138 1234 5678",
            "8613812345678",
            "＋８６　１３８１２３４５６７８",
        ] {
            let p = Phone::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(p.as_str(), "13812345678", "{input:?}");
        }
        assert_eq!(Phone::parse("19912345678").map(|p| p.masked()), Ok("199****5678".to_string()));
    }

    #[test]
    fn phone_parse_landline() {
        let cases = [
            ("010-12345678", "010-12345678"),
            ("01012345678", "010-12345678"),
            ("021 6123 4567", "021-61234567"),
            ("0755-1234567", "0755-1234567"),
            ("075512345678", "0755-12345678"),
            ("0311-87654321", "0311-87654321"),
            // A misplaced dash still yields the one normalised form.
            ("0101-2345678", "010-12345678"),
            ("+86 10 12345678", "010-12345678"),
        ];
        for (input, expected) in cases {
            let p = Phone::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(p.as_str(), expected, "{input:?}");
        }
    }

    #[test]
    fn phone_parse_rejects_with_reasons() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("1381234567", "11 digits"),
            ("138123456789", "11 digits"),
            ("12812345678", "11 digits"),
            ("138l2345678", "only digits"),
            ("(010)12345678", "only digits"),
            ("+1 415 555 0100", "+86"),
            ("138+12345678", "plus sign"),
            ("010-123456", "7 or 8 digits"),
            ("010-123456789", "7 or 8 digits"),
            ("013812345678", "area code"),
            ("00861381234567", "area code"),
            ("010-02345678", "cannot start with 0"),
            ("23456789", "landline"),
        ];
        for (input, expected) in cases {
            match Phone::parse(input) {
                Ok(p) => panic!("{input:?} accepted as {}", p.as_str()),
                Err(reason) => {
                    assert!(reason.contains(expected), "{input:?}: reason {reason:?} should mention {expected:?}")
                }
            }
        }
    }

    #[test]
    fn phone_display_and_debug_are_masked() {
        let p = Phone::parse("13812345678").expect("valid");
        assert_eq!(p.to_string(), "138****5678");
        assert_eq!(format!("{p:?}"), "Phone(\"138****5678\")");
        let l = Phone::parse("010-12345678").expect("valid");
        assert_eq!(l.to_string(), "010-****5678");
        assert!(!format!("{l:?}").contains("1234"));
    }
}
