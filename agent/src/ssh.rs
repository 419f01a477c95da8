//! The ssh-agent face (placeholder while it is written: every connection is closed).

use crate::config::Policy;
use crate::listen::Conn;
use crate::Shared;

pub struct SshState {}

impl SshState {
    pub fn new(_policy: &Policy) -> Self {
        Self {}
    }
}

pub fn serve(_shared: &Shared, _conn: Conn) {}
