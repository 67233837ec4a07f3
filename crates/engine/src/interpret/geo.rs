//! Distances and the embedded city list of `city` form fields.
//!
//! The list is the 2,000 most populous cities of GeoNames (CC BY 4.0; see `data/SOURCES.md`):
//! name, country code, country name, latitude and longitude, most populous first. A city is
//! found by its name, tolerant of case, accents and typos (as many as the `search` crate
//! allows for the name's length), optionally followed by a comma and the country's code or name
//! (`Paris, FR`, `Córdoba, Argentina`); among equally good matches the most populous wins.

use std::sync::LazyLock;

use serde_json::{Value, json};

const CITIES_TSV: &str = include_str!("../../data/cities.tsv");
/// The Earth's mean radius, in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// One city of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    pub name: &'static str,
    pub country_code: &'static str,
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// The name folded for matching.
    key: String,
}

impl City {
    /// The city as a form answer: `{name, country, country_code, lat, lon}`.
    pub fn value(&self) -> Value {
        json!({
            "name": self.name, "country": self.country, "country_code": self.country_code,
            "lat": self.lat, "lon": self.lon,
        })
    }
}

static CITIES: LazyLock<Vec<City>> = LazyLock::new(|| {
    CITIES_TSV
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let (name, country_code, country) = (cols.next()?, cols.next()?, cols.next()?);
            let lat = cols.next()?.parse().ok()?;
            let lon = cols.next()?.parse().ok()?;
            Some(City { name, country_code, country, lat, lon, key: fold(name) })
        })
        .collect()
});

/// The great-circle distance between two points, in kilometres (haversine formula).
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lon2 - lon1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

/// The city a user means by `text`, if the list has one close enough.
pub fn find_city(text: &str) -> Option<&'static City> {
    let (name, country) = match text.split_once(',') {
        Some((name, country)) => (name, Some(fold(country))),
        None => (text, None),
    };
    let key = fold(name);
    if key.is_empty() {
        return None;
    }
    let in_country = |city: &&City| {
        country.as_deref().is_none_or(|c| c.is_empty() || fold(city.country_code) == c || fold(city.country) == c)
    };
    let cities = &*CITIES;
    if let Some(city) = cities.iter().filter(in_country).find(|city| city.key == key) {
        return Some(city);
    }
    let chars: Vec<char> = key.chars().collect();
    let max = ferrogram_search::max_typos(chars.len());
    let mut best: Option<(u32, &City)> = None;
    for city in cities.iter().filter(in_country) {
        // Exact names were tried: a city one edit away cannot be beaten by a less populous one.
        let limit = best.map_or(max, |(d, _)| d - 1);
        if limit == 0 {
            break;
        }
        let city_chars: Vec<char> = city.key.chars().collect();
        if city_chars.len().abs_diff(chars.len()) > limit as usize {
            continue;
        }
        if let Some(d) = ferrogram_search::distance(&chars, &city_chars, limit) {
            best = Some((d, city));
        }
    }
    best.map(|(_, city)| city)
}

/// The city of the list nearest to a point.
pub fn nearest_city(lat: f64, lon: f64) -> Option<&'static City> {
    CITIES.iter().min_by(|a, b| distance_km(lat, lon, a.lat, a.lon).total_cmp(&distance_km(lat, lon, b.lat, b.lon)))
}

/// Lowercase, common Latin accents removed, apostrophes and dashes dropped, spaces collapsed.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
            'ç' | 'ć' | 'č' => 'c',
            'ď' | 'đ' => 'd',
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' | 'ế' | 'ề' | 'ệ' => 'e',
            'ğ' => 'g',
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' | 'i' => 'i',
            'ł' => 'l',
            'ñ' | 'ń' | 'ň' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' | 'ơ' | 'ờ' | 'ớ' | 'ộ' => 'o',
            'ř' => 'r',
            'ś' | 'š' | 'ş' | 'ș' => 's',
            'ť' | 'ţ' | 'ț' => 't',
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ư' => 'u',
            'ý' | 'ÿ' => 'y',
            'ź' | 'ż' | 'ž' => 'z',
            '\'' | '’' | '‘' | '`' | '.' => continue,
            '-' | '_' => ' ',
            c => c,
        };
        if plain.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else if plain.is_alphanumeric() {
            out.push(plain);
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_follow_the_haversine_formula() {
        assert_eq!(distance_km(52.52, 13.405, 52.52, 13.405), 0.0);
        // Berlin – Hamburg, about 255 km; Berlin – Moscow, about 1,610 km.
        let berlin_hamburg = distance_km(52.52437, 13.41053, 53.55073, 9.99302);
        assert!((berlin_hamburg - 255.0).abs() < 3.0, "{berlin_hamburg}");
        let berlin_moscow = distance_km(52.52437, 13.41053, 55.75204, 37.61781);
        assert!((berlin_moscow - 1610.0).abs() < 10.0, "{berlin_moscow}");
        // A quarter of the equator, and antipodes.
        let quarter = distance_km(0.0, 0.0, 0.0, 90.0);
        assert!((quarter - EARTH_RADIUS_KM * std::f64::consts::FRAC_PI_2).abs() < 1e-6);
        let half = distance_km(10.0, 20.0, -10.0, -160.0);
        assert!((half - EARTH_RADIUS_KM * std::f64::consts::PI).abs() < 0.01);
    }

    #[test]
    fn cities_are_found_despite_case_accents_and_typos() {
        assert_eq!(find_city("berlin").map(|c| c.name), Some("Berlin"));
        assert_eq!(find_city("  Hamgurg ").map(|c| c.name), Some("Hamburg"));
        assert_eq!(find_city("Sao Paulo").map(|c| c.name), Some("São Paulo"));
        assert_eq!(find_city("koln").map(|c| c.country_code), Some("DE"));
        assert_eq!(find_city("Munihc").map(|c| c.name), Some("Munich"));
        assert_eq!(find_city("Gotham"), None);
        assert_eq!(find_city(""), None);
        let berlin = find_city("Berlin").expect("Berlin");
        assert_eq!(berlin.value()["country"], "Germany");
    }

    #[test]
    fn a_country_picks_among_cities_of_the_same_name() {
        let cordoba_ar = find_city("Córdoba, AR").expect("Córdoba in Argentina");
        assert_eq!(cordoba_ar.country_code, "AR");
        let hyderabad_pk = find_city("Hyderabad, Pakistan").expect("Hyderabad in Pakistan");
        assert_eq!(hyderabad_pk.country_code, "PK");
        assert_eq!(find_city("Hyderabad").map(|c| c.country_code), Some("IN"));
    }

    #[test]
    fn the_nearest_city_of_a_point() {
        assert_eq!(nearest_city(52.5, 13.4).map(|c| c.name), Some("Berlin"));
        assert_eq!(nearest_city(48.86, 2.35).map(|c| c.name), Some("Paris"));
    }
}
