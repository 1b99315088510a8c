//! The closed vocabularies of base data and the checks every input passes, whether it comes
//! from a form, the API or an import row. Enum codes are stable English text; labels live here
//! beside them because lists, forms and imports all need both languages.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal, $zh:literal, $en:literal;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),* }
            }

            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),* }
            }

            pub fn label_en(self) -> &'static str {
                match self { $($name::$variant => $en),* }
            }

            /// Accepts the code, the Chinese label or the English label, as import files carry any.
            pub fn parse(s: &str) -> Option<$name> {
                let s = s.trim();
                $name::ALL.iter().copied().find(|v| {
                    v.code() == s || v.label_zh() == s || v.label_en().eq_ignore_ascii_case(s)
                })
            }

            pub fn codes() -> String {
                $name::ALL.iter().map(|v| v.code()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

vocabulary! {
    Sex {
        Male = "male", "男", "Male";
        Female = "female", "女", "Female";
        Unknown = "unknown", "未知", "Unknown";
    }
}

vocabulary! {
    /// 户籍人口 or 流动人口.
    Residence {
        Registered = "registered", "户籍人口", "Registered";
        Floating = "floating", "流动人口", "Floating";
    }
}

vocabulary! {
    /// How a house is used (实有房屋).
    HouseUse {
        OwnerOccupied = "owner_occupied", "自住", "Owner-occupied";
        Rented = "rented", "出租", "Rented";
        Vacant = "vacant", "空置", "Vacant";
    }
}

vocabulary! {
    /// How a resident is related to the house they live in.
    HouseRelation {
        Owner = "owner", "房主", "Owner";
        Family = "family", "家庭成员", "Family member";
        Tenant = "tenant", "租户", "Tenant";
        Other = "other", "其他", "Other";
    }
}

vocabulary! {
    /// Tags that decide who gets visited first (关注对象).
    Tag {
        ElderlyAlone = "elderly_alone", "独居老人", "Elderly living alone";
        LeftBehindChild = "left_behind_child", "留守儿童", "Left-behind child";
        Disabled = "disabled", "残疾人", "Disabled";
        MentalHealth = "mental_health", "严重精神障碍患者", "Severe mental illness";
        CommunityCorrection = "community_correction", "社区矫正对象", "Under community correction";
        Released = "released", "刑满释放人员", "Released from prison";
        DrugUser = "drug_user", "吸毒人员", "Drug user";
        FraudVictim = "fraud_victim", "电诈受害人", "Fraud victim";
    }
}

vocabulary! {
    /// Kinds of establishment (实有单位).
    EstablishmentKind {
        Shop = "shop", "商店", "Shop";
        Restaurant = "restaurant", "餐饮", "Restaurant";
        Hotel = "hotel", "旅馆", "Hotel";
        InternetCafe = "internet_cafe", "网吧", "Internet café";
        Entertainment = "entertainment", "娱乐场所", "Entertainment venue";
        School = "school", "学校", "School";
        Hospital = "hospital", "医疗机构", "Hospital or clinic";
        Factory = "factory", "工厂", "Factory";
        Logistics = "logistics", "物流寄递", "Logistics and delivery";
        Finance = "finance", "金融网点", "Bank or finance";
        Office = "office", "机关单位", "Office or institution";
        Other = "other", "其他", "Other";
    }
}

/// The datum coordinates arrive in; stored coordinates are always WGS-84.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatumCode {
    #[default]
    Wgs84,
    Gcj02,
    Cgcs2000,
}

impl From<DatumCode> for pingan_geo::Datum {
    fn from(d: DatumCode) -> Self {
        match d {
            DatumCode::Wgs84 => pingan_geo::Datum::Wgs84,
            DatumCode::Gcj02 => pingan_geo::Datum::Gcj02,
            DatumCode::Cgcs2000 => pingan_geo::Datum::Cgcs2000,
        }
    }
}

/// A person's name: 1–50 characters after trimming, no control characters. Names from minority
/// languages carry a middle dot (·); both the Chinese and the Latin dot are kept as typed.
pub fn check_person_name(s: &str) -> Result<String, &'static str> {
    check_text(s, 1, 50)
}

/// Free text of bounded length with no control characters.
pub fn check_text(s: &str, min: usize, max: usize) -> Result<String, &'static str> {
    // The raw length is what the API document promises to bound, so it is checked before trimming.
    if s.chars().count() > max {
        return Err("too long");
    }
    let t = s.trim();
    let n = t.chars().count();
    if n < min {
        return Err(if min == 1 { "required" } else { "too short" });
    }
    if n > max {
        return Err("too long");
    }
    if t.chars().any(char::is_control) {
        return Err("control characters are not allowed");
    }
    Ok(t.to_string())
}

/// Free text over several lines (notes): like [`check_text`], but line breaks and tabs are kept.
pub fn check_multiline(s: &str, max: usize) -> Result<String, &'static str> {
    if s.chars().count() > max {
        return Err("too long");
    }
    let t = s.trim();
    if t.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err("control characters are not allowed");
    }
    Ok(t.to_string())
}

/// The key two spellings of one standard address share: whitespace removed, full-width letters
/// and digits folded to half-width, ASCII lower-cased. "人民路 ８号" and "人民路8号" are one address.
pub fn address_key(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

const CREDIT_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// 统一社会信用代码 (GB 32100-2015): 18 characters from a 31-letter alphabet (no I, O, S, V,
/// Z), the last a check character. Returned upper-cased.
pub fn check_credit_code(s: &str) -> Result<String, &'static str> {
    let code: String = s.trim().to_ascii_uppercase();
    if code.chars().count() != 18 {
        return Err("a unified social credit code has 18 characters");
    }
    let values: Option<Vec<u32>> = code.chars().map(|c| CREDIT_CHARS.find(c).map(|i| i as u32)).collect();
    let Some(values) = values else {
        return Err("a unified social credit code uses digits and the letters A–Y without I, O, S, V, Z");
    };
    let sum: u32 = values[..17].iter().zip(CREDIT_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    if values[17] != check {
        return Err("the check character is wrong");
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_credit_check(seventeen: &str) -> String {
        let sum: u32 =
            seventeen.chars().zip(CREDIT_WEIGHTS).map(|(c, w)| CREDIT_CHARS.find(c).unwrap() as u32 * w).sum();
        let check = (31 - sum % 31) % 31;
        format!("{seventeen}{}", CREDIT_CHARS.chars().nth(check as usize).unwrap())
    }

    #[test]
    fn a_published_credit_code_passes() {
        // The code printed on a widely published business licence (Tencent, Shenzhen).
        assert_eq!(check_credit_code("91440300708461136t"), Ok("91440300708461136T".into()));
    }

    #[test]
    fn credit_codes_with_a_wrong_check_or_letter_are_refused() {
        let good = with_credit_check("91410700MA44XXXX1");
        assert!(check_credit_code(&good).is_ok());
        let mut bad = good.clone();
        bad.replace_range(17.., if good.ends_with('0') { "1" } else { "0" });
        assert_eq!(check_credit_code(&bad), Err("the check character is wrong"));
        assert!(check_credit_code("91410700MA44OOOO10").is_err());
        assert!(check_credit_code("9141").is_err());
    }

    #[test]
    fn address_keys_fold_spaces_and_full_width_forms() {
        assert_eq!(address_key("人民路 ８号 Ａ座"), address_key("人民路8号a座"));
        assert_ne!(address_key("人民路8号"), address_key("人民路9号"));
    }

    #[test]
    fn vocabularies_parse_codes_and_both_labels() {
        assert_eq!(HouseUse::parse("出租"), Some(HouseUse::Rented));
        assert_eq!(HouseUse::parse("rented"), Some(HouseUse::Rented));
        assert_eq!(Tag::parse("Elderly living alone"), Some(Tag::ElderlyAlone));
        assert_eq!(Sex::parse("其它"), None);
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(check_person_name("  买买提·艾力 "), Ok("买买提·艾力".into()));
        assert!(check_person_name(" ").is_err());
        assert!(check_person_name(&"张".repeat(51)).is_err());
        assert!(check_person_name("张\u{0}三").is_err());
    }
}
