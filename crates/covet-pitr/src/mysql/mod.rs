//! MySQL / MariaDB: binlog streaming and restore to a target.
