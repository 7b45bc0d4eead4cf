//! `eko::npy::parse_header` on raw bytes (a whole `.npy` or any prefix of one).
//!
//! Besides never panicking: an accepted header lies within the bytes and parses the same from
//! exactly its own bytes; and the header libeko would write for the same dtype, order and shape
//! parses back to itself.

use eko::Location;
use eko::npy::{NpyHeader, parse_header};
use eko_fuzz::verbose;

fn main() {
    let location = Location::Buffer("fuzz input".into());
    afl::fuzz!(|data: &[u8]| {
        let parsed = parse_header(data, &location);
        if verbose() {
            eprintln!("{parsed:?}");
        }
        let Ok(header) = parsed else {
            return;
        };
        assert!(
            header.data_offset <= data.len(),
            "data offset {} past the {} input bytes",
            header.data_offset,
            data.len()
        );
        let again = parse_header(&data[..header.data_offset], &location)
            .expect("a header parses from its own bytes alone");
        assert_eq!(again, header, "same header from a prefix");
        let _ = (header.len(), header.data_len(), header.dict_text());

        let ours = NpyHeader::for_writing(header.dtype, &header.shape, header.order, 64, &location)
            .expect("an accepted dtype and shape can be written");
        let bytes = ours.encode();
        assert_eq!(bytes.len(), ours.data_offset);
        let back = parse_header(&bytes, &location).expect("our own header parses");
        assert_eq!(back, ours, "our header round trip");
        assert_eq!(back.dtype, header.dtype);
        assert_eq!(back.shape, header.shape);
        if header.shape.len() > 1 {
            assert_eq!(back.order, header.order);
        }
    });
}
