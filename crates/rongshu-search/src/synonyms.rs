//! The built-in table of words that government data users treat as the same thing.
//!
//! Expansion happens at query time only, so the table can change without a rebuild.
//! Each group is symmetric: a query for any member also finds the others. Members are
//! matched against a whole query word or a whole whitespace-separated query chunk.

/// Groups of interchangeable words. A word may sit in several groups (户籍 is both 户口
/// and, more loosely, 人口).
const GROUPS: &[&[&str]] = &[
    &["社保", "社会保险", "社会保障"],
    &["医保", "医疗保险", "医疗保障"],
    &["公积金", "住房公积金"],
    &["工商", "市场监管", "企业登记", "工商登记"],
    &["营业执照", "企业登记", "工商登记"],
    &["户籍", "户口"],
    &["户籍", "人口"],
    &["身份证", "身份证号", "公民身份号码"],
    &["税务", "纳税", "税收"],
    &["不动产", "房产", "房屋"],
    &["车辆", "机动车"],
    &["驾照", "驾驶证", "机动车驾驶证"],
    &["GDP", "地区生产总值", "国内生产总值"],
    &["CPI", "居民消费价格指数"],
    &["低保", "最低生活保障"],
    &["婚姻", "结婚", "离婚"],
    &["出生", "出生医学证明", "新生儿"],
    &["死亡", "殡葬", "火化"],
    &["学校", "中小学", "幼儿园"],
    &["医院", "医疗机构", "卫生院"],
    &["空气质量", "大气环境", "空气污染"],
    &["道路", "公路"],
    &["公交", "公共交通"],
    &["地铁", "轨道交通"],
    &["法人", "法人单位", "企业"],
    &["统一社会信用代码", "信用代码"],
    &["地图", "地理信息", "测绘"],
    &["门牌", "地址", "门楼牌"],
    &["失业", "就业失业", "失业保险"],
    &["养老", "养老保险"],
    &["残疾人", "残疾"],
    &["食品", "食品安全"],
    &["药品", "药监"],
    &["水质", "水环境"],
    &["气象", "天气"],
    &["招标", "采购", "政府采购"],
];

/// The words to search for besides `word` itself, in table order, without repeats.
/// Latin words match regardless of case.
pub(crate) fn synonyms_of(word: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for group in GROUPS {
        if group.iter().any(|member| member.eq_ignore_ascii_case(word)) {
            for member in group.iter() {
                if !member.eq_ignore_ascii_case(word) && !out.contains(member) {
                    out.push(member);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_symmetric_and_case_blind() {
        assert!(synonyms_of("社保").contains(&"社会保险"));
        assert!(synonyms_of("社会保险").contains(&"社保"));
        assert!(synonyms_of("gdp").contains(&"地区生产总值"));
        assert!(synonyms_of("户籍").contains(&"人口"));
        assert!(synonyms_of("人口基础信息").is_empty());
    }

    #[test]
    fn no_group_repeats_a_member() {
        for group in GROUPS {
            for (i, member) in group.iter().enumerate() {
                assert!(!group[i + 1..].contains(member), "{member} twice");
            }
        }
    }
}
