//! Reading grid boundaries from a GeoJSON FeatureCollection, with an error per bad feature.
//!
//! The `geojson` crate parses the format, but it turns a whole file into one `Err` at the first
//! problem, and `geo`'s polygons silently close open rings. A bureau's grid file is drawn by
//! hand, has thousands of features, and the importer must tell the operator "feature 1,203:
//! ring 0 is not closed" for every such feature at once. So the document is read as JSON first,
//! each feature is handed to `geojson` on its own, and rings are checked for closure and length
//! before they become `geo` polygons. Geometric validity (self-intersections, zero area,
//! overlaps, gaps) is the `validate` module's job.

use std::fmt;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use geojson::{Feature, GeometryValue, Position};
use serde_json::{Map, Value};

/// One usable feature: its position in the file, its `id` and `properties`, and its geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct GridFeature {
    pub index: usize,
    /// The feature's `id` member, if any (a string or a number).
    pub id: Option<Value>,
    pub properties: Map<String, Value>,
    pub geometry: MultiPolygon<f64>,
}

/// A ring of a feature's geometry: polygon `polygon` (0 for a Polygon), ring `ring` (0 the
/// exterior, 1… the holes in file order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingRef {
    pub polygon: usize,
    pub ring: usize,
}

impl fmt::Display for RingRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ring {
            0 => write!(f, "polygon {} exterior ring", self.polygon),
            n => write!(f, "polygon {} hole {}", self.polygon, n),
        }
    }
}

/// Why one feature could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureProblem {
    #[error("not a GeoJSON Feature: {0}")]
    NotAFeature(String),
    #[error("the feature has no geometry")]
    NoGeometry,
    #[error("the geometry is a {0}, not a Polygon or MultiPolygon")]
    WrongGeometryType(String),
    #[error("polygon {0} has no rings")]
    NoRings(usize),
    #[error("{ring}: position {position} has {len} numbers, expected 2 (or 3 with altitude)")]
    BadPosition { ring: RingRef, position: usize, len: usize },
    #[error("{ring}: position {position} is not a finite number")]
    NonFinite { ring: RingRef, position: usize },
    #[error("{ring} has {points} positions, a ring needs at least 4")]
    RingTooShort { ring: RingRef, points: usize },
    #[error("{ring} is not closed: its last position differs from its first")]
    RingNotClosed { ring: RingRef },
}

/// A feature that could not be read, by its position in the file (0-based).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("feature {index}: {problem}")]
pub struct FeatureError {
    pub index: usize,
    pub problem: FeatureProblem,
}

/// What a FeatureCollection yielded: the features that could be read, and one error for each
/// that could not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedCollection {
    pub features: Vec<GridFeature>,
    pub errors: Vec<FeatureError>,
}

/// The document as a whole is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a GeoJSON FeatureCollection: {0}")]
    NotAFeatureCollection(&'static str),
}

/// Reads a GeoJSON FeatureCollection of Polygon / MultiPolygon features. Altitudes are
/// dropped. Coordinates are taken as they are: the caller knows their datum.
pub fn parse_feature_collection(text: &str) -> Result<ParsedCollection, DocumentError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| DocumentError::NotJson(e.to_string()))?;
    let obj = doc.as_object().ok_or(DocumentError::NotAFeatureCollection("the document is not a JSON object"))?;
    if obj.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(DocumentError::NotAFeatureCollection("its \"type\" is not \"FeatureCollection\""));
    }
    let features = obj
        .get("features")
        .and_then(Value::as_array)
        .ok_or(DocumentError::NotAFeatureCollection("it has no \"features\" array"))?;
    let mut parsed = ParsedCollection::default();
    for (index, value) in features.iter().enumerate() {
        match read_feature(index, value) {
            Ok(f) => parsed.features.push(f),
            Err(problem) => parsed.errors.push(FeatureError { index, problem }),
        }
    }
    Ok(parsed)
}

fn read_feature(index: usize, value: &Value) -> Result<GridFeature, FeatureProblem> {
    let feature: Feature =
        serde_json::from_value(value.clone()).map_err(|e| FeatureProblem::NotAFeature(e.to_string()))?;
    let geometry = feature.geometry.ok_or(FeatureProblem::NoGeometry)?;
    let polygons = match geometry.value {
        GeometryValue::Polygon { coordinates } => vec![coordinates],
        GeometryValue::MultiPolygon { coordinates } => coordinates,
        other => return Err(FeatureProblem::WrongGeometryType(other.type_name().to_string())),
    };
    let geometry = polygons
        .iter()
        .enumerate()
        .map(|(polygon, rings)| to_polygon(polygon, rings))
        .collect::<Result<Vec<_>, _>>()?
        .into();
    let id = feature.id.map(|id| match id {
        geojson::feature::Id::String(s) => Value::String(s),
        geojson::feature::Id::Number(n) => Value::Number(n),
    });
    Ok(GridFeature { index, id, properties: feature.properties.unwrap_or_default(), geometry })
}

fn to_polygon(polygon: usize, rings: &[Vec<Position>]) -> Result<Polygon<f64>, FeatureProblem> {
    if rings.is_empty() {
        return Err(FeatureProblem::NoRings(polygon));
    }
    let mut rings = rings.iter().enumerate().map(|(ring, positions)| to_ring(RingRef { polygon, ring }, positions));
    let exterior = rings.next().expect("BUG: checked non-empty above")?;
    let interiors = rings.collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(exterior, interiors))
}

fn to_ring(ring: RingRef, positions: &[Position]) -> Result<LineString<f64>, FeatureProblem> {
    let coords = positions
        .iter()
        .enumerate()
        .map(|(position, p)| match p.as_slice() {
            [x, y] | [x, y, _] if x.is_finite() && y.is_finite() => Ok(Coord { x: *x, y: *y }),
            [_, _] | [_, _, _] => Err(FeatureProblem::NonFinite { ring, position }),
            other => Err(FeatureProblem::BadPosition { ring, position, len: other.len() }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if coords.len() < 4 {
        return Err(FeatureProblem::RingTooShort { ring, points: coords.len() });
    }
    if coords.first() != coords.last() {
        return Err(FeatureProblem::RingNotClosed { ring });
    }
    Ok(LineString::new(coords))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQUARE: &str = "[[0,0],[1,0],[1,1],[0,1],[0,0]]";

    fn collection(features: &[String]) -> String {
        format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(","))
    }

    fn feature(geometry: &str) -> String {
        format!(r#"{{"type":"Feature","id":"g1","properties":{{"code":"G1"}},"geometry":{geometry}}}"#)
    }

    #[test]
    fn reads_polygons_and_multipolygons() {
        let text = collection(&[
            feature(&format!(
                r#"{{"type":"Polygon","coordinates":[{SQUARE},[[0.2,0.2,5],[0.2,0.4,5],[0.4,0.4,5],[0.2,0.2,5]]]}}"#
            )),
            feature(&format!(r#"{{"type":"MultiPolygon","coordinates":[[{SQUARE}],[{SQUARE}]]}}"#)),
        ]);
        let parsed = parse_feature_collection(&text).expect("a collection");
        assert_eq!(parsed.errors, vec![]);
        assert_eq!(parsed.features.len(), 2);
        let f = &parsed.features[0];
        assert_eq!((f.index, f.id.clone(), f.properties["code"].as_str()), (0, Some(Value::from("g1")), Some("G1")));
        assert_eq!(f.geometry.0[0].interiors().len(), 1);
        assert_eq!(parsed.features[1].geometry.0.len(), 2);
    }

    #[test]
    fn one_error_per_bad_feature_with_its_index() {
        let text = collection(&[
            feature(&format!(r#"{{"type":"Polygon","coordinates":[{SQUARE}]}}"#)),
            feature(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#),
            feature(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#),
            feature(r#"{"type":"Point","coordinates":[1,2]}"#),
            feature("null"),
            r#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":"nope"},"properties":{}}"#.to_string(),
            r#"[1,2]"#.to_string(),
            feature(&format!(r#"{{"type":"MultiPolygon","coordinates":[[{SQUARE}],[[[0,0],[1],[1,1],[0,0]]]]}}"#)),
            feature(r#"{"type":"Polygon","coordinates":[]}"#),
        ]);
        let parsed = parse_feature_collection(&text).expect("a collection");
        assert_eq!(parsed.features.iter().map(|f| f.index).collect::<Vec<_>>(), vec![0]);
        let problems: Vec<(usize, FeatureProblem)> =
            parsed.errors.iter().map(|e| (e.index, e.problem.clone())).collect();
        let ring0 = RingRef { polygon: 0, ring: 0 };
        assert_eq!(problems[0], (1, FeatureProblem::RingNotClosed { ring: ring0 }));
        assert_eq!(problems[1], (2, FeatureProblem::RingTooShort { ring: ring0, points: 3 }));
        assert_eq!(problems[2], (3, FeatureProblem::WrongGeometryType("Point".into())));
        assert_eq!(problems[3], (4, FeatureProblem::NoGeometry));
        assert!(matches!(problems[4], (5, FeatureProblem::NotAFeature(_))), "{:?}", problems[4]);
        assert!(matches!(problems[5], (6, FeatureProblem::NotAFeature(_))), "{:?}", problems[5]);
        let ring1 = RingRef { polygon: 1, ring: 0 };
        assert_eq!(problems[6], (7, FeatureProblem::BadPosition { ring: ring1, position: 1, len: 1 }));
        assert_eq!(problems[7], (8, FeatureProblem::NoRings(0)));
        assert_eq!(
            parsed.errors[0].to_string(),
            "feature 1: polygon 0 exterior ring is not closed: its last position differs from its first"
        );
    }

    #[test]
    fn whole_document_errors() {
        assert!(matches!(parse_feature_collection("{"), Err(DocumentError::NotJson(_))));
        assert!(matches!(parse_feature_collection("[]"), Err(DocumentError::NotAFeatureCollection(_))));
        assert!(matches!(
            parse_feature_collection(r#"{"type":"Feature","features":[]}"#),
            Err(DocumentError::NotAFeatureCollection(_))
        ));
        assert!(matches!(
            parse_feature_collection(r#"{"type":"FeatureCollection"}"#),
            Err(DocumentError::NotAFeatureCollection(_))
        ));
        let empty = parse_feature_collection(r#"{"type":"FeatureCollection","features":[]}"#).expect("valid");
        assert_eq!(empty, ParsedCollection::default());
    }
}
