//! The catalog resource as the search index sees it.

use serde::{Deserialize, Serialize};

/// One catalog resource, flattened to what search needs. The server builds it from the
/// database; the index never reads the database itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogDoc {
    /// The resource code: the unique key, used to replace and delete.
    pub code: String,
    /// 资源名称.
    pub name: String,
    /// 资源摘要.
    pub summary: String,
    /// 提供方代码 (the value of the `provider` facet).
    pub provider_code: String,
    /// 提供方名称 (searched as text).
    pub provider_name: String,
    /// "base" | "theme" | "department" (基础/主题/部门).
    pub kind: String,
    /// Open-data topics, e.g. "交通服务", "医疗卫生".
    pub topics: Vec<String>,
    /// 关键字.
    pub keywords: Vec<String>,
    /// Data items: Chinese names and keys, e.g. "公民身份号码", "id_number".
    pub items: Vec<String>,
    /// 共享类型.
    pub share_type: String,
    /// 开放类型.
    pub open_type: String,
    /// 资源格式.
    pub format: String,
    /// 更新周期.
    pub update_cycle: String,
    /// Lifecycle status.
    pub status: String,
    /// Last update, unix seconds; used by the `updated` sort.
    pub updated_at: i64,
}
