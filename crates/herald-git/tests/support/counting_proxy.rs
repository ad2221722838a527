//! A TCP proxy on loopback that counts the bytes each way: what a client really
//! receives, whatever the protocol (used by the listing benchmark).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The running proxy; its threads end with the process.
#[derive(Debug)]
pub struct CountingProxy {
    pub port: u16,
    /// Bytes the server sent to clients.
    pub to_client: Arc<AtomicU64>,
    /// Bytes clients sent to the server.
    pub to_server: Arc<AtomicU64>,
}

impl CountingProxy {
    /// Forward every connection on a fresh loopback port to `127.0.0.1:target`.
    pub fn start(target: u16) -> Self {
        let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let to_client = Arc::new(AtomicU64::new(0));
        let to_server = Arc::new(AtomicU64::new(0));
        let (down, up) = (Arc::clone(&to_client), Arc::clone(&to_server));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, target)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                pipe(
                    server.try_clone().unwrap(),
                    client.try_clone().unwrap(),
                    &down,
                );
                pipe(client, server, &up);
            }
        });
        Self {
            port,
            to_client,
            to_server,
        }
    }

    /// Bytes each way so far: (to the client, to the server).
    pub fn totals(&self) -> (u64, u64) {
        (
            self.to_client.load(Ordering::SeqCst),
            self.to_server.load(Ordering::SeqCst),
        )
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, counter: &Arc<AtomicU64>) {
    let counter = Arc::clone(counter);
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 << 10];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            // Counted before forwarding, so a client that has the bytes sees them counted.
            counter.fetch_add(n as u64, Ordering::SeqCst);
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
