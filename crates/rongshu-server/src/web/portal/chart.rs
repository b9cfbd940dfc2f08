//! A chart of a dataset, drawn here as SVG (no script): a numeric item
//! summed by district (for the latest period, when there is one) or over
//! time, when the released items have such a shape. Pure: rows in, SVG out.

use std::collections::BTreeMap;
use std::fmt::Write;

use rongshu_core::catalog::{Item, ItemType};
use serde_json::Value;

/// A drawn chart and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// What is plotted, in the page's words.
    pub title: String,
    /// The period the bars are for, when the rows have several.
    pub period: Option<String>,
    pub svg: String,
}

/// How a chart is labelled: `{value}` is the plotted item's name.
pub struct ChartWords<'a> {
    pub by_district: &'a str,
    pub over_time: &'a str,
}

const MAX_BARS: usize = 40;

fn plain(items: &[(Item, bool)]) -> impl Iterator<Item = &Item> {
    items.iter().filter(|(_, masked)| !masked).map(|(i, _)| i)
}

fn is_district(item: &Item) -> bool {
    let key = item.key.as_str();
    item.item_type == ItemType::String
        && (key.contains("district")
            || key.contains("county")
            || ["区县", "行政区", "区域", "所在区"]
                .iter()
                .any(|w| item.name.contains(w)))
}

fn is_code(item: &Item) -> bool {
    item.key.as_str().contains("code") || item.name.contains("代码") || item.name.contains("编码")
}

fn is_period(item: &Item) -> bool {
    let key = item.key.as_str();
    let by_key = ["period", "year", "month", "quarter", "date"]
        .iter()
        .any(|w| key == *w || key.ends_with(&format!("_{w}")) || key.starts_with(&format!("{w}_")));
    let by_name = ["期间", "统计期", "年份", "年度", "季度", "月份", "日期"]
        .iter()
        .any(|w| item.name.contains(w));
    (by_key || by_name)
        && matches!(
            item.item_type,
            ItemType::String | ItemType::Date | ItemType::Integer
        )
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn figure(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_owned() }
}

/// The chart these rows fit, if any.
pub fn chart(items: &[(Item, bool)], records: &[Value], words: &ChartWords<'_>) -> Option<Chart> {
    let value = plain(items)
        .find(|i| matches!(i.item_type, ItemType::Integer | ItemType::Decimal) && !is_period(i))?;
    let district = plain(items)
        .filter(|i| is_district(i))
        .min_by_key(|i| is_code(i));
    let period = plain(items)
        .find(|i| is_period(i) && Some(i.key.as_str()) != district.map(|d| d.key.as_str()));
    let key = |i: &Item| i.key.as_str().to_owned();
    let rows: Vec<&serde_json::Map<String, Value>> =
        records.iter().filter_map(Value::as_object).collect();
    if let Some(district) = district {
        let latest = period.and_then(|p| rows.iter().filter_map(|r| text(r.get(&key(p)))).max());
        let mut sums: Vec<(String, f64)> = Vec::new();
        for r in &rows {
            if let (Some(p), Some(latest)) = (period, &latest)
                && text(r.get(&key(p))).as_ref() != Some(latest)
            {
                continue;
            }
            let (Some(label), Some(v)) = (text(r.get(&key(district))), number(r.get(&key(value))))
            else {
                continue;
            };
            match sums.iter_mut().find(|(l, _)| *l == label) {
                Some((_, s)) => *s += v,
                None => sums.push((label, v)),
            }
        }
        if sums.len() < 2 {
            return None;
        }
        sums.sort_by(|a, b| b.1.total_cmp(&a.1));
        sums.truncate(MAX_BARS);
        let title = words.by_district.replace("{value}", &value.name);
        return Some(Chart {
            svg: horizontal_bars(&title, &sums),
            title,
            period: latest,
        });
    }
    let period = period?;
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for r in &rows {
        if let (Some(p), Some(v)) = (text(r.get(&key(period))), number(r.get(&key(value)))) {
            *sums.entry(p).or_default() += v;
        }
    }
    if sums.len() < 2 {
        return None;
    }
    let points: Vec<(String, f64)> = sums
        .into_iter()
        .rev()
        .take(MAX_BARS)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let title = words.over_time.replace("{value}", &value.name);
    Some(Chart {
        svg: columns(&title, &points),
        title,
        period: None,
    })
}

/// Bars across, one per category, largest first, each with its figure.
fn horizontal_bars(title: &str, bars: &[(String, f64)]) -> String {
    const WIDTH: f64 = 720.0;
    const LABEL: f64 = 120.0;
    const ROW: f64 = 26.0;
    let max = bars
        .iter()
        .map(|b| b.1)
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let plot = WIDTH - LABEL - 90.0;
    let height = ROW * bars.len() as f64 + 10.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="chart-title"><title id="chart-title">{}</title>"#,
        escape(title)
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = 5.0 + ROW * i as f64;
        let w = (v.max(0.0) / max * plot).max(1.0);
        let _ = write!(
            svg,
            r##"<g><text x="{}" y="{}" text-anchor="end" font-size="13" fill="#1d2733">{}</text><rect x="{LABEL}" y="{}" width="{w:.1}" height="{}" fill="#0b5b8c" rx="2"><title>{}: {}</title></rect><text x="{}" y="{}" font-size="12" fill="#3c4a57">{}</text></g>"##,
            LABEL - 8.0,
            y + 17.0,
            escape(label),
            y + 3.0,
            ROW - 8.0,
            escape(label),
            figure(*v),
            LABEL + w + 6.0,
            y + 17.0,
            figure(*v),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Columns in time order, each labelled below with its period.
fn columns(title: &str, points: &[(String, f64)]) -> String {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 260.0;
    const BOTTOM: f64 = 40.0;
    const TOP: f64 = 20.0;
    let max = points
        .iter()
        .map(|b| b.1)
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let step = (WIDTH - 20.0) / points.len() as f64;
    let plot = HEIGHT - BOTTOM - TOP;
    // Label every column when they fit, else every few.
    let every = (points.len() / 12).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-labelledby="chart-title"><title id="chart-title">{}</title><line x1="10" y1="{}" x2="{}" y2="{}" stroke="#8a99a8"/>"##,
        escape(title),
        HEIGHT - BOTTOM,
        WIDTH - 10.0,
        HEIGHT - BOTTOM,
    );
    for (i, (label, v)) in points.iter().enumerate() {
        let h = (v.max(0.0) / max * plot).max(1.0);
        let x = 10.0 + step * i as f64 + step * 0.15;
        let w = step * 0.7;
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{h:.1}" fill="#0b5b8c" rx="2"><title>{}: {}</title></rect>"##,
            HEIGHT - BOTTOM - h,
            escape(label),
            figure(*v),
        );
        if i % every == 0 {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{}" text-anchor="middle" font-size="12" fill="#1d2733">{}</text>"##,
                x + w / 2.0,
                HEIGHT - BOTTOM + 18.0,
                escape(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use rongshu_core::catalog::{NewResourceRequest, ResourceSpec};
    use serde_json::json;

    fn items(spec: Value) -> Vec<(Item, bool)> {
        let req: NewResourceRequest = serde_json::from_value(spec).unwrap();
        ResourceSpec::parse(req)
            .unwrap()
            .items
            .into_iter()
            .map(|i| (i, false))
            .collect()
    }

    const WORDS: ChartWords<'static> = ChartWords {
        by_district: "{value}（按区县）",
        over_time: "{value}（按时间）",
    };

    #[test]
    fn gdp_by_district_is_drawn_for_the_latest_quarter() {
        let items = items(
            json!({"name": "GDP", "key_items": ["district_code", "period"], "items": [
            {"key": "district_code", "name": "区县代码", "type": "string", "grade": 1},
            {"key": "district_name", "name": "区县名称", "type": "string", "grade": 1},
            {"key": "period", "name": "统计期", "type": "string", "grade": 1},
            {"key": "gdp", "name": "地区生产总值", "type": "decimal", "grade": 1}]}),
        );
        let rows = vec![
            json!({"district_code": "510104", "district_name": "锦江区", "period": "2024Q1", "gdp": "300.5"}),
            json!({"district_code": "510104", "district_name": "锦江区", "period": "2024Q2", "gdp": "400"}),
            json!({"district_code": "510107", "district_name": "武侯区", "period": "2024Q2", "gdp": 500}),
        ];
        let c = chart(&items, &rows, &WORDS).unwrap();
        assert_eq!(c.title, "地区生产总值（按区县）");
        assert_eq!(c.period.as_deref(), Some("2024Q2"));
        assert!(c.svg.contains("武侯区: 500") && c.svg.contains("锦江区: 400"));
        assert!(!c.svg.contains("300.5"), "an earlier quarter is not drawn");
        assert!(
            c.svg.find("武侯区").unwrap() < c.svg.find("锦江区").unwrap(),
            "largest first"
        );
    }

    #[test]
    fn a_series_without_districts_is_drawn_over_time_and_text_is_escaped() {
        let items = items(json!({"name": "x", "key_items": ["month"], "items": [
            {"key": "month", "name": "月份", "type": "string", "grade": 1},
            {"key": "trips", "name": "客运量<人次>", "type": "integer", "grade": 1}]}));
        let rows = vec![
            json!({"month": "2024-02", "trips": 5}),
            json!({"month": "2024-01", "trips": 7}),
        ];
        let c = chart(&items, &rows, &WORDS).unwrap();
        assert!(c.title.contains("客运量<人次>"));
        assert!(c.svg.contains("客运量&lt;人次&gt;") && !c.svg.contains("<人次>"));
        assert!(c.svg.find("2024-01").unwrap() < c.svg.find("2024-02").unwrap());
    }

    #[test]
    fn no_chart_without_a_plain_number_or_a_dimension() {
        let items = items(json!({"name": "x", "key_items": ["name"], "items": [
            {"key": "name", "name": "名称", "type": "string", "grade": 1},
            {"key": "capital", "name": "注册资本", "type": "decimal", "grade": 1}]}));
        assert!(chart(&items, &[json!({"name": "a", "capital": 1})], &WORDS).is_none());
    }
}
