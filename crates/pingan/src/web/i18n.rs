//! Interface text: Simplified Chinese first, English by a remembered switch (the `lang` cookie).
//! Domain terms follow DOMAIN.md.

use axum::http::{header, HeaderMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn from_headers(h: &HeaderMap) -> Lang {
        let cookie = h
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|kv| kv.trim().strip_prefix("lang=").map(str::to_string));
        match cookie.as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn t(self, key: &str) -> &'static str {
        match TABLES.iter().flat_map(|t| t.iter()).find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => "??",
        }
    }
}

/// Every table of interface text; each capability keeps its own beside this one.
const TABLES: &[&[(&str, &str, &str)]] = &[
    TEXT,
    super::i18n_base::TEXT,
    super::i18n_grids::TEXT,
    super::i18n_places::TEXT,
    super::i18n_antifraud::TEXT,
    super::i18n_push::TEXT,
];

/// (key, 中文, English)
const TEXT: &[(&str, &str, &str)] = &[
    ("app.name", "平安", "pingan"),
    ("app.tagline", "公安基层治理平台", "Community policing platform"),
    ("nav.home", "首页", "Home"),
    ("nav.org", "组织机构", "Organisation"),
    ("nav.map", "网格地图", "Grid map"),
    ("map.title", "网格地图", "Grid map"),
    ("map.measure", "着色", "Colour by"),
    ("map.measure.responsible", "是否落实责任民警", "Responsible officer assigned"),
    ("map.measure.none", "不着色", "None"),
    ("map.search_hint", "网格名称、代码或地址", "Grid name, code or address"),
    ("map.zoom_in", "放大", "Zoom in"),
    ("map.zoom_out", "缩小", "Zoom out"),
    ("map.reset", "复位", "Reset"),
    ("map.responsible", "责任民警", "Responsible officer"),
    ("map.loading", "正在加载网格……", "Loading grids…"),
    ("map.empty", "辖区内暂无网格边界。", "No grid boundaries in your jurisdiction yet."),
    ("map.not_found", "没有找到匹配的网格。", "No grid matches."),
    ("map.load_failed", "网格加载失败,请刷新重试。", "The grids could not be loaded; reload to try again."),
    ("map.signed_out", "登录已失效,请重新登录。", "You are signed out; sign in again."),
    ("nav.accounts", "账号", "Accounts"),
    ("nav.grants", "授权", "Grants"),
    ("nav.security", "安全策略", "Security policy"),
    ("nav.tokens", "集成令牌", "Integration tokens"),
    ("nav.audit", "审计日志", "Audit log"),
    ("nav.me", "我的账号", "My account"),
    ("nav.signout", "退出", "Sign out"),
    ("nav.lang", "English", "中文"),
    ("demo.banner", "演示环境:数据均为虚构,已关闭双因素认证,请勿录入真实数据。", "Demo: all data is fictitious, two-factor sign-in is off; do not enter real data."),
    ("login.title", "登录", "Sign in"),
    ("login.notice", "本系统为公安机关内部业务系统,仅限授权人员依职责使用。所有操作均被记录并接受审计,违规使用将依法追究责任。", "This is an internal system of the public security organs, for authorised staff acting within their duties only. Every action is recorded and audited; misuse is prosecuted."),
    ("login.username", "用户名", "Username"),
    ("login.password", "密码", "Password"),
    ("login.totp", "动态验证码(已启用双因素认证时填写)", "Authenticator code (if two-factor sign-in is on)"),
    ("login.submit", "登录", "Sign in"),
    ("login.failed", "用户名、密码或验证码错误,或账号已被锁定。", "Wrong username, password or code, or the account is locked."),
    ("login.rate_limited", "该地址尝试次数过多,请稍后再试。", "Too many attempts from this address; try again later."),
    ("home.title", "工作台", "Workbench"),
    ("home.welcome", "欢迎,", "Welcome, "),
    ("home.node", "所属单位", "Unit"),
    ("home.roles", "角色", "Roles"),
    ("home.subtree", "辖区下属单位", "Units in jurisdiction"),
    ("home.accounts", "辖区账号", "Accounts in jurisdiction"),
    ("home.tasks", "可用功能", "What you can do"),
    ("home.audit_today", "今日审计记录", "Audit entries today"),
    ("home.no_tasks", "您的角色暂无可用功能,请联系安全管理员。", "Your roles grant nothing yet; ask the security administrator."),
    ("org.title", "组织机构", "Organisation"),
    ("org.code", "代码", "Code"),
    ("org.kind", "类型", "Kind"),
    ("org.name", "名称", "Name"),
    ("org.parent", "上级", "Parent"),
    ("org.valid_from", "生效日期", "Valid from"),
    ("org.valid_to", "失效日期", "Valid to"),
    ("org.create", "新建单位", "New unit"),
    ("org.rename", "改名", "Rename"),
    ("org.move", "调整隶属", "Move"),
    ("org.retire", "撤销", "Retire"),
    ("org.history", "变更历史", "History"),
    ("org.retired", "已撤销", "Retired"),
    ("org.import", "从 CSV 导入", "Import from CSV"),
    ("org.empty", "暂无单位。", "No units yet."),
    ("kind.bureau", "市公安局", "City bureau"),
    ("kind.branch", "分局/县局", "Branch"),
    ("kind.station", "派出所", "Station"),
    ("kind.post", "警务室", "Post"),
    ("kind.grid", "网格", "Grid"),
    ("kind.unit", "职能部门", "Functional unit"),
    ("acc.title", "账号", "Accounts"),
    ("acc.username", "用户名", "Username"),
    ("acc.name", "姓名", "Name"),
    ("acc.police_number", "警号", "Police number"),
    ("acc.phone", "手机号", "Phone"),
    ("acc.node", "所属单位", "Unit"),
    ("acc.roles", "角色", "Roles"),
    ("acc.status", "状态", "Status"),
    ("acc.active", "正常", "Active"),
    ("acc.disabled", "已停用", "Disabled"),
    ("acc.locked", "已锁定", "Locked"),
    ("acc.create", "新建账号", "New account"),
    ("acc.disable", "停用", "Disable"),
    ("acc.enable", "启用", "Enable"),
    ("acc.unlock", "解锁", "Unlock"),
    ("acc.set_roles", "设置角色", "Set roles"),
    ("acc.move", "调整单位", "Change unit"),
    ("acc.unmask", "查看完整号码", "Show full number"),
    ("acc.reason", "查看理由", "Reason"),
    ("acc.import", "批量导入", "Bulk import"),
    ("acc.empty", "辖区内暂无账号。", "No accounts in your jurisdiction."),
    ("acc.temp_password", "临时密码(仅显示一次)", "Temporary password (shown once)"),
    ("grants.title", "数据授权", "Data grants"),
    ("grants.level", "级别", "Level"),
    ("grants.reason", "理由", "Reason"),
    ("grants.expires", "到期", "Expires"),
    ("grants.revoke", "撤销授权", "Revoke"),
    ("grants.create", "新增授权", "New grant"),
    ("grants.empty", "暂无授权。", "No grants."),
    ("grants.revoked", "已撤销", "Revoked"),
    ("level.full", "完整", "Full"),
    ("level.masked", "脱敏", "Masked"),
    ("level.counts_only", "仅统计", "Counts only"),
    ("sec.title", "安全策略", "Security policy"),
    ("sec.mfa", "要求双因素认证的角色", "Roles that must use two-factor sign-in"),
    ("sec.save", "保存", "Save"),
    ("tok.title", "集成令牌", "Integration tokens"),
    ("tok.name", "名称", "Name"),
    ("tok.permissions", "权限", "Permissions"),
    ("tok.expires", "到期", "Expires"),
    ("tok.allow_ips", "允许的来源地址", "Allowed addresses"),
    ("tok.create", "新建令牌", "New token"),
    ("tok.revoke", "吊销", "Revoke"),
    ("tok.shown_once", "令牌仅显示这一次,请立即保存:", "The token is shown only this once; store it now:"),
    ("tok.empty", "暂无令牌。", "No tokens."),
    ("tok.revoked", "已吊销", "Revoked"),
    ("audit.title", "审计日志", "Audit log"),
    ("audit.at", "时间", "Time"),
    ("audit.actor", "操作人", "Actor"),
    ("audit.ip", "来源地址", "Address"),
    ("audit.action", "操作", "Action"),
    ("audit.records", "涉及记录", "Records"),
    ("audit.outcome", "结果", "Outcome"),
    ("audit.request", "请求号", "Request"),
    ("audit.from", "起", "From"),
    ("audit.to", "止", "To"),
    ("audit.search", "查询", "Search"),
    ("audit.export", "导出 CSV", "Export CSV"),
    ("audit.empty", "没有符合条件的记录。", "No matching entries."),
    ("me.title", "我的账号", "My account"),
    ("me.change_password", "修改密码", "Change password"),
    ("me.current_password", "当前密码", "Current password"),
    ("me.new_password", "新密码(至少 12 个字符)", "New password (at least 12 characters)"),
    ("me.mfa", "双因素认证", "Two-factor sign-in"),
    ("me.mfa_on", "已启用", "On"),
    ("me.mfa_off", "未启用", "Off"),
    ("me.mfa_start", "开始绑定验证器", "Set up an authenticator"),
    ("me.mfa_scan", "用验证器应用扫描二维码,然后输入显示的 6 位验证码完成绑定。", "Scan the code with an authenticator app, then enter the 6-digit code it shows."),
    ("me.mfa_confirm", "完成绑定", "Confirm"),
    ("me.recovery", "恢复码(每个只能使用一次,请妥善保存):", "Recovery codes (each works once; keep them safe):"),
    ("me.must_enrol", "您的角色要求双因素认证,请先完成绑定。", "Your role requires two-factor sign-in; set it up first."),
    ("me.must_change", "请先设置新密码。", "Set a new password first."),
    ("me.saved", "已保存。", "Saved."),
    ("common.save", "保存", "Save"),
    ("common.cancel", "取消", "Cancel"),
    ("common.actions", "操作", "Actions"),
    ("common.prev", "上一页", "Previous"),
    ("common.next", "下一页", "Next"),
    ("common.total", "共", "Total"),
    ("common.search", "搜索", "Search"),
    ("common.none", "无", "None"),
    ("common.back", "返回", "Back"),
    ("common.viewer", "查看人", "Viewer"),
    ("error.title", "出错了", "Something went wrong"),
    ("error.request_id", "请求号", "Request id"),
    ("error.field", "字段", "Field"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique() {
        let mut keys: Vec<_> = TEXT.iter().map(|(k, _, _)| *k).collect();
        keys.sort();
        let n = keys.len();
        keys.dedup();
        assert_eq!(n, keys.len());
    }

    #[test]
    fn chinese_is_the_default() {
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::Zh);
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=b; lang=en".parse().unwrap());
        assert_eq!(Lang::from_headers(&h).t("nav.home"), "Home");
    }
}
