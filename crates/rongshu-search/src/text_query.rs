//! Turns the user's words and the facet filters into an index query.
//!
//! User text is never handed to a query parser: it is cut into plain words, so quotes,
//! colons, brackets and operators are just separators and no input can make the query fail.

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery,
};
use tantivy::schema::IndexRecordOption;

use crate::Facet;
use crate::analysis::{WordTokenizer, query_grams, token_texts};
use crate::schema::Fields;
use crate::synonyms::synonyms_of;

/// Characters of the query that are looked at; a search box needs no more, and it bounds
/// the work one request can ask for.
const MAX_QUERY_CHARS: usize = 64;
/// Whitespace-separated chunks that are looked at.
const MAX_CHUNKS: usize = 8;
/// Latin words at least this long also match at edit distance 1.
const FUZZY_MIN_CHARS: usize = 4;
/// Weight of the substring-like character gram match against whole-word matches.
const GRAMS_BOOST: f32 = 0.3;
/// Weight of a synonym's match against the word the user typed.
const SYNONYM_BOOST: f32 = 0.7;
/// Weight of a fuzzy (one typo) Latin match.
const FUZZY_BOOST: f32 = 0.5;

/// The query for `q` and `filters`, and whether it has text to score.
pub(crate) fn build(
    fields: &Fields,
    q: Option<&str>,
    filters: &[(Facet, String)],
) -> (Box<dyn Query>, bool) {
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let builder = TextQueryBuilder { fields };
    for chunk in chunks(q.unwrap_or_default()) {
        if let Some(clause) = builder.chunk(&chunk) {
            must.push((Occur::Must, clause));
        }
    }
    let has_text = !must.is_empty();
    for facet in Facet::ALL {
        if let Some(clause) = filter_clause(fields, facet, filters) {
            must.push((Occur::Must, clause));
        }
    }
    if must.is_empty() {
        (Box::new(AllQuery), false)
    } else {
        (Box::new(BooleanQuery::new(must)), has_text)
    }
}

/// The user's text as plain chunks: anything that is not a letter or digit separates.
/// `*:*` and `*` thus leave nothing, which means "everything".
fn chunks(q: &str) -> Vec<String> {
    let cleaned: String = q
        .chars()
        .take(MAX_QUERY_CHARS)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut out: Vec<String> = Vec::new();
    for chunk in cleaned.split_whitespace() {
        if out.len() == MAX_CHUNKS {
            break;
        }
        if !out.iter().any(|c| c == chunk) {
            out.push(chunk.to_owned());
        }
    }
    out
}

/// The values given for one facet, as alternatives; scores nothing.
fn filter_clause(
    fields: &Fields,
    facet: Facet,
    filters: &[(Facet, String)],
) -> Option<Box<dyn Query>> {
    let field = fields.facet_field(facet)?;
    let alternatives: Vec<Box<dyn Query>> = filters
        .iter()
        .filter(|(f, _)| *f == facet)
        .map(|(_, value)| {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            )) as Box<dyn Query>
        })
        .collect();
    if alternatives.is_empty() {
        return None;
    }
    Some(Box::new(ConstScoreQuery::new(
        Box::new(BooleanQuery::union(alternatives)),
        0.0,
    )))
}

struct TextQueryBuilder<'a> {
    fields: &'a Fields,
}

impl TextQueryBuilder<'_> {
    /// A chunk that is itself in the synonym table is expanded as a whole; otherwise each
    /// of its words must match (with its own synonyms), or the chunk must occur as typed.
    fn chunk(&self, chunk: &str) -> Option<Box<dyn Query>> {
        if !synonyms_of(chunk).is_empty() {
            return self.with_synonyms(chunk);
        }
        let words = query_words(chunk);
        if words.len() <= 1 {
            return self.plain(chunk);
        }
        let per_word: Vec<Box<dyn Query>> = words
            .iter()
            .filter_map(|word| self.with_synonyms(word))
            .collect();
        let mut alternatives: Vec<Box<dyn Query>> = Vec::new();
        if !per_word.is_empty() {
            alternatives.push(Box::new(BooleanQuery::intersection(per_word)));
        }
        alternatives.extend(self.grams(chunk));
        union(alternatives)
    }

    /// `text` itself, or any of its synonyms at a lower weight.
    fn with_synonyms(&self, text: &str) -> Option<Box<dyn Query>> {
        let mut alternatives: Vec<Box<dyn Query>> = Vec::new();
        alternatives.extend(self.plain(text));
        for synonym in synonyms_of(text) {
            if let Some(query) = self.plain(synonym) {
                alternatives.push(Box::new(BoostQuery::new(query, SYNONYM_BOOST)));
            }
        }
        union(alternatives)
    }

    /// `text` without synonyms: all its words in any searched field, or all its character grams.
    fn plain(&self, text: &str) -> Option<Box<dyn Query>> {
        let words: Vec<Box<dyn Query>> = query_words(text)
            .iter()
            .filter_map(|word| self.word(word))
            .collect();
        let mut alternatives: Vec<Box<dyn Query>> = Vec::new();
        if !words.is_empty() {
            alternatives.push(Box::new(BooleanQuery::intersection(words)));
        }
        alternatives.extend(self.grams(text));
        union(alternatives)
    }

    /// One word in any of the segmented fields, weighted by field; a long Latin word also
    /// with one typo.
    fn word(&self, word: &str) -> Option<Box<dyn Query>> {
        let mut alternatives: Vec<Box<dyn Query>> = self
            .fields
            .words
            .iter()
            .map(|weighted| {
                let term = TermQuery::new(
                    Term::from_field_text(weighted.field, word),
                    IndexRecordOption::WithFreqs,
                );
                Box::new(BoostQuery::new(Box::new(term), weighted.boost)) as Box<dyn Query>
            })
            .collect();
        if word.is_ascii() && word.chars().count() >= FUZZY_MIN_CHARS {
            let fuzzy =
                FuzzyTermQuery::new(Term::from_field_text(self.fields.grams, word), 1, true);
            alternatives.push(Box::new(BoostQuery::new(Box::new(fuzzy), FUZZY_BOOST)));
        }
        union(alternatives)
    }

    /// All the character grams of `text` somewhere in the resource: about what a substring
    /// search finds, whatever the segmentation made of either side.
    fn grams(&self, text: &str) -> Option<Box<dyn Query>> {
        let grams: Vec<Box<dyn Query>> = query_grams(text)
            .iter()
            .map(|gram| {
                Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.grams, gram),
                    IndexRecordOption::WithFreqs,
                )) as Box<dyn Query>
            })
            .collect();
        let query: Box<dyn Query> = match grams.len() {
            0 => return None,
            1 => grams.into_iter().next()?,
            _ => Box::new(BooleanQuery::intersection(grams)),
        };
        Some(Box::new(BoostQuery::new(query, GRAMS_BOOST)))
    }
}

/// The words jieba makes of a query (plain cut: one reading of the text, no overlaps).
fn query_words(text: &str) -> Vec<String> {
    token_texts(&mut WordTokenizer::new(false), text)
}

fn union(mut alternatives: Vec<Box<dyn Query>>) -> Option<Box<dyn Query>> {
    match alternatives.len() {
        0 => None,
        1 => alternatives.pop(),
        _ => Some(Box::new(BooleanQuery::union(alternatives))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_ignore_syntax_and_limit_work() {
        assert!(chunks("*:*").is_empty());
        assert!(chunks("  * ").is_empty());
        assert_eq!(chunks("name:\"人口\" (社保)"), vec!["name", "人口", "社保"]);
        assert_eq!(
            chunks(&"人".repeat(10_000)),
            vec!["人".repeat(MAX_QUERY_CHARS)]
        );
        assert_eq!(chunks("a b a c d e f g h i j").len(), MAX_CHUNKS);
    }
}
