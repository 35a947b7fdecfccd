//! The reference's error body (AIP-193 with one `ErrorInfo`): what a storage node answers with
//! (domain `storage.walrus.space`), and the gateway too (domain `daemon.walrus.space`).

use serde_json::json;

/// The AIP-193 status name of an HTTP status code.
pub fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        413 | 416 => "OUT_OF_RANGE",
        405 => "UNIMPLEMENTED",
        429 => "RESOURCE_EXHAUSTED",
        504 => "DEADLINE_EXCEEDED",
        451 => "UNAVAILABLE_FOR_LEGAL_REASONS",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

/// The error body for `status`, with the reason code, a message and the domain.
pub fn error_body(status: u16, reason: &str, message: &str, domain: &str) -> serde_json::Value {
    json!({
        "error": {
            "code": status,
            "status": status_name(status),
            "message": message,
            "details": [{
                "@type": "ErrorInfo",
                "reason": reason,
                "domain": domain,
                "metadata": {},
            }],
        }
    })
}
