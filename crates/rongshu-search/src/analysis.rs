//! Text analysis: the Chinese word tokenizer and the character tokenizer the index uses,
//! and the same analysis applied to a user's query.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy_jieba::JiebaTokenizer;

/// Name under which [`WordTokenizer`] (jieba, search mode) is registered.
pub(crate) const WORDS: &str = "rongshu_words";
/// Name under which [`GramTokenizer`] is registered.
pub(crate) const GRAMS: &str = "rongshu_grams";

/// Jieba word segmentation, keeping only tokens with a letter, digit or ideograph, lowercased.
///
/// Jieba hands back spaces and punctuation as tokens; indexing them would only add noise.
#[derive(Clone)]
pub(crate) struct WordTokenizer {
    jieba: JiebaTokenizer,
}

impl WordTokenizer {
    /// Search mode also emits the shorter words inside a long one (社会保险 → 社会, 保险,
    /// 社会保险), which is what the index wants; queries use the plain cut.
    pub(crate) fn new(search_mode: bool) -> Self {
        WordTokenizer {
            jieba: JiebaTokenizer::with_search_mode(search_mode),
        }
    }
}

pub(crate) struct WordTokenStream<'a> {
    inner: tantivy_jieba::JiebaTokenStream<'a>,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordTokenStream<'a> {
        WordTokenStream {
            inner: self.jieba.token_stream(text),
        }
    }
}

impl TokenStream for WordTokenStream<'_> {
    fn advance(&mut self) -> bool {
        while self.inner.advance() {
            let token = self.inner.token_mut();
            if token.text.chars().any(char::is_alphanumeric) {
                lowercase_in_place(&mut token.text);
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.inner.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.inner.token_mut()
    }
}

/// Character grams: each ideograph (or other non-ASCII letter) alone and with the next one
/// in the same run, and each run of ASCII letters and digits as one lowercased word.
///
/// They back the match that finds a query anywhere inside a text, as a substring search
/// would, whatever jieba made of either side: a query of several ideographs needs all its
/// bigrams, one ideograph its unigram. Bigrams are selective, so this needs no positions.
#[derive(Clone, Default)]
pub(crate) struct GramTokenizer {
    token: Token,
}

pub(crate) struct GramTokenStream<'a> {
    grams: std::vec::IntoIter<Gram>,
    token: &'a mut Token,
}

/// A gram and its byte range in the text.
struct Gram {
    text: String,
    from: usize,
    to: usize,
}

impl Tokenizer for GramTokenizer {
    type TokenStream<'a> = GramTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> GramTokenStream<'a> {
        self.token.reset();
        GramTokenStream {
            grams: index_grams(text).into_iter(),
            token: &mut self.token,
        }
    }
}

impl TokenStream for GramTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let Some(gram) = self.grams.next() else {
            return false;
        };
        self.token.text = gram.text;
        self.token.offset_from = gram.from;
        self.token.offset_to = gram.to;
        self.token.position = self.token.position.wrapping_add(1);
        self.token.position_length = 1;
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// A run of text that grams are made from.
enum Run<'a> {
    /// ASCII letters and digits: one word.
    Latin(usize, &'a str),
    /// Other letters (ideographs): (byte offset, char) each.
    Ideographs(Vec<(usize, char)>),
}

fn runs(text: &str) -> Vec<Run<'_>> {
    let mut runs = Vec::new();
    let mut ideographs: Vec<(usize, char)> = Vec::new();
    let mut latin_start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_ascii_alphanumeric() {
            if !ideographs.is_empty() {
                runs.push(Run::Ideographs(std::mem::take(&mut ideographs)));
            }
            latin_start.get_or_insert(i);
            continue;
        }
        if let Some(start) = latin_start.take() {
            runs.push(Run::Latin(start, &text[start..i]));
        }
        if c.is_alphanumeric() {
            ideographs.push((i, c));
        } else if !ideographs.is_empty() {
            runs.push(Run::Ideographs(std::mem::take(&mut ideographs)));
        }
    }
    if let Some(start) = latin_start {
        runs.push(Run::Latin(start, &text[start..]));
    }
    if !ideographs.is_empty() {
        runs.push(Run::Ideographs(ideographs));
    }
    runs
}

/// Every unigram and bigram of `text`, as indexed.
fn index_grams(text: &str) -> Vec<Gram> {
    let mut out = Vec::new();
    for run in runs(text) {
        match run {
            Run::Latin(from, word) => out.push(Gram {
                text: word.to_ascii_lowercase(),
                from,
                to: from + word.len(),
            }),
            Run::Ideographs(chars) => {
                for (k, &(from, c)) in chars.iter().enumerate() {
                    let to = from + c.len_utf8();
                    out.push(Gram {
                        text: lower_char(c, None),
                        from,
                        to,
                    });
                    if let Some(&(next_from, next)) = chars.get(k + 1) {
                        out.push(Gram {
                            text: lower_char(c, Some(next)),
                            from,
                            to: next_from + next.len_utf8(),
                        });
                    }
                }
            }
        }
    }
    out
}

fn lower_char(first: char, second: Option<char>) -> String {
    let mut out: String = first.to_lowercase().collect();
    if let Some(second) = second {
        out.extend(second.to_lowercase());
    }
    out
}

/// The grams a query text must all have to occur in a document: the bigrams of each run
/// of ideographs (the unigram of a lone one) and each Latin word; without repeats.
pub(crate) fn query_grams(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for run in runs(text) {
        let grams: Vec<String> = match run {
            Run::Latin(_, word) => vec![word.to_ascii_lowercase()],
            Run::Ideographs(chars) if chars.len() == 1 => {
                chars.iter().map(|&(_, c)| lower_char(c, None)).collect()
            }
            Run::Ideographs(chars) => chars
                .windows(2)
                .map(|pair| lower_char(pair[0].1, Some(pair[1].1)))
                .collect(),
        };
        for gram in grams {
            if !out.contains(&gram) {
                out.push(gram);
            }
        }
    }
    out
}

fn lowercase_in_place(text: &mut String) {
    if text.is_ascii() {
        text.make_ascii_lowercase();
    } else if text.chars().any(char::is_uppercase) {
        *text = text.to_lowercase();
    }
}

/// The texts of the tokens `tokenizer` makes of `text`, in order, without repeats.
pub(crate) fn token_texts<T: Tokenizer>(tokenizer: &mut T, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut stream = tokenizer.token_stream(text);
    while let Some(token) = stream.next() {
        if !out.contains(&token.text) {
            out.push(token.text.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexed(text: &str) -> Vec<String> {
        index_grams(text).into_iter().map(|g| g.text).collect()
    }

    #[test]
    fn index_grams_are_unigrams_bigrams_and_latin_words() {
        assert_eq!(
            indexed("人口ID_Number 2024年，户籍"),
            vec![
                "人", "人口", "口", "id", "number", "2024", "年", "户", "户籍", "籍"
            ]
        );
        assert!(indexed("  ：*: ").is_empty());
    }

    #[test]
    fn query_grams_need_every_bigram() {
        assert_eq!(query_grams("空气质量"), vec!["空气", "气质", "质量"]);
        assert_eq!(query_grams("税"), vec!["税"]);
        assert_eq!(
            query_grams("PM2.5 人口人口"),
            vec!["pm2", "5", "人口", "口人"]
        );
        assert!(query_grams("：").is_empty());
    }

    #[test]
    fn words_drop_punctuation_and_lowercase() {
        let words = token_texts(&mut WordTokenizer::new(false), "人口基础信息，Population！");
        assert!(words.contains(&"人口".to_owned()), "{words:?}");
        assert!(words.contains(&"population".to_owned()), "{words:?}");
        assert!(words.iter().all(|w| w.chars().any(char::is_alphanumeric)));
    }
}
