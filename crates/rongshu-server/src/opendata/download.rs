//! Downloads of a published release's current rows as CSV (plain, or with a
//! BOM for spreadsheets), JSON or XLSX: the same rows and values as
//! `datastore_search` gives (the view's filters, released items only, masked
//! items masked), read page by page so memory stays flat for any size.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rongshu_core::opendata::{ReleaseOpenType, ReleaseState};
use rongshu_store::{Filter, ViewQuery};

use crate::error::ApiError;
use crate::opendata::gate::view_filters;
use crate::opendata::package::{self, Dataset};
use crate::opendata::versions::{self, PastRows};
use crate::opendata::{open_api, open_keys};
use crate::state::AppState;
use crate::table_stream::{Encoding, Page, PageSource, PageWriter, cell_text, stream_pages};

/// Rows read per page: large enough that a big download is few queries,
/// small enough that a page is a few megabytes at most.
const PAGE_ROWS: i64 = 5_000;

/// A format a release is downloaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadFormat {
    Csv,
    /// CSV for spreadsheet users: with a BOM, formulas defused.
    CsvBom,
    Json,
    Xlsx,
}

impl DownloadFormat {
    /// Every format, in the order catalogs list them.
    pub const ALL: [DownloadFormat; 4] = [Self::Csv, Self::CsvBom, Self::Json, Self::Xlsx];

    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == raw)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "format: \"{raw}\" is not csv, csv-bom, json or xlsx"
                ))
            })
    }

    /// The `format` parameter's value, and the name its downloads are counted under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::CsvBom => "csv-bom",
            Self::Json => "json",
            Self::Xlsx => "xlsx",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv | Self::CsvBom => "csv",
            Self::Json => "json",
            Self::Xlsx => "xlsx",
        }
    }

    /// The format's name in CKAN (`res_format`) and DCAT (`dct:format`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Csv | Self::CsvBom => "CSV",
            Self::Json => "JSON",
            Self::Xlsx => "XLSX",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Csv | Self::CsvBom => "text/csv",
            Self::Json => "application/json",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// How the distribution is titled in catalogs.
    pub fn title(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::CsvBom => "CSV（适用于 Excel 等电子表格）",
            Self::Json => "JSON",
            Self::Xlsx => "XLSX（Excel 工作簿）",
        }
    }
}

/// Where a published dataset is downloaded in `format`.
pub fn download_url(d: &Dataset, base: &str, format: DownloadFormat) -> String {
    format!(
        "{base}/api/v1/releases/{}/download?format={}",
        d.name(),
        format.as_str()
    )
}

/// The dataset behind a download: published (anything else is not found,
/// withdrawn included), and open without conditions or, for a conditional
/// one, asked for with the key of a user whose request was approved.
pub async fn downloadable(
    state: &AppState,
    id_or_name: &str,
    headers: &HeaderMap,
) -> Result<Dataset, ApiError> {
    let name = match id_or_name.parse::<i64>() {
        Ok(id) => match state.store.release(id).await {
            Ok(r) if r.state == ReleaseState::Published => r.name,
            Ok(_) | Err(rongshu_store::StoreError::NotFound(_)) => {
                return Err(ApiError::NotFound(format!(
                    "dataset {id_or_name} does not exist"
                )));
            }
            Err(e) => return Err(e.into()),
        },
        Err(_) => id_or_name.to_owned(),
    };
    let d = package::published_dataset(state, &name).await?;
    if d.release.open_type == ReleaseOpenType::Conditional {
        if !open_keys::presents_key(headers) {
            return Err(ApiError::Forbidden(format!(
                "\"{}\" is open on conditions ({}): its rows are for registered users who accepted the terms; send your key in X-API-Key",
                d.name(),
                d.release.open_condition.as_deref().unwrap_or("")
            )));
        }
        let caller = open_keys::caller(state, headers).await?;
        open_api::may_use(state, &d, &caller).await?;
    }
    Ok(d)
}

/// The released rows in row order, one page at a time.
struct ReleasedRows {
    state: AppState,
    dataset: Dataset,
    query: ViewQuery,
}

impl ReleasedRows {
    fn new(state: AppState, dataset: Dataset, filters: Vec<Filter>) -> Self {
        let fields = dataset
            .items
            .iter()
            .map(|(i, _)| i.key.to_string())
            .collect();
        let query = ViewQuery {
            filters,
            fields,
            limit: PAGE_ROWS,
            ..ViewQuery::default()
        };
        Self {
            state,
            dataset,
            query,
        }
    }
}

/// The rows of a download: the current data, or a past version's.
enum Rows {
    Current(ReleasedRows),
    Past(PastRows),
}

impl PageSource for Rows {
    async fn next_page(&mut self) -> Result<Page, ApiError> {
        match self {
            Rows::Current(rows) => rows.next_page().await,
            Rows::Past(rows) => rows.next_page().await,
        }
    }

    fn label(&self) -> String {
        match self {
            Rows::Current(rows) => rows.label(),
            Rows::Past(rows) => rows.label(),
        }
    }
}

impl PageSource for ReleasedRows {
    async fn next_page(&mut self) -> Result<Page, ApiError> {
        let page = self
            .state
            .store
            .query_view(&self.dataset.resource, &self.query)
            .await?;
        // Keyset on the row id: the next page starts after this one's last
        // row, so a late page costs what the first did.
        self.query.after = page.records.last().map(|(id, _)| *id);
        let more = i64::try_from(page.records.len()).unwrap_or(i64::MAX) >= self.query.limit;
        let records = page
            .records
            .into_iter()
            .map(|(_, mut record)| {
                self.dataset.present(&mut record);
                record
            })
            .collect();
        Ok(Page { records, more })
    }

    fn label(&self) -> String {
        format!("download of {}", self.dataset.name())
    }
}

/// Count the download and answer with its rows: the current data, or the
/// version a past batch left (see `versions`). It is counted when the
/// download starts, once, whatever becomes of the stream.
pub async fn download(
    state: &AppState,
    dataset: Dataset,
    format: DownloadFormat,
    version: Option<&str>,
) -> Result<Response, ApiError> {
    // A version that does not exist is refused before anything is counted.
    let past = match version {
        Some(v) => Some(versions::find(state, &dataset, v).await?),
        None => None,
    };
    let filters = view_filters(&dataset.resource.spec, &dataset.release.view)?;
    let fields: Vec<String> = dataset
        .items
        .iter()
        .map(|(i, _)| i.key.to_string())
        .collect();
    state
        .store
        .count_download(
            dataset.release.id,
            format.as_str(),
            state.clock.now().date_naive(),
        )
        .await?;
    // The name is a checked release name (ASCII letters, digits, `-`, `_`),
    // a version a batch id.
    let disposition = match &past {
        Some(v) => format!(
            "attachment; filename=\"{}-{}.{}\"",
            dataset.name(),
            v.version,
            format.extension()
        ),
        None => format!(
            "attachment; filename=\"{}.{}\"",
            dataset.name(),
            format.extension()
        ),
    };
    let content_type = match format {
        DownloadFormat::Csv | DownloadFormat::CsvBom => "text/csv; charset=utf-8",
        other => other.media_type(),
    };
    let rows = match past {
        Some(v) => Rows::Past(PastRows::new(state.clone(), dataset, v.version, filters)),
        None => Rows::Current(ReleasedRows::new(state.clone(), dataset, filters)),
    };
    let body = match format {
        DownloadFormat::Csv => {
            Body::from_stream(stream_pages(rows, PageWriter::new(Encoding::Csv, fields)))
        }
        DownloadFormat::CsvBom => Body::from_stream(stream_pages(
            rows,
            PageWriter::new(Encoding::SpreadsheetCsv, fields),
        )),
        DownloadFormat::Json => {
            Body::from_stream(stream_pages(rows, PageWriter::new(Encoding::Json, fields)))
        }
        DownloadFormat::Xlsx => Body::from(workbook(rows, &fields).await?),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// The rows as one workbook sheet. A workbook is a zip written whole, so it
/// is built in memory (bounded by the sheet's row limit, past which it is
/// cut); CSV and JSON are the formats for data of any size. Every cell is
/// written as text, so no value runs as a formula.
async fn workbook(mut rows: Rows, fields: &[String]) -> Result<Vec<u8>, ApiError> {
    use rongshu_ingest::table_sheet::TableSheet;
    let header: Vec<&str> = fields.iter().map(String::as_str).collect();
    let mut sheet = TableSheet::new("数据", &header).map_err(ApiError::internal)?;
    'pages: loop {
        let page = rows.next_page().await?;
        for record in page.records {
            let cells: Vec<String> = fields.iter().map(|f| cell_text(record.get(f))).collect();
            let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
            if !sheet.push(&refs).map_err(ApiError::internal)? {
                break 'pages;
            }
        }
        if !page.more {
            break;
        }
    }
    tokio::task::spawn_blocking(move || sheet.finish())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}
