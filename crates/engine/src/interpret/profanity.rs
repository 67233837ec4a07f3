//! The profanity check of form fields with `clean: true`: an English word list (the
//! `better-profanity` list, MIT; see `data/SOURCES.md`) embedded in the engine.
//!
//! A text is split into words (letters, digits and the leetspeak characters `@ $ ! + *`), each
//! lowercased and de-leeted (`0`→o, `1`→i or l, `3`→e, `4`→a, `5`→s, `7`→t, `8`→b, `@`→a,
//! `$`→s, `!`→i, `+`→t; a word of digits only is kept as it is). A text is refused when one of
//! its words is a listed word, or a run of its words is a listed phrase (`blow job`,
//! `f.u.c.k`); an entry ending in `*` matches every word it begins. Only whole words count, so
//! `Scunthorpe` and `assessment` pass.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

const WORDLIST: &str = include_str!("../../data/profanity-en.txt");

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

/// The first listed word or phrase in `text`, as written there; `None` when the text is clean.
pub fn find(text: &str) -> Option<String> {
    let list = &*LIST;
    let raw = raw_words(text);
    let words: Vec<Vec<String>> = raw.iter().map(|w| variants(w)).collect();
    for (i, forms) in words.iter().enumerate() {
        for form in forms {
            if list.words.contains(form) || list.prefixes.iter().any(|p| form.starts_with(p.as_str())) {
                return Some(raw[i].clone());
            }
            for phrase in list.phrases.get(form).into_iter().flatten() {
                let len = phrase.len();
                let fits = i + len <= words.len()
                    && phrase.iter().zip(&words[i..i + len]).all(|(want, forms)| forms.contains(want));
                if fits {
                    return Some(raw[i..i + len].join(" "));
                }
            }
        }
    }
    None
}

/// Whether `text` has no listed word or phrase.
pub fn is_clean(text: &str) -> bool {
    find(text).is_none()
}

/// The words of a text: runs of letters, digits and leetspeak characters, lowercased, without
/// `!` and `*` at their ends (`hell!` is `hell`).
fn raw_words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || "@$!+*".contains(c)))
        .map(|w| w.trim_matches(['!', '*']).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The readings of one word: de-leeted with `1` as `i`, and with `1` as `l`.
fn variants(word: &str) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_words_are_found_whole_and_in_any_case() {
        assert_eq!(find("What a load of SHIT."), Some("shit".into()));
        assert_eq!(find("bullshit!"), Some("bullshit".into()));
        assert!(!is_clean("Damn"));
    }

    #[test]
    fn words_that_contain_a_listed_word_pass() {
        for text in ["I live near Scunthorpe", "Assessment of classic bass", "Shitake? No: shiitake", "Cocktails"] {
            assert!(is_clean(text), "{text:?} was refused: {:?}", find(text));
        }
        assert!(is_clean("Runner, reader, 2 cats & 1 dog."));
        assert!(is_clean(""));
    }

    #[test]
    fn leetspeak_is_read() {
        assert_eq!(find("no bullsh1t please"), Some("bullsh1t".into()));
        assert_eq!(find("$h!t happens"), Some("$h!t".into()));
        assert_eq!(find("what the h3ll"), Some("h3ll".into()));
        assert_eq!(find("he11 yes"), Some("he11".into()));
        assert_eq!(find("5h1t"), Some("5h1t".into()));
    }

    #[test]
    fn phrases_and_prefixes() {
        assert_eq!(find("a BLOW   job"), Some("blow job".into()));
        assert_eq!(find("f.u.c.k that"), Some("f u c k".into()));
        assert_eq!(find("masterbating"), Some("masterbating".into()));
        assert!(is_clean("a blow to the job market"));
    }

    #[test]
    fn mixed_case_fragments_of_the_list_are_ignored() {
        assert!(is_clean("Len from Hamburg"));
    }
}
