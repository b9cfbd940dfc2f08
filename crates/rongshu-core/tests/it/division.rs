//! GB/T 2260 divisions: lookups, history, successors and Chengdu's townships.

use rongshu_core::division::{
    self, DivisionCode, DivisionError, DivisionLevel, TownshipCode, chengdu_counties, townships_of,
};

#[test]
fn current_code_looks_up() {
    let code = DivisionCode::parse("510104").unwrap();
    let d = code.division();
    assert_eq!(d.name(), "锦江区");
    assert_eq!(d.province(), "四川省");
    assert_eq!(d.city(), Some("成都市"));
    assert_eq!(d.valid_from(), Some(1990));
    assert!(d.is_current());
    assert_eq!(d.level(), DivisionLevel::County);
    assert!(d.existed_in(2000));
    assert!(!d.existed_in(1985));
}

#[test]
fn never_existing_code_is_refused() {
    assert_eq!(
        DivisionCode::parse("519999").unwrap_err().to_string(),
        "division code 519999 never existed"
    );
    assert!(matches!(
        DivisionCode::parse("51010"),
        Err(DivisionError::BadLength { found: 5, .. })
    ));
}

#[test]
fn chengdu_successors() {
    for (old, new) in [
        ("510122", "510116"),
        ("510124", "510117"),
        ("510132", "510118"),
        ("510127", "510181"),
        ("510123", "510115"),
        ("510125", "510114"),
        ("512081", "510185"),
    ] {
        let d = DivisionCode::parse(old).unwrap().division();
        assert!(!d.is_current(), "{old}");
        assert_eq!(d.successor().map(|s| s.as_str()), Some(new), "{old}");
    }
}

#[test]
fn renamed_code_keeps_its_number() {
    let d = DivisionCode::parse("130502").unwrap().division();
    assert!(d.is_current());
    assert_eq!(d.name_in(2000), "桥东区");
    assert_eq!(d.name_in(2021), "襄都区");
    assert_eq!(d.name(), "襄都区");
}

#[test]
fn chengdu_has_20_current_counties() {
    let counties = chengdu_counties();
    assert_eq!(counties.len(), 20);
    assert_eq!(counties[0].as_str(), "510104");
    assert!(counties.iter().any(|c| c.as_str() == "510185"));
    assert!(counties.iter().all(|c| c.division().is_current()));
}

#[test]
fn townships_of_a_county() {
    let jinjiang = DivisionCode::parse("510104").unwrap();
    let towns = townships_of(jinjiang);
    assert_eq!(towns.len(), 11);
    assert!(towns.iter().any(|t| t.name() == "春熙路街道"));
    let t = TownshipCode::parse("510104022").unwrap();
    assert_eq!(t.township().name(), "春熙路街道");
    assert_eq!(t.township().county(), Some(jinjiang));
    assert!(TownshipCode::parse("510104022000").is_ok());
    assert!(TownshipCode::parse("510104999").is_err());
    let total: usize = chengdu_counties()
        .iter()
        .map(|c| townships_of(*c).len())
        .sum();
    assert_eq!(total, 261);
}

#[test]
fn every_retired_county_heir_is_current() {
    let retired: Vec<_> = division::all()
        .filter(|d| !d.is_current() && d.level() == DivisionLevel::County)
        .collect();
    assert!(!retired.is_empty());
    for d in retired {
        if let Some(heir) = d.successor() {
            assert!(heir.division().is_current(), "{}", d.code_str());
        }
    }
}

#[test]
fn serde_uses_the_code_text() {
    let code = DivisionCode::parse("510104").unwrap();
    assert_eq!(serde_json::to_string(&code).unwrap(), "\"510104\"");
    let back: DivisionCode = serde_json::from_str("\"510104\"").unwrap();
    assert_eq!(back, code);
    assert!(serde_json::from_str::<DivisionCode>("\"519999\"").is_err());
}
