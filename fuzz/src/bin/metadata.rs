//! `eko::store::Metadata::from_json` on raw bytes; accepted metadata must validate and survive
//! `to_json` -> `from_json` unchanged, and `to_json` must then be a fixed point.

use eko::Location;
use eko::store::Metadata;
use eko_fuzz::verbose;

fn main() {
    let location = Location::file("fuzz/metadata.json");
    afl::fuzz!(|data: &[u8]| {
        let parsed = Metadata::from_json(data, &location);
        if verbose() {
            match &parsed {
                Ok(m) => eprintln!("accepted: {m:?}"),
                Err(e) => eprintln!("refused: {e}"),
            }
        }
        let Ok(metadata) = parsed else {
            return;
        };
        metadata
            .validate(&location)
            .unwrap_or_else(|e| panic!("from_json accepted metadata validate refuses: {e}"));
        let _ = metadata.operator_shape();
        let json = metadata.to_json();
        let back = Metadata::from_json(json.as_bytes(), &location)
            .unwrap_or_else(|e| panic!("our own JSON is refused: {e}\n{json}"));
        assert_eq!(back, metadata, "round trip changed the metadata");
        assert!(
            back.incompatibility(&metadata).is_none(),
            "round trip is incompatible with the original: {:?}",
            back.incompatibility(&metadata)
        );
        assert_eq!(back.to_json(), json, "to_json is not a fixed point");
    });
}
