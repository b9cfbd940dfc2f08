//! The department extracts as catalog resources: each extract's file, provider and data
//! items, in the shape of the platform's resource registration body.

use serde::{Deserialize, Serialize};

/// One extract: its file, how many data rows it has, and the resource it registers as.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtractSpec {
    /// Path relative to the output directory, e.g. `extracts/public_security.csv`.
    pub file: String,
    /// Data rows (the header not counted); 0 in `extract_specs()`.
    pub rows: u64,
    pub department: DepartmentSpec,
    pub resource: ResourceSpec,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DepartmentSpec {
    pub code: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceSpec {
    pub name: String,
    pub summary: String,
    pub share_type: ShareType,
    pub update_cycle: UpdateCycle,
    pub key_items: Vec<String>,
    pub items: Vec<ItemSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemSpec {
    pub key: String,
    pub name: String,
    #[serde(rename = "type")]
    pub item_type: ItemType,
    pub required: bool,
    pub grade: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareType {
    Unconditional,
    Conditional,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateCycle {
    Realtime,
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    HalfYearly,
    Yearly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemType {
    String,
    Integer,
    Decimal,
    Date,
    Datetime,
    Boolean,
}

/// What a column holds, which decides the faults it can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The department's own record number; never faulty.
    RecordNo,
    /// A value that is always delivered as it is.
    Fixed,
    /// A person's ID number: typos, and blanked in keyless records unless required.
    IdNumber,
    /// An entity's USCC with typos.
    UsccTypo,
    /// A person's name: look-alike characters.
    Name,
    /// A person's current address: stale after a move.
    Address,
    /// An optional value that may be missing.
    Optional,
    /// A status that shows a death, unless the death was not reported.
    Status,
}

/// A column of an extract.
pub(crate) struct Column {
    pub key: &'static str,
    pub name: &'static str,
    pub ty: ItemType,
    pub grade: u8,
    pub role: Role,
}

impl Column {
    /// Required unless an injected fault can leave it empty, or it is empty by nature.
    pub(crate) fn required(&self) -> bool {
        matches!(
            self.role,
            Role::RecordNo
                | Role::Fixed
                | Role::UsccTypo
                | Role::Name
                | Role::Status
                | Role::Address
        )
    }
}

/// A department and the extract it delivers.
pub(crate) struct Department {
    pub code: &'static str,
    pub name: &'static str,
    pub file: &'static str,
    pub record_prefix: &'static str,
    pub resource: &'static str,
    pub summary: &'static str,
    pub share_type: ShareType,
    pub update_cycle: UpdateCycle,
    pub columns: &'static [Column],
}

const fn col(key: &'static str, name: &'static str, ty: ItemType, grade: u8, role: Role) -> Column {
    Column {
        key,
        name,
        ty,
        grade,
        role,
    }
}

use ItemType::{Date, Decimal, String as Text};
use Role::{Address, Fixed, IdNumber, Name, Optional, RecordNo, Status, UsccTypo};

/// Index of each department in `DEPARTMENTS`.
pub(crate) mod dept {
    pub const GAJ: usize = 0;
    pub const MZJ: usize = 1;
    pub const RSJ: usize = 2;
    pub const WJW: usize = 3;
    pub const SCJGJ: usize = 4;
    pub const SWJ: usize = 5;
    pub const GJJ: usize = 6;
    pub const TEL: usize = 7;
    pub const JYJ: usize = 8;
    pub const ZJJ: usize = 9;
    pub const YBJ: usize = 10;
    pub const CL: usize = 11;
}

/// Every department that delivers an extract. Columns that a person's or an entity's
/// record may lack by nature (a divorce has no spouse on record) are `Optional`, so the
/// platform must accept them empty.
pub(crate) const DEPARTMENTS: [Department; 12] = [
    Department {
        code: "gaj",
        name: "成都市公安局",
        file: "extracts/public_security.csv",
        record_prefix: "GA",
        resource: "人口基础信息",
        summary: "户籍人口的身份号码、姓名、性别、出生日期、民族、户号与户籍地址，公安机关为权威来源。",
        share_type: ShareType::Unconditional,
        update_cycle: UpdateCycle::Daily,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("id_number", "公民身份号码", Text, 3, Fixed),
            col("name", "姓名", Text, 3, Name),
            col("sex", "性别", Text, 2, Fixed),
            col("birth_date", "出生日期", Date, 3, Fixed),
            col("ethnicity", "民族", Text, 2, Optional),
            col("household_no", "户号", Text, 3, Fixed),
            col("relation_to_head", "与户主关系", Text, 2, Optional),
            col("address", "户籍地址", Text, 3, Fixed),
            col("township_code", "乡镇街道代码", Text, 1, Fixed),
            col("hukou_status", "户籍状态", Text, 2, Fixed),
            col("cancel_date", "注销日期", Date, 2, Optional),
        ],
    },
    Department {
        code: "mzj",
        name: "成都市民政局",
        file: "extracts/civil_affairs.csv",
        record_prefix: "MZ",
        resource: "婚姻登记和死亡登记信息",
        summary: "结婚、离婚登记及死亡（殡葬）登记，每条记录为一名当事人。日期写作“2024年1月5日”。",
        share_type: ShareType::Conditional,
        update_cycle: UpdateCycle::Weekly,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("event_type", "登记类型", Text, 2, Fixed),
            col("id_number", "公民身份号码", Text, 3, IdNumber),
            col("name", "姓名", Text, 3, Name),
            col("sex", "性别", Text, 2, Fixed),
            col("birth_date", "出生日期", Date, 3, Optional),
            col("spouse_id_number", "配偶身份号码", Text, 3, Optional),
            col("spouse_name", "配偶姓名", Text, 3, Optional),
            col("event_date", "登记日期", Date, 2, Fixed),
            col("registry_office", "登记机关", Text, 1, Optional),
        ],
    },
    Department {
        code: "rsj",
        name: "成都市人力资源和社会保障局",
        file: "extracts/social_insurance.csv",
        record_prefix: "RS",
        resource: "社会保险参保人员信息",
        summary: "养老保险参保人员、参保单位与联系方式。性别按 1 男 2 女编码。",
        share_type: ShareType::Conditional,
        update_cycle: UpdateCycle::Monthly,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("id_number", "公民身份号码", Text, 3, IdNumber),
            col("name", "姓名", Text, 3, Name),
            col("sex", "性别", Text, 2, Fixed),
            col("birth_date", "出生日期", Date, 3, Optional),
            col("insurance_type", "险种", Text, 2, Fixed),
            col("employer_uscc", "单位统一社会信用代码", Text, 2, Optional),
            col("employer_name", "单位名称", Text, 2, Optional),
            col("phone", "联系电话", Text, 3, Optional),
            col("contact_address", "联系地址", Text, 3, Address),
            col("start_date", "参保日期", Date, 2, Fixed),
            col("status", "参保状态", Text, 2, Status),
        ],
    },
    Department {
        code: "wjw",
        name: "成都市卫生健康委员会",
        file: "extracts/health.csv",
        record_prefix: "WJ",
        resource: "出生医学证明和死亡医学证明信息",
        summary: "2016 年以来的出生医学证明和死亡医学证明登记。",
        share_type: ShareType::Conditional,
        update_cycle: UpdateCycle::Monthly,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("certificate_no", "证明编号", Text, 2, Fixed),
            col("event_type", "类别", Text, 1, Fixed),
            col("id_number", "公民身份号码", Text, 3, IdNumber),
            col("name", "姓名", Text, 3, Name),
            col("sex", "性别", Text, 2, Fixed),
            col("birth_date", "出生日期", Date, 3, Fixed),
            col("event_date", "发生日期", Date, 2, Fixed),
            col("mother_name", "母亲姓名", Text, 3, Optional),
            col("mother_id_number", "母亲身份号码", Text, 3, Optional),
            col("institution", "医疗机构", Text, 1, Optional),
        ],
    },
    Department {
        code: "scjgj",
        name: "成都市市场监督管理局",
        file: "extracts/market_regulation.csv",
        record_prefix: "SC",
        resource: "市场主体登记信息",
        summary: "企业、个体工商户和农民专业合作社的登记信息，市场监管部门为权威来源。",
        share_type: ShareType::Unconditional,
        update_cycle: UpdateCycle::Daily,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("uscc", "统一社会信用代码", Text, 1, Fixed),
            col("entity_name", "主体名称", Text, 1, Fixed),
            col("entity_type", "主体类型", Text, 1, Fixed),
            col("legal_rep_name", "法定代表人姓名", Text, 2, Name),
            col("legal_rep_id_number", "法定代表人身份号码", Text, 3, Fixed),
            col(
                "registered_capital",
                "注册资本（万元）",
                Decimal,
                1,
                Optional,
            ),
            col("industry_code", "行业门类", Text, 1, Optional),
            col("founding_date", "成立日期", Date, 1, Fixed),
            col("status", "登记状态", Text, 1, Fixed),
            col("address", "住所", Text, 1, Optional),
            col("county_code", "登记机关区划代码", Text, 1, Fixed),
        ],
    },
    Department {
        code: "swj",
        name: "国家税务总局成都市税务局",
        file: "extracts/tax.csv",
        record_prefix: "SW",
        resource: "纳税人登记信息",
        summary: "单位纳税人的登记、类型、信用等级与状态。日期写作 20240105。",
        share_type: ShareType::Conditional,
        update_cycle: UpdateCycle::Monthly,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("uscc", "纳税人识别号", Text, 1, UsccTypo),
            col("taxpayer_name", "纳税人名称", Text, 1, Fixed),
            col("legal_rep_name", "法定代表人姓名", Text, 2, Name),
            col("taxpayer_type", "纳税人类型", Text, 1, Fixed),
            col("registration_date", "登记日期", Date, 1, Fixed),
            col("tax_authority", "主管税务机关", Text, 1, Optional),
            col("credit_rating", "纳税信用等级", Text, 2, Optional),
            col("status", "纳税人状态", Text, 1, Fixed),
        ],
    },
    Department {
        code: "gjj",
        name: "成都住房公积金管理中心",
        file: "extracts/housing_fund.csv",
        record_prefix: "GJ",
        resource: "住房公积金缴存职工信息",
        summary: "缴存职工、缴存单位、月缴存额与账户状态。",
        share_type: ShareType::Conditional,
        update_cycle: UpdateCycle::Monthly,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("account_no", "个人账号", Text, 3, Fixed),
            col("id_number", "公民身份号码", Text, 3, IdNumber),
            col("name", "姓名", Text, 3, Name),
            col("employer_uscc", "单位统一社会信用代码", Text, 2, Optional),
            col("employer_name", "单位名称", Text, 2, Optional),
            col("monthly_deposit", "月缴存额（元）", Decimal, 3, Optional),
            col("open_date", "开户日期", Date, 2, Fixed),
            col("phone", "手机号码", Text, 3, Optional),
            col("status", "账户状态", Text, 2, Status),
        ],
    },
    Department {
        code: "tel",
        name: "成都市通信管理办公室（电信运营商）",
        file: "extracts/telecom.csv",
        record_prefix: "TX",
        resource: "手机用户实名登记信息",
        summary: "三家基础电信运营商在蓉手机号码的实名登记信息。",
        share_type: ShareType::None,
        update_cycle: UpdateCycle::Daily,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("phone", "手机号码", Text, 3, Fixed),
            col("id_number", "证件号码", Text, 3, IdNumber),
            col("name", "机主姓名", Text, 3, Name),
            col("carrier", "运营商", Text, 1, Fixed),
            col("activation_date", "入网日期", Date, 2, Optional),
            col("address", "登记地址", Text, 3, Address),
            col("status", "号码状态", Text, 2, Status),
        ],
    },
    Department {
        code: "jyj",
        name: "成都市教育局",
        file: "extracts/education.csv",
        record_prefix: "JY",
        resource: "中小学学生学籍信息",
        summary: "在读中小学生的学籍、学校、年级与监护人。",
        share_type: ShareType::Conditional,
        update_cycle: UpdateCycle::HalfYearly,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("student_no", "学籍号", Text, 2, Fixed),
            col("id_number", "公民身份号码", Text, 3, IdNumber),
            col("name", "姓名", Text, 3, Name),
            col("sex", "性别", Text, 2, Fixed),
            col("birth_date", "出生日期", Date, 3, Fixed),
            col("school_name", "学校名称", Text, 1, Fixed),
            col("grade", "年级", Text, 1, Fixed),
            col("guardian_name", "监护人姓名", Text, 3, Optional),
            col("guardian_phone", "监护人电话", Text, 3, Optional),
            col("home_address", "家庭住址", Text, 3, Address),
        ],
    },
    Department {
        code: "zjj",
        name: "成都市住房和城乡建设局",
        file: "extracts/housing.csv",
        record_prefix: "ZJ",
        resource: "商品房网签备案信息",
        summary: "新建商品房买卖合同网签备案的买受人、房屋与成交信息。",
        share_type: ShareType::Conditional,
        update_cycle: UpdateCycle::Monthly,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("contract_no", "合同备案号", Text, 2, Fixed),
            col("id_number", "买受人身份号码", Text, 3, IdNumber),
            col("name", "买受人姓名", Text, 3, Name),
            col("phone", "联系电话", Text, 3, Optional),
            col("property_address", "房屋坐落", Text, 3, Fixed),
            col("floor_area", "建筑面积（平方米）", Decimal, 2, Fixed),
            col("total_price", "成交总价（万元）", Decimal, 3, Optional),
            col("sign_date", "网签日期", Date, 2, Fixed),
            col(
                "developer_uscc",
                "开发企业统一社会信用代码",
                Text,
                1,
                Optional,
            ),
        ],
    },
    Department {
        code: "ybj",
        name: "成都市医疗保障局",
        file: "extracts/medical_insurance.csv",
        record_prefix: "YB",
        resource: "基本医疗保险参保人员信息",
        summary: "职工和城乡居民基本医疗保险的参保人员、参保地与参保状态。",
        share_type: ShareType::Conditional,
        update_cycle: UpdateCycle::Monthly,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("id_number", "公民身份号码", Text, 3, IdNumber),
            col("name", "姓名", Text, 3, Name),
            col("sex", "性别", Text, 2, Fixed),
            col("birth_date", "出生日期", Date, 3, Optional),
            col("insured_type", "参保类别", Text, 2, Fixed),
            col("insured_county_code", "参保地区划代码", Text, 1, Fixed),
            col("phone", "联系电话", Text, 3, Optional),
            col("address", "居住地址", Text, 3, Address),
            col("enrol_date", "参保日期", Date, 2, Fixed),
            col("status", "参保状态", Text, 2, Status),
        ],
    },
    Department {
        code: "cl",
        name: "成都市残疾人联合会",
        file: "extracts/disabled_persons.csv",
        record_prefix: "CL",
        resource: "持证残疾人信息",
        summary: "第二代残疾人证持证人员的残疾类别、等级与联系方式。证号为身份号码加类别和等级。",
        share_type: ShareType::Conditional,
        update_cycle: UpdateCycle::Quarterly,
        columns: &[
            col("record_no", "记录编号", Text, 1, RecordNo),
            col("certificate_no", "残疾人证号", Text, 3, Fixed),
            col("id_number", "公民身份号码", Text, 3, Fixed),
            col("name", "姓名", Text, 3, Name),
            col("sex", "性别", Text, 2, Fixed),
            col("disability_type", "残疾类别", Text, 3, Fixed),
            col("disability_level", "残疾等级", Text, 3, Fixed),
            col("issue_date", "发证日期", Date, 2, Fixed),
            col("phone", "联系电话", Text, 3, Optional),
            col("address", "居住地址", Text, 3, Address),
            col("status", "证件状态", Text, 2, Status),
        ],
    },
];

impl Department {
    pub(crate) fn spec(&self, rows: u64) -> ExtractSpec {
        ExtractSpec {
            file: self.file.to_string(),
            rows,
            department: DepartmentSpec {
                code: self.code.to_string(),
                name: self.name.to_string(),
            },
            resource: ResourceSpec {
                name: self.resource.to_string(),
                summary: self.summary.to_string(),
                share_type: self.share_type,
                update_cycle: self.update_cycle,
                key_items: vec!["record_no".to_string()],
                items: self
                    .columns
                    .iter()
                    .map(|c| ItemSpec {
                        key: c.key.to_string(),
                        name: c.name.to_string(),
                        item_type: c.ty,
                        required: c.required(),
                        grade: c.grade,
                    })
                    .collect(),
            },
        }
    }

    pub(crate) fn column(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.key == key)
    }
}

/// The resources the extracts register as, without row counts; the platform can
/// register them before (or without) reading any file.
pub fn extract_specs() -> Vec<ExtractSpec> {
    DEPARTMENTS.iter().map(|d| d.spec(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_keys_are_platform_keys() {
        for d in &DEPARTMENTS {
            assert!(d.code.bytes().all(|b| b.is_ascii_lowercase()));
            assert_eq!(d.columns.first().map(|c| c.role), Some(Role::RecordNo));
            for c in d.columns {
                let ok = c.key.len() <= 63
                    && c.key.starts_with(|ch: char| ch.is_ascii_lowercase())
                    && c.key
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                assert!(ok, "{}", c.key);
                assert!((1..=4).contains(&c.grade));
            }
        }
    }

    #[test]
    fn spec_serialises_in_the_registration_shape() {
        let json = serde_json::to_value(DEPARTMENTS[dept::GAJ].spec(3)).expect("serialises");
        assert_eq!(json["department"]["code"], "gaj");
        assert_eq!(json["resource"]["share_type"], "unconditional");
        assert_eq!(json["resource"]["items"][0]["type"], "string");
        assert_eq!(json["resource"]["key_items"][0], "record_no");
        let jyj = serde_json::to_value(DEPARTMENTS[dept::JYJ].spec(0)).expect("serialises");
        assert_eq!(jyj["resource"]["update_cycle"], "half_yearly");
    }
}
