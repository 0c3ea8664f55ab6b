//! Request framing as the client sent it, for what hyper does not let the service see.
//!
//! RFC 9112 §6.3: a request with both `Content-Length` and `Transfer-Encoding` may be an
//! attempt at request smuggling and ought to be handled as an error. hyper reads such a body
//! as chunked and closes the connection afterwards, but it drops `Content-Length` from the
//! headers it hands on, so the service cannot tell that request from an honest chunked one.
//! Nor does it refuse repeated `Content-Length` fields that agree.
//!
//! [`Inspected`] sits between the socket (or the TLS stream) and hyper and follows the
//! message boundaries of the byte stream with the parser hyper uses (`httparse`, default
//! settings), leaving one [`Verdict`] per request head, in order; the service takes them in
//! the same order, one per request, with [`Framing::next`]. Only heads are buffered (at most
//! [`MAX_HEAD`] bytes), bodies are only counted. Where following the stream would need more
//! than that — a chunked body, an upgrade, `Expect`, a head too large — it stops, and that
//! request and any after it get [`Verdict::Close`]: answered normally, then the connection is
//! closed, so nothing further on it is read without having been inspected.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest request head followed; a larger one ends the inspection of its connection.
pub const MAX_HEAD: usize = 64 * 1024;

/// hyper's default limit on the number of header fields.
const MAX_HEADERS: usize = 100;

/// What the service should do with a request, given how it was framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Framed unambiguously; the connection may be kept.
    Sound,
    /// Serve it, then close the connection: what follows it on the wire is not inspected.
    Close,
    /// Ambiguous framing: refuse it (400) and close the connection. The reason is public.
    Refuse(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a request head (buffered).
    Head,
    /// Skipping this many body bytes.
    Body(u64),
    /// No longer following the stream.
    Stopped,
}

#[derive(Debug)]
struct Tracker {
    state: State,
    head: Vec<u8>,
    verdicts: VecDeque<Verdict>,
}

/// The verdicts of one connection, shared by its reader and its service.
#[derive(Debug, Clone)]
pub struct Framing(Arc<Mutex<Tracker>>);

impl Default for Framing {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Tracker {
            state: State::Head,
            head: Vec::new(),
            verdicts: VecDeque::new(),
        })))
    }
}

impl Framing {
    fn lock(&self) -> MutexGuard<'_, Tracker> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The verdict on the next request hyper hands the service. hyper answers a connection's
    /// requests one after another, in the order their heads arrived.
    pub fn next(&self) -> Verdict {
        self.lock().verdicts.pop_front().unwrap_or(Verdict::Close)
    }

    /// Follows bytes as they arrive from the client.
    fn feed(&self, bytes: &[u8]) {
        self.lock().feed(bytes);
    }
}

impl Tracker {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.state {
                State::Stopped => return,
                State::Body(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                    bytes = &bytes[n..];
                    let left = left.saturating_sub(n as u64);
                    self.state = if left == 0 {
                        State::Head
                    } else {
                        State::Body(left)
                    };
                }
                State::Head => {
                    let before = self.head.len();
                    let n = (MAX_HEAD - before).min(bytes.len());
                    self.head.extend_from_slice(&bytes[..n]);
                    // A head ends with a line feed: until one arrives it cannot be complete.
                    let parsed = if bytes[..n].contains(&b'\n') {
                        self.parse()
                    } else {
                        Parsed::Partial
                    };
                    match parsed {
                        Parsed::Partial if self.head.len() >= MAX_HEAD => self.stop(),
                        Parsed::Partial => bytes = &bytes[n..],
                        // hyper refuses it too and closes the connection.
                        Parsed::Invalid => self.stop(),
                        Parsed::Complete { len, verdict, body } => {
                            // The previous bytes held no complete head: this one ends in
                            // the bytes just added.
                            bytes = &bytes[len.saturating_sub(before).min(n)..];
                            self.head.clear();
                            if self.head.capacity() > 8 * 1024 {
                                // One large head does not keep its buffer for the connection.
                                self.head = Vec::new();
                            }
                            self.verdicts.push_back(verdict);
                            self.state = match (verdict, body) {
                                (Verdict::Sound, 0) => State::Head,
                                (Verdict::Sound, n) => State::Body(n),
                                _ => State::Stopped,
                            };
                        }
                    }
                }
            }
        }
    }

    fn stop(&mut self) {
        self.state = State::Stopped;
        self.head = Vec::new();
    }

    fn parse(&self) -> Parsed {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let len = match req.parse(&self.head) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Parsed::Partial,
            Err(_) => return Parsed::Invalid,
        };
        let mut lengths: Vec<&[u8]> = Vec::new();
        let mut encoded = false;
        let mut special = req.method == Some("CONNECT");
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                lengths.push(h.value);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                encoded = true;
            } else if h.name.eq_ignore_ascii_case("upgrade")
                || h.name.eq_ignore_ascii_case("expect")
            {
                special = true;
            }
        }
        let (verdict, body) = if encoded && !lengths.is_empty() {
            (
                Verdict::Refuse(
                    "the request has both Content-Length and Transfer-Encoding (RFC 9112 section 6.3)",
                ),
                0,
            )
        } else if lengths.len() > 1 {
            (
                Verdict::Refuse("the request has more than one Content-Length field"),
                0,
            )
        } else if encoded || special {
            // A chunked body, or a body whose arrival depends on the answer: not followed.
            (Verdict::Close, 0)
        } else {
            match lengths.first().map(|v| digits(v)) {
                None => (Verdict::Sound, 0),
                Some(Some(n)) => (Verdict::Sound, n),
                // hyper refuses it too.
                Some(None) => return Parsed::Invalid,
            }
        };
        Parsed::Complete { len, verdict, body }
    }
}

/// A `Content-Length` value as hyper reads it: ASCII digits only, within `u64`.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, b| {
        b.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(b - b'0')))
            .flatten()
    })
}

enum Parsed {
    Partial,
    Invalid,
    Complete {
        len: usize,
        verdict: Verdict,
        body: u64,
    },
}

/// A client stream whose incoming bytes are followed by a [`Framing`].
pub struct Inspected<T> {
    io: T,
    framing: Framing,
}

impl<T> Inspected<T> {
    /// Wraps `io`; `framing` receives a verdict per request head read through it.
    pub fn new(io: T, framing: Framing) -> Self {
        Self { io, framing }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Inspected<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.framing.feed(&buf.filled()[before..]);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Inspected<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::{Framing, MAX_HEAD, Verdict};

    fn verdicts(chunks: &[&[u8]]) -> Vec<Verdict> {
        let f = Framing::default();
        for c in chunks {
            f.feed(c);
        }
        let n = f.lock().verdicts.len();
        (0..n).map(|_| f.next()).collect()
    }

    const BOTH: Verdict = Verdict::Refuse(
        "the request has both Content-Length and Transfer-Encoding (RFC 9112 section 6.3)",
    );

    #[test]
    fn follows_sized_bodies_across_requests_and_reads() {
        // The body of /a looks like a head with both fields: it is skipped, not judged.
        let lookalike =
            "GET /b HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        let stream = format!(
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{lookalike}\
             \r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n\
             POST /d HTTP/1.1\r\ncontent-length: 3\r\nTRANSFER-ENCODING: chunked\r\n\r\n",
            lookalike.len()
        );
        let all = verdicts(&[stream.as_bytes()]);
        assert_eq!(all, [Verdict::Sound, Verdict::Sound, BOTH]);
        // The same bytes one at a time, and in uneven pieces.
        let bytes: Vec<&[u8]> = stream.as_bytes().chunks(1).collect();
        assert_eq!(verdicts(&bytes), all);
        let pieces: Vec<&[u8]> = stream.as_bytes().chunks(7).collect();
        assert_eq!(verdicts(&pieces), all);
    }

    #[test]
    fn refuses_ambiguous_lengths_and_stops_where_it_cannot_follow() {
        assert_eq!(
            verdicts(&[
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
            ]),
            [BOTH]
        );
        assert_eq!(
            verdicts(&[b"POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n"]),
            [Verdict::Refuse(
                "the request has more than one Content-Length field"
            )]
        );
        // After a chunked body, an upgrade or an expectation nothing more is judged.
        for head in [
            &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n",
            b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            b"CONNECT x:1 HTTP/1.1\r\n\r\n",
        ] {
            let f = Framing::default();
            f.feed(head);
            f.feed(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
            assert_eq!((f.next(), f.next()), (Verdict::Close, Verdict::Close));
        }
        // Heads hyper refuses itself, and heads too large to follow.
        assert!(verdicts(&[b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"]).is_empty());
        assert!(verdicts(&[b"GET / HTTP/1.1\r\nBad Header: 1\r\n\r\n"]).is_empty());
        let big = format!(
            "GET / HTTP/1.1\r\nX: {}\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "a".repeat(MAX_HEAD)
        );
        let f = Framing::default();
        f.feed(big.as_bytes());
        assert_eq!(f.next(), Verdict::Close);
    }

    #[test]
    fn content_length_digits() {
        assert_eq!(super::digits(b"0"), Some(0));
        assert_eq!(super::digits(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"18446744073709551616",
            b"+1",
            b"1 ",
            b"4, 4",
            b"-1",
        ] {
            assert_eq!(super::digits(bad), None);
        }
    }
}
