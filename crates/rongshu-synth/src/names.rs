//! Chinese personal names: surnames in proportion to their frequency (from the national
//! household registration statistics), given names of one or two characters with a
//! heavy head so that full names repeat as they do in life, and the confusable
//! characters a clerk mistypes.

use crate::dice::{Dice, Weighted};

/// Surnames with their share of the population in units of 0.01%.
const SURNAMES: &[(&str, u64)] = &[
    ("王", 712),
    ("李", 700),
    ("张", 674),
    ("刘", 510),
    ("陈", 461),
    ("杨", 322),
    ("黄", 245),
    ("赵", 200),
    ("吴", 183),
    ("周", 177),
    ("徐", 144),
    ("孙", 138),
    ("马", 129),
    ("朱", 128),
    ("胡", 116),
    ("郭", 113),
    ("何", 106),
    ("林", 103),
    ("高", 100),
    ("罗", 95),
    ("郑", 93),
    ("梁", 88),
    ("谢", 75),
    ("宋", 70),
    ("唐", 68),
    ("许", 66),
    ("韩", 65),
    ("邓", 62),
    ("冯", 62),
    ("曹", 58),
    ("彭", 57),
    ("曾", 56),
    ("肖", 56),
    ("田", 54),
    ("董", 51),
    ("潘", 50),
    ("袁", 50),
    ("蔡", 47),
    ("蒋", 47),
    ("余", 46),
    ("于", 45),
    ("杜", 44),
    ("叶", 44),
    ("程", 42),
    ("魏", 41),
    ("苏", 40),
    ("吕", 40),
    ("丁", 39),
    ("任", 38),
    ("卢", 37),
    ("姚", 37),
    ("沈", 36),
    ("钟", 36),
    ("姜", 35),
    ("崔", 34),
    ("谭", 34),
    ("陆", 33),
    ("范", 32),
    ("汪", 32),
    ("廖", 31),
    ("石", 31),
    ("金", 31),
    ("韦", 30),
    ("贾", 30),
    ("夏", 29),
    ("付", 29),
    ("方", 28),
    ("邹", 28),
    ("熊", 27),
    ("白", 27),
    ("孟", 27),
    ("秦", 26),
    ("邱", 26),
    ("侯", 25),
    ("江", 25),
    ("尹", 24),
    ("薛", 24),
    ("闫", 23),
    ("段", 23),
    ("雷", 22),
    ("龙", 21),
    ("黎", 21),
    ("史", 20),
    ("陶", 20),
    ("贺", 20),
    ("毛", 19),
    ("郝", 19),
    ("顾", 18),
    ("龚", 18),
    ("邵", 18),
    ("万", 17),
    ("覃", 17),
    ("武", 17),
    ("钱", 17),
    ("戴", 16),
    ("严", 16),
    ("莫", 15),
    ("孔", 15),
    ("向", 15),
    ("常", 15),
    ("欧阳", 4),
    ("司马", 1),
    ("上官", 1),
    ("诸葛", 1),
    ("司徒", 1),
    ("令狐", 1),
    ("皇甫", 1),
];

/// Given-name characters for men, most frequent first.
const MALE_CHARS: &str =
    "伟明华军杰涛斌强峰刚辉勇磊洋鹏浩宇俊建国志文平波海林超亮飞龙成东晨昊博轩子豪宏兴";
/// Given-name characters for women, most frequent first.
const FEMALE_CHARS: &str =
    "芳丽敏静燕艳娟霞红英玲琳婷慧佳欣怡雪梅兰秀琴云萍洁丹涵萱诗雨思晗婧莉琪梓颖";
/// Whole given names so common that people sharing them are everywhere (张伟, 王芳).
const MALE_COMMON: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "建华", "建国", "志强",
    "浩然", "子轩",
];
const FEMALE_COMMON: &[&str] = &[
    "芳", "静", "敏", "丽", "艳", "娟", "霞", "燕", "秀英", "桂英", "秀兰", "玉兰", "丽娟", "雨涵",
    "欣怡", "梓涵",
];

/// Pairs of characters that sound alike or look alike, as typed into the wrong record.
const CONFUSABLE: &[(char, char)] = &[
    ('王', '汪'),
    ('李', '黎'),
    ('张', '章'),
    ('刘', '柳'),
    ('陈', '程'),
    ('杨', '扬'),
    ('黄', '王'),
    ('赵', '肖'),
    ('吴', '伍'),
    ('周', '邹'),
    ('徐', '许'),
    ('孙', '荪'),
    ('马', '玛'),
    ('朱', '珠'),
    ('胡', '湖'),
    ('郭', '国'),
    ('何', '贺'),
    ('林', '琳'),
    ('高', '郜'),
    ('罗', '萝'),
    ('郑', '正'),
    ('梁', '良'),
    ('谢', '解'),
    ('宋', '送'),
    ('唐', '汤'),
    ('韩', '寒'),
    ('邓', '登'),
    ('冯', '凤'),
    ('曹', '漕'),
    ('彭', '鹏'),
    ('曾', '增'),
    ('田', '甜'),
    ('董', '懂'),
    ('潘', '番'),
    ('袁', '元'),
    ('蔡', '菜'),
    ('蒋', '姜'),
    ('余', '于'),
    ('杜', '度'),
    ('叶', '业'),
    ('魏', '卫'),
    ('苏', '素'),
    ('吕', '侣'),
    ('丁', '盯'),
    ('任', '仁'),
    ('卢', '芦'),
    ('姚', '瑶'),
    ('沈', '审'),
    ('钟', '忠'),
    ('崔', '催'),
    ('谭', '谈'),
    ('陆', '路'),
    ('范', '饭'),
    ('廖', '了'),
    ('石', '时'),
    ('金', '今'),
    ('韦', '伟'),
    ('贾', '假'),
    ('夏', '厦'),
    ('付', '傅'),
    ('方', '芳'),
    ('熊', '雄'),
    ('白', '百'),
    ('孟', '梦'),
    ('秦', '琴'),
    ('邱', '丘'),
    ('侯', '候'),
    ('江', '姜'),
    ('尹', '引'),
    ('薛', '雪'),
    ('闫', '阎'),
    ('段', '断'),
    ('雷', '蕾'),
    ('龙', '隆'),
    ('史', '使'),
    ('陶', '桃'),
    ('毛', '茅'),
    ('郝', '好'),
    ('顾', '故'),
    ('龚', '宫'),
    ('邵', '绍'),
    ('万', '完'),
    ('覃', '谭'),
    ('武', '舞'),
    ('钱', '前'),
    ('戴', '代'),
    ('严', '颜'),
    ('莫', '漠'),
    ('孔', '空'),
    ('向', '项'),
    ('常', '长'),
    ('欧', '鸥'),
    ('司', '思'),
    ('上', '尚'),
    ('官', '关'),
    ('诸', '朱'),
    ('葛', '戈'),
    ('徒', '途'),
    ('令', '玲'),
    ('狐', '胡'),
    ('皇', '黄'),
    ('甫', '府'),
    ('伟', '玮'),
    ('明', '铭'),
    ('华', '桦'),
    ('军', '君'),
    ('杰', '洁'),
    ('涛', '滔'),
    ('斌', '彬'),
    ('强', '蔷'),
    ('峰', '锋'),
    ('刚', '钢'),
    ('辉', '晖'),
    ('勇', '永'),
    ('磊', '垒'),
    ('洋', '阳'),
    ('鹏', '朋'),
    ('浩', '皓'),
    ('宇', '雨'),
    ('俊', '骏'),
    ('建', '健'),
    ('国', '帼'),
    ('志', '智'),
    ('文', '雯'),
    ('平', '萍'),
    ('波', '博'),
    ('海', '亥'),
    ('超', '潮'),
    ('亮', '靓'),
    ('飞', '菲'),
    ('成', '诚'),
    ('东', '冬'),
    ('晨', '辰'),
    ('昊', '浩'),
    ('博', '搏'),
    ('轩', '萱'),
    ('子', '紫'),
    ('豪', '毫'),
    ('宏', '红'),
    ('兴', '星'),
    ('丽', '莉'),
    ('敏', '民'),
    ('静', '婧'),
    ('燕', '艳'),
    ('艳', '燕'),
    ('娟', '鹃'),
    ('霞', '侠'),
    ('红', '虹'),
    ('英', '瑛'),
    ('玲', '铃'),
    ('琳', '林'),
    ('婷', '亭'),
    ('慧', '惠'),
    ('佳', '嘉'),
    ('欣', '馨'),
    ('怡', '仪'),
    ('雪', '学'),
    ('梅', '媚'),
    ('兰', '蓝'),
    ('秀', '绣'),
    ('琴', '勤'),
    ('云', '芸'),
    ('萍', '平'),
    ('洁', '杰'),
    ('丹', '单'),
    ('涵', '晗'),
    ('萱', '轩'),
    ('诗', '师'),
    ('雨', '语'),
    ('思', '丝'),
    ('晗', '涵'),
    ('婧', '静'),
    ('莉', '丽'),
    ('琪', '棋'),
    ('梓', '子'),
    ('颖', '影'),
    ('芳', '方'),
    ('桂', '贵'),
    ('玉', '钰'),
    ('然', '冉'),
    ('许', '徐'),
    ('肖', '萧'),
    ('于', '余'),
    ('程', '成'),
    ('姜', '江'),
    ('汪', '王'),
    ('邹', '周'),
    ('黎', '李'),
    ('贺', '何'),
];

/// Draws names; built once per run.
pub(crate) struct NameBook {
    surnames: Weighted,
    male: Vec<char>,
    female: Vec<char>,
    male_weights: Weighted,
    female_weights: Weighted,
}

impl NameBook {
    pub(crate) fn new() -> Self {
        let male: Vec<char> = MALE_CHARS.chars().collect();
        let female: Vec<char> = FEMALE_CHARS.chars().collect();
        // A Zipf-like head: the first characters of each list are far more common.
        let zipf = |n: usize| Weighted::new((0..n).map(|i| 10_000 / (i as u64 + 3)));
        Self {
            surnames: Weighted::new(SURNAMES.iter().map(|(_, w)| *w)),
            male_weights: zipf(male.len()),
            female_weights: zipf(female.len()),
            male,
            female,
        }
    }

    pub(crate) fn surname(&self, dice: &mut Dice) -> &'static str {
        SURNAMES
            .get(self.surnames.draw(dice))
            .map_or("王", |(s, _)| s)
    }

    /// A given name; people born before 1980 more often have a single character.
    pub(crate) fn given(&self, male: bool, birth_year: i32, dice: &mut Dice) -> String {
        let common = if male { MALE_COMMON } else { FEMALE_COMMON };
        if dice.chance(0.08)
            && let Some(name) = dice.pick(common)
        {
            return (*name).to_string();
        }
        let (chars, weights) = if male {
            (&self.male, &self.male_weights)
        } else {
            (&self.female, &self.female_weights)
        };
        let single = if birth_year < 1980 { 0.25 } else { 0.10 };
        let n = if dice.chance(single) { 1 } else { 2 };
        (0..n)
            .filter_map(|_| chars.get(weights.draw(dice)))
            .collect()
    }
}

/// A look-alike or sound-alike of `c`, if a clerk is known to confuse it.
pub(crate) fn confusable(c: char) -> Option<char> {
    CONFUSABLE.iter().find(|(a, _)| *a == c).map(|(_, b)| *b)
}

/// Road-name stems used across Chengdu's districts.
pub(crate) const ROAD_STEMS: &[&str] = &[
    "人民南",
    "人民北",
    "蜀都",
    "天府",
    "建设",
    "红星",
    "府河",
    "锦绣",
    "玉林",
    "双林",
    "一环",
    "二环",
    "三环",
    "光华",
    "青龙",
    "抚琴",
    "羊西",
    "交子",
    "剑南",
    "益州",
    "武侯",
    "浆洗",
    "科华",
    "芳草",
    "桐梓林",
    "新华",
    "东风",
    "望江",
    "沙湾",
    "营门口",
    "蜀汉",
    "金沙",
    "清江",
    "培风",
    "迎宾",
    "龙腾",
    "驿都",
    "白果",
    "文星",
    "东升",
];
pub(crate) const ROAD_KINDS: &[&str] =
    &["路", "大道", "街", "巷", "路一段", "路二段", "西路", "东路"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dice::Stream;

    #[test]
    fn every_name_character_has_a_confusable() {
        for c in MALE_CHARS.chars().chain(FEMALE_CHARS.chars()) {
            assert!(confusable(c).is_some(), "{c}");
        }
        for (s, _) in SURNAMES {
            assert!(s.chars().any(|c| confusable(c).is_some()), "{s}");
        }
        for name in MALE_COMMON.iter().chain(FEMALE_COMMON) {
            assert!(name.chars().any(|c| confusable(c).is_some()), "{name}");
        }
    }

    #[test]
    fn given_names_have_one_or_two_characters() {
        let book = NameBook::new();
        let mut dice = Dice::new(3, Stream::People);
        for i in 0..500 {
            let n = book
                .given(i % 2 == 0, 1950 + i % 70, &mut dice)
                .chars()
                .count();
            assert!((1..=2).contains(&n));
        }
    }
}
