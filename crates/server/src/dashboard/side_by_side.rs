//! Two versions of a bot file side by side: rows of (old line, new line), each side with its
//! line number, marked equal, removed, added or changed, around the changes with three lines
//! of context (the API's `/diff` is the same comparison as a unified diff).

use serde::Serialize;
use similar::{DiffTag, TextDiff};

/// One row of the comparison; a side is `None` where it has no line.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Row {
    /// `equal`, `removed`, `added`, `changed`, or `gap` (lines left out between hunks).
    pub kind: &'static str,
    pub old_no: Option<usize>,
    pub old: Option<String>,
    pub new_no: Option<usize>,
    pub new: Option<String>,
}

/// The rows comparing `old` with `new`; empty when they are the same.
pub fn rows(old: &str, new: &str) -> Vec<Row> {
    let diff = TextDiff::from_lines(old, new);
    let (old_lines, new_lines): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let line = |lines: &[&str], i: usize| lines.get(i).map(|l| (*l).to_owned());
    let mut rows = Vec::new();
    for (n, group) in diff.grouped_ops(3).into_iter().enumerate() {
        if n > 0 {
            rows.push(Row { kind: "gap", old_no: None, old: None, new_no: None, new: None });
        }
        for op in group {
            let (tag, olds, news) = op.as_tag_tuple();
            let kind = match tag {
                DiffTag::Equal => "equal",
                DiffTag::Delete => "removed",
                DiffTag::Insert => "added",
                DiffTag::Replace => "changed",
            };
            for k in 0..olds.len().max(news.len()) {
                let (o, nw) = (olds.start + k, news.start + k);
                let old_side = (k < olds.len()).then(|| (o + 1, line(&old_lines, o)));
                let new_side = (k < news.len()).then(|| (nw + 1, line(&new_lines, nw)));
                rows.push(Row {
                    kind,
                    old_no: old_side.as_ref().map(|s| s.0),
                    old: old_side.and_then(|s| s.1),
                    new_no: new_side.as_ref().map(|s| s.0),
                    new: new_side.and_then(|s| s.1),
                });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_faces_its_new_text_and_an_added_one_has_no_old_side() {
        let rows = rows("a\nb\nc\n", "a\nB\nc\nd\n");
        let kinds: Vec<_> = rows.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, ["equal", "changed", "equal", "added"]);
        assert_eq!((rows[1].old.as_deref(), rows[1].new.as_deref()), (Some("b"), Some("B")));
        assert_eq!((rows[3].old_no, rows[3].new_no, rows[3].new.as_deref()), (None, Some(4), Some("d")));
    }

    #[test]
    fn far_apart_changes_are_two_hunks_and_same_files_no_rows() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new = old.replace("2\n", "two\n").replace("19\n", "nineteen\n");
        assert!(rows(&old, &new).iter().any(|r| r.kind == "gap"));
        assert!(rows(&old, &old).is_empty());
    }
}
