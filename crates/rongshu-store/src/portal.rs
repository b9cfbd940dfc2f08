//! How much each published release is used on the portal: page views per
//! release and day (as `open_downloads` counts downloads), and both figures
//! for every release at once for the portal's "most downloaded" list.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use crate::{Store, StoreError};

/// A release's portal page views: all together and per day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ViewCounts {
    pub total: i64,
    /// `YYYY-MM-DD` (UTC) to that day's views.
    pub by_day: BTreeMap<String, i64>,
}

/// One release's use, all time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReleaseUse {
    pub views: i64,
    pub downloads: i64,
}

impl Store {
    /// Count one view of `release_id`'s page on `day`.
    pub async fn count_view(&self, release_id: i64, day: NaiveDate) -> Result<(), StoreError> {
        // One statement on both backends, so two views at once both count.
        sqlx::query(
            "INSERT INTO open_views (release_id, day, count) VALUES ($1, $2, 1)
             ON CONFLICT (release_id, day) DO UPDATE SET count = open_views.count + 1",
        )
        .bind(release_id)
        .bind(day.format("%Y-%m-%d").to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn view_counts(&self, release_id: i64) -> Result<ViewCounts, StoreError> {
        let rows = sqlx::query("SELECT day, count FROM open_views WHERE release_id = $1")
            .bind(release_id)
            .fetch_all(&self.pool)
            .await?;
        let mut counts = ViewCounts::default();
        for row in &rows {
            let day: String = row.try_get("day")?;
            let n: i64 = row.try_get("count")?;
            counts.total += n;
            *counts.by_day.entry(day).or_default() += n;
        }
        Ok(counts)
    }

    /// Views and downloads of every release that has any, by release id.
    pub async fn release_use(&self) -> Result<BTreeMap<i64, ReleaseUse>, StoreError> {
        let mut out: BTreeMap<i64, ReleaseUse> = BTreeMap::new();
        let views = sqlx::query(
            "SELECT release_id, CAST(SUM(count) AS BIGINT) AS n FROM open_views GROUP BY release_id",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in &views {
            out.entry(row.try_get("release_id")?).or_default().views = row.try_get("n")?;
        }
        let downloads = sqlx::query(
            "SELECT release_id, CAST(SUM(count) AS BIGINT) AS n FROM open_downloads GROUP BY release_id",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in &downloads {
            out.entry(row.try_get("release_id")?).or_default().downloads = row.try_get("n")?;
        }
        Ok(out)
    }
}
