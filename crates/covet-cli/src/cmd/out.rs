//! Standard output for every command. `print!` panics when stdout is a
//! closed pipe (`covet sql ... | head -1`); these writers report it as
//! [`closed`] instead, a quiet end of the command: exit code 0, nothing on
//! stderr, the command's own cleanup run on the way out.

use std::fmt;
use std::io::{self, BufWriter, Stdout, Write};

use super::Failure;

/// The failure that stands for "the reader of stdout has gone": exit code
/// 0 and no message (see [`is_closed`]).
pub(crate) fn closed() -> Failure {
    Failure {
        code: super::exit::SUCCESS,
        message: String::new(),
    }
}

/// Whether `f` is the quiet end that [`closed`] makes.
pub(crate) fn is_closed(f: &Failure) -> bool {
    f.code == super::exit::SUCCESS && f.message.is_empty()
}

/// An I/O error on stdout: a closed pipe ends the command quietly, anything
/// else (a full disk behind a redirect) fails it.
fn failure(e: &io::Error) -> Failure {
    if e.kind() == io::ErrorKind::BrokenPipe {
        closed()
    } else {
        Failure::failed(format!("cannot write to standard output: {e}"))
    }
}

/// Prints `text` to stdout and flushes it.
pub(crate) fn print(text: impl fmt::Display) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    write!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| failure(&e))
}

/// Like `println!`, returning a [`Failure`] instead of panicking:
/// `outln!("{x}")?`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cmd::out::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// Buffered stdout for long output, flushed by the caller when it is about
/// to wait (so lines show as they are produced) and at the end.
pub(crate) struct Lines {
    out: BufWriter<Stdout>,
}

impl Default for Lines {
    fn default() -> Self {
        Lines {
            out: BufWriter::new(io::stdout()),
        }
    }
}

impl Lines {
    /// Writes `line` and a newline.
    pub(crate) fn line(&mut self, line: &str) -> Result<(), Failure> {
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| failure(&e))
    }

    /// Sends what is buffered to stdout.
    pub(crate) fn flush(&mut self) -> Result<(), Failure> {
        self.out.flush().map_err(|e| failure(&e))
    }
}
