//! A real SMTP server on loopback that records what it accepts (RFC 5321: EHLO,
//! MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT; many messages per
//! connection, many connections). Faults can be switched on while it runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct ReceivedEmail {
    pub from: String,
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl ReceivedEmail {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("parsable message")
    }
    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }
    pub fn text_body(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|b| b.to_string())
            .unwrap_or_default()
    }
    pub fn html_body(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|b| b.to_string())
            .unwrap_or_default()
    }
    /// The raw (unfolded) value of a header.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.raw);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<ReceivedEmail>>,
    rejected: Mutex<HashMap<String, (u16, String)>>,
    down: AtomicBool,
    arrived: Notify,
}

#[derive(Clone)]
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    let _ = session(stream, s).await;
                });
            }
        });
        SmtpSink { addr, shared }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn messages(&self) -> Vec<ReceivedEmail> {
        self.shared.messages.lock().unwrap().clone()
    }

    pub fn messages_to(&self, to: &str) -> Vec<ReceivedEmail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect()
    }

    pub fn count(&self) -> usize {
        self.shared.messages.lock().unwrap().len()
    }

    pub async fn wait_for_count(&self, n: usize, timeout: Duration) -> Result<(), String> {
        super::wait_for(
            "SMTP sink",
            &self.shared.arrived,
            || self.count(),
            n,
            timeout,
        )
        .await
    }

    /// While down, new connections get 421 and existing ones 421 on their next command.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// RCPT TO for `address` is answered with `code text` (5xx permanent, 4xx transient).
    pub fn reject_recipient(&self, address: &str, code: u16, text: &str) {
        self.shared
            .rejected
            .lock()
            .unwrap()
            .insert(address.to_ascii_lowercase(), (code, text.to_string()));
    }
}

fn path_arg(line: &str) -> String {
    let start = line.find('<').map_or(line.len(), |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line.get(start..end).unwrap_or("").to_string()
}

async fn session(stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if shared.down.load(Ordering::SeqCst) {
        write
            .write_all(b"421 4.3.2 Service not available\r\n")
            .await?;
        return Ok(());
    }
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::<String>::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        if shared.down.load(Ordering::SeqCst) {
            write
                .write_all(b"421 4.3.2 Service not available, closing\r\n")
                .await?;
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            "250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 10485760\r\n".into()
        } else if upper.starts_with("HELO") {
            "250 sink.test\r\n".into()
        } else if upper.starts_with("AUTH") {
            "235 2.7.0 Authentication successful\r\n".into()
        } else if upper.starts_with("MAIL FROM") {
            from = path_arg(&cmd);
            to.clear();
            "250 2.1.0 Ok\r\n".into()
        } else if upper.starts_with("RCPT TO") {
            let rcpt = path_arg(&cmd);
            match shared
                .rejected
                .lock()
                .unwrap()
                .get(&rcpt.to_ascii_lowercase())
            {
                Some((code, text)) => format!("{code} {text}\r\n"),
                None => {
                    to.push(rcpt);
                    "250 2.1.5 Ok\r\n".into()
                }
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                "554 5.5.1 No valid recipients\r\n".into()
            } else {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut raw = Vec::new();
                let mut data_line = Vec::new();
                loop {
                    data_line.clear();
                    if reader.read_until(b'\n', &mut data_line).await? == 0 {
                        return Ok(());
                    }
                    if data_line == b".\r\n" || data_line == b".\n" {
                        break;
                    }
                    let unstuffed = if data_line.starts_with(b"..") {
                        &data_line[1..]
                    } else {
                        &data_line[..]
                    };
                    raw.extend_from_slice(unstuffed);
                }
                shared.messages.lock().unwrap().push(ReceivedEmail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    raw,
                });
                shared.arrived.notify_waiters();
                "250 2.0.0 Ok: queued as SINK\r\n".into()
            }
        } else if upper == "RSET" {
            to.clear();
            "250 2.0.0 Ok\r\n".into()
        } else if upper == "NOOP" {
            "250 2.0.0 Ok\r\n".into()
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 Command not recognized\r\n".into()
        };
        write.write_all(reply.as_bytes()).await?;
    }
}
