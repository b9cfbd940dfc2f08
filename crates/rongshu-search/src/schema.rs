//! The index layout: which field holds what, how it is analysed, and how a
//! [`CatalogDoc`] becomes an index document.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::TokenizerManager;
use tantivy::{Index, TantivyDocument};

use crate::analysis::{GRAMS, GramTokenizer, WORDS, WordTokenizer};
use crate::{CatalogDoc, Facet};

/// Bumped whenever the fields or their analysis change: an index with another version is
/// thrown away and rebuilt from the database.
pub(crate) const SCHEMA_VERSION: u32 = 2;

/// A searched text field and the weight its matches get.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Weighted {
    pub field: Field,
    pub boost: f32,
}

/// Handles to every field of the index.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    pub code: Field,
    pub name_sort: Field,
    pub updated_at: Field,
    /// Jieba-segmented fields, name weighted highest, then keywords and items.
    pub words: Vec<Weighted>,
    /// Every searched text as character unigrams and bigrams and Latin words.
    pub grams: Field,
    /// Facet fields, in [`Facet::ALL`] order.
    pub facets: Vec<(Facet, Field)>,
    name: Field,
    summary: Field,
    keywords: Field,
    items: Field,
    topics_text: Field,
    provider_text: Field,
}

/// Field names that also appear as fast-field (column) names.
pub(crate) const CODE: &str = "code";
pub(crate) const NAME_SORT: &str = "name_sort";
pub(crate) const UPDATED_AT: &str = "updated_at";

impl Fields {
    pub(crate) fn build() -> (Schema, Fields) {
        let mut builder = Schema::builder();
        // Nothing needs positions: substring-like matching is done with gram conjunctions.
        let words = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(WORDS)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let grams = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(GRAMS)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let exact = STRING | FAST;

        let code = builder.add_text_field(CODE, exact.clone());
        let name = builder.add_text_field("name", words.clone());
        let summary = builder.add_text_field("summary", words.clone());
        let keywords = builder.add_text_field("keywords", words.clone());
        let items = builder.add_text_field("items", words.clone());
        let topics_text = builder.add_text_field("topics_text", words.clone());
        let provider_text = builder.add_text_field("provider_text", words);
        let grams = builder.add_text_field("grams", grams);
        let name_sort = builder.add_text_field(NAME_SORT, TextOptions::default().set_fast("raw"));
        let updated_at = builder.add_i64_field(UPDATED_AT, FAST | INDEXED);
        let facets = Facet::ALL
            .into_iter()
            .map(|facet| (facet, builder.add_text_field(facet.as_str(), exact.clone())))
            .collect();

        let fields = Fields {
            code,
            name_sort,
            updated_at,
            words: vec![
                Weighted {
                    field: name,
                    boost: 4.0,
                },
                Weighted {
                    field: keywords,
                    boost: 2.5,
                },
                Weighted {
                    field: items,
                    boost: 2.0,
                },
                Weighted {
                    field: topics_text,
                    boost: 1.5,
                },
                Weighted {
                    field: provider_text,
                    boost: 1.2,
                },
                Weighted {
                    field: summary,
                    boost: 1.0,
                },
            ],
            grams,
            facets,
            name,
            summary,
            keywords,
            items,
            topics_text,
            provider_text,
        };
        (builder.build(), fields)
    }

    /// The index document for one resource.
    pub(crate) fn document(&self, doc: &CatalogDoc) -> TantivyDocument {
        let mut out = TantivyDocument::new();
        out.add_text(self.code, &doc.code);
        out.add_text(self.name, &doc.name);
        out.add_text(self.name_sort, &doc.name);
        out.add_text(self.summary, &doc.summary);
        for keyword in &doc.keywords {
            out.add_text(self.keywords, keyword);
        }
        for item in &doc.items {
            out.add_text(self.items, item);
        }
        for topic in &doc.topics {
            out.add_text(self.topics_text, topic);
        }
        out.add_text(self.provider_text, &doc.provider_name);
        let texts = [
            doc.name.as_str(),
            doc.summary.as_str(),
            doc.provider_name.as_str(),
        ];
        let lists = [&doc.keywords, &doc.items, &doc.topics];
        for text in texts
            .into_iter()
            .chain(lists.into_iter().flatten().map(String::as_str))
        {
            out.add_text(self.grams, text);
        }
        out.add_i64(self.updated_at, doc.updated_at);
        for &(facet, field) in &self.facets {
            match facet {
                Facet::Topic | Facet::Keyword => {
                    let values = if facet == Facet::Topic {
                        &doc.topics
                    } else {
                        &doc.keywords
                    };
                    for value in values.iter().filter(|v| !v.is_empty()) {
                        out.add_text(field, value);
                    }
                }
                _ => {
                    let value = facet_value(doc, facet);
                    // An unset attribute is no value to filter or count by.
                    if !value.is_empty() {
                        out.add_text(field, value);
                    }
                }
            }
        }
        out
    }

    pub(crate) fn facet_field(&self, facet: Facet) -> Option<Field> {
        self.facets
            .iter()
            .find(|(f, _)| *f == facet)
            .map(|(_, field)| *field)
    }
}

fn facet_value(doc: &CatalogDoc, facet: Facet) -> &str {
    match facet {
        Facet::Provider => &doc.provider_code,
        Facet::Kind => &doc.kind,
        Facet::ShareType => &doc.share_type,
        Facet::OpenType => &doc.open_type,
        Facet::Format => &doc.format,
        Facet::UpdateCycle => &doc.update_cycle,
        Facet::Status => &doc.status,
        // Multi-valued; handled by the caller.
        Facet::Topic | Facet::Keyword => "",
    }
}

/// Registers the tokenizers; tantivy does not persist them, so every open needs this.
pub(crate) fn register_tokenizers(index: &Index) {
    let manager: &TokenizerManager = index.tokenizers();
    manager.register(WORDS, WordTokenizer::new(true));
    manager.register(GRAMS, GramTokenizer::default());
}
