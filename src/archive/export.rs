//! Export of a store as an eko archive (issue 16): being written.
