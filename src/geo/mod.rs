//! Geography: outage areas from GeoJSON, and the address index that answers
//! "which service points are inside".

pub mod area;
pub mod index;

pub use area::{parse_area, read_stored_area, AreaError};
pub use index::{AddressIndex, IndexPoint, MapCell, MapPoints};
