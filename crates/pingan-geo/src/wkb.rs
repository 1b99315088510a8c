//! Well-Known Binary for the one shape pingan stores: a MultiPolygon in WGS-84. Geometry is kept
//! in the database as WKB blobs (ARCHITECTURE: no PostGIS or SpatiaLite dependency), so both
//! engines hold the same bytes and any GIS tool can read them.

use geo::{Coord, LineString, MultiPolygon, Polygon};

const LITTLE_ENDIAN: u8 = 1;
const POLYGON: u32 = 3;
const MULTI_POLYGON: u32 = 6;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WkbError {
    #[error("WKB ends early")]
    Truncated,
    #[error("WKB holds a geometry of type {0}, not a polygon or multipolygon")]
    UnexpectedType(u32),
    #[error("WKB byte order {0} is unknown")]
    ByteOrder(u8),
    #[error("WKB has {0} bytes left over")]
    Trailing(usize),
}

/// Little-endian WKB of a MultiPolygon.
pub fn encode(shape: &MultiPolygon<f64>) -> Vec<u8> {
    let points: usize =
        shape.0.iter().map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>()).sum();
    let mut out = Vec::with_capacity(9 + shape.0.len() * 9 + points * 16);
    out.push(LITTLE_ENDIAN);
    out.extend_from_slice(&MULTI_POLYGON.to_le_bytes());
    out.extend_from_slice(&(shape.0.len() as u32).to_le_bytes());
    for polygon in &shape.0 {
        out.push(LITTLE_ENDIAN);
        out.extend_from_slice(&POLYGON.to_le_bytes());
        out.extend_from_slice(&(1 + polygon.interiors().len() as u32).to_le_bytes());
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            out.extend_from_slice(&(ring.0.len() as u32).to_le_bytes());
            for c in &ring.0 {
                out.extend_from_slice(&c.x.to_le_bytes());
                out.extend_from_slice(&c.y.to_le_bytes());
            }
        }
    }
    out
}

/// Reads a MultiPolygon (or a single Polygon, as a MultiPolygon of one) in either byte order.
pub fn decode(bytes: &[u8]) -> Result<MultiPolygon<f64>, WkbError> {
    let mut r = Reader { bytes, at: 0, little: true };
    let kind = r.header()?;
    let shape = match kind {
        MULTI_POLYGON => {
            let n = r.u32()?;
            let mut polygons = Vec::with_capacity(n.min(1 << 16) as usize);
            for _ in 0..n {
                match r.header()? {
                    POLYGON => polygons.push(r.polygon()?),
                    other => return Err(WkbError::UnexpectedType(other)),
                }
            }
            MultiPolygon(polygons)
        }
        POLYGON => MultiPolygon(vec![r.polygon()?]),
        other => return Err(WkbError::UnexpectedType(other)),
    };
    match bytes.len() - r.at {
        0 => Ok(shape),
        left => Err(WkbError::Trailing(left)),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    little: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], WkbError> {
        let end = self.at.checked_add(N).filter(|e| *e <= self.bytes.len()).ok_or(WkbError::Truncated)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.at..end]);
        self.at = end;
        Ok(out)
    }

    fn header(&mut self) -> Result<u32, WkbError> {
        let [order] = self.take::<1>()?;
        self.little = match order {
            1 => true,
            0 => false,
            other => return Err(WkbError::ByteOrder(other)),
        };
        self.u32()
    }

    fn u32(&mut self) -> Result<u32, WkbError> {
        let b = self.take::<4>()?;
        Ok(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    fn f64(&mut self) -> Result<f64, WkbError> {
        let b = self.take::<8>()?;
        Ok(if self.little { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) })
    }

    fn ring(&mut self) -> Result<LineString<f64>, WkbError> {
        let n = self.u32()? as usize;
        // A count larger than the bytes left is a lie: refuse before allocating for it.
        if n.saturating_mul(16) > self.bytes.len() - self.at {
            return Err(WkbError::Truncated);
        }
        let mut coords = Vec::with_capacity(n);
        for _ in 0..n {
            coords.push(Coord { x: self.f64()?, y: self.f64()? });
        }
        Ok(LineString(coords))
    }

    fn polygon(&mut self) -> Result<Polygon<f64>, WkbError> {
        let rings = self.u32()?;
        if rings == 0 {
            return Ok(Polygon::new(LineString(Vec::new()), Vec::new()));
        }
        let exterior = self.ring()?;
        let mut interiors = Vec::new();
        for _ in 1..rings {
            interiors.push(self.ring()?);
        }
        Ok(Polygon::new(exterior, interiors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn shape() -> MultiPolygon<f64> {
        let with_hole = polygon!(
            exterior: [(x: 113.0, y: 35.0), (x: 113.1, y: 35.0), (x: 113.1, y: 35.1), (x: 113.0, y: 35.1), (x: 113.0, y: 35.0)],
            interiors: [[(x: 113.04, y: 35.04), (x: 113.06, y: 35.04), (x: 113.06, y: 35.06), (x: 113.04, y: 35.04)]],
        );
        let plain = polygon![(x: 114.0, y: 35.0), (x: 114.1, y: 35.0), (x: 114.0, y: 35.1), (x: 114.0, y: 35.0)];
        MultiPolygon(vec![with_hole, plain])
    }

    #[test]
    fn round_trips_with_holes() {
        assert_eq!(decode(&encode(&shape())).unwrap(), shape());
    }

    #[test]
    fn matches_the_standard_layout() {
        // One triangle as a MultiPolygon: 01 06000000 01000000 | 01 03000000 01000000 04000000 …
        let one = MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0), (x: 0.0, y: 0.0)]]);
        let b = encode(&one);
        assert_eq!(&b[..9], &[1, 6, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&b[9..22], &[1, 3, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0]);
        assert_eq!(b.len(), 22 + 4 * 16);
    }

    #[test]
    fn truncated_and_lying_input_is_refused_without_panicking() {
        let b = encode(&shape());
        for cut in 0..b.len() {
            assert!(decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut lying = encode(&shape());
        lying[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&lying), Err(WkbError::Truncated));
    }
}
