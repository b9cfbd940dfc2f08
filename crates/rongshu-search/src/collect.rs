//! One pass over the matches that counts them, counts facet values and keeps the best
//! `offset + limit` hits in a total order that ends with the resource code.
//!
//! Within a segment, dictionary ordinals sort like the strings they stand for, so each
//! segment keeps its best hits by ordinal and only those are turned into strings; the
//! segments' bests are then merged by the strings themselves.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Cardinality, Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::schema::{CODE, NAME_SORT, UPDATED_AT};
use crate::{Facet, FacetCount, Hit};

/// The primary order of the hits (the code always breaks ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    ScoreDesc,
    UpdatedDesc,
    NameAsc,
}

pub(crate) struct PageCollector {
    pub order: Order,
    /// How many of the best hits to keep: offset + limit.
    pub keep: usize,
    /// Whether to count facet values (not when the caller already has the counts).
    pub count_facets: bool,
}

/// What the collector hands back: the best `keep` hits in order, and the counts.
pub(crate) struct Page {
    pub total: usize,
    pub best: Vec<Hit>,
    pub facets: BTreeMap<String, Vec<FacetCount>>,
}

/// A hit inside one segment; smaller sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    key: u64,
    code_ord: u64,
    doc: DocId,
    score_bits: u32,
}

/// A hit ready to be compared with other segments' hits.
struct Resolved {
    key: u64,
    name: String,
    code: String,
    score: Score,
}

pub(crate) struct SegmentFruit {
    total: u64,
    best: Vec<Resolved>,
    facets: Vec<Vec<(String, u64)>>,
}

pub(crate) struct SegmentPage {
    order: Order,
    keep: usize,
    heap: BinaryHeap<Candidate>,
    code: Option<StrColumn>,
    name: Option<StrColumn>,
    updated: Option<Column<i64>>,
    facet_columns: Vec<Option<StrColumn>>,
    counts: Vec<Vec<u64>>,
    /// Scratch space for a block of ordinals, kept to avoid an allocation per block.
    ords: Vec<Option<u64>>,
    total: u64,
}

impl Collector for PageCollector {
    type Fruit = Page;
    type Child = SegmentPage;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentPage> {
        let fast = segment.fast_fields();
        let facet_columns = if self.count_facets {
            Facet::ALL
                .into_iter()
                .map(|facet| fast.str(facet.as_str()))
                .collect::<tantivy::Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        let counts = facet_columns
            .iter()
            .map(|column| vec![0; column.as_ref().map_or(0, |c| c.num_terms())])
            .collect();
        Ok(SegmentPage {
            order: self.order,
            keep: self.keep,
            heap: BinaryHeap::new(),
            code: fast.str(CODE)?,
            name: match self.order {
                Order::NameAsc => fast.str(NAME_SORT)?,
                _ => None,
            },
            updated: match self.order {
                Order::UpdatedDesc => fast.column_opt::<i64>(UPDATED_AT)?,
                _ => None,
            },
            facet_columns,
            counts,
            ords: Vec::new(),
            total: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.order == Order::ScoreDesc
    }

    fn merge_fruits(&self, fruits: Vec<io::Result<SegmentFruit>>) -> tantivy::Result<Page> {
        let mut total = 0;
        let mut best = Vec::new();
        let mut counts: Vec<BTreeMap<String, u64>> = vec![BTreeMap::new(); Facet::ALL.len()];
        for fruit in fruits {
            let fruit = fruit?;
            total += fruit.total;
            best.extend(fruit.best);
            for (merged, segment) in counts.iter_mut().zip(fruit.facets) {
                for (value, count) in segment {
                    *merged.entry(value).or_default() += count;
                }
            }
        }
        best.sort_by(|a, b| (a.key, &a.name, &a.code).cmp(&(b.key, &b.name, &b.code)));
        best.truncate(self.keep);
        let facets = Facet::ALL
            .into_iter()
            .zip(counts)
            .map(|(facet, values)| {
                let mut values: Vec<FacetCount> = values
                    .into_iter()
                    .map(|(value, count)| FacetCount { value, count })
                    .collect();
                values.sort_by(|a, b| {
                    (Reverse(a.count), &a.value).cmp(&(Reverse(b.count), &b.value))
                });
                (facet.as_str().to_owned(), values)
            })
            .collect();
        Ok(Page {
            total: usize::try_from(total).unwrap_or(usize::MAX),
            best: best
                .into_iter()
                .map(|r| Hit {
                    code: r.code,
                    score: r.score,
                })
                .collect(),
            facets,
        })
    }
}

impl SegmentPage {
    /// Keeps the hit if it is among the best `keep` seen so far.
    fn offer(&mut self, doc: DocId, score: Score) {
        if self.keep == 0 {
            return;
        }
        let key = match self.order {
            Order::ScoreDesc => score_key(score),
            Order::UpdatedDesc => updated_key(self.updated.as_ref().and_then(|c| c.first(doc))),
            // Without a name the hit goes last.
            Order::NameAsc => first_ord(self.name.as_ref(), doc).unwrap_or(u64::MAX),
        };
        let full = self.heap.len() >= self.keep;
        // Most hits lose on the key alone; only a tie needs the code.
        if full && self.heap.peek().is_some_and(|worst| key > worst.key) {
            return;
        }
        let candidate = Candidate {
            key,
            code_ord: first_ord(self.code.as_ref(), doc).unwrap_or(u64::MAX),
            doc,
            score_bits: score.to_bits(),
        };
        if !full {
            self.heap.push(candidate);
        } else if self.heap.peek().is_some_and(|worst| candidate < *worst) {
            self.heap.pop();
            self.heap.push(candidate);
        }
    }
}

fn bump(counts: &mut [u64], ord: u64) {
    if let Some(count) = usize::try_from(ord).ok().and_then(|i| counts.get_mut(i)) {
        *count += 1;
    }
}

impl SegmentCollector for SegmentPage {
    type Fruit = io::Result<SegmentFruit>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.total += 1;
        for (column, counts) in self.facet_columns.iter().zip(self.counts.iter_mut()) {
            if let Some(column) = column {
                for ord in column.term_ords(doc) {
                    bump(counts, ord);
                }
            }
        }
        self.offer(doc, score);
    }

    /// Unscored matches come in blocks; single-valued columns are then read a block at a time.
    fn collect_block(&mut self, docs: &[DocId]) {
        self.total += docs.len() as u64;
        for (column, counts) in self.facet_columns.iter().zip(self.counts.iter_mut()) {
            let Some(column) = column else {
                continue;
            };
            if column.ords().get_cardinality() == Cardinality::Multivalued {
                for &doc in docs {
                    for ord in column.term_ords(doc) {
                        bump(counts, ord);
                    }
                }
            } else {
                self.ords.clear();
                self.ords.resize(docs.len(), None);
                column.ords().first_vals(docs, &mut self.ords);
                for &ord in self.ords.iter().flatten() {
                    bump(counts, ord);
                }
            }
        }
        for &doc in docs {
            self.offer(doc, 0.0);
        }
    }

    fn harvest(self) -> io::Result<SegmentFruit> {
        let mut candidates = self.heap.into_vec();
        candidates.sort_by_key(|c| c.code_ord);
        let codes = resolve(self.code.as_ref(), candidates.iter().map(|c| c.code_ord))?;
        // Name ordinals only compare within a segment; across segments the names do.
        let names = match (self.order, &self.name) {
            (Order::NameAsc, Some(column)) => {
                let mut ords: Vec<u64> = candidates
                    .iter()
                    .map(|c| c.key)
                    .filter(|&k| k != u64::MAX)
                    .collect();
                ords.sort_unstable();
                ords.dedup();
                let names = resolve(Some(column), ords.iter().copied())?;
                ords.into_iter().zip(names).collect()
            }
            _ => BTreeMap::new(),
        };
        let best = candidates
            .into_iter()
            .zip(codes)
            .map(|(candidate, code)| {
                let name = names.get(&candidate.key).cloned();
                Resolved {
                    // Named hits compare by name (key 0); unnamed ones stay last.
                    key: if name.is_some() { 0 } else { candidate.key },
                    name: name.unwrap_or_default(),
                    code,
                    score: if self.order == Order::ScoreDesc {
                        Score::from_bits(candidate.score_bits)
                    } else {
                        0.0
                    },
                }
            })
            .collect();
        let mut facets = Vec::with_capacity(self.counts.len());
        for (column, counts) in self.facet_columns.iter().zip(self.counts) {
            let present: Vec<(u64, u64)> = (0u64..)
                .zip(counts)
                .filter(|&(_, count)| count > 0)
                .collect();
            let values = resolve(column.as_ref(), present.iter().map(|&(ord, _)| ord))?;
            facets.push(
                values
                    .into_iter()
                    .zip(present.into_iter().map(|(_, c)| c))
                    .collect(),
            );
        }
        Ok(SegmentFruit {
            total: self.total,
            best,
            facets,
        })
    }
}

/// The strings of ascending ordinals, read in one pass over the column's dictionary
/// (looking each up alone would decode a dictionary block per ordinal).
fn resolve(column: Option<&StrColumn>, ords: impl Iterator<Item = u64>) -> io::Result<Vec<String>> {
    let ords: Vec<u64> = ords.collect();
    let Some(column) = column else {
        return Ok(vec![String::new(); ords.len()]);
    };
    let mut out = Vec::with_capacity(ords.len());
    column.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
        out.push(String::from_utf8_lossy(bytes).into_owned())
    })?;
    // A missing ordinal (not expected) leaves the rest aligned as empty strings.
    out.resize(ords.len(), String::new());
    Ok(out)
}

fn first_ord(column: Option<&StrColumn>, doc: DocId) -> Option<u64> {
    column.and_then(|c| c.term_ords(doc).next())
}

/// Higher scores first: a key that sorts ascending as the score descends.
fn score_key(score: Score) -> u64 {
    let bits = score.to_bits();
    let ascending = if score.is_sign_negative() {
        !bits
    } else {
        bits | 0x8000_0000
    };
    u64::from(u32::MAX - ascending)
}

/// Newer first; a resource without a time goes last.
fn updated_key(updated: Option<i64>) -> u64 {
    match updated {
        // Flipping the sign bit makes the two's-complement order unsigned; the complement
        // turns ascending into descending.
        Some(at) => !((at as u64) ^ (1 << 63)),
        None => u64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_as_intended() {
        assert!(score_key(3.0) < score_key(2.0));
        assert!(score_key(0.5) < score_key(0.0));
        assert!(updated_key(Some(200)) < updated_key(Some(100)));
        assert!(updated_key(Some(0)) < updated_key(Some(-5)));
        assert!(updated_key(Some(i64::MIN)) <= updated_key(None));
    }
}
