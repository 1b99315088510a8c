//! The residents import template: one row per person, with the address they live at. Headers in
//! Chinese (as written by `pingan import --template residents`) or English.

use crate::tabular::template::column as col;
use crate::tabular::Template;

pub static RESIDENTS: Template = Template {
    name: "residents",
    columns: &[
        col("name", "姓名", "Name", true, &[], "1–50 字", "1–50 characters"),
        col(
            "id_number",
            "公民身份号码",
            "ID number",
            false,
            &["身份证号", "身份证号码", "证件号码"],
            "18位（15位旧号自动升位）；港澳台居住证、外国人永久居留证亦可；无证件可留空。请将该列设为文本格式",
            "18 characters (old 15-digit numbers are upgraded); HK/Macau/Taiwan residence permits and foreigners' permanent residence numbers accepted; may be empty. Format the column as text",
        ),
        col("sex", "性别", "Sex", false, &[], "男/女；有身份号码时由号码确定", "male/female; taken from the ID number when there is one"),
        col("phones", "联系电话", "Phones", false, &["电话", "手机号"], "多个号码用分号分隔", "several numbers separated by semicolons"),
        col("residence", "人口类型", "Residence", true, &["户籍/流动"], "户籍人口 或 流动人口", "registered or floating"),
        col("registered_address", "户籍地址", "Registered address", false, &[], "", ""),
        col("address", "现住地址", "Current address", true, &["标准地址"], "标准地址全称；同一地址写法一致即合并", "the standard address; the same text is one address"),
        col("lon", "经度", "Longitude", false, &[], "新地址必填", "required for an address not yet recorded"),
        col("lat", "纬度", "Latitude", false, &[], "新地址必填", "required for an address not yet recorded"),
        col("datum", "坐标系", "Datum", false, &[], "WGS84（默认）、GCJ02 或 CGCS2000", "WGS84 (default), GCJ02 or CGCS2000"),
        col("unit", "房屋（单元/室）", "Unit", false, &["房屋", "单元"], "如 3单元502；留空表示整栋/整户", "e.g. 3单元502; empty for the whole house"),
        col("house_use", "房屋用途", "House use", false, &[], "自住、出租 或 空置", "owner-occupied, rented or vacant"),
        col("relation", "与房屋关系", "Relation to house", false, &[], "房主、家庭成员、租户、其他", "owner, family, tenant or other"),
        col("tags", "关注标签", "Tags", false, &["标签"], "如 独居老人；多个用分号分隔", "e.g. elderly living alone; several separated by semicolons"),
        col("note", "备注", "Note", false, &[], "", ""),
    ],
};

pub fn by_name(name: &str) -> Option<&'static Template> {
    match name {
        "residents" => Some(&RESIDENTS),
        "warnings" => Some(&crate::antifraud::import_template::WARNINGS),
        _ => None,
    }
}

/// Splits a cell holding several values ("138…; 139…", "独居老人、残疾人").
pub fn split_list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', '；', ',', '，', '、', '/', '\n']).map(str::trim).filter(|s| !s.is_empty())
}
