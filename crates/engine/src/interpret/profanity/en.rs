//! The English word list (the `better-profanity` list, MIT; see `data/SOURCES.md`).
//!
//! Each word is lowercased and de-leeted (`0`→o, `1`→i or l, `3`→e, `4`→a, `5`→s, `7`→t, `8`→b,
//! `@`→a, `$`→s, `!`→i, `+`→t; a word of digits only is kept as it is). A listed word matches a
//! whole word, a listed phrase a run of words (`blow job`, `f.u.c.k`); an entry ending in `*`
//! matches every word it begins. Only whole words count, so `Scunthorpe` and `assessment` pass.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

const WORDLIST: &str = include_str!("../../../data/profanity-en.txt");

struct List {
    /// Listed single words, normalised.
    words: HashSet<String>,
    /// Listed prefixes (entries ending in `*`), normalised.
    prefixes: Vec<String>,
    /// Listed phrases (several words), by their first word.
    phrases: HashMap<String, Vec<Vec<String>>>,
}

static LIST: LazyLock<List> = LazyLock::new(|| {
    let mut list = List { words: HashSet::new(), prefixes: Vec::new(), phrases: HashMap::new() };
    for entry in WORDLIST.lines().map(str::trim).filter(|e| !e.is_empty()) {
        // A few entries of the list are names or fragments in mixed case (`LEN`, `aSanchez`)
        // that would refuse ordinary words: they are left out.
        if entry.chars().any(char::is_uppercase) {
            continue;
        }
        if let Some(prefix) = entry.strip_suffix('*') {
            list.prefixes.extend(variants(prefix));
            continue;
        }
        for tokens in phrase_variants(entry) {
            match tokens.as_slice() {
                [] => {}
                [one] => {
                    list.words.insert(one.clone());
                }
                [first, ..] => list.phrases.entry(first.clone()).or_default().push(tokens.clone()),
            }
        }
    }
    list
});

/// How many words of `words` (each word's readings), from the `i`th, make a listed word (1) or
/// phrase (2 or more); `None` when none starts there.
pub fn match_at(words: &[Vec<String>], i: usize) -> Option<usize> {
    let list = &*LIST;
    for form in &words[i] {
        if list.words.contains(form) || list.prefixes.iter().any(|p| form.starts_with(p.as_str())) {
            return Some(1);
        }
        for phrase in list.phrases.get(form).into_iter().flatten() {
            let len = phrase.len();
            let fits = i + len <= words.len()
                && phrase.iter().zip(&words[i..i + len]).all(|(want, forms)| forms.contains(want));
            if fits {
                return Some(len);
            }
        }
    }
    None
}

/// The readings of one word: de-leeted with `1` as `i`, and with `1` as `l`.
pub fn variants(word: &str) -> Vec<String> {
    if !word.chars().any(|c| c.is_alphabetic() || "@$!+".contains(c)) {
        return vec![word.to_owned()];
    }
    let read = |one: char| -> String {
        word.chars()
            .filter_map(|c| match c {
                '0' => Some('o'),
                '1' => Some(one),
                '3' => Some('e'),
                '4' | '@' => Some('a'),
                '5' | '$' => Some('s'),
                '7' | '+' => Some('t'),
                '8' => Some('b'),
                '!' => Some('i'),
                c if c.is_alphanumeric() => Some(c),
                _ => None,
            })
            .collect()
    };
    let mut out = vec![read('i')];
    if word.contains('1') {
        out.push(read('l'));
    }
    out
}

/// The readings of a list entry as words (`f.u.c.k` is four words, `blow job` two).
fn phrase_variants(entry: &str) -> Vec<Vec<String>> {
    let parts: Vec<String> = entry
        .to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || "@$!+".contains(c)))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if parts.len() == 1 {
        return variants(&parts[0]).into_iter().map(|v| vec![v]).collect();
    }
    // Phrases: the `1`-as-`i` reading of each word.
    vec![parts.iter().map(|p| variants(p).swap_remove(0)).collect()]
}
