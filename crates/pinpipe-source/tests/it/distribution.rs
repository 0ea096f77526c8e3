//! The synthetic rows look like the real ones (SPEC §1), measured on 20,000 rows.

use std::collections::{BTreeMap, BTreeSet};

use pinpipe_model::{Table, TableBuilder};
use pinpipe_source::Post;
use pinpipe_source::synth::Generator;

const ROWS: usize = 20_000;

fn rows() -> Vec<Post> {
    Generator::new(ROWS as u64, 2024).collect()
}

/// Share of `rows` for which `f` holds.
fn share(rows: &[Post], f: impl Fn(&Post) -> bool) -> f64 {
    rows.iter().filter(|p| f(p)).count() as f64 / rows.len() as f64
}

fn assert_near(name: &str, got: f64, want: f64, tolerance: f64) {
    assert!(
        (got - want).abs() <= tolerance,
        "{name}: {got:.4}, expected {want} ± {tolerance}"
    );
}

const STORY: &str = "No description available Story format";
const NO_DESCRIPTION: &str = "No description available";
const USER_ERROR: &str = "User Info Error";
const NO_TAGS: &str = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e";
const IMAGE_ERROR: &str = "Image src error.";
const NO_TITLE: &str = "No Title Data Available";
const MULTI: &str = "multi-video(story page format)";

#[test]
fn follower_count_formats() {
    let rows = rows();
    let count = |p: &Post| p.pin.follower_count.clone();
    let k = share(&rows, |p| {
        count(p)
            .strip_suffix('k')
            .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| (1..=999).contains(&n)))
    });
    let m = share(&rows, |p| {
        count(p)
            .strip_suffix('M')
            .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| (1..=15).contains(&n)))
    });
    let plain = share(&rows, |p| count(p).parse::<u32>().is_ok_and(|n| n < 1000));
    let error = share(&rows, |p| count(p) == USER_ERROR);
    assert_near("k", k, 0.74, 0.06);
    assert_near("plain", plain, 0.17, 0.05);
    assert_near("M", m, 0.07, 0.03);
    assert_near("User Info Error", error, 0.01, 0.004);
    assert_near("every format", k + m + plain + error, 1.0, 1e-9);
}

#[test]
fn sentinels_occur_together_as_in_the_real_rows() {
    let rows = rows();
    let clean = share(&rows, |p| {
        let pin = &p.pin;
        ![STORY, NO_DESCRIPTION].contains(&pin.description.as_str())
            && pin.title != NO_TITLE
            && pin.tag_list != NO_TAGS
            && pin.image_src != IMAGE_ERROR
            && pin.poster_name != USER_ERROR
            && pin.downloaded == 1
    });
    let story = share(&rows, |p| {
        p.pin.description == STORY
            && p.pin.is_image_or_video == MULTI
            && p.pin.image_src != IMAGE_ERROR
    });
    let no_description = share(&rows, |p| p.pin.description == NO_DESCRIPTION);
    let story_image_error = share(&rows, |p| {
        p.pin.description == STORY
            && p.pin.image_src == IMAGE_ERROR
            && p.pin.downloaded == 0
            && p.pin.title != NO_TITLE
    });
    let broken = share(&rows, |p| {
        let pin = &p.pin;
        pin.title == NO_TITLE
            && pin.description == STORY
            && pin.poster_name == USER_ERROR
            && pin.follower_count == USER_ERROR
            && pin.tag_list == NO_TAGS
            && pin.image_src == IMAGE_ERROR
            && pin.downloaded == 0
    });
    let tags_only = share(&rows, |p| {
        p.pin.tag_list == NO_TAGS && p.pin.title != NO_TITLE
    });
    assert_near("clean", clean, 0.90, 0.01);
    assert_near("story", story, 0.05, 0.006);
    assert_near("no description", no_description, 0.02, 0.004);
    assert_near("story + image error", story_image_error, 0.015, 0.004);
    assert_near("broken", broken, 0.01, 0.003);
    assert_near("tag sentinel only", tags_only, 0.005, 0.002);
    assert_near(
        "all shapes",
        clean + story + no_description + story_image_error + broken + tags_only,
        1.0,
        1e-9,
    );
}

#[test]
fn pin_fields_have_the_real_shapes() {
    let rows = rows();
    let mut ids = BTreeSet::new();
    for p in &rows {
        let pin = &p.pin;
        assert_eq!(
            pin.save_location,
            format!("Local save in /data/{}", pin.category)
        );
        assert!(["image", "video", MULTI].contains(&pin.is_image_or_video.as_str()));
        assert!(
            pin.tag_list == NO_TAGS || !pin.tag_list.contains(", "),
            "{}",
            pin.tag_list
        );
        assert!(ids.insert(pin.unique_id.clone()));
        let id = uuid::Uuid::parse_str(&pin.unique_id);
        assert!(id.is_ok_and(|u| u.get_version_num() == 4));
    }
    let tagged: Vec<&Post> = rows.iter().filter(|p| p.pin.tag_list != NO_TAGS).collect();
    let nine = tagged
        .iter()
        .filter(|p| p.pin.tag_list.split(',').count() == 9)
        .count();
    assert!(nine as f64 / tagged.len() as f64 > 0.97);

    let nbsp = share(&rows, |p| p.pin.description.ends_with('\u{a0}'));
    assert_near("descriptions ending in U+00A0", nbsp, 0.37 * 0.925, 0.03);
    let text = |p: &Post| {
        format!(
            "{} {} {}",
            p.pin.title, p.pin.description, p.pin.poster_name
        )
    };
    let cyrillic = share(&rows, |p| {
        text(p).chars().any(|c| ('\u{400}'..'\u{500}').contains(&c))
    });
    let greek = share(&rows, |p| {
        text(p).chars().any(|c| ('\u{370}'..'\u{400}').contains(&c))
    });
    let emoji = share(&rows, |p| text(p).chars().any(|c| c >= '\u{1F300}'));
    assert!(cyrillic > 0.005 && cyrillic < 0.05, "cyrillic {cyrillic}");
    assert!(greek > 0.002 && greek < 0.03, "greek {greek}");
    assert!(emoji > 0.005 && emoji < 0.1, "emoji {emoji}");
    let trailing = share(&rows, |p| p.pin.poster_name.ends_with(' '));
    assert!(
        trailing > 0.002 && trailing < 0.05,
        "trailing spaces {trailing}"
    );
    let media = |m: &str| share(&rows, |p| p.pin.is_image_or_video == m);
    assert_near("video", media("video"), 0.03, 0.01);
    assert_near("multi-video", media(MULTI), 0.075, 0.01);
}

#[test]
fn posters_repeat_with_one_follower_count() {
    let rows = rows();
    let mut posters: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for p in rows.iter().filter(|p| p.pin.poster_name != USER_ERROR) {
        posters
            .entry((p.pin.category.as_str(), p.pin.poster_name.as_str()))
            .or_default()
            .insert(p.pin.follower_count.as_str());
    }
    assert!(
        posters.len() < rows.len() * 3 / 4,
        "{} posters",
        posters.len()
    );
    let consistent = posters.values().filter(|c| c.len() == 1).count();
    assert!(consistent as f64 / posters.len() as f64 > 0.95);
}

#[test]
fn geo_and_user_fields() {
    let rows = rows();
    let countries: BTreeSet<&str> = rows.iter().map(|p| p.geo.country.as_str()).collect();
    assert!(
        (200..=243).contains(&countries.len()),
        "{} countries",
        countries.len()
    );
    for named in [
        "Antarctica (the territory South of 60 deg S)",
        "Cote d'Ivoire",
        "British Indian Ocean Territory (Chagos Archipelago)",
    ] {
        assert!(countries.contains(named), "{named}");
    }
    for p in &rows {
        let g = &p.geo;
        assert!((-90.0..=90.0).contains(&g.latitude) && (-180.0..=180.0).contains(&g.longitude));
        for x in [g.latitude, g.longitude] {
            let digits = x.abs().to_string().replace('.', "");
            assert!(digits.trim_start_matches('0').len() <= 6, "{x}");
        }
        assert!(("2017-10-20 00:00:00"..="2022-10-16 23:59:59").contains(&g.timestamp.as_str()));
        assert_eq!(g.timestamp.len(), 19);
        let u = &p.user;
        assert!((20..=60).contains(&u.age));
        assert!(("2015-10-21 00:00:00"..="2017-10-18 23:59:59").contains(&u.date_joined.as_str()));
    }
    let spans = |f: &dyn Fn(&Post) -> f64| {
        let v: Vec<f64> = rows.iter().map(f).collect();
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let (lat_lo, lat_hi) = spans(&|p| p.geo.latitude);
    let (lng_lo, lng_hi) = spans(&|p| p.geo.longitude);
    assert!(lat_lo < -85.0 && lat_hi > 60.0, "{lat_lo}..{lat_hi}");
    assert!(lng_lo < -175.0 && lng_hi > 150.0, "{lng_lo}..{lng_hi}");
    let (age_lo, age_hi) = spans(&|p| p.user.age as f64);
    assert_eq!((age_lo, age_hi), (20.0, 60.0));
    let years: BTreeSet<&str> = rows.iter().map(|p| &p.geo.timestamp[..4]).collect();
    assert_eq!(
        years.into_iter().collect::<Vec<_>>(),
        ["2017", "2018", "2019", "2020", "2021", "2022"]
    );

    let names: BTreeSet<(&str, &str)> = rows
        .iter()
        .map(|p| (p.user.first_name.as_str(), p.user.last_name.as_str()))
        .collect();
    assert!(
        names.len() < rows.len() * 9 / 10,
        "{} distinct names",
        names.len()
    );
}

#[test]
fn every_synthetic_record_cleans_without_rejects() {
    let rows = rows();
    let mut builders = Table::ALL.map(TableBuilder::new);
    for (i, p) in rows.iter().enumerate() {
        let values = [
            serde_json::to_value(&p.pin),
            serde_json::to_value(&p.geo),
            serde_json::to_value(&p.user),
        ];
        for (builder, value) in builders.iter_mut().zip(values) {
            let value = value.unwrap_or_default();
            builder.push_raw(&value.to_string(), "synthetic", i as i64);
        }
    }
    for builder in &builders {
        assert_eq!(builder.rejected_len(), 0, "{}", builder.table());
        assert_eq!(builder.len(), ROWS);
    }
}
