//! Typo-tolerant full-text search with no I/O, so that every store (memory, SQLite, PostgreSQL)
//! finds and ranks the same records: the stores keep the terms [`analyze`] makes, and search by
//! matching [`parse_query`]'s words against the scope's terms ([`candidates`]) and scoring the
//! postings of the matched terms ([`rank`]). See `docs/decisions/0008-full-text-search.md`.
//!
//! On the path of an update (docs/architecture.md) it sits under the stores: the interpreter's
//! `search` step reaches it through `CollectionStore`, on memory, SQLite or PostgreSQL alike.
//!
//! - Analysis: Unicode words, lowercased, `ё` read as `е`, Cyrillic words stemmed with the
//!   Russian Snowball stemmer and Latin ones with the English (Porter 2) stemmer, digits kept,
//!   CJK ideographs and kana one term per character.
//! - Matching: a query word matches a term exactly, with up to [`max_typos`] edits (insertion,
//!   deletion, substitution, transposition of neighbours) or, for the last query word, as a
//!   prefix of the term (what a user is still typing).
//! - Ranking: BM25 per field, earlier fields weigh more, near matches count less than exact
//!   ones; records where every word matched exactly come first; ties go to the lower record id.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use rust_stemmers::{Algorithm, Stemmer};

/// Longer words are cut to this many characters (before stemming).
pub const MAX_WORD_CHARS: usize = 48;
/// A last query word this short is not matched as a prefix (it would match too much).
pub const MIN_PREFIX_CHARS: usize = 3;
/// At most this many terms are kept per query word, best matches first.
pub const MAX_CANDIDATES_PER_WORD: usize = 32;
/// The longest ending a stemmer strips that fuzzy matching skips (see [`QueryWord::matches`]).
pub const MAX_ENDING_CHARS: usize = 3;
/// Terms and word beginnings shorter than this are not compared as stems.
pub const MIN_STEM_CHARS: usize = 4;
/// Words of a query after the first this many are ignored.
pub const MAX_QUERY_WORDS: usize = 16;

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Edits a query word of `chars` characters may differ by: 0 under 4, 1 for 4–7, 2 from 8.
pub fn max_typos(chars: usize) -> u32 {
    match chars {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// The weight of the searchable field at `index` (0 is the most important).
pub fn field_weight(index: usize) -> f64 {
    1.0 / (1.0 + 0.5 * index as f64)
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}' // hiragana, katakana
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FF66}'..='\u{FF9F}' // half-width katakana
        | '\u{20000}'..='\u{2FA1F}')
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// The normalized words of `text`, in order: lowercased, `ё` as `е`, combining accents dropped,
/// apostrophes kept inside words (`frieren's`), CJK characters one word each.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    let flush = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            let cut: String = word.chars().take(MAX_WORD_CHARS).collect();
            out.push(cut.trim_end_matches(is_apostrophe).to_owned());
            word.clear();
        }
    };
    while let Some(c) = chars.next() {
        if is_cjk(c) {
            flush(&mut word, &mut out);
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                word.push(if lower == 'ё' { 'е' } else { lower });
            }
        } else if ('\u{0300}'..='\u{036F}').contains(&c) && !word.is_empty() {
            // A combining accent: part of the word, not a separator.
        } else if is_apostrophe(c) && !word.is_empty() && chars.peek().is_some_and(|n| n.is_alphanumeric()) {
            word.push('\'');
        } else {
            flush(&mut word, &mut out);
        }
    }
    flush(&mut word, &mut out);
    out.retain(|w| !w.is_empty());
    out
}

/// The term of one normalized word: Cyrillic words through the Russian stemmer, Latin ones
/// through the English stemmer, anything else (digits, other scripts) as it is.
pub fn stem(word: &str) -> String {
    let cyrillic = word.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c));
    let latin = word.chars().any(|c| c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c));
    let stemmed = if cyrillic {
        Stemmer::create(Algorithm::Russian).stem(word).into_owned()
    } else if latin {
        Stemmer::create(Algorithm::English).stem(word).into_owned()
    } else {
        word.to_owned()
    };
    let stemmed: String = stemmed.chars().filter(|c| !is_apostrophe(*c)).collect();
    if stemmed.is_empty() { word.chars().filter(|c| !is_apostrophe(*c)).collect() } else { stemmed }
}

/// The terms of `text`, in order (repeated words give repeated terms).
pub fn analyze(text: &str) -> Vec<String> {
    words(text).iter().map(|w| stem(w)).filter(|t| !t.is_empty()).collect()
}

/// What a store keeps of one field's text: its length in terms and each term's frequency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldTerms {
    pub len: u32,
    pub frequencies: BTreeMap<String, u32>,
}

/// The terms of `text` with their frequencies.
pub fn field_terms(text: &str) -> FieldTerms {
    let mut terms = FieldTerms::default();
    for term in analyze(text) {
        terms.len += 1;
        *terms.frequencies.entry(term).or_default() += 1;
    }
    terms
}

/// Frequent short words left out of a query that has other words (they stay in the index, so
/// a query of only such words still finds them).
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "at", "by", "for", "in", "is", "of", "on", "or", "the", "to", "а", "в", "во", "и", "из", "к",
    "на", "но", "о", "об", "по", "с", "со", "у",
];

/// One word of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    /// The normalized word as typed.
    pub word: String,
    /// Its term (stemmed).
    pub term: String,
    /// Whether it may match as the beginning of a term (the last word, long enough).
    pub prefix: bool,
    /// The edits it may differ by, from its length ([`max_typos`]).
    pub typos: u32,
}

/// The words of a query: normalized, stop words dropped when other words remain, repeats
/// dropped, the last word marked as a prefix.
pub fn parse_query(text: &str) -> Vec<QueryWord> {
    let all = words(text);
    let meaningful: Vec<&String> = all.iter().filter(|w| !STOP_WORDS.contains(&w.as_str())).collect();
    let kept: Vec<&String> = if meaningful.is_empty() { all.iter().collect() } else { meaningful };
    let last = kept.len().saturating_sub(1);
    let mut out: Vec<QueryWord> = Vec::new();
    for (i, word) in kept.into_iter().enumerate() {
        let chars = word.chars().count();
        let query = QueryWord {
            word: word.chars().filter(|c| !is_apostrophe(*c)).collect(),
            term: stem(word),
            prefix: i == last && chars >= MIN_PREFIX_CHARS,
            typos: max_typos(chars),
        };
        match out.iter_mut().find(|q| q.term == query.term) {
            Some(seen) => seen.prefix |= query.prefix,
            None => out.push(query),
        }
    }
    out.truncate(MAX_QUERY_WORDS);
    out
}

/// How a query word matched a term; better matches order first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Match {
    Exact,
    Prefix,
    /// Within this many edits.
    Typo(u32),
}

impl Match {
    /// What a match of this kind is worth relative to an exact one.
    pub fn factor(self) -> f64 {
        match self {
            Match::Exact => 1.0,
            Match::Prefix => 0.75,
            Match::Typo(1) => 0.5,
            Match::Typo(_) => 0.3,
        }
    }
}

impl QueryWord {
    /// Whether and how this word matches `term`.
    pub fn matches(&self, term: &str) -> Option<Match> {
        if term == self.term || term == self.word {
            return Some(Match::Exact);
        }
        if self.prefix && (term.starts_with(self.word.as_str()) || term.starts_with(self.term.as_str())) {
            return Some(Match::Prefix);
        }
        if self.typos == 0 {
            return None;
        }
        let term: Vec<char> = term.chars().collect();
        let word: Vec<char> = self.word.chars().collect();
        let by_term = distance(&self.term.chars().collect::<Vec<_>>(), &term, self.typos);
        let by_word = distance(&word, &term, self.typos);
        // A misspelled word may stem differently ("pcture" keeps its "e", "picture" loses it):
        // compare the term with the word's beginnings that leave off at most a short ending.
        let typos = self.typos as usize;
        let by_stem = if term.len() < MIN_STEM_CHARS {
            None
        } else {
            (term.len().saturating_sub(typos)..=term.len() + typos)
                .filter(|&len| len >= MIN_STEM_CHARS && len < word.len() && word.len() - len <= MAX_ENDING_CHARS)
                .filter_map(|len| distance(&word[..len], &term, self.typos))
                .min()
                .map(|d| d.max(1))
        };
        by_term.into_iter().chain(by_word).chain(by_stem).min().map(Match::Typo)
    }
}

/// The optimal-string-alignment distance of `a` and `b` (insertions, deletions, substitutions
/// and transpositions of neighbours), if it is at most `max`.
pub fn distance(a: &[char], b: &[char], max: u32) -> Option<u32> {
    let max = max as usize;
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut best = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut value = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                value = value.min(before[j - 2] + 1);
            }
            cur[j] = value;
            best = best.min(value);
        }
        if best > max {
            return None;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d as u32)
}

/// For each query word, the terms of `vocabulary` it matches, best first (then by term), at
/// most [`MAX_CANDIDATES_PER_WORD`].
pub fn candidates<'a>(query: &[QueryWord], vocabulary: impl IntoIterator<Item = &'a str>) -> Vec<Vec<(String, Match)>> {
    let vocabulary: BTreeSet<&str> = vocabulary.into_iter().collect();
    query
        .iter()
        .map(|word| {
            let mut found: Vec<(String, Match)> =
                vocabulary.iter().filter_map(|term| word.matches(term).map(|m| ((*term).to_owned(), m))).collect();
            found.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            found.truncate(MAX_CANDIDATES_PER_WORD);
            found
        })
        .collect()
}

/// Every term of [`candidates`]' answer, once: the postings a store has to fetch.
pub fn candidate_terms(candidates: &[Vec<(String, Match)>]) -> BTreeSet<String> {
    candidates.iter().flatten().map(|(term, _)| term.clone()).collect()
}

/// One term in one field of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub record: i64,
    /// The field's index in the searchable fields.
    pub field: usize,
    pub term: String,
    /// How often the term occurs in the field.
    pub frequency: u32,
    /// The field's length in terms.
    pub field_len: u32,
}

/// What the scorer needs to know about the whole scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Corpus {
    /// Records in the scope (searchable text or not).
    pub records: u64,
    /// Per searchable field (by index), the sum of its length over the scope's records.
    pub field_lengths: Vec<u64>,
}

/// A scored record.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub record: i64,
    pub score: f64,
    /// Every query word matched some term exactly.
    pub exact: bool,
}

/// Scores the records of `postings` (any order; postings of terms that are not candidates are
/// ignored): per query word its best matching term, BM25 over the fields weighted by
/// [`field_weight`] and scaled by [`Match::factor`]; summed over the words. Records where every
/// word matched exactly come first, then higher scores, then lower ids.
pub fn rank(
    query: &[QueryWord],
    candidates: &[Vec<(String, Match)>],
    corpus: &Corpus,
    postings: &[Posting],
) -> Vec<Ranked> {
    // term -> (word, how it matched), for the terms a word may use.
    let mut uses: BTreeMap<&str, Vec<(usize, Match)>> = BTreeMap::new();
    for (word, found) in candidates.iter().enumerate().take(query.len()) {
        for (term, how) in found {
            uses.entry(term.as_str()).or_default().push((word, *how));
        }
    }
    let mut sorted: Vec<&Posting> = postings.iter().filter(|p| uses.contains_key(p.term.as_str())).collect();
    sorted.sort_by(|a, b| (a.record, &a.term, a.field).cmp(&(b.record, &b.term, b.field)));
    sorted.dedup_by(|a, b| (a.record, &a.term, a.field) == (b.record, &b.term, b.field));

    let mut df: BTreeMap<&str, u64> = BTreeMap::new();
    let mut last: Option<(i64, &str)> = None;
    for p in &sorted {
        if last != Some((p.record, p.term.as_str())) {
            *df.entry(p.term.as_str()).or_default() += 1;
            last = Some((p.record, p.term.as_str()));
        }
    }

    // (record, term) -> BM25 summed over fields, in field order.
    let mut per_term: BTreeMap<(i64, &str), f64> = BTreeMap::new();
    for p in &sorted {
        let total = corpus.field_lengths.get(p.field).copied().unwrap_or(0);
        let average = if corpus.records == 0 || total == 0 { 1.0 } else { total as f64 / corpus.records as f64 };
        let tf = f64::from(p.frequency);
        let norm = tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * f64::from(p.field_len) / average));
        *per_term.entry((p.record, p.term.as_str())).or_default() += field_weight(p.field) * norm;
    }

    // (record) -> per word: best value and whether an exact term matched.
    let mut per_record: BTreeMap<i64, Vec<(f64, bool)>> = BTreeMap::new();
    for ((record, term), bm25) in per_term {
        let n = df[term];
        let records = corpus.records.max(n) as f64;
        let idf = (1.0 + (records - n as f64 + 0.5) / (n as f64 + 0.5)).ln();
        let words = per_record.entry(record).or_insert_with(|| vec![(0.0, false); query.len()]);
        for (word, how) in &uses[term] {
            let value = bm25 * idf * how.factor();
            let slot = &mut words[*word];
            if value > slot.0 {
                slot.0 = value;
            }
            slot.1 |= *how == Match::Exact;
        }
    }

    let mut ranked: Vec<Ranked> = per_record
        .into_iter()
        .map(|(record, words)| Ranked {
            record,
            score: words.iter().map(|w| w.0).sum(),
            exact: !words.is_empty() && words.iter().all(|w| w.1),
        })
        .collect();
    ranked.sort_by(compare_ranked);
    ranked
}

/// A search in progress: the query's words and the terms they match in a scope's vocabulary.
/// A store makes one from the scope's distinct terms, fetches the postings of
/// [`Plan::terms`] and ranks them with [`Plan::rank`].
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub words: Vec<QueryWord>,
    pub candidates: Vec<Vec<(String, Match)>>,
    pub terms: BTreeSet<String>,
}

impl Plan {
    /// `None` when nothing can match: no words in `text` or no term of `vocabulary` matches.
    pub fn new<'a>(text: &str, vocabulary: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let words = parse_query(text);
        if words.is_empty() {
            return None;
        }
        let candidates = candidates(&words, vocabulary);
        let terms = candidate_terms(&candidates);
        (!terms.is_empty()).then_some(Self { words, candidates, terms })
    }

    /// The best `limit` records (0: all) of `postings`, as [`rank`] orders them.
    pub fn rank(&self, corpus: &Corpus, postings: &[Posting], limit: usize) -> Vec<Ranked> {
        let mut ranked = rank(&self.words, &self.candidates, corpus, postings);
        if limit > 0 {
            ranked.truncate(limit);
        }
        ranked
    }
}

/// The order of [`rank`]'s answer.
pub fn compare_ranked(a: &Ranked, b: &Ranked) -> Ordering {
    b.exact.cmp(&a.exact).then_with(|| b.score.total_cmp(&a.score)).then_with(|| a.record.cmp(&b.record))
}

#[cfg(test)]
mod tests;
