//! The console's web page: one self-contained HTML file (styles and script inline, no build
//! step), English and Chinese (from `?lang=` or the browser's language). It carries no data; it
//! asks for the access key and calls the REST API relative to where it is served.

use super::http::{HttpRequest, HttpResponse};

/// The page.
pub const PAGE_HTML: &str = include_str!("page.html");

/// The page as a response (`HEAD` and `GET`).
pub fn response(_request: &HttpRequest) -> HttpResponse {
    HttpResponse::new(200, "text/html; charset=utf-8", PAGE_HTML.as_bytes().to_vec())
        .with_header("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' blob:; base-uri 'none'; form-action 'none'")
        .with_header("Referrer-Policy", "no-referrer")
}
