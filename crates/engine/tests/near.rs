//! `near` on the `query` step and `not_in` end to end: records within a distance of a point,
//! nearest first, with their `distance_km`; paged; excluded by a list.

mod common;

use common::{Bot, World, test_config};
use serde_json::json;

async fn say(world: &World, bot: Bot, user: i64, text: &str, after: &mut u64) -> String {
    world.act(bot, "text", user, json!({"text": text})).await;
    let (sent, last) = world.wait_sent(bot, user, *after, 1).await;
    *after = last;
    sent.join(" / ")
}

const PLACES: &str = r##"
ferrogram: 1
bot: {name: places}
errors: {reply: "Oops"}
collections:
  places:
    scope: bot
    fields: {name: string, lat: number, lon: number}
    index: [lat, lon]
on:
  - text: "/^add (\\S+) (\\S+) (\\S+)$/"
    do:
      - insert: {collection: places, values: {name: "{{ match.1 }}", lat: "{{ match.2 }}", lon: "{{ match.3 }}"}}
      - reply: "added {{ match.1 }}"
  - text: "/^near (\\S+) (\\S+) (\\d+)(?: but (\\S+))?(?: from (\\d+))?$/"
    do:
      - query:
          collection: places
          where: {name: {not_in: "{{ [match.4] if match.4 else [] }}"}}
          near: {lat: "{{ match.1 }}", lon: "{{ match.2 }}", within_km: "{{ match.3 }}"}
          offset: "{{ match.5 or 0 }}"
          limit: 2
          as: found
      - reply: "{% for p in found %}{{ p.name }} {{ p.distance_km }}{{ ', ' if not loop.last }}{% else %}none{% endfor %}"
  - text: "/^how far (\\S+) (\\S+)$/"
    do:
      - query: {collection: places, where: {name: "{{ match.1 }}"}, first: true, as: a}
      - query: {collection: places, where: {name: "{{ match.2 }}"}, first: true, as: b}
      - reply: "{{ distance_km(a.lat, a.lon, b.lat, b.lon) | round | int }} km"
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_keeps_records_within_the_distance_nearest_first() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(PLACES).await;
    let ann = world.user("Ann", "en").await;
    let mut after = 0;
    for place in ["Hamburg 53.55073 9.99302", "Moscow 55.75204 37.61781", "Berlin 52.52437 13.41053", "Nowhere x y"] {
        let name = place.split(' ').next().unwrap_or_default();
        let answer = say(&world, bot, ann, &format!("add {place}"), &mut after).await;
        let expected = if name == "Nowhere" { "Oops".to_owned() } else { format!("added {name}") };
        assert_eq!(answer, expected);
    }
    // From Potsdam: Berlin, then Hamburg; Moscow is too far.
    assert_eq!(say(&world, bot, ann, "near 52.39886 13.06566 300", &mut after).await, "Berlin 27.2, Hamburg 242.3");
    assert_eq!(say(&world, bot, ann, "near 52.39886 13.06566 2000", &mut after).await, "Berlin 27.2, Hamburg 242.3");
    assert_eq!(say(&world, bot, ann, "near 52.39886 13.06566 2000 from 2", &mut after).await, "Moscow 1635.3");
    assert_eq!(
        say(&world, bot, ann, "near 52.39886 13.06566 2000 but Berlin", &mut after).await,
        "Hamburg 242.3, Moscow 1635.3"
    );
    assert_eq!(say(&world, bot, ann, "near 52.39886 13.06566 10", &mut after).await, "none");
    assert_eq!(say(&world, bot, ann, "near 95 13 10", &mut after).await, "Oops");
    assert_eq!(say(&world, bot, ann, "how far Berlin Moscow", &mut after).await, "1608 km");
    world.engine.stop(bot.handle).await.expect("bot stops");
}
