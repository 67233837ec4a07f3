//! `near` of the `query` step: records within a distance of a point, nearest first.
//!
//! The store answers the step's other conditions plus a bounding box around the point (on the
//! coordinate fields, when they are declared `number`, so an index can serve it); the engine
//! then measures each record it got (at most [`MAX_SCANNED`]) with the haversine formula, keeps
//! those within the distance, sorts them by distance (unless the step has `order_by`) and
//! pages them. Each record gets `distance_km`, to one decimal.

use ferrogram_schema::DataType;
use serde_json::{Value, json};

use crate::interpret::geo::distance_km;
use ferrogram_core::{Filter, Op, Record, field_value};

/// The most records one `near` query measures.
pub const MAX_SCANNED: u32 = 10_000;
/// Kilometres per degree of latitude (and of longitude on the equator).
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// The point and distance of a `near`, rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    lat: f64,
    lon: f64,
    within_km: f64,
    lat_field: String,
    lon_field: String,
}

fn number(what: &str, value: &Value) -> Result<f64, String> {
    let n = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    n.filter(|n| n.is_finite()).ok_or_else(|| format!("{what} is {value}, not a number"))
}

impl Point {
    /// The point of `near` from its rendered values.
    pub fn new(near: &ferrogram_schema::Near, lat: &Value, lon: &Value, within_km: &Value) -> Result<Point, String> {
        let (lat, lon, within_km) = (number("lat", lat)?, number("lon", lon)?, number("within_km", within_km)?);
        if lat.abs() > 90.0 || lon.abs() > 180.0 {
            return Err(format!("({lat}, {lon}) is not a point on Earth"));
        }
        if within_km < 0.0 {
            return Err(format!("within_km is {within_km}, less than 0"));
        }
        let (lat_field, lon_field) = near.field_names();
        Ok(Point { lat, lon, within_km, lat_field: lat_field.to_owned(), lon_field: lon_field.to_owned() })
    }

    /// Conditions no record within the distance fails (latitude and longitude between bounds),
    /// on the coordinate fields declared `number`; `kind` gives a field's declared type.
    pub fn bounding_box(&self, kind: impl Fn(&str) -> Option<DataType>) -> Vec<Filter> {
        let angle = self.within_km / EARTH_RADIUS_KM;
        let d_lat = angle.to_degrees();
        let mut out = Vec::new();
        let mut bound = |field: &str, op: Op, value: f64| {
            if kind(field) == Some(DataType::Number) {
                out.push(Filter { field: field.to_owned(), op, value: json!(value) });
            }
        };
        let (south, north) = (self.lat - d_lat, self.lat + d_lat);
        if south > -90.0 {
            bound(&self.lat_field, Op::Ge, south);
        }
        if north < 90.0 {
            bound(&self.lat_field, Op::Le, north);
        }
        // The widest longitude span of the circle (Matuschek, "Finding points within a
        // distance of a latitude/longitude"), unless it reaches a pole or crosses ±180°.
        let cos_lat = self.lat.to_radians().cos();
        if south > -90.0 && north < 90.0 && angle.sin() < cos_lat {
            let d_lon = (angle.sin() / cos_lat).asin().to_degrees();
            let (west, east) = (self.lon - d_lon, self.lon + d_lon);
            if west > -180.0 && east < 180.0 {
                bound(&self.lon_field, Op::Ge, west);
                bound(&self.lon_field, Op::Le, east);
            }
        }
        out
    }

    /// The distance of a record from the point, if it has both coordinates.
    pub fn distance(&self, record: &Record) -> Option<f64> {
        let coordinate = |field: &str| field_value(record, field).and_then(|v| v.as_f64());
        let (lat, lon) = (coordinate(&self.lat_field)?, coordinate(&self.lon_field)?);
        Some(distance_km(self.lat, self.lon, lat, lon))
    }

    /// The records within the distance, nearest first when `by_distance` (else in the order
    /// they came), paged, as templates see them with their `distance_km`.
    pub fn select(
        &self,
        records: Vec<Record>,
        by_distance: bool,
        offset: usize,
        limit: usize,
        value: impl Fn(&Record) -> Value,
    ) -> Vec<Value> {
        let mut within: Vec<(f64, Record)> = records
            .into_iter()
            .filter_map(|record| self.distance(&record).filter(|d| *d <= self.within_km).map(|d| (d, record)))
            .collect();
        if by_distance {
            within.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        }
        within
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(d, record)| {
                let mut out = value(&record);
                out["distance_km"] = json!((d * 10.0).round() / 10.0);
                out
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn near(lat: f64, lon: f64, km: f64) -> Point {
        let spec = ferrogram_schema::Near { lat: json!(lat), lon: json!(lon), within_km: json!(km), fields: None };
        Point::new(&spec, &json!(lat), &json!(lon), &json!(km)).expect("a point")
    }

    fn record(id: i64, lat: f64, lon: f64) -> Record {
        let mut fields = Map::new();
        fields.insert("lat".into(), json!(lat));
        fields.insert("lon".into(), json!(lon));
        Record { id, fields, created_at: 0, updated_at: 0 }
    }

    #[test]
    fn records_within_the_distance_nearest_first() {
        let berlin = near(52.52437, 13.41053, 500.0);
        let records = vec![record(1, 55.75204, 37.61781), record(2, 53.55073, 9.99302), record(3, 52.5, 13.4)];
        let got = berlin.select(records, true, 0, 10, |r| json!({"id": r.id}));
        assert_eq!(got, vec![json!({"id": 3, "distance_km": 2.8}), json!({"id": 2, "distance_km": 255.4})]);
    }

    #[test]
    fn the_bounding_box_holds_every_point_within_the_distance() {
        let number = |_: &str| Some(DataType::Number);
        let point = near(60.0, 10.0, 300.0);
        let filters = point.bounding_box(number);
        assert_eq!(filters.len(), 4);
        // Points on the circle, all around: each passes the box.
        for step in 0..360 {
            let bearing = f64::from(step).to_radians();
            let angle = 299.9 / EARTH_RADIUS_KM;
            let (lat1, lon1) = (60f64.to_radians(), 10f64.to_radians());
            let lat2 = (lat1.sin() * angle.cos() + lat1.cos() * angle.sin() * bearing.cos()).asin();
            let lon2 = lon1 + (bearing.sin() * angle.sin() * lat1.cos()).atan2(angle.cos() - lat1.sin() * lat2.sin());
            let r = record(1, lat2.to_degrees(), lon2.to_degrees());
            assert!(ferrogram_core::record_matches(&r, &filters), "bearing {step}");
        }
        // Near a pole or across ±180°, the longitude is not bounded.
        assert_eq!(near(89.0, 0.0, 300.0).bounding_box(number).len(), 1);
        assert_eq!(near(0.0, 179.0, 300.0).bounding_box(number).len(), 2);
        // Integer coordinates are not bounded (a fractional bound would not fit them).
        assert!(point.bounding_box(|_| Some(DataType::Integer)).is_empty());
    }

    #[test]
    fn points_are_checked() {
        let spec = ferrogram_schema::Near { lat: json!(0), lon: json!(0), within_km: json!(1), fields: None };
        assert!(Point::new(&spec, &json!(91), &json!(0), &json!(1)).is_err());
        assert!(Point::new(&spec, &json!("52.5"), &json!("13.4"), &json!("x")).is_err());
        assert!(Point::new(&spec, &json!("52.5"), &json!("13.4"), &json!(10)).is_ok());
    }
}
