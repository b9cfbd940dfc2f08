//! Item kinds: what a catalog item holds, inferred from its key or Chinese name, and
//! the check each kind applies to a value on arrival of a batch.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::division::{self, DivisionCode, DivisionError, TownshipCode};
use crate::ident::{
    CitizenIdError, DateError, MobileError, OrgCodeError, UsccError, citizen_id, mobile, org_code,
    parse_date, uscc,
};

/// What a data item (信息项) holds. Drives the arrival check, masking and the open-data
/// scan for personal values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// 公民身份号码.
    CitizenId,
    /// 统一社会信用代码.
    Uscc,
    /// 组织机构代码.
    OrgCode,
    /// 6-digit GB/T 2260 division code.
    DivisionCode,
    /// 9-digit township code.
    TownshipCode,
    /// Mainland mobile number.
    Mobile,
    /// Telephone number: a landline (with or without area code), a 400/800 service
    /// number, or a mobile, since telephone columns hold both.
    Phone,
    /// A person's name.
    PersonName,
    /// A company's, organisation's or department's name: not personal data.
    EntityName,
    /// A postal address.
    Address,
    /// A calendar date.
    Date,
    /// An e-mail address.
    Email,
    /// 6-digit postal code.
    PostalCode,
    /// Free text: no check.
    Text,
}

impl ItemKind {
    /// Every kind, in declaration order.
    pub const ALL: [ItemKind; 14] = [
        ItemKind::CitizenId,
        ItemKind::Uscc,
        ItemKind::OrgCode,
        ItemKind::DivisionCode,
        ItemKind::TownshipCode,
        ItemKind::Mobile,
        ItemKind::Phone,
        ItemKind::PersonName,
        ItemKind::EntityName,
        ItemKind::Address,
        ItemKind::Date,
        ItemKind::Email,
        ItemKind::PostalCode,
        ItemKind::Text,
    ];

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::CitizenId => "citizen_id",
            ItemKind::Uscc => "uscc",
            ItemKind::OrgCode => "org_code",
            ItemKind::DivisionCode => "division_code",
            ItemKind::TownshipCode => "township_code",
            ItemKind::Mobile => "mobile",
            ItemKind::Phone => "phone",
            ItemKind::PersonName => "person_name",
            ItemKind::EntityName => "entity_name",
            ItemKind::Address => "address",
            ItemKind::Date => "date",
            ItemKind::Email => "email",
            ItemKind::PostalCode => "postal_code",
            ItemKind::Text => "text",
        }
    }

    /// Whether values of this kind identify or locate a person, so must not leave the
    /// platform unmasked without a grant.
    pub fn is_personal(self) -> bool {
        matches!(
            self,
            ItemKind::CitizenId
                | ItemKind::Mobile
                | ItemKind::Phone
                | ItemKind::PersonName
                | ItemKind::Address
                | ItemKind::Email
        )
    }

    /// Guess the kind from an item's ASCII key and Chinese name. The Chinese name is
    /// asked first because it is the more precise (`name` + `企业名称` is an entity's
    /// name); `None` when neither says anything we recognise.
    pub fn infer(key: &str, chinese_name: &str) -> Option<ItemKind> {
        infer_chinese(chinese_name.trim()).or_else(|| infer_key(key))
    }

    /// Check a value on arrival and return it normalised (upper-case X, 11-digit
    /// mobile, ISO date, trimmed text). Borrows when the value is already normal.
    /// Birth dates are not compared with today; see [`ItemKind::check_on`].
    /// An empty value is an error for every kind but [`ItemKind::Text`]: whether empty
    /// is allowed is the completeness rule's business, checked before this.
    pub fn check<'a>(&self, value: &'a str) -> Result<Normalized<'a>, KindError> {
        check(*self, value, None)
    }

    /// [`ItemKind::check`], also refusing ID numbers whose birth date is after `today`.
    pub fn check_on<'a>(
        &self,
        value: &'a str,
        today: NaiveDate,
    ) -> Result<Normalized<'a>, KindError> {
        check(*self, value, Some(today))
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An item kind name that is not one we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown item kind '{0}'")]
pub struct UnknownItemKind(pub String);

impl FromStr for ItemKind {
    type Err = UnknownItemKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().replace('-', "_");
        ItemKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(&wanted))
            .ok_or_else(|| UnknownItemKind(s.to_string()))
    }
}

/// A value that passed its kind's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized<'a> {
    /// The normalised value.
    pub value: Cow<'a, str>,
    /// Accepted, but worth telling the provider (a USCC with only a legacy checksum).
    pub warning: Option<KindWarning>,
}

impl Normalized<'_> {
    fn new(value: Cow<'_, str>) -> Normalized<'_> {
        Normalized {
            value,
            warning: None,
        }
    }
}

/// Something accepted that the quality report should still mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum KindWarning {
    /// A well-formed USCC whose check character is wrong, as some early pilot codes are.
    #[error(
        "check character should be {expected}, found {found}: possibly an early pilot code (legacy_checksum)"
    )]
    LegacyChecksum {
        /// The check character the first 17 give.
        expected: char,
        /// The one written.
        found: char,
    },
}

/// Why a value failed its kind's check. The message says exactly what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KindError {
    /// Nothing but whitespace.
    #[error("the value is empty")]
    Empty,
    /// Not a valid citizen ID number.
    #[error(transparent)]
    CitizenId(#[from] CitizenIdError),
    /// Not a valid USCC.
    #[error(transparent)]
    Uscc(#[from] UsccError),
    /// Not a valid organisation code.
    #[error(transparent)]
    OrgCode(#[from] OrgCodeError),
    /// Not a known division or township code.
    #[error(transparent)]
    Division(#[from] DivisionError),
    /// Not a mobile number.
    #[error(transparent)]
    Mobile(#[from] MobileError),
    /// Not a date.
    #[error(transparent)]
    Date(#[from] DateError),
    /// Not a value of the kind, for the kinds without their own error type.
    #[error("{0}")]
    Invalid(String),
}

fn borrow_or_own<'a>(input: &'a str, normal: &str) -> Cow<'a, str> {
    if input == normal {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(normal.to_string())
    }
}

fn check(
    kind: ItemKind,
    value: &str,
    today: Option<NaiveDate>,
) -> Result<Normalized<'_>, KindError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return if kind == ItemKind::Text {
            Ok(Normalized::new(Cow::Borrowed(trimmed)))
        } else {
            Err(KindError::Empty)
        };
    }
    let value = match kind {
        ItemKind::CitizenId => {
            let d = citizen_id::decode(trimmed, today)?;
            borrow_or_own(trimmed, d.as_str())
        }
        ItemKind::Uscc => {
            let d = uscc::decode(trimmed)?;
            let found = char::from(d.chars[17]);
            return Ok(Normalized {
                value: borrow_or_own(trimmed, d.as_str()),
                warning: d
                    .expected_check
                    .map(|expected| KindWarning::LegacyChecksum { expected, found }),
            });
        }
        ItemKind::OrgCode => {
            let c = org_code::decode(trimmed)?;
            // Hyphenated form: 60003734-1.
            let mut normal = [b'-'; 10];
            normal[..8].copy_from_slice(&c[..8]);
            normal[9] = c[8];
            borrow_or_own(trimmed, std::str::from_utf8(&normal).unwrap_or_default())
        }
        ItemKind::DivisionCode => Cow::Borrowed(DivisionCode::parse(trimmed)?.as_str()),
        ItemKind::TownshipCode => match TownshipCode::parse(trimmed) {
            Ok(code) => borrow_or_own(trimmed, &code.to_string()),
            // We hold Chengdu's townships only: elsewhere, a well-formed code under a
            // county that existed is accepted as written.
            Err(DivisionError::UnknownTownship(code)) => {
                let county = DivisionCode::from_u32(code / 1000)?;
                if division::townships_of(county).is_empty() {
                    Cow::Owned(format!("{code:09}"))
                } else {
                    return Err(DivisionError::UnknownTownship(code).into());
                }
            }
            Err(e) => return Err(e.into()),
        },
        ItemKind::Mobile => {
            let d = mobile::decode(trimmed)?;
            borrow_or_own(trimmed, mobile::as_str(&d))
        }
        ItemKind::Phone => check_phone(trimmed)?,
        ItemKind::PersonName => check_person_name(trimmed)?,
        ItemKind::EntityName | ItemKind::Address | ItemKind::Text => Cow::Borrowed(trimmed),
        ItemKind::Date => {
            let date = parse_date(trimmed)?;
            let mut buf = [0u8; 10];
            let iso = iso_date(date, &mut buf);
            borrow_or_own(trimmed, iso)
        }
        ItemKind::Email => check_email(trimmed)?,
        ItemKind::PostalCode => {
            if trimmed.len() == 6 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
                Cow::Borrowed(trimmed)
            } else {
                return Err(KindError::Invalid(format!(
                    "a postal code has 6 digits, found '{trimmed}'"
                )));
            }
        }
    };
    Ok(Normalized::new(value))
}

/// Write `date` as YYYY-MM-DD into `buf` without allocating (years 0-9999).
fn iso_date(date: NaiveDate, buf: &mut [u8; 10]) -> &str {
    use chrono::Datelike;
    let y = date.year().clamp(0, 9999) as u32;
    let (m, d) = (date.month(), date.day());
    let digits = [
        y / 1000,
        y / 100 % 10,
        y / 10 % 10,
        y % 10,
        10,
        m / 10,
        m % 10,
        10,
        d / 10,
        d % 10,
    ];
    for (slot, v) in buf.iter_mut().zip(digits) {
        *slot = if v == 10 { b'-' } else { b'0' + v as u8 };
    }
    std::str::from_utf8(buf).unwrap_or_default()
}

/// Landlines as `area-local` (028-12345678), mobiles and service numbers as digits.
fn check_phone(s: &str) -> Result<Cow<'_, str>, KindError> {
    if let Ok(d) = mobile::decode(s) {
        return Ok(borrow_or_own(s, mobile::as_str(&d)));
    }
    let rest = s
        .strip_prefix("+86")
        .or_else(|| s.strip_prefix("0086"))
        .unwrap_or(s);
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' | '（' | '）' => {}
            _ => {
                return Err(KindError::Invalid(format!(
                    "a telephone number has only digits, spaces, hyphens and brackets, found '{c}'"
                )));
            }
        }
    }
    // Numbers given with +86 drop the area code's leading 0.
    if rest.len() != s.len() && !digits.starts_with('0') {
        digits.insert(0, '0');
    }
    let local_ok = |local: &str| {
        (7..=8).contains(&local.len()) && !local.starts_with('0') && !local.starts_with('1')
    };
    if (digits.starts_with("400") || digits.starts_with("800")) && digits.len() == 10 {
        return Ok(borrow_or_own(s, &digits));
    }
    if let Some(after0) = digits.strip_prefix('0') {
        // 010 and 02x have two-digit area codes; all others three.
        let area_len = if after0.starts_with('1') || after0.starts_with('2') {
            2
        } else {
            3
        };
        let (area, local) = after0.split_at(area_len.min(after0.len()));
        if area.len() == area_len && local_ok(local) {
            return Ok(borrow_or_own(s, &format!("0{area}-{local}")));
        }
        return Err(KindError::Invalid(format!(
            "'{s}' is not a telephone number: after the area code 0{area} the local number must have 7 or 8 digits and not start with 0 or 1"
        )));
    }
    if local_ok(&digits) {
        return Ok(borrow_or_own(s, &digits));
    }
    Err(KindError::Invalid(format!(
        "'{s}' is not a telephone number (expected a mobile, 028-12345678, or a local 7-8 digit number)"
    )))
}

/// Longest name we accept: long transliterated names reach about 30 characters.
const MAX_NAME_CHARS: usize = 50;

fn check_person_name(s: &str) -> Result<Cow<'_, str>, KindError> {
    let mut count = 0usize;
    let mut needs_dot_fix = false;
    for c in s.chars() {
        count += 1;
        match c {
            '·' | ' ' | '-' | '.' | '\'' => {}
            // Dots written with other characters in minority and foreign names.
            '•' | '・' | '．' => needs_dot_fix = true,
            c if c.is_numeric() => {
                return Err(KindError::Invalid(format!(
                    "a person's name has no digits, found '{c}'"
                )));
            }
            c if c.is_alphabetic() => {}
            c => {
                return Err(KindError::Invalid(format!(
                    "a person's name has letters and the middle dot only, found '{c}'"
                )));
            }
        }
    }
    if count > MAX_NAME_CHARS {
        return Err(KindError::Invalid(format!(
            "a person's name has at most {MAX_NAME_CHARS} characters, found {count}"
        )));
    }
    if needs_dot_fix {
        Ok(Cow::Owned(s.replace(['•', '・', '．'], "·")))
    } else {
        Ok(Cow::Borrowed(s))
    }
}

fn check_email(s: &str) -> Result<Cow<'_, str>, KindError> {
    let bad = |why: &str| KindError::Invalid(format!("'{s}' is not an e-mail address: {why}"));
    if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(&format!("it contains '{}'", c.escape_default())));
    }
    let (local, domain) = s.rsplit_once('@').ok_or_else(|| bad("no @"))?;
    if local.is_empty() || local.contains('@') {
        return Err(bad("one @ with a name before it is expected"));
    }
    let labels_ok = domain.split('.').all(|l| !l.is_empty());
    if !domain.contains('.') || !labels_ok {
        return Err(bad("the domain after @ must look like example.cn"));
    }
    // Domains are case-insensitive; the part before @ is left as written.
    if domain.bytes().any(|b| b.is_ascii_uppercase()) {
        Ok(Cow::Owned(format!(
            "{local}@{}",
            domain.to_ascii_lowercase()
        )))
    } else {
        Ok(Cow::Borrowed(s))
    }
}

/// Chinese names, most specific first: `法定代表人身份证号` is an ID number, not a name.
fn infer_chinese(name: &str) -> Option<ItemKind> {
    if name.is_empty() {
        return None;
    }
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    let kind = if has(&["类型", "类别", "种类"]) {
        // 证件类型, 身份证件类型: the kind of a document, not the number.
        ItemKind::Text
    } else if has(&["统一社会信用代码", "社会信用代码", "信用代码"]) {
        ItemKind::Uscc
    } else if has(&["组织机构代码", "机构代码"]) {
        ItemKind::OrgCode
    } else if has(&["公民身份号码", "身份证", "身份号码"]) {
        ItemKind::CitizenId
    } else if has(&["手机", "移动电话", "联系电话", "联系方式"]) {
        ItemKind::Mobile
    } else if has(&["电话", "座机", "传真"]) {
        ItemKind::Phone
    } else if has(&["邮政编码", "邮编"]) {
        ItemKind::PostalCode
    } else if has(&["电子邮件", "电子邮箱", "电子信箱", "邮箱"]) {
        ItemKind::Email
    } else if has(&["行政区划代码", "区划代码"]) {
        ItemKind::DivisionCode
    } else if has(&["乡镇代码", "街道代码", "乡镇街道代码"]) {
        ItemKind::TownshipCode
    } else if has(&["日期", "生日"]) {
        ItemKind::Date
    } else if has(&["地址", "住址", "住所", "户籍地", "居住地"]) {
        ItemKind::Address
    } else if has(&[
        "企业名称",
        "单位名称",
        "机构名称",
        "公司名称",
        "组织名称",
        "主体名称",
        "法人名称",
    ]) {
        ItemKind::EntityName
    } else if has(&["名称"]) {
        // 项目名称, 资源名称: a thing's name, never a person's.
        ItemKind::Text
    } else if has(&["姓名"])
        || matches!(
            name,
            "法定代表人" | "法人代表" | "负责人" | "联系人" | "户主"
        )
    {
        ItemKind::PersonName
    } else {
        return None;
    };
    Some(kind)
}

/// ASCII keys: exact names (English and pinyin initials) first, then suffixes.
fn infer_key(key: &str) -> Option<ItemKind> {
    let key = key.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    let exact =
        match key.as_str() {
            "id_number" | "id_no" | "idno" | "id_card" | "idcard" | "id_card_no"
            | "id_card_number" | "citizen_id" | "citizen_id_number" | "identity_number"
            | "sfzh" | "sfzhm" | "gmsfhm" => Some(ItemKind::CitizenId),
            "uscc"
            | "credit_code"
            | "social_credit_code"
            | "unified_social_credit_code"
            | "tyshxydm"
            | "shxydm" => Some(ItemKind::Uscc),
            "org_code" | "organization_code" | "organisation_code" | "zzjgdm" | "jgdm" => {
                Some(ItemKind::OrgCode)
            }
            "phone" | "mobile" | "mobile_phone" | "mobile_no" | "mobile_number" | "cellphone"
            | "cell_phone" | "phone_number" | "phone_no" | "contact_phone" | "sjhm" | "sjh"
            | "lxdh" => Some(ItemKind::Mobile),
            "tel" | "telephone" | "landline" | "fixed_phone" | "office_phone" | "fax" | "gddh" => {
                Some(ItemKind::Phone)
            }
            "name"
            | "xm"
            | "full_name"
            | "person_name"
            | "real_name"
            | "legal_representative"
            | "legal_rep"
            | "frdb"
            | "fddbr"
            | "contact"
            | "contact_name"
            | "contact_person" => Some(ItemKind::PersonName),
            "company_name" | "entity_name" | "enterprise_name" | "org_name"
            | "organization_name" | "organisation_name" | "unit_name" | "corp_name" | "qymc"
            | "dwmc" | "jgmc" => Some(ItemKind::EntityName),
            "address" | "addr" | "zz" | "dz" | "hjdz" | "residence" | "domicile" => {
                Some(ItemKind::Address)
            }
            "birth_date" | "birthday" | "date_of_birth" | "dob" | "csrq" | "date" => {
                Some(ItemKind::Date)
            }
            "division_code" | "xzqhdm" | "region_code" | "admin_code" | "adcode" => {
                Some(ItemKind::DivisionCode)
            }
            "township_code" | "town_code" | "street_code" => Some(ItemKind::TownshipCode),
            "email" | "e_mail" | "mail" | "email_address" | "dzyx" => Some(ItemKind::Email),
            "postal_code" | "postcode" | "post_code" | "zip" | "zip_code" | "zipcode" | "yzbm" => {
                Some(ItemKind::PostalCode)
            }
            _ => None,
        };
    if exact.is_some() {
        return exact;
    }
    let ends = |suffixes: &[&str]| suffixes.iter().any(|s| key.ends_with(s));
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| key.starts_with(p));
    if ends(&["_id_number", "_id_no", "_idcard", "_id_card", "_sfzh"]) {
        Some(ItemKind::CitizenId)
    } else if ends(&["_uscc", "_credit_code"]) {
        Some(ItemKind::Uscc)
    } else if ends(&["_org_code"]) {
        Some(ItemKind::OrgCode)
    } else if ends(&["email", "_mail"]) {
        Some(ItemKind::Email)
    } else if ends(&["_mobile", "_phone", "_cellphone"]) {
        Some(ItemKind::Mobile)
    } else if ends(&["_tel", "_telephone", "_fax"]) {
        Some(ItemKind::Phone)
    } else if ends(&["_date", "_day"]) || starts(&["date_"]) {
        Some(ItemKind::Date)
    } else if ends(&["_address", "_addr"]) {
        Some(ItemKind::Address)
    } else if ends(&["_division_code"]) {
        Some(ItemKind::DivisionCode)
    } else if ends(&["_postal_code", "_postcode", "_zip"]) {
        Some(ItemKind::PostalCode)
    } else if ends(&["_name"]) {
        // Only names of people: company_name, resource_name, file_name are not.
        const PEOPLE: &[&str] = &[
            "legal_rep",
            "legal_representative",
            "contact",
            "applicant",
            "owner",
            "person",
            "citizen",
            "holder",
            "patient",
            "student",
            "teacher",
            "resident",
            "father",
            "mother",
            "spouse",
            "guardian",
            "householder",
            "manager",
            "principal",
            "operator",
            "first",
            "last",
            "given",
            "family",
            "real",
            "full",
        ];
        let prefix = key.strip_suffix("_name").unwrap_or_default();
        PEOPLE.contains(&prefix).then_some(ItemKind::PersonName)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_people_only_when_they_are() {
        assert_eq!(ItemKind::infer("name", "姓名"), Some(ItemKind::PersonName));
        assert_eq!(
            ItemKind::infer("name", "企业名称"),
            Some(ItemKind::EntityName)
        );
        assert_eq!(
            ItemKind::infer("company_name", ""),
            Some(ItemKind::EntityName)
        );
        assert_eq!(ItemKind::infer("resource_name", ""), None);
    }

    #[test]
    fn iso_dates_are_written_without_allocating() {
        let mut buf = [0u8; 10];
        let d = NaiveDate::from_ymd_opt(2024, 1, 5).unwrap();
        assert_eq!(iso_date(d, &mut buf), "2024-01-05");
    }
}
