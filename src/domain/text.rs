//! Free text from users (names, foods, symptoms, notes, AI chat messages) is sanitized once, here:
//! HTML tags and script/style content removed, entities decoded (so "Fish &amp; chips" is stored as
//! "Fish & chips" rather than escaped twice, the old backend's bug), control characters other than
//! tab and line breaks dropped, surrounding white space trimmed.
//! Length rules are applied by the caller to the sanitized text.

use std::collections::HashSet;
use std::sync::LazyLock;

static STRIP_ALL_TAGS: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::empty();
    builder.clean_content_tags(HashSet::from(["script", "style", "iframe", "noscript", "template"]));
    builder
});

/// Rounds of strip-and-decode before giving up on reaching plain text (each round undoes one level
/// of HTML escaping; text escaped more often than this is a deliberate attempt).
const MAX_ROUNDS: usize = 16;

/// Removes markup and trims. Strips tags and decodes entities until the text no longer changes, so
/// markup entity-encoded any number of times (`&amp;amp;lt;script&amp;amp;gt;`) cannot survive as a
/// tag once decoded: the result is a fixed point, text in which an HTML parser finds no tag and no
/// entity. Text still changing after `MAX_ROUNDS` loses every `<` and `>`, so no tag survives either.
pub fn sanitize(input: &str) -> String {
    let input = without_control_characters(input);
    // Fast path: nothing that could be markup or an entity.
    if !input.contains(['<', '&']) {
        return input.trim().to_owned();
    }
    let mut current = input.into_owned();
    let mut stable = false;
    for _ in 0..MAX_ROUNDS {
        let cleaned = STRIP_ALL_TAGS.clean(&current).to_string();
        let decoded = html_escape::decode_html_entities(&cleaned).into_owned();
        if decoded == current {
            stable = true;
            break;
        }
        current = decoded;
    }
    if !stable {
        current.retain(|c| !matches!(c, '<' | '>'));
    }
    // Decoding can produce control characters (`&#1;`), so they are dropped again afterwards.
    without_control_characters(&current).trim().to_owned()
}

/// Control characters carry no meaning in names, foods or notes and confuse terminals and logs.
fn without_control_characters(input: &str) -> std::borrow::Cow<'_, str> {
    let unwanted = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
    if input.contains(unwanted) {
        input.chars().filter(|c| !unwanted(*c)).collect()
    } else {
        input.into()
    }
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn strips_tags_and_script_content() {
        assert_eq!(sanitize("<b>Oats</b>"), "Oats");
        assert_eq!(sanitize("Eggs<script>alert(1)</script>"), "Eggs");
        assert_eq!(sanitize("<img src=x onerror=alert(1)>Toast"), "Toast");
        assert_eq!(sanitize("<style>body{}</style>  Tea  "), "Tea");
    }

    #[test]
    fn keeps_plain_text_unescaped() {
        assert_eq!(sanitize("Fish & chips"), "Fish & chips");
        assert_eq!(sanitize("3 < 4 and 5 > 2"), "3 < 4 and 5 > 2");
        assert_eq!(sanitize("  café  "), "café");
        assert_eq!(sanitize("Fish &amp; chips"), "Fish & chips");
        assert_eq!(sanitize("\u{0}a\u{1c}b\u{7f}\tc\n"), "ab\tc");
        assert_eq!(sanitize("&#1;a&#127;b&#x81;c &#9;"), "abc");
    }

    #[test]
    fn encoded_markup_does_not_survive() {
        assert_eq!(sanitize("&lt;script&gt;alert(1)&lt;/script&gt;hi"), "hi");
        assert_eq!(sanitize("&lt;b&gt;bold&lt;/b&gt;"), "bold");
    }

    /// `text` HTML-escaped `rounds` times (`<` → `&lt;` → `&amp;lt;` …).
    fn escaped(text: &str, rounds: usize) -> String {
        (0..rounds).fold(text.to_owned(), |text, _| html_escape::encode_text(&text).into_owned())
    }

    #[test]
    fn markup_escaped_up_to_six_times_does_not_survive() {
        for rounds in 1..=6 {
            assert_eq!(
                sanitize(&escaped("<script>alert(1)</script>Oats", rounds)),
                "Oats",
                "{rounds} rounds"
            );
            assert_eq!(
                sanitize(&escaped("<img src=x onerror=alert(1)>Toast", rounds)),
                "Toast",
                "{rounds} rounds"
            );
            assert_eq!(
                sanitize(&escaped("<b>Fish &amp; chips</b>", rounds)),
                "Fish & chips",
                "{rounds} rounds"
            );
            assert_eq!(sanitize(&escaped("3 < 4", rounds)), "3 < 4", "{rounds} rounds");
        }
    }

    #[test]
    fn no_tag_survives_any_escaping_depth() {
        for rounds in [7, 15, 16, 17, 40, 200] {
            let clean = sanitize(&escaped("<script>alert(1)</script>Oats", rounds));
            assert!(!clean.contains('<'), "{rounds} rounds: {clean}");
            let clean = sanitize(&escaped("<img src=x onerror=alert(1)>", rounds));
            assert!(!clean.contains('<'), "{rounds} rounds: {clean}");
        }
    }
}
