//! The open catalog as DCAT-AP: JSON-LD (`/catalog.jsonld`) and Turtle
//! (`/catalog.ttl`), paged with Hydra as DCAT-AP harvesters expect. Each
//! dataset has the mandatory properties (title, description, publisher, a
//! distribution with its access URL) and the recommended ones we hold
//! (keywords, theme, frequency, modified, licence, contact point).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rongshu_core::catalog::UpdateCycle;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::opendata::base_url;
use crate::opendata::download::{DownloadFormat, download_url};
use crate::opendata::package::{self, Dataset, license};
use crate::state::AppState;

pub const PAGE_SIZE: usize = 100;

#[derive(Debug, Deserialize)]
pub struct PageParams {
    page: Option<usize>,
}

/// The EU frequency vocabulary term for an update cycle.
fn frequency(cycle: UpdateCycle) -> &'static str {
    let term = match cycle.as_str() {
        "realtime" => "UPDATE_CONT",
        "daily" => "DAILY",
        "weekly" => "WEEKLY",
        "monthly" => "MONTHLY",
        "quarterly" => "QUARTERLY",
        "yearly" | "annual" => "ANNUAL",
        _ => "IRREG",
    };
    match term {
        "UPDATE_CONT" => "http://publications.europa.eu/resource/authority/frequency/UPDATE_CONT",
        "DAILY" => "http://publications.europa.eu/resource/authority/frequency/DAILY",
        "WEEKLY" => "http://publications.europa.eu/resource/authority/frequency/WEEKLY",
        "MONTHLY" => "http://publications.europa.eu/resource/authority/frequency/MONTHLY",
        "QUARTERLY" => "http://publications.europa.eu/resource/authority/frequency/QUARTERLY",
        "ANNUAL" => "http://publications.europa.eu/resource/authority/frequency/ANNUAL",
        _ => "http://publications.europa.eu/resource/authority/frequency/IRREG",
    }
}

/// What one dataset says, in one place for both serialisations.
struct Described {
    iri: String,
    title: String,
    description: String,
    identifier: String,
    publisher_iri: String,
    publisher_name: String,
    keywords: Vec<String>,
    themes: Vec<String>,
    frequency: &'static str,
    modified: String,
    license: String,
    distributions: Vec<Distribution>,
}

/// A way to get the data: the datastore API, or a download of a file.
struct Distribution {
    iri: String,
    access_url: String,
    /// The file itself, for a download (DCAT's `downloadURL`).
    download_url: Option<String>,
    format: &'static str,
    media_type: &'static str,
}

fn distributions(d: &Dataset, base: &str) -> Vec<Distribution> {
    let iri = |tail: &str| format!("{base}/dataset/{}/distribution/{tail}", d.name());
    let api = Distribution {
        iri: iri("api"),
        access_url: format!(
            "{base}/api/3/action/datastore_search?resource_id={}",
            d.resource_id()
        ),
        download_url: None,
        format: "JSON",
        media_type: "application/json",
    };
    std::iter::once(api)
        .chain(DownloadFormat::ALL.into_iter().map(|f| {
            let url = download_url(d, base, f);
            Distribution {
                iri: iri(f.as_str()),
                access_url: url.clone(),
                download_url: Some(url),
                format: f.label(),
                media_type: f.media_type(),
            }
        }))
        .collect()
}

fn describe(d: &Dataset, base: &str) -> Described {
    let spec = &d.resource.spec;
    Described {
        iri: format!("{base}/dataset/{}", d.name()),
        title: d.release.title.clone(),
        description: d.release.description.clone(),
        identifier: d.name().to_owned(),
        publisher_iri: format!("{base}/organization/{}", d.resource.provider.code),
        publisher_name: d.resource.provider.name.clone(),
        keywords: spec.keywords.clone(),
        themes: spec.topics.clone(),
        frequency: frequency(spec.update_cycle),
        modified: d.modified().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        license: license(&d.release.license)
            .map(|l| l.2.to_owned())
            .unwrap_or_default(),
        distributions: distributions(d, base),
    }
}

struct Page {
    datasets: Vec<Described>,
    page: usize,
    last: usize,
    total: usize,
}

async fn page_of(state: &AppState, base: &str, page: Option<usize>) -> Result<Page, ApiError> {
    let all = package::published(state).await?;
    let total = all.len();
    let last = total.div_ceil(PAGE_SIZE).max(1);
    let page = page.unwrap_or(1);
    if page == 0 || page > last {
        return Err(ApiError::NotFound(format!(
            "page {page} of the catalog does not exist: pages are 1 to {last}"
        )));
    }
    Ok(Page {
        datasets: all
            .iter()
            .skip((page - 1) * PAGE_SIZE)
            .take(PAGE_SIZE)
            .map(|d| describe(d, base))
            .collect(),
        page,
        last,
        total,
    })
}

fn jsonld(base: &str, page: &Page) -> Value {
    let datasets: Vec<Value> = page
        .datasets
        .iter()
        .map(|d| {
            json!({
                "@id": d.iri,
                "@type": "dcat:Dataset",
                "dct:identifier": d.identifier,
                "dct:title": {"@value": d.title, "@language": "zh"},
                "dct:description": {"@value": d.description, "@language": "zh"},
                "dct:publisher": {"@id": d.publisher_iri, "@type": "foaf:Agent", "foaf:name": d.publisher_name},
                "dcat:keyword": d.keywords.iter().map(|k| json!({"@value": k, "@language": "zh"})).collect::<Vec<_>>(),
                "dcat:theme": d.themes.iter().map(|t| json!({"@id": format!("{base}/group/{t}"), "skos:prefLabel": t})).collect::<Vec<_>>(),
                "dct:accrualPeriodicity": {"@id": d.frequency},
                "dct:modified": {"@value": d.modified, "@type": "xsd:dateTime"},
                "dct:license": {"@id": d.license},
                "dcat:contactPoint": {"@type": "vcard:Organization", "vcard:fn": d.publisher_name},
                "dcat:distribution": d.distributions.iter().map(|x| {
                    let mut dist = json!({
                        "@id": x.iri,
                        "@type": "dcat:Distribution",
                        "dcat:accessURL": {"@id": x.access_url},
                        "dct:format": x.format,
                        "dcat:mediaType": x.media_type,
                        "dct:license": {"@id": d.license},
                    });
                    if let (Some(url), Some(obj)) = (&x.download_url, dist.as_object_mut()) {
                        obj.insert("dcat:downloadURL".into(), json!({"@id": url}));
                    }
                    dist
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut graph = vec![
        json!({
            "@id": format!("{base}/catalog"),
            "@type": "dcat:Catalog",
            "dct:title": {"@value": "成都市公共数据开放目录", "@language": "zh"},
            "dct:description": {"@value": "蓉数平台经审核发布的开放数据集", "@language": "zh"},
            "dct:publisher": {"@id": format!("{base}/organization/platform"), "@type": "foaf:Agent", "foaf:name": "成都市大数据中心"},
            "dcat:dataset": page.datasets.iter().map(|d| json!({"@id": d.iri})).collect::<Vec<_>>(),
        }),
        json!({
            "@id": format!("{base}/catalog.jsonld?page={}", page.page),
            "@type": "hydra:PartialCollectionView",
            "hydra:totalItems": page.total,
            "hydra:first": format!("{base}/catalog.jsonld?page=1"),
            "hydra:last": format!("{base}/catalog.jsonld?page={}", page.last),
            "hydra:next": (page.page < page.last).then(|| format!("{base}/catalog.jsonld?page={}", page.page + 1)),
        }),
    ];
    graph.extend(datasets);
    json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "vcard": "http://www.w3.org/2006/vcard/ns#",
            "skos": "http://www.w3.org/2004/02/skos/core#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
            "hydra": "http://www.w3.org/ns/hydra/core#",
        },
        "@graph": graph,
    })
}

/// A Turtle string literal: quotes, backslashes and line breaks escaped.
fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An IRI reference; characters Turtle forbids inside `<>` are escaped.
fn iri(s: &str) -> String {
    let mut out = String::from("<");
    for c in s.chars() {
        if matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '^' | '`' | '\\') || c <= ' ' {
            out.push_str(&format!("%{:02X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('>');
    out
}

fn turtle(base: &str, page: &Page) -> String {
    let mut t = String::from(
        "@prefix dcat: <http://www.w3.org/ns/dcat#> .\n\
         @prefix dct: <http://purl.org/dc/terms/> .\n\
         @prefix foaf: <http://xmlns.com/foaf/0.1/> .\n\
         @prefix vcard: <http://www.w3.org/2006/vcard/ns#> .\n\
         @prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n\
         @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\
         @prefix hydra: <http://www.w3.org/ns/hydra/core#> .\n\n",
    );
    let catalog = iri(&format!("{base}/catalog"));
    t.push_str(&format!(
        "{catalog} a dcat:Catalog ;\n  dct:title {}@zh ;\n  dct:description {}@zh",
        lit("成都市公共数据开放目录"),
        lit("蓉数平台经审核发布的开放数据集")
    ));
    for d in &page.datasets {
        t.push_str(&format!(" ;\n  dcat:dataset {}", iri(&d.iri)));
    }
    t.push_str(" .\n\n");
    let view = |p: usize| iri(&format!("{base}/catalog.ttl?page={p}"));
    t.push_str(&format!(
        "{} a hydra:PartialCollectionView ;\n  hydra:totalItems {} ;\n  hydra:first {} ;\n  hydra:last {}",
        view(page.page),
        page.total,
        view(1),
        view(page.last)
    ));
    if page.page < page.last {
        t.push_str(&format!(" ;\n  hydra:next {}", view(page.page + 1)));
    }
    t.push_str(" .\n\n");
    for d in &page.datasets {
        let s = iri(&d.iri);
        t.push_str(&format!("{s} a dcat:Dataset ;\n"));
        t.push_str(&format!("  dct:identifier {} ;\n", lit(&d.identifier)));
        t.push_str(&format!("  dct:title {}@zh ;\n", lit(&d.title)));
        t.push_str(&format!("  dct:description {}@zh ;\n", lit(&d.description)));
        t.push_str(&format!("  dct:publisher {} ;\n", iri(&d.publisher_iri)));
        for k in &d.keywords {
            t.push_str(&format!("  dcat:keyword {}@zh ;\n", lit(k)));
        }
        for theme in &d.themes {
            t.push_str(&format!(
                "  dcat:theme {} ;\n",
                iri(&format!("{base}/group/{theme}"))
            ));
        }
        t.push_str(&format!(
            "  dct:accrualPeriodicity {} ;\n",
            iri(d.frequency)
        ));
        t.push_str(&format!(
            "  dct:modified {}^^xsd:dateTime ;\n",
            lit(&d.modified)
        ));
        if !d.license.is_empty() {
            t.push_str(&format!("  dct:license {} ;\n", iri(&d.license)));
        }
        t.push_str(&format!(
            "  dcat:contactPoint [ a vcard:Organization ; vcard:fn {} ] ;\n",
            lit(&d.publisher_name)
        ));
        let dists: Vec<String> = d.distributions.iter().map(|x| iri(&x.iri)).collect();
        t.push_str(&format!("  dcat:distribution {} .\n", dists.join(", ")));
        t.push_str(&format!(
            "{} a foaf:Agent ;\n  foaf:name {} .\n",
            iri(&d.publisher_iri),
            lit(&d.publisher_name)
        ));
        for x in &d.distributions {
            t.push_str(&format!(
                "{} a dcat:Distribution ;\n  dcat:accessURL {} ;\n",
                iri(&x.iri),
                iri(&x.access_url)
            ));
            if let Some(url) = &x.download_url {
                t.push_str(&format!("  dcat:downloadURL {} ;\n", iri(url)));
            }
            t.push_str(&format!(
                "  dct:format {} ;\n  dcat:mediaType {} .\n",
                lit(x.format),
                lit(x.media_type)
            ));
        }
        t.push('\n');
    }
    t
}

pub async fn catalog_jsonld(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    let base = base_url(&state, &headers);
    let page = page_of(&state, &base, params.page).await?;
    let mut response = axum::Json(jsonld(&base, &page)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/ld+json"),
    );
    Ok(response)
}

pub async fn catalog_ttl(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    let base = base_url(&state, &headers);
    let page = page_of(&state, &base, params.page).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/turtle; charset=utf-8"),
        )],
        turtle(&base, &page),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_iris_are_escaped() {
        assert_eq!(lit("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(iri("http://x/a b<c>"), "<http://x/a%20b%3Cc%3E>");
    }
}
