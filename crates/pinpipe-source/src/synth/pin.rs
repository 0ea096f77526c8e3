//! Synthetic `pinterest_data` rows, with the real rows' sentinels and how they occur together.
//!
//! Each pin has one [`Shape`] (SPEC §1, per 1,000 pins): 900 clean (image, 3% video); 50 story format
//! (description `"No description available Story format"`, multi-video); 20 `"No description
//! available"`; 15 story format with `"Image src error."` and `downloaded` 0; 10 fully broken (every
//! sentinel, `downloaded` 0); 5 with only the tag-list sentinel.

use pinpipe_model::{PinPost, SAVE_LOCATION_PREFIX};
use rand::Rng;

use super::dist::weighted;
use super::poster::{pool_pick, poster};
use super::text::{description, tags, title};
use super::words::CATEGORIES;

/// The sentinels of the original scraper (SPEC §1).
pub(crate) mod sentinel {
    /// `title` when the scraper could not read it.
    pub const TITLE: &str = "No Title Data Available";
    /// `description` of story pins.
    pub const STORY: &str = "No description available Story format";
    /// `description` when there is none.
    pub const NO_DESCRIPTION: &str = "No description available";
    /// `poster_name` and `follower_count` when the scraper could not read them.
    pub const USER: &str = "User Info Error";
    /// `tag_list` when there are no tags.
    pub const TAGS: &str = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e";
    /// `image_src` when the scraper could not read it.
    pub const IMAGE: &str = "Image src error.";
}

/// The three media kinds.
pub(crate) mod media {
    /// A picture.
    pub const IMAGE: &str = "image";
    /// A video.
    pub const VIDEO: &str = "video";
    /// A story pin.
    pub const STORY: &str = "multi-video(story page format)";
}

/// Which sentinels a pin carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// No sentinel.
    Clean,
    /// Story description, multi-video.
    Story,
    /// `"No description available"`.
    NoDescription,
    /// Story description, image src error, not downloaded.
    StoryImageError,
    /// Every sentinel.
    Broken,
    /// Only the tag-list sentinel.
    NoTags,
}

/// Shapes per 1,000 pins.
const SHAPES: [(Shape, u32); 6] = [
    (Shape::Clean, 900),
    (Shape::Story, 50),
    (Shape::NoDescription, 20),
    (Shape::StoryImageError, 15),
    (Shape::Broken, 10),
    (Shape::NoTags, 5),
];

/// The pin of `key` in category `category` (index into [`CATEGORIES`]), whose block holds `block_len`
/// keys; `seed` picks the category's poster pool.
pub(crate) fn pin(
    rng: &mut impl Rng,
    seed: u64,
    key: i64,
    category: usize,
    block_len: u64,
) -> PinPost {
    let unique_id = uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string();
    let shape = weighted(rng, &SHAPES).unwrap_or(Shape::Clean);
    let tags = tags(rng, category);
    let title = title(rng, &tags);
    let description = description(rng, &tags);
    let poster = poster(seed, category, pool_pick(rng, block_len));
    let video = rng.random_bool(0.03);
    let image_src = image_src(rng, shape, video);
    let category_name = CATEGORIES.get(category).copied().unwrap_or("art");

    let media = match shape {
        Shape::Story | Shape::StoryImageError | Shape::Broken => media::STORY,
        _ if video => media::VIDEO,
        _ => media::IMAGE,
    };
    let description = match shape {
        Shape::Story | Shape::StoryImageError | Shape::Broken => sentinel::STORY.to_owned(),
        Shape::NoDescription => sentinel::NO_DESCRIPTION.to_owned(),
        Shape::Clean | Shape::NoTags => description,
    };
    let broken = shape == Shape::Broken;
    PinPost {
        index: key,
        unique_id,
        title: if broken {
            sentinel::TITLE.to_owned()
        } else {
            title
        },
        description,
        poster_name: if broken {
            sentinel::USER.to_owned()
        } else {
            poster.name
        },
        follower_count: if broken {
            sentinel::USER.to_owned()
        } else {
            poster.follower_count
        },
        tag_list: if broken || shape == Shape::NoTags {
            sentinel::TAGS.to_owned()
        } else {
            tags.join(",")
        },
        is_image_or_video: media.to_owned(),
        downloaded: i64::from(!matches!(shape, Shape::StoryImageError | Shape::Broken)),
        image_src,
        save_location: format!("{SAVE_LOCATION_PREFIX}/data/{category_name}"),
        category: category_name.to_owned(),
    }
}

/// An `i.pinimg.com` URL as the real rows have them (videos and stories link a thumbnail), or the
/// sentinel for shapes that carry it.
fn image_src(rng: &mut impl Rng, shape: Shape, video: bool) -> String {
    let hash: u128 = rng.random();
    let png = rng.random_bool(0.15);
    if matches!(shape, Shape::StoryImageError | Shape::Broken) {
        return sentinel::IMAGE.to_owned();
    }
    let hex = format!("{hash:032x}");
    let dirs = format!("{}/{}/{}", &hex[0..2], &hex[2..4], &hex[4..6]);
    if video || shape == Shape::Story {
        format!("https://i.pinimg.com/videos/thumbnails/originals/{dirs}/{hex}.0000001.jpg")
    } else {
        let ext = if png { "png" } else { "jpg" };
        format!("https://i.pinimg.com/originals/{dirs}/{hex}.{ext}")
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn shapes_carry_their_sentinels() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut seen = 0;
        for key in 0..3000 {
            let p = pin(&mut rng, 1, key, 4, 500);
            assert_eq!(p.category, "education");
            assert_eq!(p.save_location, "Local save in /data/education");
            if p.title == sentinel::TITLE {
                seen += 1;
                assert_eq!(p.poster_name, sentinel::USER);
                assert_eq!(p.follower_count, sentinel::USER);
                assert_eq!(p.tag_list, sentinel::TAGS);
                assert_eq!(p.image_src, sentinel::IMAGE);
                assert_eq!(p.description, sentinel::STORY);
                assert_eq!(p.downloaded, 0);
            }
            if p.image_src == sentinel::IMAGE {
                assert_eq!(p.description, sentinel::STORY);
                assert_eq!(p.is_image_or_video, media::STORY);
                assert_eq!(p.downloaded, 0);
            } else {
                assert_eq!(p.downloaded, 1);
                assert!(p.image_src.starts_with("https://i.pinimg.com/"));
            }
            if p.description == sentinel::STORY {
                assert_eq!(p.is_image_or_video, media::STORY);
            }
            assert!(uuid::Uuid::parse_str(&p.unique_id).is_ok_and(|u| u.get_version_num() == 4));
        }
        assert!(seen > 10, "{seen}");
    }
}
