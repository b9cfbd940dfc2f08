//! Behaviour of the index beyond single queries: facets, paging, sorting, updates,
//! persistence, malformed input, typo tolerance.

use std::collections::BTreeSet;

use rongshu_search::{CatalogDoc, Facet, SearchError, SearchIndex, SearchQuery, SortOrder};

use crate::catalog;

fn codes(index: &SearchIndex, query: &SearchQuery) -> Vec<String> {
    index
        .search(query)
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.code)
        .collect()
}

fn count(results: &rongshu_search::SearchResults, facet: &str, value: &str) -> u64 {
    results.facets[facet]
        .iter()
        .find(|f| f.value == value)
        .map_or(0, |f| f.count)
}

#[test]
fn empty_query_matches_all_newest_first() {
    let index = catalog::index();
    let docs = catalog::docs();
    let results = index
        .search(&SearchQuery {
            limit: 100,
            ..SearchQuery::default()
        })
        .expect("search");
    assert_eq!(results.total, docs.len());
    let mut newest_first = docs.clone();
    newest_first.sort_by_key(|d| std::cmp::Reverse(d.updated_at));
    let got: Vec<&str> = results.hits.iter().map(|h| h.code.as_str()).collect();
    let want: Vec<&str> = newest_first.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(got, want);
}

#[test]
fn facet_counts_match_a_direct_count() {
    let index = catalog::index();
    let docs = catalog::docs();
    let all = index.search(&SearchQuery::default()).expect("search");
    for facet in Facet::ALL {
        let listed: u64 = all.facets[facet.as_str()].iter().map(|f| f.count).sum();
        let expected: usize = docs
            .iter()
            .map(|d| match facet {
                Facet::Topic => d.topics.len(),
                Facet::Keyword => d.keywords.len(),
                _ => 1,
            })
            .sum();
        assert_eq!(listed as usize, expected, "{facet}");
    }
    assert_eq!(count(&all, "provider", "11510100GA"), 4);
    assert_eq!(count(&all, "topic", "医疗卫生"), 4);
    assert_eq!(count(&all, "kind", "base"), 4);
    // Values are listed most frequent first.
    let kinds = &all.facets["kind"];
    assert!(kinds.windows(2).all(|w| w[0].count >= w[1].count));

    // Counts follow the text and the filters.
    let filtered = index
        .search(&SearchQuery {
            filters: vec![(Facet::Topic, "社会保障".into())],
            ..SearchQuery::text("参保")
        })
        .expect("search");
    let expected: BTreeSet<&str> = ["RS-001", "YB-001"].into();
    let got: BTreeSet<&str> = filtered.hits.iter().map(|h| h.code.as_str()).collect();
    assert_eq!(got, expected);
    assert_eq!(filtered.total, 2);
    assert_eq!(count(&filtered, "provider", "11510100RS"), 1);
    assert_eq!(count(&filtered, "provider", "11510100YB"), 1);
    assert_eq!(count(&filtered, "topic", "社会保障"), 2);
    assert_eq!(count(&filtered, "topic", "医疗卫生"), 1);
    assert_eq!(count(&filtered, "provider", "11510100GA"), 0);
}

#[test]
fn filters_and_within_facet_or_across() {
    let index = catalog::index();
    let docs = catalog::docs();
    let query = SearchQuery {
        filters: vec![
            (Facet::OpenType, "open".into()),
            (Facet::Format, "api".into()),
            (Facet::Format, "file".into()),
        ],
        limit: 100,
        ..SearchQuery::default()
    };
    let got: BTreeSet<String> = codes(&index, &query).into_iter().collect();
    let want: BTreeSet<String> = docs
        .iter()
        .filter(|d| d.open_type == "open" && (d.format == "api" || d.format == "file"))
        .map(|d| d.code.clone())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);

    let none = index
        .search(&SearchQuery {
            filters: vec![(Facet::Status, "retired".into())],
            ..SearchQuery::default()
        })
        .expect("search");
    assert_eq!(none.total, 0);
    assert!(none.hits.is_empty());
}

#[test]
fn paging_is_stable_in_every_order() {
    let index = catalog::index();
    // Many equal scores and equal times, so only the code tie-break keeps pages apart.
    let same_time: Vec<CatalogDoc> = (0..25)
        .map(|i| CatalogDoc {
            code: format!("X-{:03}", (i * 7) % 25),
            name: "同名数据资源".into(),
            keywords: vec!["信息".into()],
            updated_at: 1_600_000_000,
            status: "published".into(),
            ..CatalogDoc::default()
        })
        .collect();
    index.upsert(&same_time).expect("upsert");
    index.commit(2).expect("commit");
    for sort in [SortOrder::Relevance, SortOrder::Name, SortOrder::Updated] {
        for q in [None, Some("信息")] {
            let base = SearchQuery {
                q: q.map(str::to_owned),
                sort,
                ..SearchQuery::default()
            };
            let full = codes(
                &index,
                &SearchQuery {
                    limit: 1000,
                    ..base.clone()
                },
            );
            assert!(full.len() > 30, "{sort:?} {q:?}");
            let mut paged = Vec::new();
            for page in 0.. {
                let got = codes(
                    &index,
                    &SearchQuery {
                        offset: page * 7,
                        limit: 7,
                        ..base.clone()
                    },
                );
                if got.is_empty() {
                    break;
                }
                paged.extend(got);
            }
            assert_eq!(paged, full, "{sort:?} {q:?}");
            let unique: BTreeSet<&String> = paged.iter().collect();
            assert_eq!(unique.len(), paged.len());
        }
    }
    let twins = codes(
        &index,
        &SearchQuery {
            sort: SortOrder::Name,
            limit: 1000,
            ..SearchQuery::text("同名数据资源")
        },
    );
    let mut sorted = twins.clone();
    sorted.sort();
    assert_eq!(twins, sorted, "equal names are ordered by code");
}

#[test]
fn sort_by_name_and_by_updated() {
    let index = catalog::index();
    let docs = catalog::docs();
    let by_name = codes(
        &index,
        &SearchQuery {
            sort: SortOrder::Name,
            limit: 100,
            ..SearchQuery::default()
        },
    );
    let mut want = docs.clone();
    want.sort_by(|a, b| (&a.name, &a.code).cmp(&(&b.name, &b.code)));
    assert_eq!(
        by_name,
        want.iter().map(|d| d.code.clone()).collect::<Vec<_>>()
    );

    let updated = index
        .search(&SearchQuery {
            sort: SortOrder::Updated,
            limit: 3,
            ..SearchQuery::text("信息")
        })
        .expect("search");
    let times: Vec<i64> = updated
        .hits
        .iter()
        .map(|h| {
            docs.iter()
                .find(|d| d.code == h.code)
                .expect("known")
                .updated_at
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

#[test]
fn upsert_replaces_and_delete_removes() {
    let index = catalog::index();
    let mut doc = catalog::docs()
        .into_iter()
        .find(|d| d.code == "HB-002")
        .expect("HB-002");
    doc.name = "饮用水源地水质监测数据".into();
    index.upsert(std::slice::from_ref(&doc)).expect("upsert");
    // Nothing changes for searchers before the commit.
    assert!(codes(&index, &SearchQuery::text("饮用水源")).is_empty());
    index.commit(5).expect("commit");
    assert_eq!(
        codes(&index, &SearchQuery::text("饮用水源")),
        vec!["HB-002"]
    );
    assert!(codes(&index, &SearchQuery::text("地表水")).is_empty());
    assert_eq!(index.num_docs() as usize, catalog::SPECS.len());
    assert_eq!(index.applied_seq(), 5);

    index.delete("HB-002").expect("delete");
    index.commit(6).expect("commit");
    assert!(codes(&index, &SearchQuery::text("水质")).is_empty());
    assert_eq!(index.num_docs() as usize, catalog::SPECS.len() - 1);
}

#[test]
fn rebuild_replaces_everything() {
    let index = catalog::index();
    let only = catalog::docs()
        .into_iter()
        .filter(|d| d.code.starts_with("TJ"));
    assert_eq!(index.rebuild(only, 9).expect("rebuild"), 2);
    assert_eq!(index.num_docs(), 2);
    assert_eq!(index.applied_seq(), 9);
    assert!(codes(&index, &SearchQuery::text("人口基础信息")).is_empty());
}

#[test]
fn applied_seq_persists_across_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let index = SearchIndex::open_or_create(dir.path()).expect("create");
        assert_eq!(index.applied_seq(), 0);
        index
            .rebuild(catalog::docs().into_iter(), 41)
            .expect("rebuild");
        index.delete("GA-001").expect("delete");
        index.commit(42).expect("commit");
        // A second writer on the same directory is refused while the first lives.
        assert!(matches!(
            SearchIndex::open_or_create(dir.path()),
            Err(SearchError::Locked(_))
        ));
    }
    let index = SearchIndex::open_or_create(dir.path()).expect("reopen");
    assert_eq!(index.applied_seq(), 42);
    assert_eq!(index.num_docs() as usize, catalog::SPECS.len() - 1);
    assert_eq!(codes(&index, &SearchQuery::text("社保"))[0], "RS-001");
}

#[test]
fn unreadable_index_is_started_afresh() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = dir.path().join("v1");
    std::fs::create_dir_all(&layout).expect("mkdir");
    std::fs::write(layout.join("meta.json"), "{ not json").expect("write");
    let index = SearchIndex::open_or_create(dir.path()).expect("open");
    assert_eq!(index.applied_seq(), 0);
    assert_eq!(index.num_docs(), 0);
}

#[test]
fn malformed_queries_never_fail() {
    let index = catalog::index();
    let total = catalog::SPECS.len();
    let long = "人口".repeat(5000);
    let odd = [
        "*:*",
        "*",
        "\"",
        "\"人口",
        "name:人口",
        "(社保",
        "社保)",
        "[1 TO 2]",
        "a AND OR NOT",
        "+-&&||!(){}[]^\"~*?:\\/",
        "   ",
        "",
        "\u{0}\u{1}",
        "人口~2",
        "人口^10",
        long.as_str(),
        "ÿ€𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "SELECT * FROM catalog; --",
        "' OR 1=1",
    ];
    for q in odd {
        let results = index
            .search(&SearchQuery {
                limit: 1000,
                ..SearchQuery::text(q)
            })
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
        assert!(results.total <= total, "{q:?}");
    }
    for q in ["*:*", "*", "   ", ""] {
        let results = index.search(&SearchQuery::text(q)).expect("search");
        assert_eq!(results.total, total, "{q:?} matches all");
    }
    let colon = index
        .search(&SearchQuery::text("name:人口"))
        .expect("search");
    assert!(colon.hits.iter().any(|h| h.code == "GA-001"));
    let huge = index
        .search(&SearchQuery {
            offset: usize::MAX,
            limit: usize::MAX,
            ..SearchQuery::default()
        })
        .expect("search");
    assert!(huge.hits.is_empty());
    assert_eq!(huge.total, total);
}

#[test]
fn latin_words_tolerate_one_typo() {
    let index = catalog::index();
    for q in ["population", "populaton", "Populatoin", "POPULATION"] {
        let got = codes(&index, &SearchQuery::text(q));
        assert_eq!(got.first().map(String::as_str), Some("TJ-002"), "{q}");
    }
    assert!(
        codes(&index, &SearchQuery::text("popultn")).is_empty(),
        "two typos is too many"
    );
    assert_eq!(codes(&index, &SearchQuery::text("gdp"))[0], "TJ-001");
    assert!(codes(&index, &SearchQuery::text("taxpayer_id")).contains(&"SW-001".to_owned()));
    // Short Latin words must match exactly: "aqi" is not "api".
    assert_eq!(codes(&index, &SearchQuery::text("aqi")), vec!["HB-001"]);
}

#[test]
fn relevance_puts_name_matches_first() {
    let index = catalog::index();
    let got = codes(&index, &SearchQuery::text("人口"));
    assert!(
        ["GA-001", "GA-004", "TJ-002"].contains(&got[0].as_str()),
        "{got:?}"
    );
    let scores = index.search(&SearchQuery::text("人口")).expect("search");
    assert!(scores.hits.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn index_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SearchIndex>();
}

#[test]
fn facet_and_sort_names_round_trip() {
    for facet in Facet::ALL {
        assert_eq!(facet.as_str().parse::<Facet>().expect("parse"), facet);
    }
    assert!("color".parse::<Facet>().is_err());
    assert_eq!(
        "updated".parse::<SortOrder>().expect("parse"),
        SortOrder::Updated
    );
    let json = serde_json::to_string(&Facet::ShareType).expect("json");
    assert_eq!(json, "\"share_type\"");
}

#[test]
fn searches_run_while_the_index_is_written() {
    let index = catalog::index();
    let docs = catalog::docs();
    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..50 {
                        let results = index.search(&SearchQuery::text("人口")).expect("search");
                        // Either before or after a commit: the catalog's three, never a torn state.
                        assert_eq!(results.total, 3);
                    }
                })
            })
            .collect();
        for seq in 10..20 {
            index.upsert(&docs[..5]).expect("upsert");
            index.commit(seq).expect("commit");
        }
        for reader in readers {
            reader.join().expect("reader thread");
        }
    });
    assert_eq!(index.applied_seq(), 19);
    assert_eq!(index.num_docs() as usize, docs.len());
}
