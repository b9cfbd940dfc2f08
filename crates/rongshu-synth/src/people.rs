//! The people of the city, generated household by household in one pass. Only the
//! sequence counters of ID numbers are kept across households (so that no two people
//! share a number); everything else is forgotten once a household is written.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};

use crate::dice::{Dice, Stream, Weighted};
use crate::divisions::{COUNTIES, Divisions};
use crate::names::{NameBook, ROAD_KINDS, ROAD_STEMS};

/// The day the synthetic city is observed; nothing depends on the clock of the run.
pub(crate) fn snapshot() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 30).unwrap_or_default()
}

/// Deaths are recorded from this day on (the registers' memory of the recent past).
fn death_window_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Relation {
    Head,
    Spouse,
    Child,
    Grandchild,
    Parent,
    Other,
}

impl Relation {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Relation::Head => "户主",
            Relation::Spouse => "配偶",
            Relation::Child => "子女",
            Relation::Grandchild => "孙子女",
            Relation::Parent => "父母",
            Relation::Other => "其他",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Marital {
    Single,
    Married,
    Divorced,
    Widowed,
}

impl Marital {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Marital::Single => "未婚",
            Marital::Married => "已婚",
            Marital::Divorced => "离婚",
            Marital::Widowed => "丧偶",
        }
    }
}

/// One resident as the true city knows them.
#[derive(Clone, Debug)]
pub(crate) struct Person {
    pub index: u64,
    pub id_number: String,
    pub name: String,
    pub male: bool,
    pub birth: NaiveDate,
    pub ethnicity: &'static str,
    pub household: u64,
    pub relation: Relation,
    pub marital: Marital,
    pub marriage_date: Option<NaiveDate>,
    pub spouse: Option<(String, String)>,
    pub county: usize,
    pub township: usize,
    pub address: String,
    pub phone: Option<String>,
    pub death: Option<NaiveDate>,
}

impl Person {
    /// Age in whole years on `day`.
    pub(crate) fn age_on(&self, day: NaiveDate) -> i32 {
        let mut age = day.year() - self.birth.year();
        if (day.month(), day.day()) < (self.birth.month(), self.birth.day()) {
            age -= 1;
        }
        age
    }

    /// Age now, or at death for the dead.
    pub(crate) fn age(&self) -> i32 {
        self.age_on(self.death.unwrap_or_else(snapshot))
    }

    pub(crate) fn sex_label(&self) -> &'static str {
        if self.male { "男" } else { "女" }
    }

    pub(crate) fn county_code(&self) -> &'static str {
        COUNTIES.get(self.county).map_or("510100", |c| c.code)
    }

    pub(crate) fn household_no(&self) -> String {
        format!("{}{:09}", self.county_code(), self.household)
    }
}

/// What the members of a household share.
struct Home {
    household: u64,
    county: usize,
    township: usize,
    address: String,
    ethnicity: &'static str,
}

/// Ethnic groups of Chengdu's residents, per 10,000.
const ETHNICITIES: &[(&str, u64)] = &[
    ("汉族", 9_850),
    ("藏族", 50),
    ("彝族", 40),
    ("回族", 20),
    ("羌族", 15),
    ("土家族", 10),
    ("满族", 8),
    ("苗族", 7),
];

/// Mobile number prefixes of the three carriers.
pub(crate) const PHONE_PREFIXES: &[(&str, &str)] = &[
    ("139", "中国移动"),
    ("138", "中国移动"),
    ("137", "中国移动"),
    ("136", "中国移动"),
    ("135", "中国移动"),
    ("159", "中国移动"),
    ("158", "中国移动"),
    ("157", "中国移动"),
    ("152", "中国移动"),
    ("151", "中国移动"),
    ("150", "中国移动"),
    ("188", "中国移动"),
    ("187", "中国移动"),
    ("182", "中国移动"),
    ("183", "中国移动"),
    ("178", "中国移动"),
    ("198", "中国移动"),
    ("130", "中国联通"),
    ("131", "中国联通"),
    ("132", "中国联通"),
    ("155", "中国联通"),
    ("156", "中国联通"),
    ("185", "中国联通"),
    ("186", "中国联通"),
    ("176", "中国联通"),
    ("166", "中国联通"),
    ("133", "中国电信"),
    ("153", "中国电信"),
    ("180", "中国电信"),
    ("181", "中国电信"),
    ("189", "中国电信"),
    ("177", "中国电信"),
    ("173", "中国电信"),
    ("199", "中国电信"),
];

/// The carrier of a mobile number.
pub(crate) fn carrier(phone: &str) -> &'static str {
    PHONE_PREFIXES
        .iter()
        .find(|(p, _)| phone.starts_with(p))
        .map_or("中国移动", |(_, c)| c)
}

/// Household head ages by five-year band from 20, weighted like the city's adults.
const HEAD_AGE_BANDS: [u64; 14] = [5, 9, 11, 11, 10, 10, 10, 9, 7, 7, 5, 3, 2, 1];
/// Household sizes 1..=6, per 100 households (2020 census: about 2.4 people each).
const HOUSEHOLD_SIZES: [u64; 6] = [25, 28, 24, 14, 6, 3];

/// Generates households in order.
pub(crate) struct PeopleStream<'a> {
    divisions: &'a Divisions,
    names: &'a NameBook,
    dice: Dice,
    seed: u64,
    next_index: u64,
    total: u64,
    households: u64,
    /// Sequence slots used per (division code, birth date, sex).
    used: HashMap<u64, u16>,
    head_ages: Weighted,
    sizes: Weighted,
    ethnicities: Weighted,
}

impl<'a> PeopleStream<'a> {
    pub(crate) fn new(
        seed: u64,
        total: u64,
        divisions: &'a Divisions,
        names: &'a NameBook,
    ) -> Self {
        Self {
            divisions,
            names,
            dice: Dice::new(seed, Stream::People),
            seed,
            next_index: 0,
            total,
            households: 0,
            used: HashMap::new(),
            head_ages: Weighted::new(HEAD_AGE_BANDS),
            sizes: Weighted::new(HOUSEHOLD_SIZES),
            ethnicities: Weighted::new(ETHNICITIES.iter().map(|(_, w)| *w)),
        }
    }

    /// The next household, or `None` when every person has been generated.
    pub(crate) fn next_household(&mut self) -> Option<Vec<Person>> {
        if self.next_index >= self.total {
            return None;
        }
        let left = self.total - self.next_index;
        let size = (self.sizes.draw(&mut self.dice) as u64 + 1).min(left) as usize;
        let household = self.households;
        self.households += 1;

        let county = self.divisions.draw_county(&mut self.dice);
        let township = self.divisions.draw_township(county, &mut self.dice);
        let home = Home {
            household,
            county,
            township,
            address: home_address(self.divisions, county, township, &mut self.dice),
            ethnicity: ETHNICITIES
                .get(self.ethnicities.draw(&mut self.dice))
                .map_or("汉族", |(e, _)| e),
        };

        let head_age =
            20 + 5 * self.head_ages.draw(&mut self.dice) as i32 + self.dice.between(0, 4) as i32;
        let head_male = self.dice.chance(0.6);
        let has_spouse = size >= 2 && head_age >= 22 && self.dice.chance(0.8);

        let mut members: Vec<Person> = Vec::with_capacity(size);
        for slot in 0..size {
            let (relation, age, male) = match slot {
                0 => (Relation::Head, head_age, head_male),
                1 if has_spouse => {
                    let age = (head_age + self.dice.between(-4, 4) as i32).max(20);
                    (Relation::Spouse, age, !head_male)
                }
                // Three generations under one roof are common: older heads live with
                // their grandchildren.
                _ if head_age >= 55 && self.dice.chance(0.5) => {
                    let age = (head_age - self.dice.between(48, 62) as i32).max(0);
                    (Relation::Grandchild, age, self.dice.chance(0.52))
                }
                _ => {
                    let gap = self.dice.between(22, 34) as i32;
                    if head_age - gap >= 0
                        && !(slot == size - 1 && head_age < 50 && self.dice.chance(0.3))
                    {
                        (Relation::Child, head_age - gap, self.dice.chance(0.52))
                    } else if head_age + gap <= 100 {
                        (Relation::Parent, head_age + gap, self.dice.chance(0.4))
                    } else {
                        (
                            Relation::Other,
                            (head_age - self.dice.between(-6, 6) as i32).max(18),
                            self.dice.chance(0.5),
                        )
                    }
                }
            };
            let person = self.person(&home, relation, age, male, &members);
            members.push(person);
        }
        self.marry(&mut members);
        Some(members)
    }

    fn person(
        &mut self,
        home: &Home,
        relation: Relation,
        age: i32,
        male: bool,
        members: &[Person],
    ) -> Person {
        let index = self.next_index;
        self.next_index += 1;
        let snap = snapshot();
        let birth = NaiveDate::from_ymd_opt(snap.year() - age - 1, 7, 1).unwrap_or(snap)
            + Duration::days(self.dice.between(0, 364));
        let surname = match relation {
            // Children take the father's surname when he is in the household.
            Relation::Child | Relation::Grandchild => members
                .iter()
                .find(|m| m.male && matches!(m.relation, Relation::Head | Relation::Spouse))
                .or(members.first())
                .map(|m| surname_of(&m.name).to_string())
                .unwrap_or_else(|| self.names.surname(&mut self.dice).to_string()),
            _ => self.names.surname(&mut self.dice).to_string(),
        };
        let name = format!(
            "{surname}{}",
            self.names.given(male, birth.year(), &mut self.dice)
        );
        let (birth_code, birth) = self.birth_code_and_date(home.county, birth, male);
        let id_number = self.id_number(&birth_code, birth, male);

        let death = self.draw_death(birth, age);
        let phone = (age >= 12 && self.dice.chance(if age >= 80 { 0.6 } else { 0.95 }))
            .then(|| phone_number(self.seed, index, &mut self.dice));
        let marital = match relation {
            _ if age < 22 => Marital::Single,
            Relation::Parent => Marital::Widowed,
            Relation::Child | Relation::Grandchild | Relation::Other => {
                if self.dice.chance(0.85) {
                    Marital::Single
                } else {
                    Marital::Divorced
                }
            }
            // A head living alone (or only with children or parents).
            _ if age >= 65 && self.dice.chance(0.6) => Marital::Widowed,
            _ if self.dice.chance(0.55) => Marital::Single,
            _ => Marital::Divorced,
        };
        Person {
            index,
            id_number,
            name,
            male,
            birth,
            ethnicity: home.ethnicity,
            household: home.household,
            relation,
            marital,
            marriage_date: None,
            spouse: None,
            county: home.county,
            township: home.township,
            address: home.address.clone(),
            phone,
            death,
        }
    }

    /// Head and spouse are married to each other; a survivor of a death is widowed.
    fn marry(&mut self, members: &mut [Person]) {
        let [head, spouse, ..] = members else { return };
        if spouse.relation != Relation::Spouse {
            return;
        }
        let younger = head.birth.max(spouse.birth);
        let year = (younger.year() + self.dice.between(21, 30) as i32).min(snapshot().year() - 1);
        let date = NaiveDate::from_ymd_opt(year, 1, 1)
            .map(|d| d + Duration::days(self.dice.between(0, 364)));
        // A marriage ends with the first death; register it before that.
        let first_death = head.death.into_iter().chain(spouse.death).min();
        let date = match (date, first_death) {
            (Some(d), Some(death)) if d >= death => {
                Some(death - Duration::days(365).min(death - younger))
            }
            (d, _) => d,
        };
        head.marital = widowed_or_married(spouse.death.is_some() && head.death.is_none());
        spouse.marital = widowed_or_married(head.death.is_some() && spouse.death.is_none());
        head.marriage_date = date;
        spouse.marriage_date = date;
        head.spouse = Some((spouse.id_number.clone(), spouse.name.clone()));
        spouse.spouse = Some((head.id_number.clone(), head.name.clone()));
    }

    /// Where the number was issued: mostly the home county (under the code of the issue
    /// year), otherwise elsewhere in Sichuan or China. Moves the birth date by a day in
    /// the rare case that its 500 sequence numbers are used up.
    fn birth_code_and_date(
        &mut self,
        county: usize,
        birth: NaiveDate,
        male: bool,
    ) -> (String, NaiveDate) {
        let issue_year = match birth.year() {
            y if y < 1969 => 1985 + self.dice.between(0, 4) as i32,
            y if y < 1990 => y + 16,
            y => y,
        };
        let roll = self.dice.below(100);
        let code = if roll < 10 {
            self.dice.pick(&self.divisions.sichuan_elsewhere).cloned()
        } else if roll < 15 {
            self.dice.pick(&self.divisions.china_elsewhere).cloned()
        } else {
            let c = if roll < 30 {
                self.divisions.draw_county(&mut self.dice)
            } else {
                county
            };
            COUNTIES.get(c).map(|c| c.code_in(issue_year).to_string())
        };
        let code = code.unwrap_or_else(|| "510104".to_string());
        let mut day = birth;
        for _ in 0..30 {
            if self.slot_free(&code, day, male) {
                break;
            }
            day = day.succ_opt().unwrap_or(day);
        }
        (code, day)
    }

    fn bucket(code: &str, day: NaiveDate, male: bool) -> u64 {
        let code: u64 = code.parse().unwrap_or(0);
        let days =
            (day - NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default()).num_days() as u64;
        (code << 24) | (days << 1) | u64::from(male)
    }

    fn slot_free(&self, code: &str, day: NaiveDate, male: bool) -> bool {
        let cap = if male { 500 } else { 499 };
        self.used
            .get(&Self::bucket(code, day, male))
            .is_none_or(|n| *n < cap)
    }

    /// A valid 18-character number; the sequence's last digit is odd for men.
    fn id_number(&mut self, code: &str, birth: NaiveDate, male: bool) -> String {
        let key = Self::bucket(code, birth, male);
        let k = {
            let n = self.used.entry(key).or_insert(0);
            *n += 1;
            u64::from(*n - 1)
        };
        // Start each bucket at its own place so the numbers do not all begin at 001.
        let start = mix(key ^ self.seed);
        let seq = if male {
            2 * ((start + 7 * k) % 500) + 1
        } else {
            2 * (1 + (start + 7 * k) % 499)
        };
        let first17 = format!("{code}{}{seq:03}", crate::rows::compact_date(birth));
        let check = rongshu_core::ident::citizen_id::check_char(&first17).unwrap_or('0');
        format!("{first17}{check}")
    }

    /// Whether and when this person died within the window, by age-specific mortality.
    fn draw_death(&mut self, birth: NaiveDate, age: i32) -> Option<NaiveDate> {
        let annual = match age {
            0..=49 => 0.001,
            50..=64 => 0.005,
            65..=74 => 0.015,
            75..=84 => 0.045,
            _ => 0.13,
        };
        if !self.dice.chance(annual * 5.5) {
            return None;
        }
        let start = death_window_start().max(birth);
        let span = (snapshot() - start).num_days();
        Some(start + Duration::days(self.dice.between(0, span.max(0))))
    }
}

fn widowed_or_married(widowed: bool) -> Marital {
    if widowed {
        Marital::Widowed
    } else {
        Marital::Married
    }
}

fn surname_of(name: &str) -> &str {
    // Compound surnames are two characters; the book only has those listed there.
    const COMPOUND: [&str; 7] = ["欧阳", "司马", "上官", "诸葛", "司徒", "令狐", "皇甫"];
    if let Some(c) = COMPOUND.iter().find(|c| name.starts_with(*c)) {
        return c;
    }
    name.char_indices().nth(1).map_or(name, |(i, _)| &name[..i])
}

/// A stateless 64-bit mixer (splitmix64's finaliser).
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A mobile number unique to person `index`: the last eight digits are an affine
/// permutation of the index, so two people never share one.
fn phone_number(seed: u64, index: u64, dice: &mut Dice) -> String {
    let prefix = dice.pick(PHONE_PREFIXES).map_or("139", |(p, _)| p);
    let tail = (index.wrapping_mul(7_919_317) + mix(seed) % 100_000_000) % 100_000_000;
    format!("{prefix}{tail:08}")
}

/// A street address in a township: flats in town, house numbers in the villages.
pub(crate) fn home_address(
    divisions: &Divisions,
    county: usize,
    township: usize,
    dice: &mut Dice,
) -> String {
    let county_name = COUNTIES.get(county).map_or("", |c| c.name);
    let Some(town) = divisions.township(county, township) else {
        return format!("成都市{county_name}");
    };
    let rural = town.name.ends_with('镇') || town.name.ends_with('乡');
    if rural && dice.chance(0.5) {
        let village = ROAD_STEMS
            .get(dice.index(ROAD_STEMS.len()))
            .copied()
            .unwrap_or("新");
        return format!(
            "成都市{county_name}{}{village}村{}组{}号",
            town.name,
            dice.between(1, 12),
            dice.between(1, 120)
        );
    }
    let stem = dice.pick(ROAD_STEMS).copied().unwrap_or("人民");
    let kind = dice.pick(ROAD_KINDS).copied().unwrap_or("路");
    format!(
        "成都市{county_name}{}{stem}{kind}{}号{}栋{}单元{}{:02}室",
        town.name,
        dice.between(1, 300),
        dice.between(1, 20),
        dice.between(1, 4),
        dice.between(1, 30),
        dice.between(1, 8)
    )
}

/// The address a person had before the last move: what a department that missed the
/// move still holds. Recomputed from the person's index when needed.
pub(crate) fn previous_address(divisions: &Divisions, seed: u64, index: u64) -> String {
    let mut dice = Dice::indexed(seed, Stream::OldAddress, index);
    let county = divisions.draw_county(&mut dice);
    let township = divisions.draw_township(county, &mut dice);
    home_address(divisions, county, township, &mut dice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surnames_split_compounds() {
        assert_eq!(surname_of("欧阳娜"), "欧阳");
        assert_eq!(surname_of("王芳"), "王");
    }

    #[test]
    fn households_have_valid_unique_ids() {
        let divisions = Divisions::load().expect("tables");
        let names = NameBook::new();
        let mut stream = PeopleStream::new(5, 3000, &divisions, &names);
        let mut seen = std::collections::HashSet::new();
        let mut count = 0;
        while let Some(household) = stream.next_household() {
            for p in household {
                count += 1;
                let id = p.id_number.as_str();
                assert_eq!(
                    rongshu_core::ident::citizen_id::check_char(&id[..17]),
                    id.chars().nth(17)
                );
                let seq_digit = id.as_bytes()[16] - b'0';
                assert_eq!(seq_digit % 2 == 1, p.male);
                assert_eq!(&id[6..14], p.birth.format("%Y%m%d").to_string());
                assert!(seen.insert(p.id_number.clone()));
            }
        }
        assert_eq!(count, 3000);
    }
}
