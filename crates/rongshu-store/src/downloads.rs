//! How often each published release is downloaded: one counter per release,
//! format and day, for the portal's usage figures and the CKAN/DCAT answers.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use crate::{Store, StoreError};

/// A release's downloads: all together, per format, and per day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DownloadCounts {
    pub total: i64,
    pub by_format: BTreeMap<String, i64>,
    /// `YYYY-MM-DD` (UTC) to that day's downloads in every format.
    pub by_day: BTreeMap<String, i64>,
}

impl Store {
    /// Count one download of `release_id` in `format` on `day`.
    pub async fn count_download(
        &self,
        release_id: i64,
        format: &str,
        day: NaiveDate,
    ) -> Result<(), StoreError> {
        // One statement on both backends, so two downloads at once both count.
        sqlx::query(
            "INSERT INTO open_downloads (release_id, format, day, count) VALUES ($1, $2, $3, 1)
             ON CONFLICT (release_id, format, day)
             DO UPDATE SET count = open_downloads.count + 1",
        )
        .bind(release_id)
        .bind(format)
        .bind(day.format("%Y-%m-%d").to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn download_counts(&self, release_id: i64) -> Result<DownloadCounts, StoreError> {
        let rows =
            sqlx::query("SELECT format, day, count FROM open_downloads WHERE release_id = $1")
                .bind(release_id)
                .fetch_all(&self.pool)
                .await?;
        let mut counts = DownloadCounts::default();
        for row in &rows {
            let format: String = row.try_get("format")?;
            let day: String = row.try_get("day")?;
            let n: i64 = row.try_get("count")?;
            counts.total += n;
            *counts.by_format.entry(format).or_default() += n;
            *counts.by_day.entry(day).or_default() += n;
        }
        Ok(counts)
    }
}
