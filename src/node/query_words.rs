//! A query's criteria split into words once, for both the library match and the result
//! cache's key.
//!
//! Nearly every query is a few lower-case ASCII words: those are split in one pass over
//! the bytes through a class table, without decoding UTF-8 or allocating, and the words
//! handed to both consumers (each used to split the criteria again, with a separate
//! pass to check that the fast split applies). Anything else (upper case, non-ASCII,
//! more than `INLINE_WORDS` words) is left to each consumer's own normalising path, so
//! what matches and what is cached under which key are unchanged.

/// What a query byte is to the split: a separator, part of a word, or a reason to
/// normalise the whole criteria first (upper case, non-ASCII).
pub(super) const SEPARATOR: u8 = 0;
pub(super) const WORD: u8 = 1;
pub(super) const NEEDS_NORMALISING: u8 = 2;

pub(super) const BYTE_CLASS: [u8; 256] = {
    let mut class = [NEEDS_NORMALISING; 256];
    let mut b = 0;
    while b < 128 {
        class[b] = match b as u8 {
            b'a'..=b'z' | b'0'..=b'9' => WORD,
            b'A'..=b'Z' => NEEDS_NORMALISING,
            _ => SEPARATOR,
        };
        b += 1;
    }
    class
};

/// Words held on the stack.
pub(super) const INLINE_WORDS: usize = 8;

/// The words of lower-case ASCII criteria (runs of letters and digits, in order, repeats
/// kept): what splitting the normalised criteria at every non-alphanumeric character
/// gives. Held as byte spans, 40 bytes in all: filled in place and passed by reference
/// (returning a larger array of slices by value cost a copy that stalled on the stores
/// just made, slower than splitting twice).
#[derive(Clone, Copy, Debug)]
pub struct QueryWords<'q> {
    text: &'q [u8],
    spans: [(u16, u16); INLINE_WORDS],
    len: u8,
}

impl<'q> QueryWords<'q> {
    /// The words of `criteria`, or `None` when they need normalising or are more than
    /// `INLINE_WORDS`.
    pub fn split(criteria: &'q str) -> Option<QueryWords<'q>> {
        let mut words = QueryWords::empty();
        words.fill(criteria).then_some(words)
    }

    /// No words.
    pub fn empty() -> QueryWords<'q> {
        QueryWords {
            text: &[],
            spans: [(0, 0); INLINE_WORDS],
            len: 0,
        }
    }

    /// Splits `criteria` into `self`; false (and `self` unusable) when they need
    /// normalising or have more than `INLINE_WORDS` words.
    pub fn fill(&mut self, criteria: &'q str) -> bool {
        let bytes = criteria.as_bytes();
        self.text = bytes;
        self.len = 0;
        if bytes.len() > usize::from(u16::MAX) {
            return false;
        }
        let mut start = None;
        for (i, &b) in bytes.iter().enumerate() {
            match BYTE_CLASS[usize::from(b)] {
                WORD => {
                    if start.is_none() {
                        start = Some(i);
                    }
                }
                SEPARATOR => {
                    if let Some(s) = start.take() {
                        if !self.push(s, i) {
                            return false;
                        }
                    }
                }
                _ => return false,
            }
        }
        match start {
            Some(s) => self.push(s, bytes.len()),
            None => true,
        }
    }

    fn push(&mut self, start: usize, end: usize) -> bool {
        match self.spans.get_mut(usize::from(self.len)) {
            Some(span) => {
                // Both fit: the text is at most u16::MAX bytes.
                *span = (start as u16, end as u16);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The two words, in order, when there are exactly two (most queries).
    #[inline]
    pub fn pair(&self) -> Option<(&'q [u8], &'q [u8])> {
        let word = |&(s, e): &(u16, u16)| self.text.get(usize::from(s)..usize::from(e));
        match (self.len, &self.spans) {
            (2, [a, b, ..]) => Some((word(a)?, word(b)?)),
            _ => None,
        }
    }

    /// The words, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'q [u8]> + '_ {
        let text = self.text;
        self.spans
            .iter()
            .take(usize::from(self.len))
            .map(move |&(s, e)| text.get(usize::from(s)..usize::from(e)).unwrap_or_default())
    }
}

/// The words of lower-case ASCII criteria as an iterator (any number of them).
pub(super) struct AsciiWords<'a>(pub(super) &'a [u8]);

impl<'a> Iterator for AsciiWords<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let is_word = |b: &u8| BYTE_CLASS[usize::from(*b)] == WORD;
        let start = self.0.iter().position(is_word)?;
        let rest = self.0.get(start..).unwrap_or_default();
        let len = rest.iter().position(|b| !is_word(b)).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(len);
        self.0 = tail;
        Some(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Option<Vec<&[u8]>> {
        QueryWords::split(text).map(|w| w.iter().collect())
    }

    #[test]
    fn lower_case_ascii_splits_like_the_iterator() {
        for text in [
            "",
            "  ",
            "a",
            "debian  netinst-12.5 iso",
            "x,y;;z ",
            "a a a",
        ] {
            let iter: Vec<&[u8]> = AsciiWords(text.as_bytes()).collect();
            assert_eq!(split(text), Some(iter), "{text:?}");
        }
    }

    #[test]
    fn upper_case_non_ascii_and_many_words_are_left_to_normalising() {
        assert_eq!(split("Debian"), None);
        assert_eq!(split("café"), None);
        let eight: Vec<&[u8]> = b"abcdefgh".chunks(1).collect();
        assert_eq!(split("a b c d e f g h"), Some(eight));
        assert_eq!(split("a b c d e f g h i"), None);
        let pair = |text| QueryWords::split(text).and_then(|w| w.pair());
        assert_eq!(pair("ab, cd"), Some((&b"ab"[..], &b"cd"[..])));
        assert_eq!(pair("ab"), None);
        assert_eq!(pair("ab cd e"), None);
    }
}
