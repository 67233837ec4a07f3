//! "Did you mean …?" for keys, values, scenes, variables and text keys.

/// The candidate closest to `word`, when it is close enough to be what was meant.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, f64, &'a str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let cand_lower = candidate.to_lowercase();
        let distance = strsim::damerau_levenshtein(&lower, &cand_lower);
        let similarity = strsim::jaro_winkler(&lower, &cand_lower);
        let longest = lower.chars().count().max(cand_lower.chars().count());
        let close =
            distance == 0 || (longest >= 3 && distance <= (longest / 3).max(1)) || (longest >= 5 && similarity >= 0.9);
        if !close {
            continue;
        }
        let better = match best {
            None => true,
            Some((d, s, _)) => distance < d || (distance == d && similarity > s),
        };
        if better {
            best = Some((distance, similarity, candidate));
        }
    }
    best.map(|(_, _, c)| c)
}

/// "did you mean `x`?", or the list of what is allowed when nothing is close (and the list is
/// short enough to read).
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> Option<String> {
    if let Some(best) = did_you_mean(word, candidates.clone()) {
        return Some(format!("did you mean `{best}`?"));
    }
    one_of(candidates)
}

/// "expected one of: `a`, `b`, `c`", when there are at most 30.
pub fn one_of<'a>(candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let all: Vec<&str> = candidates.into_iter().collect();
    if all.is_empty() || all.len() > 30 {
        return None;
    }
    let list: Vec<String> = all.iter().map(|c| format!("`{c}`")).collect();
    Some(format!("expected one of: {}", list.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("replay", ["reply", "edit", "answer"]), Some("reply"));
        assert_eq!(did_you_mean("scenez", ["scenes", "bot", "on"]), Some("scenes"));
        assert_eq!(did_you_mean("Goto", ["goto", "call"]), Some("goto"));
        assert_eq!(did_you_mean("mnu", ["menu", "start"]), Some("menu"));
        assert_eq!(did_you_mean("xyz", ["reply", "edit"]), None);
        assert_eq!(did_you_mean("on", ["do", "bot"]), None);
        assert_eq!(did_you_mean("on_entr", ["on_enter", "on", "form"]), Some("on_enter"));
    }
}
