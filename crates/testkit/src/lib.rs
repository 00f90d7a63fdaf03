//! Test helpers shared by Herald's test suites: a real HTTP receiver on loopback that records what it gets and
//! answers as told, a Herald process that can be killed with SIGKILL, a small API client, and fresh PostgreSQL
//! databases (`pg`), and the web UI's sign-in over plain HTTP (`ui`). Dev-only.

mod client;
pub mod entities;
pub mod pg;
mod process;
mod receiver;
pub mod ui;
pub mod windows;

pub use client::Client;
pub use process::{free_port, HeraldProcess};
pub use receiver::{Behaviour, Received, Receiver};

pub mod order;
