//! What each department holds about a person or an entity, in its own columns and habits
//! (民政 writes dates as 2024年1月5日, 税务 as 20240105, 人社 codes sex as 1/2).

use chrono::{Datelike, Duration, NaiveDate};

use crate::dice::Dice;
use crate::divisions::{COUNTIES, Divisions};
use crate::entities::{EntityBook, EntityCore, EntityKind};
use crate::faults::{Row, Subject};
use crate::people::{Person, Relation, carrier, home_address, mix, snapshot};

/// `YYYY-MM-DD`, written by hand: chrono's formatter is a tenth of the run time.
pub(crate) fn iso(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

fn chinese_date(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

pub(crate) fn compact_date(d: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

fn county_name(county: usize) -> &'static str {
    COUNTIES.get(county).map_or("", |c| c.name)
}

/// A day between `from` and `to` (inclusive), or `from` when the span is empty.
fn day_between(dice: &mut Dice, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    from + Duration::days(dice.between(0, (to - from).num_days()))
}

fn years_after(d: NaiveDate, years: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year() + years, d.month(), d.day().min(28)).unwrap_or(d)
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn person_subject(p: &Person) -> Subject<'_> {
    Subject::Person {
        index: p.index,
        id_number: &p.id_number,
        dead: p.death.is_some(),
    }
}

/// 公安局: every registered resident, the dead with their registration cancelled.
pub(crate) fn public_security<'a>(p: &'a Person, divisions: &Divisions) -> Row<'a> {
    let township_code = divisions
        .township(p.county, p.township)
        .map_or("", |t| t.code.as_str());
    Row {
        values: vec![
            String::new(),
            p.id_number.clone(),
            p.name.clone(),
            p.sex_label().to_string(),
            iso(p.birth),
            p.ethnicity.to_string(),
            p.household_no(),
            p.relation.label().to_string(),
            p.address.clone(),
            township_code.to_string(),
            if p.death.is_some() {
                "死亡注销"
            } else {
                "正常"
            }
            .to_string(),
            p.death.map(iso).unwrap_or_default(),
        ],
        subject: person_subject(p),
        alive_status: None,
    }
}

/// 民政局: marriages, divorces and deaths, one row per party.
pub(crate) fn civil_affairs<'a>(p: &'a Person, dice: &mut Dice) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    let office = format!("{}民政局", county_name(p.county));
    let row =
        |event: &str, spouse: Option<&(String, String)>, date: NaiveDate, office: String| Row {
            values: vec![
                String::new(),
                event.to_string(),
                p.id_number.clone(),
                p.name.clone(),
                p.sex_label().to_string(),
                chinese_date(p.birth),
                spouse.map(|s| s.0.clone()).unwrap_or_default(),
                spouse.map(|s| s.1.clone()).unwrap_or_default(),
                chinese_date(date),
                office,
            ],
            subject: person_subject(p),
            alive_status: None,
        };
    if let (Some(date), Some(spouse)) = (p.marriage_date, p.spouse.as_ref()) {
        rows.push(row(
            "结婚登记",
            Some(spouse),
            date,
            format!("{office}婚姻登记处"),
        ));
    }
    if p.marital == crate::people::Marital::Divorced && p.age() >= 24 {
        let from = years_after(p.birth, 24);
        let to = p.death.unwrap_or_else(snapshot);
        rows.push(row(
            "离婚登记",
            None,
            day_between(dice, from, to),
            format!("{office}婚姻登记处"),
        ));
    }
    if let Some(death) = p.death {
        rows.push(row("死亡登记", None, death, office));
    }
    rows
}

/// A person's working life as the social insurance and housing fund see it.
pub(crate) struct Employment {
    pub employer: Option<EntityCore>,
    pub retired: bool,
    pub start: NaiveDate,
}

/// Whether and where a person is insured; drawn once and shared by 人社局 and 公积金中心.
pub(crate) fn employment(
    p: &Person,
    book: &EntityBook,
    divisions: &Divisions,
    entities: u64,
    dice: &mut Dice,
) -> Option<(Employment, bool)> {
    let age = p.age();
    if age < 18 {
        return None;
    }
    let roll = dice.unit();
    let retired = age > 60;
    let (worker, insured) = if retired {
        (roll < 0.45, roll < 0.85)
    } else {
        (roll < 0.62, roll < 0.85)
    };
    if !insured {
        return None;
    }
    let worker = worker && entities > 0;
    let employer = (worker && !retired).then(|| book.core(divisions, dice.below(entities)));
    let start = if worker {
        day_between(
            dice,
            years_after(p.birth, 18).max(ymd(1995, 1, 1)),
            years_after(p.birth, 30).max(ymd(1995, 1, 1)),
        )
    } else {
        day_between(dice, ymd(2014, 7, 1), ymd(2020, 12, 31))
    };
    let start = start.min(p.death.unwrap_or_else(snapshot));
    Some((
        Employment {
            employer,
            retired,
            start,
        },
        worker,
    ))
}

/// 人社局: pension insurance for workers and residents.
pub(crate) fn social_insurance<'a>(
    p: &'a Person,
    e: &Employment,
    worker: bool,
    dice: &mut Dice,
) -> Row<'a> {
    let alive = if e.retired {
        "领取待遇"
    } else {
        "参保缴费"
    };
    let status = if p.death.is_some() {
        "终止参保"
    } else if !e.retired && dice.chance(0.05) {
        "暂停缴费"
    } else {
        alive
    };
    Row {
        values: vec![
            String::new(),
            p.id_number.clone(),
            p.name.clone(),
            if p.male { "1" } else { "2" }.to_string(),
            iso(p.birth),
            if worker {
                "城镇职工基本养老保险"
            } else {
                "城乡居民基本养老保险"
            }
            .to_string(),
            e.employer
                .as_ref()
                .map(|c| c.uscc.clone())
                .unwrap_or_default(),
            e.employer
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            p.phone.clone().unwrap_or_default(),
            p.address.clone(),
            iso(e.start),
            status.to_string(),
        ],
        subject: person_subject(p),
        alive_status: Some(alive),
    }
}

/// 公积金中心: part of the employed pay into the housing fund.
pub(crate) fn housing_fund<'a>(
    p: &'a Person,
    e: &Employment,
    seed: u64,
    dice: &mut Dice,
) -> Option<Row<'a>> {
    let employer = e.employer.as_ref()?;
    if !dice.chance(0.55) {
        return None;
    }
    let status = if p.death.is_some() {
        "销户"
    } else if dice.chance(0.1) {
        "封存"
    } else {
        "正常"
    };
    let deposit = dice.between(30_000, 500_000);
    let open = day_between(
        dice,
        e.start.max(ymd(2000, 1, 1)),
        p.death.unwrap_or_else(snapshot),
    );
    Some(Row {
        values: vec![
            String::new(),
            format!(
                "{:012}",
                mix(seed ^ p.index.wrapping_mul(31)) % 1_000_000_000_000
            ),
            p.id_number.clone(),
            p.name.clone(),
            employer.uscc.clone(),
            employer.name.clone(),
            format!("{}.{:02}", deposit / 100, deposit % 100),
            iso(open),
            p.phone.clone().unwrap_or_default(),
            status.to_string(),
        ],
        subject: person_subject(p),
        alive_status: Some("正常"),
    })
}

/// 卫健委: birth certificates since 2016 and death certificates.
pub(crate) fn health<'a>(p: &'a Person, mother: Option<&Person>, dice: &mut Dice) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    let county = county_name(p.county);
    if p.birth >= ymd(2016, 1, 1) {
        let hospital = if dice.chance(0.5) {
            format!("{county}妇幼保健院")
        } else {
            format!("{county}人民医院")
        };
        rows.push(Row {
            values: vec![
                String::new(),
                format!("Q{}{:08}", p.birth.year(), dice.below(100_000_000)),
                "出生".to_string(),
                p.id_number.clone(),
                p.name.clone(),
                p.sex_label().to_string(),
                iso(p.birth),
                iso(p.birth),
                mother.map(|m| m.name.clone()).unwrap_or_default(),
                mother.map(|m| m.id_number.clone()).unwrap_or_default(),
                hospital,
            ],
            subject: person_subject(p),
            alive_status: None,
        });
    }
    if let Some(death) = p.death {
        let place = if dice.chance(0.6) {
            format!("{county}人民医院")
        } else {
            String::new()
        };
        rows.push(Row {
            values: vec![
                String::new(),
                format!("D{}{:08}", death.year(), dice.below(100_000_000)),
                "死亡".to_string(),
                p.id_number.clone(),
                p.name.clone(),
                p.sex_label().to_string(),
                iso(p.birth),
                iso(death),
                String::new(),
                String::new(),
                place,
            ],
            subject: person_subject(p),
            alive_status: None,
        });
    }
    rows
}

/// 电信运营商: one row per mobile number under the holder's real name.
pub(crate) fn telecom<'a>(p: &'a Person, dice: &mut Dice) -> Option<Row<'a>> {
    let phone = p.phone.as_ref()?;
    let from = years_after(p.birth, 12).max(ymd(2005, 1, 1));
    let activation = day_between(dice, from, p.death.unwrap_or_else(snapshot));
    let status = if p.death.is_some() {
        "销号"
    } else if dice.chance(0.03) {
        "停机"
    } else {
        "正常"
    };
    Some(Row {
        values: vec![
            String::new(),
            phone.clone(),
            p.id_number.clone(),
            p.name.clone(),
            carrier(phone).to_string(),
            iso(activation),
            p.address.clone(),
            status.to_string(),
        ],
        subject: person_subject(p),
        alive_status: Some("正常"),
    })
}

const GRADES: [&str; 12] = [
    "一年级",
    "二年级",
    "三年级",
    "四年级",
    "五年级",
    "六年级",
    "七年级",
    "八年级",
    "九年级",
    "高一",
    "高二",
    "高三",
];

/// 教育局: pupils aged 6 to 17 with a guardian from the household.
pub(crate) fn education<'a>(
    p: &'a Person,
    guardian: Option<&Person>,
    divisions: &Divisions,
    seed: u64,
) -> Option<Row<'a>> {
    if p.death.is_some() {
        return None;
    }
    let age = p.age();
    let grade = GRADES.get(usize::try_from(age - 6).ok()?)?;
    let town = divisions
        .township(p.county, p.township)
        .map_or("", |t| t.name.as_str());
    let county = county_name(p.county);
    let school = match age {
        6..=11 => format!("{county}{town}小学"),
        12..=14 => format!("{county}第{}中学", 1 + mix(seed ^ p.household) % 12),
        _ => format!("成都市第{}中学", 1 + mix(seed ^ p.index) % 40),
    };
    Some(Row {
        values: vec![
            String::new(),
            format!(
                "L{:016}",
                mix(seed.wrapping_add(p.index)) % 10_000_000_000_000_000
            ),
            p.id_number.clone(),
            p.name.clone(),
            p.sex_label().to_string(),
            iso(p.birth),
            school,
            (*grade).to_string(),
            guardian.map(|g| g.name.clone()).unwrap_or_default(),
            guardian.and_then(|g| g.phone.clone()).unwrap_or_default(),
            p.address.clone(),
        ],
        subject: person_subject(p),
        alive_status: None,
    })
}

/// 住建局: new-home purchase contracts of household heads and spouses.
pub(crate) fn housing<'a>(
    p: &'a Person,
    divisions: &Divisions,
    book: &EntityBook,
    entities: u64,
    dice: &mut Dice,
) -> Option<Row<'a>> {
    if p.death.is_some() || !matches!(p.relation, Relation::Head | Relation::Spouse) || p.age() < 25
    {
        return None;
    }
    if !dice.chance(0.12) {
        return None;
    }
    let county = divisions.draw_county(dice);
    let township = divisions.draw_township(county, dice);
    let property = home_address(divisions, county, township, dice);
    let area = dice.between(6_000, 18_000);
    let unit_price = dice.between(100, 400); // 100 yuan per square metre
    let price = area * unit_price / 100; // in 100 yuan
    let sign = day_between(
        dice,
        years_after(p.birth, 25).max(ymd(2010, 1, 1)),
        snapshot(),
    );
    let developer = (entities > 0).then(|| book.core(divisions, dice.below(entities)).uscc);
    Some(Row {
        values: vec![
            String::new(),
            format!("YS{}{:07}", sign.year(), dice.below(10_000_000)),
            p.id_number.clone(),
            p.name.clone(),
            p.phone.clone().unwrap_or_default(),
            property,
            format!("{}.{:02}", area / 100, area % 100),
            format!("{}.{:02}", price / 100, price % 100),
            iso(sign),
            developer.unwrap_or_default(),
        ],
        subject: person_subject(p),
        alive_status: None,
    })
}

/// 医保局: basic medical insurance covers nearly everyone.
pub(crate) fn medical_insurance<'a>(
    p: &'a Person,
    worker: bool,
    dice: &mut Dice,
) -> Option<Row<'a>> {
    if !dice.chance(0.95) {
        return None;
    }
    let from = p.birth.max(ymd(2008, 1, 1));
    let enrol = day_between(dice, from, p.death.unwrap_or_else(snapshot));
    Some(Row {
        values: vec![
            String::new(),
            p.id_number.clone(),
            p.name.clone(),
            p.sex_label().to_string(),
            iso(p.birth),
            if worker {
                "职工基本医疗保险"
            } else {
                "城乡居民基本医疗保险"
            }
            .to_string(),
            p.county_code().to_string(),
            p.phone.clone().unwrap_or_default(),
            p.address.clone(),
            iso(enrol),
            if p.death.is_some() {
                "终止参保"
            } else {
                "正常参保"
            }
            .to_string(),
        ],
        subject: person_subject(p),
        alive_status: Some("正常参保"),
    })
}

const DISABILITIES: [&str; 7] = ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"];

/// 残联: holders of a disability certificate, more common with age.
pub(crate) fn disabled_persons<'a>(p: &'a Person, dice: &mut Dice) -> Option<Row<'a>> {
    let age = f64::from(p.age().max(0));
    if !dice.chance(0.01 + age * 0.0008) {
        return None;
    }
    let kind = dice.index(DISABILITIES.len());
    let level = dice.between(1, 4);
    let issued = day_between(
        dice,
        p.birth.max(ymd(2008, 1, 1)),
        p.death.unwrap_or_else(snapshot),
    );
    Some(Row {
        values: vec![
            String::new(),
            // The second-generation certificate number is the ID number, category and grade.
            format!("{}{}{level}", p.id_number, kind + 1),
            p.id_number.clone(),
            p.name.clone(),
            p.sex_label().to_string(),
            DISABILITIES
                .get(kind)
                .copied()
                .unwrap_or("肢体")
                .to_string(),
            format!(
                "{}级",
                ["一", "二", "三", "四"]
                    .get((level - 1) as usize)
                    .copied()
                    .unwrap_or("四")
            ),
            iso(issued),
            p.phone.clone().unwrap_or_default(),
            p.address.clone(),
            if p.death.is_some() {
                "注销"
            } else {
                "有效"
            }
            .to_string(),
        ],
        subject: person_subject(p),
        alive_status: Some("有效"),
    })
}

/// An entity with its legal representative, as the true register holds it.
pub(crate) struct Entity {
    pub core: EntityCore,
    pub rep_name: String,
    pub rep_id: String,
    pub rep_death: Option<NaiveDate>,
}

/// 市场监管局: the market register (enterprises, individual businesses, cooperatives).
pub(crate) fn market_regulation(e: &Entity) -> Option<Row<'_>> {
    let c = &e.core;
    if !c.kind.is_market() {
        return None;
    }
    let kind = if c.kind == EntityKind::Enterprise {
        if c.name.ends_with("股份有限公司") {
            "股份有限公司"
        } else {
            "有限责任公司"
        }
    } else {
        c.kind.label()
    };
    Some(Row {
        values: vec![
            String::new(),
            c.uscc.clone(),
            c.name.clone(),
            kind.to_string(),
            e.rep_name.clone(),
            e.rep_id.clone(),
            c.capital.clone(),
            c.industry.to_string(),
            iso(c.founded),
            c.status.to_string(),
            c.address.clone(),
            COUNTIES.get(c.county).map_or("", |k| k.code).to_string(),
        ],
        subject: Subject::Entity {
            uscc: &c.uscc,
            rep_death: e.rep_death,
        },
        alive_status: None,
    })
}

/// 税务局: taxpayers among market entities.
pub(crate) fn tax<'a>(e: &'a Entity, dice: &mut Dice) -> Option<Row<'a>> {
    let c = &e.core;
    if !c.kind.is_market() {
        return None;
    }
    let taxpayer_type = match c.kind {
        EntityKind::IndividualBusiness => "个体工商户定期定额",
        _ if dice.chance(0.3) => "一般纳税人",
        _ => "小规模纳税人",
    };
    let registered = (c.founded + Duration::days(dice.between(3, 40))).min(snapshot());
    let rating = *dice
        .pick(&["A", "B", "B", "M", "M", "M", "C", "D"])
        .unwrap_or(&"M");
    let status = match c.status {
        "注销" => "注销",
        "吊销" => "非正常",
        _ => "正常",
    };
    Some(Row {
        values: vec![
            String::new(),
            c.uscc.clone(),
            c.name.clone(),
            e.rep_name.clone(),
            taxpayer_type.to_string(),
            compact_date(registered),
            format!("国家税务总局成都市{}税务局", county_name(c.county)),
            rating.to_string(),
            status.to_string(),
        ],
        subject: Subject::Entity {
            uscc: &c.uscc,
            rep_death: None,
        },
        alive_status: None,
    })
}
