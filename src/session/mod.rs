//! Interactive sessions: long-lived interpreter processes fed through stdin.
