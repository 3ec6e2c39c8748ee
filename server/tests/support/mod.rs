//! Real services for tests, shared by the library's own tests and the
//! reference app's: PostgreSQL and Redis started by the project's scripts,
//! and SQLite files of one test's own.

pub mod postgres;
pub mod redis;
pub mod services;
pub mod temp_database;
