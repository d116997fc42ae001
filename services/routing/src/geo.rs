//! Point-in-polygon for grid boundaries. Grids are small (a village is a few km across), so
//! latitude and longitude are treated as plane coordinates; no PostGIS needed.

use serde::{Deserialize, Serialize};

/// One vertex of a boundary ring, as stored in `grids.boundary`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatLng {
    pub lat: f64,
    pub lng: f64,
}

/// Bounding box (min_lat, max_lat, min_lng, max_lng) of a ring.
pub fn bbox(ring: &[LatLng]) -> (f64, f64, f64, f64) {
    ring.iter().fold(
        (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
        |(a, b, c, d), p| (a.min(p.lat), b.max(p.lat), c.min(p.lng), d.max(p.lng)),
    )
}

/// Whether `p` lies inside the ring (closed implicitly), by ray casting. Points exactly on an
/// edge may fall either way; neighbouring grids share edges, and either answer is acceptable.
pub fn contains(ring: &[LatLng], p: LatLng) -> bool {
    if ring.len() < 3 {
        return false;
    }
    let mut inside = false;
    let mut j = ring.len() - 1;
    for i in 0..ring.len() {
        let (a, b) = (ring[i], ring[j]);
        if (a.lat > p.lat) != (b.lat > p.lat) {
            let lng_at = a.lng + (p.lat - a.lat) / (b.lat - a.lat) * (b.lng - a.lng);
            if p.lng < lng_at {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

/// Area of the bounding box, used to prefer the smaller of two containing grids.
pub fn bbox_area(ring: &[LatLng]) -> f64 {
    let (a, b, c, d) = bbox(ring);
    (b - a) * (d - c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lat: f64, lng: f64) -> LatLng {
        LatLng { lat, lng }
    }

    #[test]
    fn square_and_concave_ring() {
        let square = [p(0.0, 0.0), p(0.0, 1.0), p(1.0, 1.0), p(1.0, 0.0)];
        assert!(contains(&square, p(0.5, 0.5)));
        assert!(!contains(&square, p(1.5, 0.5)));
        // An L shape: the notch is outside.
        let l = [
            p(0.0, 0.0),
            p(0.0, 2.0),
            p(1.0, 2.0),
            p(1.0, 1.0),
            p(2.0, 1.0),
            p(2.0, 0.0),
        ];
        assert!(contains(&l, p(1.5, 0.5)));
        assert!(!contains(&l, p(1.5, 1.5)));
        assert!(!contains(&l[..2], p(0.0, 0.5)));
    }
}
