//! Interface text of the house and establishment pages, the base-data edit forms and list paging;
//! beside the other tables so each stays readable in one sitting.

pub const TEXT: &[(&str, &str, &str)] = &[
    ("nav.houses", "实有房屋", "Houses"),
    ("common.page", "页", "Page"),
    (
        "exp.counts_only",
        "导出本列表（仅地点和数量，带导出人水印）：",
        "Export this list (places and counts only, with your watermark):",
    ),
    ("res.id_keep", "留空则保留已登记的号码", "Leave empty to keep the recorded number"),
    ("res.id_remove", "删除已登记的证件号码", "Remove the recorded ID number"),
    ("res.phones_keep", "已登记的电话（取消勾选即删除）", "Recorded phones (untick to remove)"),
    ("res.phones_add", "新增电话（多个用逗号分隔）", "Add phones (separate with commas)"),
    ("addr.edit", "修改地址", "Correct the address"),
    (
        "addr.edit_hint",
        "改正坐标后，该地址的房屋、人员和单位随之归入新坐标所在的网格。",
        "When the point is corrected, the houses, residents and establishments here move with it to its grid.",
    ),
    ("house.title", "实有房屋", "Houses"),
    ("house.whole", "整栋/整户", "Whole house"),
    ("house.new_hint", "在标准地址页面登记该地址的房屋。", "Record a house from its address's page."),
    ("house.empty", "没有找到符合条件的房屋。", "No houses match."),
    ("house.tenants", "租户", "Tenants"),
    ("house.tenant_names", "租户姓名", "Tenants' names"),
    ("house.edit", "修改房屋", "Correct the house"),
    ("house.address_id", "标准地址编号", "Address number"),
    ("house.area", "面积（平方米）", "Area (m²)"),
    ("house.occupants", "居住人员", "Living here"),
    ("house.no_one", "没有登记居住人员。", "No one is recorded as living here."),
    ("est.new", "登记单位", "Record an establishment"),
    ("est.edit", "修改单位信息", "Correct the establishment"),
    ("est.name_part", "单位名称（可输入部分）", "Name (or part)"),
    ("est.new_hint", "在标准地址页面登记该地址的单位。", "Record an establishment from its address's page."),
    ("est.phone_keep", "留空则保留已登记的电话", "Leave empty to keep the recorded phone"),
    ("est.phone_remove", "删除已登记的电话", "Remove the recorded phone"),
    ("est.inspections", "单位检查记录", "Inspections"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_unique_across_every_table() {
        let mut keys: Vec<&str> = super::TEXT.iter().chain(super::super::i18n_base::TEXT).map(|(k, _, _)| *k).collect();
        for (k, _, _) in super::TEXT {
            assert_ne!(crate::web::i18n::Lang::En.t(k), "??", "{k}");
        }
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(n, keys.len(), "a key is defined twice");
    }
}
