//! The scan of a proposed release's actual values for personal information
//! (个人信息): valid citizen ID numbers and mobile numbers anywhere in a value,
//! USCCs of individual businesses (they name a person), person names and
//! house-level addresses where the item says it holds them, and items the
//! provider graded sensitive. Each hit blocks the release until the item is
//! masked, dropped or justified (see `release`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::{Grade, Item};
use crate::ident::{citizen_id, mobile, uscc};
use crate::kind::ItemKind;
use crate::mask;

/// What kind of personal value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// A citizen ID number whose check digit, birth date and division are valid.
    CitizenId,
    /// A mainland mobile number.
    Mobile,
    /// A USCC with organisation type 92 (个体工商户): it identifies its owner.
    IndividualBusinessUscc,
    /// A value of an item declared (by kind or data element) as a person's name.
    PersonName,
    /// An address down to the building, door or room.
    HouseAddress,
    /// An e-mail address in an item declared as one.
    Email,
    /// An item the provider graded 3 (sensitive) or above.
    SensitiveGrade,
}

impl PiiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::CitizenId => "citizen_id",
            PiiKind::Mobile => "mobile",
            PiiKind::IndividualBusinessUscc => "individual_business_uscc",
            PiiKind::PersonName => "person_name",
            PiiKind::HouseAddress => "house_address",
            PiiKind::Email => "email",
            PiiKind::SensitiveGrade => "sensitive_grade",
        }
    }

    /// The item kind whose masking rule fits a found value, for the example.
    fn mask_kind(self) -> ItemKind {
        match self {
            PiiKind::CitizenId => ItemKind::CitizenId,
            PiiKind::Mobile => ItemKind::Mobile,
            PiiKind::IndividualBusinessUscc => ItemKind::Uscc,
            PiiKind::PersonName => ItemKind::PersonName,
            PiiKind::HouseAddress => ItemKind::Address,
            PiiKind::Email => ItemKind::Email,
            PiiKind::SensitiveGrade => ItemKind::Text,
        }
    }
}

/// One item's hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiFinding {
    pub item: String,
    /// Values found per kind (for `sensitive_grade`: the non-empty values).
    pub counts: BTreeMap<PiiKind, u64>,
    /// The first value found, masked, so a reviewer sees what was meant
    /// without the scan report becoming a leak of its own.
    pub example: Option<String>,
}

/// What a scan of a view found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReport {
    pub rows_scanned: u64,
    /// False when the scan stopped at its row limit.
    pub complete: bool,
    /// Items with hits, by item key.
    pub findings: Vec<PiiFinding>,
}

impl ScanReport {
    pub fn finding(&self, item: &str) -> Option<&PiiFinding> {
        self.findings.iter().find(|f| f.item == item)
    }
}

/// What the scanner knows of an item before seeing its values.
#[derive(Debug, Clone)]
struct ItemProfile {
    key: String,
    person_name: bool,
    address: bool,
    email: bool,
    sensitive: bool,
}

fn profile(item: &Item) -> ItemProfile {
    let element = item
        .element
        .as_ref()
        .map(|e| e.as_str())
        .unwrap_or_default();
    let element_name = element.rsplit('.').next().unwrap_or_default();
    let subject = element.split('.').next().unwrap_or_default();
    // `person.name`, `entity.legal_representative_name`, `x.contact_name`: a
    // name of someone, not of an organisation.
    let names_a_person = (subject == "person" && element_name == "name")
        || element_name.ends_with("representative_name")
        || element_name.ends_with("contact_name")
        || element_name.ends_with("person_name");
    ItemProfile {
        key: item.key.to_string(),
        person_name: item.kind == Some(ItemKind::PersonName) || names_a_person,
        address: item.kind == Some(ItemKind::Address) || element_name.ends_with("address"),
        email: item.kind == Some(ItemKind::Email),
        sensitive: item.grade >= Grade::SENSITIVE,
    }
}

/// Scans a view's values row by row; `finish` gives the report.
#[derive(Debug, Clone)]
pub struct PiiScanner {
    profiles: Vec<ItemProfile>,
    found: BTreeMap<String, PiiFinding>,
    rows: u64,
}

impl PiiScanner {
    /// A scanner for the items of a view.
    pub fn new<'a>(items: impl IntoIterator<Item = &'a Item>) -> Self {
        Self {
            profiles: items.into_iter().map(profile).collect(),
            found: BTreeMap::new(),
            rows: 0,
        }
    }

    /// Scan one row: `value_of` gives an item's value as text (`None` for null).
    pub fn scan_row<'v>(&mut self, value_of: impl Fn(&str) -> Option<&'v str>) {
        self.rows += 1;
        for i in 0..self.profiles.len() {
            let Some(value) = value_of(&self.profiles[i].key) else {
                continue;
            };
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let p = &self.profiles[i];
            let mut hits: Vec<(PiiKind, String)> = find_in_text(value);
            if p.person_name {
                hits.push((PiiKind::PersonName, value.to_owned()));
            }
            if p.address && is_house_level(value) {
                hits.push((PiiKind::HouseAddress, value.to_owned()));
            }
            if p.email && value.contains('@') {
                hits.push((PiiKind::Email, value.to_owned()));
            }
            if p.sensitive {
                hits.push((PiiKind::SensitiveGrade, value.to_owned()));
            }
            if hits.is_empty() {
                continue;
            }
            let key = p.key.clone();
            let finding = self.found.entry(key.clone()).or_insert_with(|| PiiFinding {
                item: key,
                counts: BTreeMap::new(),
                example: None,
            });
            for (kind, text) in hits {
                *finding.counts.entry(kind).or_default() += 1;
                if finding.example.is_none() {
                    finding.example = Some(mask::mask(kind.mask_kind(), &text));
                }
            }
        }
    }

    pub fn rows_scanned(&self) -> u64 {
        self.rows
    }

    pub fn finish(self, complete: bool) -> ScanReport {
        ScanReport {
            rows_scanned: self.rows,
            complete,
            findings: self.found.into_values().collect(),
        }
    }
}

/// Personal identifiers written anywhere in a text: runs of ASCII letters and
/// digits are taken whole (an ID inside a longer number is no ID), and again
/// with single spaces or hyphens between digits removed (`138-1234-5678`).
pub fn find_in_text(text: &str) -> Vec<(PiiKind, String)> {
    let mut hits = Vec::new();
    for run in alnum_runs(text) {
        if let Some(kind) = classify_run(&run) {
            hits.push((kind, run));
        }
    }
    let joined = join_separated_digits(text);
    if joined != text {
        for run in alnum_runs(&joined) {
            if let Some(kind) = classify_run(&run)
                && !hits.iter().any(|(_, seen)| *seen == run)
            {
                hits.push((kind, run));
            }
        }
    }
    hits
}

fn alnum_runs(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|r| r.len() >= 11)
        .map(str::to_owned)
        .collect()
}

/// `138-1234-5678` → `13812345678`: a single space or hyphen between two
/// digits is how people write numbers.
fn join_separated_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = (c == '-' || c == ' ')
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if !between_digits {
            out.push(c);
        }
    }
    out
}

fn classify_run(run: &str) -> Option<PiiKind> {
    let digits_only = run.bytes().all(|b| b.is_ascii_digit());
    match run.len() {
        18 => {
            if citizen_id::decode(run, None).is_ok() {
                return Some(PiiKind::CitizenId);
            }
            match uscc::decode(run) {
                Ok(d) if d.authority.code == '9' && d.entity_type.code == '2' => {
                    Some(PiiKind::IndividualBusinessUscc)
                }
                _ => None,
            }
        }
        15 if digits_only => citizen_id::decode(run, None)
            .is_ok()
            .then_some(PiiKind::CitizenId),
        11 if digits_only => mobile::decode(run).is_ok().then_some(PiiKind::Mobile),
        // +86 / 0086 written without the plus sign.
        13 if digits_only && run.starts_with("86") => {
            mobile::decode(&run[2..]).is_ok().then_some(PiiKind::Mobile)
        }
        15 | 17 if digits_only && run.starts_with("0086") => {
            mobile::decode(&run[4..]).is_ok().then_some(PiiKind::Mobile)
        }
        _ => None,
    }
}

/// Whether an address goes down to a building, door or room (`春熙路12号`,
/// `3栋2单元501室`, `5组`) rather than stopping at a street or district.
pub fn is_house_level(address: &str) -> bool {
    const NUMERALS: &str = "0123456789０１２３４５６７８９一二三四五六七八九十百零〇";
    const MARKERS: &[char] = &['号', '栋', '幢', '室', '弄', '楼', '单', '户', '组', '座'];
    let chars: Vec<char> = address.chars().collect();
    chars
        .windows(2)
        .any(|w| NUMERALS.contains(w[0]) && MARKERS.contains(&w[1]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{NewResourceRequest, ResourceSpec};

    fn id(district: &str, birth: &str, seq: u32) -> String {
        let first17 = format!("{district}{birth}{seq:03}");
        let check = citizen_id::check_char(&first17).unwrap();
        format!("{first17}{check}")
    }

    fn uscc_of(authority: char, kind: char) -> String {
        let first17 = format!("{authority}{kind}510104MA6C12345");
        let first17 = format!("{first17}{}", &"XX"[..17 - first17.len()]);
        let check = uscc::check_char(&first17).unwrap();
        format!("{first17}{check}")
    }

    fn kinds(text: &str) -> Vec<PiiKind> {
        find_in_text(text).into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn valid_citizen_ids_are_found_anywhere_and_invalid_ones_are_not() {
        let good = id("510104", "19900101", 1);
        assert_eq!(kinds(&good), [PiiKind::CitizenId]);
        assert_eq!(
            kinds(&format!("申请人{good}，已核实")),
            [PiiKind::CitizenId]
        );
        assert_eq!(kinds(&good.to_lowercase()), kinds(&good));
        // A wrong check digit, an impossible date, a longer number: not IDs.
        let mut bad = good.clone();
        bad.replace_range(17.., if good.ends_with('0') { "1" } else { "0" });
        assert!(kinds(&bad).is_empty(), "{bad}");
        assert!(kinds("510104199013450011").is_empty());
        assert!(kinds(&format!("9{good}")).is_empty());
    }

    #[test]
    fn mobiles_are_found_as_people_write_them() {
        for written in [
            "13812345678",
            "电话：13812345678",
            "138-1234-5678",
            "138 1234 5678",
            "8613812345678",
        ] {
            assert_eq!(kinds(written), [PiiKind::Mobile], "{written}");
        }
        // A landline, an 11-digit non-mobile prefix and a longer number are not.
        for not in ["028-86123456", "12345678901", "138123456789", "2024年13812"] {
            assert!(kinds(not).is_empty(), "{not}");
        }
    }

    #[test]
    fn only_individual_business_usccs_are_personal() {
        let individual = uscc_of('9', '2');
        let company = uscc_of('9', '1');
        assert_eq!(kinds(&individual), [PiiKind::IndividualBusinessUscc]);
        assert!(kinds(&company).is_empty());
    }

    #[test]
    fn house_level_addresses_are_told_from_district_level_ones() {
        for house in [
            "四川省成都市锦江区春熙路12号",
            "武侯区玉林小区3栋2单元501室",
            "双流区某村五组",
        ] {
            assert!(is_house_level(house), "{house}");
        }
        for coarse in ["四川省成都市锦江区", "锦江区春熙路", "成都市一环路"] {
            assert!(!is_house_level(coarse), "{coarse}");
        }
    }

    fn spec() -> ResourceSpec {
        let req: NewResourceRequest = serde_json::from_value(serde_json::json!({
            "name": "登记", "key_items": ["no"],
            "items": [
                {"key": "no", "name": "序号", "type": "integer", "grade": 1},
                {"key": "owner", "name": "经营者姓名", "type": "string", "kind": "person_name", "grade": 2},
                {"key": "rep", "name": "代表", "type": "string", "grade": 1, "element": "entity.legal_representative_name"},
                {"key": "addr", "name": "经营场所", "type": "string", "kind": "address", "grade": 1},
                {"key": "note", "name": "备注", "type": "string", "grade": 1},
                {"key": "income", "name": "收入", "type": "decimal", "grade": 3},
                {"key": "district", "name": "区县", "type": "string", "grade": 1}
            ]
        }))
        .unwrap();
        ResourceSpec::parse(req).unwrap()
    }

    #[test]
    fn a_view_is_scanned_item_by_item_with_masked_examples() {
        let spec = spec();
        let mut scanner = PiiScanner::new(spec.items.iter());
        let person = id("510104", "19800101", 7);
        let rows = [
            [
                ("no", "1"),
                ("owner", "张三"),
                ("rep", "李四"),
                ("addr", "锦江区春熙路12号"),
                ("note", "联系13812345678"),
                ("income", "1.50"),
                ("district", "锦江区"),
            ],
            [
                ("no", "2"),
                ("owner", ""),
                ("rep", "王五"),
                ("addr", "锦江区"),
                ("note", person.as_str()),
                ("income", "2.00"),
                ("district", "武侯区"),
            ],
        ];
        for row in &rows {
            scanner.scan_row(|k| row.iter().find(|(key, _)| *key == k).map(|(_, v)| *v));
        }
        let report = scanner.finish(true);
        assert_eq!(report.rows_scanned, 2);
        let items: Vec<&str> = report.findings.iter().map(|f| f.item.as_str()).collect();
        assert_eq!(items, ["addr", "income", "note", "owner", "rep"]);
        let note = report.finding("note").unwrap();
        assert_eq!(note.counts[&PiiKind::Mobile], 1);
        assert_eq!(note.counts[&PiiKind::CitizenId], 1);
        assert_eq!(note.example.as_deref(), Some("138****5678"));
        assert_eq!(
            report.finding("owner").unwrap().counts[&PiiKind::PersonName],
            1
        );
        assert_eq!(
            report.finding("rep").unwrap().example.as_deref(),
            Some("李*")
        );
        assert_eq!(
            report.finding("addr").unwrap().counts[&PiiKind::HouseAddress],
            1
        );
        assert_eq!(
            report.finding("income").unwrap().counts[&PiiKind::SensitiveGrade],
            2
        );
        assert!(report.finding("district").is_none());
        assert!(report.finding("no").is_none());
    }
}
