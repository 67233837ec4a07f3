//! Byte helpers the parsers share: TDLib's `is_space`, lossy decoding, and the opening of a pre
//! block (its language and the line break after it) that both Markdown modes read alike.

/// TDLib's `is_space`, which also counts the terminating NUL.
pub(super) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0 | 0x0b)
}

pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Length of the single line break skipped at the start of a pre block ("\n", "\r", "\r\n", "\n\r").
pub(super) fn newline_skip(s: &[u8], i: usize) -> usize {
    let at = |k: usize| s.get(k).copied().unwrap_or(0);
    match at(i) {
        b'\n' | b'\r' if matches!(at(i + 1), b'\n' | b'\r') && at(i) != at(i + 1) => 2,
        b'\n' | b'\r' => 1,
        _ => 0,
    }
}

/// The language after "```": up to a space or backtick, and only if more text follows it.
pub(super) fn pre_language(text: &str, i: usize) -> Option<&str> {
    let s = text.as_bytes();
    let mut end = i;
    while end < s.len() && !is_space(s[end]) && s[end] != b'`' {
        end += 1;
    }
    (end != i && end < s.len() && s[end] != b'`').then(|| &text[i..end])
}
