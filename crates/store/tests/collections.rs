//! Data collections (`ferrogram_core::CollectionStore`): one set of cases run on the memory store, on
//! SQLite and on PostgreSQL (skipped loudly when unreachable, as in `tests/postgres.rs`), and
//! a check that the three give identical answers for the same data.

mod common;

use std::sync::Arc;

use ferrogram_core::{CollectionSpec, CollectionStore, Filter, Hit, MemoryCollections, Op, Query, Record, Scope};
use serde_json::{Map, Value, json};

/// Defines `memory_<case>`, `sqlite_<case>` and `postgres_<case>` for each case.
macro_rules! collection_suite {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(std::sync::Arc::new(ferrogram_core::MemoryCollections::new())).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::on_database(super::common::sqlite().await, super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::on_database(super::common::postgres().await, super::$case).await;
                }
            )*
        }
    };
}

collection_suite!(
    crud_round_trips,
    ids_are_per_collection_and_never_reused,
    every_op_filters_alike_indexed_or_not,
    the_store_answers_as_the_comparison_rules_define,
    ordering_and_paging,
    counting,
    search_tolerates_typos_and_stems,
    search_ranks_and_offers_near_matches,
    search_follows_updates_and_deletes,
    changing_the_spec_reindexes,
    another_chats_records_never_come_back,
    another_users_records_never_come_back,
    another_bots_records_never_come_back,
    another_collections_records_never_come_back,
);

async fn on_database<F, Fut>(db: Option<common::TestDb>, case: F)
where
    F: FnOnce(Arc<dyn CollectionStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = db else { return };
    let outcome = tokio::spawn(case(Arc::new(db.store.clone()))).await;
    db.cleanup().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

const BOT: u64 = 7;

fn spec(name: &str, searchable: &[&str], indexed: &[&str]) -> CollectionSpec {
    CollectionSpec {
        name: name.into(),
        searchable: searchable.iter().map(|s| (*s).to_owned()).collect(),
        indexed: indexed.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn ids(records: &[Record]) -> Vec<i64> {
    records.iter().map(|r| r.id).collect()
}

fn hit_ids(hits: &[Hit]) -> Vec<i64> {
    hits.iter().map(|h| h.record.id).collect()
}

/// Titles from AniList (`../shared/data/anime/anilist-graphql-responses.json`: romaji,
/// English and Russian synonym) plus a few of our own, in Russian and English.
const SHOWS: &[(&str, &str, &str, i64)] = &[
    ("Shingeki no Kyojin", "Attack on Titan", "Атака на титанов", 2013),
    ("Shingeki no Kyojin 2", "Attack on Titan Season 2", "Атака на титанов 2", 2017),
    ("Shingeki no Kyojin Kouhen: Jiyuu no Tsubasa", "Attack on Titan Part II: Wings of Freedom", "", 2015),
    ("Shingeki! Kyojin Chuugakkou", "Attack on Titan: Junior High", "", 2015),
    ("Sora yori mo Tooi Basho", "A Place Further Than the Universe", "Место дальше, чем Вселенная", 2018),
    ("Ao no Hako", "Blue Box", "Синяя коробка", 2024),
    ("Sousou no Frieren", "Frieren: Beyond Journey's End", "Провожающая в последний путь Фрирен", 2023),
    ("86 Eighty-Six", "86", "86: Восемьдесят шесть", 2021),
];

async fn add_shows(store: &dyn CollectionStore, spec: &CollectionSpec, scope: Scope) -> Vec<i64> {
    add_shows_of(store, BOT, spec, scope).await
}

async fn add_shows_of(store: &dyn CollectionStore, bot: u64, spec: &CollectionSpec, scope: Scope) -> Vec<i64> {
    let mut out = Vec::new();
    for (romaji, english, russian, year) in SHOWS {
        let record = json!({"title": english, "romaji": romaji, "russian": russian, "year": year});
        out.push(store.create(bot, spec, scope, fields(record)).await.unwrap().id);
    }
    out
}

fn shows_spec() -> CollectionSpec {
    spec("shows", &["title", "romaji", "russian"], &["year"])
}

async fn crud_round_trips(store: Arc<dyn CollectionStore>) {
    let spec = spec("notes", &["text"], &["n"]);
    let scope = Scope::Chat(-1001);
    let data = json!({"text": "Ёжик в тумане 🌫️ \"quoted\"", "n": 1, "tags": ["a", {"b": null}], "nul": "a\u{0}b"});
    let created = store.create(BOT, &spec, scope, fields(data.clone())).await.unwrap();
    assert_eq!(created.fields, fields(data.clone()));
    assert!(created.created_at > 0 && created.created_at == created.updated_at);
    assert_eq!(store.get(BOT, &spec, scope, created.id).await.unwrap(), Some(created.clone()));

    let updated = store.update(BOT, &spec, scope, created.id, fields(json!({"n": 2, "extra": true}))).await.unwrap();
    let updated = updated.expect("the record exists");
    let mut expected = fields(data);
    expected.insert("n".into(), json!(2));
    expected.insert("extra".into(), json!(true));
    assert_eq!(updated.fields, expected, "a patch merges into the fields");
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(store.get(BOT, &spec, scope, created.id).await.unwrap(), Some(updated.clone()));
    assert_eq!(store.update(BOT, &spec, scope, created.id + 100, Map::new()).await.unwrap(), None);

    assert!(store.delete(BOT, &spec, scope, created.id).await.unwrap());
    assert!(!store.delete(BOT, &spec, scope, created.id).await.unwrap(), "already deleted");
    assert_eq!(store.get(BOT, &spec, scope, created.id).await.unwrap(), None);
    assert_eq!(store.update(BOT, &spec, scope, created.id, Map::new()).await.unwrap(), None);
    assert!(store.query(BOT, &spec, scope, Query::default()).await.unwrap().is_empty());
}

async fn ids_are_per_collection_and_never_reused(store: Arc<dyn CollectionStore>) {
    let (a, b) = (spec("a", &[], &[]), spec("b", &[], &[]));
    let one = store.create(BOT, &a, Scope::Bot, Map::new()).await.unwrap().id;
    let two = store.create(BOT, &a, Scope::User(1), Map::new()).await.unwrap().id;
    assert_eq!((one, two), (1, 2), "ids count per bot and collection, across scopes");
    assert_eq!(store.create(BOT, &b, Scope::Bot, Map::new()).await.unwrap().id, 1);
    assert_eq!(store.create(BOT + 1, &a, Scope::Bot, Map::new()).await.unwrap().id, 1);
    assert!(store.delete(BOT, &a, Scope::User(1), two).await.unwrap());
    assert_eq!(store.create(BOT, &a, Scope::Bot, Map::new()).await.unwrap().id, 3, "a deleted id is not reused");
}

/// Values of every type, some fields absent, to filter on.
fn mixed_values() -> Vec<Value> {
    vec![
        json!({"v": 1, "name": "b"}),
        json!({"v": 2.5, "name": "a"}),
        json!({"v": -3, "name": "Ä"}),
        json!({"v": "10", "name": "z"}),
        json!({"v": "9", "name": "я"}),
        json!({"v": true, "name": "ё"}),
        json!({"v": false}),
        json!({"v": null, "name": ""}),
        json!({"name": "absent"}),
        json!({"v": [1, 2], "name": "list"}),
        json!({"v": {"k": 1}, "name": "object"}),
        json!({"v": 1.0, "name": "one point zero"}),
        json!({"v": 1e20, "name": "big"}),
    ]
}

async fn every_op_filters_alike_indexed_or_not(store: Arc<dyn CollectionStore>) {
    let indexed = spec("indexed", &[], &["v", "name"]);
    let plain = spec("plain", &[], &[]);
    let scope = Scope::Bot;
    for value in mixed_values() {
        store.create(BOT, &indexed, scope, fields(value.clone())).await.unwrap();
        store.create(BOT, &plain, scope, fields(value)).await.unwrap();
    }
    let cases: Vec<(Op, Value, Vec<i64>)> = vec![
        (Op::Eq, json!(1), vec![1, 12]),
        (Op::Eq, json!("10"), vec![4]),
        (Op::Eq, json!(true), vec![6]),
        (Op::Eq, json!(null), vec![8, 9]),
        (Op::Eq, json!([1, 2]), vec![10]),
        (Op::Eq, json!({"k": 1}), vec![11]),
        (Op::Ne, json!(1), vec![2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]),
        (Op::Ne, json!(null), vec![1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13]),
        (Op::Lt, json!(2.5), vec![1, 3, 12]),
        (Op::Le, json!(2.5), vec![1, 2, 3, 12]),
        (Op::Gt, json!(1), vec![2, 13]),
        (Op::Ge, json!(1), vec![1, 2, 12, 13]),
        (Op::Lt, json!("9"), vec![4] /* strings compare by code point: "10" < "9" */),
        (Op::Gt, json!(false), vec![6]),
        (Op::Lt, json!(null), vec![]),
        (Op::Lt, json!([5]), vec![]),
        (Op::In, json!([2.5, "9", null, false]), vec![2, 5, 7, 8, 9]),
        (Op::In, json!([]), vec![]),
        (Op::In, json!(1), vec![]),
        (Op::NotIn, json!([2.5, "9", null, false]), vec![1, 3, 4, 6, 10, 11, 12, 13]),
        (Op::NotIn, json!([]), (1..=13).collect()),
        (Op::NotIn, json!(1), (1..=13).collect()),
    ];
    for (op, value, expected) in cases {
        let filters = vec![Filter { field: "v".into(), op, value: value.clone() }];
        for spec in [&indexed, &plain] {
            let query = Query { filters: filters.clone(), ..Query::default() };
            let found = ids(&store.query(BOT, spec, scope, query).await.unwrap());
            assert_eq!(found, expected, "{} {op:?} {value}", spec.name);
            let count = store.count(BOT, spec, scope, filters.clone()).await.unwrap();
            assert_eq!(count, expected.len() as u64, "count {} {op:?} {value}", spec.name);
        }
    }
    // Filters combine (all must hold), indexed or not, and on the record's own columns.
    let filters = vec![
        Filter { field: "v".into(), op: Op::Ge, value: json!(-5) },
        Filter { field: "name".into(), op: Op::Gt, value: json!("a") },
        Filter { field: "id".into(), op: Op::Le, value: json!(12) },
    ];
    for spec in [&indexed, &plain] {
        let query = Query { filters: filters.clone(), ..Query::default() };
        assert_eq!(ids(&store.query(BOT, spec, scope, query).await.unwrap()), [1, 3, 12], "{}", spec.name);
    }
}

/// The store's SQL (indexed fields and the scan of unindexed ones) against the one definition
/// of filtering and ordering, `ferrogram_core::comparison`: every operator with every value of
/// every type as its operand, and ordering by each field both ways, answer exactly what
/// `apply_query` makes of the same records.
async fn the_store_answers_as_the_comparison_rules_define(store: Arc<dyn CollectionStore>) {
    let indexed = spec("indexed", &[], &["v", "name"]);
    let plain = spec("plain", &[], &[]);
    let scope = Scope::Chat(3);
    let mut values = mixed_values();
    values.extend([
        json!({"v": 0, "name": "zero"}),
        json!({"v": -0.5, "name": "-0.5"}),
        json!({"v": "", "name": "empty"}),
        json!({"v": "Ä", "name": "umlaut"}),
        json!({"v": [], "name": "empty list"}),
        json!({"v": {}, "name": "empty object"}),
        json!({"v": [1, "a"], "name": "mixed list"}),
    ]);
    for value in &values {
        store.create(BOT, &indexed, scope, fields(value.clone())).await.unwrap();
        store.create(BOT, &plain, scope, fields(value.clone())).await.unwrap();
    }
    let mut operands: Vec<Value> = values.iter().map(|v| v.get("v").cloned().unwrap_or(Value::Null)).collect();
    operands.extend([json!(1.5), json!("a"), json!([1, 2, 3]), json!([null, "9", 2.5]), json!(["10", true])]);
    let ops = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::In, Op::NotIn];
    for spec in [&indexed, &plain] {
        let all = store.query(BOT, spec, scope, Query::default()).await.unwrap();
        assert_eq!(all.len(), values.len(), "{}", spec.name);
        let mut checked = 0;
        for field in ["v", "name"] {
            for op in ops {
                for operand in &operands {
                    let filters = vec![Filter { field: field.into(), op, value: operand.clone() }];
                    let query = Query { filters: filters.clone(), ..Query::default() };
                    let expected = ids(&ferrogram_core::apply_query(all.clone(), &query));
                    let found = ids(&store.query(BOT, spec, scope, query).await.unwrap());
                    assert_eq!(found, expected, "{} {field} {op:?} {operand}", spec.name);
                    checked += usize::from(!expected.is_empty());
                }
            }
            for descending in [false, true] {
                let query = Query { order_by: Some((field.into(), descending)), ..Query::default() };
                let expected = ids(&ferrogram_core::apply_query(all.clone(), &query));
                let found = ids(&store.query(BOT, spec, scope, query).await.unwrap());
                assert_eq!(found, expected, "{} order by {field} descending {descending}", spec.name);
            }
        }
        assert!(checked > 100, "most cases select something: {checked}");
    }
}

async fn ordering_and_paging(store: Arc<dyn CollectionStore>) {
    let indexed = spec("indexed", &[], &["v", "name"]);
    let plain = spec("plain", &[], &[]);
    let scope = Scope::User(5);
    for value in mixed_values() {
        store.create(BOT, &indexed, scope, fields(value.clone())).await.unwrap();
        store.create(BOT, &plain, scope, fields(value)).await.unwrap();
    }
    // null/absent < false < true < numbers < strings (code points) < arrays < objects; ties by id.
    let ascending = vec![8, 9, 7, 6, 3, 1, 12, 2, 13, 4, 5, 10, 11];
    let by_name = vec![7, 8, 2, 9, 1, 13, 10, 11, 12, 4, 3, 5, 6];
    for spec in [&indexed, &plain] {
        let order = |field: &str, desc| Query { order_by: Some((field.into(), desc)), ..Query::default() };
        let all = |q| {
            let store = store.clone();
            let spec = spec.clone();
            async move { ids(&store.query(BOT, &spec, scope, q).await.unwrap()) }
        };
        assert_eq!(all(order("v", false)).await, ascending, "{}", spec.name);
        let mut descending = ascending.clone();
        descending.reverse();
        // Ties (8 and 9 are both null; 1 and 12 are both 1) stay in id order when descending.
        let tie = |v: &mut Vec<i64>, a: i64, b: i64| {
            let (i, j) = (v.iter().position(|x| *x == a).unwrap(), v.iter().position(|x| *x == b).unwrap());
            v.swap(i, j);
        };
        tie(&mut descending, 8, 9);
        tie(&mut descending, 1, 12);
        assert_eq!(all(order("v", true)).await, descending, "{}", spec.name);
        assert_eq!(all(order("name", false)).await, by_name, "{}", spec.name);
        assert_eq!(all(order("id", true)).await, (1..=13).rev().collect::<Vec<_>>(), "{}", spec.name);
        assert_eq!(all(Query::default()).await, (1..=13).collect::<Vec<_>>(), "{}", spec.name);
        let page = Query { order_by: Some(("v".into(), false)), limit: 4, offset: 3, ..Query::default() };
        assert_eq!(all(page).await, ascending[3..7], "{}", spec.name);
        let tail = Query { offset: 11, ..Query::default() };
        assert_eq!(all(tail).await, [12, 13], "offset without limit: {}", spec.name);
        let beyond = Query { limit: 5, offset: 50, ..Query::default() };
        assert!(all(beyond).await.is_empty());
        let filtered = Query {
            filters: vec![Filter { field: "v".into(), op: Op::Ge, value: json!(0) }],
            order_by: Some(("v".into(), true)),
            limit: 2,
            offset: 1,
        };
        assert_eq!(all(filtered).await, [2, 1], "{}", spec.name);
    }
}

async fn counting(store: Arc<dyn CollectionStore>) {
    let spec = shows_spec();
    assert_eq!(store.count(BOT, &spec, Scope::Bot, vec![]).await.unwrap(), 0);
    add_shows(store.as_ref(), &spec, Scope::Bot).await;
    assert_eq!(store.count(BOT, &spec, Scope::Bot, vec![]).await.unwrap(), SHOWS.len() as u64);
    let since_2017 = vec![Filter { field: "year".into(), op: Op::Ge, value: json!(2017) }];
    assert_eq!(store.count(BOT, &spec, Scope::Bot, since_2017).await.unwrap(), 5);
    let unindexed = vec![Filter { field: "title".into(), op: Op::Eq, value: json!("86") }];
    assert_eq!(store.count(BOT, &spec, Scope::Bot, unindexed).await.unwrap(), 1);
}

async fn search_tolerates_typos_and_stems(store: Arc<dyn CollectionStore>) {
    let spec = shows_spec();
    let scope = Scope::Chat(42);
    let shows = add_shows(store.as_ref(), &spec, scope).await;
    let (titan, frieren, blue_box, eighty_six) = (shows[0], shows[6], shows[5], shows[7]);
    let first = |text: &'static str| {
        let store = store.clone();
        let spec = spec.clone();
        async move {
            let hits = store.search(BOT, &spec, scope, text, 5).await.unwrap();
            assert!(!hits.is_empty(), "{text}: nothing found");
            hits[0].clone()
        }
    };
    assert_eq!(first("Attack on Titan").await.record.id, titan);
    assert!(first("Attack on Titan").await.exact);
    let typo = first("Atack on Titna").await;
    assert_eq!(typo.record.id, titan, "misspelled English title");
    assert!(!typo.exact, "a near match is not exact");
    assert_eq!(first("Sosou no Freiren").await.record.id, frieren, "misspelled romaji");
    assert_eq!(first("frier").await.record.id, frieren, "the last word as a prefix while typing");
    assert_eq!(first("frieren's").await.record.id, frieren, "possessive");
    assert_eq!(first("Атака на титанов").await.record.id, titan, "Russian title");
    assert_eq!(first("атака титанав").await.record.id, titan, "misspelled Russian title");
    assert_eq!(first("синюю коробку").await.record.id, blue_box, "Russian stemming");
    assert_eq!(first("Фрирен").await.record.id, frieren);
    assert_eq!(first("провожающий фрирен").await.record.id, frieren, "Russian stemming of a participle");
    assert_eq!(first("86").await.record.id, eighty_six, "digits are kept");
    assert_eq!(first("boxes").await.record.id, blue_box, "English stemming");
    assert!(store.search(BOT, &spec, scope, "zzzzqqq", 5).await.unwrap().is_empty());
    assert!(store.search(BOT, &spec, scope, "  ,.! ", 5).await.unwrap().is_empty());

    // Stemming both ways on records too: "подписки" finds "подписка", "running" finds "run".
    let words = spec_words();
    let sub = store.create(BOT, &words, scope, fields(json!({"text": "Подписка на новости"}))).await.unwrap().id;
    let run = store.create(BOT, &words, scope, fields(json!({"text": "Morning run"}))).await.unwrap().id;
    let found = store.search(BOT, &words, scope, "подписки", 5).await.unwrap();
    assert_eq!(hit_ids(&found), [sub]);
    assert!(found[0].exact, "the same stem is an exact match");
    assert_eq!(hit_ids(&store.search(BOT, &words, scope, "running", 5).await.unwrap()), [run]);
    assert_eq!(hit_ids(&store.search(BOT, &words, scope, "ПОДПИСОК", 5).await.unwrap()), [sub]);
}

fn spec_words() -> CollectionSpec {
    spec("words", &["text"], &[])
}

async fn search_ranks_and_offers_near_matches(store: Arc<dyn CollectionStore>) {
    let spec = shows_spec();
    let scope = Scope::Bot;
    let shows = add_shows(store.as_ref(), &spec, scope).await;
    let hits = store.search(BOT, &spec, scope, "attack on titan", 10).await.unwrap();
    assert_eq!(hits.len(), 4, "every Attack on Titan title: {:?}", hit_ids(&hits));
    assert_eq!(hits[0].record.id, shows[0], "the shortest title with every word ranks first");
    assert!(hits.iter().all(|h| h.exact));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score), "best first");
    assert_eq!(hit_ids(&store.search(BOT, &spec, scope, "attack on titan", 2).await.unwrap()), hit_ids(&hits[..2]));

    // The title (first searchable field) weighs more than the romaji.
    let weighted = spec.clone();
    store.create(BOT, &weighted, scope, fields(json!({"title": "Tsubasa", "romaji": "x"}))).await.unwrap();
    let tsubasa = store.search(BOT, &weighted, scope, "tsubasa", 10).await.unwrap();
    assert_eq!(tsubasa[0].record.fields["title"], json!("Tsubasa"));

    // Exact matches outrank near ones; a misspelling gives near matches to offer as buttons.
    store.create(BOT, &spec, scope, fields(json!({"title": "Titan"}))).await.unwrap();
    store.create(BOT, &spec, scope, fields(json!({"title": "Titans"}))).await.unwrap();
    store.create(BOT, &spec, scope, fields(json!({"title": "Tartan"}))).await.unwrap();
    let hits = store.search(BOT, &spec, scope, "titan", 20).await.unwrap();
    let exact: Vec<bool> = hits.iter().map(|h| h.exact).collect();
    assert!(exact.windows(2).all(|w| w[0] >= w[1]), "exact hits first: {exact:?}");
    let near = store.search(BOT, &spec, scope, "Bleu Boxx", 5).await.unwrap();
    assert_eq!(near[0].record.id, shows[5]);
    assert!(near.iter().all(|h| !h.exact), "all near matches");

    // The same search twice gives the same answer (order, scores).
    let again = store.search(BOT, &spec, scope, "titan", 20).await.unwrap();
    assert_eq!(again, hits);
}

async fn search_follows_updates_and_deletes(store: Arc<dyn CollectionStore>) {
    let spec = shows_spec();
    let scope = Scope::User(3);
    let shows = add_shows(store.as_ref(), &spec, scope).await;
    store.update(BOT, &spec, scope, shows[5], fields(json!({"title": "Green Crate"}))).await.unwrap();
    assert!(store.search(BOT, &spec, scope, "blue box", 5).await.unwrap().iter().all(|h| h.record.id != shows[5]));
    assert_eq!(hit_ids(&store.search(BOT, &spec, scope, "green crate", 5).await.unwrap()), [shows[5]]);
    store.delete(BOT, &spec, scope, shows[6]).await.unwrap();
    assert!(store.search(BOT, &spec, scope, "frieren", 5).await.unwrap().is_empty());
    // A new searchable value is found; an indexed filter follows the update.
    let year = vec![Filter { field: "year".into(), op: Op::Eq, value: json!(1999) }];
    store.update(BOT, &spec, scope, shows[7], fields(json!({"year": 1999}))).await.unwrap();
    assert_eq!(store.count(BOT, &spec, scope, year).await.unwrap(), 1);
}

async fn changing_the_spec_reindexes(store: Arc<dyn CollectionStore>) {
    let scope = Scope::Chat(8);
    let bare = spec("shows", &[], &[]);
    let shows = add_shows(store.as_ref(), &bare, scope).await;
    assert!(store.search(BOT, &bare, scope, "frieren", 5).await.unwrap().is_empty(), "nothing searchable");
    // The bot file now declares searchable and indexed fields: records written before count.
    let full = shows_spec();
    assert_eq!(store.search(BOT, &full, scope, "frieren", 5).await.unwrap()[0].record.id, shows[6]);
    let since_2017 = vec![Filter { field: "year".into(), op: Op::Ge, value: json!(2017) }];
    assert_eq!(store.count(BOT, &full, scope, since_2017.clone()).await.unwrap(), 5);
    let newest = Query { order_by: Some(("year".into(), true)), limit: 1, ..Query::default() };
    assert_eq!(ids(&store.query(BOT, &full, scope, newest).await.unwrap()), [shows[5]]);
    // And changed again: only the Russian titles are searched, titles are indexed.
    let russian = spec("shows", &["russian"], &["title"]);
    assert!(store.search(BOT, &russian, scope, "frieren", 5).await.unwrap().is_empty());
    assert_eq!(store.search(BOT, &russian, scope, "Фрирен", 5).await.unwrap()[0].record.id, shows[6]);
    let titled = vec![Filter { field: "title".into(), op: Op::Eq, value: json!("86") }];
    assert_eq!(store.count(BOT, &russian, scope, titled).await.unwrap(), 1);
    assert_eq!(store.count(BOT, &russian, scope, since_2017).await.unwrap(), 5, "unindexed: filtered in Rust");
    // Writes under the new spec keep working.
    let created = store.create(BOT, &russian, scope, fields(json!({"title": "x", "russian": "Новый"}))).await.unwrap();
    assert_eq!(hit_ids(&store.search(BOT, &russian, scope, "новый", 5).await.unwrap()), [created.id]);
}

/// Records in `theirs` never show through any call made in `ours`, and the other way round.
async fn isolated(store: &dyn CollectionStore, (bot_a, scope_a): (u64, Scope), (bot_b, scope_b): (u64, Scope)) {
    let spec = shows_spec();
    let mine = add_shows_of(store, bot_a, &spec, scope_a).await;
    let theirs = store.create(bot_b, &spec, scope_b, fields(json!({"title": "Secret Titan", "year": 2020}))).await;
    let theirs = theirs.unwrap().id;
    for id in mine.iter().copied().chain([theirs]) {
        let (in_a, in_b) = (mine.contains(&id), id == theirs);
        assert_eq!(store.get(bot_a, &spec, scope_a, id).await.unwrap().is_some(), in_a, "get {id} in a");
        assert_eq!(store.get(bot_b, &spec, scope_b, id).await.unwrap().is_some(), in_b, "get {id} in b");
    }
    let all = store.query(bot_b, &spec, scope_b, Query::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].fields["title"], json!("Secret Titan"));
    let ordered = Query { order_by: Some(("year".into(), true)), ..Query::default() };
    assert_eq!(store.query(bot_a, &spec, scope_a, ordered).await.unwrap().len(), SHOWS.len());
    let all_years = vec![Filter { field: "year".into(), op: Op::Gt, value: json!(0) }];
    assert_eq!(store.count(bot_a, &spec, scope_a, all_years.clone()).await.unwrap(), SHOWS.len() as u64);
    assert_eq!(store.count(bot_b, &spec, scope_b, all_years).await.unwrap(), 1);
    let secret = store.search(bot_a, &spec, scope_a, "secret", 10).await.unwrap();
    assert!(secret.is_empty(), "another scope's terms are not searched");
    let titans = store.search(bot_b, &spec, scope_b, "titan", 10).await.unwrap();
    assert_eq!(hit_ids(&titans), [theirs]);
    // Writes through the wrong scope miss (ids may coincide across bots: check by content).
    for id in mine.iter().copied() {
        if bot_a == bot_b || id != theirs {
            let patch = fields(json!({"title": "hijacked"}));
            assert_eq!(store.update(bot_b, &spec, scope_b, id, patch).await.unwrap(), None);
            assert!(!store.delete(bot_b, &spec, scope_b, id).await.unwrap());
        }
    }
    assert_eq!(store.count(bot_a, &spec, scope_a, vec![]).await.unwrap(), SHOWS.len() as u64);
    let titles = store.query(bot_a, &spec, scope_a, Query::default()).await.unwrap();
    assert!(titles.iter().all(|r| r.fields["title"] != json!("hijacked")));
}

async fn another_chats_records_never_come_back(store: Arc<dyn CollectionStore>) {
    isolated(store.as_ref(), (BOT, Scope::Chat(-100)), (BOT, Scope::Chat(100))).await;
}

async fn another_users_records_never_come_back(store: Arc<dyn CollectionStore>) {
    isolated(store.as_ref(), (BOT, Scope::User(1)), (BOT, Scope::User(2))).await;
    // A user and a chat with the same id are different scopes too, and so is the bot's.
    isolated(store.as_ref(), (BOT + 5, Scope::User(9)), (BOT + 5, Scope::Chat(9))).await;
}

async fn another_bots_records_never_come_back(store: Arc<dyn CollectionStore>) {
    isolated(store.as_ref(), (BOT, Scope::Bot), (BOT + 1, Scope::Bot)).await;
}

async fn another_collections_records_never_come_back(store: Arc<dyn CollectionStore>) {
    let (shows, other) = (shows_spec(), spec("other", &["title"], &["year"]));
    add_shows(store.as_ref(), &shows, Scope::Bot).await;
    assert!(store.query(BOT, &other, Scope::Bot, Query::default()).await.unwrap().is_empty());
    assert!(store.search(BOT, &other, Scope::Bot, "titan", 5).await.unwrap().is_empty());
    assert_eq!(store.get(BOT, &other, Scope::Bot, 1).await.unwrap(), None);
    assert!(!store.delete(BOT, &other, Scope::Bot, 1).await.unwrap());
    assert_eq!(store.count(BOT, &shows, Scope::Bot, vec![]).await.unwrap(), SHOWS.len() as u64);
}

/// What two stores must agree on: everything but the clock.
fn comparable(hits: Vec<Hit>) -> Vec<(i64, Map<String, Value>, u64, bool)> {
    hits.into_iter().map(|h| (h.record.id, h.record.fields, h.score.to_bits(), h.exact)).collect()
}

const QUERIES: &[&str] = &[
    "attack on titan",
    "Atack on Titna",
    "titan",
    "sosou no freiren",
    "frier",
    "атака на титанов",
    "атака титанав",
    "синяя коробка",
    "86",
    "no",
    "shingeki kyojin 2",
    "a place further",
    "bleu boxx",
    "2",
];

async fn answers(store: &dyn CollectionStore) -> Vec<Vec<(i64, Map<String, Value>, u64, bool)>> {
    let spec = shows_spec();
    add_shows(store, &spec, Scope::Chat(1)).await;
    store.update(BOT, &spec, Scope::Chat(1), 3, fields(json!({"title": "Attack on Titan Attack"}))).await.unwrap();
    store.delete(BOT, &spec, Scope::Chat(1), 4).await.unwrap();
    let mut out = Vec::new();
    for text in QUERIES {
        out.push(comparable(store.search(BOT, &spec, Scope::Chat(1), text, 10).await.unwrap()));
    }
    let ordered = Query { order_by: Some(("title".into(), false)), limit: 5, ..Query::default() };
    let records = store.query(BOT, &spec, Scope::Chat(1), ordered).await.unwrap();
    out.push(records.into_iter().map(|r| (r.id, r.fields, 0, false)).collect());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_sqlite_and_postgres_answer_identically() {
    let memory = answers(&MemoryCollections::new()).await;
    assert!(memory.iter().take(QUERIES.len()).filter(|a| !a.is_empty()).count() >= QUERIES.len() - 1);
    let sqlite = common::sqlite().await.unwrap();
    let on_sqlite = answers(&sqlite.store).await;
    sqlite.cleanup().await;
    for (i, (m, s)) in memory.iter().zip(&on_sqlite).enumerate() {
        assert_eq!(m, s, "memory vs SQLite on {:?}", QUERIES.get(i));
    }
    if let Some(postgres) = common::postgres().await {
        let on_postgres = answers(&postgres.store).await;
        postgres.cleanup().await;
        for (i, (s, p)) in on_sqlite.iter().zip(&on_postgres).enumerate() {
            assert_eq!(s, p, "SQLite vs PostgreSQL on {:?}", QUERIES.get(i));
        }
    }
}
