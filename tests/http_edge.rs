//! The HTTP edge: security headers on every response (errors included), no HSTS
//! over plain HTTP, `no-store` on the API, and CORS only for configured frontends.

mod support;

use support::TestServer;

#[tokio::test]
async fn security_headers_on_every_response() {
    let server = TestServer::start_accounts(&[]).await;
    let http = reqwest::Client::new();
    for (path, status) in [("/health", 200), ("/api/auth/me", 401), ("/nowhere", 404)] {
        let r = http.get(server.http_url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-frame-options"], "DENY");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS over plain HTTP"
        );
        if path.starts_with("/api/") {
            assert_eq!(h["cache-control"], "no-store");
        }
    }
}

#[tokio::test]
async fn cors_allows_only_the_configured_frontend() {
    let server = TestServer::start_accounts(&[(
        "SERVER__FRONTEND_URL",
        r#"["https://editor.example.com"]"#,
    )])
    .await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, server.http_url("/api/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
    };
    let ok = preflight("https://editor.example.com").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://editor.example.com"
    );
    let methods = ok.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let evil = preflight("https://evil.example.net").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    // A simple request from the frontend gets the header; from elsewhere, not.
    let r = http
        .get(server.http_url("/health"))
        .header("origin", "https://editor.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://editor.example.com"
    );
    let r = http
        .get(server.http_url("/health"))
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // Without a configured frontend, no cross-origin access at all.
    let closed = TestServer::start_accounts(&[]).await;
    let r = http
        .get(closed.http_url("/health"))
        .header("origin", "https://editor.example.com")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
