//! Interface text of the grid and team pages (网格, 一格一警, 挂钩), kept beside the main table
//! so each stays readable in one sitting.

pub const TEXT: &[(&str, &str, &str)] = &[
    ("team.title", "网格团队", "Grid team"),
    ("team.duty", "职责", "Duty"),
    ("team.duty.responsible", "责任民警", "Responsible officer"),
    ("team.duty.community_officer", "社区民警", "Community officer"),
    ("team.duty.auxiliary", "辅警", "Auxiliary"),
    ("team.duty.grid_worker", "网格员", "Grid worker"),
    ("team.duty.volunteer", "义警", "Volunteer"),
    ("team.account", "人员", "Member"),
    ("team.since", "加入日期", "Since"),
    ("team.add", "加入团队", "Add to the team"),
    ("team.remove", "移出团队", "Remove from the team"),
    ("team.empty", "尚未组建团队。", "No team yet."),
    (
        "team.rules",
        "人员须为本网格所属派出所的在职人员，职责须与角色相符：责任民警、社区民警须为民警，辅警、网格员、义警须为相应角色。新的责任民警将替换原责任民警。",
        "Members are active staff of the grid's station whose role fits the duty: responsible and community officers are sworn officers; auxiliaries, grid workers and volunteers hold those roles. A new responsible officer replaces the previous one.",
    ),
    ("team.card", "网格团队", "Team"),
    ("nav.grids", "网格管理", "Grids"),
    ("grids.title", "网格管理", "Grids"),
    (
        "grids.explain",
        "一格一警：每个网格应有一名责任民警和一支团队。点击网格名称查看和调整团队。",
        "One officer per grid (一格一警): every grid should have a responsible officer and a team. Open a grid to see and change its team.",
    ),
    ("grids.only_gaps", "只看未落实责任民警的网格", "Only grids without a responsible officer"),
    ("grids.empty", "没有符合条件的网格。", "No grids match."),
    ("grids.team_size", "团队人数", "Team size"),
    ("grids.no_responsible", "未落实责任民警", "No responsible officer"),
    ("grids.linked", "挂钩民警", "Officers linked (挂钩)"),
    ("grids.page", "网格详情", "Grid page"),
    ("nav.duty_links", "挂钩安排", "Village links"),
    ("links.title", "挂钩安排", "Village links (挂钩)"),
    ("links.new", "新增挂钩", "Link an officer"),
    ("links.create", "建立挂钩", "Link"),
    ("links.live", "在挂钩", "Live links"),
    ("links.none", "辖区内暂无挂钩。", "No links in your jurisdiction."),
    ("links.since", "挂钩日期", "Since"),
    ("links.end", "解除挂钩", "End the link"),
    ("links.end_confirm", "确定解除该挂钩？已记录的履职保留。", "End this link? The duties recorded on it stay."),
];

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_unique_across_every_table() {
        let mut keys: Vec<&str> = super::TEXT.iter().map(|(k, _, _)| *k).collect();
        keys.extend(crate::web::i18n_base::TEXT.iter().map(|(k, _, _)| *k));
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(n, keys.len(), "a key of this table is also in i18n_base");
    }
}
