//! Chengdu's county-level divisions and townships, the codes they carried in earlier
//! years (an ID number keeps the code of the year it was issued), and the division codes
//! of the rest of Sichuan and China for people born elsewhere.

use rongshu_core::division::{CHENGDU_TOWNSHIPS_CSV, COUNTIES_2023_CSV, COUNTY_HISTORY_CSV};

use crate::SynthError;
use crate::dice::{Dice, Weighted};

/// One of Chengdu's 20 county-level divisions as of today.
pub(crate) struct County {
    pub code: &'static str,
    pub name: &'static str,
    /// Resident population in the 2020 census, in units of 1,000.
    pub population_k: u64,
    /// The codes this area was registered under, oldest first, with the first year each
    /// was issued on new ID numbers.
    pub lineage: &'static [(&'static str, i32)],
}

/// The 20 divisions with their 2020 census populations and code histories (GB/T 2260).
pub(crate) const COUNTIES: [County; 20] = [
    county("510104", "锦江区", 903, &[("510102", 0), ("510104", 1990)]),
    county("510105", "青羊区", 955, &[("510103", 0), ("510105", 1990)]),
    county("510106", "金牛区", 1269, &[("510111", 0), ("510106", 1990)]),
    county("510107", "武侯区", 1206, &[("510103", 0), ("510107", 1990)]),
    county("510108", "成华区", 1381, &[("510102", 0), ("510108", 1990)]),
    county("510112", "龙泉驿区", 1346, &[("510112", 0)]),
    county("510113", "青白江区", 490, &[("510113", 0)]),
    county("510114", "新都区", 1559, &[("510125", 0), ("510114", 2001)]),
    county("510115", "温江区", 968, &[("510123", 0), ("510115", 2002)]),
    county("510116", "双流区", 1466, &[("510122", 0), ("510116", 2015)]),
    county("510117", "郫都区", 1391, &[("510124", 0), ("510117", 2016)]),
    county("510118", "新津区", 363, &[("510132", 0), ("510118", 2020)]),
    county("510121", "金堂县", 800, &[("510121", 0)]),
    county("510129", "大邑县", 516, &[("510129", 0)]),
    county("510131", "蒲江县", 256, &[("510131", 0)]),
    county(
        "510181",
        "都江堰市",
        710,
        &[("510127", 0), ("510181", 1989)],
    ),
    county("510182", "彭州市", 780, &[("510126", 0), ("510182", 1993)]),
    county("510183", "邛崃市", 603, &[("510130", 0), ("510183", 1994)]),
    county("510184", "崇州市", 736, &[("510128", 0), ("510184", 1994)]),
    county(
        "510185",
        "简阳市",
        1118,
        &[
            ("511027", 0),
            ("511082", 1994),
            ("512081", 2000),
            ("510185", 2016),
        ],
    ),
];

const fn county(
    code: &'static str,
    name: &'static str,
    population_k: u64,
    lineage: &'static [(&'static str, i32)],
) -> County {
    County {
        code,
        name,
        population_k,
        lineage,
    }
}

impl County {
    /// The code an ID number issued in `year` by this area's police carries.
    pub(crate) fn code_in(&self, year: i32) -> &'static str {
        self.lineage
            .iter()
            .rev()
            .find(|(_, from)| *from <= year)
            .or(self.lineage.first())
            .map_or(self.code, |(code, _)| code)
    }
}

/// A township (乡镇/街道) with its 9-digit statistical code.
pub(crate) struct Township {
    pub code: String,
    pub name: String,
}

/// The division tables the generator draws from, parsed once per run.
pub(crate) struct Divisions {
    pub townships: Vec<Vec<Township>>,
    county_weights: Weighted,
    /// Stable division codes (valid since 1985 and still in force) elsewhere in Sichuan.
    pub sichuan_elsewhere: Vec<String>,
    /// Stable division codes in the other provinces.
    pub china_elsewhere: Vec<String>,
}

impl Divisions {
    pub(crate) fn load() -> Result<Self, SynthError> {
        let mut townships: Vec<Vec<Township>> = COUNTIES.iter().map(|_| Vec::new()).collect();
        let mut reader = csv::Reader::from_reader(CHENGDU_TOWNSHIPS_CSV.as_bytes());
        for row in reader.records() {
            let row = row.map_err(|e| SynthError::ReferenceData(e.to_string()))?;
            let (code, name, county_code) = (&row[0], &row[1], &row[2]);
            if let Some(i) = COUNTIES.iter().position(|c| c.code == county_code) {
                townships[i].push(Township {
                    code: code.to_string(),
                    name: name.to_string(),
                });
            }
        }
        if let Some(i) = townships.iter().position(Vec::is_empty) {
            return Err(SynthError::ReferenceData(format!(
                "no townships for county {}",
                COUNTIES[i].code
            )));
        }

        let stable = stable_codes()?;
        let mut sichuan_elsewhere = Vec::new();
        let mut china_elsewhere = Vec::new();
        let mut reader = csv::Reader::from_reader(COUNTIES_2023_CSV.as_bytes());
        for row in reader.records() {
            let row = row.map_err(|e| SynthError::ReferenceData(e.to_string()))?;
            let code = &row[0];
            if !stable.contains(code) || code.starts_with("5101") {
                continue;
            }
            if code.starts_with("51") {
                sichuan_elsewhere.push(code.to_string());
            } else {
                china_elsewhere.push(code.to_string());
            }
        }
        if sichuan_elsewhere.is_empty() || china_elsewhere.is_empty() {
            return Err(SynthError::ReferenceData(
                "no stable division codes outside Chengdu".into(),
            ));
        }
        Ok(Self {
            townships,
            county_weights: Weighted::new(COUNTIES.iter().map(|c| c.population_k)),
            sichuan_elsewhere,
            china_elsewhere,
        })
    }

    /// A county index drawn by population.
    pub(crate) fn draw_county(&self, dice: &mut Dice) -> usize {
        self.county_weights.draw(dice)
    }

    /// A township index within county `county`.
    pub(crate) fn draw_township(&self, county: usize, dice: &mut Dice) -> usize {
        dice.index(self.townships.get(county).map_or(0, Vec::len))
    }

    pub(crate) fn township(&self, county: usize, township: usize) -> Option<&Township> {
        self.townships.get(county)?.get(township)
    }
}

/// Codes valid from 1985 or earlier and never retired: safe for any issue year.
fn stable_codes() -> Result<std::collections::HashSet<String>, SynthError> {
    let mut out = std::collections::HashSet::new();
    let mut reader = csv::Reader::from_reader(COUNTY_HISTORY_CSV.as_bytes());
    for row in reader.records() {
        let row = row.map_err(|e| SynthError::ReferenceData(e.to_string()))?;
        let from_ok = row[3].is_empty() || row[3].parse::<i32>().is_ok_and(|y| y <= 1985);
        if from_ok && row[4].is_empty() {
            out.insert(row[0].to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code in a lineage is in the history table, valid in the years we use it.
    #[test]
    fn lineages_match_history_table() {
        let mut history: Vec<(String, Option<i32>, Option<i32>)> = Vec::new();
        let mut reader = csv::Reader::from_reader(COUNTY_HISTORY_CSV.as_bytes());
        for row in reader.records().flatten() {
            history.push((row[0].to_string(), row[3].parse().ok(), row[4].parse().ok()));
        }
        for county in &COUNTIES {
            for (code, from) in county.lineage {
                let rows: Vec<_> = history.iter().filter(|h| h.0 == *code).collect();
                assert!(!rows.is_empty(), "{code} missing from history");
                let year = (*from).max(1985);
                assert!(
                    rows.iter().any(|h| h.2.is_none_or(|to| to >= year)),
                    "{code} retired before {year}"
                );
            }
            assert_eq!(county.code_in(2024), county.code);
        }
        assert_eq!(COUNTIES[9].code_in(2010), "510122");
    }

    #[test]
    fn loads_all_townships() {
        let d = Divisions::load().expect("tables parse");
        assert_eq!(d.townships.iter().map(Vec::len).sum::<usize>(), 261);
        assert!(d.sichuan_elsewhere.len() > 50);
    }
}
