//! Words the demo city is made of: surnames in roughly their Henan frequency, given names by
//! generation, Xinxiang's districts, towns and streets, and where floating people come from.

use super::names::Lcg;

/// (surname, weight per thousand): 王李张刘 alone are a quarter of Henan.
const SURNAMES: &[(&str, u32)] = &[
    ("王", 80),
    ("李", 75),
    ("张", 75),
    ("刘", 60),
    ("陈", 40),
    ("杨", 30),
    ("赵", 28),
    ("郭", 22),
    ("孙", 20),
    ("马", 20),
    ("周", 18),
    ("吴", 16),
    ("徐", 14),
    ("朱", 14),
    ("胡", 13),
    ("高", 13),
    ("黄", 12),
    ("宋", 12),
    ("何", 10),
    ("郑", 10),
    ("韩", 10),
    ("冯", 10),
    ("田", 10),
    ("程", 9),
    ("牛", 9),
    ("申", 8),
    ("常", 8),
    ("乔", 8),
    ("耿", 7),
    ("贾", 7),
    ("任", 7),
    ("魏", 7),
    ("崔", 7),
    ("董", 7),
    ("曹", 6),
    ("袁", 6),
    ("许", 6),
    ("邓", 6),
    ("谢", 6),
    ("吕", 6),
    ("苏", 6),
    ("丁", 6),
    ("杜", 5),
    ("史", 5),
    ("侯", 5),
    ("姚", 5),
    ("范", 5),
    ("孟", 5),
    ("秦", 5),
    ("梁", 5),
    ("卢", 5),
    ("靳", 4),
    ("闫", 4),
    ("焦", 4),
    ("武", 4),
    ("路", 4),
    ("白", 4),
    ("石", 4),
    ("段", 4),
    ("薛", 4),
    ("毛", 3),
    ("尚", 3),
    ("付", 3),
    ("邵", 3),
    ("葛", 3),
    ("黎", 2),
    ("岳", 2),
    ("司马", 1),
    ("欧阳", 1),
];

/// Given names by generation: born before 1965, 1965–1989, from 1990.
const MALE: [&[&str]; 3] = [
    &[
        "建国", "国庆", "卫东", "红军", "德胜", "保国", "新民", "玉山", "永福", "长江", "振华", "国强", "树林", "金锁",
        "满仓", "根生", "福海", "建设", "志刚", "连成",
    ],
    &[
        "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "辉", "鹏", "斌", "波", "海涛", "建华", "志强",
        "红伟", "晓东", "俊峰", "宏伟", "卫星", "亚飞", "利民", "少华",
    ],
    &[
        "子轩", "浩然", "宇航", "俊杰", "浩宇", "一鸣", "梓豪", "博文", "皓轩", "思远", "天佑", "嘉豪", "宇", "鑫",
        "凯", "帅", "旭", "阳", "晨阳", "家乐",
    ],
];
const FEMALE: [&[&str]; 3] = [
    &[
        "秀英", "桂英", "玉兰", "淑珍", "秀兰", "凤英", "桂兰", "玉珍", "春梅", "红梅", "素芳", "翠花", "爱莲", "金花",
        "玉梅", "秀珍", "淑英", "桂芳", "冬梅", "月娥",
    ],
    &[
        "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "丽娟", "晓燕", "海燕", "红霞", "美玲", "慧", "婷", "雪",
        "丽萍", "彩霞", "晓丽", "亚楠", "利娟", "玉洁", "俊红",
    ],
    &[
        "梓涵", "欣怡", "诗涵", "雨桐", "子涵", "佳怡", "思雨", "一诺", "可馨", "梦瑶", "雨欣", "语嫣", "若曦", "佳琪",
        "婉清", "紫萱", "悦", "璐", "萌", "颖",
    ],
];

pub fn surname(rng: &mut Lcg) -> &'static str {
    let total: u32 = SURNAMES.iter().map(|(_, w)| w).sum();
    let mut r = (rng.next() % total as u64) as u32;
    for (s, w) in SURNAMES {
        if r < *w {
            return s;
        }
        r -= w;
    }
    SURNAMES[0].0
}

pub fn given(rng: &mut Lcg, male: bool, born: i32) -> &'static str {
    let era = match born {
        ..1965 => 0,
        1965..1990 => 1,
        _ => 2,
    };
    rng.pick(if male { MALE[era] } else { FEMALE[era] })
}

/// A county-level district of Xinxiang: the branch that polices it and the towns or
/// sub-districts its stations are named after. The first three keep the district demo's names.
pub struct County {
    pub region: &'static str,
    pub name: &'static str,
    pub branch: &'static str,
    /// City districts are flats in compounds; counties are villages of houses.
    pub urban: bool,
    pub towns: &'static [&'static str],
}

pub const COUNTIES: &[County] = &[
    County {
        region: "410702",
        name: "红旗区",
        branch: "红旗分局",
        urban: true,
        towns: &["向阳", "东街", "西街", "渠东", "文化街", "洪门", "关堤", "小店"],
    },
    County {
        region: "410703",
        name: "卫滨区",
        branch: "卫滨分局",
        urban: true,
        towns: &["胜利路", "健康路", "中同街", "自由路", "解放路", "南桥", "铁西"],
    },
    County {
        region: "410711",
        name: "牧野区",
        branch: "牧野分局",
        urban: true,
        towns: &["王村", "花园", "荣校路", "卫北", "东干道", "北干道"],
    },
    County {
        region: "410704",
        name: "凤泉区",
        branch: "凤泉分局",
        urban: true,
        towns: &["宝西", "宝东", "耿黄", "大块", "潞王坟"],
    },
    County {
        region: "410721",
        name: "新乡县",
        branch: "新乡县公安局",
        urban: false,
        towns: &["小冀", "七里营", "朗公庙", "古固寨", "大召营", "翟坡"],
    },
    County {
        region: "410724",
        name: "获嘉县",
        branch: "获嘉县公安局",
        urban: false,
        towns: &["城关", "照镜", "黄堤", "中和", "徐营", "亢村"],
    },
    County {
        region: "410725",
        name: "原阳县",
        branch: "原阳县公安局",
        urban: false,
        towns: &["城关", "阳阿", "福宁集", "齐街", "太平", "路寨"],
    },
    County {
        region: "410726",
        name: "延津县",
        branch: "延津县公安局",
        urban: false,
        towns: &["城关", "东屯", "丰庄", "小潭", "榆林", "石婆固"],
    },
    County {
        region: "410727",
        name: "封丘县",
        branch: "封丘县公安局",
        urban: false,
        towns: &["城关", "黄陵", "黄德", "应举", "陈桥", "赵岗"],
    },
    County {
        region: "410781",
        name: "卫辉市",
        branch: "卫辉市公安局",
        urban: false,
        towns: &["汲水", "太公", "孙杏村", "后河", "李源屯", "唐庄"],
    },
    County {
        region: "410782",
        name: "辉县市",
        branch: "辉县市公安局",
        urban: false,
        towns: &["城关", "百泉", "孟庄", "常村", "吴村", "南村", "胡桥"],
    },
    County {
        region: "410783",
        name: "长垣市",
        branch: "长垣市公安局",
        urban: false,
        towns: &["蒲东", "蒲西", "魏庄", "丁栾", "樊相"],
    },
];

pub const STREETS: &[&str] = &[
    "人民路",
    "平原路",
    "解放大道",
    "胜利路",
    "健康路",
    "和平大道",
    "新中大道",
    "金穗大道",
    "劳动街",
    "自由路",
    "宏力大道",
    "华兰大道",
    "新飞大道",
    "东明大道",
    "西华大道",
    "北站路",
    "牧野大道",
    "卫河路",
    "荣校路",
    "向阳路",
    "化工路",
    "振中路",
    "科隆大道",
    "南干道",
    "北干道",
    "东干道",
    "育才路",
    "中同街",
    "新一街",
    "仓库路",
    "道清路",
    "红旗路",
    "首创大道",
];

const COMPOUND_HEAD: &[&str] = &[
    "金色", "阳光", "幸福", "锦绣", "富达", "世纪", "和谐", "银河", "翠湖", "东方", "凤凰", "绿城", "丽景", "书香",
    "学府", "滨河", "御景", "康乐", "建业", "泰和",
];
const COMPOUND_TAIL: &[&str] = &["花园", "家园", "小区", "新村", "华庭", "苑", "公寓", "名门", "佳苑", "城"];

pub fn compound(rng: &mut Lcg) -> String {
    format!("{}{}", rng.pick(COMPOUND_HEAD), rng.pick(COMPOUND_TAIL))
}

const VILLAGE_HEAD: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "郭", "孙", "马", "周", "吴", "徐", "朱", "胡", "高", "宋", "韩", "冯",
    "田", "程", "牛", "申", "常", "乔", "耿", "贾", "任", "魏", "崔", "前", "后", "东", "西", "南", "北", "大", "小",
    "新", "老",
];
const VILLAGE_TAIL: &[&str] =
    &["庄", "屯", "营", "寨", "集", "店", "堤", "岗", "湾", "楼", "庙", "桥", "河", "坡", "固"];

pub fn village(rng: &mut Lcg) -> String {
    format!("{}{}", rng.pick(VILLAGE_HEAD), rng.pick(VILLAGE_TAIL))
}

/// Where floating people are registered: (region code, 户籍地).
pub const ELSEWHERE: &[(&str, &str)] = &[
    ("411421", "河南省商丘市民权县"),
    ("411425", "河南省商丘市虞城县"),
    ("410526", "河南省安阳市滑县"),
    ("410822", "河南省焦作市博爱县"),
    ("411323", "河南省南阳市淅川县"),
    ("411624", "河南省周口市沈丘县"),
    ("130481", "河北省邯郸市武安市"),
    ("370921", "山东省泰安市宁阳县"),
    ("340321", "安徽省蚌埠市怀远县"),
    ("140581", "山西省晋城市高平市"),
];

/// (shop word, kind code): what a street holds.
pub const SHOPS: &[(&str, &str)] = &[
    ("便民超市", "shop"),
    ("烟酒店", "shop"),
    ("五金店", "shop"),
    ("家常菜馆", "restaurant"),
    ("烩面馆", "restaurant"),
    ("早餐店", "restaurant"),
    ("快捷酒店", "hotel"),
    ("宾馆", "hotel"),
    ("网咖", "internet_cafe"),
    ("KTV", "entertainment"),
    ("幼儿园", "school"),
    ("诊所", "hospital"),
    ("药店", "shop"),
    ("机械厂", "factory"),
    ("快递驿站", "logistics"),
    ("物流公司", "logistics"),
    ("农村信用社", "finance"),
    ("便民服务中心", "office"),
    ("理发店", "other"),
    ("洗车行", "other"),
];

/// What officers write after a visit, by finding code.
pub fn visit_note(rng: &mut Lcg, finding: &str) -> &'static str {
    let notes: &[&str] = match finding {
        "hazard" => &["楼道堆放杂物，已提醒清理", "电动车楼道充电，已劝离", "燃气管道老化，已告知物业"],
        "dispute" => &["邻里噪音纠纷，已调解", "家庭矛盾，已疏导", "租金纠纷，已约谈双方"],
        "needs_help" => &["老人独居，联系社区帮扶", "低保申请咨询，已转社区", "行动不便，安排定期探访"],
        _ => &["", "核对人口信息", "反诈宣传", "", "登记新增住户"],
    };
    rng.pick(notes)
}
