//! The floor under `load`'s fan-out: what the kernel alone charges a sender for one delivery
//! over loopback, with nothing of the relay in the way.
//!
//! One thread of this process accepts N plain TCP connections (Nagle off, as the relay's) and,
//! for each message, writes the same pre-built bytes — the size of the relay's frame to an
//! agent — to every connection, one `write` per connection: no WebSocket state, no JSON, no
//! queue, no task per socket, one timer wakeup per message for all N sockets. Its CPU (read
//! from `/proc/thread-self/stat`, so the receivers in the same process are not counted) divided
//! by the deliveries is what any relay pays at least when each delivery leaves in its own send;
//! `--per-write K` puts K messages in each write, which is what write coalescing buys, at up
//! to K message intervals of latency.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::procs;

const WARMUP: Duration = Duration::from_secs(2);

/// The relay's frame to an agent in `load`: 180 B of payload on average (`load` prints it) and
/// a 4-byte WebSocket header.
pub const AGENT_FRAME_BYTES: usize = 184;

pub struct Shape {
    pub agents: usize,
    pub rate: u32,
    pub frame_bytes: usize,
    pub per_write: u32,
    pub seconds: u64,
}

pub async fn run(shape: Shape) -> anyhow::Result<()> {
    anyhow::ensure!(shape.agents > 0 && shape.rate > 0 && shape.per_write > 0);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let Shape {
        agents,
        rate,
        frame_bytes,
        per_write,
        seconds,
    } = shape;
    let sender = std::thread::spawn(move || send(listener, &shape));
    let mut readers = Vec::new();
    for _ in 0..agents {
        let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        readers.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            while let Ok(n @ 1..) = socket.read(&mut buf).await {
                total += n as u64;
            }
            total
        }));
    }
    let sent = tokio::task::spawn_blocking(move || sender.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the sender thread panicked"))??;
    let mut received = 0u64;
    for r in readers {
        received += r.await?;
    }
    anyhow::ensure!(
        received == sent.bytes_per_socket * agents as u64,
        "floor: {received} bytes received, {} sent",
        sent.bytes_per_socket * agents as u64
    );
    let per = sent.cpu_us as f64 / sent.deliveries.max(1) as f64;
    println!(
        "floor: {agents} sockets x {rate} msg/s, {frame_bytes} B frames, {per_write} per write; \
         {} deliveries in {seconds} s; sender CPU {per:.2} µs/delivery",
        sent.deliveries
    );
    println!(
        r#"{{"scenario":"floor","agents":{agents},"rate":{rate},"frame_bytes":{frame_bytes},"per_write":{per_write},"seconds":{seconds},"deliveries":{},"sender_cpu_us_per_delivery":{per:.3}}}"#,
        sent.deliveries
    );
    Ok(())
}

struct Sent {
    /// The sender thread's CPU over the measured window.
    cpu_us: u64,
    /// Frames written to all sockets in the measured window.
    deliveries: u64,
    bytes_per_socket: u64,
}

fn send(listener: TcpListener, shape: &Shape) -> std::io::Result<Sent> {
    let mut sockets: Vec<TcpStream> = Vec::with_capacity(shape.agents);
    for _ in 0..shape.agents {
        let (socket, _) = listener.accept()?;
        socket.set_nodelay(true)?;
        sockets.push(socket);
    }
    let batch = vec![b'x'; shape.frame_bytes * shape.per_write as usize];
    let interval = Duration::from_secs(1) * shape.per_write / shape.rate;
    let start = Instant::now();
    let window = (
        start + WARMUP,
        start + WARMUP + Duration::from_secs(shape.seconds),
    );
    let mut next = start;
    let mut writes = 0u64;
    let mut at_window_start: Option<(u64, u64)> = None;
    loop {
        let now = Instant::now();
        if now >= window.1 {
            break;
        }
        if at_window_start.is_none() && now >= window.0 {
            at_window_start = Some((procs::thread_cpu_us(), writes));
        }
        if next > now {
            std::thread::sleep(next - now);
        }
        next += interval;
        for socket in &mut sockets {
            socket.write_all(&batch)?;
        }
        writes += 1;
    }
    let (cpu0, writes0) = at_window_start.unwrap_or((0, 0));
    let cpu_us = procs::thread_cpu_us() - cpu0;
    let deliveries = (writes - writes0) * shape.agents as u64 * u64::from(shape.per_write);
    // Closing the sockets ends the readers.
    drop(sockets);
    Ok(Sent {
        cpu_us,
        deliveries,
        bytes_per_socket: writes * batch.len() as u64,
    })
}
