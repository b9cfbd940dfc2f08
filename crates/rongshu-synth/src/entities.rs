//! Legal entities. An entity's own attributes are a pure function of (seed, number), so a
//! department that names an employer can recompute it without the register in memory;
//! only the legal representative is assigned while the people are streamed.

use chrono::{Datelike, Duration, NaiveDate};
use rongshu_core::ident::{org_code, uscc};

use crate::dice::{Dice, Stream, Weighted};
use crate::divisions::{COUNTIES, Divisions};
use crate::people::{home_address, snapshot};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum EntityKind {
    Enterprise,
    IndividualBusiness,
    Cooperative,
    Agency,
    PublicInstitution,
    SocialGroup,
    PrivateNonProfit,
    Foundation,
}

impl EntityKind {
    /// Registration authority and type: the first two characters of the USCC.
    fn uscc_prefix(self) -> &'static str {
        match self {
            EntityKind::Agency => "11",
            EntityKind::PublicInstitution => "12",
            EntityKind::SocialGroup => "51",
            EntityKind::PrivateNonProfit => "52",
            EntityKind::Foundation => "53",
            EntityKind::Enterprise => "91",
            EntityKind::IndividualBusiness => "92",
            EntityKind::Cooperative => "93",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            EntityKind::Enterprise => "有限责任公司",
            EntityKind::IndividualBusiness => "个体工商户",
            EntityKind::Cooperative => "农民专业合作社",
            EntityKind::Agency => "机关",
            EntityKind::PublicInstitution => "事业单位",
            EntityKind::SocialGroup => "社会团体",
            EntityKind::PrivateNonProfit => "民办非企业单位",
            EntityKind::Foundation => "基金会",
        }
    }

    /// Registered by market regulation (the 9x codes), as opposed to the staffing office
    /// or civil affairs.
    pub(crate) fn is_market(self) -> bool {
        matches!(
            self,
            EntityKind::Enterprise | EntityKind::IndividualBusiness | EntityKind::Cooperative
        )
    }
}

/// The kinds per 10,000 entities, close to Chengdu's register: two individual
/// businesses for every enterprise, few institutions and organisations.
const KINDS: &[(EntityKind, u64)] = &[
    (EntityKind::Enterprise, 3_300),
    (EntityKind::IndividualBusiness, 6_350),
    (EntityKind::Cooperative, 120),
    (EntityKind::Agency, 30),
    (EntityKind::PublicInstitution, 110),
    (EntityKind::SocialGroup, 45),
    (EntityKind::PrivateNonProfit, 40),
    (EntityKind::Foundation, 5),
];

/// GB/T 4754-2017 sections with the words firms of that section put in their names.
pub(crate) const INDUSTRIES: &[(char, &str, &[&str])] = &[
    ('A', "农、林、牧、渔业", &["农业开发", "生态农业", "种植"]),
    ('B', "采矿业", &["矿业"]),
    ('C', "制造业", &["机械制造", "食品", "电子", "家具"]),
    ('D', "电力、热力、燃气及水生产和供应业", &["能源", "燃气"]),
    ('E', "建筑业", &["建筑工程", "建设工程", "装饰工程"]),
    ('F', "批发和零售业", &["商贸", "贸易", "百货", "医药"]),
    ('G', "交通运输、仓储和邮政业", &["物流", "运输", "供应链"]),
    ('H', "住宿和餐饮业", &["餐饮管理", "酒店管理", "火锅"]),
    (
        'I',
        "信息传输、软件和信息技术服务业",
        &["科技", "信息技术", "网络科技", "软件"],
    ),
    ('J', "金融业", &["投资", "融资担保"]),
    ('K', "房地产业", &["房地产开发", "物业管理", "置业"]),
    (
        'L',
        "租赁和商务服务业",
        &["企业管理咨询", "商务服务", "广告"],
    ),
    (
        'M',
        "科学研究和技术服务业",
        &["生物科技", "检测技术", "工程设计"],
    ),
    ('N', "水利、环境和公共设施管理业", &["环保科技", "园林绿化"]),
    ('O', "居民服务、修理和其他服务业", &["家政服务", "汽车服务"]),
    ('P', "教育", &["教育咨询", "培训"]),
    ('Q', "卫生和社会工作", &["健康管理", "医疗管理"]),
    (
        'R',
        "文化、体育和娱乐业",
        &["文化传媒", "文化传播", "体育发展"],
    ),
    ('S', "公共管理、社会保障和社会组织", &["服务"]),
    ('T', "国际组织", &["代表处"]),
];
/// Section weights for enterprises, per 1,000.
const ENTERPRISE_SECTIONS: [u64; 20] = [
    20, 2, 80, 8, 70, 300, 40, 50, 110, 10, 30, 150, 70, 15, 20, 10, 8, 35, 0, 1,
];
/// Individual businesses are shops, eateries and repair stalls.
const SHOP_WORDS: &[(char, &str)] = &[
    ('F', "便利店"),
    ('F', "副食店"),
    ('F', "水果店"),
    ('F', "五金店"),
    ('F', "服装店"),
    ('H', "面馆"),
    ('H', "小吃店"),
    ('H', "火锅店"),
    ('H', "茶馆"),
    ('H', "串串香"),
    ('O', "理发店"),
    ('O', "汽车修理部"),
    ('O', "家电维修部"),
    ('C', "食品加工坊"),
];
const BRAND_CHARS: &str =
    "蓉锦川华鑫盛恒新欣宏博创达泰和瑞丰祥兴源科力嘉众汇诚信德远航星智联合金宇辰立天府";

/// The attributes of entity `number` that do not depend on the people.
#[derive(Clone, Debug)]
pub(crate) struct EntityCore {
    pub number: u64,
    pub kind: EntityKind,
    pub uscc: String,
    pub legacy_pilot: bool,
    pub name: String,
    pub industry: char,
    pub capital: String,
    pub founded: NaiveDate,
    pub status: &'static str,
    pub county: usize,
    pub township: usize,
    pub address: String,
}

/// Pre-computed tables for deriving entities.
pub(crate) struct EntityBook {
    kinds: Weighted,
    sections: Weighted,
    market_years: Weighted,
    brand_chars: Vec<char>,
    seed: u64,
    legacy_pilot_rate: f64,
}

impl EntityBook {
    pub(crate) fn new(seed: u64, legacy_pilot_rate: f64) -> Self {
        Self {
            kinds: Weighted::new(KINDS.iter().map(|(_, w)| *w)),
            sections: Weighted::new(ENTERPRISE_SECTIONS),
            market_years: Weighted::new((1990..=2024u64).map(|y| {
                if y < 2014 {
                    1 + (y - 1990) / 4
                } else {
                    12 + (y - 2014) * 2
                }
            })),
            brand_chars: BRAND_CHARS.chars().collect(),
            seed,
            legacy_pilot_rate,
        }
    }

    /// Entity `number`, the same on every call.
    pub(crate) fn core(&self, divisions: &Divisions, number: u64) -> EntityCore {
        let mut dice = Dice::indexed(self.seed, Stream::Entity, number);
        let kind = KINDS
            .get(self.kinds.draw(&mut dice))
            .map_or(EntityKind::Enterprise, |(k, _)| *k);
        let county = divisions.draw_county(&mut dice);
        let township = divisions.draw_township(county, &mut dice);
        let county_code = COUNTIES.get(county).map_or("510100", |c| c.code);
        let county_name = COUNTIES.get(county).map_or("", |c| c.name);
        let town_name = divisions
            .township(county, township)
            .map_or("", |t| t.name.as_str());
        let founded = self.founding_date(kind, &mut dice);

        let brand: String = (0..2)
            .filter_map(|_| dice.pick(&self.brand_chars))
            .collect();
        let (name, industry) = match kind {
            EntityKind::Enterprise => {
                let section = INDUSTRIES
                    .get(self.sections.draw(&mut dice))
                    .unwrap_or(&INDUSTRIES[5]);
                let word = dice.pick(section.2).copied().unwrap_or("商贸");
                let form = match dice.below(100) {
                    0..=89 => "有限公司",
                    90..=96 => "有限责任公司",
                    _ => "股份有限公司",
                };
                (format!("成都{brand}{word}{form}"), section.0)
            }
            EntityKind::IndividualBusiness => {
                let (section, shop) = dice.pick(SHOP_WORDS).copied().unwrap_or(('F', "便利店"));
                (format!("{county_name}{brand}{shop}"), section)
            }
            EntityKind::Cooperative => {
                let what = dice
                    .pick(&["水果种植", "蔬菜种植", "生猪养殖", "茶叶", "花木"])
                    .copied()
                    .unwrap_or("蔬菜种植");
                (
                    format!("{county_name}{town_name}{brand}{what}专业合作社"),
                    'A',
                )
            }
            EntityKind::Agency => (format!("成都市{county_name}{town_name}办事处"), 'S'),
            EntityKind::PublicInstitution => {
                let (section, what) = dice
                    .pick(&[
                        ('P', "小学"),
                        ('P', "中学"),
                        ('P', "幼儿园"),
                        ('Q', "社区卫生服务中心"),
                        ('R', "文化站"),
                    ])
                    .copied()
                    .unwrap_or(('P', "小学"));
                (format!("{county_name}{town_name}{what}"), section)
            }
            EntityKind::SocialGroup => (format!("成都市{county_name}{brand}商会"), 'S'),
            EntityKind::PrivateNonProfit => (format!("{county_name}{brand}社会工作服务中心"), 'S'),
            EntityKind::Foundation => (format!("成都{brand}公益基金会"), 'S'),
        };

        let capital = match kind {
            EntityKind::IndividualBusiness => dice.between(1, 50),
            EntityKind::Cooperative => dice.between(10, 500),
            _ => *dice
                .pick(&[
                    3, 10, 50, 100, 100, 200, 300, 500, 1000, 1000, 2000, 5000, 10000,
                ])
                .unwrap_or(&100),
        };
        let status = if kind.is_market() {
            match dice.below(100) {
                0..=79 => "存续",
                80..=87 => "在业",
                88..=91 => "吊销",
                _ => "注销",
            }
        } else if dice.chance(0.05) {
            "注销"
        } else {
            "存续"
        };
        let registered_at = if kind == EntityKind::Enterprise && dice.chance(0.2) {
            "510100"
        } else {
            county_code
        };
        let (uscc, legacy_pilot) = self.uscc(kind, registered_at, number, founded, &mut dice);
        let address = home_address(divisions, county, township, &mut dice);
        EntityCore {
            number,
            kind,
            uscc,
            legacy_pilot,
            name,
            industry,
            capital: format!("{capital}.00"),
            founded,
            status,
            county,
            township,
            address,
        }
    }

    /// Registrations grew fast after the 2014 reform; institutions are older.
    fn founding_date(&self, kind: EntityKind, dice: &mut Dice) -> NaiveDate {
        let year = if kind.is_market() {
            1990 + self.market_years.draw(dice) as i32
        } else {
            dice.between(1960, 2020) as i32
        };
        let day = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default()
            + Duration::days(dice.between(0, 364));
        day.min(snapshot())
    }

    /// A code unique to `number`: entities from before the 2015 reform keep their old
    /// eight-digit organisation code, later ones get an `MA` code. A few early pilot
    /// codes carry a check character computed the wrong way.
    fn uscc(
        &self,
        kind: EntityKind,
        division: &str,
        number: u64,
        founded: NaiveDate,
        dice: &mut Dice,
    ) -> (String, bool) {
        let before_reform = founded.year() < 2015;
        let body = if before_reform {
            format!(
                "{:08}",
                (number.wrapping_mul(48_271_117) + self.seed % 100_000_000) % 100_000_000
            )
        } else {
            const SPACE: u64 = 31u64.pow(6);
            let mut v = (number.wrapping_mul(1_000_003) + self.seed % SPACE) % SPACE;
            let alphabet: Vec<char> = uscc::ALPHABET.chars().collect();
            let mut tail = ['0'; 6];
            for slot in tail.iter_mut().rev() {
                *slot = alphabet.get((v % 31) as usize).copied().unwrap_or('0');
                v /= 31;
            }
            format!("MA{}", tail.iter().collect::<String>())
        };
        let org_check = org_code::check_char(&body).unwrap_or('0');
        let first17 = format!("{}{division}{body}{org_check}", kind.uscc_prefix());
        let check = uscc::check_char(&first17).unwrap_or('0');
        if before_reform && dice.chance(self.legacy_pilot_rate) {
            let wrong = uscc::ALPHABET
                .chars()
                .nth(dice.index(30) + 1)
                .map(|c| if c == check { '0' } else { c })
                .unwrap_or('0');
            let wrong = if wrong == check { '1' } else { wrong };
            return (format!("{first17}{wrong}"), true);
        }
        (format!("{first17}{check}"), false)
    }
}

/// The name of an industry section.
pub(crate) fn industry_name(section: char) -> &'static str {
    INDUSTRIES
        .iter()
        .find(|(c, _, _)| *c == section)
        .map_or("", |(_, n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_validate_unless_pilot() {
        let divisions = Divisions::load().expect("tables");
        let book = EntityBook::new(11, 0.05);
        let mut seen = std::collections::HashSet::new();
        for n in 0..2000 {
            let e = book.core(&divisions, n);
            let ok = uscc::check_char(&e.uscc[..17]) == e.uscc.chars().nth(17);
            assert_eq!(ok, !e.legacy_pilot, "{}", e.uscc);
            assert!(seen.insert(e.uscc[8..17].to_string()));
            assert_eq!(e.uscc, book.core(&divisions, n).uscc);
        }
    }
}
