use super::*;

/// Titles from AniList (`shared/data/anime/anilist-graphql-responses.json`, recorded
/// 2025-04-08: romaji, English and the Russian synonym) and a few of our own.
const TITLES: &[(i64, &str)] = &[
    (1, "Shingeki no Kyojin"),
    (2, "Attack on Titan"),
    (3, "Attack on Titan Season 2"),
    (4, "Attack on Titan Part II: Wings of Freedom"),
    (5, "Атака на титанов"),
    (6, "Sora yori mo Tooi Basho"),
    (7, "A Place Further Than the Universe"),
    (8, "Ao no Hako"),
    (9, "Blue Box"),
    (10, "Sousou no Frieren"),
    (11, "Frieren: Beyond Journey's End"),
    (12, "86 Eighty-Six"),
    (13, "進撃の巨人"),
    (14, "Провожающая в последний путь Фрирен"),
];

fn d(a: &str, b: &str, max: u32) -> Option<u32> {
    distance(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>(), max)
}

/// One field per title: the postings and corpus a store would hold.
fn index(titles: &[(i64, &str)]) -> (Vec<Posting>, Corpus, Vec<String>) {
    let mut postings = Vec::new();
    let mut corpus = Corpus { records: titles.len() as u64, field_lengths: vec![0] };
    for (id, title) in titles {
        let terms = field_terms(title);
        corpus.field_lengths[0] += u64::from(terms.len);
        for (term, frequency) in terms.frequencies {
            postings.push(Posting { record: *id, field: 0, term, frequency, field_len: terms.len });
        }
    }
    let vocabulary: BTreeSet<String> = postings.iter().map(|p| p.term.clone()).collect();
    (postings, corpus, vocabulary.into_iter().collect())
}

fn search(titles: &[(i64, &str)], text: &str) -> Vec<Ranked> {
    let (postings, corpus, vocabulary) = index(titles);
    match Plan::new(text, vocabulary.iter().map(String::as_str)) {
        Some(plan) => plan.rank(&corpus, &postings, 0),
        None => Vec::new(),
    }
}

fn ids(ranked: &[Ranked]) -> Vec<i64> {
    ranked.iter().map(|r| r.record).collect()
}

#[test]
fn distance_counts_edits_and_transpositions() {
    assert_eq!(d("frieren", "frieren", 2), Some(0));
    assert_eq!(d("freiren", "frieren", 2), Some(1), "a transposition is one edit");
    assert_eq!(d("frirn", "frieren", 2), Some(2));
    assert_eq!(d("frirn", "frieren", 1), None);
    assert_eq!(d("", "ab", 2), Some(2));
    assert_eq!(d("ab", "", 1), None);
    assert_eq!(d("подписка", "подпеска", 1), Some(1));
    assert_eq!(d("kitten", "sitting", 3), Some(3));
}

#[test]
fn typo_budget_grows_with_the_word() {
    assert_eq!((max_typos(3), max_typos(4), max_typos(7), max_typos(8), max_typos(20)), (0, 1, 1, 2, 2));
}

#[test]
fn analysis_splits_lowercases_and_stems_both_languages() {
    assert_eq!(analyze("Sousou no Frieren"), ["sousou", "no", "frieren"]);
    assert_eq!(analyze("Frieren: Beyond Journey's End"), ["frieren", "beyond", "journey", "end"]);
    assert_eq!(analyze("running"), analyze("run"));
    assert_eq!(analyze("Boxes"), analyze("box"));
    assert_eq!(analyze("подписки"), analyze("подписка"));
    assert_ne!(analyze("подписок"), analyze("подписка"), "Snowball keeps the genitive plural…");
    assert_eq!(search(&[(1, "Подписка")], "подписок")[0].record, 1, "…which still matches as a near term");
    assert_eq!(analyze("Ёлка"), analyze("елка"), "ё reads as е");
    assert_eq!(analyze("Атака на титанов"), ["атак", "на", "титан"]);
    assert_eq!(analyze("86 Eighty-Six, episode 12"), ["86", "eighti", "six", "episod", "12"]);
    assert_eq!(analyze("進撃の巨人"), ["進", "撃", "の", "巨", "人"], "CJK one term per character");
    assert_eq!(analyze("e\u{301}te\u{301}"), ["ete"], "combining accents are dropped");
    assert!(analyze(" ,.!? — ").is_empty());
    let long = "a".repeat(200);
    assert_eq!(analyze(&long)[0].chars().count(), MAX_WORD_CHARS);
}

#[test]
fn queries_drop_stop_words_and_repeats() {
    let words: Vec<String> = parse_query("Attack on the Titan titans").into_iter().map(|w| w.term).collect();
    assert_eq!(words, ["attack", "titan"]);
    let only_stop = parse_query("on the");
    assert_eq!(only_stop.len(), 2, "a query of stop words keeps them");
    let last = parse_query("sousou frier");
    assert!(!last[0].prefix && last[1].prefix, "only the last word is a prefix");
    assert!(!parse_query("fr")[0].prefix, "too short to be a prefix");
}

#[test]
fn misspelled_titles_still_find_the_show() {
    assert_eq!(search(TITLES, "Sosou no Freiren")[0].record, 10);
    assert_eq!(search(TITLES, "freiren")[..2].iter().map(|r| r.record).collect::<Vec<_>>(), [10, 11]);
    assert_eq!(search(TITLES, "Atack on Titna")[0].record, 2);
    assert_eq!(search(TITLES, "Shingekki no Kyojn")[0].record, 1);
    assert_eq!(search(TITLES, "атака титанав")[0].record, 5, "misspelled Russian");
    assert_eq!(search(TITLES, "фрирен")[0].record, 14);
    assert_eq!(search(TITLES, "Univrse")[0].record, 7);
    assert!(search(TITLES, "Atack on Titna").iter().all(|r| !r.exact), "near matches only");
    assert!(search(TITLES, "xyzzy").is_empty());
    // Short words get no typo budget: "Box" does not find "Bob".
    assert!(search(&[(1, "Bob")], "box").is_empty());
}

#[test]
fn the_last_word_matches_as_a_prefix_while_typing() {
    assert_eq!(ids(&search(TITLES, "frier")), [10, 11]);
    assert_eq!(search(TITLES, "sousou frie")[0].record, 10);
    assert_eq!(search(TITLES, "прово")[0].record, 14);
    assert!(search(TITLES, "frier sousou").iter().all(|r| r.record == 10), "not a prefix unless last");
}

#[test]
fn ranking_prefers_exact_short_and_earlier_fields() {
    let ranked = search(TITLES, "attack on titan");
    assert_eq!(ids(&ranked), [2, 3, 4], "shorter titles with every word first");
    assert!(ranked.iter().all(|r| r.exact));
    // Exact beats near: "Titan" exact outranks "Titans"? both stem to titan; "Titian" is near.
    let ranked = search(&[(1, "Titian"), (2, "Titan Titian"), (3, "Titan")], "titan");
    assert_eq!(ids(&ranked), [3, 2, 1]);
    assert_eq!(ranked.iter().map(|r| r.exact).collect::<Vec<_>>(), [true, true, false]);
    // A word in the first field weighs more than in the second.
    let postings = vec![
        Posting { record: 1, field: 1, term: "box".into(), frequency: 1, field_len: 2 },
        Posting { record: 2, field: 0, term: "box".into(), frequency: 1, field_len: 2 },
    ];
    let corpus = Corpus { records: 2, field_lengths: vec![2, 2] };
    let plan = Plan::new("box", ["box"]).unwrap();
    assert_eq!(ids(&plan.rank(&corpus, &postings, 0)), [2, 1]);
    // Equal scores: the lower id first.
    let ranked = search(&[(9, "Blue Box"), (4, "Blue Box"), (6, "Blue Box")], "blue box");
    assert_eq!(ids(&ranked), [4, 6, 9]);
    assert_eq!(ids(&Plan::new("box", ["box"]).unwrap().rank(&corpus, &postings, 1)), [2], "limit");
}

#[test]
fn ranking_is_deterministic_whatever_the_posting_order() {
    let (mut postings, corpus, vocabulary) = index(TITLES);
    let plan = Plan::new("atack titan frieren 86", vocabulary.iter().map(String::as_str)).unwrap();
    let first = plan.rank(&corpus, &postings, 0);
    assert!(first.len() >= 5);
    for seed in 0..20_u64 {
        // A cheap deterministic shuffle.
        let len = postings.len();
        for i in 0..len {
            let j = ((i as u64 * 7919 + seed * 104_729) % len as u64) as usize;
            postings.swap(i, j);
        }
        let again = plan.rank(&corpus, &postings, 0);
        assert_eq!(again.len(), first.len());
        for (a, b) in first.iter().zip(&again) {
            assert_eq!((a.record, a.score.to_bits(), a.exact), (b.record, b.score.to_bits(), b.exact));
        }
    }
}

#[test]
fn candidates_are_capped_and_best_first() {
    let vocabulary: Vec<String> = (0..100).map(|i| format!("frieren{i:03}")).chain(["frieren".into()]).collect();
    let words = parse_query("frieren");
    let found = candidates(&words, vocabulary.iter().map(String::as_str));
    assert_eq!(found[0].len(), MAX_CANDIDATES_PER_WORD);
    assert_eq!(found[0][0], ("frieren".to_owned(), Match::Exact));
    assert!(found[0][1..].iter().all(|(_, m)| *m == Match::Prefix));
}

/// Every English and romaji title of the recorded AniList responses is found by its own title
/// and by the title with one letter dropped (when long enough); skipped without the file.
#[test]
fn anilist_titles_find_themselves() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/anime/anilist-graphql-responses.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("SKIPPED: {} not found", path.display());
        return;
    };
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut titles: Vec<String> = Vec::new();
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    match (key.as_str(), item) {
                        ("romaji" | "english", serde_json::Value::String(s)) if !out.contains(s) => out.push(s.clone()),
                        _ => walk(item, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    walk(&json, &mut titles);
    assert!(titles.len() >= 10, "{titles:?}");
    let indexed: Vec<(i64, &str)> = titles.iter().enumerate().map(|(i, t)| (i as i64 + 1, t.as_str())).collect();
    for (id, title) in &indexed {
        let found = search(&indexed, title);
        assert!(found.iter().take(3).any(|r| r.record == *id), "{title}: {:?}", ids(&found));
        // The longest word misspelled (its second letter dropped) still finds it.
        let longest = title.split_whitespace().max_by_key(|w| w.chars().count()).unwrap();
        if longest.chars().count() >= 6 && longest.chars().all(char::is_alphabetic) {
            let typo: String = longest.chars().enumerate().filter(|(i, _)| *i != 1).map(|(_, c)| c).collect();
            let found = search(&indexed, &typo);
            assert!(found.iter().any(|r| r.record == *id), "{typo} for {title}: {:?}", ids(&found));
        }
    }
}
