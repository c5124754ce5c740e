//! Invisible characters in the model's output (reliability.md D-6, E-8;
//! CVE-2021-42574 "Trojan Source", ASCII smuggling with tag characters).
//!
//! Hidden: every Unicode `Default_Ignorable_Code_Point` (soft hyphen U+00AD, U+034F,
//! Hangul fillers U+115F/U+1160/U+3164/U+FFA0, U+17B4/U+17B5, Mongolian selectors
//! U+180B–U+180F, zero-width characters U+200B–U+200F, U+2060–U+206F, variation
//! selectors U+FE00–U+FE0F and U+E0100–U+E01EF, U+FEFF, musical formatting
//! U+1D173–U+1D17A, tag characters U+E0000–U+E007F, …), taken from the `regex`
//! crate's Unicode tables (`\p{Default_Ignorable_Code_Point}`) so the set follows
//! Unicode releases without a table of our own; plus what that property leaves out
//! but still hides or moves text: the bidi controls (U+061C, U+200E/U+200F,
//! U+202A–U+202E, U+2066–U+2069), the line and paragraph separators U+2028/U+2029
//! (a line break to some tools, none to others), and the interlinear annotation
//! characters U+FFF9–U+FFFB.
//!
//! Decisions:
//! * U+200D ZERO WIDTH JOINER is **kept** when it joins two pictographic characters
//!   (an emoji ZWJ sequence such as 👨‍👩‍👧, optionally with U+FE0F or a skin tone
//!   before it); anywhere else it is hidden. This needs no knowledge of the
//!   selection, so the rule is the same for every caller.
//! * U+FE0E/U+FE0F (text and emoji presentation) are kept right after a pictograph
//!   or before a keycap U+20E3 (❤️, 1️⃣), where they are visible in effect; anywhere
//!   else, like U+FE00–U+FE0D, they are hidden.
//! * Tag characters are always hidden, even in emoji subdivision flags (🏴 + tags):
//!   such flags are rare in code and tags are the smuggling channel.

use std::sync::LazyLock;

use regex::Regex;

/// `Default_Ignorable_Code_Point` from the regex crate's Unicode data; `None` (logged)
/// should it fail to compile, and then the explicit list below still applies.
static DEFAULT_IGNORABLE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^\p{Default_Ignorable_Code_Point}$")
        .inspect_err(|e| tracing::error!(error = %e, "Default_Ignorable_Code_Point unavailable"))
        .ok()
});

/// Hidden characters in `text` with their char indices (Unicode scalar values).
pub fn find_hidden(text: &str) -> Vec<(usize, char)> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .iter()
        .enumerate()
        .filter(|&(i, &c)| is_hidden(c) && !kept_in_emoji(&chars, i))
        .map(|(i, &c)| (i, c))
        .collect()
}

/// `text` without its hidden characters, and the characters removed, in order.
pub fn strip_hidden(text: &str) -> (String, Vec<char>) {
    let hidden = find_hidden(text);
    if hidden.is_empty() {
        return (text.to_owned(), Vec::new());
    }
    let mut out = String::with_capacity(text.len());
    let mut next = hidden.iter().peekable();
    for (i, c) in text.chars().enumerate() {
        if next.peek().is_some_and(|&&(j, _)| j == i) {
            next.next();
        } else {
            out.push(c);
        }
    }
    (out, hidden.into_iter().map(|(_, c)| c).collect())
}

/// A person-readable list: distinct characters in order of first appearance,
/// e.g. `U+202E RIGHT-TO-LEFT OVERRIDE, U+200B ZERO WIDTH SPACE (×3)`.
pub fn describe(chars: &[char]) -> String {
    let mut distinct: Vec<(char, usize)> = Vec::new();
    for &c in chars {
        match distinct.iter_mut().find(|(d, _)| *d == c) {
            Some((_, n)) => *n += 1,
            None => distinct.push((c, 1)),
        }
    }
    distinct
        .iter()
        .map(|&(c, n)| {
            let mut s = format!("U+{:04X}", u32::from(c));
            if let Some(name) = name(c) {
                s.push(' ');
                s.push_str(name);
            }
            if n > 1 {
                s.push_str(&format!(" (×{n})"));
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

const ZWJ: char = '\u{200D}';

fn is_hidden(c: char) -> bool {
    if c.is_ascii() {
        return false;
    }
    let explicit = matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    );
    explicit
        || DEFAULT_IGNORABLE
            .as_ref()
            .is_some_and(|re| re.is_match(c.encode_utf8(&mut [0; 4])))
}

/// A ZWJ inside an emoji sequence, or a presentation selector on a pictograph or
/// keycap: visible in effect, kept.
fn kept_in_emoji(chars: &[char], i: usize) -> bool {
    match chars[i] {
        ZWJ => joins_emoji(chars, i),
        '\u{FE0E}' | '\u{FE0F}' => {
            let after_pictograph = i.checked_sub(1).is_some_and(|b| is_pictographic(chars[b]));
            let before_keycap = chars.get(i + 1) == Some(&'\u{20E3}');
            after_pictograph || before_keycap
        }
        _ => false,
    }
}

/// An approximation of Unicode's Extended_Pictographic (plus skin tones).
fn is_pictographic(c: char) -> bool {
    matches!(
        c,
        '\u{00A9}'
            | '\u{00AE}'
            | '\u{203C}'
            | '\u{2049}'
            | '\u{2122}'
            | '\u{2139}'
            | '\u{2194}'..='\u{21AA}'
            | '\u{2300}'..='\u{23FF}'
            | '\u{25A0}'..='\u{27BF}'
            | '\u{2B00}'..='\u{2BFF}'
            | '\u{3030}'
            | '\u{303D}'
            | '\u{3297}'
            | '\u{3299}'
            | '\u{1F000}'..='\u{1FAFF}'
    )
}

/// The ZWJ at `i` sits between two pictographs (U+FE0F may precede it).
fn joins_emoji(chars: &[char], i: usize) -> bool {
    let mut before = i.checked_sub(1);
    if let Some(b) = before.filter(|&b| chars[b] == '\u{FE0F}') {
        before = b.checked_sub(1);
    }
    let before_ok = before.is_some_and(|b| is_pictographic(chars[b]));
    let after_ok = chars.get(i + 1).is_some_and(|&c| is_pictographic(c));
    before_ok && after_ok
}

fn name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2060}' => "WORD JOINER",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE",
        '\u{00AD}' => "SOFT HYPHEN",
        '\u{034F}' => "COMBINING GRAPHEME JOINER",
        '\u{115F}' => "HANGUL CHOSEONG FILLER",
        '\u{1160}' => "HANGUL JUNGSEONG FILLER",
        '\u{17B4}' => "KHMER VOWEL INHERENT AQ",
        '\u{17B5}' => "KHMER VOWEL INHERENT AA",
        '\u{180E}' => "MONGOLIAN VOWEL SEPARATOR",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{2061}' => "FUNCTION APPLICATION",
        '\u{2062}' => "INVISIBLE TIMES",
        '\u{2063}' => "INVISIBLE SEPARATOR",
        '\u{2064}' => "INVISIBLE PLUS",
        '\u{206A}'..='\u{206F}' => "DEPRECATED FORMAT CHARACTER",
        '\u{3164}' => "HANGUL FILLER",
        '\u{FE00}'..='\u{FE0F}' => "VARIATION SELECTOR",
        '\u{FFA0}' => "HALFWIDTH HANGUL FILLER",
        '\u{FFF9}' => "INTERLINEAR ANNOTATION ANCHOR",
        '\u{FFFA}' => "INTERLINEAR ANNOTATION SEPARATOR",
        '\u{FFFB}' => "INTERLINEAR ANNOTATION TERMINATOR",
        '\u{1D173}'..='\u{1D17A}' => "MUSICAL SYMBOL FORMAT CHARACTER",
        '\u{E0100}'..='\u{E01EF}' => "VARIATION SELECTOR",
        '\u{E0001}' => "LANGUAGE TAG",
        '\u{E007F}' => "CANCEL TAG",
        '\u{E0020}'..='\u{E007E}' => "TAG CHARACTER",
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_table() {
        let cases: [(&str, Vec<(usize, char)>); 9] = [
            ("let x = 1;", vec![]),
            ("a\u{202E}b", vec![(1, '\u{202E}')]),
            (
                "if x\u{2066} {\u{2069}",
                vec![(4, '\u{2066}'), (7, '\u{2069}')],
            ),
            (
                "x\u{200B}y\u{200C}z",
                vec![(1, '\u{200B}'), (3, '\u{200C}')],
            ),
            ("\u{FEFF}fn main", vec![(0, '\u{FEFF}')]),
            (
                "a\u{E0041}\u{E0042}",
                vec![(1, '\u{E0041}'), (2, '\u{E0042}')],
            ),
            ("é😀\u{200E}", vec![(2, '\u{200E}')]),
            ("a\u{200D}b", vec![(1, '\u{200D}')]),
            ("\u{061C}\u{2060}", vec![(0, '\u{061C}'), (1, '\u{2060}')]),
        ];
        for (text, want) in cases {
            assert_eq!(find_hidden(text), want, "{text:?}");
        }
    }

    #[test]
    fn zwj_inside_emoji_sequences_is_kept() {
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        let heart = "\u{2764}\u{FE0F}\u{200D}\u{1F525}";
        let woman_doctor = "\u{1F469}\u{1F3FD}\u{200D}\u{2695}\u{FE0F}";
        for text in [family, heart, woman_doctor] {
            assert!(find_hidden(text).is_empty(), "{text}");
        }
        // ZWJ at either end, or next to a letter, is hidden.
        assert_eq!(find_hidden("\u{200D}\u{1F468}").len(), 1);
        assert_eq!(find_hidden("\u{1F468}\u{200D}").len(), 1);
        assert_eq!(find_hidden("\u{1F468}\u{200D}x").len(), 1);
    }

    #[test]
    fn tag_characters_are_hidden_even_in_flags() {
        let england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        assert_eq!(find_hidden(england).len(), 6);
    }

    #[test]
    fn strip_hidden_removes_and_reports() {
        let (clean, removed) = strip_hidden("if a\u{202E} == b\u{200B} {}");
        assert_eq!(clean, "if a == b {}");
        assert_eq!(removed, vec!['\u{202E}', '\u{200B}']);
        let (same, none) = strip_hidden("plain 😀 text");
        assert_eq!(same, "plain 😀 text");
        assert!(none.is_empty());
    }

    #[test]
    fn describe_names_common_ones_and_counts_repeats() {
        assert_eq!(
            describe(&['\u{202E}', '\u{200B}', '\u{200B}']),
            "U+202E RIGHT-TO-LEFT OVERRIDE, U+200B ZERO WIDTH SPACE (×2)"
        );
        assert_eq!(describe(&['\u{E0100}']), "U+E0100 VARIATION SELECTOR");
        assert_eq!(describe(&[]), "");
    }

    #[test]
    fn default_ignorables_separators_and_annotations_are_hidden() {
        // regression: these were applied silently
        let cases = [
            '\u{3164}',
            '\u{115F}',
            '\u{FFA0}',
            '\u{180E}',
            '\u{00AD}',
            '\u{034F}',
            '\u{17B4}',
            '\u{206A}',
            '\u{206F}',
            '\u{FE00}',
            '\u{FE0F}',
            '\u{1D173}',
            '\u{1D17A}',
            '\u{FFF9}',
            '\u{FFFB}',
            '\u{2028}',
            '\u{2029}',
            '\u{1BCA0}',
        ];
        for c in cases {
            let text = format!("let a{c} = 1;");
            assert_eq!(find_hidden(&text), vec![(5, c)], "U+{:04X}", u32::from(c));
        }
        // from the Unicode property, not the explicit list
        assert!(is_hidden('\u{1BCA1}') && is_hidden('\u{E0FFF}'));
        for c in ['a', 'é', '€', '\u{00A0}', '\u{3000}', '中'] {
            assert!(!is_hidden(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn presentation_selectors_on_emoji_and_keycaps_are_kept() {
        for text in ["\u{2764}\u{FE0F}", "1\u{FE0F}\u{20E3}", "\u{263A}\u{FE0E}"] {
            assert!(find_hidden(text).is_empty(), "{text}");
        }
        assert_eq!(find_hidden("x\u{FE0F}").len(), 1);
        assert_eq!(find_hidden("1\u{FE0F}").len(), 1);
    }
}
