//! The source rows exactly as the original sends them on the wire (SPEC §1/§2): field names, order and
//! types of its MySQL tables. The source database, the emulator and tests build and send these.

use serde::{Deserialize, Serialize};

/// A row of `pinterest_data`, sent to the pin topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PinPost {
    /// The key (`ind` in the other tables).
    pub index: i64,
    /// A UUID4.
    pub unique_id: String,
    /// Title, or `"No Title Data Available"`.
    pub title: String,
    /// Description, or one of two "No description available" sentinels.
    pub description: String,
    /// Poster's name, or `"User Info Error"`.
    pub poster_name: String,
    /// As Pinterest shows it: `"437"`, `"12k"`, `"3M"`, or `"User Info Error"`.
    pub follower_count: String,
    /// Comma-separated tags, or the sentinel `"N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"`.
    pub tag_list: String,
    /// `image`, `video` or `multi-video(story page format)`.
    pub is_image_or_video: String,
    /// Image URL, or `"Image src error."`.
    pub image_src: String,
    /// 1 when the image was downloaded, else 0.
    pub downloaded: i64,
    /// `"Local save in /data/<category>"`.
    pub save_location: String,
    /// One of 13 categories (`art`, `beauty`, …).
    pub category: String,
}

/// A row of `geolocation_data`, sent to the geo topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeoRecord {
    /// The key.
    pub ind: i64,
    /// When the post was made, `"YYYY-MM-DD HH:MM:SS"` (UTC).
    pub timestamp: String,
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// Country name.
    pub country: String,
}

/// A row of `user_data`, sent to the user topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The key.
    pub ind: i64,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Age in years.
    pub age: i64,
    /// When the user joined, `"YYYY-MM-DD HH:MM:SS"` (UTC).
    pub date_joined: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_serializes_in_wire_order() {
        let pin = PinPost {
            index: 1,
            unique_id: "u".into(),
            title: "t".into(),
            description: "d".into(),
            poster_name: "p".into(),
            follower_count: "5k".into(),
            tag_list: "a,b".into(),
            is_image_or_video: "image".into(),
            image_src: "s".into(),
            downloaded: 1,
            save_location: "Local save in /data/art".into(),
            category: "art".into(),
        };
        let json = serde_json::to_string(&pin).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"index":1,"unique_id":"u","title":"t","description":"d","poster_name":"p","follower_count":"5k","tag_list":"a,b","is_image_or_video":"image","image_src":"s","downloaded":1,"save_location":"Local save in /data/art","category":"art"}"#
        );
        assert_eq!(serde_json::from_str::<PinPost>(&json).ok(), Some(pin));
    }

    #[test]
    fn geo_serializes_in_wire_order() {
        let geo = GeoRecord {
            ind: 7528,
            timestamp: "2020-08-28 03:52:47".into(),
            latitude: -89.9787,
            longitude: -173.293,
            country: "Albania".into(),
        };
        let json = serde_json::to_string(&geo).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"ind":7528,"timestamp":"2020-08-28 03:52:47","latitude":-89.9787,"longitude":-173.293,"country":"Albania"}"#
        );
        assert_eq!(serde_json::from_str::<GeoRecord>(&json).ok(), Some(geo));
    }

    #[test]
    fn user_serializes_in_wire_order() {
        let user = UserRecord {
            ind: 7528,
            first_name: "Abigail".into(),
            last_name: "Ali".into(),
            age: 20,
            date_joined: "2015-10-24 11:23:51".into(),
        };
        let json = serde_json::to_string(&user).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"ind":7528,"first_name":"Abigail","last_name":"Ali","age":20,"date_joined":"2015-10-24 11:23:51"}"#
        );
        assert_eq!(serde_json::from_str::<UserRecord>(&json).ok(), Some(user));
    }
}
