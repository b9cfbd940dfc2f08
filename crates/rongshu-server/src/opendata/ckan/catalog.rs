//! The catalog actions: what is published, searched with facets, and shown
//! one by one (packages, organizations, groups, tags, resources).

use std::collections::BTreeMap;

use rongshu_search::{Facet, SearchQuery, SortOrder};
use serde_json::{Map, Value, json};

use super::{Call, CkanError, CkanResult};
use crate::opendata::download::DownloadFormat;
use crate::opendata::package::{
    self, Dataset, ckan_download_resource, ckan_group, ckan_organization, ckan_package,
    ckan_resource, downloads_extra,
};

/// The distribution formats every dataset has (the datastore API is JSON).
const RES_FORMATS: &[&str] = &["CSV", "JSON", "XLSX"];

fn is_res_format(value: &str) -> bool {
    RES_FORMATS.iter().any(|f| f.eq_ignore_ascii_case(value))
}

pub fn status_show(call: &Call<'_>) -> Value {
    json!({
        "ckan_version": "2.10.4",
        "site_title": "蓉数 · 成都市公共数据开放平台",
        "site_description": "Rongshu open data: released views of the city's public data",
        "site_url": call.base,
        "locale_default": "zh_Hans_CN",
        "extensions": ["datastore", "dcat"],
    })
}

pub async fn package_list(call: &Call<'_>) -> CkanResult {
    let limit = call.params.int("limit", i64::MAX, 0, i64::MAX)?;
    let offset = call.params.int("offset", 0, 0, i64::MAX)?;
    let mut names: Vec<String> = package::published(call.state)
        .await?
        .iter()
        .map(|d| d.name().to_owned())
        .collect();
    names.sort();
    let page: Vec<String> = names
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    Ok(json!(page))
}

/// A CKAN facet field and the index facet behind it (`res_format` has none:
/// every dataset has the same formats).
fn facet_of(field: &str) -> Result<Option<Facet>, CkanError> {
    Ok(Some(match field {
        "organization" | "owner_org" => Facet::Provider,
        "tags" => Facet::Keyword,
        "groups" => Facet::Topic,
        "open_type" => Facet::OpenType,
        "update_cycle" => Facet::UpdateCycle,
        "res_format" => return Ok(None),
        other => {
            return Err(CkanError::Validation(format!(
                "\"{other}\" cannot be filtered or faceted on: use organization, tags, groups, res_format, open_type or update_cycle"
            )));
        }
    }))
}

/// `organization:gaj +tags:"户籍" groups:交通服务`: terms that must all hold.
fn parse_fq(fq: &str) -> Result<Vec<(String, String)>, CkanError> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in fq.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        terms.push(current);
    }
    terms
        .into_iter()
        .filter(|t| t != "AND" && t != "&&")
        .map(|t| {
            let t = t.trim_start_matches('+');
            let (field, value) = t
                .split_once(':')
                .ok_or_else(|| CkanError::Validation(format!("fq: \"{t}\" is not field:value")))?;
            Ok((field.to_owned(), value.to_owned()))
        })
        .collect()
}

fn sort_of(raw: Option<&str>) -> Result<SortOrder, CkanError> {
    let normal = raw.map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "));
    Ok(match normal.as_deref() {
        None | Some("") | Some("score desc, metadata_modified desc") | Some("score desc") => {
            SortOrder::Relevance
        }
        Some("metadata_modified desc") => SortOrder::Updated,
        Some("title_string asc") | Some("name asc") | Some("title asc") => SortOrder::Name,
        Some(other) => {
            return Err(CkanError::Validation(format!(
                "sort: \"{other}\" is not supported: use score desc, metadata_modified desc, title_string asc or name asc"
            )));
        }
    })
}

pub async fn package_search(call: &Call<'_>) -> CkanResult {
    let p = &call.params;
    let q = p.text("q").filter(|q| {
        let q = q.trim();
        !q.is_empty() && q != "*:*" && q != "*"
    });
    let rows = p.int("rows", 10, 0, 1000)?;
    let start = p.int("start", 0, 0, 1_000_000)?;
    let sort_raw = p.text("sort");
    let sort = sort_of(sort_raw.as_deref())?;
    let mut filters = Vec::new();
    let mut impossible = false;
    for (field, value) in parse_fq(&p.text("fq").unwrap_or_default())? {
        match facet_of(&field)? {
            Some(facet) => filters.push((facet, value)),
            None => impossible |= !is_res_format(&value),
        }
    }
    let facet_fields = p.list("facet.field")?.unwrap_or_default();
    for field in &facet_fields {
        facet_of(field)?;
    }
    let facet_limit = p.int("facet.limit", 50, -1, 10_000)?;
    let query = SearchQuery {
        q,
        filters,
        sort,
        offset: usize::try_from(start).unwrap_or(0),
        limit: usize::try_from(rows).unwrap_or(0),
    };
    let state = call.state;
    let index = state.open_index().await?;
    let found = index.search(state, query).await?;
    let (count, hits) = if impossible {
        (0, Vec::new())
    } else {
        (found.total, found.hits)
    };
    let mut results = Vec::with_capacity(hits.len());
    for hit in &hits {
        match package::published_dataset(state, &hit.code).await {
            Ok(d) => results.push(ckan_package(&d, &call.base)),
            // Withdrawn between the index's rebuild and now: not shown.
            Err(crate::error::ApiError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let departments: BTreeMap<String, String> = state
        .store
        .departments()
        .await?
        .into_iter()
        .map(|d| (d.code, d.name))
        .collect();
    let mut facets = Map::new();
    let mut search_facets = Map::new();
    for field in &facet_fields {
        let counts: Vec<(String, u64)> = match facet_of(field)? {
            _ if impossible => Vec::new(),
            None if count > 0 => RES_FORMATS
                .iter()
                .map(|f| ((*f).to_owned(), count as u64))
                .collect(),
            None => Vec::new(),
            Some(facet) => found
                .facets
                .get(facet.as_str())
                .map(|values| values.iter().map(|v| (v.value.clone(), v.count)).collect())
                .unwrap_or_default(),
        };
        let shown = match usize::try_from(facet_limit) {
            Ok(n) => counts.into_iter().take(n).collect::<Vec<_>>(),
            Err(_) => counts,
        };
        let label = |value: &str| match field.as_str() {
            "organization" | "owner_org" => departments
                .get(value)
                .cloned()
                .unwrap_or_else(|| value.to_owned()),
            _ => value.to_owned(),
        };
        facets.insert(
            field.clone(),
            Value::Object(shown.iter().map(|(v, c)| (v.clone(), json!(c))).collect()),
        );
        search_facets.insert(
            field.clone(),
            json!({
                "title": field,
                "items": shown.iter().map(|(v, c)| json!({"name": v, "display_name": label(v), "count": c})).collect::<Vec<_>>(),
            }),
        );
    }
    Ok(json!({
        "count": count,
        "sort": sort_raw.unwrap_or_else(|| "score desc, metadata_modified desc".into()),
        "results": results,
        "facets": facets,
        "search_facets": search_facets,
    }))
}

pub async fn package_show(call: &Call<'_>) -> CkanResult {
    let id = call.params.required("id")?;
    let d = package::published_dataset(call.state, &id)
        .await
        .map_err(|_| CkanError::NotFound("Not found".into()))?;
    let counts = call.state.store.download_counts(d.release.id).await?;
    let mut package = ckan_package(&d, &call.base);
    if let Some(Value::Array(extras)) = package.get_mut("extras") {
        extras.push(downloads_extra(&counts));
    }
    Ok(package)
}

pub async fn resource_show(call: &Call<'_>) -> CkanResult {
    let id = call.params.required("id")?;
    if let Ok(d) = dataset_of_resource(call, &id).await {
        return Ok(ckan_resource(&d, &call.base));
    }
    // A download distribution: `{dataset}-{format}`. Names contain `-`
    // too, so each format's suffix is tried against the published datasets.
    for format in DownloadFormat::ALL {
        let Some(name) = id.strip_suffix(&format!("-{}", format.as_str())) else {
            continue;
        };
        if let Ok(d) = package::published_dataset(call.state, name).await {
            return Ok(ckan_download_resource(&d, &call.base, format));
        }
    }
    Err(CkanError::NotFound(format!(
        "Resource \"{id}\" was not found."
    )))
}

/// The dataset a CKAN resource id belongs to, if it is published.
pub async fn dataset_of_resource(call: &Call<'_>, id: &str) -> Result<Dataset, CkanError> {
    let not_found = || CkanError::NotFound(format!("Resource \"{id}\" was not found."));
    let name = id.strip_suffix("-data").ok_or_else(not_found)?;
    package::published_dataset(call.state, name)
        .await
        .map_err(|_| not_found())
}

/// Published datasets per department.
async fn by_department(call: &Call<'_>) -> Result<BTreeMap<String, Vec<Dataset>>, CkanError> {
    let mut map: BTreeMap<String, Vec<Dataset>> = BTreeMap::new();
    for d in package::published(call.state).await? {
        map.entry(d.resource.provider.code.clone())
            .or_default()
            .push(d);
    }
    Ok(map)
}

pub async fn organization_list(call: &Call<'_>) -> CkanResult {
    let all_fields = call.params.boolean("all_fields", false)?;
    let orgs = by_department(call).await?;
    Ok(Value::Array(
        orgs.values()
            .filter_map(|ds| {
                let dept = &ds.first()?.resource.provider;
                Some(if all_fields {
                    ckan_organization(dept, ds.len())
                } else {
                    json!(dept.code)
                })
            })
            .collect(),
    ))
}

pub async fn organization_show(call: &Call<'_>) -> CkanResult {
    let id = call.params.required("id")?;
    let include = call.params.boolean("include_datasets", false)?;
    let orgs = by_department(call).await?;
    let datasets = orgs
        .get(&id)
        .filter(|ds| !ds.is_empty())
        .ok_or_else(|| CkanError::NotFound("Organization not found".into()))?;
    let mut org = ckan_organization(&datasets[0].resource.provider, datasets.len());
    if include && let Some(obj) = org.as_object_mut() {
        obj.insert(
            "packages".into(),
            json!(
                datasets
                    .iter()
                    .map(|d| ckan_package(d, &call.base))
                    .collect::<Vec<_>>()
            ),
        );
    }
    Ok(org)
}

pub async fn group_list(call: &Call<'_>) -> CkanResult {
    let all_fields = call.params.boolean("all_fields", false)?;
    let mut topics: BTreeMap<String, usize> = BTreeMap::new();
    for d in package::published(call.state).await? {
        for t in &d.resource.spec.topics {
            *topics.entry(t.clone()).or_default() += 1;
        }
    }
    Ok(Value::Array(
        topics
            .iter()
            .map(|(t, n)| {
                if all_fields {
                    ckan_group(t, *n)
                } else {
                    json!(t)
                }
            })
            .collect(),
    ))
}

pub async fn tag_list(call: &Call<'_>) -> CkanResult {
    let query = call.params.text("query").unwrap_or_default();
    let all_fields = call.params.boolean("all_fields", false)?;
    let mut tags: Vec<String> = package::published(call.state)
        .await?
        .iter()
        .flat_map(|d| d.resource.spec.keywords.clone())
        .filter(|k| query.is_empty() || k.contains(query.as_str()))
        .collect();
    tags.sort();
    tags.dedup();
    Ok(Value::Array(
        tags.iter()
            .map(|t| {
                if all_fields {
                    json!({"id": t, "name": t, "display_name": t, "vocabulary_id": null})
                } else {
                    json!(t)
                }
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_queries_split_on_spaces_outside_quotes() {
        assert_eq!(
            parse_fq(r#"organization:gaj +tags:"户籍 人口" AND res_format:JSON"#).unwrap(),
            vec![
                ("organization".into(), "gaj".into()),
                ("tags".into(), "户籍 人口".into()),
                ("res_format".into(), "JSON".into())
            ]
        );
        assert!(parse_fq("gaj").is_err());
        assert!(sort_of(Some("name  asc")).is_ok());
        assert!(sort_of(Some("views desc")).is_err());
    }
}
