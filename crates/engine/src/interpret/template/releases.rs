//! Template functions for release titles, as fansub groups and trackers write them:
//!
//! - `parse_release(title)`: `[SubsPlease] Sousou no Frieren - 05 (1080p) [ABCD1234].mkv` →
//!   `{group: "SubsPlease", title: "Sousou no Frieren", episode: 5, resolution: "1080p",
//!   version: 1, crc: "ABCD1234"}`; a part it cannot find is `none` (a volume or a batch has no
//!   `episode`). `none` for an empty title.
//! - `missing_episodes(last, episode)`: the episode numbers between two releases, the gap:
//!   `missing_episodes(4, 7)` → `[5, 6]`; `[]` when `last` is `none` (nothing seen yet) or the
//!   episodes follow each other.

use std::sync::LazyLock;

use minijinja::Environment;
use minijinja::value::Value as JinjaValue;
use regex::Regex;
use serde::Serialize;

/// The most numbers `missing_episodes` lists.
const MAX_GAP: i64 = 100;

/// The parts of a release title.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Release {
    pub group: Option<String>,
    pub title: String,
    pub episode: Option<u32>,
    pub resolution: Option<String>,
    pub version: u32,
    pub crc: Option<String>,
}

/// Adds `parse_release` and `missing_episodes` to a bot's template environment.
pub fn register(env: &mut Environment<'static>) {
    env.add_function("parse_release", |title: Option<String>| -> JinjaValue {
        match title.as_deref().and_then(parse) {
            Some(release) => crate::interpret::template::to_jinja(&release),
            None => JinjaValue::from(()),
        }
    });
    env.add_function("missing_episodes", |last: Option<i64>, episode: Option<i64>| -> JinjaValue {
        JinjaValue::from(missing(last, episode))
    });
}

/// The numbers strictly between `last` and `episode` (at most [`MAX_GAP`]).
pub fn missing(last: Option<i64>, episode: Option<i64>) -> Vec<i64> {
    match (last, episode) {
        (Some(last), Some(episode)) if episode > last + 1 => (last + 1..episode).take(MAX_GAP as usize).collect(),
        _ => Vec::new(),
    }
}

static EXTENSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)[. ](mkv|mp4|avi|ts|m2ts|webm|wmv|zip|rar|7z|torrent)$").expect("regex"));
static LEADING_GROUP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*[\[(]([^\])]+)[\])]").expect("regex"));
static TRAILING_GROUP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[([^\]\s]+)\]\s*$").expect("regex"));
static BRACKETS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[[^\]]*\]|\([^)]*\)").expect("regex"));
static RESOLUTION_P: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{3,4})[pP]\b").expect("regex"));
static RESOLUTION_X: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{3,4}[xX×](\d{3,4})").expect("regex"));
static RESOLUTION_4K: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b4K\b").expect("regex"));
static CRC: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[\[(]([0-9A-Fa-f]{8})[\])]").expect("regex"));
/// `Title - 05`, `Title - 05v2`, `Title - 05 END`: the last ` - NN`.
static DASH_EPISODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.*\S)\s+-\s+(\d{1,4})(?:[vV](\d))?(?:\s|$)").expect("regex"));
/// `Title EP07`, `Title E07`, `Title #07`, `Title S01E07`.
static MARKED_EPISODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.*?)\s*(?:-\s*)?(?:\bS\d{1,2}E|\bEP?\.?\s?|#)(\d{1,4})(?:[vV](\d))?\b").expect("regex")
});
/// `Title 05`, `Title 05v2` at the end.
static TRAILING_EPISODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.*\S)\s+(\d{1,4})(?:[vV](\d))?$").expect("regex"));
/// Volumes, chapters and batches have no episode.
static NOT_EPISODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[\s\-])(?:vol(?:ume)?\.?\s*\d|ch(?:apter)?\.?\s*\d|\d{1,4}\s*~\s*\d{1,4}|batch\b)")
        .expect("regex")
});

/// Splits a release title into its parts; `None` for an empty title.
pub fn parse(raw: &str) -> Option<Release> {
    let mut text = raw.trim().to_owned();
    if text.is_empty() {
        return None;
    }
    text = EXTENSION.replace(&text, "").into_owned();
    if text.matches('_').count() > text.matches(' ').count() {
        text = text.replace('_', " ");
    }
    let mut release = Release { version: 1, ..Release::default() };
    let mut rest = match LEADING_GROUP.captures(&text) {
        Some(captures) => {
            release.group = Some(captures[1].trim().to_owned());
            text[captures.get(0).map_or(0, |m| m.end())..].to_owned()
        }
        None => text.clone(),
    };
    if release.group.is_none()
        && let Some(captures) = TRAILING_GROUP.captures(&rest)
    {
        let candidate = captures[1].to_owned();
        let technical = CRC.is_match(&format!("[{candidate}]")) || RESOLUTION_P.is_match(&candidate);
        if !technical {
            release.group = Some(candidate);
            rest = rest[..captures.get(0).map_or(rest.len(), |m| m.start())].to_owned();
        }
    }
    release.resolution = RESOLUTION_P
        .captures(&rest)
        .map(|c| format!("{}p", &c[1]))
        .or_else(|| RESOLUTION_X.captures(&rest).map(|c| format!("{}p", &c[1])))
        .or_else(|| RESOLUTION_4K.is_match(&rest).then(|| "2160p".to_owned()));
    release.crc = CRC.captures(&rest).map(|c| c[1].to_ascii_uppercase());
    let core = BRACKETS.replace_all(&rest, " ");
    let core = core.split_whitespace().collect::<Vec<_>>().join(" ");
    let core = core.trim_start_matches(['-', ' ']).trim_end_matches(['-', ' ', '.']).to_owned();
    let (title, episode, version) = episode_of(&core);
    release.title = title.trim().trim_end_matches(['-', ' ']).trim().to_owned();
    if release.title.is_empty() {
        release.title = core;
    }
    release.episode = episode;
    if let Some(version) = version {
        release.version = version;
    }
    Some(release)
}

/// The title before the episode number, the episode and its version.
fn episode_of(core: &str) -> (String, Option<u32>, Option<u32>) {
    if NOT_EPISODE.is_match(core) {
        let cut = NOT_EPISODE.find(core).map_or(core.len(), |m| m.start());
        return (core[..cut].to_owned(), None, None);
    }
    for pattern in [&*DASH_EPISODE, &*MARKED_EPISODE, &*TRAILING_EPISODE] {
        if let Some(captures) = pattern.captures(core)
            && let Ok(episode) = captures[2].parse::<u32>()
        {
            let title = captures.get(1).map_or("", |m| m.as_str()).to_owned();
            if title.trim().is_empty() {
                continue;
            }
            let version = captures.get(3).and_then(|v| v.as_str().parse().ok());
            return (title, Some(episode), version);
        }
    }
    (core.to_owned(), None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(title: &str) -> (Option<String>, String, Option<u32>, Option<String>) {
        let r = parse(title).expect("parsed");
        (r.group, r.title, r.episode, r.resolution)
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn the_usual_shapes_parse() {
        let r = parse("[SubsPlease] Sousou no Frieren - 05 (1080p) [ABCD1234].mkv").expect("parsed");
        assert_eq!(r.group.as_deref(), Some("SubsPlease"));
        assert_eq!(r.title, "Sousou no Frieren");
        assert_eq!(r.episode, Some(5));
        assert_eq!(r.resolution.as_deref(), Some("1080p"));
        assert_eq!(r.version, 1);
        assert_eq!(r.crc.as_deref(), Some("ABCD1234"));
        assert_eq!(parse("[Erai-raws] Dandadan - 03v2 [720p].mkv").map(|r| r.version), Some(2));
        assert_eq!(
            parts("[finFAGs]_Frame_Arms_Girl_07_(1280x720_TV_AAC)_[1262B6F7].mkv"),
            (some("finFAGs"), "Frame Arms Girl".into(), Some(7), some("720p"))
        );
        assert_eq!(
            parts("[Doki] PriPara   50 (848x480 h264 AAC) [6F0B49FD] mkv"),
            (some("Doki"), "PriPara".into(), Some(50), some("480p"))
        );
        assert_eq!(parts("DAYS - 05 (1280x720 HEVC2 AAC).mkv"), (None, "DAYS".into(), Some(5), some("720p")));
        assert_eq!(
            parts("[JIGGYSUB] KOI KOI 7 EP07 [R2DVD 420P H264 AC3]"),
            (some("JIGGYSUB"), "KOI KOI 7".into(), Some(7), some("420p"))
        );
        assert_eq!(
            parts("Macross Zero (BDRip 1920x1080p x265 HEVC TrueHD, FLAC 5.1+2.0)[sxales]"),
            (some("sxales"), "Macross Zero".into(), None, some("1080p"))
        );
        assert_eq!(
            parts("[FFF] Ore Monogatari!! - Vol.01 [BD][720p-AAC]"),
            (some("FFF"), "Ore Monogatari!!".into(), None, some("720p"))
        );
        assert_eq!(parts("Fumetsu no Anata e - 19 [WEBDL 1080p] Ukr DVO").2, Some(19));
        assert_eq!(parse("   "), None);
    }

    #[test]
    fn gaps_are_the_numbers_between() {
        assert_eq!(missing(Some(4), Some(7)), vec![5, 6]);
        assert_eq!(missing(Some(4), Some(5)), Vec::<i64>::new());
        assert_eq!(missing(None, Some(5)), Vec::<i64>::new());
        assert_eq!(missing(Some(6), Some(2)), Vec::<i64>::new());
        assert_eq!(missing(Some(0), Some(1000)).len(), MAX_GAP as usize);
    }

    /// Every release title of the recorded feeds (nyaa, AnimeTosho, Doki, Fanzub): most give a
    /// title and an episode; the rest (volumes, chapters, batches) at least a title.
    #[test]
    fn the_recorded_feed_titles_parse() {
        let Some(feeds) = crate::interpret::steps::feeds::tests::recorded_feeds() else { return };
        let mut titles = Vec::new();
        for (_, body) in &feeds {
            let parsed = crate::interpret::steps::feeds::parse(body, 1000).expect("a feed");
            titles.extend(parsed.items.iter().filter_map(|i| i["title"].as_str().map(str::to_owned)));
        }
        assert!(titles.len() >= 19, "only {} titles", titles.len());
        let mut with_episode = 0;
        for title in &titles {
            let release = parse(title).unwrap_or_else(|| panic!("{title:?} did not parse"));
            assert!(!release.title.is_empty(), "{title:?}: no title");
            assert!(!release.title.contains('['), "{title:?}: title {:?}", release.title);
            if release.episode.is_some() {
                with_episode += 1;
            }
        }
        let share = with_episode as f64 / titles.len() as f64;
        assert!(share >= 0.8, "{with_episode} of {} titles have an episode", titles.len());
    }
}
