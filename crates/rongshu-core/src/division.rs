//! GB/T 2260 administrative divisions, embedded from the code tables in `data/`.
//!
//! The tables are parsed once, on first use, into lookup maps. A division code is
//! a 6-digit number that existed in some year since 1980; a person keeps the code of
//! the year their ID number was issued, so retired codes stay valid identifiers and
//! carry their years of validity and, where one can be named, their current successor.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// County-level division codes since 1980, with the years each was valid.
pub const COUNTY_HISTORY_CSV: &str = include_str!("../data/gbt2260-county-history.csv");
/// County-level divisions in force in 2023, with city and province.
pub const COUNTIES_2023_CSV: &str = include_str!("../data/divisions-2023-county.csv");
/// Chengdu's townships and sub-districts (9-digit statistical codes).
pub const CHENGDU_TOWNSHIPS_CSV: &str = include_str!("../data/chengdu-townships-2023.csv");

/// The first year the history table covers; codes without a start year were already
/// in force then.
pub const HISTORY_FIRST_YEAR: u16 = 1980;

/// Chengdu's prefecture code.
const CHENGDU: u32 = 510100;

/// Successors the name heuristic cannot find (renamed, or the stem changed), checked
/// against the Chengdu gazetteer.
const EXPLICIT_SUCCESSORS: &[(u32, u32)] = &[
    (510111, 510106), // 金牛区 (1983-1990) → 金牛区
    (510122, 510116), // 双流县 → 双流区 (2015)
    (510123, 510115), // 温江县 → 温江区 (2002)
    (510124, 510117), // 郫县 → 郫都区 (2016)
    (510125, 510114), // 新都县 → 新都区 (2001)
    (510126, 510182), // 彭县 → 彭州市 (1993)
    (510127, 510181), // 灌县 → 都江堰市 (1988)
    (510128, 510184), // 崇庆县 → 崇州市 (1994)
    (510130, 510183), // 邛崃县 → 邛崃市 (1994)
    (510132, 510118), // 新津县 → 新津区 (2020)
    (511027, 510185), // 简阳县 (内江) → 简阳市, now under Chengdu
    (511082, 510185), // 简阳市 (内江) → 简阳市
    (512081, 510185), // 简阳市 (资阳) → 简阳市 (2016)
    (512424, 510185), // 简阳县 (内江地区) → 简阳市
];

/// Codes used in ID numbers that GB/T 2260 does not list: Taiwan residents'
/// residence permits (港澳台居民居住证, since 2018) use 830000.
const EXTRA_CODES: &[(u32, &str, &str, u16)] = &[(830000, "台湾居民居住证", "台湾省", 2018)];

/// Why a division or township code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DivisionError {
    /// Not the right number of characters.
    #[error("a {what} code has {expected} digits, found {found} characters")]
    BadLength {
        /// "division" or "township".
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A character that is not an ASCII digit.
    #[error("character {position} must be a digit, found '{found}'")]
    BadCharacter {
        /// 1-based position.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// Well formed but not in GB/T 2260 in any year.
    #[error("division code {0:06} never existed")]
    Unknown(u32),
    /// Well formed but not among the townships we hold.
    #[error("township code {0:09} is not a known township")]
    UnknownTownship(u32),
}

/// The level of a division in the hierarchy, from its code's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivisionLevel {
    /// `xx0000`: province, autonomous region, municipality.
    Province,
    /// `xxxx00`: prefecture-level city, prefecture, league, autonomous prefecture.
    Prefecture,
    /// Everything else: county, district, county-level city, banner.
    County,
}

/// A name a code carried over a span of years (a code can be renamed and keep its number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamePeriod {
    /// The name.
    pub name: String,
    /// First year with this name; `None` means from before the history begins.
    pub from: Option<u16>,
    /// Last year with this name; `None` means it is still the name.
    pub to: Option<u16>,
}

/// One division code with its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    code: u32,
    code_text: String,
    names: Vec<NamePeriod>,
    current_name: String,
    province: String,
    city: Option<String>,
    valid_from: Option<u16>,
    valid_to: Option<u16>,
    successor: Option<u32>,
}

impl Division {
    /// The 6-digit code as a number.
    pub fn code(&self) -> u32 {
        self.code
    }

    /// The 6-digit code as text, with leading zeros kept.
    pub fn code_str(&self) -> &str {
        &self.code_text
    }

    /// The latest name: the 2023 name for a current code, the last name otherwise.
    pub fn name(&self) -> &str {
        &self.current_name
    }

    /// The name the code carried in `year` (the nearest name when `year` is outside
    /// the code's years).
    pub fn name_in(&self, year: i32) -> &str {
        let found = self.names.iter().find(|p| {
            p.from.is_none_or(|f| i32::from(f) <= year) && p.to.is_none_or(|t| year <= i32::from(t))
        });
        match found {
            Some(p) => &p.name,
            None if self.valid_from.is_some_and(|f| year < i32::from(f)) => {
                self.names.first().map_or(self.name(), |p| p.name.as_str())
            }
            None => self.names.last().map_or(self.name(), |p| p.name.as_str()),
        }
    }

    /// Every name the code carried, oldest first.
    pub fn names(&self) -> &[NamePeriod] {
        &self.names
    }

    /// The province (or municipality, autonomous region) the code belonged to.
    pub fn province(&self) -> &str {
        &self.province
    }

    /// The prefecture-level city, for codes in the 2023 table.
    pub fn city(&self) -> Option<&str> {
        self.city.as_deref()
    }

    /// First year the code was in force; `None` means already in force in 1980.
    pub fn valid_from(&self) -> Option<u16> {
        self.valid_from
    }

    /// Last year the code was in force; `None` means it still is.
    pub fn valid_to(&self) -> Option<u16> {
        self.valid_to
    }

    /// Whether the code was in force at some time during `year`.
    pub fn existed_in(&self, year: i32) -> bool {
        self.valid_from.is_none_or(|f| i32::from(f) <= year)
            && self.valid_to.is_none_or(|t| year <= i32::from(t))
    }

    /// Whether the code is still in force.
    pub fn is_current(&self) -> bool {
        self.valid_to.is_none()
    }

    /// Province, prefecture or county, from the code's shape.
    pub fn level(&self) -> DivisionLevel {
        if self.code.is_multiple_of(10000) {
            DivisionLevel::Province
        } else if self.code.is_multiple_of(100) {
            DivisionLevel::Prefecture
        } else {
            DivisionLevel::County
        }
    }

    /// The current division that took over a retired code, when one can be named:
    /// the same name (or the same name with 县 become 区/市) in the same province, or
    /// an explicit mapping. `None` for current codes and for codes split or merged
    /// beyond a single heir.
    pub fn successor(&self) -> Option<DivisionCode> {
        self.successor.and_then(find).map(DivisionCode)
    }

    /// The division in force today for this code: itself when current, else its successor.
    pub fn current(&'static self) -> Option<DivisionCode> {
        if self.is_current() {
            Some(DivisionCode(self))
        } else {
            self.successor()
        }
    }
}

/// A GB/T 2260 division code that existed in some year (the only constructor,
/// [`DivisionCode::parse`], checks that).
#[derive(Clone, Copy)]
pub struct DivisionCode(&'static Division);

impl DivisionCode {
    /// Parse a 6-digit code and check that it existed at some time since 1980.
    pub fn parse(s: &str) -> Result<DivisionCode, DivisionError> {
        let code = six_digits(s.trim())?;
        find(code)
            .map(DivisionCode)
            .ok_or(DivisionError::Unknown(code))
    }

    /// Look up a code already known to be six digits.
    pub fn from_u32(code: u32) -> Result<DivisionCode, DivisionError> {
        find(code)
            .map(DivisionCode)
            .ok_or(DivisionError::Unknown(code))
    }

    /// The code as text.
    pub fn as_str(&self) -> &'static str {
        self.0.code_str()
    }

    /// The code as a number.
    pub fn value(&self) -> u32 {
        self.0.code
    }

    /// Everything known about the code.
    pub fn division(&self) -> &'static Division {
        self.0
    }
}

impl fmt::Debug for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DivisionCode({} {})",
            self.0.code_text, self.0.current_name
        )
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for DivisionCode {
    fn eq(&self, other: &Self) -> bool {
        self.0.code == other.0.code
    }
}
impl Eq for DivisionCode {}

impl std::hash::Hash for DivisionCode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.code.hash(state);
    }
}

impl Serialize for DivisionCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DivisionCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        DivisionCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A township or sub-district (乡镇、街道) with its 9-digit statistical code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Township {
    code: u32,
    name: String,
    county: u32,
}

impl Township {
    /// The 9-digit code.
    pub fn code(&self) -> u32 {
        self.code
    }

    /// The township's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The county the township belongs to.
    pub fn county(&self) -> Option<DivisionCode> {
        find(self.county).map(DivisionCode)
    }
}

/// A 9-digit township code that we hold (Chengdu's townships, 2023).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TownshipCode(&'static Township);

impl TownshipCode {
    /// Parse a 9-digit township code (a 12-digit code ending in `000` is accepted and
    /// shortened) and check it is a known township.
    pub fn parse(s: &str) -> Result<TownshipCode, DivisionError> {
        let s = s.trim();
        let s = match s.len() {
            12 if s.ends_with("000") => s.get(..9).unwrap_or(s),
            _ => s,
        };
        let code = digits(s, 9, "township")?;
        township(code)
            .map(TownshipCode)
            .ok_or(DivisionError::UnknownTownship(code))
    }

    /// Everything known about the township.
    pub fn township(&self) -> &'static Township {
        self.0
    }
}

impl fmt::Display for TownshipCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:09}", self.0.code)
    }
}

/// Look up a 6-digit code as a number.
pub fn find(code: u32) -> Option<&'static Division> {
    TABLES.divisions.get(&code)
}

/// Look up a 9-digit township code as a number.
pub fn township(code: u32) -> Option<&'static Township> {
    let all = &TABLES.townships;
    all.binary_search_by_key(&code, |t| t.code)
        .ok()
        .and_then(|i| all.get(i))
}

/// The townships of a county, in code order; empty for counties outside Chengdu.
pub fn townships_of(county: DivisionCode) -> &'static [Township] {
    let all = &TABLES.townships;
    let lo = county.value() * 1000;
    let start = all.partition_point(|t| t.code < lo);
    let end = all.partition_point(|t| t.code < lo + 1000);
    all.get(start..end).unwrap_or(&[])
}

/// Chengdu's current county-level divisions (20 in 2023), in code order.
pub fn chengdu_counties() -> &'static [DivisionCode] {
    &CHENGDU_COUNTIES
}

/// Every division code held, in code order.
pub fn all() -> impl Iterator<Item = &'static Division> {
    TABLES.sorted.iter().filter_map(|c| find(*c))
}

/// Names used when cutting an address down to its county: province, prefecture and
/// county-level names of every code held.
pub(crate) struct NameSets {
    pub provinces: HashSet<&'static str>,
    pub prefectures: HashSet<&'static str>,
    pub counties: HashSet<&'static str>,
    pub longest: usize,
}

pub(crate) fn name_sets() -> &'static NameSets {
    &NAME_SETS
}

static NAME_SETS: LazyLock<NameSets> = LazyLock::new(|| {
    let mut sets = NameSets {
        provinces: HashSet::new(),
        prefectures: HashSet::new(),
        counties: HashSet::new(),
        longest: 0,
    };
    for d in all() {
        for p in &d.names {
            let name = p.name.as_str();
            // Placeholders such as 市辖区 and 县 are not place names.
            if matches!(name, "市辖区" | "县" | "市区" | "郊区" | "矿区") || name.contains("直辖")
            {
                continue;
            }
            let set = match d.level() {
                DivisionLevel::Province => &mut sets.provinces,
                DivisionLevel::Prefecture => &mut sets.prefectures,
                DivisionLevel::County => &mut sets.counties,
            };
            set.insert(name);
            sets.longest = sets.longest.max(name.chars().count());
        }
    }
    sets
});

struct Tables {
    divisions: HashMap<u32, Division>,
    sorted: Vec<u32>,
    townships: Vec<Township>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(build_tables);

fn build_tables() -> Tables {
    let mut divisions: HashMap<u32, Division> = HashMap::new();
    for fields in csv_records(COUNTY_HISTORY_CSV) {
        let [code, name, province, from, to] = fields.as_slice() else {
            continue;
        };
        let Ok(code) = six_digits(code) else { continue };
        let valid_from = from.parse::<u16>().ok();
        let first_to = to.parse::<u16>().ok();
        let names = name_periods(name, valid_from, first_to);
        // A renamed code keeps its number: it lives as long as its last name.
        let valid_to = if names.iter().any(|p| p.to.is_none()) {
            None
        } else {
            names.iter().filter_map(|p| p.to).max()
        };
        let current_name = names.last().map(|p| p.name.clone()).unwrap_or_default();
        divisions.insert(
            code,
            Division {
                code,
                code_text: format!("{code:06}"),
                names,
                current_name,
                province: province.to_string(),
                city: None,
                valid_from,
                valid_to,
                successor: None,
            },
        );
    }
    // The 2023 table adds cities, simplified names, and codes the history lacks
    // (development zones and the like, numbered 7x).
    for fields in csv_records(COUNTIES_2023_CSV) {
        let [code, name, _city_code, city, _province_code, province] = fields.as_slice() else {
            continue;
        };
        let Ok(code) = six_digits(code) else { continue };
        let entry = divisions.entry(code).or_insert_with(|| Division {
            code,
            code_text: format!("{code:06}"),
            names: vec![NamePeriod {
                name: name.to_string(),
                from: None,
                to: None,
            }],
            current_name: name.to_string(),
            province: province.to_string(),
            city: None,
            valid_from: None,
            valid_to: None,
            successor: None,
        });
        if entry.valid_to.is_none() {
            entry.current_name = name.to_string();
        }
        if city.as_str() != "市辖区" && city.as_str() != "县" {
            entry.city = Some(city.to_string());
        } else {
            entry.city = Some(province.to_string());
        }
    }
    for &(code, name, province, from) in EXTRA_CODES {
        divisions.entry(code).or_insert_with(|| Division {
            code,
            code_text: format!("{code:06}"),
            names: vec![NamePeriod {
                name: name.to_string(),
                from: Some(from),
                to: None,
            }],
            current_name: name.to_string(),
            province: province.to_string(),
            city: None,
            valid_from: Some(from),
            valid_to: None,
            successor: None,
        });
    }
    let successors = derive_successors(&divisions);
    for (code, heir) in successors {
        if let Some(d) = divisions.get_mut(&code) {
            d.successor = Some(heir);
        }
    }
    let mut sorted: Vec<u32> = divisions.keys().copied().collect();
    sorted.sort_unstable();

    let mut townships: Vec<Township> = csv_records(CHENGDU_TOWNSHIPS_CSV)
        .filter_map(|fields| {
            let [code, name, county] = fields.as_slice() else {
                return None;
            };
            Some(Township {
                code: digits(code, 9, "township").ok()?,
                name: name.to_string(),
                county: six_digits(county).ok()?,
            })
        })
        .collect();
    townships.sort_unstable_by_key(|t| t.code);

    Tables {
        divisions,
        sorted,
        townships,
    }
}

// Chengdu's counties need `&'static Division`s, which exist only once TABLES does.
static CHENGDU_COUNTIES: LazyLock<Vec<DivisionCode>> = LazyLock::new(|| {
    let mut out: Vec<DivisionCode> = all()
        .filter(|d| d.code / 100 == CHENGDU / 100 && d.code != CHENGDU)
        .filter(|d| d.city.is_some() && d.is_current())
        .map(DivisionCode)
        .collect();
    out.sort_unstable_by_key(DivisionCode::value);
    out
});

/// Names that many cities use for unrelated districts.
const GENERIC_NAMES: &[&str] = &[
    "郊区",
    "城区",
    "市区",
    "矿区",
    "市辖区",
    "市中区",
    "城关区",
    "城关镇",
    "东区",
    "西区",
    "南区",
    "北区",
    "中区",
    "新区",
    "东城区",
    "西城区",
    "南城区",
    "北城区",
    "新市区",
    "新华区",
    "桥东区",
    "桥西区",
];

/// Name with a trailing unit (县, 区, 市, 旗, 自治县 …) removed, for matching a county
/// with the district or city that replaced it.
fn stem(name: &str) -> &str {
    const SUFFIXES: &[&str] = &["自治县", "自治旗", "特区", "林区", "县", "区", "市", "旗"];
    SUFFIXES
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .filter(|s| s.chars().count() >= 2)
        .unwrap_or(name)
}

fn derive_successors(divisions: &HashMap<u32, Division>) -> Vec<(u32, u32)> {
    // Current county-level codes by (province, name) and (province, stem).
    let mut by_name: HashMap<(&str, &str), Vec<u32>> = HashMap::new();
    let mut by_stem: HashMap<(&str, &str), Vec<u32>> = HashMap::new();
    for d in divisions.values().filter(|d| d.is_current()) {
        by_name
            .entry((&d.province, d.name()))
            .or_default()
            .push(d.code);
        by_stem
            .entry((&d.province, stem(d.name())))
            .or_default()
            .push(d.code);
    }
    let explicit: HashMap<u32, u32> = EXPLICIT_SUCCESSORS.iter().copied().collect();
    let mut out = Vec::new();
    for d in divisions.values().filter(|d| !d.is_current()) {
        if let Some(&heir) = explicit.get(&d.code) {
            out.push((d.code, heir));
            continue;
        }
        let level = d.level();
        let generic = GENERIC_NAMES.contains(&d.name());
        let fits = |c: &u32| {
            divisions.get(c).is_some_and(|x| {
                x.level() == level
                    // 郊区 or 城区 in one city says nothing about another city's.
                    && (!generic || x.code / 100 == d.code / 100)
                    // Counties become cities or districts; cities do not become counties.
                    && (d.name().ends_with('县') || !x.name().ends_with('县'))
            })
        };
        let candidates = |map: &HashMap<(&str, &str), Vec<u32>>, name: &str| -> Vec<u32> {
            map.get(&(d.province.as_str(), name))
                .map(|codes| codes.iter().copied().filter(|c| fits(c)).collect())
                .unwrap_or_default()
        };
        // A unique heir only: two current places of that name could be either.
        let heir = match candidates(&by_name, d.name()).as_slice() {
            [one] => Some(*one),
            [] => match candidates(&by_stem, stem(d.name())).as_slice() {
                [one] => Some(*one),
                _ => None,
            },
            _ => None,
        };
        if let Some(heir) = heir {
            out.push((d.code, heir));
        }
    }
    out
}

/// Parse the history's name column: `东郊区,[1992-]东丽区` is 东郊区 until the row's
/// last year, then 东丽区 from 1992 on.
fn name_periods(field: &str, from: Option<u16>, to: Option<u16>) -> Vec<NamePeriod> {
    let mut parts = field.split(',');
    let first = parts.next().unwrap_or_default().trim();
    let mut out = vec![NamePeriod {
        name: first.to_string(),
        from,
        to,
    }];
    for part in parts {
        let Some((years, name)) = part
            .trim()
            .strip_prefix('[')
            .and_then(|p| p.split_once(']'))
        else {
            continue;
        };
        let (a, b) = years.split_once('-').unwrap_or((years, years));
        out.push(NamePeriod {
            name: name.to_string(),
            from: a.parse().ok(),
            to: b.parse().ok(),
        });
    }
    out
}

/// Split embedded CSV into records, skipping the header. Handles double-quoted fields
/// (the history quotes names that contain commas); the tables hold no escaped quotes.
fn csv_records(text: &'static str) -> impl Iterator<Item = Vec<String>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut quoted = false;
            for c in line.trim_end_matches('\r').chars() {
                match c {
                    '"' => quoted = !quoted,
                    ',' if !quoted => fields.push(std::mem::take(&mut field)),
                    _ => field.push(c),
                }
            }
            fields.push(field);
            fields
        })
}

fn six_digits(s: &str) -> Result<u32, DivisionError> {
    digits(s, 6, "division")
}

fn digits(s: &str, expected: usize, what: &'static str) -> Result<u32, DivisionError> {
    let mut value = 0u32;
    let mut count = 0usize;
    for (i, c) in s.chars().enumerate() {
        let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) else {
            return Err(DivisionError::BadCharacter {
                position: i + 1,
                found: c,
            });
        };
        count += 1;
        if count <= expected {
            value = value * 10 + d;
        }
    }
    if count != expected {
        return Err(DivisionError::BadLength {
            what,
            expected,
            found: count,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_names_with_renames() {
        let d = find(120110).unwrap();
        assert_eq!(d.name_in(1985), "东郊区");
        assert_eq!(d.name_in(2000), "东丽区");
        assert!(d.is_current());
    }

    #[test]
    fn retired_code_has_years() {
        let d = find(510122).unwrap();
        assert_eq!(d.valid_to(), Some(2015));
        assert!(!d.is_current());
        assert_eq!(d.successor().unwrap().as_str(), "510116");
    }
}
