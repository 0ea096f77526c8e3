//! The free text of a synthetic pin: tags, title and description, in the real rows' shapes.
//!
//! - tags: usually 9 distinct tags of the pin's category, joined by `,` without spaces;
//! - titles: a tag alone or in a headline pattern; ~1.5% in Cyrillic or Greek, ~3% with an emoji, long
//!   ones cut with `…`;
//! - descriptions: one to four sentences about the pin's tags, from templates or filler words; ~37%
//!   cut off mid-sentence and ending in `…` + U+00A0 as Pinterest truncates them; ~1.5% with Cyrillic
//!   or Greek, ~3% with an emoji.

use rand::Rng;

use super::dist::{pick, skewed_index, weighted};
use super::words::words;

/// The real rows almost always carry 9 tags.
const TAGS: usize = 9;
/// Titles longer than this many characters are cut with `…`.
const TITLE_MAX_CHARS: usize = 100;
/// How real descriptions end when Pinterest truncates them.
pub(crate) const TRUNCATION: &str = "…\u{a0}";

/// Distinct tags of category `category` (index into `CATEGORIES`), the most used more often: 9 in 99%
/// of pins, 5 to 8 otherwise.
pub(crate) fn tags(rng: &mut impl Rng, category: usize) -> Vec<&'static str> {
    let pool = words().tags.get(category).map_or(&[][..], Vec::as_slice);
    let want = if rng.random_bool(0.99) {
        TAGS
    } else {
        rng.random_range(5..TAGS)
    }
    .min(pool.len());
    let mut chosen: Vec<&'static str> = Vec::with_capacity(want);
    // Skewed draws favour the most used tags; after a few collisions fall back to uniform draws, which
    // finish quickly because `want` is well below `pool.len()`.
    let mut attempts = 0;
    while chosen.len() < want {
        attempts += 1;
        let i = if attempts < 40 {
            skewed_index(rng, pool.len())
        } else {
            rng.random_range(0..pool.len())
        };
        if !chosen.contains(&pool[i]) {
            chosen.push(pool[i]);
        }
    }
    chosen
}

/// The shapes of titles, by weight.
#[derive(Clone, Copy)]
enum TitleShape {
    Tag,
    Listicle,
    HowTo,
    Pair,
    Best,
    Long,
}

/// A title about `tags` (at least one).
pub(crate) fn title(rng: &mut impl Rng, tags: &[&str]) -> String {
    let w = words();
    let tag = |rng: &mut _| pick(rng, tags);
    let script = rng.random_range(0..1000);
    if script < 10 {
        let a = pick(rng, &w.cyrillic);
        let b = pick(rng, &w.cyrillic);
        return format!("〚 {a} 〛 ◾ {b} ◾ {}", tag(rng));
    }
    if script < 15 {
        return format!("{} - {}", pick(rng, &w.greek), tag(rng));
    }
    let shapes = [
        (TitleShape::Tag, 30),
        (TitleShape::Listicle, 20),
        (TitleShape::HowTo, 12),
        (TitleShape::Pair, 15),
        (TitleShape::Best, 13),
        (TitleShape::Long, 10),
    ];
    let mut title = match weighted(rng, &shapes).unwrap_or(TitleShape::Tag) {
        TitleShape::Tag => tag(rng).to_owned(),
        TitleShape::Listicle => format!(
            "{} {} Ideas You Will Love",
            rng.random_range(5..=50),
            tag(rng)
        ),
        TitleShape::HowTo => format!("How to Make {} the Easy Way", tag(rng)),
        TitleShape::Pair => format!("{} | {}", tag(rng), tag(rng)),
        TitleShape::Best => format!(
            "The Best {} for {}",
            tag(rng),
            rng.random_range(2017..=2022)
        ),
        TitleShape::Long => tags.join(" "),
    };
    if title.chars().count() > TITLE_MAX_CHARS {
        title = title.chars().take(TITLE_MAX_CHARS - 1).collect();
        title.truncate(title.trim_end().len());
        title.push('…');
    } else if rng.random_bool(0.03) {
        title.push(' ');
        title.push_str(pick(rng, &w.emoji));
    }
    title
}

/// A description about `tags` (at least one).
pub(crate) fn description(rng: &mut impl Rng, tags: &[&str]) -> String {
    let w = words();
    let mut text = String::with_capacity(256);
    let script = rng.random_range(0..1000);
    if script < 10 {
        text.push_str(pick(rng, &w.cyrillic));
        text.push_str(". ");
    } else if script < 15 {
        text.push_str(pick(rng, &w.greek));
        text.push_str(". ");
    }
    let sentences = rng.random_range(1..=4);
    for n in 0..sentences {
        if n > 0 {
            text.push(' ');
        }
        let tag = pick(rng, tags);
        sentence(rng, &mut text, tag);
    }
    if rng.random_bool(0.03) {
        text.push(' ');
        text.push_str(pick(rng, &w.emoji));
    }
    if rng.random_bool(0.37) {
        let keep = rng.random_range(80..=170);
        if text.chars().count() > keep {
            text = text.chars().take(keep).collect();
            text.truncate(text.trim_end().len());
        }
        text.push_str(TRUNCATION);
    }
    text
}

/// Appends one sentence about `tag`: a template (60%) or filler words around it.
fn sentence(rng: &mut impl Rng, out: &mut String, tag: &str) {
    let w = words();
    if rng.random_bool(0.6) {
        let template = pick(rng, &w.sentences);
        let text = template
            .replace("{Tag}", tag)
            .replace("{tag}", &tag.to_lowercase());
        out.push_str(&text);
        if !text.ends_with('?') {
            out.push(if rng.random_bool(0.8) { '.' } else { '!' });
        }
        return;
    }
    let filler = &w.filler;
    let len = rng.random_range(6..=16);
    let tag_at = rng.random_range(0..len);
    for i in 0..len {
        let word = if i == tag_at { tag } else { pick(rng, filler) };
        if i == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push(' ');
            out.push_str(word);
        }
    }
    out.push(if rng.random_bool(0.8) { '.' } else { '!' });
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn tags_are_distinct_and_mostly_nine() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut nine = 0;
        for i in 0..1000 {
            let t = tags(&mut rng, i % 13);
            let mut d = t.clone();
            d.sort_unstable();
            d.dedup();
            assert_eq!(d.len(), t.len());
            assert!((5..=9).contains(&t.len()));
            nine += usize::from(t.len() == 9);
        }
        assert!(nine > 970, "{nine}");
    }

    #[test]
    fn titles_and_descriptions_look_real() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let mut truncated = 0;
        for _ in 0..2000 {
            let t = tags(&mut rng, 3);
            let title = title(&mut rng, &t);
            assert!(!title.is_empty() && title.chars().count() <= TITLE_MAX_CHARS + 3);
            let d = description(&mut rng, &t);
            assert!(!d.is_empty());
            truncated += usize::from(d.ends_with(TRUNCATION));
        }
        assert!((600..900).contains(&truncated), "{truncated}");
    }
}
