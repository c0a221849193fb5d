//! A TCP fault proxy: forwards 127.0.0.1:<port> to a server, and on
//! command refuses new connections, closes or resets the open ones, or
//! delays every chunk.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    None,
    Close,
    Reset,
}

struct State {
    refuse: AtomicBool,
    delay_ms: AtomicU64,
    accepted: AtomicU64,
    bytes: AtomicU64,
    kill: watch::Sender<(u64, Kill)>,
}

/// The proxy; dropping it stops accepting (open connections end with it).
pub(crate) struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.kill(Kill::Close);
    }
}

impl FaultProxy {
    /// Starts forwarding to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (kill, _) = watch::channel((0, Kill::None));
        let state = Arc::new(State {
            refuse: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            kill,
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                st.accepted.fetch_add(1, Ordering::SeqCst);
                // Subscribe before reading `refuse`: `cut` sets `refuse`
                // and then bumps the generation, so a connection either
                // sees the refusal or sees the kill. Subscribing later (in
                // `forward`, after the upstream connect) let a connection
                // accepted just before a cut miss both and keep answering.
                let kill = st.kill.subscribe();
                let start_gen = kill.borrow().0;
                if st.refuse.load(Ordering::SeqCst) {
                    // Accept-and-close: what a client sees as a refused
                    // or dropped connection.
                    let _ = client.set_zero_linger();
                    drop(client);
                    continue;
                }
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = forward(client, upstream, st, kill, start_gen).await;
                });
            }
        });
        FaultProxy { addr, state, task }
    }

    /// The address clients connect to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far (forwarded or refused).
    pub(crate) fn accepted(&self) -> u64 {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Bytes forwarded in either direction so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.state.bytes.load(Ordering::SeqCst)
    }

    fn kill(&self, how: Kill) {
        self.state.kill.send_modify(|(generation, k)| {
            *generation += 1;
            *k = how;
        });
    }

    /// Refuses new connections and closes the open ones.
    pub(crate) fn cut(&self) {
        self.state.refuse.store(true, Ordering::SeqCst);
        self.kill(Kill::Close);
    }

    /// Refuses new connections and resets (RST) the open ones.
    pub(crate) fn reset(&self) {
        self.state.refuse.store(true, Ordering::SeqCst);
        self.kill(Kill::Reset);
    }

    /// Holds every chunk this long before passing it on.
    pub(crate) fn delay(&self, d: Duration) {
        self.state
            .delay_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Back to plain forwarding.
    pub(crate) fn heal(&self) {
        self.state.refuse.store(false, Ordering::SeqCst);
        self.state.delay_ms.store(0, Ordering::SeqCst);
    }
}

async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    st: Arc<State>,
    mut kill: watch::Receiver<(u64, Kill)>,
    start_gen: u64,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let killed = async {
        loop {
            if kill.changed().await.is_err() {
                return Kill::Close;
            }
            let (generation, how) = *kill.borrow();
            if generation != start_gen && how != Kill::None {
                return how;
            }
        }
    };
    let how = tokio::select! {
        _ = pump(&mut cr, &mut sw, &st, start_gen) => Kill::None,
        _ = pump(&mut sr, &mut cw, &st, start_gen) => Kill::None,
        how = killed => how,
    };
    // A pump that stopped on a kill leaves the kill's own kind to apply.
    let how = match (how, *st.kill.borrow()) {
        (Kill::None, (generation, k)) if generation != start_gen => k,
        (how, _) => how,
    };
    if how == Kill::Reset
        && let Ok(c) = cr.reunite(cw)
    {
        let _ = c.set_zero_linger();
    }
    Ok(())
}

async fn pump<R, W>(r: &mut R, w: &mut W, st: &State, start_gen: u64) -> std::io::Result<()>
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return w.shutdown().await;
        }
        let d = st.delay_ms.load(Ordering::SeqCst);
        if d > 0 {
            tokio::time::sleep(Duration::from_millis(d)).await;
        }
        // Checked here, synchronously, not only by the task's kill branch:
        // that branch runs when the task is next polled, and a query sent
        // right after `cut()` returned could be forwarded (and answered)
        // first.
        let (generation, how) = *st.kill.borrow();
        if generation != start_gen && how != Kill::None {
            return Err(std::io::ErrorKind::ConnectionAborted.into());
        }
        w.write_all(&buf[..n]).await?;
        st.bytes.fetch_add(n as u64, Ordering::SeqCst);
    }
}
