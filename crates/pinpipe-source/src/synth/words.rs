//! The word lists synthetic rows are made of, embedded from `data/*.txt` (one entry a line, `#` starts
//! a comment line). They are data, not code: edit the files to change what the rows say.

use std::sync::OnceLock;

/// The 13 categories, in the order of their key blocks (SPEC §1).
pub const CATEGORIES: [&str; 13] = [
    "art",
    "beauty",
    "christmas",
    "diy-and-crafts",
    "education",
    "event-planning",
    "finance",
    "home-decor",
    "mens-fashion",
    "quotes",
    "tattoos",
    "travel",
    "vehicles",
];

/// Every embedded list, parsed once.
pub(crate) struct Words {
    /// Faker's country names, in Faker's (mostly alphabetical) order.
    pub countries: Vec<&'static str>,
    /// Given names (Faker's), sorted.
    pub first_names: Vec<&'static str>,
    /// Family names (Faker's), sorted.
    pub last_names: Vec<&'static str>,
    /// Filler words for descriptions.
    pub filler: Vec<&'static str>,
    /// Sentence templates for descriptions, with `{Tag}` or `{tag}` in them.
    pub sentences: Vec<&'static str>,
    /// Words for posters' brand names.
    pub brands: Vec<&'static str>,
    /// Second halves of posters' names.
    pub poster_suffixes: Vec<&'static str>,
    /// Cyrillic phrases.
    pub cyrillic: Vec<&'static str>,
    /// Greek phrases.
    pub greek: Vec<&'static str>,
    /// Emoji and symbols.
    pub emoji: Vec<&'static str>,
    /// Tags of each category (index as in [`CATEGORIES`]), most used first.
    pub tags: Vec<Vec<&'static str>>,
}

/// The embedded lists.
pub(crate) fn words() -> &'static Words {
    static WORDS: OnceLock<Words> = OnceLock::new();
    WORDS.get_or_init(|| Words {
        countries: lines(include_str!("../../data/countries.txt")),
        first_names: lines(include_str!("../../data/first_names.txt")),
        last_names: lines(include_str!("../../data/last_names.txt")),
        filler: lines(include_str!("../../data/words.txt")),
        sentences: lines(include_str!("../../data/sentences.txt")),
        brands: lines(include_str!("../../data/brands.txt")),
        poster_suffixes: lines(include_str!("../../data/poster_suffixes.txt")),
        cyrillic: lines(include_str!("../../data/cyrillic.txt")),
        greek: lines(include_str!("../../data/greek.txt")),
        emoji: lines(include_str!("../../data/emoji.txt")),
        tags: tags_by_category(include_str!("../../data/tags.txt")),
    })
}

/// The non-empty, non-comment lines of `text`.
fn lines(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// `category<TAB>tag` lines grouped by category; lines of unknown categories are ignored.
fn tags_by_category(text: &'static str) -> Vec<Vec<&'static str>> {
    let mut tags = vec![Vec::new(); CATEGORIES.len()];
    for line in lines(text) {
        let Some((category, tag)) = line.split_once('\t') else {
            continue;
        };
        if let Some(i) = CATEGORIES.iter().position(|c| *c == category) {
            tags[i].push(tag);
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_complete() {
        let w = words();
        assert_eq!(w.countries.len(), 243);
        for named in [
            "Antarctica (the territory South of 60 deg S)",
            "Cote d'Ivoire",
            "British Indian Ocean Territory (Chagos Archipelago)",
        ] {
            assert!(w.countries.contains(&named), "{named}");
        }
        let mut unique = w.countries.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), w.countries.len());
        assert!(w.first_names.len() >= 100 && w.last_names.len() >= 100);
        assert!(w.first_names.is_sorted() && w.last_names.is_sorted());
        for list in [
            &w.filler,
            &w.sentences,
            &w.brands,
            &w.poster_suffixes,
            &w.cyrillic,
            &w.greek,
            &w.emoji,
        ] {
            assert!(!list.is_empty());
        }
        for (category, tags) in CATEGORIES.iter().zip(&w.tags) {
            assert!(tags.len() >= 20, "{category} has {} tags", tags.len());
            assert!(
                tags.iter()
                    .all(|t| !t.contains(',') && !t.trim().is_empty())
            );
        }
    }
}
