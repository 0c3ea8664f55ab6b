//! Examples of embedding keyhold; see `examples/*.rs`. This library is empty on purpose.
#![forbid(unsafe_code)]
