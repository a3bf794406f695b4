//! Reading one response off a connection: the head by `httparse` (interim 1xx responses
//! skipped), then the body framed by `Content-Length`, chunked transfer coding, or the end of
//! the connection; and whether the connection may carry another request.
//!
//! Every failure here is "maybe sent": the request was written. No read waits longer than the
//! read timeout; heads over [`MAX_HEAD`] and bodies over [`MAX_BODY`] are refused.

use super::connection::{Connection, ReadFailure, Waits};
use super::{MAX_BODY, MAX_HEAD};
use crate::edas::outcome::{RawResponse, ResponseHeaders, TransportError};
use bytes::{Buf, Bytes};

/// Headers a response may carry; more is not an EDAS answer.
const MAX_HEADERS: usize = 100;
/// The longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4 * 1024;

enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

struct Head {
    status: u16,
    headers: ResponseHeaders,
    framing: Framing,
    keep_alive: bool,
}

/// The whole response and whether the connection can be used again.
pub(super) async fn read(
    connection: &mut Connection,
    waits: &Waits<'_>,
) -> Result<(RawResponse, bool), TransportError> {
    let head = loop {
        let head = read_head(connection, waits).await?;
        // 100 Continue and the other interim answers precede the real one.
        if !(100..200).contains(&head.status) {
            break head;
        }
        if head.status == 101 {
            return Err(TransportError::Body(
                "the server switched protocols (HTTP 101) instead of answering".to_string(),
            ));
        }
    };
    let (body, mut reusable) = match head.framing {
        Framing::Length(length) => (read_length(connection, length, waits).await?, true),
        Framing::Chunked => (read_chunked(connection, waits).await?, true),
        Framing::UntilClose => (read_until_close(connection, waits).await?, false),
    };
    // Bytes beyond the response were never asked for: do not guess what they belong to.
    reusable &= head.keep_alive && connection.input.is_empty();
    Ok((
        RawResponse {
            status: head.status,
            headers: head.headers,
            body,
        },
        reusable,
    ))
}

fn read_error(failure: ReadFailure, waits: &Waits<'_>, closed: TransportError) -> TransportError {
    match failure {
        ReadFailure::TimedOut => TransportError::ReadTimeout(format!(
            "nothing arrived for {}",
            humantime::format_duration(waits.read_timeout)
        )),
        ReadFailure::DeadlinePassed => deadline_passed(waits),
        ReadFailure::Io(error) => match closed {
            TransportError::Body(what) => TransportError::Body(format!("{what}: {error}")),
            TransportError::ConnectionClosed(what) => {
                TransportError::ConnectionClosed(format!("{what}: {error}"))
            }
            other => other,
        },
    }
}

/// The error of an attempt whose deadline passed while it waited.
pub(super) fn deadline_passed(waits: &Waits<'_>) -> TransportError {
    TransportError::ReadTimeout(
        waits
            .deadline
            .map_or("the attempt's deadline passed", |deadline| deadline.message)
            .to_string(),
    )
}

async fn read_head(connection: &mut Connection, waits: &Waits<'_>) -> Result<Head, TransportError> {
    loop {
        if !connection.input.is_empty() {
            if let Some((length, head)) = parse_head(&connection.input)? {
                connection.input.advance(length);
                return Ok(head);
            }
            if connection.input.len() > MAX_HEAD {
                return Err(TransportError::Body(format!(
                    "the response's head is larger than {} KiB; refused",
                    MAX_HEAD / 1024
                )));
            }
        }
        let before = connection.input.len();
        match connection.fill(waits).await {
            Ok(0) => {
                return Err(TransportError::ConnectionClosed(if before == 0 {
                    "the server closed the connection without answering".to_string()
                } else {
                    "the server closed the connection in the middle of the response head"
                        .to_string()
                }));
            }
            Ok(_) => {}
            Err(failure) => {
                return Err(read_error(
                    failure,
                    waits,
                    TransportError::ConnectionClosed("reading the response head".to_string()),
                ));
            }
        }
    }
}

/// The head at the start of `input` and its length; `None` while it is incomplete.
fn parse_head(input: &[u8]) -> Result<Option<(usize, Head)>, TransportError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let length = match response.parse(input) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => {
            return Err(TransportError::Body(format!(
                "the response is not HTTP/1.1: {error}"
            )));
        }
    };
    let status = response.code.unwrap_or(0);
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut transfer_encoded = false;
    let mut close = response.version != Some(1);
    // httparse accepted the names (tokens) and values (no control characters but tab), so the
    // header lines can be kept as they arrived and looked up later (`ResponseHeaders`).
    for header in response.headers.iter() {
        let name = header.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let parsed = std::str::from_utf8(header.value)
                .ok()
                .and_then(|text| text.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    TransportError::Body("the response's Content-Length is not a number".into())
                })?;
            if content_length.is_some_and(|earlier| earlier != parsed) {
                return Err(TransportError::Body(
                    "the response has two different Content-Length headers".into(),
                ));
            }
            content_length = Some(parsed);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoded = true;
            // Only the last coding frames the body.
            chunked = header
                .value
                .rsplit(|&byte| byte == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            close |= header
                .value
                .split(|&byte| byte == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
    }
    // The lines after the status line (the empty line that ends the head has no colon, so it
    // is no header).
    let status_line_end = input[..length]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(length, |end| end + 1);
    let headers =
        ResponseHeaders::from_parsed_lines(Bytes::copy_from_slice(&input[status_line_end..length]));
    let framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Length(0)
    } else if transfer_encoded {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else {
        match content_length {
            Some(length) if length > MAX_BODY => {
                return Err(TransportError::Body(format!(
                    "the response announces a body of {length} bytes, over the {} MiB limit",
                    MAX_BODY / (1024 * 1024)
                )));
            }
            Some(length) => Framing::Length(length),
            None => Framing::UntilClose,
        }
    };
    Ok(Some((
        length,
        Head {
            status,
            headers,
            framing,
            keep_alive: !close,
        },
    )))
}

/// More body bytes; the end of the connection here is a cut body.
async fn fill_body(connection: &mut Connection, waits: &Waits<'_>) -> Result<(), TransportError> {
    match connection.fill(waits).await {
        Ok(0) => Err(TransportError::Body(
            "the server closed the connection in the middle of the body".to_string(),
        )),
        Ok(_) => Ok(()),
        Err(failure) => Err(read_error(
            failure,
            waits,
            TransportError::Body("reading the body".to_string()),
        )),
    }
}

async fn read_length(
    connection: &mut Connection,
    length: usize,
    waits: &Waits<'_>,
) -> Result<Bytes, TransportError> {
    while connection.input.len() < length {
        fill_body(connection, waits).await?;
    }
    // A copy, so that the connection's buffer stays one reusable allocation.
    let body = Bytes::copy_from_slice(&connection.input[..length]);
    connection.input.advance(length);
    Ok(body)
}

/// The position of the next CRLF in the buffer, reading more until there is one.
async fn line_end(connection: &mut Connection, waits: &Waits<'_>) -> Result<usize, TransportError> {
    loop {
        if let Some(position) = connection.input.windows(2).position(|pair| pair == b"\r\n") {
            return Ok(position);
        }
        if connection.input.len() > MAX_LINE {
            return Err(TransportError::Body(
                "a chunk-size or trailer line of the body is too long".to_string(),
            ));
        }
        fill_body(connection, waits).await?;
    }
}

async fn read_chunked(
    connection: &mut Connection,
    waits: &Waits<'_>,
) -> Result<Bytes, TransportError> {
    let mut body = Vec::new();
    loop {
        let end = line_end(connection, waits).await?;
        let line = &connection.input[..end];
        let digits = line.split(|&byte| byte == b';').next().unwrap_or(b"");
        let size = std::str::from_utf8(digits)
            .ok()
            .and_then(|text| usize::from_str_radix(text.trim(), 16).ok())
            .ok_or_else(|| TransportError::Body("a chunk size of the body is not hex".into()))?;
        connection.input.advance(end + 2);
        if size == 0 {
            // Trailers (ignored) up to the empty line.
            let mut trailers = 0usize;
            loop {
                let end = line_end(connection, waits).await?;
                connection.input.advance(end + 2);
                if end == 0 {
                    return Ok(Bytes::from(body));
                }
                trailers += end;
                if trailers > MAX_HEAD {
                    return Err(TransportError::Body(
                        "the body's trailers are too large".to_string(),
                    ));
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(TransportError::Body(format!(
                "the chunked body is over the {} MiB limit",
                MAX_BODY / (1024 * 1024)
            )));
        }
        while connection.input.len() < size + 2 {
            fill_body(connection, waits).await?;
        }
        if &connection.input[size..size + 2] != b"\r\n" {
            return Err(TransportError::Body(
                "a chunk of the body does not end where its size says".to_string(),
            ));
        }
        body.extend_from_slice(&connection.input[..size]);
        connection.input.advance(size + 2);
    }
}

async fn read_until_close(
    connection: &mut Connection,
    waits: &Waits<'_>,
) -> Result<Bytes, TransportError> {
    loop {
        if connection.input.len() > MAX_BODY {
            return Err(TransportError::Body(format!(
                "the body is over the {} MiB limit",
                MAX_BODY / (1024 * 1024)
            )));
        }
        match connection.fill(waits).await {
            Ok(0) => return Ok(connection.input.split().freeze()),
            Ok(_) => {}
            Err(failure) => {
                return Err(read_error(
                    failure,
                    waits,
                    TransportError::Body("reading the body".to_string()),
                ));
            }
        }
    }
}
