//! Values as they are compared across sources: full-width forms folded to
//! half-width, spaces dropped, traditional characters simplified (a table of the
//! common ones), dates in any written form as ISO dates, addresses without the
//! province prefix and with the usual building words in one spelling, sexes and
//! statuses as one word each.

use crate::ident::{CitizenId, Uscc, parse_date};

/// What an element's values are, which decides how they are normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    CitizenId,
    Uscc,
    Name,
    Date,
    Address,
    Sex,
    Phone,
    /// Alive or deceased, read from the many status words departments use.
    VitalStatus,
    /// An entity's registration status: active, closed or revoked.
    EntityStatus,
    Text,
}

impl ValueKind {
    /// The kind of an element's values, from its code (`person.birth_date` is a
    /// date, `entity.legal_representative_id` a citizen ID number, …).
    pub fn of_element(code: &str) -> ValueKind {
        let field = code.rsplit('.').next().unwrap_or(code);
        if field == "citizen_id" || field.ends_with("_id") {
            ValueKind::CitizenId
        } else if field == "uscc" || field.ends_with("_uscc") {
            ValueKind::Uscc
        } else if field.ends_with("date") {
            ValueKind::Date
        } else if field.contains("address") {
            ValueKind::Address
        } else if field == "sex" {
            ValueKind::Sex
        } else if field == "mobile" || field.contains("phone") {
            ValueKind::Phone
        } else if field == "vital_status" {
            ValueKind::VitalStatus
        } else if code.starts_with("entity.") && field == "status" {
            ValueKind::EntityStatus
        } else if field.contains("name") {
            ValueKind::Name
        } else {
            ValueKind::Text
        }
    }
}

/// A value after normalisation, or why it cannot stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalised {
    /// Nothing there: an empty value asserts nothing.
    Empty,
    /// The comparable form.
    Value(String),
    /// A status that says nothing of the element (e.g. "暂停缴费" of vital status).
    NoClaim,
    /// Not a valid value of the kind, with the reason.
    Invalid(String),
}

/// Normalise one value of a kind.
pub fn normalise(kind: ValueKind, raw: &str) -> Normalised {
    let folded = fold(raw);
    if folded.is_empty() {
        return Normalised::Empty;
    }
    match kind {
        ValueKind::CitizenId => match CitizenId::parse(&folded) {
            Ok(id) => Normalised::Value(id.as_str().to_owned()),
            Err(e) => Normalised::Invalid(e.to_string()),
        },
        ValueKind::Uscc => match Uscc::parse(&folded) {
            Ok(code) => Normalised::Value(code.as_str().to_owned()),
            Err(e) => Normalised::Invalid(e.to_string()),
        },
        ValueKind::Date => match parse_date(&folded) {
            Ok(d) => Normalised::Value(d.format("%Y-%m-%d").to_string()),
            Err(e) => Normalised::Invalid(e.to_string()),
        },
        ValueKind::Name | ValueKind::Text => text_value(simplify_all(&folded)),
        ValueKind::Address => text_value(address(&folded)),
        ValueKind::Sex => match folded.to_lowercase().as_str() {
            "男" | "1" | "m" | "male" | "男性" => Normalised::Value("男".into()),
            "女" | "2" | "f" | "female" | "女性" => Normalised::Value("女".into()),
            "9" | "0" | "未知" | "未说明" => Normalised::NoClaim,
            _ => Normalised::Invalid(format!("\"{raw}\" is not a sex (男/女, 1/2)")),
        },
        ValueKind::Phone => {
            let digits: String = folded.chars().filter(char::is_ascii_digit).collect();
            let digits = ["0086", "86"]
                .iter()
                .find_map(|p| digits.strip_prefix(p).filter(|r| r.len() == 11))
                .map_or(digits.clone(), str::to_owned);
            if digits.len() == 11 && digits.starts_with('1') {
                Normalised::Value(digits)
            } else {
                Normalised::Invalid(format!("\"{raw}\" is not an 11-digit mobile number"))
            }
        }
        ValueKind::VitalStatus => vital_status(&simplify_all(&folded)),
        ValueKind::EntityStatus => entity_status(&simplify_all(&folded)),
    }
}

/// A text that normalised to nothing (an address of punctuation alone)
/// asserts nothing, like an empty one.
fn text_value(text: String) -> Normalised {
    if text.is_empty() {
        Normalised::Empty
    } else {
        Normalised::Value(text)
    }
}

/// Full-width forms to half-width, whitespace dropped, middle dots unified.
pub fn fold(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '•' | '・' | '‧' => '·',
            _ => c,
        })
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Each character of the table replaced by its simplified form.
pub fn simplify_all(text: &str) -> String {
    text.chars().map(simplify).collect()
}

/// The simplified form of a common traditional character (the characters of
/// names, places and addresses seen most); any other character as it is.
pub fn simplify(c: char) -> char {
    TRADITIONAL
        .binary_search_by(|(t, _)| t.cmp(&c))
        .ok()
        .and_then(|i| TRADITIONAL.get(i))
        .map_or(c, |(_, s)| *s)
}

/// Traditional → simplified, sorted by the traditional character.
const TRADITIONAL: &[(char, char)] = &{
    let mut table = TRADITIONAL_UNSORTED;
    // A const insertion sort: the table is small and sorted once, at compile time.
    let mut i = 1;
    while i < table.len() {
        let mut j = i;
        while j > 0 && (table[j - 1].0 as u32) > (table[j].0 as u32) {
            let tmp = table[j - 1];
            table[j - 1] = table[j];
            table[j] = tmp;
            j -= 1;
        }
        i += 1;
    }
    table
};

const TRADITIONAL_UNSORTED: [(char, char); 126] = [
    ('張', '张'),
    ('陳', '陈'),
    ('劉', '刘'),
    ('楊', '杨'),
    ('黃', '黄'),
    ('趙', '赵'),
    ('吳', '吴'),
    ('孫', '孙'),
    ('馬', '马'),
    ('鄭', '郑'),
    ('謝', '谢'),
    ('韓', '韩'),
    ('馮', '冯'),
    ('鄧', '邓'),
    ('許', '许'),
    ('蔣', '蒋'),
    ('羅', '罗'),
    ('葉', '叶'),
    ('蘇', '苏'),
    ('盧', '卢'),
    ('錢', '钱'),
    ('湯', '汤'),
    ('魏', '魏'),
    ('陸', '陆'),
    ('範', '范'),
    ('鄒', '邹'),
    ('譚', '谭'),
    ('賈', '贾'),
    ('龔', '龚'),
    ('萬', '万'),
    ('顧', '顾'),
    ('賴', '赖'),
    ('閻', '阎'),
    ('薛', '薛'),
    ('蕭', '萧'),
    ('關', '关'),
    ('華', '华'),
    ('國', '国'),
    ('偉', '伟'),
    ('強', '强'),
    ('軍', '军'),
    ('紅', '红'),
    ('麗', '丽'),
    ('豔', '艳'),
    ('鳳', '凤'),
    ('雲', '云'),
    ('龍', '龙'),
    ('鵬', '鹏'),
    ('輝', '辉'),
    ('東', '东'),
    ('銘', '铭'),
    ('嬌', '娇'),
    ('蘭', '兰'),
    ('靜', '静'),
    ('婷', '婷'),
    ('貴', '贵'),
    ('寶', '宝'),
    ('義', '义'),
    ('禮', '礼'),
    ('傑', '杰'),
    ('濤', '涛'),
    ('劍', '剑'),
    ('鋒', '锋'),
    ('慶', '庆'),
    ('燕', '燕'),
    ('誠', '诚'),
    ('興', '兴'),
    ('發', '发'),
    ('順', '顺'),
    ('億', '亿'),
    ('滿', '满'),
    ('學', '学'),
    ('書', '书'),
    ('曉', '晓'),
    ('紀', '纪'),
    ('潔', '洁'),
    ('瑩', '莹'),
    ('穎', '颖'),
    ('聰', '聪'),
    ('廣', '广'),
    ('區', '区'),
    ('縣', '县'),
    ('鎮', '镇'),
    ('鄉', '乡'),
    ('號', '号'),
    ('樓', '楼'),
    ('單', '单'),
    ('門', '门'),
    ('路', '路'),
    ('街', '街'),
    ('巷', '巷'),
    ('園', '园'),
    ('環', '环'),
    ('橋', '桥'),
    ('灣', '湾'),
    ('東', '东'),
    ('銀', '银'),
    ('錦', '锦'),
    ('廠', '厂'),
    ('場', '场'),
    ('莊', '庄'),
    ('農', '农'),
    ('業', '业'),
    ('們', '们'),
    ('會', '会'),
    ('長', '长'),
    ('歲', '岁'),
    ('術', '术'),
    ('醫', '医'),
    ('藥', '药'),
    ('電', '电'),
    ('話', '话'),
    ('車', '车'),
    ('貿', '贸'),
    ('財', '财'),
    ('務', '务'),
    ('團', '团'),
    ('體', '体'),
    ('網', '网'),
    ('絡', '络'),
    ('設', '设'),
    ('計', '计'),
    ('備', '备'),
    ('於', '于'),
    ('餘', '余'),
    ('後', '后'),
];

/// An address in one spelling: no country or province prefix, building words
/// unified (幢/号楼 → 栋), punctuation and a closing 室 dropped.
fn address(folded: &str) -> String {
    let mut s: String = simplify_all(folded)
        .chars()
        .filter(|c| !c.is_ascii_punctuation() || *c == '#' || *c == '-')
        .filter(|c| !matches!(c, '，' | '、' | '。' | '（' | '）' | '(' | ')'))
        .collect();
    for prefix in ["中华人民共和国", "中国", "四川省", "四川"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_owned();
        }
    }
    // "成都市" and "成都" name the same city.
    if !s.starts_with("成都市")
        && let Some(rest) = s.strip_prefix("成都")
    {
        s = format!("成都市{rest}");
    }
    for (from, to) in [
        ("号楼", "栋"),
        ("幢", "栋"),
        ("栋楼", "栋"),
        ("#", "号"),
        ("单元楼", "单元"),
    ] {
        s = s.replace(from, to);
    }
    if let Some(rest) = s.strip_suffix('室') {
        s = rest.to_owned();
    }
    s
}

/// The status words that say a person is alive (as of the batch) or dead.
fn vital_status(s: &str) -> Normalised {
    const DEAD: &[&str] = &["死亡", "已故", "身故", "亡故"];
    const ALIVE: &[&str] = &[
        "正常",
        "有效",
        "在册",
        "在保",
        "参保缴费",
        "领取待遇",
        "正常参保",
        "正常缴存",
        "在读",
        "健在",
        "生存",
    ];
    if DEAD.iter().any(|w| s.contains(w)) {
        Normalised::Value("deceased".into())
    } else if ALIVE.contains(&s) {
        Normalised::Value("alive".into())
    } else {
        Normalised::NoClaim
    }
}

/// An entity's registration status as active, closed or revoked.
fn entity_status(s: &str) -> Normalised {
    match s {
        "在业" | "存续" | "开业" | "正常" | "在营" | "存续(在营、开业、在册)" => {
            Normalised::Value("active".into())
        }
        "注销" | "已注销" => Normalised::Value("closed".into()),
        "吊销" | "吊销未注销" | "吊销,未注销" | "撤销" => {
            Normalised::Value("revoked".into())
        }
        _ => Normalised::NoClaim,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(kind: ValueKind, raw: &str) -> Normalised {
        normalise(kind, raw)
    }

    fn val(s: &str) -> Normalised {
        Normalised::Value(s.into())
    }

    #[test]
    fn the_table_is_sorted_and_simplifies() {
        assert!(TRADITIONAL.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(simplify_all("張偉"), "张伟");
        assert_eq!(simplify('王'), '王');
    }

    #[test]
    fn names_fold_width_spaces_and_variants() {
        assert_eq!(v(ValueKind::Name, " 張 偉 "), val("张伟"));
        assert_eq!(
            v(ValueKind::Name, "阿依•古丽"),
            v(ValueKind::Name, "阿依·古丽")
        );
        assert_ne!(v(ValueKind::Name, "王伟"), v(ValueKind::Name, "汪伟"));
        assert_eq!(v(ValueKind::Name, "   "), Normalised::Empty);
        assert_eq!(v(ValueKind::Address, "!"), Normalised::Empty);
    }

    #[test]
    fn dates_in_every_form_are_one() {
        for raw in [
            "1990-01-02",
            "1990年1月2日",
            "19900102",
            "1990/1/2",
            "１９９０－０１－０２",
        ] {
            assert_eq!(v(ValueKind::Date, raw), val("1990-01-02"), "{raw}");
        }
        assert!(matches!(
            v(ValueKind::Date, "1990-02-30"),
            Normalised::Invalid(_)
        ));
    }

    #[test]
    fn addresses_drop_the_province_and_unify_building_words() {
        let a = v(
            ValueKind::Address,
            "四川省成都市武侯区玉林路12号3幢2单元501室",
        );
        let b = v(ValueKind::Address, "成都市武侯区玉林路12号3栋2单元501");
        let c = v(ValueKind::Address, "成都武侯區玉林路１２號3号楼2单元501");
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_ne!(
            a,
            v(ValueKind::Address, "成都市武侯区玉林路14号3栋2单元501")
        );
    }

    #[test]
    fn sexes_statuses_and_phones() {
        assert_eq!(v(ValueKind::Sex, "1"), v(ValueKind::Sex, "男"));
        assert_eq!(v(ValueKind::Sex, "女"), val("女"));
        assert!(matches!(v(ValueKind::Sex, "x"), Normalised::Invalid(_)));
        assert_eq!(v(ValueKind::VitalStatus, "死亡注销"), val("deceased"));
        assert_eq!(v(ValueKind::VitalStatus, "参保缴费"), val("alive"));
        assert_eq!(v(ValueKind::VitalStatus, "暂停缴费"), Normalised::NoClaim);
        assert_eq!(v(ValueKind::EntityStatus, "存续"), val("active"));
        assert_eq!(v(ValueKind::Phone, "+86 138-0000-1234"), val("13800001234"));
        assert!(matches!(
            v(ValueKind::Phone, "12345"),
            Normalised::Invalid(_)
        ));
    }

    #[test]
    fn identifiers_are_checked() {
        assert_eq!(
            v(ValueKind::CitizenId, "11010519491231002x"),
            val("11010519491231002X")
        );
        assert!(matches!(
            v(ValueKind::CitizenId, "110105194912310021"),
            Normalised::Invalid(_)
        ));
    }

    #[test]
    fn element_kinds() {
        assert_eq!(ValueKind::of_element("person.birth_date"), ValueKind::Date);
        assert_eq!(
            ValueKind::of_element("entity.legal_representative_id"),
            ValueKind::CitizenId
        );
        assert_eq!(
            ValueKind::of_element("entity.legal_representative_name"),
            ValueKind::Name
        );
        assert_eq!(
            ValueKind::of_element("person.household_address"),
            ValueKind::Address
        );
        assert_eq!(
            ValueKind::of_element("entity.status"),
            ValueKind::EntityStatus
        );
        assert_eq!(
            ValueKind::of_element("person.employer_uscc"),
            ValueKind::Uscc
        );
        assert_eq!(ValueKind::of_element("person.mobile"), ValueKind::Phone);
    }
}
