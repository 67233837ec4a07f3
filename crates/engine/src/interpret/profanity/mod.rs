//! The profanity check of form fields with `clean: true`, in English and Russian.
//!
//! A text is split into words (letters, digits and the characters `@ $ ! + *` that stand in for
//! letters), lowercased, without `!` and `*` at their ends (`hell!` is `hell`). It is refused at
//! its first word that [`en`] lists (alone or as the start of a listed phrase) or that [`ru`]
//! reads as a Russian obscene word or its transliteration. Files: [`en`] (the English list,
//! leetspeak), [`ru`] (Russian roots, prefixes and the innocent words that share them).

mod en;
mod ru;

/// The first listed word or phrase in `text`, as written there; `None` when the text is clean.
pub fn find(text: &str) -> Option<String> {
    let raw = raw_words(text);
    let words: Vec<Vec<String>> = raw.iter().map(|w| en::variants(w)).collect();
    for i in 0..raw.len() {
        if ru::is_obscene(&raw[i]) {
            return Some(raw[i].clone());
        }
        if let Some(len) = en::match_at(&words, i) {
            return Some(raw[i..i + len].join(" "));
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
