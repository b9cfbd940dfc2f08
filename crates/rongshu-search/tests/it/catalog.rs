//! A small hand-made catalog: thirty-odd resources of Chengdu departments.

use rongshu_search::{CatalogDoc, SearchIndex};

pub struct Spec {
    pub code: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub provider: (&'static str, &'static str),
    pub kind: &'static str,
    pub topics: &'static [&'static str],
    pub keywords: &'static [&'static str],
    pub items: &'static [&'static str],
    pub share: &'static str,
    pub open: &'static str,
    pub format: &'static str,
    pub cycle: &'static str,
}

const GA: (&str, &str) = ("11510100GA", "成都市公安局");
const MZ: (&str, &str) = ("11510100MZ", "成都市民政局");
const RS: (&str, &str) = ("11510100RS", "成都市人力资源和社会保障局");
const WJ: (&str, &str) = ("11510100WJ", "成都市卫生健康委员会");
const YB: (&str, &str) = ("11510100YB", "成都市医疗保障局");
const SJ: (&str, &str) = ("11510100SJ", "成都市市场监督管理局");
const SW: (&str, &str) = ("11510100SW", "国家税务总局成都市税务局");
const GJJ: (&str, &str) = ("12510100GJ", "成都住房公积金管理中心");
const JY: (&str, &str) = ("11510100JY", "成都市教育局");
const WHJY: (&str, &str) = ("11510107JY", "武侯区教育局");
const JT: (&str, &str) = ("11510100JT", "成都市交通运输局");
const GT: (&str, &str) = ("11510100GT", "成都市规划和自然资源局");
const HB: (&str, &str) = ("11510100HB", "成都市生态环境局");
const TJ: (&str, &str) = ("11510100TJ", "成都市统计局");

macro_rules! spec {
    ($code:literal, $name:literal, $summary:literal, $provider:expr, $kind:literal,
     [$($topic:literal),*], [$($kw:literal),*], [$($item:literal),*],
     $share:literal, $open:literal, $format:literal, $cycle:literal) => {
        Spec {
            code: $code, name: $name, summary: $summary, provider: $provider, kind: $kind,
            topics: &[$($topic),*], keywords: &[$($kw),*], items: &[$($item),*],
            share: $share, open: $open, format: $format, cycle: $cycle,
        }
    };
}

#[rustfmt::skip]
pub const SPECS: &[Spec] = &[
    spec!("GA-001", "人口基础信息", "全市户籍人口的基本登记信息", GA, "base",
          ["公共安全"], ["户籍", "常住人口"], ["公民身份号码", "id_number", "姓名", "name", "出生日期", "户籍地址"],
          "conditional", "closed", "table", "realtime"),
    spec!("GA-002", "机动车登记信息", "在本市登记的机动车及其所有人", GA, "department",
          ["交通服务"], ["号牌", "车辆"], ["号牌号码", "plate_no", "车辆识别代号", "所有人"],
          "conditional", "closed", "table", "daily"),
    spec!("GA-003", "机动车驾驶证信息", "驾驶人及其准驾车型、记分", GA, "department",
          ["交通服务"], ["驾驶人", "准驾车型"], ["驾驶证号", "准驾车型", "累积记分"],
          "conditional", "closed", "table", "daily"),
    spec!("GA-004", "流动人口居住登记信息", "来蓉居住半年以上人员的居住证办理情况", GA, "department",
          ["公共安全"], ["居住证"], ["公民身份号码", "居住地址", "登记日期"],
          "conditional", "closed", "table", "monthly"),
    spec!("MZ-001", "婚姻登记信息", "结婚、离婚登记记录", MZ, "department",
          ["民生服务"], ["结婚登记", "离婚登记"], ["男方姓名", "女方姓名", "登记日期", "登记类型"],
          "conditional", "closed", "table", "daily"),
    spec!("MZ-002", "最低生活保障对象信息", "城乡低保对象及其保障金额", MZ, "department",
          ["社会保障"], ["救助", "城乡低保"], ["保障人数", "保障金额"],
          "conditional", "closed", "table", "monthly"),
    spec!("MZ-003", "殡葬服务火化信息", "遗体火化及殡仪服务记录", MZ, "department",
          ["民生服务"], ["遗体火化", "殡仪馆"], ["逝者姓名", "火化日期"],
          "conditional", "closed", "table", "daily"),
    spec!("RS-001", "社会保险参保信息", "养老、工伤、失业保险的参保与缴费状态", RS, "theme",
          ["社会保障"], ["养老保险", "参保"], ["个人编号", "参保状态", "公民身份号码"],
          "unconditional", "closed", "table", "monthly"),
    spec!("RS-002", "就业失业登记信息", "劳动者就业与失业登记", RS, "department",
          ["社会保障"], ["失业登记", "求职"], ["登记类型", "登记日期"],
          "conditional", "closed", "table", "monthly"),
    spec!("WJ-001", "出生医学证明信息", "新生儿出生医学证明签发记录", WJ, "department",
          ["医疗卫生"], ["新生儿"], ["新生儿姓名", "母亲公民身份号码", "出生日期", "签发机构"],
          "conditional", "closed", "table", "daily"),
    spec!("WJ-002", "医疗机构名录", "全市医院、社区卫生服务中心和诊所", WJ, "department",
          ["医疗卫生"], ["诊所", "卫生院"], ["机构名称", "机构等级", "地址"],
          "unconditional", "open", "table", "quarterly"),
    spec!("WJ-003", "居民死亡医学证明信息", "死亡医学证明与死因登记", WJ, "department",
          ["医疗卫生"], ["死因"], ["死者姓名", "死亡日期", "死亡原因"],
          "conditional", "closed", "table", "daily"),
    spec!("YB-001", "医疗保险参保缴费信息", "职工和城乡居民医疗保险参保缴费", YB, "theme",
          ["社会保障", "医疗卫生"], ["参保缴费"], ["参保人编号", "缴费基数"],
          "conditional", "closed", "table", "monthly"),
    spec!("SJ-001", "企业登记信息", "各类企业的设立、变更、注销登记", SJ, "base",
          ["市场监管"], ["营业执照", "法人"], ["统一社会信用代码", "uscc", "企业名称", "法定代表人"],
          "unconditional", "open", "table", "daily"),
    spec!("SJ-002", "食品经营许可信息", "食品经营许可证的核发与注销", SJ, "department",
          ["市场监管"], ["许可证"], ["许可证编号", "经营项目"],
          "unconditional", "open", "table", "weekly"),
    spec!("SJ-003", "个体工商户登记信息", "个体工商户的开业、变更、注销", SJ, "department",
          ["市场监管"], ["个体户"], ["经营者姓名", "字号名称"],
          "unconditional", "open", "table", "daily"),
    spec!("SJ-004", "药品零售企业名录", "药店的许可与经营范围", SJ, "department",
          ["市场监管"], ["药店"], ["企业名称", "许可证编号"],
          "unconditional", "open", "file", "monthly"),
    spec!("SW-001", "纳税人登记信息", "纳税人的税务登记与注销", SW, "department",
          ["财税金融"], ["税务登记"], ["纳税人识别号", "taxpayer_id"],
          "conditional", "closed", "table", "daily"),
    spec!("SW-002", "企业纳税信用等级", "纳税信用评价结果", SW, "department",
          ["财税金融"], ["纳税信用", "信用评价"], ["信用等级", "评价年度"],
          "unconditional", "open", "table", "yearly"),
    spec!("GJ-001", "住房公积金缴存信息", "单位和职工的缴存、提取与贷款", GJJ, "department",
          ["社会保障"], ["缴存", "提取"], ["个人账号", "缴存基数"],
          "conditional", "closed", "table", "monthly"),
    spec!("JY-001", "中小学校名录", "全市中小学校名称、地址与学段", JY, "department",
          ["教育科技"], ["小学", "初中"], ["学校名称", "学段", "地址"],
          "unconditional", "open", "table", "yearly"),
    spec!("WH-001", "武侯区幼儿园名录", "武侯区公办和民办幼儿园", WHJY, "department",
          ["教育科技"], ["学前教育"], ["园所名称", "办园性质"],
          "unconditional", "open", "table", "yearly"),
    spec!("JY-002", "高考录取信息", "普通高校招生录取结果", JY, "department",
          ["教育科技"], ["高考", "录取"], ["考生号", "录取院校"],
          "conditional", "closed", "table", "yearly"),
    spec!("JT-001", "公交线路与站点", "公交线路走向和站点位置", JT, "theme",
          ["交通服务"], ["bus", "线路"], ["线路名称", "站点名称", "经度", "纬度"],
          "unconditional", "open", "api", "monthly"),
    spec!("JT-002", "道路运输经营许可信息", "客运、货运经营许可", JT, "department",
          ["交通服务"], ["货运", "客运"], ["许可证号", "经营范围"],
          "unconditional", "open", "table", "weekly"),
    spec!("JT-003", "城市道路基础信息", "城市道路、桥梁的等级与长度", JT, "department",
          ["空间地理"], ["桥梁"], ["道路名称", "道路等级", "长度"],
          "unconditional", "open", "table", "yearly"),
    spec!("GT-001", "不动产登记信息", "土地、房屋等不动产权利登记", GT, "base",
          ["空间地理"], ["产权", "不动产权证"], ["不动产单元号", "权利人", "坐落"],
          "conditional", "closed", "table", "daily"),
    spec!("GT-002", "基础地理信息数据", "全市基础测绘成果和电子地图", GT, "base",
          ["空间地理"], ["GIS", "电子地图"], ["图层名称", "比例尺"],
          "unconditional", "conditional", "file", "yearly"),
    spec!("HB-001", "空气质量监测数据", "国控、省控站点的空气质量小时数据", HB, "theme",
          ["能源环境"], ["AQI", "PM2.5", "air quality"], ["站点名称", "aqi", "pm25"],
          "unconditional", "open", "api", "realtime"),
    spec!("HB-002", "地表水水质监测数据", "河流断面水质监测结果", HB, "theme",
          ["能源环境"], ["河流"], ["断面名称", "水质类别"],
          "unconditional", "open", "table", "monthly"),
    spec!("TJ-001", "地区生产总值季度数据", "全市及各区县GDP与增速", TJ, "theme",
          ["经济建设"], ["GDP", "经济"], ["地区", "季度", "增速"],
          "unconditional", "open", "table", "quarterly"),
    spec!("TJ-002", "常住人口统计年报", "年末常住人口与城镇化率", TJ, "theme",
          ["经济建设"], ["人口统计", "population"], ["年末常住人口", "城镇化率"],
          "unconditional", "open", "table", "yearly"),
];

/// The catalog as index documents; `updated_at` grows with the position in the list,
/// and every fifth resource is still a draft.
pub fn docs() -> Vec<CatalogDoc> {
    SPECS
        .iter()
        .enumerate()
        .map(|(i, s)| CatalogDoc {
            code: s.code.to_owned(),
            name: s.name.to_owned(),
            summary: s.summary.to_owned(),
            provider_code: s.provider.0.to_owned(),
            provider_name: s.provider.1.to_owned(),
            kind: s.kind.to_owned(),
            topics: s.topics.iter().map(|t| (*t).to_owned()).collect(),
            keywords: s.keywords.iter().map(|t| (*t).to_owned()).collect(),
            items: s.items.iter().map(|t| (*t).to_owned()).collect(),
            share_type: s.share.to_owned(),
            open_type: s.open.to_owned(),
            format: s.format.to_owned(),
            update_cycle: s.cycle.to_owned(),
            status: if i % 5 == 4 { "draft" } else { "published" }.to_owned(),
            updated_at: 1_700_000_000 + (i as i64) * 3600,
        })
        .collect()
}

/// An in-memory index holding the whole catalog.
pub fn index() -> SearchIndex {
    let index = SearchIndex::in_memory().expect("in-memory index");
    let count = index.rebuild(docs().into_iter(), 1).expect("rebuild");
    assert_eq!(count as usize, SPECS.len());
    index
}
