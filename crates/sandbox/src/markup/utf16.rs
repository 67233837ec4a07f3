//! UTF-16 arithmetic: entity offsets and lengths count UTF-16 code units, the parsers read UTF-8.

/// The length of a string in UTF-16 code units, as entity offsets count.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// UTF-16 code units contributed by a UTF-8 byte (0 for continuation bytes).
pub(super) fn units(c: u8) -> usize {
    match c {
        0x80..=0xbf => 0,
        0xf0..=0xff => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::utf16_len;

    #[test]
    fn utf16_lengths() {
        assert_eq!(utf16_len(""), 0);
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len("é"), 1);
        assert_eq!(utf16_len("😀"), 2);
        assert_eq!(utf16_len("➡️"), 2);
        assert_eq!(utf16_len("a😀b"), 4);
    }
}
