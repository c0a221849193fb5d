//! `cargo xtask services`: whether the database servers the tests use answer.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::util::Result;

const TIMEOUT: Duration = Duration::from_secs(2);

/// Reports whether PostgreSQL and MariaDB answer at their URLs, speaking
/// just enough of each protocol to know a database (not any listener) is
/// there.
pub(crate) fn run(_args: &[String]) -> Result {
    let mut down = 0;
    for (var, default, probe) in [
        (
            "COVET_PG_URL",
            "postgres://postgres@127.0.0.1:5432/test",
            probe_postgres as fn(&mut TcpStream) -> std::io::Result<String>,
        ),
        (
            "COVET_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/test",
            probe_mysql,
        ),
    ] {
        let url = std::env::var(var).unwrap_or_else(|_| default.to_owned());
        let (host, port) = host_port(&url);
        let shown = format!("{host}:{port}");
        match connect(&host, port).and_then(|mut s| probe(&mut s)) {
            Ok(what) => println!("{var:16} {shown:22} up    {what}"),
            Err(e) => {
                down += 1;
                println!("{var:16} {shown:22} DOWN  {e}");
            }
        }
    }
    if down == 0 {
        Ok(())
    } else {
        Err(format!("{down} service(s) not answering"))
    }
}

/// Host and port from a URL, without the credentials (which are never printed).
fn host_port(url: &str) -> (String, u16) {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = after_scheme.split(['/', '?']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let default_port = if url.starts_with("postgres") {
        5432
    } else {
        3306
    };
    match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') => (
            h.trim_matches(['[', ']']).to_owned(),
            p.parse().unwrap_or(default_port),
        ),
        _ => (hostport.trim_matches(['[', ']']).to_owned(), default_port),
    }
}

fn connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    Ok(s)
}

/// PostgreSQL answers an SSLRequest with one byte: `S` or `N`.
fn probe_postgres(s: &mut TcpStream) -> std::io::Result<String> {
    s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b)?;
    match b[0] {
        b'S' => Ok("PostgreSQL (SSL available)".into()),
        b'N' => Ok("PostgreSQL (no SSL)".into()),
        other => Err(std::io::Error::other(format!(
            "unexpected reply byte {other:#x}"
        ))),
    }
}

/// MySQL and MariaDB greet first; the greeting carries the server version.
fn probe_mysql(s: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf)?;
    if n < 6 {
        return Err(std::io::Error::other("short greeting"));
    }
    let body = &buf[4..n];
    if body[0] == 0xff {
        return Err(std::io::Error::other(
            "server refused the connection (error packet)",
        ));
    }
    let version: String = body[1..]
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    Ok(format!("MySQL protocol, server {version}"))
}
