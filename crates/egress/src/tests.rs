//! The guard as a bot meets it: URLs in many spellings, and a guarded client against a real
//! local server (names, redirects).

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn check(guard: &Guard, url: &str) -> Result<(), Refused> {
    guard.check_url(&Url::parse(url).expect("a URL"))
}

#[test]
fn every_spelling_of_a_closed_address_is_refused() {
    let guard = Guard::default();
    for url in [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://017700000001/",
        "http://0177.0.0.1/",
        "http://127.000.000.001/",
        "http://[::1]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::127.0.0.1]/",
        "http://0.0.0.0/",
        "http://0/",
        "http://[::]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://10.0.0.1:8080/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "https://127.0.0.1:443/",
    ] {
        let refused = check(&guard, url).expect_err(url);
        assert!(refused.0.contains("address"), "{url}: {refused}");
    }
    for url in ["https://example.org/", "http://8.8.8.8/", "http://[2001:4860:4860::8888]/", "http://localhost/"] {
        // A name is judged when it resolves, not here.
        assert_eq!(check(&guard, url), Ok(()), "{url}");
    }
    assert!(check(&guard, "ftp://example.org/").is_err());
    assert!(check(&guard, "file:///etc/passwd").is_err());
}

#[test]
fn allowed_by_host_and_port_and_refusals_do_not_tell_the_list() {
    let allow = [("127.0.0.1".to_owned(), 8080), ("[::1]".to_owned(), 80), ("LocalHost".to_owned(), 9000)];
    let guard = Guard::new(&allow).expect("a valid list");
    assert_eq!(check(&guard, "http://127.0.0.1:8080/x"), Ok(()));
    assert_eq!(check(&guard, "http://[::1]/"), Ok(()));
    assert_eq!(check(&guard, "http://localhost:9000/"), Ok(()));
    // Another spelling of an allowed address is the same address to the URL parser.
    assert_eq!(check(&guard, "http://0x7f.1:8080/"), Ok(()));
    let other_port = check(&guard, "http://127.0.0.1:8081/").expect_err("another port");
    assert_eq!(
        other_port.0,
        "127.0.0.1 is a loopback address (an operator can allow 127.0.0.1:8081 with --allow-private-http)"
    );
    let name_other_port = check(&guard, "http://localhost:9001/").expect_err("another port");
    assert_eq!(
        name_other_port.0,
        "localhost:9001 is not on the operator's list of private addresses to allow (--allow-private-http)"
    );
    // The final dot does not make another host of it.
    assert_eq!(check(&guard, "http://localhost.:9000/"), Ok(()));
    assert_eq!(check(&guard, "http://LOCALHOST.:9001/"), Err(name_other_port.clone()));
    for refused in [other_port, name_other_port] {
        assert!(!refused.0.contains("8080") && !refused.0.contains("9000"), "{refused} tells an allowed port");
    }
    assert!(check(&guard, "http://[::ffff:7f00:1]:8081/").is_err());
    assert_eq!(
        check(&guard, "http://10.0.0.1/"),
        Err(Refused(
            "10.0.0.1 is a private address (an operator can allow 10.0.0.1:80 with --allow-private-http)".into()
        ))
    );
}

#[test]
fn a_list_with_a_wildcard_or_a_range_is_refused() {
    for (host, port) in [("*", 80), ("0.0.0.0/0", 80), ("0.0.0.0", 80), ("::", 80), ("localhost", 0)] {
        let error = Guard::new(&[(host.to_owned(), port)]).expect_err(host);
        assert!(error.starts_with(&format!("allow-list entry {host}:{port}: ")), "{error}");
    }
}

/// A local HTTP server: `/ok` answers 200, `/to/<url>` redirects there. Counts its requests.
async fn server() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let port = listener.local_addr().expect("an address").port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let head = String::from_utf8_lossy(&head);
                let path = head.split(' ').nth(1).unwrap_or_default();
                let answer = match path.strip_prefix("/to/") {
                    Some(target) => {
                        format!(
                            "HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                    }
                    None => "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".to_owned(),
                };
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, requests)
}

/// GETs `url` as the sandbox does: checked first, redirects followed under the guard.
async fn get(guard: &Guard, url: &str) -> Result<u16, String> {
    let client = guard.client_builder().redirect(guard.redirect_policy()).build().expect("a client");
    guard.check_url(&Url::parse(url).expect("a URL")).map_err(|r| r.0)?;
    match client.get(url).send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) => Err(refusal(&error).map_or_else(|| format!("not refused: {error}"), |r| r.0.clone())),
    }
}

#[tokio::test]
async fn names_and_redirects_are_checked_where_the_client_connects() {
    let (port, requests) = server().await;
    let open = Guard::new(&[("127.0.0.1".to_owned(), port)]).expect("a valid list");
    assert_eq!(get(&open, &format!("http://127.0.0.1:{port}/ok")).await, Ok(200));
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    // A name that resolves to the loopback is refused where it resolves.
    let refused = get(&Guard::default(), &format!("http://localhost:{port}/ok")).await.expect_err("refused");
    assert!(refused.starts_with("localhost resolves to "), "{refused}");
    // A redirect to a name or port the list does not open is not followed.
    let hop = format!("http://127.0.0.1:{port}/to/http://localhost:{port}/ok");
    assert!(get(&open, &hop).await.expect_err("refused").starts_with("localhost resolves to "));
    let hop = format!("http://127.0.0.1:{port}/to/http://127.0.0.1:{}/ok", port.wrapping_add(1));
    assert!(get(&open, &hop).await.expect_err("refused").contains("is a loopback address"));
    assert_eq!(requests.load(Ordering::SeqCst), 3, "only the first requests of the two redirects were made");
    // A redirect the list opens is followed; a chain longer than MAX_REDIRECTS is not.
    let hop = format!("http://127.0.0.1:{port}/to/http://127.0.0.1:{port}/ok");
    assert_eq!(get(&open, &hop).await, Ok(200));
    let mut chain = format!("http://127.0.0.1:{port}/ok");
    for _ in 0..=MAX_REDIRECTS {
        chain = format!("http://127.0.0.1:{port}/to/{chain}");
    }
    assert!(get(&open, &chain).await.is_err());
    assert_eq!(get(&Guard::default(), &format!("http://127.0.0.1:{port}/ok")).await.map_err(|_| ()), Err(()));
}
